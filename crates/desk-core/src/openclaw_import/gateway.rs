//! Whether an OpenClaw gateway still seems to run on this machine. The plugin polls
//! inside the gateway; a bot token polled by two programs loses messages to the other
//! one, so the owner is told before an imported account starts.
//!
//! Two signs, both what the gateway itself leaves: its lock file
//! (`<state>/tmp/openclaw-<uid>/gateway.*.lock`, JSON with `pid`, `port` and `role`,
//! written by `src/infra/gateway-lock.ts` of npm `openclaw`) naming a live process, and
//! something listening on its port (the lock's, else `OPENCLAW_GATEWAY_PORT`, else
//! `gateway.port` in `openclaw.json`, else 18789). Neither proves the Weixin channel
//! polls: the same gateway may serve only AI replies. Hence a warning, never a refusal.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::folder::StateFolder;

/// The gateway's port when nothing says otherwise.
pub const DEFAULT_GATEWAY_PORT: u16 = 18789;
/// How long a connection to the gateway's port may take to count as "listening".
const PROBE_TIMEOUT: Duration = Duration::from_millis(300);

/// What was seen of a running gateway; nothing seen does not prove it is stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct GatewaySigns {
    /// A live process holding the gateway's lock in the state folder.
    pub pid: Option<u32>,
    /// The gateway's port, when something on this machine answers on it.
    pub listening_port: Option<u16>,
}

impl GatewaySigns {
    pub fn seen(&self) -> bool {
        self.pid.is_some() || self.listening_port.is_some()
    }

    /// One sentence for the owner, or `None` when nothing was seen.
    pub fn describe(&self) -> Option<String> {
        let what = match (self.pid, self.listening_port) {
            (Some(pid), Some(port)) => {
                format!("process {pid} holds its lock and port {port} answers")
            }
            (Some(pid), None) => format!("process {pid} holds its lock"),
            (None, Some(port)) => format!("something answers on its port {port}"),
            (None, None) => return None,
        };
        Some(format!(
            "An OpenClaw gateway seems to be running ({what}). Stop it, or at least its \
             Weixin channel, before these accounts start here."
        ))
    }
}

/// Looks for the gateway of `folder`.
pub fn look(folder: &StateFolder) -> GatewaySigns {
    let lock = live_lock(folder.root());
    let port = lock
        .as_ref()
        .and_then(|l| l.port)
        .or_else(|| configured_port(folder.config_path()))
        .unwrap_or(DEFAULT_GATEWAY_PORT);
    GatewaySigns {
        pid: lock.map(|l| l.pid),
        listening_port: listening(port).then_some(port),
    }
}

struct Lock {
    pid: u32,
    port: Option<u16>,
}

/// The first gateway lock in the state folder whose process is alive.
fn live_lock(root: &Path) -> Option<Lock> {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    [format!("openclaw-{uid}"), "openclaw".to_owned()]
        .iter()
        .filter_map(|dir| std::fs::read_dir(root.join("tmp").join(dir)).ok())
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("gateway.") && name.ends_with(".lock")
        })
        .filter_map(|e| std::fs::read(e.path()).ok())
        .filter_map(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .filter(|v| v["role"].as_str().is_none_or(|role| role == "gateway"))
        .filter_map(|v| {
            let pid = u32::try_from(v["pid"].as_u64()?).ok()?;
            let port = v["port"].as_u64().and_then(|p| u16::try_from(p).ok());
            Some(Lock { pid, port })
        })
        .find(|l| alive(l.pid))
}

fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    pid > 0
        && (unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

fn configured_port(config: &Path) -> Option<u16> {
    if let Some(port) = std::env::var("OPENCLAW_GATEWAY_PORT")
        .ok()
        .and_then(|v| v.trim().rsplit(':').next()?.parse().ok())
    {
        return Some(port);
    }
    let config: Value = serde_json::from_slice(&std::fs::read(config).ok()?).ok()?;
    u16::try_from(config["gateway"]["port"].as_u64()?)
        .ok()
        .filter(|p| *p > 0)
}

fn listening(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_lock_and_a_listening_port_are_seen_and_a_dead_lock_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let folder = StateFolder::at(dir.path());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::fs::write(
            dir.path().join("openclaw.json"),
            format!(r#"{{"gateway": {{"port": {port}}}}}"#),
        )
        .unwrap();
        let uid = unsafe { libc::getuid() };
        let locks = dir.path().join(format!("tmp/openclaw-{uid}"));
        std::fs::create_dir_all(&locks).unwrap();
        // A lock whose process is gone (pids do not reach i32::MAX here).
        std::fs::write(
            locks.join("gateway.dead.lock"),
            r#"{"pid": 2147483646, "createdAt": "x", "configPath": "y", "port": 1}"#,
        )
        .unwrap();
        let signs = look(&folder);
        assert_eq!(
            signs,
            GatewaySigns {
                pid: None,
                listening_port: Some(port)
            }
        );

        std::fs::write(
            locks.join("gateway.state.lock"),
            format!(
                r#"{{"pid": {}, "createdAt": "x", "configPath": "y", "role": "gateway"}}"#,
                std::process::id()
            ),
        )
        .unwrap();
        let signs = look(&folder);
        assert_eq!(signs.pid, Some(std::process::id()));
        assert!(signs.describe().unwrap().contains(&port.to_string()));

        // Stopped: the dead lock is left behind, nothing answers on the port.
        drop(listener);
        std::fs::remove_file(locks.join("gateway.state.lock")).unwrap();
        assert_eq!(look(&folder), GatewaySigns::default());
    }
}
