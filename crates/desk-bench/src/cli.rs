//! Driving `weixin-desk-cli` (built next to this binary) against an emulator.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ilink_sim::BotInfo;

/// The release CLI, next to this program (both come from `cargo build --release`).
pub fn binary() -> Result<PathBuf, String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let path = me.with_file_name("weixin-desk-cli");
    path.exists().then_some(path.clone()).ok_or_else(|| {
        format!(
            "{} is missing: build it with cargo build --release -p desk-cli",
            path.display()
        )
    })
}

/// `add-account` with the token on stdin, into the OS keyring.
pub fn add_account(cli: &Path, data: &Path, sim_url: &str, bot: &BotInfo) -> Result<(), String> {
    let mut child = Command::new(cli)
        .args(["--data-dir"])
        .arg(data)
        .args([
            "--sim",
            sim_url,
            "--secrets",
            "keyring",
            "add-account",
            "--token-stdin",
        ])
        .args(["--bot-id", &bot.bot_id, "--user-id", &bot.user_id])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", cli.display()))?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(bot.token.as_bytes())
        .map_err(|e| e.to_string())?;
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!(
            "add-account failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(())
}

/// A running `weixin-desk-cli run --json`, stopped with SIGTERM when dropped.
pub struct Running {
    child: Child,
    pub events: Receiver<Event>,
}

/// One JSON line of the CLI's, with when this process read it.
pub struct Event {
    /// Epoch ms on this process's clock, to the microsecond (the CLI prints whole
    /// milliseconds, too coarse for latencies under one).
    pub read_ms: f64,
    pub json: serde_json::Value,
}

/// Epoch milliseconds, fractional.
pub fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1_000.0)
}

impl Running {
    pub fn start(cli: &Path, data: &Path, sim_url: &str) -> Result<Running, String> {
        let mut child = Command::new(cli)
            .arg("--data-dir")
            .arg(data)
            .args(["--sim", sim_url, "--secrets", "keyring", "run", "--json"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", cli.display()))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // Stamped before parsing, so a line waits for no other's parse.
                let read_ms = now_ms();
                if let Ok(json) = serde_json::from_str(&line) {
                    if tx.send(Event { read_ms, json }).is_err() {
                        break;
                    }
                }
            }
        });
        Ok(Running { child, events })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until `count` distinct accounts have said `online`.
    pub fn wait_online(&self, count: usize, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        let mut online = HashSet::new();
        while online.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = self
                .events
                .recv_timeout(left)
                .map_err(|_| format!("only {} of {count} accounts came online", online.len()))?
                .json;
            if event["type"] == "account_status_changed" && event["status"]["state"] == "online" {
                online.insert(event["account_id"].as_str().unwrap_or_default().to_owned());
            }
        }
        Ok(())
    }

    /// SIGTERM, then waits (the CLI stops every account with notifystop).
    pub fn stop(mut self) -> Result<(), String> {
        terminate(&mut self.child)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn terminate(child: &mut Child) -> Result<(), String> {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let status = child.wait().map_err(|e| e.to_string())?;
    status
        .success()
        .then_some(())
        .ok_or_else(|| format!("the CLI ended with {status} after SIGTERM"))
}
