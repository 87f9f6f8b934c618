//! `import-openclaw` against a state folder written by the official plugin's own storage
//! code (`crates/ilink-sim/interop/openclaw-state.mjs` runs its JS with node: its QR
//! login, one poll of its loop, its pairing store), then `run` against the same
//! ilink-sim: polling resumes from the imported cursor with nothing lost or repeated,
//! damaged or partial state is refused with its reason and leaves nothing behind,
//! `OPENCLAW_STATE_DIR` is honoured and the plugin's files are left exactly as they were.
//!
//! Needs `npm ci --prefix crates/ilink-sim/interop` (`./dev setup`) and `node`
//! (`ILINK_SIM_NODE`); without them it says so and passes, except under `CI`.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;

const ALICE: &str = "alice@im.wechat";
const BOB: &str = "bob@im.wechat";
/// Writes only before the move: her token stays the one the plugin kept.
const CAROL: &str = "carol@im.wechat";

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ilink-sim/interop")
}

/// Whether the official plugin is installed; panics under `CI` when it is not.
fn plugin_installed() -> bool {
    if interop_dir().join("node_modules/@tencent-weixin").is_dir() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("the official plugin is not installed (npm ci --prefix crates/ilink-sim/interop)");
    }
    println!("skipped: run `npm ci --prefix crates/ilink-sim/interop` to enable");
    false
}

/// Runs the plugin's own code on `state`: `openclaw-state.mjs SIM ARGS…`; returns its
/// JSON line.
fn plugin(h: &Harness, state: &Path, args: &[&str]) -> Value {
    let node = std::env::var("ILINK_SIM_NODE").unwrap_or_else(|_| "node".to_owned());
    let out = Command::new(node)
        .arg(interop_dir().join("openclaw-state.mjs"))
        .arg(h.sim.base_url())
        .args(args)
        .current_dir(interop_dir())
        .env("OPENCLAW_STATE_DIR", state)
        .env("OPENCLAW_TMP_DIR", h.tmp.path().join("plugin-log"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_ok(&out);
    let text = stdout(&out);
    text.lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no JSON from the plugin script: {text}"))
}

/// Every file under `dir` with its bytes, mode and modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u32, i64, i64)> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                files.insert(path, (bytes, meta.mode(), meta.mtime(), meta.mtime_nsec()));
            }
        }
    }
    files
}

/// The CLI with secrets in the encrypted file under `key` (they outlive each command).
fn cli(h: &Harness, key: &Path) -> Command {
    let mut cmd = h.cli_with_secrets("file");
    cmd.arg("--secrets-key-file")
        .arg(key)
        .env_remove("OPENCLAW_STATE_DIR")
        .env_remove("DBUS_SESSION_BUS_ADDRESS");
    cmd
}

fn new_key(h: &Harness) -> PathBuf {
    let key = h.tmp.path().join("keys/k");
    assert_ok(
        &cli(h, &key)
            .args(["secrets", "new-key"])
            .arg(&key)
            .output()
            .unwrap(),
    );
    key
}

/// A bot logged in through the plugin, with three peers who wrote before the move (the
/// plugin polled those messages and kept the peers' context tokens), Alice paired.
fn plugin_account(h: &Harness, state: &Path) -> (String, String) {
    let login = plugin(h, state, &["login"]);
    let account = login["account_id"].as_str().unwrap().to_owned();
    let bot_id = login["bot_id"].as_str().unwrap().to_owned();
    for peer in [ALICE, BOB, CAROL] {
        h.sim.add_peer(&bot_id, peer).unwrap();
    }
    h.sim
        .inject_text(&bot_id, ALICE, "before the move, from Alice")
        .unwrap();
    h.sim
        .inject_text(&bot_id, BOB, "before the move, from Bob")
        .unwrap();
    h.sim
        .inject_text(&bot_id, CAROL, "before the move, from Carol")
        .unwrap();
    let polled = plugin(h, state, &["poll", &account]);
    assert_eq!(polled["texts"].as_array().unwrap().len(), 3, "{polled}");
    plugin(h, state, &["pair", &account, ALICE]);
    (account, bot_id)
}

#[test]
fn an_official_state_folder_is_imported_and_polling_resumes_from_its_cursor() {
    if !plugin_installed() {
        return;
    }
    let h = Harness::new();
    let state = h.tmp.path().join("openclaw-state");
    let (account, bot_id) = plugin_account(&h, &state);
    // Written while the plugin is already stopped: only the import may get these.
    h.sim
        .inject_text(&bot_id, ALICE, "after the move, from Alice")
        .unwrap();
    h.sim
        .inject_text(&bot_id, BOB, "after the move, from Bob")
        .unwrap();
    let before = snapshot(&state);
    let key = new_key(&h);

    // The list, found through OPENCLAW_STATE_DIR.
    let listed = assert_ok(
        &cli(&h, &key)
            .arg("import-openclaw")
            .env("OPENCLAW_STATE_DIR", &state)
            .output()
            .unwrap(),
    )
    .clone();
    let listed = stdout(&listed);
    assert!(listed.contains(&account), "{listed}");
    assert!(listed.contains("cursor saved"), "{listed}");
    assert!(listed.contains("3 context token(s)"), "{listed}");
    assert!(listed.contains("1 peer(s) on its allow-list"), "{listed}");
    assert!(listed.contains("one poller"), "{listed}");
    let scan: Value = serde_json::from_str(&stdout(
        &cli(&h, &key)
            .args(["import-openclaw", "--json", "--state-dir"])
            .arg(&state)
            .output()
            .unwrap(),
    ))
    .unwrap();
    let found = &scan["accounts"][0];
    assert_eq!(found["bot_id"], bot_id.as_str());
    assert!(
        found["saved_at"].as_str().unwrap().starts_with("20"),
        "{found}"
    );
    assert!(
        found["user_id"].as_str().unwrap().ends_with("@im.wechat"),
        "{found}"
    );
    assert_eq!(found["problem"], Value::Null);

    let out = cli(&h, &key)
        .args(["import-openclaw", "--state-dir"])
        .arg(&state)
        .args(["--account", &bot_id])
        .output()
        .unwrap();
    let printed = stdout(assert_ok(&out));
    assert!(
        printed.contains(&format!("imported {account}")),
        "{printed}"
    );
    assert!(printed.contains("possibly closed"), "{printed}");
    assert!(
        printed.contains("One bot token must have one poller"),
        "{printed}"
    );
    // Once only: a second import is refused.
    let again = cli(&h, &key)
        .args(["import-openclaw", "--state-dir"])
        .arg(&state)
        .args(["--account", &account])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        text(&again).contains("in Weixin Desk already"),
        "{}",
        text(&again)
    );

    // The imported peers are there, their windows of unknown age; the AI allow-list is
    // the plugin's.
    let peers = stdout(assert_ok(&cli(&h, &key).arg("peers").output().unwrap()));
    assert!(peers.contains(ALICE) && peers.contains(BOB), "{peers}");
    assert!(peers.contains("possibly closed"), "{peers}");
    let ai: Value = serde_json::from_str(&stdout(assert_ok(
        &cli(&h, &key)
            .args(["ai", "status", "--json"])
            .output()
            .unwrap(),
    )))
    .unwrap();
    assert!(ai.to_string().contains(ALICE), "{ai}");

    // `run` polls from the plugin's cursor: the two later messages, once each, and
    // none of the two the plugin had already received.
    let (mut run, _stdin, lines, _err) = spawn_piped(cli(&h, &key).arg("run"));
    let mut seen = Vec::new();
    wait_line(&lines, &mut seen, |l| {
        l.contains("after the move, from Alice")
    });
    wait_line(&lines, &mut seen, |l| {
        l.contains("after the move, from Bob")
    });
    h.sim
        .inject_text(&bot_id, ALICE, "a third message")
        .unwrap();
    wait_line(&lines, &mut seen, |l| l.contains("a third message"));
    run.stop(libc::SIGTERM);
    seen.extend(lines.try_iter());
    assert!(
        seen.iter().all(|l| !l.contains("before the move")),
        "{seen:?}"
    );
    for peer in [ALICE, BOB] {
        let log = stdout(assert_ok(
            &cli(&h, &key)
                .args(["log", "--account", &account, peer])
                .output()
                .unwrap(),
        ));
        assert_eq!(log.matches("after the move").count(), 1, "{log}");
        assert!(!log.contains("before the move"), "{log}");
    }

    // Carol has not written since: her window is still of unknown age, and the token
    // the plugin kept is the one a message to her goes out with.
    let peers = stdout(assert_ok(&cli(&h, &key).arg("peers").output().unwrap()));
    assert_eq!(peers.matches("possibly closed").count(), 1, "{peers}");
    let carol_line = peers.lines().position(|l| l.contains(CAROL)).unwrap();
    assert!(
        peers
            .lines()
            .nth(carol_line + 1)
            .unwrap()
            .contains("possibly closed"),
        "{peers}"
    );
    let sent = cli(&h, &key)
        .args([
            "send",
            "--account",
            &account,
            "--to",
            CAROL,
            "hello again, Carol",
        ])
        .output()
        .unwrap();
    assert!(
        stdout(assert_ok(&sent)).contains("delivered"),
        "{}",
        text(&sent)
    );
    let to_carol = h.sim.sent_messages(&bot_id).unwrap();
    let to_carol = to_carol.iter().find(|m| m.to_user_id == CAROL).unwrap();
    assert_eq!(
        Some(to_carol.context_token.clone()),
        h.sim.context_token(&bot_id, CAROL).unwrap()
    );

    assert_eq!(snapshot(&state), before, "the plugin's files changed");
}

#[test]
fn damaged_or_partial_state_is_refused_with_its_reason_and_leaves_nothing() {
    if !plugin_installed() {
        return;
    }
    let h = Harness::new();
    let state = h.tmp.path().join("openclaw-state");
    let (damaged, _) = plugin_account(&h, &state);
    let (partial, _) = plugin_account(&h, &state);
    let accounts = state.join("openclaw-weixin/accounts");
    std::fs::write(
        accounts.join(format!("{damaged}.context-tokens.json")),
        "{\"alice@im.wechat\": ",
    )
    .unwrap();
    std::fs::remove_file(accounts.join(format!("{partial}.json"))).unwrap();
    let before = snapshot(&state);
    let key = new_key(&h);

    let listed = stdout(assert_ok(
        &cli(&h, &key)
            .args(["import-openclaw", "--state-dir"])
            .arg(&state)
            .output()
            .unwrap(),
    ));
    assert!(listed.contains("is not valid JSON"), "{listed}");
    assert!(
        listed.contains(&format!("accounts/{partial}.json is missing")),
        "{listed}"
    );

    let out = cli(&h, &key)
        .args(["import-openclaw", "--state-dir"])
        .arg(&state)
        .args(["--account", &damaged, "--account", &partial])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let printed = stdout(&out);
    assert!(
        printed.contains(&format!("not imported {damaged}"))
            && printed.contains("context-tokens.json"),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("not imported {partial}")),
        "{printed}"
    );
    assert!(!printed.contains("one poller"), "{printed}");
    let all = cli(&h, &key)
        .args(["import-openclaw", "--all", "--state-dir"])
        .arg(&state)
        .output()
        .unwrap();
    assert!(
        stdout(assert_ok(&all)).contains("nothing to import"),
        "{}",
        text(&all)
    );

    let listed: Value = serde_json::from_str(&stdout(assert_ok(
        &cli(&h, &key).args(["accounts", "--json"]).output().unwrap(),
    )))
    .unwrap();
    assert_eq!(listed, serde_json::json!([]));
    assert!(
        !h.data.join("secrets.enc").exists(),
        "no token was stored for an account that was not imported"
    );
    assert_eq!(snapshot(&state), before);
}

/// The token goes to the real OS keyring (`--secrets keyring`, the desktop default), as
/// `login` keeps it, and `run` finds it there. Runs only when
/// `WEIXIN_DESK_KEYRING_TEST=1` (`./dev test` provides the session).
#[test]
fn with_a_keyring_the_imported_token_is_kept_there_and_run_uses_it() {
    if std::env::var("WEIXIN_DESK_KEYRING_TEST").as_deref() != Ok("1") {
        eprintln!("skipped: set WEIXIN_DESK_KEYRING_TEST=1 to test the real keyring");
        return;
    }
    if !plugin_installed() {
        return;
    }
    let h = Harness::new();
    let state = h.tmp.path().join("openclaw-state");
    let (account, bot_id) = plugin_account(&h, &state);
    h.sim
        .inject_text(&bot_id, ALICE, "after the move, from Alice")
        .unwrap();
    let keyring = || {
        let mut cmd = h.cli_with_secrets("keyring");
        cmd.env_remove("OPENCLAW_STATE_DIR");
        cmd
    };
    let out = keyring()
        .args(["import-openclaw", "--all", "--state-dir"])
        .arg(&state)
        .output()
        .unwrap();
    assert!(
        stdout(assert_ok(&out)).contains(&format!("imported {account}")),
        "{}",
        text(&out)
    );
    let (mut run, _stdin, lines, _err) = spawn_piped(keyring().arg("run"));
    let mut seen = Vec::new();
    wait_line(&lines, &mut seen, |l| {
        l.contains("after the move, from Alice")
    });
    run.stop(libc::SIGTERM);
}
