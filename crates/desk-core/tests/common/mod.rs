//! Helpers shared by the engine's integration tests. Each test file uses a different
//! subset, hence the allowance.
#![allow(dead_code)]

use std::time::Duration;

use desk_core::engine::EngineEvent;
use ilink::{ClientConfig, Timeouts};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;

/// How long any single wait may take before a test fails; generous on purpose.
pub const WAIT: Duration = Duration::from_secs(30);

/// A client for the loopback emulator: no proxy, short but safe timeouts.
pub fn loopback_client() -> ClientConfig {
    ClientConfig {
        use_system_proxy: false,
        timeouts: Timeouts {
            get_bot_qrcode: Some(Duration::from_secs(5)),
            get_qrcode_status: Duration::from_secs(5),
            getupdates: Duration::from_secs(10),
            send: Duration::from_secs(10),
            control: Duration::from_secs(5),
        },
        ..ClientConfig::default()
    }
}

/// The next event that `wanted` accepts, skipping others (and lag).
pub async fn next_event(
    rx: &mut Receiver<EngineEvent>,
    mut wanted: impl FnMut(&EngineEvent) -> bool,
) -> EngineEvent {
    tokio::time::timeout(WAIT, async {
        loop {
            match rx.recv().await {
                Ok(e) if wanted(&e) => return e,
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => panic!("event channel closed"),
            }
        }
    })
    .await
    .expect("timed out waiting for an event")
}

/// Matches a `MessageReceived` for `account`.
pub fn received(account: &str) -> impl FnMut(&EngineEvent) -> bool + '_ {
    move |e| matches!(e, EngineEvent::MessageReceived { account_id, .. } if account_id == account)
}

pub mod ai_stub;
pub mod ai_world;
