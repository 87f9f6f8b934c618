use std::time::Duration;

use thirtyfour::prelude::*;

use crate::ai_stub::{Stub, REPLY};
use crate::harness::{enabled, Home};
use crate::sim::{launch_on, login, open_conversation, start_sim, wait_log_has};

const ON: &str = "gina@im.wechat";
const OFF: &str = "hank@im.wechat";

/// With a stub provider: AI on for the account answers one peer, a peer switched off
/// gets nothing; a manual reply takes over (the AI stays quiet) until "Resume AI".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ai_answers_one_peer_not_the_other_and_a_manual_reply_takes_over() {
    if !enabled("ai_answers_one_peer_not_the_other_and_a_manual_reply_takes_over") {
        return;
    }
    let stub = Stub::start().await;
    let sim = start_sim().await;
    let home = Home::new();
    let app = launch_on(&sim, &home).await;
    let bot = login(&app, &sim, "Shop", ON).await;
    sim.add_peer(&bot.bot_id, OFF).unwrap();

    // The provider, through Settings.
    app.element("open-settings").await.click().await.unwrap();
    let preset = app.element("ai-preset").await;
    preset
        .find(By::Css("option[value='custom']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let base = app.element("ai-base-url").await;
    base.clear().await.unwrap();
    base.send_keys(&stub.base_url).await.unwrap();
    let model = app.element("ai-model").await;
    model.clear().await.unwrap();
    model.send_keys("stub-model" + Key::Tab).await.unwrap();
    app.element("ai-test").await.click().await.unwrap();
    let summary = app
        .find_css("[data-testid='ai-test-summary']", Duration::from_secs(20))
        .await;
    assert_eq!(
        summary
            .prop("textContent")
            .await
            .unwrap()
            .unwrap_or_default(),
        "The provider works: replies can be generated.",
        "test connection against the stub"
    );
    app.screenshot("ai-settings").await;
    app.element("close-settings").await.click().await.unwrap();

    // Both people write once so their conversations exist; then AI on for the account
    // and off for one peer.
    sim.inject_text(&bot.bot_id, OFF, "hi from hank").unwrap();
    sim.inject_text(&bot.bot_id, ON, "hi from gina").unwrap();
    app.element("account-ai-toggle")
        .await
        .click()
        .await
        .unwrap();
    open_conversation(&app, &bot, OFF).await;
    app.wait_text("peer-ai-state", "AI on").await;
    app.element("toggle-peer-ai").await.click().await.unwrap();
    app.wait_text("peer-ai-state", "AI off").await;

    let chats_before = stub.chats().len();
    sim.inject_text(&bot.bot_id, OFF, "hank asks something")
        .unwrap();
    sim.inject_text(&bot.bot_id, ON, "gina asks something")
        .unwrap();
    let replied_to = |peer: &str| {
        sim.sent_messages(&bot.bot_id)
            .unwrap()
            .iter()
            .filter(|m| m.to_user_id == peer && m.item["text_item"]["text"] == REPLY)
            .count()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while replied_to(ON) == 0 {
        if std::time::Instant::now() > deadline {
            let summary = app.text_of("peer-ai-state").await;
            panic!(
                "the AI never answered gina: peer state {summary:?}, chats {:?}, sent {:?}",
                stub.chats(),
                sim.sent_messages(&bot.bot_id).unwrap()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        stub.chats()
            .iter()
            .skip(chats_before)
            .all(|b| !b.contains("hank asks")),
        "the provider was asked about the peer with AI off"
    );
    assert_eq!(replied_to(OFF), 0, "the AI answered a peer it is off for");

    open_conversation(&app, &bot, ON).await;
    wait_log_has(&app, REPLY).await;
    app.find_css("[data-testid='ai-mark']", Duration::from_secs(10))
        .await;
    app.wait_text("peer-ai-state", "AI on").await;

    // A manual reply takes over: the next message gets no AI answer.
    let input = app.element("composer-input").await;
    input
        .send_keys("I'll handle this one" + Key::Enter)
        .await
        .unwrap();
    app.wait_text_contains(
        "peer-ai-state",
        "You took over until",
        Duration::from_secs(20),
    )
    .await;
    app.screenshot("ai-takeover").await;
    let answered = replied_to(ON);
    let chats = stub.chats().len();
    sim.inject_text(&bot.bot_id, ON, "thanks, and one more question")
        .unwrap();
    wait_log_has(&app, "thanks, and one more question").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(replied_to(ON), answered, "the AI replied during a takeover");
    assert_eq!(
        stub.chats().len(),
        chats,
        "the provider was called during a takeover"
    );

    app.element("resume-ai").await.click().await.unwrap();
    app.wait_text("peer-ai-state", "AI on").await;
    app.quit().await;
}

/// The OpenClaw preset starts at the dedicated agent; naming the gateway's main agent
/// shows the risk in words and the consent box, in Chinese and in English. Once
/// consented, the test's findings (no gateway listens here) and its warning are in the
/// window's language too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openclaw_main_agent_needs_consent_in_both_languages() {
    if !enabled("openclaw_main_agent_needs_consent_in_both_languages") {
        return;
    }
    for (lang, agent_line, warning, refused, shot, unreachable, tested_shot) in [
        (
            "zh_CN.UTF-8",
            "“weixin”",
            "全部工具",
            "服务商暂不可用",
            "ai-openclaw-main-agent-zh",
            "无法连接 http://127.0.0.1:",
            "ai-openclaw-main-agent-tested-zh",
        ),
        (
            "en_US.UTF-8",
            "“weixin”",
            "every tool",
            "does not work yet",
            "ai-openclaw-main-agent-en",
            "Cannot reach http://127.0.0.1:",
            "ai-openclaw-main-agent-tested-en",
        ),
    ] {
        let home = Home::new();
        let app = crate::harness::App::launch(&home, lang).await;
        app.element("open-settings").await.click().await.unwrap();
        app.wait_text_contains("ai-agent-name", agent_line, Duration::from_secs(20))
            .await;
        let model = app.element("ai-model").await;
        model.clear().await.unwrap();
        model
            .send_keys("openclaw/default" + Key::Tab)
            .await
            .unwrap();
        app.wait_text_contains("ai-main-agent-warning", warning, Duration::from_secs(20))
            .await;
        let consent = app.element("ai-allow-main-agent").await;
        assert!(!consent.is_selected().await.unwrap(), "consent starts off");
        app.element("ai-test").await.click().await.unwrap();
        let summary = app
            .find_css("[data-testid='ai-test-summary']", Duration::from_secs(20))
            .await;
        assert!(
            summary
                .prop("textContent")
                .await
                .unwrap()
                .unwrap_or_default()
                .contains(refused),
            "the test refuses the main agent, in the window's language"
        );
        // The refusal's reason is the warning above, in the window's language; the
        // engine's English sentence for it is not listed again under the summary.
        let page = app
            .find_css("body", Duration::from_secs(5))
            .await
            .prop("textContent")
            .await
            .unwrap()
            .unwrap_or_default();
        assert!(!page.contains("nothing was sent"), "{page}");
        app.screenshot(shot).await;

        app.element("ai-allow-main-agent")
            .await
            .click()
            .await
            .unwrap();
        app.element("ai-test").await.click().await.unwrap();
        app.wait_text_contains("ai-test-failed-check", unreachable, Duration::from_secs(30))
            .await;
        app.wait_text_contains("ai-test-warning", warning, Duration::from_secs(5))
            .await;
        // The models check and the one-token request met the same closed port: said once.
        assert_eq!(
            app.all_css("[data-testid='ai-test-failed-check']")
                .await
                .len(),
            1
        );
        app.driver
            .execute(
                r#"document.querySelector("[data-testid='ai-test-warning']").scrollIntoView({block: "center"});"#,
                vec![],
            )
            .await
            .unwrap();
        app.screenshot(tested_shot).await;
        app.quit().await;
    }
}
