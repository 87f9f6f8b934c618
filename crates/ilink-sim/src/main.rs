//! `ilink-sim`: runs the emulator until stopped and prints where it listens.

use std::net::SocketAddr;

use ilink_sim::{DemoConfig, Knobs, Sim, SimConfig};

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
                println!("  --demo       the app's sandbox: QR logins confirm themselves after a");
                println!("               few seconds, and demo users chat with every bot");
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
    let knobs = Knobs::default();
    let mut sim = match Sim::start(SimConfig { addr, knobs }).await {
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
    if demo {
        let config = DemoConfig::default();
        let bot = sim.start_demo(config.clone());
        println!(
            "demo: QR logins confirm after {} s; one message every {} s to each bot",
            2 * config.login_step_ms / 1000,
            config.tick.as_secs()
        );
        println!(
            "demo bot (no login needed): {} token {}",
            bot.bot_id, bot.token
        );
        for peer in ilink_sim::demo_peers() {
            println!("demo peer: {} {}", peer.user_id, peer.display_name);
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    std::process::ExitCode::SUCCESS
}
