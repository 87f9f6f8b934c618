use std::net::SocketAddr;

use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::qr;

/// How to start the emulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where to listen. Port 0 picks a free port (what tests use).
    pub addr: SocketAddr,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

/// A running emulator. Dropping it stops the server.
pub struct Sim {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Sim {
    /// Binds the listener and serves in the background on the current tokio runtime.
    pub async fn start(config: SimConfig) -> std::io::Result<Sim> {
        let listener = TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/_sim/health", get(health))
            .merge(qr::routes());
        let task = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                tracing::error!(%err, "ilink-sim server stopped");
            }
        });
        Ok(Sim { addr, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API base URL a client should use, with a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "ok": true, "version": env!("CARGO_PKG_VERSION") }))
}
