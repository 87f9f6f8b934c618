//! AI replies through the real `weixin-desk-cli` binary: ilink-sim on loopback for the
//! accounts, and a small OpenAI-compatible provider written here (raw HTTP/1.1 on
//! loopback, chat completions streamed as chunked SSE, the bearer key checked). Secrets
//! are kept in memory (`--secrets memory`), so the API key goes to each process on
//! stdin. Waits are generous; nothing asserts on timing.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use ilink_sim::BotInfo;
use serde_json::{json, Value};

const ALICE: &str = "alice@im.wechat";
const BOB: &str = "bob@im.wechat";
const API_KEY: &str = "sk-test-9f8e7d6c5b4a";
const MODEL: &str = "stub-model";
const REPLY: [&str; 3] = ["Hello ", "from the ", "stub provider."];

// ---- the provider ------------------------------------------------------------------

/// One request the provider received.
#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    authorization: Option<String>,
    body: Value,
}

/// An OpenAI-compatible provider on loopback: `GET /v1/models` and streaming
/// `POST /v1/chat/completions`, both refused with 401 unless the bearer key is
/// `API_KEY`. Under `/echo/` every request fails with HTTP 500 and an error that repeats
/// the request's `Authorization` header. Each connection is answered once and closed.
struct Provider {
    base_url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Provider {
    fn start() -> Provider {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let log = Arc::clone(&log);
                std::thread::spawn(move || {
                    let _ = answer(stream, &log);
                });
            }
        });
        Provider { base_url, requests }
    }

    fn chat_requests(&self) -> Vec<Recorded> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path.ends_with("/chat/completions"))
            .cloned()
            .collect()
    }
}

fn answer(stream: TcpStream, log: &Mutex<Vec<Recorded>>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(WAIT))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let (mut length, mut authorization) = (0usize, None);
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "authorization" => authorization = Some(value.trim().to_owned()),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    log.lock().unwrap().push(Recorded {
        method: method.clone(),
        path: path.clone(),
        authorization: authorization.clone(),
        body: body.clone(),
    });
    let mut out = stream;
    if path.starts_with("/echo/") {
        // A careless provider: its error repeats what it was sent, the key included.
        let sent = authorization.unwrap_or_default();
        let key = sent.trim_start_matches("Bearer ");
        let message = format!("bad upstream; you sent Authorization: {sent} (key {key})");
        return respond(
            &mut out,
            "500 Internal Server Error",
            "application/json",
            &json!({"error": {"message": message}}).to_string(),
        );
    }
    if authorization.as_deref() != Some(&format!("Bearer {API_KEY}")) {
        return respond(
            &mut out,
            "401 Unauthorized",
            "application/json",
            &json!({"error": {"message": "Incorrect API key provided"}}).to_string(),
        );
    }
    match (method.as_str(), path.as_str()) {
        ("GET", "/v1/models") => respond(
            &mut out,
            "200 OK",
            "application/json",
            &json!({"object": "list", "data": [{"id": MODEL}, {"id": "other"}]}).to_string(),
        ),
        ("POST", "/v1/chat/completions") => stream_reply(&mut out, &body),
        _ => respond(&mut out, "404 Not Found", "text/plain", "no such route"),
    }
}

fn respond(out: &mut TcpStream, status: &str, kind: &str, body: &str) -> std::io::Result<()> {
    write!(
        out,
        "HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )?;
    out.flush()
}

/// The reply as SSE, one HTTP chunk per delta with a pause between, so the client
/// really streams; a one-token test request gets "OK".
fn stream_reply(out: &mut TcpStream, body: &Value) -> std::io::Result<()> {
    write!(
        out,
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\
         connection: close\r\n\r\n"
    )?;
    let deltas: Vec<&str> = if body["max_tokens"] == 1 {
        vec!["OK"]
    } else {
        REPLY.to_vec()
    };
    let mut pieces: Vec<String> = deltas
        .iter()
        .map(|d| sse(json!({"choices": [{"index": 0, "delta": {"content": d}}]})))
        .collect();
    pieces.push(sse(
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
    ));
    pieces.push("data: [DONE]\n\n".to_owned());
    for piece in pieces {
        write!(out, "{:x}\r\n{piece}\r\n", piece.len())?;
        out.flush()?;
        std::thread::sleep(Duration::from_millis(20));
    }
    write!(out, "0\r\n\r\n")?;
    out.flush()
}

fn sse(chunk: Value) -> String {
    format!("data: {chunk}\n\n")
}

/// An address where nothing listens.
fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/v1")
}

// ---- the CLI and the emulator --------------------------------------------------------

impl Harness {
    /// A sim bot with two peers, added through the CLI; returns its account id.
    fn add_bot(&self) -> (BotInfo, String) {
        let bot = self.sim.create_bot();
        self.sim.add_peer(&bot.bot_id, ALICE).unwrap();
        self.sim.add_peer(&bot.bot_id, BOB).unwrap();
        let out = with_stdin(
            self.cli()
                .args(["add-account", "--bot-id", &bot.bot_id, "--token-stdin"]),
            &format!("{}\n", bot.token),
        );
        assert_ok(&out);
        let accounts: Value = serde_json::from_str(&self.ok(&["accounts", "--json"])).unwrap();
        let id = accounts[0]["account_id"].as_str().unwrap().to_owned();
        (bot, id)
    }

    /// Starts `weixin-desk-cli ARGS --token-stdin --ai-key-stdin` with the bot token
    /// and the API key on stdin; returns the guarded child and its stdout and stderr.
    fn spawn_ai_run(
        &self,
        bot: &BotInfo,
        args: &[&str],
    ) -> (Guard, Receiver<String>, Receiver<String>) {
        let args = [args, &["--token-stdin", "--ai-key-stdin"]].concat();
        spawn_run(self, &format!("{}\n{API_KEY}\n", bot.token), &args)
    }

    /// Points the AI settings at `provider` (a custom OpenAI-compatible base URL);
    /// returns what the command printed.
    fn use_provider(&self, provider: &Provider) -> String {
        self.ok(&[
            "ai",
            "provider",
            "--preset",
            "custom",
            "--base-url",
            &provider.base_url,
            "--model",
            MODEL,
        ])
    }
}

/// Every byte of every file under `dir` (the database, its WAL, media).
fn files_contain(dir: &Path, needle: &str) -> bool {
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    return true;
                }
            }
        }
    }
    false
}

fn sent_texts(h: &Harness, bot: &BotInfo, peer: &str) -> Vec<String> {
    h.sim
        .sent_messages(&bot.bot_id)
        .unwrap()
        .iter()
        .filter(|m| m.to_user_id == peer)
        .map(|m| m.item.to_string())
        .collect()
}

/// Waits (bounded) until the emulator got `n` messages for `peer` (a reply is queued
/// when the run ends and delivered just after).
fn wait_sent(h: &Harness, bot: &BotInfo, peer: &str, n: usize) -> Vec<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let sent = sent_texts(h, bot, peer);
        if sent.len() >= n {
            return sent;
        }
        assert!(Instant::now() < deadline, "{peer} got only {sent:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---- the tests -------------------------------------------------------------------------

#[test]
fn provider_settings_and_ai_test_report_in_plain_words() {
    let h = Harness::new();
    let provider = Provider::start();
    h.add_bot();

    // Bad input is refused with the reason, and nothing changes.
    let out = h
        .cli()
        .args([
            "ai",
            "provider",
            "--preset",
            "openai",
            "--base-url",
            "api.example.com/v1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("--base-url must be an http:// or https:// address"));
    let out = h
        .cli()
        .args(["ai", "provider", "--preset", "chatgpt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("openclaw, ollama, openai, deepseek, qwen, custom"));
    let out = h
        .cli()
        .args(["ai", "provider", "--preset", "custom"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no default model: name one with --model"));
    // Without a keyring the key cannot be kept: refused before anything is read or
    // written.
    let out = with_stdin(
        h.cli().args([
            "ai",
            "provider",
            "--preset",
            "custom",
            "--base-url",
            &provider.base_url,
            "--model",
            MODEL,
            "--key-stdin",
        ]),
        API_KEY,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("cannot be kept"), "{}", text(&out));
    let status: Value = serde_json::from_str(&h.ok(&["ai", "status", "--json"])).unwrap();
    assert_eq!(status["provider"]["preset"], "openclaw", "{status}");

    let out = h.use_provider(&provider);
    assert!(
        out.contains(&format!("custom at {}", provider.base_url)),
        "{out}"
    );
    let status: Value = serde_json::from_str(&h.ok(&["ai", "status", "--json"])).unwrap();
    assert_eq!(status["provider"]["preset"], "custom");
    assert_eq!(status["provider"]["base_url"], provider.base_url.as_str());
    assert_eq!(status["provider"]["model"], MODEL);
    assert_eq!(status["paused"], false);

    // The right key: both checks pass, exit 0.
    let out = with_stdin(h.cli().args(["ai", "test", "--key-stdin"]), API_KEY);
    assert_ok(&out);
    let said = stdout(&out);
    assert!(said.contains("The provider works"), "{said}");
    assert!(
        said.contains("ok     models: The key was accepted"),
        "{said}"
    );
    assert!(said.contains(&format!("{MODEL} is listed")), "{said}");
    assert!(said.contains("ok     completion"), "{said}");
    let seen = provider.requests.lock().unwrap().clone();
    assert!(seen
        .iter()
        .any(|r| r.method == "GET" && r.path == "/v1/models"));
    assert!(seen
        .iter()
        .all(|r| r.authorization.as_deref() == Some(&format!("Bearer {API_KEY}"))));

    // A wrong key: refused in plain words, exit 3.
    let out = with_stdin(h.cli().args(["ai", "test", "--key-stdin"]), "sk-wrong");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let said = stdout(&out);
    assert!(
        said.contains("FAILED models: The API key was refused (HTTP 401)."),
        "{said}"
    );
    assert!(said.contains("FAILED completion"), "{said}");
    assert!(said.contains("does not work yet"), "{said}");

    // Nobody listening: says it cannot reach the address, exit 3; --json says ok false.
    let closed = closed_port_url();
    h.ok(&["ai", "provider", "--base-url", &closed]);
    let out = with_stdin(
        h.cli().args(["ai", "test", "--key-stdin", "--json"]),
        API_KEY,
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["ok"], false);
    let models = report["checks"][0]["detail"].as_str().unwrap();
    assert!(
        models.starts_with(&format!("Cannot reach {closed}")),
        "{report}"
    );

    // The key never showed up in an answer or a file.
    assert!(!text(&out).contains(API_KEY));
    assert!(!files_contain(&h.data, API_KEY));
}

#[test]
fn ai_test_never_prints_the_key_a_provider_echoes() {
    let h = Harness::new();
    let provider = Provider::start();
    h.use_provider(&provider);
    let echo = provider.base_url.replace("/v1", "/echo/v1");
    h.ok(&["ai", "provider", "--base-url", &echo]);
    for json in [false, true] {
        let mut args = vec!["ai", "test", "--key-stdin"];
        if json {
            args.push("--json");
        }
        let out = with_stdin(h.cli().args(&args), API_KEY);
        assert_eq!(out.status.code(), Some(3), "{}", text(&out));
        let said = text(&out);
        // The provider's words are shown, its copy of the key is not.
        assert!(said.contains("HTTP 500"), "{said}");
        assert!(
            said.contains("bad upstream; you sent Authorization: "),
            "{said}"
        );
        assert!(!said.contains(API_KEY), "{said}");
        assert!(!said.contains("9f8e7d6c5b4a"), "{said}");
    }
    let seen = provider.requests.lock().unwrap().clone();
    assert!(seen
        .iter()
        .any(|r| r.authorization.as_deref() == Some(&format!("Bearer {API_KEY}"))));
    assert!(!files_contain(&h.data, API_KEY));
}

#[test]
fn the_openclaw_preset_targets_a_dedicated_agent_and_the_main_one_needs_explicit_consent() {
    let h = Harness::new();
    let help = h.ok(&["ai", "provider", "--help"]);
    assert!(help.contains("model openclaw/weixin"), "{help}");
    assert!(help.contains("id: \"weixin\""), "{help}");
    assert!(help.contains("\"exec\""), "{help}");
    assert!(help.contains("--allow-main-agent"), "{help}");

    let out = h.ok(&["ai", "provider", "--preset", "openclaw"]);
    assert!(out.contains("gateway agent: weixin"), "{out}");
    for main in [
        &["--model", "openclaw/default"][..],
        &["--model", "openclaw:main"][..],
        &["--agent", "main"][..],
    ] {
        let out = h
            .cli()
            .args(["ai", "provider", "--preset", "openclaw"])
            .args(main)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{main:?}: {}", text(&out));
        assert!(text(&out).contains("main agent"), "{}", text(&out));
        assert!(text(&out).contains("nothing was changed"), "{}", text(&out));
    }
    let status: Value = serde_json::from_str(&h.ok(&["ai", "status", "--json"])).unwrap();
    assert_eq!(status["provider"]["model"], "openclaw/weixin", "{status}");
    assert_eq!(status["provider"]["agent"]["main"], false, "{status}");

    // `ai test` refuses the main agent without consent and sends the gateway nothing.
    let provider = Provider::start();
    h.ok(&[
        "ai",
        "provider",
        "--base-url",
        &provider.base_url,
        "--agent",
        "main",
        "--allow-main-agent",
    ]);
    let status: Value = serde_json::from_str(&h.ok(&["ai", "status", "--json"])).unwrap();
    assert_eq!(status["provider"]["allow_main_agent"], true, "{status}");
    assert_eq!(status["provider"]["agent"]["id"], "main", "{status}");
    let out = h.cli().args(["ai", "test"]).output().unwrap();
    let said = stdout(&out);
    assert!(said.contains("WARNING"), "{said}");
    assert!(said.contains("every tool"), "{said}");
    // A setting saved by an earlier version (the main agent, no consent) is refused by
    // `ai test`, which sends the gateway nothing, and by further edits.
    h.ok(&[
        "ai",
        "provider",
        "--preset",
        "openclaw",
        "--base-url",
        &provider.base_url,
    ]);
    let store =
        desk_core::Store::open(&desk_core::DataDir::at(&h.data).unwrap().database()).unwrap();
    let mut doc: Value =
        serde_json::from_str(&store.ai_config("global").unwrap().unwrap()).unwrap();
    doc["provider"]["model"] = "openclaw/default".into();
    doc["provider"]
        .as_object_mut()
        .unwrap()
        .remove("allow_main_agent");
    store.set_ai_config("global", &doc.to_string()).unwrap();
    drop(store);
    let before = provider.requests.lock().unwrap().len();
    // An existing main-agent setting (edited without choosing a model) still refuses.
    let out = h
        .cli()
        .args(["ai", "provider", "--model", "gpt-4o"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = h.cli().args(["ai", "test"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(stdout(&out).contains("FAILED agent"), "{}", text(&out));
    assert_eq!(
        provider.requests.lock().unwrap().len(),
        before,
        "nothing reached the gateway"
    );
}

#[test]
fn run_replies_with_the_providers_text_and_a_peer_switch_silences_only_that_peer() {
    let h = Harness::new();
    let provider = Provider::start();
    let (bot, account) = h.add_bot();
    h.use_provider(&provider);
    // Unknown accounts are refused by name.
    let out = h
        .cli()
        .args(["ai", "enable", "--account", "nobody@im.bot"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("no account \"nobody@im.bot\""),
        "{}",
        text(&out)
    );
    h.ok(&["ai", "enable", "--account", &account]);
    h.ok(&[
        "ai",
        "persona",
        "--account",
        &account,
        "You are Support. Be brief.",
    ]);

    let (mut run, out_lines, err_lines) = h.spawn_ai_run(&bot, &["run", "--account", &account]);
    let mut seen = Vec::new();
    wait_line(&out_lines, &mut seen, |l| l.contains("status online"));

    h.sim
        .inject_text(&bot.bot_id, ALICE, "hi, are you there?")
        .unwrap();
    wait_line(&out_lines, &mut seen, |l| {
        l.contains(&format!("AI replied to {ALICE}: 1 message(s)"))
    });
    assert!(
        seen.iter()
            .any(|l| l.contains(&format!("AI reply to {ALICE} started (1 message(s))"))),
        "{seen:#?}"
    );
    // The emulator holds the AI's reply: the provider's streamed text, joined.
    let to_alice = wait_sent(&h, &bot, ALICE, 1);
    assert_eq!(to_alice.len(), 1, "{to_alice:?}");
    assert!(to_alice[0].contains(&REPLY.concat()), "{to_alice:?}");
    // The provider got the persona and the peer's words, with the key.
    let chats = provider.chat_requests();
    assert_eq!(chats.len(), 1);
    let messages = chats[0].body["messages"].to_string();
    assert!(
        messages.contains("You are Support. Be brief."),
        "{messages}"
    );
    assert!(messages.contains("hi, are you there?"), "{messages}");
    assert_eq!(chats[0].body["model"], MODEL);
    assert_eq!(chats[0].body["stream"], true);
    assert_eq!(
        chats[0].authorization.as_deref(),
        Some(format!("Bearer {API_KEY}").as_str())
    );

    // Switched off for Bob only, next to the running `run`.
    h.sim
        .inject_text(&bot.bot_id, BOB, "first from bob")
        .unwrap();
    wait_line(&out_lines, &mut seen, |l| {
        l.contains(&format!("AI replied to {BOB}"))
    });
    wait_sent(&h, &bot, BOB, 1);
    let out = h.ok(&["ai", "disable", "--account", &account, "--peer", BOB]);
    assert!(out.contains(&format!("AI replies off for {BOB}")), "{out}");
    h.sim.inject_text(&bot.bot_id, BOB, "bob again").unwrap();
    wait_line(&out_lines, &mut seen, |l| {
        l.contains(&format!(
            "AI skipped a message from {BOB}: AI replies are off for this peer"
        ))
    });
    h.sim
        .inject_text(&bot.bot_id, ALICE, "and alice again")
        .unwrap();
    wait_line(&out_lines, &mut seen, |l| {
        l.contains(&format!("AI replied to {ALICE}"))
    });
    assert_eq!(wait_sent(&h, &bot, ALICE, 2).len(), 2);
    assert_eq!(
        sent_texts(&h, &bot, BOB).len(),
        1,
        "only the reply before the switch"
    );
    let chats = provider.chat_requests();
    assert_eq!(chats.len(), 3, "no provider call for bob's second message");
    assert!(!chats
        .iter()
        .any(|c| c.body["messages"].to_string().contains("bob again")));

    let status: Value = serde_json::from_str(&h.ok(&["ai", "status", "--json"])).unwrap();
    let acc = &status["accounts"][0];
    assert_eq!(acc["enabled"], true, "{status}");
    let peers = acc["peers"].as_array().unwrap();
    assert_eq!(peers.len(), 1, "{status}");
    assert_eq!(peers[0]["peer_id"], BOB);
    assert_eq!(peers[0]["enabled"], false);
    assert_eq!(peers[0]["effective"], false);

    // Back to the account's switch: Bob gets replies again and has no setting of his own.
    h.ok(&["ai", "follow-account", "--account", &account, "--peer", BOB]);
    h.sim
        .inject_text(&bot.bot_id, BOB, "bob, third time")
        .unwrap();
    wait_line(&out_lines, &mut seen, |l| {
        l.contains(&format!("AI replied to {BOB}"))
    });
    assert_eq!(wait_sent(&h, &bot, BOB, 2).len(), 2);
    let status: Value = serde_json::from_str(&h.ok(&["ai", "status", "--json"])).unwrap();
    assert_eq!(status["accounts"][0]["peers"], json!([]), "{status}");

    run.stop(libc::SIGTERM);
    seen.extend(out_lines.try_iter());
    let errors: Vec<String> = err_lines.try_iter().collect();
    assert!(
        errors
            .iter()
            .any(|l| l.contains("AI replies: on for 1 of 1 account(s)")),
        "{errors:#?}"
    );
    let everything = format!("{}\n{}", seen.join("\n"), errors.join("\n"));
    assert!(!everything.contains(API_KEY), "{everything}");
    assert!(!everything.contains(&bot.token));
    assert!(!files_contain(&h.data, API_KEY));
}

#[test]
fn run_prints_ai_events_as_json_and_pause_holds_every_reply() {
    let h = Harness::new();
    let provider = Provider::start();
    let (bot, account) = h.add_bot();
    h.use_provider(&provider);
    h.ok(&["ai", "enable"]);
    h.ok(&["ai", "pause"]);
    let text_status = h.ok(&["ai", "status"]);
    assert!(
        text_status.contains("paused for every account"),
        "{text_status}"
    );
    assert!(
        text_status.contains(&format!("account {account}: AI on")),
        "{text_status}"
    );

    let (mut run, out_lines, _err_lines) =
        h.spawn_ai_run(&bot, &["run", "--json", "--account", &account]);
    let mut seen = Vec::new();
    wait_line(&out_lines, &mut seen, |l| l.contains("\"online\""));
    h.sim.inject_text(&bot.bot_id, ALICE, "anyone?").unwrap();
    wait_line(&out_lines, &mut seen, |l| l.contains("\"skipped\""));
    assert!(provider.chat_requests().is_empty());
    // Resumed next to the running `run`: the next message gets its reply.
    h.ok(&["ai", "resume"]);
    h.sim.inject_text(&bot.bot_id, ALICE, "now?").unwrap();
    wait_line(&out_lines, &mut seen, |l| l.contains("\"run_finished\""));
    wait_sent(&h, &bot, ALICE, 1);
    run.stop(libc::SIGTERM);

    let events: Vec<Value> = seen
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ai: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "ai")
        .map(|e| &e["event"])
        .collect();
    let skipped = ai.iter().find(|e| e["kind"] == "skipped").unwrap();
    assert_eq!(skipped["reason"], "AI replies are paused");
    assert_eq!(skipped["peer_id"], ALICE);
    let finished = ai.iter().find(|e| e["kind"] == "run_finished").unwrap();
    assert_eq!(finished["messages_sent"], 1);
    assert_eq!(finished["account_id"], account.as_str());
    assert!(ai.iter().any(|e| e["kind"] == "run_started"));
    assert_eq!(wait_sent(&h, &bot, ALICE, 1).len(), 1);
    assert!(!seen.concat().contains(API_KEY));
}

#[test]
fn persona_memory_and_takeover_commands_change_the_stored_settings() {
    let h = Harness::new();
    let (_bot, account) = h.add_bot();
    h.ok(&[
        "ai",
        "persona",
        "--account",
        &account,
        "--peer",
        ALICE,
        "Talk like a pirate.",
    ]);
    let status: Value = serde_json::from_str(&h.ok(&["ai", "status", "--json"])).unwrap();
    assert_eq!(
        status["accounts"][0]["enabled"], false,
        "off until `ai enable`"
    );
    let out = h.ok(&["ai", "memory", "--account", &account, "--peer", ALICE]);
    assert!(out.contains("summary: (none)"), "{out}");
    h.ok(&[
        "ai",
        "memory",
        "--account",
        &account,
        "--peer",
        ALICE,
        "--set-summary",
        "Alice likes boats.",
    ]);
    let out = h.ok(&["ai", "memory", "--account", &account, "--peer", ALICE]);
    assert!(out.contains("summary: Alice likes boats."), "{out}");
    h.ok(&[
        "ai",
        "memory",
        "--account",
        &account,
        "--peer",
        ALICE,
        "--reset",
    ]);
    let out = h.ok(&["ai", "resume-peer", "--account", &account, "--peer", ALICE]);
    assert!(out.contains("answers"), "{out}");
    let out = h
        .cli()
        .args(["ai", "persona", "--account", &account, "   "])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("the persona is empty"));
    h.ok(&[
        "ai",
        "persona",
        "--account",
        &account,
        "--peer",
        ALICE,
        "--clear",
    ]);
}

#[test]
fn a_manual_send_next_to_run_quiets_the_ai_for_that_peer_until_resume_peer() {
    let h = Harness::new();
    let provider = Provider::start();
    let (bot, account) = h.add_bot();
    h.use_provider(&provider);
    h.ok(&["ai", "enable", "--account", &account]);
    let (mut run, out_lines, _err_lines) = h.spawn_ai_run(&bot, &["run", "--account", &account]);
    let mut seen = Vec::new();
    wait_line(&out_lines, &mut seen, |l| l.contains("status online"));
    // The peer must have written for a send to have a reply window.
    h.sim.inject_text(&bot.bot_id, ALICE, "hello").unwrap();
    wait_line(&out_lines, &mut seen, |l| {
        l.contains(&format!("AI replied to {ALICE}"))
    });
    wait_sent(&h, &bot, ALICE, 1);

    let out = h.ok(&[
        "send",
        "--queue",
        "--account",
        &account,
        "--to",
        ALICE,
        "I will take it from here",
    ]);
    assert!(
        out.contains(&format!("the AI stays quiet for {ALICE} until")),
        "{out}"
    );
    wait_sent(&h, &bot, ALICE, 2);
    h.sim
        .inject_text(&bot.bot_id, ALICE, "are you a bot?")
        .unwrap();
    wait_line(&out_lines, &mut seen, |l| {
        l.contains(&format!(
            "AI skipped a message from {ALICE}: the owner is replying by hand"
        ))
    });
    let status: Value = serde_json::from_str(&h.ok(&["ai", "status", "--json"])).unwrap();
    let peer = &status["accounts"][0]["peers"][0];
    assert_eq!(peer["peer_id"], ALICE, "{status}");
    assert!(peer["takeover_until_ms"].as_i64().unwrap() > 0, "{status}");

    h.ok(&["ai", "resume-peer", "--account", &account, "--peer", ALICE]);
    h.sim
        .inject_text(&bot.bot_id, ALICE, "hello again")
        .unwrap();
    wait_line(&out_lines, &mut seen, |l| {
        l.contains(&format!("AI replied to {ALICE}"))
    });
    let sent = wait_sent(&h, &bot, ALICE, 3);
    assert!(sent[2].contains(&REPLY.concat()), "{sent:?}");
    assert_eq!(
        provider.chat_requests().len(),
        2,
        "none for the message during the takeover"
    );
    run.stop(libc::SIGTERM);
}

/// The real OS keyring: the key stored with `ai provider --key-stdin`, used by `ai test`
/// and `run` without being given again, and a new key stored next to a running `run`
/// used from then on. Runs only when `WEIXIN_DESK_KEYRING_TEST=1` (the e2e session:
/// `dbus-run-session -- bash tests/e2e/session.sh cargo test -p desk-cli --test ai`).
#[test]
fn with_a_keyring_the_stored_key_is_used_and_a_new_one_reaches_a_running_run() {
    if std::env::var("WEIXIN_DESK_KEYRING_TEST").as_deref() != Ok("1") {
        eprintln!("skipped: set WEIXIN_DESK_KEYRING_TEST=1 to test the real keyring");
        return;
    }
    let h = Harness::new();
    let provider = Provider::start();
    let keyring = |args: &[&str]| {
        let mut cmd = h.cli_with_secrets("keyring");
        cmd.args(args);
        cmd
    };
    let bot = h.sim.create_bot();
    h.sim.add_peer(&bot.bot_id, ALICE).unwrap();
    assert_ok(&with_stdin(
        &mut keyring(&["add-account", "--bot-id", &bot.bot_id, "--token-stdin"]),
        &bot.token,
    ));
    let accounts: Value = serde_json::from_str(&h.ok(&["accounts", "--json"])).unwrap();
    let account = accounts[0]["account_id"].as_str().unwrap().to_owned();
    let wrong_key = "sk-wrong-1234567890";
    let out = with_stdin(
        &mut keyring(&[
            "ai",
            "provider",
            "--preset",
            "custom",
            "--base-url",
            &provider.base_url,
            "--model",
            MODEL,
            "--key-stdin",
        ]),
        wrong_key,
    );
    assert!(stdout(assert_ok(&out)).contains("API key stored in the OS keyring"));
    let status = stdout(assert_ok(
        &keyring(&["ai", "status", "--json"]).output().unwrap(),
    ));
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["api_key_stored"], true, "{status}");
    let out = keyring(&["ai", "test"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        stdout(&out).contains("(API key: from the OS keyring)"),
        "{}",
        text(&out)
    );
    assert!(stdout(&out).contains("The API key was refused (HTTP 401)."));
    h.ok(&["ai", "enable", "--account", &account]);

    let mut run = Guard(Some(
        keyring(&["run", "--account", &account])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let out_lines = lines_of(run.child().stdout.take().unwrap());
    let _err_lines = lines_of(run.child().stderr.take().unwrap());
    let mut seen = Vec::new();
    wait_line(&out_lines, &mut seen, |l| l.contains("status online"));
    h.sim.inject_text(&bot.bot_id, ALICE, "first").unwrap();
    wait_line(&out_lines, &mut seen, |l| {
        l.contains("AI reply to") && l.contains("failed: the provider refused the API key")
    });

    // The right key, stored by another process: `run` reads it again after noticing
    // the change (its once-a-second look at the database), so within a few messages
    // the replies work.
    let out = with_stdin(&mut keyring(&["ai", "provider", "--key-stdin"]), API_KEY);
    assert_ok(&out);
    let mut replied = false;
    for attempt in 0..20 {
        h.sim
            .inject_text(&bot.bot_id, ALICE, &format!("again {attempt}"))
            .unwrap();
        wait_line(&out_lines, &mut seen, |l| {
            l.contains(&format!("AI replied to {ALICE}")) || l.contains("failed: the provider")
        });
        if seen.last().unwrap().contains("AI replied") {
            replied = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(replied, "{seen:#?}");
    // The earlier messages got the polite notice; the reply follows them.
    let deadline = Instant::now() + WAIT;
    while !sent_texts(&h, &bot, ALICE)
        .iter()
        .any(|m| m.contains(&REPLY.concat()))
    {
        assert!(
            Instant::now() < deadline,
            "the reply never reached the emulator"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    run.stop(libc::SIGTERM);
    assert_ok(&keyring(&["ai", "test"]).output().unwrap());

    let everything = seen.join("\n");
    for key in [API_KEY, wrong_key] {
        assert!(!everything.contains(key));
        assert!(!files_contain(&h.data, key), "{key} in the data directory");
    }
}
