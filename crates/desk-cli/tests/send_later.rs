//! Send later through the real binary against ilink-sim: `send --at` persists a
//! message with its time; `scheduled` lists, edits and cancels; a `run` SIGKILLed
//! before the time and started again sends each scheduled message exactly once, not
//! before its time, and never the cancelled one. Waits are for conditions.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::{assert_ok, spawn_piped, stdout, wait_line, with_stdin, Guard, Harness, WAIT};
use desk_core::Store;

const PEER: &str = "alice@im.wechat";

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `run` for the account with its token on stdin, once it says it is online.
fn start_run(h: &Harness, account: &str, token: &str) -> Guard {
    let (run, mut stdin, out, err) =
        spawn_piped(h.cli().args(["run", "--account", account, "--token-stdin"]));
    stdin.write_all(token.as_bytes()).unwrap();
    drop(stdin);
    let mut seen = Vec::new();
    wait_line(&out, &mut seen, |l| l.contains("status online"));
    // Drained from here on so the child never blocks on a full or closed pipe.
    std::thread::spawn(move || while out.recv().is_ok() {});
    std::thread::spawn(move || {
        while let Ok(line) = err.recv() {
            eprintln!("run: {line}");
        }
    });
    run
}

fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The outbox number `send --at` printed.
fn outbox_number(out: &str) -> String {
    out.split("outbox #")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no outbox number in {out:?}"))
        .to_owned()
}

#[test]
fn scheduled_messages_survive_a_sigkill_and_go_out_once_at_their_time() {
    let h = Harness::new();
    let bot = h.sim.create_bot();
    h.sim.add_peer(&bot.bot_id, PEER).unwrap();
    assert_ok(&with_stdin(
        h.cli()
            .args(["add-account", "--bot-id", &bot.bot_id, "--token-stdin"]),
        &bot.token,
    ));
    let account = ilink::account_id::normalize(&bot.bot_id);
    // The peer writes first, so the reply window is open.
    h.sim.inject_text(&bot.bot_id, PEER, "hello").unwrap();
    let mut run = start_run(&h, &account, &bot.token);
    let db = h.data.join("weixin-desk.sqlite3");
    eventually("the peer's message stored", || {
        Store::open(&db)
            .unwrap()
            .conversation(&account, PEER)
            .unwrap()
            .is_some()
    });

    let send_at = |text: &str, due: i64| {
        let out = h.ok(&[
            "send",
            "--account",
            &account,
            "--to",
            PEER,
            "--at",
            &rfc3339(due),
            text,
        ]);
        assert!(out.contains("scheduled as outbox #"), "{out}");
        outbox_number(&out)
    };
    let soon = now_ms() + 10_000;
    let hour = now_ms() + 3_600_000;
    send_at("at its time", soon);
    // A file too, at the same time (after the text: queued after it).
    let notes = h.tmp.path().join("notes.txt");
    std::fs::write(&notes, "agenda: tea, prices, delivery\n").unwrap();
    let out = h.ok(&[
        "send",
        "--account",
        &account,
        "--to",
        PEER,
        "--at",
        &rfc3339(soon),
        "--file",
        notes.to_str().unwrap(),
    ]);
    assert!(out.contains("scheduled as outbox #"), "{out}");
    let cancelled = send_at("cancel me", hour);
    let edited = send_at("first draft", hour);

    let listed = h.ok(&["scheduled"]);
    assert_eq!(listed.lines().count(), 4, "{listed}");
    assert!(listed.contains("[notes.txt]"), "{listed}");
    assert!(
        listed.contains("at its time") && listed.contains("cancel me"),
        "{listed}"
    );
    let json: serde_json::Value = serde_json::from_str(&h.ok(&["scheduled", "--json"])).unwrap();
    assert_eq!(json[0]["text"], "at its time");
    assert_eq!(json[0]["due_ms"], soon);

    assert!(h
        .ok(&["scheduled", "cancel", &cancelled])
        .contains("cancelled"));
    let edited_due = now_ms() + 11_000;
    h.ok(&[
        "scheduled",
        "edit",
        &edited,
        "--text",
        "edited words",
        "--at",
        &rfc3339(edited_due),
    ]);
    let refused = h
        .cli()
        .args(["scheduled", "edit", &cancelled, "--text", "again"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("no longer waits"),
        "{refused:?}"
    );

    // Killed before the time (had anything gone out early, the checks below catch it),
    // then started again.
    let pid = run.child().id() as libc::pid_t;
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    run.wait_exit();
    let mut run = start_run(&h, &account, &bot.token);
    eventually("the scheduled messages sent", || {
        h.sim.sent_messages(&bot.bot_id).unwrap().len() >= 3
    });
    eventually("nothing left scheduled", || {
        stdout(&h.cli().args(["scheduled"]).output().unwrap()).contains("nothing scheduled")
    });
    run.stop(libc::SIGTERM);

    let sent = h.sim.sent_messages(&bot.bot_id).unwrap();
    let texts: Vec<&str> = sent
        .iter()
        .filter_map(|m| m.item["text_item"]["text"].as_str())
        .collect();
    // Each once (a repeat of a cut-off request would carry the same client_id).
    assert_eq!(texts, ["at its time", "edited words"]);
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert_eq!(sent[1].item["file_item"]["file_name"], "notes.txt");
    for (message, due) in sent.iter().zip([soon, soon, edited_due]) {
        assert!(message.received_at_ms >= due as u64, "not before its time");
    }
    let log = h.ok(&["log", "--account", &account, PEER]);
    assert!(log.contains("[failed: cancelled]: cancel me"), "{log}");
    assert_eq!(log.matches("[delivered]").count(), 3, "{log}");
}

#[test]
fn the_send_interval_is_a_shared_setting_in_seconds() {
    let h = Harness::new();
    let shown = h.ok(&["settings"]);
    assert!(shown.contains("send-interval: 1 s (default)"), "{shown}");
    h.ok(&["settings", "set", "send-interval", "0.5"]);
    let json: serde_json::Value = serde_json::from_str(&h.ok(&["settings", "--json"])).unwrap();
    assert_eq!(json["send_interval_ms"], 500);
    let refused = h
        .cli()
        .args(["settings", "set", "send-interval", "61"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("at most 60 s"),
        "{refused:?}"
    );
    h.ok(&["settings", "set", "send-interval", "default"]);
    let json: serde_json::Value = serde_json::from_str(&h.ok(&["settings", "--json"])).unwrap();
    assert_eq!(json["send_interval_ms"], serde_json::Value::Null);
}
