//! The WeChat iLink bot wire protocol, as the official client v2.4.9 speaks it.
//!
//! This crate holds no storage and no long-lived tasks. It has the serde [`models`] of
//! every API body, the HTTP [`Client`] for every API endpoint with its [`IlinkError`]s,
//! and the protocol primitives (headers, URLs, bot agent, account ids, CDN crypto), each
//! tested against the known-answer vectors of the protocol specification. On top of the
//! client: the [`qr_login`] state machine, streaming CDN [`media`] transfer,
//! outbound [`text`] shaping (markdown filter and splitter), inbound [`voice`] (SILK
//! to WAV), and partial-[`quote`] resolution.

pub mod account_id;
pub mod bot_agent;
pub mod client;
pub mod crypto;
pub mod error;
pub mod headers;
pub mod md5sum;
pub mod media;
pub mod models;
pub mod qr_login;
pub mod quote;
pub mod secret;
pub mod text;
pub mod url;
pub mod voice;

pub use client::{Client, ClientConfig, Timeouts, DEFAULT_LONGPOLL_MARGIN};
pub use error::{IlinkError, NetworkKind};
pub use secret::Secret;

/// The version string this client reports as `channel_version`.
pub const CHANNEL_VERSION: &str = "2.4.9";
