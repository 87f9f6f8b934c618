//! The start-up measurement through the real binary: with the variable set, the app
//! prints `first-paint-ms N` on stdout once its first screen is painted.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use weixin_desk::first_paint;

use crate::harness::{enabled, kill_group, Home, APP_BINARY, SERIAL};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_paint_is_printed_once_when_asked() {
    if !enabled("first_paint_is_printed_once_when_asked") {
        return;
    }
    let _serial = SERIAL.lock().await;
    let home = Home::new();
    let spawned = Instant::now();
    let mut child = Command::new(APP_BINARY)
        .envs(home.env("en_US.UTF-8"))
        .env(first_paint::ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start the app");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut reports = Vec::new();
    while Instant::now() < deadline && reports.is_empty() {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            reports.extend(first_paint::parse(&line));
        }
    }
    let waited = spawned.elapsed();
    // A second report would come within moments; there is none.
    let later: Vec<_> = rx
        .recv_timeout(Duration::from_secs(2))
        .into_iter()
        .filter_map(|line| first_paint::parse(&line))
        .collect();
    kill_group(&mut child);
    assert_eq!(reports.len(), 1, "no first-paint line within 60 s");
    let ms = reports[0];
    assert!(
        ms > 0 && u128::from(ms) <= waited.as_millis(),
        "{ms} ms is not within the {waited:?} since the launch"
    );
    assert!(later.is_empty(), "reported again: {later:?}");
    eprintln!("first-paint-ms {ms} (empty state, debug build)");
}
