//! Players' media over loopback HTTP. WebKitGTK hands `<audio>` and `<video>` sources to
//! GStreamer, which has no handler for an app's custom URI schemes (the element fails
//! with MEDIA_ERR_SRC_NOT_SUPPORTED; an upstream WebKitGTK limitation), so on Linux the
//! voice and video players stream from this server instead of `media://`. Same files,
//! same rules and Range handling (`media_scheme::serve`); it listens on 127.0.0.1 only,
//! and every URL carries a random per-run token, so no other page or user can guess it.

use std::path::PathBuf;

use axum::extract::{Path as UrlPath, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tauri::async_runtime::JoinHandle;
use tauri::http::{header, Request};

/// One backend's media server; stops when dropped.
pub struct MediaStream {
    /// `http://127.0.0.1:PORT/TOKEN/`, to which a path inside the data folder is added.
    pub base: String,
    task: JoinHandle<()>,
}

impl Drop for MediaStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct Served {
    root: PathBuf,
    token: String,
}

impl MediaStream {
    /// Binds a loopback port and serves `root` from it.
    pub fn start(root: PathBuf) -> std::io::Result<MediaStream> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let token = format!("{:032x}", rand::random::<u128>());
        let base = format!("http://127.0.0.1:{port}/{token}/");
        let served = Served { root, token };
        let app = Router::new()
            .route("/{token}/{*path}", get(serve).head(serve))
            .with_state(served);
        let task = tauri::async_runtime::spawn(async move {
            match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => {
                    if let Err(err) = axum::serve(listener, app).await {
                        tracing::warn!(%err, "the media stream server stopped");
                    }
                }
                Err(err) => tracing::warn!(%err, "the media stream server could not start"),
            }
        });
        Ok(MediaStream { base, task })
    }
}

async fn serve(
    State(served): State<Served>,
    UrlPath((token, path)): UrlPath<(String, String)>,
    method: axum::http::Method,
    headers: HeaderMap,
) -> axum::response::Response {
    if token != served.token {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    }
    // The path arrives decoded; the shared code decodes again, so encode it back.
    let encoded = crate::media_scheme::url_path_for(std::path::Path::new(&path));
    let mut request = Request::builder().method(method).uri(format!("/{encoded}"));
    if let Some(range) = headers.get(header::RANGE) {
        request = request.header(header::RANGE, range);
    }
    let Ok(request) = request.body(Vec::new()) else {
        return axum::http::StatusCode::BAD_REQUEST.into_response();
    };
    let root = served.root.clone();
    match tokio::task::spawn_blocking(move || crate::media_scheme::serve(&root, &request)).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            axum::response::Response::from_parts(parts, axum::body::Body::from(body))
        }
        Err(_) => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
