//! `ilink-sim`: runs the emulator until stopped and prints where it listens.

use std::net::SocketAddr;

use ilink_sim::{Sim, SimConfig};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let addr: SocketAddr = match std::env::args().nth(1).as_deref() {
        None => SocketAddr::from(([127, 0, 0, 1], 0)),
        Some("--help" | "-h") => {
            println!("usage: ilink-sim [LISTEN_ADDR]   (default 127.0.0.1:0, a free port)");
            return std::process::ExitCode::SUCCESS;
        }
        Some(text) => match text.parse() {
            Ok(addr) => addr,
            Err(err) => {
                eprintln!("ilink-sim: {text:?} is not a socket address: {err}");
                return std::process::ExitCode::from(2);
            }
        },
    };
    let sim = match Sim::start(SimConfig {
        addr,
        ..SimConfig::default()
    })
    .await
    {
        Ok(sim) => sim,
        Err(err) => {
            eprintln!("ilink-sim: cannot listen on {addr}: {err}");
            return std::process::ExitCode::from(1);
        }
    };
    println!("ilink-sim API base: {}", sim.base_url());
    println!("ilink-sim CDN base: {}", sim.cdn_base_url());
    println!(
        "control API: {}_sim/ (see crates/ilink-sim/README.md)",
        sim.base_url()
    );
    let _ = tokio::signal::ctrl_c().await;
    std::process::ExitCode::SUCCESS
}
