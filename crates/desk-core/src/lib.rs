//! The Weixin Desk engine. It owns everything stateful (store, accounts, pipelines) and
//! knows nothing of Tauri, so the desktop shell and the headless CLI drive the same code.

pub mod ai;
pub mod allocator;
pub mod catalog;
pub mod engine;
pub mod error;
pub mod event_bus;
pub mod events;
pub mod inbound;
pub mod locale;
pub mod media_path;
pub mod openclaw_import;
pub mod paths;
pub mod picture;
pub mod prefs;
pub mod qr;
pub mod redact;
pub mod secrets;
pub mod settings;
pub mod store;
pub mod thumbnail;
pub mod user_error;
pub mod views;

pub use engine::{Engine, EngineConfig, EngineError, EngineEvent};
pub use error::CoreError;
pub use locale::Locale;
pub use paths::DataDir;
pub use store::Store;
pub use user_error::Problem;

/// The engine's version, shown in the UI and the CLI.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
