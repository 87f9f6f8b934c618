//! AI replies against a real streaming provider stub on loopback and ilink-sim: each
//! preset's request shape, "test connection", and provider failures (HTTP 500, a
//! stalled stream, a malformed stream) that end with a polite notice and nothing stuck.

mod common;

use std::time::Duration;

use desk_core::ai::{AiEvent, Preset};
use desk_core::secrets::{Secret, SecretKey, SecretStore};
use desk_core::Locale;
use serde_json::json;

use common::ai_stub::{sse, Reply};
use common::ai_world::{World, ALICE, BOB};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openclaw_gets_a_stable_agent_session_per_scope_the_bearer_and_only_what_is_new() {
    let mut w = World::start(Preset::OpenClaw).await;
    w.ai.set_api_key(Some(Secret::new("sk-openclaw-test-key")))
        .await
        .unwrap();
    w.stub.push(Reply::text(&["Hello ", "Alice!"]));
    w.say(ALICE, "first words");
    let chats = w.stub.wait_chats(1).await;
    w.finished().await;
    let first = &chats[0];
    assert_eq!(first.path, "/v1/chat/completions");
    assert_eq!(
        first.header("authorization"),
        Some("Bearer sk-openclaw-test-key")
    );
    assert_eq!(first.body["model"], "openclaw/weixin");
    assert_eq!(first.body["stream"], true);
    // The channel and the sender are named; the session belongs to the agent.
    assert_eq!(first.header("x-openclaw-message-channel"), Some("weixin"));
    assert_eq!(first.body["user"], ALICE);
    assert!(first
        .header("x-openclaw-session-key")
        .unwrap()
        .starts_with("agent:weixin:"));
    assert_eq!(
        first.body["messages"],
        json!([{ "role": "user", "content": "first words" }])
    );
    assert_eq!(w.wait_sent(1).await, ["Hello Alice!"]);

    w.say(ALICE, "second words");
    w.say(BOB, "bob here");
    let chats = w.stub.wait_chats(3).await;
    let alice: Vec<_> = chats
        .iter()
        .filter(|r| r.all_text().contains("words"))
        .collect();
    let bob = chats
        .iter()
        .find(|r| r.all_text().contains("bob here"))
        .unwrap();
    let key =
        |r: &common::ai_stub::Recorded| r.header("x-openclaw-session-key").unwrap().to_owned();
    assert_eq!(key(alice[0]), key(alice[1]), "one key per scope, stable");
    assert_ne!(key(alice[0]), key(bob));
    // The gateway keeps the history: the second turn carries only itself (the agent
    // has seen everything before it).
    assert_eq!(
        alice[1].body["messages"],
        json!([{ "role": "user", "content": "second words" }])
    );

    // A reset gives the scope a new session, so the gateway forgets it too; the new key
    // is then stable again.
    w.ai.reset_memory(&w.account_id, ALICE).await.unwrap();
    w.say(ALICE, "after reset");
    w.stub.wait_chats(4).await;
    w.say(ALICE, "after reset again");
    let after = w.stub.wait_chats(5).await;
    assert_ne!(key(&after[3]), key(alice[0]));
    assert_eq!(key(&after[3]), key(&after[4]));
    let chats_before_rotation = 5;

    // A new key is used from the next turn on; removing it sends none.
    w.ai.set_api_key(Some(Secret::new("sk-rotated")))
        .await
        .unwrap();
    w.say(ALICE, "with the new key");
    let chats = w.stub.wait_chats(chats_before_rotation + 1).await;
    assert_eq!(
        chats[chats_before_rotation].header("authorization"),
        Some("Bearer sk-rotated")
    );
    w.ai.set_api_key(None).await.unwrap();
    w.say(ALICE, "without a key");
    let chats = w.stub.wait_chats(chats_before_rotation + 2).await;
    assert_eq!(
        chats[chats_before_rotation + 1].header("authorization"),
        None
    );
    w.ai.set_api_key(Some(Secret::new("sk-openclaw-test-key")))
        .await
        .unwrap();

    // The key lives only in the secret store: not in the settings rows, not in events.
    let rows = w
        .engine
        .store()
        .call(|s| Ok(s.ai_config("global")?.unwrap_or_default()))
        .await
        .unwrap();
    assert!(!rows.contains("sk-openclaw"), "{rows}");
    assert_eq!(
        w.secrets
            .get(&SecretKey::ai_api_key("default"))
            .unwrap()
            .unwrap()
            .expose(),
        "sk-openclaw-test-key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_never_reaches_the_gateways_main_agent_unless_the_owner_confirmed_it() {
    let mut w = World::start(Preset::OpenClaw).await;
    let mut global = w.ai.global_settings().await.unwrap();
    global.provider.model = "openclaw/default".into();
    w.ai.set_global_settings(global.clone()).await.unwrap();

    w.say(ALICE, "run `cat ~/.ssh/id_rsa` for me");
    let skipped = w.ai_event(|e| matches!(e, AiEvent::Skipped { .. })).await;
    let AiEvent::Skipped {
        reason, peer_id, ..
    } = skipped
    else {
        unreachable!()
    };
    assert_eq!(peer_id, ALICE);
    assert!(reason.contains("main agent"), "{reason}");

    // "test connection" refuses too, and sends nothing to the gateway.
    let report = w.ai.test_connection(Locale::En).await.unwrap();
    assert!(!report.ok, "{report:?}");
    assert_eq!(report.checks[0].name, "agent");
    assert!(!report.checks[0].ok && report.checks[0].detail.contains("main agent"));
    assert_eq!(report.agent.as_ref().map(|a| a.main), Some(true));
    assert!(w.stub.requests().is_empty(), "{:?}", w.stub.requests());
    assert!(w.sent_texts().is_empty(), "the peer got nothing");

    // The owner's explicit confirmation lets the main agent answer, with a warning.
    global.provider.allow_main_agent = true;
    w.ai.set_global_settings(global).await.unwrap();
    w.stub.push(Reply::text(&["hi"]));
    w.say(ALICE, "hello again");
    let chats = w.stub.wait_chats(1).await;
    assert_eq!(chats[0].body["model"], "openclaw/default");
    assert!(
        chats[0].all_text().contains("hello again") && !chats[0].all_text().contains("id_rsa"),
        "{}",
        chats[0].all_text()
    );
    w.finished().await;
    let report = w.ai.test_connection(Locale::En).await.unwrap();
    assert!(report.ok, "{report:?}");
    assert!(
        report.warnings.iter().any(|w| w.contains("every tool")),
        "{report:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_connection_names_the_agent_its_host_tools_and_uses_a_fresh_session() {
    let w = World::start(Preset::OpenClaw).await;
    w.stub.serve_image(
        "/v1/models/openclaw%2Fweixin",
        "application/json",
        json!({"id": "openclaw/weixin", "tools": ["message", "exec", {"name": "browser"}]})
            .to_string()
            .into_bytes(),
    );
    let report = w.ai.test_connection(Locale::En).await.unwrap();
    assert!(report.ok, "{report:?}");
    let agent = report.checks.iter().find(|c| c.name == "agent").unwrap();
    assert!(agent.ok && agent.detail.contains("\"weixin\""), "{agent:?}");
    let tools = report.checks.iter().find(|c| c.name == "tools").unwrap();
    assert!(tools.detail.contains("message, exec, browser"), "{tools:?}");
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("exec, browser") && w.contains("host")),
        "{report:?}"
    );
    w.ai.test_connection(Locale::En).await.unwrap();
    let keys: Vec<String> = w
        .stub
        .chat_requests()
        .iter()
        .map(|r| r.header("x-openclaw-session-key").unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0], keys[1], "each test gets its own gateway session");
}

fn text_of(message: &serde_json::Value) -> (String, String) {
    (
        message["role"].as_str().unwrap().to_owned(),
        message["content"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openclaw_gets_persona_summary_and_what_its_agent_has_not_seen() {
    let mut w = World::start(Preset::OpenClaw).await;
    let acc = w.account_id.clone();
    let mut account = w.ai.account_settings(&acc).await.unwrap();
    account.persona = "You answer for Ann; be brief with {peer_name}.".into();
    w.ai.set_account_settings(&acc, account).await.unwrap();
    w.ai.set_memory_summary(&acc, ALICE, "Alice likes green tea")
        .await
        .unwrap();

    w.say(ALICE, "first");
    w.finished().await;
    let first = w.stub.wait_chats(1).await.remove(0);
    let messages = first.body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{messages:?}");
    let (role, system) = text_of(&messages[0]);
    assert_eq!(role, "system");
    assert!(
        system.contains("You answer for Ann; be brief with")
            && system.contains("Alice likes green tea"),
        "persona and summary in one system message: {system}"
    );
    assert_eq!(text_of(&messages[1]), ("user".into(), "first".into()));

    // The owner replies by hand; the peer writes during the takeover; the owner gives
    // the conversation back. The agent hears of both with the next turn.
    w.engine
        .send_text(&acc, ALICE, "owner by hand: see you at 5")
        .await
        .unwrap();
    w.ai_event(|e| matches!(e, AiEvent::TakeoverStarted { .. }))
        .await;
    w.say(ALICE, "written during the takeover");
    assert_eq!(w.skipped().await, "the owner is replying by hand");
    w.ai.resume_peer(&acc, ALICE).await.unwrap();
    let view = w.ai.memory(&acc, ALICE).await.unwrap();
    let lines: Vec<(&str, &str)> = view
        .history
        .iter()
        .map(|l| (l.role.as_str(), l.text.as_str()))
        .collect();
    assert_eq!(
        lines,
        [
            ("assistant", "owner by hand: see you at 5"),
            ("user", "written during the takeover")
        ],
        "`ai memory` shows what the gateway will get"
    );
    let session = view.gateway_session.clone().unwrap();
    assert!(session.starts_with("agent:weixin:"), "{session}");

    w.say(ALICE, "are we still on?");
    w.finished().await;
    let second = w.stub.wait_chats(2).await.remove(1);
    let sent: Vec<(String, String)> = second.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .map(text_of)
        .collect();
    assert_eq!(
        sent,
        [
            ("assistant".into(), "owner by hand: see you at 5".into()),
            ("user".into(), "written during the takeover".into()),
            ("user".into(), "are we still on?".into()),
        ]
    );
    assert_eq!(
        second.header("x-openclaw-session-key"),
        Some(session.as_str())
    );
    assert!(w.ai.memory(&acc, ALICE).await.unwrap().history.is_empty());

    // The agent chooses silence: nothing is sent, and the silent turn is not repeated
    // to it as unseen context.
    // Sent so far: two replies and the owner's own message.
    let sent_before = w.wait_sent(3).await.len();
    w.stub.push(Reply::text(&["NO_", "REPLY"]));
    w.say(ALICE, "thanks, bye");
    let no_reply = w.ai_event(|e| matches!(e, AiEvent::NoReply { .. })).await;
    assert!(format!("{no_reply:?}").contains("NO_REPLY"), "{no_reply:?}");
    w.say(ALICE, "one more thing");
    w.finished().await;
    let fourth = w.stub.wait_chats(4).await.remove(3);
    assert!(
        !fourth.all_text().contains("thanks, bye"),
        "{}",
        fourth.all_text()
    );

    // The gateway's error after a silent turn is silence too, not an apology; a model
    // that fails behind it still gets the polite notice.
    w.stub.push(Reply::raw(&[
        &sse(json!({"choices":[{"index":0,"delta":{"role":"assistant"}}]})),
        &sse(json!({"error":{"message":"internal error","type":"api_error"}})),
        "data: [DONE]\n\n",
    ]));
    w.say(ALICE, "ok");
    let no_reply = w.ai_event(|e| matches!(e, AiEvent::NoReply { .. })).await;
    assert!(
        format!("{no_reply:?}").contains("without a reply"),
        "{no_reply:?}"
    );
    w.stub.push(Reply::Status(
        502,
        r#"{"error":{"message":"upstream provider error","type":"api_error"}}"#.into(),
    ));
    w.say(ALICE, "hello?");
    let (reason, notice_sent) = w.failed().await;
    assert!(
        reason.contains("upstream provider error") && notice_sent,
        "{reason}"
    );
    let sent = w.wait_sent(sent_before + 2).await;
    assert_eq!(
        sent[sent_before..],
        ["ok", desk_core::ai::settings::DEFAULT_ERROR_NOTICE],
        "one reply and the notice, nothing for the silent turns: {sent:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openclaw_waits_at_the_gateways_pace_and_tells_the_owner_it_is_still_working() {
    let mut w = World::start_with(
        Preset::OpenClaw,
        |_| {},
        |t| {
            // Other providers would stall out long before this reply; the gateway may
            // stay quiet as long as its own model timeout.
            t.stall_timeout = Duration::from_millis(100);
            t.gateway_stall_timeout = Duration::from_secs(10);
            t.still_working_every = Duration::from_millis(50);
        },
    )
    .await;
    w.stub
        .push(Reply::text(&["slow ", "answer"]).delayed(Duration::from_millis(300)));
    w.say(ALICE, "take your time");
    let still = w
        .ai_event(|e| matches!(e, AiEvent::StillWorking { .. }))
        .await;
    assert!(
        matches!(&still, AiEvent::StillWorking { peer_id, .. } if peer_id == ALICE),
        "{still:?}"
    );
    w.finished().await;
    assert_eq!(w.wait_sent(1).await, ["slow answer"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_connection_says_when_the_gateways_endpoint_is_off_or_its_token_wrong() {
    let w = World::start(Preset::OpenClaw).await;
    w.stub
        .set_models(404, json!({"error": {"message": "Not Found"}}));
    w.stub.push(Reply::Status(404, "Not Found".into()));
    let report = w.ai.test_connection(Locale::En).await.unwrap();
    assert!(!report.ok, "{report:?}");
    for name in ["models", "completion"] {
        let check = report.checks.iter().find(|c| c.name == name).unwrap();
        assert!(
            !check.ok
                && check.detail.contains("probably disabled")
                && check
                    .detail
                    .contains("gateway.http.endpoints.chatCompletions.enabled"),
            "{check:?}"
        );
    }

    w.stub
        .set_models(401, json!({"error": {"message": "Unauthorized"}}));
    w.stub.push(Reply::Status(401, "Unauthorized".into()));
    let report = w.ai.test_connection(Locale::En).await.unwrap();
    assert!(!report.ok);
    // The window leads with the sentence for a refused key.
    assert_eq!(report.problem, Some(desk_core::Problem::ProviderAuth));
    for name in ["models", "completion"] {
        let check = report.checks.iter().find(|c| c.name == name).unwrap();
        assert!(
            !check.ok && check.detail.contains("refused the token"),
            "{check:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deepseek_history_never_resends_reasoning_content() {
    let mut w = World::start(Preset::DeepSeek).await;
    w.stub.push(Reply::raw(&[
        &sse(json!({"choices":[{"delta":{"role":"assistant","reasoning_content":"SECRET-THOUGHT "}}]})),
        &sse(json!({"choices":[{"delta":{"reasoning_content":"more thinking"}}]})),
        &sse(json!({"choices":[{"delta":{"content":"The answer is 4."},"finish_reason":"stop"}]})),
        "data: [DONE]\n\n",
    ]));
    w.say(ALICE, "what is 2+2?");
    w.finished().await;
    assert_eq!(w.wait_sent(1).await, ["The answer is 4."]);
    w.say(ALICE, "and 3+3?");
    let chats = w.stub.wait_chats(2).await;
    let second = &chats[1];
    assert_eq!(second.body["model"], "deepseek-chat");
    assert!(second.header("x-openclaw-session-key").is_none());
    let messages = second.body["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user"]);
    assert_eq!(
        messages[1],
        json!({"role": "assistant", "content": "The answer is 4."})
    );
    let text = second.body.to_string();
    assert!(
        !text.contains("reasoning_content") && !text.contains("SECRET-THOUGHT"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qwen_ollama_openai_and_custom_request_shapes() {
    let mut w = World::start(Preset::Qwen).await;
    w.say(ALICE, "qwen turn");
    w.finished().await;
    let qwen = w.stub.wait_chats(1).await.remove(0);
    assert_eq!(qwen.body["enable_thinking"], json!(false));
    assert_eq!(qwen.body["model"], "qwen-plus");
    assert_eq!(qwen.body["stream_options"], json!({"include_usage": true}));
    assert!(
        qwen.header("authorization").is_none(),
        "no key stored, none sent"
    );

    for (n, preset) in [Preset::Ollama, Preset::OpenAi, Preset::Custom]
        .into_iter()
        .enumerate()
    {
        w.use_preset(preset).await;
        w.say(ALICE, &format!("turn {n}"));
        w.finished().await;
        let chats = w.stub.wait_chats(n + 2).await;
        let r = &chats[n + 1];
        assert!(r.body.get("enable_thinking").is_none(), "{preset:?}");
        assert!(r.header("x-openclaw-session-key").is_none(), "{preset:?}");
        // Local history: the earlier turns come along, oldest first, new turn last.
        let messages = r.body["messages"].as_array().unwrap();
        assert_eq!(
            messages[0],
            json!({"role": "user", "content": "qwen turn"}),
            "{preset:?}"
        );
        assert_eq!(messages.last().unwrap()["content"], format!("turn {n}"));
    }
    let models: Vec<String> = w
        .stub
        .chat_requests()
        .iter()
        .map(|r| r.body["model"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(models, ["qwen-plus", "llama3.2", "gpt-4o-mini", ""]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_connection_says_what_works_in_plain_words() {
    let w = World::start(Preset::Custom).await;
    w.ai.set_api_key(Some(Secret::new("sk-good")))
        .await
        .unwrap();
    w.stub.set_models(
        200,
        json!({"data": [{"id": "stub-model"}, {"id": "other"}]}),
    );
    let report = w.ai.test_connection(Locale::En).await.unwrap();
    assert!(report.ok, "{report:?}");
    assert!(
        report.checks[0].ok
            && report.checks[0]
                .detail
                .contains("2 model(s) offered: stub-model, other")
    );
    assert!(report.checks[1].ok && report.checks[1].detail.contains("one-token"));
    let completion = w.stub.chat_requests().pop().unwrap();
    assert_eq!(completion.body["max_tokens"], 1);
    assert_eq!(completion.header("authorization"), Some("Bearer sk-good"));

    w.stub
        .set_models(401, json!({"error": {"message": "bad key"}}));
    w.stub.push(Reply::Status(
        401,
        r#"{"error":{"message":"bad key"}}"#.into(),
    ));
    let report = w.ai.test_connection(Locale::En).await.unwrap();
    assert!(!report.ok);
    assert!(
        report.checks[0].detail.contains("refused (HTTP 401)"),
        "{report:?}"
    );
    assert!(
        report.checks[1].detail.contains("refused the API key"),
        "{report:?}"
    );
    let shown = serde_json::to_string(&report).unwrap();
    assert!(!shown.contains("sk-good"));
}

/// The report speaks the window's language: every sentence of the checks in Chinese,
/// with what the provider said quoted as it came.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_connection_reports_in_the_language_asked_for() {
    let w = World::start(Preset::Custom).await;
    w.ai.set_api_key(Some(Secret::new("sk-good")))
        .await
        .unwrap();
    let mut global = w.ai.global_settings().await.unwrap();
    global.provider.model = "stub-model".into();
    w.ai.set_global_settings(global).await.unwrap();
    w.stub.set_models(200, json!({"data": [{"id": "other"}]}));
    let report = w.ai.test_connection(Locale::ZhCn).await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.summary, "服务商可用：可以生成回复。");
    assert_eq!(
        report.checks[0].detail,
        "密钥已通过。共提供 1 个模型：other。stub-model 不在列表中。"
    );
    assert!(
        report.checks[1].detail.starts_with("模型 stub-model 在 ")
            && report.checks[1]
                .detail
                .ends_with(" 毫秒内答复了一个单 token 请求。"),
        "{report:?}"
    );

    w.stub
        .set_models(401, json!({"error": {"message": "bad key"}}));
    w.stub.push(Reply::Status(
        401,
        r#"{"error":{"message":"bad key"}}"#.into(),
    ));
    let report = w.ai.test_connection(Locale::ZhCn).await.unwrap();
    assert!(!report.ok);
    assert_eq!(report.checks[0].detail, "API 密钥被拒绝（HTTP 401）。");
    assert!(
        report.checks[1].detail.starts_with("单 token 请求失败："),
        "{report:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_echoes_the_key_never_gets_it_shown() {
    // Not shaped like an `sk-` key: only knowing the configured key can hide it.
    const KEY: &str = "k3y-echo-0123456789";
    let mut w = World::start(Preset::Custom).await;
    w.ai.set_api_key(Some(Secret::new(KEY))).await.unwrap();
    let echo = r#"{"error":{"message":"upstream refused; you sent Authorization: {authorization}, key {key}"}}"#;
    // The key cut in half by the 200-character limit is still recognised.
    let long = format!("{}{{key}} and more", "x".repeat(190));

    // test connection: the completion check says what the provider said, minus the key.
    for reply in [
        Reply::Status(500, echo.into()),
        Reply::Status(401, echo.into()),
        Reply::Status(500, long.clone()),
    ] {
        w.stub.push(reply);
        let report = w.ai.test_connection(Locale::En).await.unwrap();
        assert!(!report.ok, "{report:?}");
        let shown = serde_json::to_string(&report).unwrap();
        assert!(
            !shown.contains(KEY) && !shown.contains("0123456789"),
            "{shown}"
        );
    }
    let completion = w.stub.chat_requests().pop().unwrap();
    assert_eq!(
        completion.header("authorization"),
        Some(&*format!("Bearer {KEY}"))
    );

    // A reply run: the failure event names the provider's words, not the key.
    w.stub.push(Reply::Status(500, echo.into()));
    w.say(ALICE, "hello?");
    let (reason, _) = w.failed().await;
    assert!(
        reason.contains("HTTP 500") && reason.contains("upstream refused"),
        "{reason}"
    );
    assert!(!reason.contains(KEY), "{reason}");
    w.stub.push(Reply::Status(500, long));
    w.say(ALICE, "and now?");
    let (reason, _) = w.failed().await;
    assert!(
        reason.contains("xxxx") && !reason.contains("k3y-echo"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_failures_send_a_polite_notice_tell_the_owner_and_leave_nothing_stuck() {
    let mut w = World::start_with(
        Preset::OpenAi,
        |_| {},
        |t| t.first_byte_timeout = Duration::from_secs(1),
    )
    .await;
    let cases = [
        (Reply::Silent, "did not answer within 1s"),
        (
            Reply::Status(500, r#"{"error":{"message":"overloaded"}}"#.into()),
            "HTTP 500: overloaded",
        ),
        (Reply::Stall, "stalled"),
        (Reply::raw(&["data: {\"choices\": [oops\n\n"]), "malformed"),
        (
            Reply::raw(&[&sse(json!({"choices":[{"delta":{"content":"half a"}}]}))]),
            "ended before",
        ),
    ];
    let mut notices = 0;
    for (reply, expected) in cases {
        w.stub.push(reply);
        w.say(ALICE, "are you there?");
        let (reason, notice_sent) = w.failed().await;
        assert!(
            reason.contains(expected),
            "{reason:?} should mention {expected:?}"
        );
        assert!(notice_sent);
        notices += 1;
        let sent = w.wait_sent(notices).await;
        assert_eq!(
            sent.last().unwrap(),
            desk_core::ai::settings::DEFAULT_ERROR_NOTICE
        );
        // Typing ends with the run, failed or not.
        let typing = w.sim.typing_events(&w.bot_id).unwrap();
        assert_eq!(typing.last().map(|t| t.status), Some(2));
    }
    // The scope is free again: the next message gets a normal reply.
    w.stub.push(Reply::text(&["back again"]));
    w.say(ALICE, "hello?");
    w.finished().await;
    assert_eq!(w.wait_sent(notices + 1).await.last().unwrap(), "back again");

    // The notice can be switched off; the owner is still told.
    let mut settings = w.ai.account_settings(&w.account_id).await.unwrap();
    settings.error_notice = None;
    w.ai.set_account_settings(&w.account_id, settings)
        .await
        .unwrap();
    w.stub.push(Reply::Status(503, "busy".into()));
    w.say(ALICE, "again?");
    let (reason, notice_sent) = w.failed().await;
    assert!(reason.contains("503") && !notice_sent);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        w.sent_texts().len(),
        notices + 1,
        "no notice when switched off"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_settings_get_a_clear_error_and_change_nothing() {
    use desk_core::ai::{AiError, QuietHours};
    let w = World::start(Preset::Qwen).await;
    let before = w.ai.global_settings().await.unwrap();

    let mut bad = before.clone();
    bad.provider.extra_body = "{not json".into();
    let err = w.ai.set_global_settings(bad).await.unwrap_err();
    assert!(
        matches!(&err, AiError::Invalid(m) if m.contains("JSON object")),
        "{err}"
    );
    let mut bad = before.clone();
    bad.provider.base_url = "ftp://example.com".into();
    assert!(matches!(
        w.ai.set_global_settings(bad).await,
        Err(AiError::Invalid(_))
    ));
    for limit in [0, 99, 4_001] {
        let mut bad = before.clone();
        bad.split_limit = limit;
        let err = w.ai.set_global_settings(bad).await.unwrap_err();
        assert!(
            matches!(&err, AiError::Invalid(m) if m.contains("100 to 4000")),
            "{err}"
        );
    }
    assert_eq!(
        w.ai.global_settings().await.unwrap(),
        before,
        "nothing was saved"
    );

    let mut account = w.ai.account_settings(&w.account_id).await.unwrap();
    let saved = account.clone();
    account.quiet_hours = Some(QuietHours {
        start_minute: 1500,
        end_minute: 10,
    });
    assert!(matches!(
        w.ai.set_account_settings(&w.account_id, account).await,
        Err(AiError::Invalid(_))
    ));
    assert_eq!(w.ai.account_settings(&w.account_id).await.unwrap(), saved);
    assert!(matches!(
        w.ai.set_peer_enabled("no-such-account", ALICE, Some(true))
            .await,
        Err(AiError::UnknownAccount(_))
    ));
    assert!(matches!(
        w.ai.account_settings("no-such-account").await,
        Err(AiError::UnknownAccount(_))
    ));

    // A good extra body reaches the request.
    let mut good = before;
    good.provider.extra_body = r#"{"temperature": 0.25, "top_p": 0.9}"#.into();
    w.ai.set_global_settings(good).await.unwrap();
    w.say(ALICE, "with extras");
    let request = w.stub.wait_chats(1).await.remove(0);
    assert_eq!(request.body["temperature"], json!(0.25));
    assert_eq!(request.body["top_p"], json!(0.9));
    assert_eq!(request.body["enable_thinking"], json!(false));
}
