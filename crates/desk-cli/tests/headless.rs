//! The real `weixin-desk-cli` binary against an in-process ilink-sim on loopback:
//! add-account (token on stdin), `run` in a child process, `send`, `log`, `search` and
//! `export`. Secrets are kept in memory (`--secrets memory`), so `run` and `send` get
//! the token again on stdin. Waits are generous; nothing asserts on timing. Every child
//! process is killed when its guard drops.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc::Receiver;

use common::*;
use ilink_sim::{BotInfo, Fault};

const PEER: &str = "alice@im.wechat";

impl Harness {
    /// A sim bot with a peer, added as an account through the CLI; returns its id.
    fn add_bot(&self) -> (BotInfo, String) {
        let bot = self.sim.create_bot();
        self.sim.add_peer(&bot.bot_id, PEER).unwrap();
        let out = with_stdin(
            self.cli().args([
                "add-account",
                "--bot-id",
                &bot.bot_id,
                "--token-stdin",
                "--alias",
                "Support",
            ]),
            &format!("{}\n", bot.token),
        );
        assert_ok(&out);
        let accounts: serde_json::Value = serde_json::from_slice(
            &assert_ok(&self.cli().args(["accounts", "--json"]).output().unwrap()).stdout,
        )
        .unwrap();
        let account = accounts
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["bot_id"] == bot.bot_id.as_str())
            .expect("the account is listed")
            .clone();
        assert_eq!(account["alias"], "Support");
        assert_eq!(account["enabled"], true);
        (bot, account["account_id"].as_str().unwrap().to_owned())
    }

    /// `send --account ACCOUNT --to PEER --token-stdin REST…` with the bot's token on
    /// stdin.
    fn send(&self, bot: &BotInfo, account: &str, rest: &[&str]) -> Output {
        let args = [
            &["send", "--account", account, "--to", PEER, "--token-stdin"],
            rest,
        ]
        .concat();
        with_stdin(self.cli().args(args), &bot.token)
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn run_receives_send_delivers_and_the_log_search_and_export_show_it() {
    let h = Harness::new();
    let (bot, account) = h.add_bot();
    let mut printed = String::new();

    // `run` in a child: the token comes on stdin, for that process only.
    let (mut run, stdout, stderr) = spawn_run(
        &h,
        &bot.token,
        &["run", "--account", &account, "--token-stdin"],
    );
    let mut seen = Vec::new();
    wait_line(&stdout, &mut seen, |l| {
        l.contains(&account) && l.contains("status online")
    });
    h.sim
        .inject_text(&bot.bot_id, PEER, "hello from alice 你好\u{1b}[31m")
        .unwrap();
    wait_line(&stdout, &mut seen, |l| {
        l.contains("message #") && l.contains("hello from alice 你好")
    });
    // Network text reaches the terminal escaped.
    assert!(seen.iter().all(|l| !l.contains('\u{1b}')), "{seen:?}");

    // A second engine on the same data directory is refused while `run` holds it.
    let busy = h.send(&bot, &account, &["not now"]);
    assert!(!busy.status.success());
    assert!(
        text(&busy).contains("is using this data directory"),
        "{}",
        text(&busy)
    );
    printed.push_str(&text(&busy));

    run.stop(libc::SIGTERM);
    seen.extend(stdout.try_iter());
    seen.extend(stderr.try_iter());
    assert!(
        seen.iter().any(|l| l.contains("status offline")),
        "{seen:?}"
    );
    printed.push_str(&seen.join("\n"));

    // The message is in the store.
    let log = assert_ok(
        &h.cli()
            .args(["log", "--account", &account, PEER])
            .output()
            .unwrap(),
    )
    .clone();
    let log_text = String::from_utf8_lossy(&log.stdout).into_owned();
    assert!(log_text.contains("hello from alice 你好"), "{log_text}");
    assert!(log_text.contains(&format!("<- {PEER}")), "{log_text}");
    printed.push_str(&text(&log));

    // The peer has written, so `send` delivers.
    let send = h.send(&bot, &account, &["--wait", "60", "reply from the bot"]);
    assert_ok(&send);
    let send_text = text(&send);
    assert!(send_text.contains("delivered"), "{send_text}");
    printed.push_str(&send_text);
    let sent = h.sim.sent_messages(&bot.bot_id).unwrap();
    assert!(
        sent.iter()
            .any(|m| m.to_user_id == PEER && m.item.to_string().contains("reply from the bot")),
        "{sent:?}"
    );

    // The log shows both, oldest first; search finds the reply.
    let log = h
        .cli()
        .args(["log", "--account", &account, PEER, "--limit", "10"])
        .output()
        .unwrap();
    let log_text = String::from_utf8_lossy(&assert_ok(&log).stdout).into_owned();
    let (inbound, outbound) = (
        log_text.find("hello from alice").unwrap(),
        log_text.find("reply from the bot").unwrap(),
    );
    assert!(inbound < outbound, "{log_text}");
    assert!(log_text.contains("-> [delivered]"), "{log_text}");
    let search = h.cli().args(["search", "REPLY", "bot"]).output().unwrap();
    let search_text = String::from_utf8_lossy(&assert_ok(&search).stdout).into_owned();
    assert!(search_text.contains("reply from the bot"), "{search_text}");
    assert!(!search_text.contains("hello from alice"), "{search_text}");
    printed.push_str(&search_text);

    // Export: valid JSON lines, oldest first, and no token anywhere.
    let file = h.tmp.path().join("export.jsonl");
    let export = h
        .cli()
        .args(["export", "--account", &account, "--out"])
        .arg(&file)
        .output()
        .unwrap();
    printed.push_str(&text(assert_ok(&export)));
    let exported = std::fs::read_to_string(&file).unwrap();
    let messages: Vec<serde_json::Value> = exported
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let texts: Vec<&str> = messages
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        ["hello from alice 你好\u{1b}[31m", "reply from the bot"]
    );
    assert_eq!(messages[0]["direction"], "in");
    assert_eq!(messages[1]["delivery"], "delivered");
    assert!(!exported.contains(&bot.token));
    // An existing file is not replaced without --force.
    let again = h
        .cli()
        .args(["export", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(text(&again).contains("--force"), "{}", text(&again));
    assert_ok(
        &h.cli()
            .args(["export", "--force", "--out"])
            .arg(&file)
            .output()
            .unwrap(),
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), exported);

    assert!(!printed.contains(&bot.token), "a token was printed");
    for path in files_under(&h.data) {
        let bytes = std::fs::read(&path).unwrap();
        assert!(!contains(&bytes, &bot.token), "the token is in {path:?}");
    }
    drop(h.rt);
}

#[test]
fn a_send_before_the_peer_wrote_waits_for_the_window() {
    let h = Harness::new();
    let (bot, account) = h.add_bot();
    let send = h.send(&bot, &account, &["--wait", "60", "too early"]);
    assert_ok(&send);
    assert!(
        text(&send).contains("waiting_for_window"),
        "{}",
        text(&send)
    );
    assert!(h.sim.sent_messages(&bot.bot_id).unwrap().is_empty());
}

#[test]
fn refusals_are_clear() {
    let h = Harness::new();
    let (bot, account) = h.add_bot();

    // A file over the cap or missing is refused before anything is queued.
    let out = h
        .cli()
        .args([
            "send",
            "--account",
            &account,
            "--to",
            PEER,
            "--file",
            "/nonexistent/photo.png",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("/nonexistent/photo.png"),
        "{}",
        text(&out)
    );

    // No token anywhere: the account cannot start.
    let out = h
        .cli()
        .args(["send", "--account", &account, "--to", PEER, "hi"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("no bot token"), "{}", text(&out));
    let out = h.cli().args(["run"]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("no account is running"),
        "{}",
        text(&out)
    );

    // The token never comes from the command line.
    let out = h
        .cli()
        .args([
            "add-account",
            "--bot-id",
            "x@im.bot",
            "--base-url",
            "http://127.0.0.1:1/",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("--token-stdin"), "{}", text(&out));

    // An account filed under another API base is not touched with --sim.
    let other = with_stdin(
        Command::new(env!("CARGO_BIN_EXE_weixin-desk-cli"))
            .arg("--data-dir")
            .arg(&h.data)
            .args([
                "--secrets",
                "memory",
                "add-account",
                "--bot-id",
                "real@im.bot",
            ])
            .args([
                "--token-stdin",
                "--base-url",
                "https://ilinkai.weixin.qq.com",
            ]),
        "real-token",
    );
    assert_ok(&other);
    let out = h.send(&bot, "real@im.bot", &["hi"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("not to the emulator"), "{}", text(&out));
    let accounts = h.cli().args(["accounts"]).output().unwrap();
    let listed = String::from_utf8_lossy(&assert_ok(&accounts).stdout).into_owned();
    assert!(
        listed.contains("real-im-bot") && listed.contains(&account),
        "{listed}"
    );
}

#[test]
fn auto_falls_back_to_memory_with_a_warning() {
    let h = Harness::new();
    let bot = h.sim.create_bot();
    let out = with_stdin(
        Command::new(env!("CARGO_BIN_EXE_weixin-desk-cli"))
            .arg("--data-dir")
            .arg(&h.data)
            .args(["--sim", &h.sim.base_url(), "add-account", "--bot-id"])
            .arg(&bot.bot_id)
            .arg("--token-stdin")
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus"),
        &bot.token,
    );
    assert_ok(&out);
    let all = text(&out);
    assert!(
        all.contains("warning: the OS keyring is not usable"),
        "{all}"
    );
    assert!(!all.contains(&bot.token));
}

#[test]
fn run_prints_json_events_and_stops_on_ctrl_c() {
    let h = Harness::new();
    let (bot, account) = h.add_bot();
    let (mut run, stdout, _stderr) = spawn_run(
        &h,
        &bot.token,
        &["run", "--json", "--account", &account, "--token-stdin"],
    );
    let mut seen = Vec::new();
    wait_line(&stdout, &mut seen, |l| l.contains("\"online\""));
    h.sim.inject_text(&bot.bot_id, PEER, "json please").unwrap();
    wait_line(&stdout, &mut seen, |l| l.contains("json please"));
    run.stop(libc::SIGINT);
    seen.extend(stdout.try_iter());
    let events: Vec<serde_json::Value> = seen
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(events.iter().all(|e| e["time_ms"].is_i64()), "{seen:?}");
    let received = events
        .iter()
        .find(|e| e["type"] == "message_received")
        .expect("a message_received event");
    assert_eq!(received["account_id"], account.as_str());
    assert_eq!(received["peer_id"], PEER);
    assert_eq!(received["preview"], "json please");
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "account_status_changed" && e["status"]["state"] == "stopped"),
        "{seen:?}"
    );
    assert!(!seen.concat().contains(&bot.token));

    // log --json and search --json print one message object per line.
    let out = h
        .cli()
        .args(["log", "--json", "--account", &account, PEER])
        .output()
        .unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&assert_ok(&out).stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["text"], "json please");
    let out = h
        .cli()
        .args(["search", "--json", "PLEASE"])
        .output()
        .unwrap();
    let hits = String::from_utf8_lossy(&assert_ok(&out).stdout).into_owned();
    assert_eq!(hits.lines().count(), 1, "{hits}");
    // Narrowed in the store: the account (by id), the peer, and a peer with no match.
    for (args, count) in [
        (&["--account", account.as_str()][..], 1),
        (&["--peer", PEER][..], 1),
        (
            &["--account", account.as_str(), "--peer", "nobody@im.wechat"][..],
            0,
        ),
    ] {
        let out = h
            .cli()
            .args(["search", "--json"])
            .args(args)
            .arg("please")
            .output()
            .unwrap();
        let hits = String::from_utf8_lossy(&assert_ok(&out).stdout).into_owned();
        assert_eq!(hits.lines().count(), count, "{args:?}: {hits}");
    }
    let out = h
        .cli()
        .args(["search", "--account", "no-such-account", "please"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "an unknown account is an error");
}

/// Runs `run` until an injected message from PEER is stored, then stops it (SIGTERM).
fn receive_with_run(h: &Harness, bot: &BotInfo, account: &str, message: &str) {
    let (mut run, stdout, _stderr) = spawn_run(
        h,
        &bot.token,
        &["run", "--account", account, "--token-stdin"],
    );
    let mut seen = Vec::new();
    wait_line(&stdout, &mut seen, |l| l.contains("status online"));
    h.sim.inject_text(&bot.bot_id, PEER, message).unwrap();
    wait_line(&stdout, &mut seen, |l| l.contains(message));
    run.stop(libc::SIGTERM);
}

#[test]
fn a_send_that_is_not_through_in_time_stays_queued_and_goes_out_next_time() {
    let h = Harness::new();
    let (bot, account) = h.add_bot();
    receive_with_run(&h, &bot, &account, "write to me");
    // The first attempt meets a server error; the retry comes after --wait ran out.
    h.sim
        .inject_fault("sendmessage", Fault::Status { status: 500 });
    let send = |text: &str, wait: &str| h.send(&bot, &account, &["--wait", wait, text]);
    let first = send("first", "1");
    assert_eq!(first.status.code(), Some(4), "{}", text(&first));
    assert!(
        text(&first).contains("not delivered yet"),
        "{}",
        text(&first)
    );

    // The next send's engine delivers the queued one first, then its own.
    let second = send("second", "60");
    assert_ok(&second);
    assert!(text(&second).contains("delivered"), "{}", text(&second));
    let sent: Vec<String> = h
        .sim
        .sent_messages(&bot.bot_id)
        .unwrap()
        .iter()
        .map(|m| m.item.to_string())
        .collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(
        sent[0].contains("first") && sent[1].contains("second"),
        "{sent:?}"
    );
}

/// A quote with no body (an unknown item type, no text, no id: what WeChat can send when
/// a user quotes the bot) shows in the log as the quoted message found by its time, or
/// as "quoted a message" with what is known.
#[test]
fn the_log_shows_quotes_with_no_body() {
    let h = Harness::new();
    let (bot, account) = h.add_bot();
    receive_with_run(&h, &bot, &account, "write to me");
    assert_ok(&h.send(&bot, &account, &["--wait", "60", "the plan for friday"]));
    let quoted = h.sim.sent_messages(&bot.bot_id).unwrap()[0].message_id;

    let (mut run, stdout, _stderr) = spawn_run(
        &h,
        &bot.token,
        &["run", "--account", &account, "--token-stdin"],
    );
    let mut seen = Vec::new();
    wait_line(&stdout, &mut seen, |l| l.contains("status online"));
    h.sim
        .inject_bodiless_quote(&bot.bot_id, PEER, "this one", quoted, false)
        .unwrap();
    h.sim
        .inject_items(
            &bot.bot_id,
            PEER,
            vec![serde_json::json!({
                "type": 1, "text_item": { "text": "that old one" },
                "ref_msg": { "message_item": { "type": 31, "create_time_ms": 1_000_000 } }
            })],
        )
        .unwrap();
    wait_line(&stdout, &mut seen, |l| l.contains("that old one"));
    run.stop(libc::SIGTERM);

    let log = h
        .cli()
        .args(["log", "--account", &account, PEER])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&assert_ok(&log).stdout).into_owned();
    let line = |needle: &str| {
        log.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in:\n{log}"))
            .to_owned()
    };
    assert!(
        line("this one").contains("(quoting \"the plan for friday\") this one"),
        "{log}"
    );
    assert!(
        line("that old one")
            .contains("(quoted a message: from 1970-01-01 00:16:40 UTC) that old one"),
        "{log}"
    );
}

#[test]
fn send_file_uploads_it_and_the_emulator_holds_the_same_bytes() {
    let h = Harness::new();
    let (bot, account) = h.add_bot();
    receive_with_run(&h, &bot, &account, "send me the report");
    let path = h.tmp.path().join("report 2026.csv");
    let bytes: Vec<u8> = (0..600_000u32)
        .flat_map(|i| format!("{i},{}\n", i % 97).into_bytes())
        .collect();
    std::fs::write(&path, &bytes).unwrap();
    let out = h.send(
        &bot,
        &account,
        &["--file", path.to_str().unwrap(), "the numbers"],
    );
    assert_ok(&out);
    let printed = text(&out);
    assert!(printed.contains("delivered"), "{printed}");
    assert!(printed.contains("uploading:"), "{printed}");
    let sent = h.sim.sent_messages(&bot.bot_id).unwrap();
    assert_eq!(sent.len(), 2, "caption then file");
    assert_eq!(sent[0].item["text_item"]["text"], "the numbers");
    let file = &sent[1].item["file_item"];
    assert_eq!(file["file_name"], "report 2026.csv");
    let param = file["media"]["encrypt_query_param"].as_str().unwrap();
    assert_eq!(h.sim.cdn_plaintext(param).unwrap(), bytes);
}

/// Starts `login` with stdin kept open for verify codes.
fn spawn_login(h: &Harness, args: &[&str]) -> (Guard, std::process::ChildStdin, Receiver<String>) {
    let (login, stdin, stdout, _stderr) = spawn_piped(h.cli().arg("login").args(args));
    (login, stdin, stdout)
}

/// The QR code drawn just before `seen`'s last line, and the URL it was drawn from.
fn last_qr(seen: &[String]) -> (usize, String) {
    let url_line = seen
        .iter()
        .rposition(|l| l.starts_with("QR code URL: "))
        .expect("a QR code URL");
    let drawn = seen[..url_line]
        .iter()
        .rev()
        .take_while(|l| l.chars().all(|c| matches!(c, ' ' | '█' | '▀' | '▄')))
        .filter(|l| !l.trim().is_empty())
        .count();
    let url = seen[url_line]["QR code URL: ".len()..].to_owned();
    (drawn, url)
}

#[test]
fn login_draws_the_qr_code_refreshes_it_and_takes_the_verify_code_from_stdin() {
    let h = Harness::new();
    let (mut login, mut stdin, stdout) = spawn_login(&h, &["--alias", "Desk"]);
    let mut seen = Vec::new();
    wait_line(&stdout, &mut seen, |l| l.starts_with("waiting: scan"));
    let first = h.sim.latest_qrcode().unwrap();
    let (drawn, url) = last_qr(&seen);
    assert!(drawn > 10, "a QR code is drawn:\n{}", seen.join("\n"));
    assert!(url.contains(&first), "{url} names {first}");

    // The code expires: a second one is drawn, counted against the limit of three.
    h.sim.expire_qr(&first).unwrap();
    wait_line(&stdout, &mut seen, |l| l == "the QR code expired");
    wait_line(&stdout, &mut seen, |l| l == "new QR code (2/3)");
    wait_line(&stdout, &mut seen, |l| l.starts_with("waiting: scan"));
    let second = h.sim.latest_qrcode().unwrap();
    assert_ne!(first, second);
    assert!(last_qr(&seen).1.contains(&second));

    h.sim.scan_qr(&second).unwrap();
    wait_line(&stdout, &mut seen, |l| l.starts_with("scanned"));
    h.sim.ask_verify_code(&second, "42").unwrap();
    wait_line(&stdout, &mut seen, |l| {
        l.contains("verify code: type it here")
    });
    stdin.write_all(b"41\n").unwrap();
    wait_line(&stdout, &mut seen, |l| l.contains("wrong verify code"));
    stdin.write_all(b" 42 \n").unwrap();
    wait_line(&stdout, &mut seen, |l| l.contains("scanned"));
    let bot = h.sim.confirm_qr(&second, None).unwrap().unwrap();
    let account = ilink::account_id::normalize(&bot.bot_id);
    wait_line(&stdout, &mut seen, |l| {
        l.starts_with(&format!("logged in: account {account}"))
    });
    assert!(login.wait_exit().success(), "{}", seen.join("\n"));
    assert!(
        !seen.iter().any(|l| l.contains(&bot.token)),
        "the token is never printed"
    );

    let out = assert_ok(&h.cli().args(["accounts", "--json"]).output().unwrap())
        .stdout
        .clone();
    let accounts: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let stored = accounts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account_id"] == account.as_str())
        .expect("the new account is listed")
        .clone();
    assert_eq!(stored["alias"], "Desk");
    assert_eq!(stored["bot_id"], bot.bot_id.as_str());
}

#[test]
fn login_that_runs_out_of_qr_codes_fails_with_the_reason() {
    let h = Harness::new();
    let (mut login, _stdin, stdout) = spawn_login(&h, &[]);
    let mut seen = Vec::new();
    for n in 0..3 {
        wait_line(&stdout, &mut seen, |l| l.starts_with("waiting: scan"));
        let qr = h.sim.latest_qrcode().unwrap();
        h.sim.expire_qr(&qr).unwrap();
        wait_line(&stdout, &mut seen, |l| l == "the QR code expired");
        if n < 2 {
            let next = format!("new QR code ({}/3)", n + 2);
            wait_line(&stdout, &mut seen, |l| l == next);
        }
    }
    wait_line(&stdout, &mut seen, |l| l.starts_with("failed: "));
    assert_eq!(login.wait_exit().code(), Some(3), "{}", seen.join("\n"));
}

#[test]
fn send_queue_next_to_a_running_run_is_picked_up_by_it() {
    let h = Harness::new();
    let (bot, account) = h.add_bot();
    let (mut run, stdout, _stderr) = spawn_run(
        &h,
        &bot.token,
        &["run", "--account", &account, "--token-stdin"],
    );
    let mut seen = Vec::new();
    wait_line(&stdout, &mut seen, |l| l.contains("status online"));
    h.sim.inject_text(&bot.bot_id, PEER, "hello").unwrap();
    wait_line(&stdout, &mut seen, |l| l.contains("hello"));
    // A plain send is refused next to `run`; --queue only writes the outbox.
    let out = h
        .cli()
        .args(["send", "--account", &account, "--to", PEER, "refused"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let out = h
        .cli()
        .args([
            "send",
            "--queue",
            "--account",
            &account,
            "--to",
            PEER,
            "from the queue",
        ])
        .output()
        .unwrap();
    assert!(text(assert_ok(&out)).contains("queued as outbox #"));
    wait_line(&stdout, &mut seen, |l| l.contains("delivered"));
    let sent: Vec<_> = h.sim.sent_messages(&bot.bot_id).unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].item["text_item"]["text"], "from the queue");
    run.stop(libc::SIGTERM);
}

/// Commands started together on a fresh data directory (a script adding accounts in
/// parallel) take turns creating and migrating the database: none fails.
#[test]
fn add_account_commands_started_together_on_a_fresh_directory_all_succeed() {
    let h = Harness::new();
    let bots: Vec<BotInfo> = (0..8).map(|_| h.sim.create_bot()).collect();
    let children: Vec<_> = bots
        .iter()
        .map(|bot| {
            let mut child = h
                .cli()
                .args(["add-account", "--bot-id", &bot.bot_id, "--token-stdin"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let _ = child.stdin.take().unwrap().write_all(bot.token.as_bytes());
            Guard(Some(child))
        })
        .collect();
    for child in children {
        assert_ok(&child.into_output());
    }
    let accounts: serde_json::Value = serde_json::from_slice(
        &assert_ok(&h.cli().args(["accounts", "--json"]).output().unwrap()).stdout,
    )
    .unwrap();
    assert_eq!(accounts.as_array().unwrap().len(), bots.len());
}

#[test]
fn settings_are_shared_through_the_store_checked_and_mutes_name_a_conversation() {
    let h = Harness::new();
    let (_bot, account) = h.add_bot();
    let shown = h.ok(&["settings"]);
    assert!(shown.contains("do-not-disturb: off"), "{shown}");
    assert!(shown.contains("muted: (none)"), "{shown}");
    h.ok(&["settings", "set", "do-not-disturb", "on"]);
    h.ok(&["settings", "set", "route-tag", " shard-7 "]);
    h.ok(&["settings", "mute", "--account", &account, PEER]);
    let doc: serde_json::Value = serde_json::from_str(&h.ok(&["settings", "--json"])).unwrap();
    assert_eq!(doc["do_not_disturb"], true, "{doc}");
    assert_eq!(doc["backend"]["route_tag"], "shard-7", "{doc}");
    assert_eq!(doc["muted"], serde_json::json!([[account, PEER]]), "{doc}");

    // The window reads the same document: it is the store's, not a file of its own.
    let store =
        desk_core::Store::open(&desk_core::DataDir::at(&h.data).unwrap().database()).unwrap();
    let prefs = store.prefs().unwrap();
    assert!(prefs.do_not_disturb && prefs.is_muted(&account, PEER));
    drop(store);

    for (args, why) in [
        (
            &["settings", "set", "api-base", "ilink.example.com"][..],
            "https://",
        ),
        (
            &["settings", "set", "notifications", "maybe"][..],
            "on or off",
        ),
        (
            &["settings", "mute", "--account", "nobody", PEER][..],
            "no account",
        ),
    ] {
        let out = h.cli().args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains(why), "{args:?}: {said}");
    }
    h.ok(&["settings", "unmute", "--account", &account, PEER]);
    h.ok(&["settings", "set", "route-tag", ""]);
    let doc: serde_json::Value = serde_json::from_str(&h.ok(&["settings", "--json"])).unwrap();
    assert_eq!(doc["muted"], serde_json::json!([]), "{doc}");
    assert_eq!(
        doc["backend"]["route_tag"],
        serde_json::Value::Null,
        "{doc}"
    );
    assert_eq!(
        doc["do_not_disturb"], true,
        "unrelated settings kept: {doc}"
    );
}

#[test]
fn mark_read_clears_every_unread_conversation_of_the_account() {
    let h = Harness::new();
    let (bot, account) = h.add_bot();
    receive_with_run(&h, &bot, &account, "are you open today?");
    let unread = || {
        let store =
            desk_core::Store::open(&desk_core::DataDir::at(&h.data).unwrap().database()).unwrap();
        store
            .list_conversations(&account)
            .unwrap()
            .iter()
            .map(|c| c.unread_count)
            .sum::<i64>()
    };
    assert_eq!(unread(), 1);
    let said = h.ok(&["mark-read", "--account", &account]);
    assert!(said.contains("marked 1 conversation(s)"), "{said}");
    assert_eq!(unread(), 0);
    let out = h
        .cli()
        .args(["mark-read", "--account", "no-such-account"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "an unknown account is an error");
}

#[test]
fn a_login_without_network_says_what_to_do_then_the_detail() {
    let h = Harness::new();
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())
    };
    for (lang, sentence) in [
        (
            "en_US.UTF-8",
            "failed: Can't reach WeChat's server. Check the internet connection, then try again.",
        ),
        (
            "zh_CN.UTF-8",
            "failed: 无法连接微信服务器。请检查网络连接，然后重试。",
        ),
    ] {
        let out = cli_command(&h.data, &closed, "memory")
            .arg("login")
            .env("LC_ALL", lang)
            .env("LANG", lang)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{out:?}");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        let at = lines
            .iter()
            .position(|l| *l == sentence)
            .unwrap_or_else(|| panic!("no {sentence:?} in:\n{text}"));
        let detail = lines.get(at + 1).copied().unwrap_or_default();
        assert!(
            detail.starts_with("  (could not get a QR code: tcp network error"),
            "{text}"
        );
    }
}

#[test]
fn run_says_how_many_events_its_printer_skipped_and_what_they_touched() {
    const BURST: usize = 300;
    let h = Harness::new();
    let (bot, account) = h.add_bot();
    // A channel of two events: a burst committed at once runs far ahead of the printer.
    let (mut run, mut stdin, stdout, _stderr) =
        spawn_piped(h.cli().env("WEIXIN_DESK_EVENT_CAPACITY", "2").args([
            "run",
            "--json",
            "--no-ai",
            "--account",
            &account,
            "--token-stdin",
        ]));
    stdin.write_all(bot.token.as_bytes()).unwrap();
    drop(stdin);
    let mut seen = Vec::new();
    wait_line(&stdout, &mut seen, |l| l.contains("\"online\""));
    let texts: Vec<String> = (0..BURST).map(|i| format!("burst {i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    h.sim
        .inject_texts_together(&bot.bot_id, PEER, &refs)
        .unwrap();
    let before = seen.len();
    // Every event after "online" is one of the burst's messages, printed or skipped.
    let accounted = |lines: &[String]| {
        lines
            .iter()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .map(|e| match e["type"].as_str() {
                Some("message_received") => 1,
                Some("skipped") => e["count"].as_u64().unwrap() as usize,
                _ => 0,
            })
            .sum::<usize>()
    };
    while accounted(&seen[before..]) < BURST {
        wait_line(&stdout, &mut seen, |_| true);
    }
    let burst: Vec<serde_json::Value> = seen[before..]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(accounted(&seen[before..]), BURST, "{seen:#?}");
    let skipped: Vec<&serde_json::Value> =
        burst.iter().filter(|e| e["type"] == "skipped").collect();
    assert!(!skipped.is_empty(), "the printer kept up: {seen:#?}");
    for line in &skipped {
        assert!(line["time_ms"].is_i64());
        assert_eq!(line["touched"]["accounts"], serde_json::json!([account]));
        assert_eq!(
            line["touched"]["conversations"],
            serde_json::json!([{"account_id": account, "peer_id": PEER}])
        );
    }
    // The messages printed are distinct and in the order they were stored.
    let printed: Vec<usize> = burst
        .iter()
        .filter(|e| e["type"] == "message_received")
        .map(|e| {
            e["preview"].as_str().unwrap()["burst ".len()..]
                .parse()
                .unwrap()
        })
        .collect();
    assert!(printed.windows(2).all(|w| w[0] < w[1]), "{printed:?}");

    // Afterwards the printer is in step again: the next message is printed as usual.
    h.sim
        .inject_text(&bot.bot_id, PEER, "after the burst")
        .unwrap();
    wait_line(&stdout, &mut seen, |l| l.contains("after the burst"));
    run.stop(libc::SIGTERM);
    // The store has every message once.
    let out = h
        .cli()
        .args([
            "log",
            "--json",
            "--limit",
            "1000",
            "--account",
            &account,
            PEER,
        ])
        .output()
        .unwrap();
    assert_eq!(stdout_lines(&out), BURST + 1);

    // The text form says it in words.
    let (mut run, mut stdin, stdout, _stderr) =
        spawn_piped(h.cli().env("WEIXIN_DESK_EVENT_CAPACITY", "2").args([
            "run",
            "--no-ai",
            "--account",
            &account,
            "--token-stdin",
        ]));
    stdin.write_all(bot.token.as_bytes()).unwrap();
    drop(stdin);
    let mut seen = Vec::new();
    wait_line(&stdout, &mut seen, |l| l.contains(" status online"));
    let says_it = |l: &str| {
        l.contains(" skipped ")
            && l.contains("events (this printer fell behind; the store has them): 1 account(s), 1 conversation(s) touched: ")
            && l.ends_with(&account)
    };
    // Whether a printer falls behind is a race it can win; bursts follow until it loses
    // one, and the line says so in words.
    for round in 0..10 {
        let refs: Vec<String> = (0..BURST).map(|i| format!("again {round} {i}")).collect();
        let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
        h.sim
            .inject_texts_together(&bot.bot_id, PEER, &refs)
            .unwrap();
        let last = format!("again {round} {}", BURST - 1);
        wait_line(&stdout, &mut seen, |l| says_it(l) || l.ends_with(&last));
        if seen.iter().any(|l| says_it(l)) {
            break;
        }
    }
    assert!(
        seen.iter().any(|l| says_it(l)),
        "no skipped line in words: {seen:#?}"
    );
    run.stop(libc::SIGTERM);
}

fn stdout_lines(out: &Output) -> usize {
    String::from_utf8_lossy(&assert_ok(out).stdout)
        .lines()
        .count()
}

/// glibc's per-thread heaps in process `pid`: read-write anonymous mappings that start
/// on a 64 MiB boundary (each such heap is aligned to its maximum size). The main heap
/// (`[heap]`) is not one of them.
fn thread_heaps(pid: u32) -> usize {
    const HEAP_ALIGN: u64 = 64 << 20;
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    maps.lines()
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let start = fields[0].split('-').next().unwrap();
            fields.len() == 5
                && fields[1] == "rw-p"
                && u64::from_str_radix(start, 16)
                    .unwrap()
                    .is_multiple_of(HEAP_ALIGN)
        })
        .count()
}

/// The engine's threads share two heaps (desk_core::allocator) instead of one each;
/// a user's own MALLOC_ARENA_MAX wins.
#[test]
fn run_keeps_two_allocator_heaps_unless_the_user_says_otherwise() {
    let h = Harness::new();
    let (bot, account) = h.add_bot();
    let heaps_after_work = |user_setting: Option<&str>| {
        let mut cmd = h.cli();
        cmd.args(["run", "--account", &account, "--token-stdin"]);
        if let Some(value) = user_setting {
            cmd.env("MALLOC_ARENA_MAX", value);
        }
        let (mut run, mut stdin, stdout, _stderr) = spawn_piped(&mut cmd);
        stdin.write_all(bot.token.as_bytes()).unwrap();
        drop(stdin);
        let mut seen = Vec::new();
        wait_line(&stdout, &mut seen, |l| l.contains("status online"));
        // Work for every kind of thread: pollers, the store's blocking pool, the printer.
        for n in 0..20 {
            h.sim
                .inject_text(&bot.bot_id, PEER, &format!("heap check {n}"))
                .unwrap();
        }
        wait_line(&stdout, &mut seen, |l| l.contains("heap check 19"));
        let heaps = thread_heaps(run.child().id());
        run.stop(libc::SIGTERM);
        heaps
    };
    let limited = heaps_after_work(None);
    assert!(limited <= 1, "{limited} thread heaps beside the main one");
    let users = heaps_after_work(Some("8"));
    assert!(
        users >= 2,
        "the user's MALLOC_ARENA_MAX=8 gave {users} thread heaps"
    );
}
