//! `run --listen`: `/healthz` and `/metrics` for the accounts of one `run`, over plain
//! HTTP. It lives in the CLI, not in desk-core: only a headless service is scraped; the
//! desktop app shows the same state in its window.
//!
//! The address actually bound is written to the data folder ([`ADDRESS_FILE`]) so that
//! `status` finds the running service.

pub mod metrics;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use desk_core::events::AccountStatus;
use desk_core::{Engine, EngineEvent};
use tokio::sync::broadcast::error::RecvError;

use crate::error::CliError;
use crate::render::now_ms;
use metrics::Metrics;

/// Where a running `run --listen` says where it listens.
pub const ADDRESS_FILE: &str = "weixin-desk-cli.listen";

struct Shared {
    engine: Arc<Engine>,
    /// The accounts this run serves.
    accounts: Vec<String>,
    metrics: Mutex<Metrics>,
}

/// The listening monitor; the address file is removed when it is dropped.
pub struct Monitor {
    pub addr: SocketAddr,
    address_file: PathBuf,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Monitor {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        let _ = std::fs::remove_file(&self.address_file);
    }
}

/// Refuses anything but loopback unless `any` says the operator means it.
pub fn check_listen_addr(addr: SocketAddr, any: bool) -> Result<(), CliError> {
    if addr.ip().is_loopback() || any {
        return Ok(());
    }
    Err(CliError::Usage(format!(
        "--listen {addr} is not a loopback address; health and metrics name your accounts, \
         so add --listen-any to serve them there"
    )))
}

/// Binds `addr`, starts counting the engine's events and serving, and writes the
/// address file. Subscribes before it returns, so no event after this is missed.
pub async fn start(
    engine: Arc<Engine>,
    accounts: Vec<String>,
    addr: SocketAddr,
    data_root: &Path,
) -> Result<Monitor, CliError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| CliError::io(format!("cannot listen on {addr}"), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::io("cannot read the listening address", e))?;
    let shared = Arc::new(Shared {
        engine: Arc::clone(&engine),
        accounts,
        metrics: Mutex::new(Metrics::new()),
    });
    let feed = tokio::spawn(feed(Arc::clone(&shared), engine.subscribe()));
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(shared);
    let serve = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "the health and metrics server stopped");
        }
    });
    let address_file = data_root.join(ADDRESS_FILE);
    std::fs::write(&address_file, format!("{addr}\n"))
        .map_err(|e| CliError::io(format!("cannot write {}", address_file.display()), e))?;
    Ok(Monitor {
        addr,
        address_file,
        tasks: vec![feed, serve],
    })
}

async fn feed(shared: Arc<Shared>, mut events: tokio::sync::broadcast::Receiver<EngineEvent>) {
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            // Counters miss what was dropped (and count it); statuses are read live, so
            // health is exact.
            Err(RecvError::Lagged(n)) => {
                lock(&shared.metrics).skipped(n);
                continue;
            }
            Err(RecvError::Closed) => break,
        };
        let created_ms = match &event {
            EngineEvent::MessageReceived { message_row_id, .. } => {
                let id = *message_row_id;
                shared
                    .engine
                    .store()
                    .call(move |s| s.message(id))
                    .await
                    .ok()
                    .flatten()
                    .map(|m| m.create_time_ms)
            }
            _ => None,
        };
        let now = now_ms();
        lock(&shared.metrics).observe(&event, created_ms, now);
    }
}

fn lock(metrics: &Mutex<Metrics>) -> std::sync::MutexGuard<'_, Metrics> {
    metrics.lock().unwrap_or_else(|p| p.into_inner())
}

/// The status of each account this run serves, in the order given.
fn statuses(shared: &Shared) -> Vec<(String, AccountStatus)> {
    let live = shared.engine.accounts().statuses();
    shared
        .accounts
        .iter()
        .map(|id| {
            let status = live.get(id).cloned().unwrap_or(AccountStatus::Stopped);
            (id.clone(), status)
        })
        .collect()
}

/// Healthy when every account is online or deliberately paused.
fn is_healthy(status: &AccountStatus) -> bool {
    matches!(status, AccountStatus::Online | AccountStatus::Paused { .. })
}

async fn healthz(State(shared): State<Arc<Shared>>) -> Response {
    let accounts = statuses(&shared);
    let healthy = accounts.iter().all(|(_, s)| is_healthy(s));
    let body = serde_json::json!({
        "healthy": healthy,
        "accounts": accounts
            .iter()
            .map(|(id, s)| serde_json::json!({"account_id": id, "status": s.as_str()}))
            .collect::<Vec<_>>(),
    });
    let code = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let outbox = shared
        .engine
        .store()
        .call(|s| s.outbox_depth())
        .await
        .unwrap_or_default();
    let inbound = shared.engine.inbound_flow();
    let text = lock(&shared.metrics).render(&statuses(&shared), &outbox, inbound);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
