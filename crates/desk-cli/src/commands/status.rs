//! `status`: the health and figures of the `run --listen` serving this data folder, read
//! from its /healthz and /metrics (the address it wrote into the data folder).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use clap::Args;

use super::Context;
use crate::error::CliError;
use crate::monitor::ADDRESS_FILE;

/// Exit code when the service answers but is not healthy.
pub const EXIT_UNHEALTHY: u8 = 4;

#[derive(Args)]
#[command(after_help = "\
Needs a `run --listen ADDR` on this data folder. Prints each account's status and the \
main figures; exits 0 when every account is online or paused, 4 when the service is \
not healthy, 1 when no service answers.")]
pub struct StatusArgs {
    /// Print {"healthy", "accounts", "metrics"} as JSON.
    #[arg(long)]
    json: bool,
}

pub fn status(ctx: &Context, args: StatusArgs) -> Result<(), CliError> {
    let path = ctx.data_dir.root().join(ADDRESS_FILE);
    let text = std::fs::read_to_string(&path).map_err(|_| {
        CliError::Usage(format!(
            "no running `run --listen` found for {} (it writes {ADDRESS_FILE} there)",
            ctx.data_dir.root().display()
        ))
    })?;
    let addr: SocketAddr = text
        .trim()
        .parse()
        .map_err(|_| CliError::Usage(format!("{} does not hold an address", path.display())))?;
    let (_, health) = get(addr, "/healthz")?;
    let health: serde_json::Value = serde_json::from_str(&health)
        .map_err(|_| CliError::Usage("the service's /healthz is not JSON".into()))?;
    let (_, metrics) = get(addr, "/metrics")?;
    let samples = samples(&metrics);
    let healthy = health["healthy"].as_bool().unwrap_or(false);
    if args.json {
        let out = serde_json::json!({
            "address": addr.to_string(),
            "healthy": healthy,
            "accounts": health["accounts"],
            "metrics": samples,
        });
        println!("{out}");
    } else {
        println!(
            "service at {addr}: {}",
            if healthy { "healthy" } else { "NOT healthy" }
        );
        for account in health["accounts"].as_array().into_iter().flatten() {
            println!(
                "  {}  {}",
                account["account_id"].as_str().unwrap_or("?"),
                account["status"].as_str().unwrap_or("?")
            );
        }
        for (name, value) in &samples {
            if !name.contains("_bucket") && value.as_f64() != Some(0.0) {
                println!("  {name} {value}");
            }
        }
    }
    if healthy {
        Ok(())
    } else {
        Err(CliError::Outcome {
            message: "the service is not healthy".into(),
            code: EXIT_UNHEALTHY,
        })
    }
}

/// One plain HTTP/1.1 GET on loopback; returns the status code and body.
fn get(addr: SocketAddr, path: &str) -> Result<(u16, String), CliError> {
    let what = || format!("cannot reach the service at {addr}");
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| CliError::io(what(), e))?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| CliError::io(what(), e))?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| CliError::io(what(), e))?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| CliError::Usage(format!("{addr} did not answer HTTP")))?;
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((code, body.to_owned()))
}

/// The samples of a text-format exposition, `name{labels}` → value.
fn samples(text: &str) -> serde_json::Map<String, serde_json::Value> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            let value: f64 = value.parse().ok()?;
            Some((name.to_owned(), serde_json::json!(value)))
        })
        .collect()
}
