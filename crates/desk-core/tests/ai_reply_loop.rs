//! The AI reply loop end to end (ilink-sim + the loopback provider stub): toggles at
//! every level, human takeover on the injectable clock, scope isolation and memory,
//! coalescing, blocks and the message cap, typing order, slash commands, who gets
//! replies, inbound voice/quotes/images, and image links in replies.

mod common;

use std::sync::Arc;
use std::time::Duration;

use desk_core::ai::{AiEvent, MemoryScope, Preset, QuietHours};
use serde_json::json;
use tokio::sync::Notify;

use common::ai_stub::Reply;
use common::ai_world::{World, ALICE, BOB};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toggles_at_every_level_and_the_peer_overrides_the_account() {
    let mut w = World::start(Preset::OpenAi).await;
    let acc = w.account_id.clone();

    w.ai.set_account_enabled(&acc, false).await.unwrap();
    w.say(ALICE, "account off");
    assert_eq!(w.skipped().await, "AI replies are off for this peer");

    w.ai.set_peer_enabled(&acc, ALICE, Some(true))
        .await
        .unwrap();
    assert!(w.ai.peer_state(&acc, ALICE).await.unwrap().effective);
    w.say(ALICE, "peer on overrides");
    w.finished().await;

    w.ai.set_account_enabled(&acc, true).await.unwrap();
    w.ai.set_peer_enabled(&acc, BOB, Some(false)).await.unwrap();
    w.say(BOB, "peer off overrides");
    assert_eq!(w.skipped().await, "AI replies are off for this peer");

    w.ai.set_paused(true).await.unwrap();
    w.say(ALICE, "paused globally");
    assert_eq!(w.skipped().await, "AI replies are paused");
    assert!(!w.ai.peer_state(&acc, ALICE).await.unwrap().effective);

    w.ai.set_paused(false).await.unwrap();
    w.ai.set_peer_enabled(&acc, BOB, None).await.unwrap();
    w.say(BOB, "back to the account default");
    w.finished().await;

    let asked = w.stub.asked();
    assert_eq!(asked, ["peer on overrides", "back to the account default"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_reply_takes_over_for_thirty_minutes_and_can_be_resumed() {
    let mut w = World::start(Preset::OpenAi).await;
    let acc = w.account_id.clone();
    w.say(ALICE, "hi");
    w.finished().await;
    // The AI's own reply did not start a takeover.
    assert_eq!(
        w.ai.peer_state(&acc, ALICE)
            .await
            .unwrap()
            .takeover_until_ms,
        None
    );

    let before = w.clock.now_ms_for_test();
    w.engine
        .send_text(&acc, ALICE, "the owner answers by hand")
        .await
        .unwrap();
    let until = match w
        .ai_event(|e| matches!(e, AiEvent::TakeoverStarted { .. }))
        .await
    {
        AiEvent::TakeoverStarted { until_ms, .. } => until_ms,
        _ => unreachable!(),
    };
    let minutes = (until - before) as f64 / 60_000.0;
    assert!((29.9..30.1).contains(&minutes), "{minutes}");

    w.say(ALICE, "during takeover");
    assert_eq!(w.skipped().await, "the owner is replying by hand");
    w.clock.advance(Duration::from_secs(29 * 60));
    w.say(ALICE, "29 minutes later");
    assert_eq!(w.skipped().await, "the owner is replying by hand");
    w.clock.advance(Duration::from_secs(2 * 60));
    w.say(ALICE, "31 minutes later");
    w.finished().await;

    // Another manual reply, then the owner gives the peer back at once.
    w.engine.send_text(&acc, ALICE, "me again").await.unwrap();
    w.ai_event(|e| matches!(e, AiEvent::TakeoverStarted { .. }))
        .await;
    assert!(w
        .ai
        .peer_state(&acc, ALICE)
        .await
        .unwrap()
        .takeover_until_ms
        .is_some());
    w.ai.resume_peer(&acc, ALICE).await.unwrap();
    w.say(ALICE, "after resume");
    w.finished().await;

    let asked = w.stub.asked();
    assert_eq!(asked, ["hi", "31 minutes later", "after resume"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_never_see_each_others_words_and_memory_is_viewable_editable_and_resettable() {
    let mut w = World::start(Preset::OpenAi).await;
    let acc = w.account_id.clone();
    w.stub.push(Reply::text(&["noted alpha"]));
    w.say(ALICE, "my code word is ALPHA-SECRET");
    w.finished().await;
    w.say(BOB, "what is the code word?");
    w.finished().await;
    w.say(ALICE, "remind me");
    w.finished().await;
    let chats = w.stub.wait_chats(3).await;
    let bob = &chats[1];
    assert!(!bob.all_text().contains("ALPHA-SECRET") && !bob.all_text().contains("noted alpha"));
    assert!(
        chats[2].all_text().contains("ALPHA-SECRET"),
        "Alice's own history comes along"
    );

    let view = w.ai.memory(&acc, ALICE).await.unwrap();
    assert_eq!(view.history.len(), 4, "{view:?}");
    assert_eq!(view.history[0].text, "my code word is ALPHA-SECRET");
    w.ai.set_memory_summary(&acc, ALICE, "Alice likes green tea")
        .await
        .unwrap();
    w.say(ALICE, "what do I like?");
    w.finished().await;
    let with_summary = w.stub.wait_chats(4).await.remove(3);
    assert!(with_summary.all_text().contains("Alice likes green tea"));
    assert!(!w.stub.chat_requests()[1].all_text().contains("green tea"));

    w.ai.reset_memory(&acc, ALICE).await.unwrap();
    let view = w.ai.memory(&acc, ALICE).await.unwrap();
    assert!(
        view.history.is_empty() && view.summary.is_empty(),
        "{view:?}"
    );
    w.say(ALICE, "fresh start");
    w.finished().await;
    let fresh = w.stub.wait_chats(5).await.remove(4);
    assert_eq!(
        fresh.body["messages"],
        json!([{"role": "user", "content": "fresh start"}])
    );

    // The shared scope is one conversation for everyone (chosen explicitly).
    let mut settings = w.ai.account_settings(&acc).await.unwrap();
    settings.memory_scope = MemoryScope::Shared;
    w.ai.set_account_settings(&acc, settings).await.unwrap();
    w.say(BOB, "shared now");
    w.finished().await;
    let shared = w.stub.wait_chats(6).await.remove(5);
    assert!(shared.all_text().contains("fresh start"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_arriving_during_a_run_coalesce_into_the_next_turn() {
    let mut w = World::start(Preset::OpenAi).await;
    let gate = Arc::new(Notify::new());
    w.stub
        .push(Reply::text(&["first answer"]).gated(Arc::clone(&gate)));
    w.say(ALICE, "one");
    w.stub.wait_chats(1).await;
    w.say(ALICE, "two");
    w.say(ALICE, "three");
    // Both wait for the next turn (deterministic: no sleeping).
    w.ai_event(|e| matches!(e, AiEvent::Queued { waiting: 2, .. }))
        .await;
    assert_eq!(
        w.stub.chat_requests().len(),
        1,
        "one run per scope at a time"
    );
    gate.notify_one();
    w.finished().await;
    w.finished().await;
    let chats = w.stub.chat_requests();
    assert_eq!(chats.len(), 2, "two and three made one turn");
    assert_eq!(chats[1].last_user_text(), "two\nthree");
    // The answer to the first turn, stored after "two" arrived, is still history.
    assert_eq!(
        chats[1].body["messages"],
        json!([
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": "two\nthree"}
        ])
    );
    assert_eq!(w.wait_sent(2).await, ["first answer", "ok"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_replies_go_out_in_blocks_within_the_limit_and_at_most_ten_messages() {
    let mut w = World::start_with(Preset::OpenAi, |k| k.reply_quota = Some(10), |_| {}).await;
    let mut global = w.ai.global_settings().await.unwrap();
    global.split_limit = 300;
    w.ai.set_global_settings(global).await.unwrap();
    let sentence = format!("{}.\n", "word ".repeat(24)); // 121 characters
    let deltas: Vec<String> = (0..40).map(|_| sentence.clone()).collect();
    let deltas: Vec<&str> = deltas.iter().map(String::as_str).collect();
    w.stub.push(Reply::text(&deltas));
    w.say(ALICE, "tell me everything");
    let dropped = match w.finished().await {
        AiEvent::RunFinished {
            messages_sent,
            dropped_chars,
            ..
        } => {
            assert_eq!(messages_sent, 10);
            dropped_chars
        }
        _ => unreachable!(),
    };
    assert!(dropped > 0);
    let sent = w.wait_sent(10).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        w.sent_texts().len(),
        10,
        "the cap holds (and the sim's quota of 10 was enough)"
    );
    for block in &sent[..9] {
        let n = block.chars().count();
        assert!((200..=300).contains(&n), "block of {n}");
    }
    assert!(sent[9].ends_with(desk_core::ai::blocks::CUT_MARKER));
    assert!(sent[9].chars().count() <= 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_stream_sends_what_it_has_and_typing_starts_keeps_alive_and_cancels() {
    let mut w = World::start_with(
        Preset::OpenAi,
        |_| {},
        |t| t.stall_timeout = Duration::from_secs(5),
    )
    .await;
    // Pieces 700 ms apart: well over the 400 ms idle gap, and many keepalives.
    w.stub
        .push(Reply::text(&["Short one.", " Short two."]).delayed(Duration::from_millis(700)));
    w.say(ALICE, "hi");
    w.finished().await;
    let sent = w.wait_sent(2).await;
    assert_eq!(sent, ["Short one.", "Short two."]);
    let typing = w.sim.typing_events(&w.bot_id).unwrap();
    let statuses: Vec<u8> = typing.iter().map(|t| t.status).collect();
    assert!(statuses.len() >= 4, "{statuses:?}");
    assert!(
        statuses[..statuses.len() - 1].iter().all(|s| *s == 1),
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&2), "cancelled once, at the end");
    assert!(typing.iter().all(|t| t.user_id == ALICE));
    // Nothing more after the run.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(w.sim.typing_events(&w.bot_id).unwrap().len(), typing.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_slash_commands_and_others_commands_are_text() {
    let mut w = World::start(Preset::OpenAi).await;
    let acc = w.account_id.clone();
    let owner = w.owner.clone();

    w.say(&owner, "/echo hello there");
    let sent = w.wait_sent(2).await;
    assert_eq!(sent[0], "hello there");
    assert!(
        sent[1].starts_with("⏱") && sent[1].contains("平台→插件") && sent[1].contains("插件处理"),
        "{}",
        sent[1]
    );

    w.say(&owner, "/toggle-debug");
    assert_eq!(w.wait_sent(3).await[2], "调试模式已开启");
    assert!(w.ai.account_settings(&acc).await.unwrap().debug);
    w.say(&owner, "/TOGGLE-DEBUG");
    assert_eq!(w.wait_sent(4).await[3], "调试模式已关闭");

    w.say(&owner, "/ai off");
    // The UI hears of the change: the command's SettingsChanged comes just before it
    // is reported handled.
    let mut previous = None;
    loop {
        let event = w.ai_event(|_| true).await;
        if matches!(&event, AiEvent::CommandHandled { command, .. } if command == "/ai") {
            break;
        }
        previous = Some(event);
    }
    assert_eq!(
        previous,
        Some(AiEvent::SettingsChanged {
            account_id: Some(acc.clone()),
            peer_id: None
        })
    );
    assert_eq!(w.wait_sent(5).await[4], "AI 回复已关闭");
    assert!(!w.ai.account_settings(&acc).await.unwrap().enabled);
    w.say(&owner, "a normal question");
    w.skipped().await;
    w.say(&owner, "/ai on");
    assert_eq!(w.wait_sent(6).await[5], "AI 回复已开启");

    w.say(&owner, "remember PURPLE");
    w.finished().await;
    w.say(&owner, "/reset");
    assert_eq!(w.wait_sent(8).await[7], "已清除本会话的记忆");
    w.say(&owner, "what colour?");
    w.finished().await;
    let last = w.stub.chat_requests().pop().unwrap();
    assert!(
        !last.all_text().contains("PURPLE"),
        "reset cleared this scope"
    );
    assert_eq!(
        w.stub.chat_requests().len(),
        2,
        "commands never reach the model"
    );

    // Someone else's command is ordinary text for the AI.
    w.say(ALICE, "/echo not yours");
    w.finished().await;
    assert_eq!(
        w.stub.chat_requests().pop().unwrap().last_user_text(),
        "/echo not yours"
    );
    assert!(!w.sent_to(ALICE).iter().any(|t| t == "not yours"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_and_block_lists_quiet_hours_and_the_rate_limit() {
    let mut w = World::start(Preset::OpenAi).await;
    let acc = w.account_id.clone();
    let mut s = w.ai.account_settings(&acc).await.unwrap();
    s.block = vec![BOB.to_uppercase()];
    w.ai.set_account_settings(&acc, s.clone()).await.unwrap();
    w.say(BOB, "blocked?");
    assert_eq!(w.skipped().await, "the peer is on the block list");

    s.block.clear();
    s.allow = vec![ALICE.into()];
    w.ai.set_account_settings(&acc, s.clone()).await.unwrap();
    w.say(BOB, "allowed?");
    assert_eq!(w.skipped().await, "the peer is not on the allow list");

    s.allow.clear();
    // Quiet from now until 2 minutes later (local time, as the owner sees it).
    let now = chrono::Local::now();
    let minute = (chrono::Timelike::hour(&now) * 60 + chrono::Timelike::minute(&now)) as u16;
    s.quiet_hours = Some(QuietHours {
        start_minute: minute,
        end_minute: (minute + 2) % 1440,
    });
    w.ai.set_account_settings(&acc, s.clone()).await.unwrap();
    w.say(ALICE, "late at night");
    assert_eq!(w.skipped().await, "quiet hours");

    s.quiet_hours = None;
    s.runs_per_peer_per_hour = 2;
    w.ai.set_account_settings(&acc, s).await.unwrap();
    for text in ["one", "two"] {
        w.say(ALICE, text);
        w.finished().await;
    }
    w.say(ALICE, "three");
    assert_eq!(w.skipped().await, "the peer reached the hourly limit");
    w.clock.advance(Duration::from_secs(3601));
    w.say(ALICE, "an hour later");
    w.finished().await;
    let asked = w.stub.asked();
    assert_eq!(asked, ["one", "two", "an hour later"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_uses_its_transcript_quotes_are_context_and_images_are_placeholders() {
    let mut w = World::start(Preset::OpenAi).await;
    w.sim
        .inject_items(
            &w.bot_id,
            ALICE,
            vec![json!({"type": 3, "voice_item": {"text": "spoken words here", "playtime": 1000}})],
        )
        .unwrap();
    w.finished().await;
    w.sim
        .inject_items(
            &w.bot_id,
            ALICE,
            vec![json!({"type": 1, "text_item": {"text": "and this?"},
                "ref_msg": {"title": "", "message_item": {"type": 1, "text_item": {"text": "the quoted line"}}}})],
        )
        .unwrap();
    w.finished().await;
    w.sim
        .inject_items(&w.bot_id, ALICE, vec![json!({"type": 2, "image_item": {}})])
        .unwrap();
    w.finished().await;
    let asked = w.stub.asked();
    assert_eq!(asked[0], "spoken words here");
    assert!(
        asked[1].contains("the quoted line") && asked[1].ends_with("and this?"),
        "{}",
        asked[1]
    );
    assert_eq!(
        asked[2], "[图片]",
        "no vision: a placeholder, no image part"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_links_in_a_reply_are_removed_from_the_text_and_fetched_within_the_cap() {
    let mut w = World::start_with(Preset::OpenAi, |_| {}, |t| t.image_max_bytes = 4_000).await;
    let png: Vec<u8> = [
        &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a][..],
        &[7u8; 1000][..],
    ]
    .concat();
    w.stub.serve_image("/img/cat.png", "image/png", png.clone());
    w.stub
        .serve_image("/img/huge.png", "image/png", vec![0x89; 10_000]);
    let base = format!("http://{}", w.stub.addr);
    let reply =
        format!("Here is a cat: ![cat]({base}/img/cat.png) and ![big]({base}/img/huge.png) enjoy");
    w.stub.push(Reply::text(&[&reply]));
    w.say(ALICE, "show me a cat");
    w.finished().await;
    let sent = tokio::time::timeout(common::WAIT, async {
        loop {
            let sent = w.sim.sent_messages(&w.bot_id).unwrap();
            if sent.len() >= 2 {
                return sent;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the text and the image reach the emulator");
    assert_eq!(
        sent[0].item["text_item"]["text"],
        "Here is a cat:  and  enjoy"
    );
    assert_eq!(
        sent[1].item["type"], 2,
        "sent as an image: {:?}",
        sent[1].item
    );
    assert_eq!(sent[1].to_user_id, ALICE);
    let param = sent[1].item["image_item"]["media"]["encrypt_query_param"]
        .as_str()
        .unwrap();
    assert_eq!(w.sim.cdn_plaintext(param).unwrap(), png);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        w.sim.sent_messages(&w.bot_id).unwrap().len(),
        2,
        "the oversized image is refused"
    );
    let account = w.account_id.clone();
    let logged = w
        .engine
        .store()
        .call(move |s| s.conversation_page(&account, ALICE, None, 10))
        .await
        .unwrap();
    let image_row = logged
        .messages
        .iter()
        .find(|m| m.direction == "out" && m.item_kind == "image")
        .expect("the image is in the log");
    assert!(image_row.ai_generated, "marked as the AI's");
    assert!(
        !w.data
            .path()
            .join("tmp")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some()),
        "the scratch copy is gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_peer_scope_follows_a_peer_across_accounts_and_the_default_does_not() {
    let mut w = World::start(Preset::OpenAi).await;
    let (bot2, acc2) = w.add_account().await;
    let acc1 = w.account_id.clone();
    w.say(ALICE, "my name is KIWI");
    w.finished().await;
    w.sim.inject_text(&bot2, ALICE, "who am I?").unwrap();
    w.finished().await;
    let chats = w.stub.wait_chats(2).await;
    assert!(
        !chats[1].all_text().contains("KIWI"),
        "per account and peer by default"
    );

    for acc in [&acc1, &acc2] {
        let mut s = w.ai.account_settings(acc).await.unwrap();
        s.memory_scope = MemoryScope::PerPeer;
        w.ai.set_account_settings(acc, s).await.unwrap();
    }
    w.sim.inject_text(&bot2, ALICE, "and now?").unwrap();
    w.finished().await;
    w.sim.inject_text(&bot2, BOB, "bob asks").unwrap();
    w.finished().await;
    let chats = w.stub.wait_chats(4).await;
    assert!(
        chats[2].all_text().contains("KIWI"),
        "the same peer, another account"
    );
    assert!(!chats[3].all_text().contains("KIWI"), "another peer never");
    // The replies went out from the account that was asked.
    let sent2 = tokio::time::timeout(common::WAIT, async {
        loop {
            let sent = w.sim.sent_messages(&bot2).unwrap();
            if sent.len() >= 3 {
                return sent;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    let to: Vec<&str> = sent2.iter().map(|m| m.to_user_id.as_str()).collect();
    assert_eq!(to, [ALICE, ALICE, BOB]);
    assert_eq!(
        w.sent_texts().len(),
        1,
        "the first account answered only its own turn"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persona_per_account_with_a_per_peer_override_and_variables() {
    let mut w = World::start(Preset::OpenAi).await;
    let acc = w.account_id.clone();
    let mut s = w.ai.account_settings(&acc).await.unwrap();
    s.persona = "You help {peer_name}. Today is {date}.".into();
    w.ai.set_account_settings(&acc, s).await.unwrap();
    w.ai.set_peer_persona(&acc, BOB, Some("Answer {peer_name} like a pirate.".into()))
        .await
        .unwrap();
    w.say(ALICE, "hello");
    w.finished().await;
    w.say(BOB, "ahoy");
    w.finished().await;
    let chats = w.stub.wait_chats(2).await;
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    assert_eq!(
        chats[0].body["messages"][0],
        json!({"role": "system", "content": format!("You help {ALICE}. Today is {today}.")})
    );
    assert_eq!(
        chats[1].body["messages"][0],
        json!({"role": "system", "content": format!("Answer {BOB} like a pirate.")})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owners_name_and_note_for_a_peer_fill_the_persona_variables() {
    let mut w = World::start(Preset::OpenAi).await;
    let acc = w.account_id.clone();
    let mut s = w.ai.account_settings(&acc).await.unwrap();
    s.persona = "You help {peer_name}. Notes: {peer_note}.".into();
    w.ai.set_account_settings(&acc, s).await.unwrap();
    w.say(ALICE, "hello");
    w.finished().await;
    w.engine
        .rename_peer(&acc, ALICE, "  Alice Teapot ")
        .await
        .unwrap();
    w.engine
        .set_peer_note(&acc, ALICE, "wholesale, <b>pays late</b>")
        .await
        .unwrap();
    w.say(ALICE, "again");
    w.finished().await;
    // Cleared, the name falls back to the id.
    w.engine.rename_peer(&acc, ALICE, "").await.unwrap();
    w.engine.set_peer_note(&acc, ALICE, "").await.unwrap();
    w.say(ALICE, "third");
    w.finished().await;
    let chats = w.stub.wait_chats(3).await;
    let system = |i: usize| chats[i].body["messages"][0]["content"].clone();
    assert_eq!(system(0), json!(format!("You help {ALICE}. Notes: .")));
    assert_eq!(
        system(1),
        json!("You help Alice Teapot. Notes: wholesale, <b>pays late</b>.")
    );
    assert_eq!(system(2), json!(format!("You help {ALICE}. Notes: .")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_mode_adds_a_timing_report_after_each_run() {
    let mut w = World::start(Preset::OpenAi).await;
    let owner = w.owner.clone();
    w.say(&owner, "/toggle-debug");
    w.wait_sent(1).await;
    w.stub.push(Reply::text(&["the answer"]));
    w.say(ALICE, "a question");
    w.finished().await;
    let sent = w.wait_sent(3).await;
    assert_eq!(sent[1], "the answer");
    assert!(
        sent[2].starts_with("🐛") && sent[2].contains("AI 与回复"),
        "{}",
        sent[2]
    );
    assert_eq!(w.sent_to(ALICE).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vision_model_gets_the_downloaded_image_as_an_image_part() {
    use base64::Engine as _;
    use ilink_sim::{InboundMedia, KeyForm, MediaKind};
    let mut w = World::start(Preset::OpenAi).await;
    assert!(w.ai.global_settings().await.unwrap().provider.vision);
    let png = b"\x89PNG\r\n\x1a\n-a-small-picture".to_vec();
    w.sim
        .inject_media(
            &w.bot_id,
            ALICE,
            InboundMedia {
                kind: MediaKind::Image,
                bytes: png.clone(),
                key_form: KeyForm::HexAndRawBase64,
                full_url: false,
            },
        )
        .unwrap();
    w.finished().await;
    let request = w.stub.wait_chats(1).await.remove(0);
    let content = &request.body["messages"].as_array().unwrap().last().unwrap()["content"];
    let url = content[1]["image_url"]["url"].as_str().unwrap_or_default();
    let (head, data) = url.split_once(',').unwrap_or_default();
    assert!(
        head.starts_with("data:image/") && head.ends_with(";base64"),
        "{content}"
    );
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap(),
        png
    );
    assert_eq!(content[0], json!({"type": "text", "text": "[图片]"}));
}

/// A message the owner scheduled for later is no reply in the moment: the AI keeps
/// answering the peer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_message_does_not_hold_the_ai_back() {
    let mut w = World::start(Preset::OpenAi).await;
    let acc = w.account_id.clone();
    w.say(ALICE, "hi");
    w.finished().await;
    let due = w.clock.now_ms_for_test() + 3_600_000;
    w.engine
        .send_text_at(&acc, ALICE, "tomorrow's reminder", due)
        .await
        .unwrap();
    w.say(ALICE, "and one more question");
    w.finished().await;
    assert_eq!(
        w.ai.peer_state(&acc, ALICE)
            .await
            .unwrap()
            .takeover_until_ms,
        None
    );
    assert_eq!(w.stub.asked(), ["hi", "and one more question"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_whose_events_the_ai_side_missed_are_read_back_from_the_log() {
    // Two events fit in the channel: one getupdates batch of four overruns it (the
    // batch's events are sent back to back), and the AI side learns of the first
    // messages only by reading the log after the lag; the last two events wait behind.
    let w = World::start_with_event_capacity(Preset::OpenAi, 2).await;
    let owner = w.owner.clone();
    let texts: Vec<String> = (0..4).map(|i| format!("/echo missed {i}")).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    w.sim
        .inject_texts_together(&w.bot_id, &owner, &texts)
        .unwrap();
    // Each command sends its argument, then a timing report: eight sends. One message
    // from the peer allows ten, so a message decided twice would show.
    let sent = w.wait_sent(8).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let echoed: Vec<String> = w
        .sent_texts()
        .into_iter()
        .filter(|t| t.starts_with("missed "))
        .collect();
    let expected: Vec<String> = (0..4).map(|i| format!("missed {i}")).collect();
    assert_eq!(
        echoed, expected,
        "each message decided once, in order: {sent:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owners_command_rules_the_messages_that_arrived_with_it() {
    let mut w = World::start(Preset::OpenAi).await;
    let acc = w.account_id.clone();
    let owner = w.owner.clone();
    // One getupdates batch: the AI side reads both messages in one store call, and the
    // question after the command must see the setting the command just changed.
    w.sim
        .inject_texts_together(&w.bot_id, &owner, &["/ai off", "a question right after"])
        .unwrap();
    assert_eq!(w.skipped().await, "AI replies are off for this peer");
    assert_eq!(w.wait_sent(1).await[0], "AI 回复已关闭");
    assert!(!w.ai.account_settings(&acc).await.unwrap().enabled);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(w.stub.chat_requests().is_empty(), "no reply with AI off");
    assert_eq!(w.sent_texts().len(), 1);
}
