//! `ilink-sim`: runs the emulator until stopped and prints where it listens.

use std::net::SocketAddr;

use ilink_sim::{Knobs, Sim, SimConfig};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let mut demo = false;
    let mut addr = SocketAddr::from(([127, 0, 0, 1], 0));
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--help" | "-h" => {
                println!("usage: ilink-sim [--demo] [LISTEN_ADDR]");
                println!("  LISTEN_ADDR  default 127.0.0.1:0 (a free port)");
                println!("  --demo       QR logins confirm themselves after a few seconds and");
                println!("               the new user says hello (the app's sandbox mode)");
                return std::process::ExitCode::SUCCESS;
            }
            "--demo" => demo = true,
            text => match text.parse() {
                Ok(parsed) => addr = parsed,
                Err(err) => {
                    eprintln!("ilink-sim: {text:?} is not a socket address: {err}");
                    return std::process::ExitCode::from(2);
                }
            },
        }
    }
    let mut knobs = Knobs::default();
    if demo {
        knobs.auto_login_ms = Some(2000);
        knobs.auto_login_greeting = Some("你好！This is ilink-sim's demo user.".to_owned());
    }
    let sim = match Sim::start(SimConfig { addr, knobs }).await {
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
