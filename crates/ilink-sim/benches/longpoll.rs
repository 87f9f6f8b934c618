//! Bounded resources: 1,000 concurrent getupdates long-polls held by one sim on a
//! single-threaded (current_thread) tokio runtime.
//!
//! `cargo bench -p ilink-sim --bench longpoll`
//!
//! The bench re-runs itself with `--server` as a separate process, so the memory and
//! CPU figures are the server's alone; this process is the client (a multi-threaded
//! runtime with reqwest). The server reports from `/proc/self/status` (VmRSS, VmHWM,
//! Threads) and `/proc/self/stat` (utime + stime). It prints figures only; the target is
//! a server RSS under 100 MiB.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use ilink_sim::{Knobs, Sim, SimConfig};
use serde_json::{json, Value};

/// How many bots, each with one held poll; `ILINK_SIM_BENCH_POLLS` overrides.
fn polls() -> usize {
    std::env::var("ILINK_SIM_BENCH_POLLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000)
}
/// Longer than the whole measurement, so no poll returns on its own.
const HOLD_MS: u64 = 120_000;

fn main() {
    if std::env::args().any(|a| a == "--server") {
        serve();
    } else {
        drive();
    }
}

// ---------------------------------------------------------------- server process

fn serve() {
    // Reports are read from /proc by a plain thread; the sim never sees them.
    std::thread::spawn(|| {
        for line in std::io::stdin().lock().lines() {
            match line.as_deref() {
                Ok("report") => println!("{}", own_figures()),
                _ => break,
            }
        }
        std::process::exit(0);
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("current_thread runtime");
    runtime.block_on(async {
        let knobs = Knobs {
            poll_hold_ms: HOLD_MS,
            longpolling_timeout_ms: HOLD_MS + 10_000,
            ..Knobs::default()
        };
        let sim = Sim::start(SimConfig {
            knobs,
            ..SimConfig::default()
        })
        .await
        .expect("sim starts");
        println!("{}", sim.base_url());
        std::future::pending::<()>().await;
    });
}

/// `rss_kib hwm_kib cpu_ms threads` of this process.
fn own_figures() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the `(comm)`: state is the 3rd field, utime the 14th, stime the 15th.
    let after_comm: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| -> u64 { after_comm.get(i).and_then(|t| t.parse().ok()).unwrap_or(0) };
    // USER_HZ is 100 on every Linux this runs on.
    let cpu_ms = (ticks(11) + ticks(12)) * 10;
    format!(
        "{} {} {} {}",
        field("VmRSS:"),
        field("VmHWM:"),
        cpu_ms,
        field("Threads:")
    )
}

// ---------------------------------------------------------------- client process

struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Server {
    fn spawn() -> (Server, String) {
        let exe = std::env::current_exe().expect("own path");
        let mut child = Command::new(exe)
            .arg("--server")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("server process");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut base = String::new();
        stdout.read_line(&mut base).expect("base url");
        let server = Server {
            child,
            stdin,
            stdout,
        };
        (server, base.trim().to_owned())
    }

    fn report(&mut self, label: &str) {
        writeln!(self.stdin, "report").expect("ask for figures");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("figures");
        let n: Vec<u64> = line
            .split_whitespace()
            .filter_map(|t| t.parse().ok())
            .collect();
        let [rss, hwm, cpu_ms, threads] = n[..] else {
            panic!("bad figures: {line:?}");
        };
        println!(
            "{label:<34} VmRSS {:>6.1} MiB  VmHWM {:>6.1} MiB  CPU {:>6.2} s  threads {threads}",
            rss as f64 / 1024.0,
            hwm as f64 / 1024.0,
            cpu_ms as f64 / 1000.0,
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn drive() {
    let count = polls();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let (mut server, base) = Server::spawn();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(count + 10)
        .timeout(Duration::from_millis(HOLD_MS + 20_000))
        .build()
        .expect("client");
    println!(
        "longpoll: {count} bots, one getupdates each, held by ilink-sim on a current_thread \
         runtime (server pid {})",
        server.child.id()
    );
    server.report("server started");

    let bots: Vec<Value> = runtime.block_on(async {
        let mut bots = Vec::with_capacity(count);
        for _ in 0..count {
            bots.push(control(&http, &base, "bots", None).await);
        }
        bots
    });
    server.report(&format!("{count} bots, idle"));

    let sent = Instant::now();
    let polls: Vec<_> = bots
        .iter()
        .map(|bot| {
            let token = bot["token"].as_str().expect("token").to_owned();
            runtime.spawn(getupdates(http.clone(), base.clone(), token))
        })
        .collect();
    let held_after = runtime.block_on(wait_until_held(&http, &base, count));
    println!(
        "{:<34} {} ms",
        format!("all {count} polls received"),
        held_after.duration_since(sent).as_millis()
    );
    std::thread::sleep(Duration::from_millis(500));
    server.report(&format!("holding {count} polls"));

    let woken = Instant::now();
    let answered = runtime.block_on(async {
        for bot in &bots {
            let id = bot["bot_id"].as_str().expect("bot_id");
            let user = bot["user_id"].as_str().expect("user_id");
            let body = json!({ "peer_id": user, "text": "wake up" });
            control(&http, &base, &format!("bots/{id}/inject"), Some(body)).await;
        }
        let mut answered = 0;
        for poll in polls {
            if poll.await.expect("poll task") == 1 {
                answered += 1;
            }
        }
        answered
    });
    println!(
        "{:<34} {} ms ({answered} of {count} with their message)",
        "inject 1 message per bot, all answered",
        woken.elapsed().as_millis()
    );
    server.report(&format!("after answering {count} polls"));
}

async fn control(http: &reqwest::Client, base: &str, path: &str, body: Option<Value>) -> Value {
    let req = http.post(format!("{base}_sim/{path}"));
    let req = match body {
        Some(body) => req.json(&body),
        None => req,
    };
    let resp = req.send().await.expect("control API");
    assert!(
        resp.status().is_success(),
        "/_sim/{path}: {}",
        resp.status()
    );
    resp.json().await.expect("control JSON")
}

/// One well-formed getupdates; returns how many messages came back.
async fn getupdates(http: reqwest::Client, base: String, token: String) -> usize {
    let body = json!({
        "get_updates_buf": "",
        "base_info": { "channel_version": "2.4.9", "bot_agent": "OpenClaw" },
    });
    let resp = http
        .post(format!("{base}ilink/bot/getupdates"))
        .header("Content-Type", "application/json")
        .header("AuthorizationType", "ilink_bot_token")
        .header("Authorization", format!("Bearer {token}"))
        .header("X-WECHAT-UIN", "MTIzNDU=")
        .header("iLink-App-Id", "bot")
        .header("iLink-App-ClientVersion", "132105")
        .body(body.to_string())
        .send()
        .await
        .expect("getupdates");
    let answer: Value = resp.json().await.expect("getupdates JSON");
    answer["msgs"].as_array().map_or(0, Vec::len)
}

/// Waits until the sim holds every poll (`GET /_sim/stats`).
async fn wait_until_held(http: &reqwest::Client, base: &str, count: usize) -> Instant {
    let start = Instant::now();
    loop {
        let stats: Value = http
            .get(format!("{base}_sim/stats"))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats JSON");
        let held = stats["polls_in_flight"].as_u64().unwrap_or(0) as usize;
        if held >= count {
            return Instant::now();
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "only {held} polls arrived"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
