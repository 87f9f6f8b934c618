//! `media://` — the window's pictures, videos, voice notes and thumbnails, served
//! straight from the data folder by an asynchronous URI scheme protocol: no bytes cross
//! IPC, the webview streams what it shows, and HTTP Range requests let video and voice
//! seek. Only files inside the running backend's data folder are served.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};
use tauri::http::{header, Request, Response, StatusCode};
use tauri::{Manager, Runtime, UriSchemeContext, UriSchemeResponder};

use crate::state::AppState;

pub const SCHEME: &str = "media";

/// Largest body one response carries: an open-ended range (`bytes=N-`, what players
/// ask for) gets this much and asks again, so a 60 MiB video never sits in memory.
const MAX_CHUNK: u64 = 2 * 1024 * 1024;

/// Characters escaped in a path segment of a media URL.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'?')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|');

/// `relative` (a path inside the data folder) as a URL path, each segment escaped.
pub fn url_path_for(relative: &Path) -> String {
    url_segments(relative).unwrap_or_default().join("/")
}

fn url_segments(relative: &Path) -> Option<Vec<String>> {
    let segments: Vec<String> = relative
        .components()
        .map(|c| match c {
            std::path::Component::Normal(part) => part
                .to_str()
                .map(|s| utf8_percent_encode(s, SEGMENT).to_string()),
            _ => None,
        })
        .collect::<Option<_>>()?;
    (!segments.is_empty()).then_some(segments)
}

/// The URL the window loads `relative` (a path inside the data folder) by.
pub fn url_for(relative: &Path) -> Option<String> {
    let segments = url_segments(relative)?;
    // WebKitGTK and WKWebView load custom schemes as `scheme://localhost/`; WebView2
    // and Android only as `http://scheme.localhost/`.
    let base = if cfg!(any(windows, target_os = "android")) {
        format!("http://{SCHEME}.localhost/")
    } else {
        format!("{SCHEME}://localhost/")
    };
    Some(format!("{base}{}", segments.join("/")))
}

/// The media URL, and the thumbnail's if one was made, of a media file (its path
/// relative to the data folder). Audio and video go by `stream_base` where given (see
/// `media_stream`).
pub fn urls_for(
    root: &Path,
    relative: &Path,
    stream_base: Option<&str>,
) -> (Option<String>, Option<String>) {
    let thumb = desk_core::thumbnail::thumbnail_path(relative);
    let thumb_url = root
        .join(&thumb)
        .is_file()
        .then(|| url_for(&thumb))
        .flatten();
    let name = relative.file_name().unwrap_or_default().to_string_lossy();
    let mime = desk_core::media_path::mime_for_name(&name);
    let played = mime.starts_with("audio/") || mime.starts_with("video/");
    let url = match stream_base {
        Some(base) if played => url_segments(relative).map(|s| format!("{base}{}", s.join("/"))),
        _ => url_for(relative),
    };
    (url, thumb_url)
}

/// Registers the scheme on the app builder.
pub fn register<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.register_asynchronous_uri_scheme_protocol(
        SCHEME,
        |ctx: UriSchemeContext<'_, R>, request: Request<Vec<u8>>, responder: UriSchemeResponder| {
            let root = ctx
                .app_handle()
                .try_state::<AppState>()
                .and_then(|state| state.try_backend())
                .map(|backend| backend.data_dir.root().to_owned());
            tauri::async_runtime::spawn_blocking(move || {
                let response = match root {
                    Some(root) => serve(&root, &request),
                    None => plain(StatusCode::SERVICE_UNAVAILABLE, "the engine is starting"),
                };
                responder.respond(response);
            });
        },
    )
}

fn plain(status: StatusCode, text: &str) -> Response<Vec<u8>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(text.as_bytes().to_vec())
        .unwrap_or_default()
}

/// The file a request names, if it lies inside `root` (after resolving links).
fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
    let decoded = percent_decode_str(url_path.trim_start_matches('/'))
        .decode_utf8()
        .ok()?;
    let relative = Path::new(decoded.as_ref());
    if relative.is_absolute()
        || relative
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return None;
    }
    let file = std::fs::canonicalize(root.join(relative)).ok()?;
    let root = std::fs::canonicalize(root).ok()?;
    (file.starts_with(&root) && file.is_file()).then_some(file)
}

/// What a `Range` header asks of a file of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
enum Wanted {
    /// No (usable) range: the whole file.
    Whole,
    /// Bytes `start..=end`.
    Part { start: u64, end: u64 },
    /// Nothing of the file can answer it (416).
    Unsatisfiable,
}

fn wanted(range: Option<&str>, len: u64) -> Wanted {
    let Some(spec) = range.and_then(|r| r.trim().strip_prefix("bytes=")) else {
        return Wanted::Whole;
    };
    // One range only; a multi-range request gets the whole file (allowed by RFC 9110).
    if spec.contains(',') {
        return Wanted::Whole;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Wanted::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let (start, end) = match (first.parse::<u64>().ok(), last.parse::<u64>().ok()) {
        (Some(start), Some(end)) if start <= end => (start, end.min(len.saturating_sub(1))),
        (Some(start), None) if last.is_empty() => {
            (start, (start + MAX_CHUNK - 1).min(len.saturating_sub(1)))
        }
        (None, Some(suffix)) if first.is_empty() && suffix > 0 => {
            (len.saturating_sub(suffix), len.saturating_sub(1))
        }
        _ => return Wanted::Whole,
    };
    if len == 0 || start >= len {
        return Wanted::Unsatisfiable;
    }
    Wanted::Part { start, end }
}

pub fn serve(root: &Path, request: &Request<Vec<u8>>) -> Response<Vec<u8>> {
    if request.method() != tauri::http::Method::GET && request.method() != tauri::http::Method::HEAD
    {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD");
    }
    let Some(file) = resolve(root, request.uri().path()) else {
        return plain(StatusCode::NOT_FOUND, "not a file of this app");
    };
    match read(&file, request) {
        Ok(response) => response,
        Err(err) => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot read it: {err}"),
        ),
    }
}

fn read(file: &Path, request: &Request<Vec<u8>>) -> std::io::Result<Response<Vec<u8>>> {
    let mut handle = std::fs::File::open(file)?;
    let len = handle.metadata()?.len();
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    let mime = desk_core::media_path::mime_for_name(&name);
    let range = request
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok());
    let builder = Response::builder()
        .header(header::CONTENT_TYPE, mime)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CACHE_CONTROL, "no-cache")
        .header("X-Content-Type-Options", "nosniff");
    let head = request.method() == tauri::http::Method::HEAD;
    let (builder, start, count) = match wanted(range, len) {
        Wanted::Unsatisfiable => {
            return Ok(Response::builder()
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{len}"))
                .body(Vec::new())
                .unwrap_or_default());
        }
        // A whole file larger than a chunk is still sent whole only on request of the
        // whole (pictures); players ask for ranges.
        Wanted::Whole => (builder.status(StatusCode::OK), 0, len),
        Wanted::Part { start, end } => (
            builder
                .status(StatusCode::PARTIAL_CONTENT)
                .header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}")),
            start,
            end - start + 1,
        ),
    };
    let mut body = Vec::new();
    if !head {
        handle.seek(SeekFrom::Start(start))?;
        handle.take(count).read_to_end(&mut body)?;
    }
    Ok(builder
        .header(header::CONTENT_LENGTH, count)
        .body(body)
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(root: &Path, url: &str, range: Option<&str>) -> Response<Vec<u8>> {
        let mut request = Request::builder().uri(url);
        if let Some(range) = range {
            request = request.header(header::RANGE, range);
        }
        serve(root, &request.body(Vec::new()).unwrap())
    }

    #[test]
    fn ranges_are_read_as_players_send_them() {
        let len = 10 * MAX_CHUNK;
        assert_eq!(wanted(None, len), Wanted::Whole);
        assert_eq!(
            wanted(Some("bytes=0-99"), len),
            Wanted::Part { start: 0, end: 99 }
        );
        assert_eq!(
            wanted(Some("bytes=100-"), len),
            Wanted::Part {
                start: 100,
                end: 100 + MAX_CHUNK - 1
            },
            "open-ended ranges come a chunk at a time"
        );
        assert_eq!(
            wanted(Some("bytes=-500"), len),
            Wanted::Part {
                start: len - 500,
                end: len - 1
            }
        );
        assert_eq!(
            wanted(Some("bytes=5-999999999999"), 10),
            Wanted::Part { start: 5, end: 9 }
        );
        assert_eq!(wanted(Some("bytes=10-"), 10), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=9-3"), 10), Wanted::Whole);
        assert_eq!(wanted(Some("items=0-1"), 10), Wanted::Whole);
        assert_eq!(wanted(Some("bytes=0-1,4-5"), 10), Wanted::Whole);
    }

    #[test]
    fn serves_files_inside_the_data_folder_with_their_type_and_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        let media = root.join("media/acc/2026-12");
        std::fs::create_dir_all(&media).unwrap();
        let bytes: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        std::fs::write(media.join("clip 1#.mp4"), &bytes).unwrap();
        std::fs::write(dir.path().join("secret.txt"), b"outside").unwrap();

        let url = url_for(Path::new("media/acc/2026-12/clip 1#.mp4")).unwrap();
        assert_eq!(url, "media://localhost/media/acc/2026-12/clip%201%23.mp4");
        let whole = get(&root, &url, None);
        assert_eq!(whole.status(), StatusCode::OK);
        assert_eq!(whole.headers()[header::CONTENT_TYPE], "video/mp4");
        assert_eq!(whole.body(), &bytes);
        let part = get(&root, &url, Some("bytes=1000-1009"));
        assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            part.headers()[header::CONTENT_RANGE],
            "bytes 1000-1009/5000"
        );
        assert_eq!(part.body(), &bytes[1000..1010]);
        assert_eq!(
            get(&root, &url, Some("bytes=6000-")).status(),
            StatusCode::RANGE_NOT_SATISFIABLE
        );

        for outside in [
            "media://localhost/../secret.txt",
            "media://localhost/%2E%2E/secret.txt",
            "media://localhost/media/acc/2026-12/..%2F..%2F..%2F..%2Fsecret.txt",
            "media://localhost/media/acc/missing.png",
            "media://localhost/media",
        ] {
            assert_eq!(
                get(&root, outside, None).status(),
                StatusCode::NOT_FOUND,
                "{outside}"
            );
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("secret.txt"), media.join("link.txt"))
                .unwrap();
            let link = url_for(Path::new("media/acc/2026-12/link.txt")).unwrap();
            assert_eq!(get(&root, &link, None).status(), StatusCode::NOT_FOUND);
        }
    }

    #[test]
    fn media_paths_give_urls_and_a_thumbnail_only_once_made() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("media/a")).unwrap();
        std::fs::write(root.join("media/a/p.png"), b"x").unwrap();
        let rel = |p: &'static str| Path::new(p);
        let (url, thumb) = urls_for(root, rel("media/a/p.png"), Some("http://127.0.0.1:9/t/"));
        assert_eq!(url.as_deref(), Some("media://localhost/media/a/p.png"));
        assert_eq!(thumb, None);
        std::fs::write(root.join("media/a/p.png.thumb.jpg"), b"x").unwrap();
        let (_, thumb) = urls_for(root, rel("media/a/p.png"), None);
        assert_eq!(
            thumb.as_deref(),
            Some("media://localhost/media/a/p.png.thumb.jpg")
        );
        // Players stream from the loopback server where one is given.
        let (voice, _) = urls_for(root, rel("media/a/v 1.wav"), Some("http://127.0.0.1:9/t/"));
        assert_eq!(
            voice.as_deref(),
            Some("http://127.0.0.1:9/t/media/a/v%201.wav")
        );
        let (voice, _) = urls_for(root, rel("media/a/v 1.wav"), None);
        assert_eq!(
            voice.as_deref(),
            Some("media://localhost/media/a/v%201.wav")
        );
    }
}
