//! `peers`: the real binary names a peer and notes it, against ilink-sim on loopback;
//! the name then shows in `log`, `search` (which finds the peer by it) and `export`,
//! and never reaches the emulator. Secrets in memory, as in headless.rs.

mod common;

use common::*;

const PEER: &str = "o9cq80aa@im.wechat";
const OTHER: &str = "zz77bb@im.wechat";

#[test]
fn peers_are_listed_named_noted_and_the_name_shows_in_log_search_and_export() {
    let h = Harness::new();
    let bot = h.sim.create_bot();
    for peer in [PEER, OTHER] {
        h.sim.add_peer(&bot.bot_id, peer).unwrap();
    }
    assert_ok(&with_stdin(
        h.cli()
            .args(["add-account", "--bot-id", &bot.bot_id, "--token-stdin"]),
        &format!("{}\n", bot.token),
    ));
    let account = ilink::account_id::normalize(&bot.bot_id);

    // Nothing known yet: nobody can be named.
    assert!(h.ok(&["peers"]).contains("no peers yet"));
    let refused = h
        .cli()
        .args(["peers", "rename", PEER, "X"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("no account knows"),
        "{}",
        text(&refused)
    );

    // Both peers write; `run` stores it.
    let (mut run, out, _err) = spawn_run(
        &h,
        &bot.token,
        &["run", "--account", &account, "--token-stdin"],
    );
    let mut seen = Vec::new();
    wait_line(&out, &mut seen, |l| l.contains("status online"));
    h.sim
        .inject_text(&bot.bot_id, PEER, "Hi, I ordered the blue teapot")
        .unwrap();
    wait_line(&out, &mut seen, |l| l.contains("blue teapot"));
    h.sim
        .inject_text(&bot.bot_id, OTHER, "price list?")
        .unwrap();
    wait_line(&out, &mut seen, |l| l.contains("price list?"));
    run.stop(libc::SIGTERM);

    // Unnamed, the list offers the first message as a hint.
    let list = h.ok(&["peers", "--account", &account]);
    assert!(list.contains(PEER) && list.contains("(no name)"), "{list}");
    assert!(
        list.contains("first message: Hi, I ordered the blue teapot"),
        "{list}"
    );

    let renamed = h.ok(&["peers", "rename", PEER, "  Wang\n Teapot  "]);
    assert!(renamed.contains("is now called Wang Teapot"), "{renamed}");
    h.ok(&["peers", "note", PEER, "Wholesale; <b>invoices</b> monthly"]);
    let too_long = h
        .cli()
        .args(["peers", "rename", OTHER, &"x".repeat(65)])
        .output()
        .unwrap();
    assert!(!too_long.status.success());
    assert!(
        text(&too_long).contains("at most 64"),
        "{}",
        text(&too_long)
    );

    let listed: serde_json::Value = serde_json::from_str(&h.ok(&["peers", "--json"])).unwrap();
    let wang = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["peer_id"] == PEER)
        .unwrap();
    assert_eq!(wang["alias"], "Wang Teapot");
    assert_eq!(wang["display_name"], "Wang Teapot");
    assert_eq!(wang["note"], "Wholesale; <b>invoices</b> monthly");
    let list = h.ok(&["peers"]);
    assert!(list.contains("Wang Teapot"), "{list}");
    assert!(list.contains("note: Wholesale"), "{list}");

    // log: the name beside the id.
    let log = h.ok(&["log", "--account", &account, PEER]);
    assert!(
        log.contains(&format!("<- Wang Teapot ({PEER}): Hi, I ordered")),
        "{log}"
    );
    let log_json = h.ok(&["log", "--account", &account, PEER, "--json"]);
    let line: serde_json::Value = serde_json::from_str(log_json.lines().next().unwrap()).unwrap();
    assert_eq!(line["peer_name"], "Wang Teapot");

    // search: by the name (no message says it) and by the note; hits carry the name.
    let by_name = h.ok(&["search", "wang"]);
    assert!(
        by_name.contains(&format!("peer {account} Wang Teapot ({PEER})")),
        "{by_name}"
    );
    assert!(!by_name.contains(OTHER), "{by_name}");
    assert!(h.ok(&["search", "invoices"]).contains("Wang Teapot"));
    let by_text = h.ok(&["search", "teapot", "blue"]);
    assert!(
        by_text.contains(&format!("<- Wang Teapot ({PEER}): Hi, I ordered")),
        "{by_text}"
    );

    // export: every line of the conversation names its peer; the other has none.
    let file = h.tmp.path().join("export.jsonl");
    let export = h
        .cli()
        .args(["export", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert_ok(&export);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for line in &lines {
        let expected = if line["peer_id"] == PEER {
            serde_json::json!("Wang Teapot")
        } else {
            serde_json::Value::Null
        };
        assert_eq!(line["peer_name"], expected, "{line}");
    }

    // Clearing falls back to the id; the name never went to WeChat.
    assert!(h
        .ok(&["peers", "rename", PEER, ""])
        .contains("no name of yours"));
    assert!(h
        .ok(&["log", "--account", &account, PEER])
        .contains(&format!("<- {PEER}: Hi")));
    let sent = h.sim.sent_messages(&bot.bot_id).unwrap();
    assert!(sent.is_empty(), "{sent:?}");
    drop(h.rt);
}
