//! A local emulator of the iLink bot server and its CDN, for tests, benchmarks and the
//! app's sandbox mode.
//!
//! It is a separate party from the client crate: it shares none of its types and checks
//! what clients send on its own terms. This first slice serves the QR-code issue endpoint
//! and the `/_sim/` health probe; the rest of the protocol follows.

mod qr;
mod server;

pub use server::{Sim, SimConfig};
