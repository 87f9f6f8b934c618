//! Held against a client we did not write: `interop/run.mjs` drives the sim with the
//! official `@tencent-weixin/openclaw-weixin` plugin's own request code, and this test
//! checks through the control API what the sim recorded.
//!
//! Needs `npm ci --prefix crates/ilink-sim/interop` (and `node` on PATH, or
//! `ILINK_SIM_NODE`); without `interop/node_modules` it prints "skipped" and passes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use ilink_sim::{Sim, SimConfig};
use serde_json::Value;

const RUN_LIMIT: Duration = Duration::from_secs(120);

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("interop")
}

/// Runs `node run.mjs <base>` with a time limit, on a blocking thread.
fn run_node(dir: &Path, base: &str) -> Output {
    let node = std::env::var("ILINK_SIM_NODE").unwrap_or_else(|_| "node".to_owned());
    let mut child = Command::new(&node)
        .arg(dir.join("run.mjs"))
        .arg(base)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("interop/node_modules exists but {node:?} cannot run: {err}"));
    let started = Instant::now();
    while child.try_wait().expect("child state").is_none() {
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            panic!("run.mjs did not finish within {RUN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("child output")
}

async fn control_get(sim: &Sim, path: &str) -> Value {
    let resp = reqwest::get(format!("{}_sim/{path}", sim.base_url()))
        .await
        .expect("control API answers");
    assert_eq!(resp.status().as_u16(), 200, "/_sim/{path}");
    resp.json().await.expect("control API JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_plugin_code_talks_to_the_sim_without_violations() {
    let dir = interop_dir();
    if !dir.join("node_modules").is_dir() {
        println!("skipped: run `npm ci --prefix crates/ilink-sim/interop` to enable");
        return;
    }
    let sim = Sim::start(SimConfig::default()).await.expect("sim starts");
    let base = sim.base_url();
    let out = tokio::task::spawn_blocking(move || run_node(&dir, &base))
        .await
        .expect("runner thread");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "run.mjs failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let summary: Value = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("no JSON summary in:\n{stdout}"));
    assert_eq!(summary["ok"], true, "{summary}");

    // The sim's own record, over the control API.
    let bots = control_get(&sim, "bots").await;
    let bot = &bots[0];
    let bot_id = bot["bot_id"].as_str().expect("bot_id");
    let user = bot["user_id"].as_str().expect("user_id");
    assert_eq!(summary["bot_id"].as_str(), Some(bot_id));
    let latest_ctx = sim
        .context_token(bot_id, user)
        .expect("bot")
        .expect("a context_token was issued");

    let sent = control_get(&sim, &format!("bots/{bot_id}/sent")).await;
    let sent = sent.as_array().expect("sent list");
    let reply = sent
        .iter()
        .find(|m| m["item"]["text_item"]["text"] == "收到 — got it")
        .unwrap_or_else(|| panic!("the text reply was not accepted: {sent:?}"));
    assert_eq!(reply["context_token"].as_str(), Some(latest_ctx.as_str()));
    assert_eq!(reply["to_user_id"].as_str(), Some(user));
    assert!(reply["message_id"].as_u64().is_some_and(|id| id > 1 << 53));
    assert!(reply["client_id"]
        .as_str()
        .is_some_and(|c| c.starts_with("openclaw-weixin:")));

    // The uploaded file is stored, decrypts to what the script wrote, and was sent.
    let param = summary["uploaded_file"].as_str().expect("upload param");
    let plain = sim.cdn_plaintext(param).expect("upload stored on the CDN");
    assert_eq!(plain, "interop upload ✓\n".repeat(100).into_bytes());
    let file_msg = sent
        .iter()
        .find(|m| m["item"]["type"] == 4)
        .expect("file message accepted");
    assert_eq!(
        file_msg["item"]["file_item"]["media"]["encrypt_query_param"].as_str(),
        Some(param)
    );
    assert!(sent.iter().any(|m| m["item"]["type"] == 2), "image message");
    assert!(sent.iter().all(|m| m["flags"] == Value::Array(Vec::new())));

    // Every request the plugin made passed every rule.
    let requests = control_get(&sim, "requests").await;
    let requests = requests.as_array().expect("request log");
    for endpoint in [
        "get_bot_qrcode",
        "get_qrcode_status",
        "getupdates",
        "sendmessage",
        "getuploadurl",
        "c2c/upload",
        "getconfig",
        "sendtyping",
        "msg/notifystart",
        "msg/notifystop",
    ] {
        assert!(
            requests.iter().any(|r| r["endpoint"] == endpoint),
            "no {endpoint} request logged"
        );
    }
    let violations: Vec<&Value> = requests
        .iter()
        .filter(|r| r["violations"] != Value::Array(Vec::new()))
        .collect();
    assert!(violations.is_empty(), "rule violations: {violations:#?}");
}
