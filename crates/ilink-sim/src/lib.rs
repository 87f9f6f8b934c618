//! A local emulator of the iLink bot server and its CDN, for tests, benchmarks and the
//! app's sandbox mode.
//!
//! It is a separate party from the client crate: it shares none of its types and checks
//! what clients send on its own terms (spec `docs/protocol.md` §9). It serves the QR login
//! (issue and status), getupdates, sendmessage, getconfig, sendtyping,
//! notifystart/stop, getuploadurl and the CDN upload and download. Tests drive it
//! through methods on [`Sim`] or the JSON routes under `/_sim/`: bots, inbound
//! messages (voice as real SILK), the QR scanner, token revocation, knobs (redelivery,
//! send rate limit, …), one-shot and seeded probabilistic faults and a request log. The
//! crate README lists them all. [`Sim::start_demo`] runs the sandbox scenario of
//! `ilink-sim --demo`.

mod account;
mod agent;
mod auth;
mod cdn;
mod control;
mod corrupt;
mod crypto;
mod demo;
mod faults;
mod ids;
mod knobs;
mod media;
mod qr;
mod send;
mod server;
mod state;
mod updates;
mod voice;
mod wire;

pub use cdn::UploadUrlMode;
pub use corrupt::{CorruptMessage, Corruption};
pub use demo::{demo_peers, DemoConfig, DemoPeer};
pub use faults::{Fault, FaultHit, FaultRule, DEFAULT_HANG_CAP_MS};
pub use knobs::{Knobs, RefuseShape, SendRateLimit, SendResponse, VideoPoster};
pub use media::{InboundMedia, KeyForm, MediaKind, VIDEO_POSTER};
pub use server::{Sim, SimConfig};
pub use state::{
    BotInfo, BotSummary, LoggedRequest, PresenceEvent, SentMessage, SimError, TypingEvent,
    BODILESS_QUOTE_ITEM_TYPE,
};
pub use voice::{silk_voice, silk_voice_clip, DEFAULT_VOICE_MS, SILK_SAMPLE_RATE};
