//! What the CLI test files share: ilink-sim on loopback, the real `weixin-desk-cli`
//! binary on a temporary data directory, children that are killed if a test fails, and
//! bounded waits for the lines they print.

// Each test file uses its own part of this.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use ilink_sim::{Knobs, Sim, SimConfig};

pub const WAIT: Duration = Duration::from_secs(60);

/// The runtime the emulator's tasks run on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The emulator on loopback; a poll without news is held `poll_hold_ms`.
pub fn start_sim(rt: &tokio::runtime::Runtime, poll_hold_ms: u64) -> Sim {
    rt.block_on(Sim::start(SimConfig {
        knobs: Knobs {
            poll_hold_ms,
            ..Knobs::default()
        },
        ..SimConfig::default()
    }))
    .unwrap()
}

/// The CLI on `data`, with the given secret store, against the emulator at `sim_url`.
pub fn cli_command(data: &Path, sim_url: &str, secrets: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weixin-desk-cli"));
    cmd.arg("--data-dir")
        .arg(data)
        .args(["--secrets", secrets, "--sim", sim_url])
        // Never the tester's own key file (`service install --user` makes one there).
        .env("XDG_CONFIG_HOME", data.with_extension("config"))
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    cmd
}

pub struct Harness {
    pub sim: Sim,
    pub tmp: tempfile::TempDir,
    pub data: PathBuf,
    // Last, so the sim's tasks stop before the runtime goes.
    pub rt: tokio::runtime::Runtime,
}

impl Harness {
    pub fn new() -> Harness {
        let rt = runtime();
        let sim = start_sim(&rt, 1_000);
        let tmp = tempfile::tempdir().unwrap();
        Harness {
            data: tmp.path().join("data"),
            tmp,
            sim,
            rt,
        }
    }

    /// The CLI on this harness's data directory, secrets in memory, against the sim.
    pub fn cli(&self) -> Command {
        self.cli_with_secrets("memory")
    }

    pub fn cli_with_secrets(&self, secrets: &str) -> Command {
        cli_command(&self.data, &self.sim.base_url(), secrets)
    }

    /// Runs the CLI with `args`, asserts it succeeded and returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        stdout(assert_ok(&self.cli().args(args).output().unwrap()))
    }
}

/// Runs `cmd` to the end with `input` on its stdin.
pub fn with_stdin(cmd: &mut Command, input: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A child that refuses before reading its stdin closes it: not an error here.
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    Guard(Some(child)).into_output()
}

pub fn assert_ok(out: &Output) -> &Output {
    assert!(
        out.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Kills and reaps the child unless it was waited for.
pub struct Guard(pub Option<Child>);

impl Guard {
    pub fn into_output(mut self) -> Output {
        self.0.take().unwrap().wait_with_output().unwrap()
    }

    pub fn child(&mut self) -> &mut Child {
        self.0.as_mut().unwrap()
    }

    /// Waits (bounded) for the exit; panics if it does not come.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child().try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the process did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `signal` (SIGTERM, SIGINT) and asserts the process then exits cleanly.
    pub fn stop(&mut self, signal: libc::c_int) {
        let pid = self.child().id() as libc::pid_t;
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        let status = self.wait_exit();
        assert!(status.success(), "run exited with {status:?}");
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Lines of a child's stream, as they come.
pub fn lines_of(stream: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Starts `cmd` with every stream piped; returns the guarded child, its stdin, and its
/// stdout and stderr lines (stderr is drained so the child never blocks on it).
pub fn spawn_piped(cmd: &mut Command) -> (Guard, ChildStdin, Receiver<String>, Receiver<String>) {
    let mut child = Guard(Some(
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let stdin = child.child().stdin.take().unwrap();
    let stdout = lines_of(child.child().stdout.take().unwrap());
    let stderr = lines_of(child.child().stderr.take().unwrap());
    (child, stdin, stdout, stderr)
}

/// Starts the CLI with `args` and `input` on stdin (then closed); returns the guarded
/// child and its stdout and stderr lines.
pub fn spawn_run(
    h: &Harness,
    input: &str,
    args: &[&str],
) -> (Guard, Receiver<String>, Receiver<String>) {
    let (run, mut stdin, stdout, stderr) = spawn_piped(h.cli().args(args));
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    (run, stdout, stderr)
}

/// Waits (bounded) for a line `wanted` accepts; every line read goes to `seen`.
pub fn wait_line(rx: &Receiver<String>, seen: &mut Vec<String>, wanted: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let hit = wanted(&line);
                seen.push(line);
                if hit {
                    return;
                }
            }
            Err(_) => panic!("no wanted line; seen so far:\n{}", seen.join("\n")),
        }
    }
}
