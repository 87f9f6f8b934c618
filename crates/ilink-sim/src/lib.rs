//! A local emulator of the iLink bot server and its CDN, for tests, benchmarks and the
//! app's sandbox mode.
//!
//! It is a separate party from the client crate: it shares none of its types and checks
//! what clients send on its own terms (spec `ILINK.md` §9). It serves QR issue,
//! getupdates, sendmessage, getconfig, sendtyping and notifystart/stop, and a control
//! surface both as methods on [`Sim`] and as JSON routes under `/_sim/`.

mod account;
mod agent;
mod auth;
mod cdn;
mod control;
mod crypto;
mod faults;
mod ids;
mod knobs;
mod media;
mod qr;
mod send;
mod server;
mod state;
mod updates;
mod wire;

pub use cdn::UploadUrlMode;
pub use faults::Fault;
pub use knobs::{Knobs, SendResponse};
pub use media::{InboundMedia, KeyForm, MediaKind};
pub use server::{Sim, SimConfig};
pub use state::{
    BotInfo, BotSummary, LoggedRequest, PresenceEvent, SentMessage, SimError, TypingEvent,
};
