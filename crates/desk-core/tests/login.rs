//! QR login orchestration and account removal against ilink-sim over loopback. Waits
//! are generous and nothing asserts on how long anything took.

mod common;

use std::sync::Arc;
use std::time::Duration;

use desk_core::engine::{
    AccountStatus, Engine, EngineConfig, EngineEvent, LoginOptions, LoginState, Timings,
};
use desk_core::secrets::{MemoryStore, Secret, SecretKey, SecretStore};
use desk_core::store::{OutboxState, STATUS_REMOVED, STATUS_REPLACED};
use desk_core::{DataDir, Store};
use ilink::qr_login::QrLoginConfig;
use ilink_sim::Sim;
use tokio::sync::broadcast::Receiver;

use common::{loopback_client, next_event, received, sim_with};

fn config() -> EngineConfig {
    EngineConfig {
        client: loopback_client(),
        timings: Timings {
            poll_retry: Duration::from_millis(20),
            poll_backoff: Duration::from_millis(100),
            send_retry: Duration::from_millis(20),
            send_retry_max: Duration::from_millis(200),
            send_max_attempts: 3,
            ..Timings::default()
        },
        ..EngineConfig::default()
    }
}

async fn sim() -> Sim {
    sim_with(|k| k.qr_hold_ms = 300).await
}

fn options(sim: &Sim) -> LoginOptions {
    LoginOptions {
        api_base: Some(sim.base_url()),
        cdn_base: Some(sim.cdn_base_url()),
        alias: None,
        route_tag: None,
        qr: QrLoginConfig {
            poll_interval: Duration::from_millis(20),
            redirect_scheme: "http".to_owned(),
            ..QrLoginConfig::default()
        },
    }
}

fn login_state(id: &str, wanted: fn(&LoginState) -> bool) -> impl FnMut(&EngineEvent) -> bool + '_ {
    move |e| matches!(e, EngineEvent::LoginProgress { login_id, state } if login_id == id && wanted(state))
}

fn online(account: &str) -> impl FnMut(&EngineEvent) -> bool + '_ {
    move |e| {
        matches!(e, EngineEvent::AccountStatusChanged { account_id, status: AccountStatus::Online }
            if account_id == account)
    }
}

/// Runs a login to `confirmed` as `user` (a new one when `None`); returns the account id
/// and the sim's bot.
async fn log_in(
    engine: &Engine,
    sim: &Sim,
    rx: &mut Receiver<EngineEvent>,
    user: Option<&str>,
) -> (String, ilink_sim::BotInfo, LoginState) {
    let handle = engine.start_login(options(sim)).await.unwrap();
    next_event(
        rx,
        login_state(handle.id(), |s| matches!(s, LoginState::QrReady { .. })),
    )
    .await;
    let qr = sim.latest_qrcode().unwrap();
    let bot = sim.confirm_qr(&qr, user).unwrap().expect("a new bot");
    let last = handle.finished().await;
    let LoginState::Confirmed { account_id, .. } = &last else {
        panic!("login did not confirm: {last:?}");
    };
    (account_id.clone(), bot, last)
}

async fn account(engine: &Engine, id: &str) -> Option<desk_core::store::Account> {
    let id = id.to_owned();
    engine.store().call(move |s| s.account(&id)).await.unwrap()
}

async fn message_count(engine: &Engine, id: &str) -> usize {
    let id = id.to_owned();
    engine
        .store()
        .call(move |s| {
            let mut n = 0;
            for c in s.list_conversations(&id)? {
                n += s
                    .conversation_page(&id, &c.peer_id, None, 1000)?
                    .messages
                    .len();
            }
            Ok(n)
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_with_a_verify_code_stores_the_account_and_starts_it() {
    let sim = sim().await;
    let secrets = Arc::new(MemoryStore::new());
    let engine = Engine::new(Store::open_in_memory().unwrap(), secrets.clone(), config());
    let mut rx = engine.subscribe();
    let mut all = engine.subscribe();

    let handle = engine
        .start_login(LoginOptions {
            alias: Some("Support".into()),
            route_tag: Some(" shard-7 ".into()),
            ..options(&sim)
        })
        .await
        .unwrap();
    let id = handle.id().to_owned();
    next_event(
        &mut rx,
        login_state(
            &id,
            |s| matches!(s, LoginState::QrReady { url } if url.contains("qrcode=")),
        ),
    )
    .await;
    let qr = sim.latest_qrcode().unwrap();
    sim.ask_verify_code(&qr, "42").unwrap();
    next_event(
        &mut rx,
        login_state(&id, |s| *s == LoginState::VerifyCodeNeeded),
    )
    .await;
    handle.submit_verify_code("41");
    next_event(
        &mut rx,
        login_state(&id, |s| *s == LoginState::VerifyCodeWrong),
    )
    .await;
    // The engine reaches the login by id too (what the desktop shell uses).
    assert!(engine.submit_login_code(&id, "42"));
    next_event(&mut rx, login_state(&id, |s| *s == LoginState::Scanned)).await;
    let bot = sim.confirm_qr(&qr, None).unwrap().unwrap();

    let last = handle.finished().await;
    let account_id = ilink::account_id::normalize(&bot.bot_id);
    assert_eq!(
        last,
        LoginState::Confirmed {
            account_id: account_id.clone(),
            bot_id: bot.bot_id.clone(),
            user_id: Some(bot.user_id.clone()),
            replaced: vec![],
        }
    );
    assert!(!engine.submit_login_code(&id, "1"), "the login is over");
    let stored = secrets.get(&SecretKey::bot_token(&account_id)).unwrap();
    assert_eq!(stored, Some(Secret::new(bot.token.clone())));
    let acc = account(&engine, &account_id).await.unwrap();
    assert_eq!(acc.bot_id, bot.bot_id);
    assert_eq!(
        acc.base_url,
        sim.base_url().trim_end_matches('/'),
        "as the server sent it"
    );
    assert_eq!(acc.user_id.as_deref(), Some(bot.user_id.as_str()));
    assert_eq!(acc.cdn_url.as_deref(), Some(sim.cdn_base_url().as_str()));
    assert_eq!(acc.alias.as_deref(), Some("Support"));
    assert_eq!(acc.route_tag.as_deref(), Some("shard-7"), "kept, trimmed");
    assert!(acc.enabled);

    next_event(&mut rx, online(&account_id)).await;
    sim.inject_text(&bot.bot_id, &bot.user_id, "hello after login")
        .unwrap();
    next_event(&mut rx, received(&account_id)).await;
    engine.shutdown().await;
    // The login's requests and the account's polls all carried the route tag.
    let requests = sim.requests();
    for endpoint in ["get_bot_qrcode", "get_qrcode_status", "getupdates"] {
        let seen: Vec<_> = requests
            .iter()
            .filter(|r| r.endpoint.ends_with(endpoint))
            .collect();
        assert!(!seen.is_empty(), "no {endpoint} request");
        for request in seen {
            let tag = request
                .headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("SKRouteTag"))
                .map(|(_, value)| value.as_str());
            assert_eq!(tag, Some("shard-7"), "{endpoint}");
        }
    }

    // No event carried the token.
    while let Ok(event) = all.try_recv() {
        let json = serde_json::to_string(&event).unwrap();
        assert!(!json.contains(&bot.token), "{json}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_login_by_the_same_user_replaces_the_first_account() {
    let sim = sim().await;
    let secrets = Arc::new(MemoryStore::new());
    let engine = Engine::new(Store::open_in_memory().unwrap(), secrets.clone(), config());
    let mut rx = engine.subscribe();
    let (first, bot1, _) = log_in(&engine, &sim, &mut rx, None).await;
    next_event(&mut rx, online(&first)).await;
    sim.inject_text(&bot1.bot_id, &bot1.user_id, "kept")
        .unwrap();
    next_event(&mut rx, received(&first)).await;

    // While the first bot's token is live and sent in local_token_list, the server
    // says the user is already bound here: nothing new is saved.
    let handle = engine.start_login(options(&sim)).await.unwrap();
    next_event(
        &mut rx,
        login_state(handle.id(), |s| matches!(s, LoginState::QrReady { .. })),
    )
    .await;
    let qr = sim.latest_qrcode().unwrap();
    assert!(sim.confirm_qr(&qr, Some(&bot1.user_id)).unwrap().is_none());
    assert_eq!(handle.finished().await, LoginState::AlreadyBound);
    let qr_requests: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.endpoint.contains("get_bot_qrcode"))
        .collect();
    assert_eq!(
        qr_requests.last().unwrap().body["local_token_list_len"],
        1,
        "the stored token went along"
    );
    assert_eq!(
        engine
            .store()
            .call(|s| s.list_accounts())
            .await
            .unwrap()
            .len(),
        1
    );

    // The binding moved elsewhere (the old token died); the user logs in here again
    // and gets a new bot.
    sim.revoke_token(&bot1.bot_id).unwrap();
    let (second, bot2, last) = log_in(&engine, &sim, &mut rx, Some(&bot1.user_id)).await;
    assert_ne!(first, second);
    let LoginState::Confirmed { replaced, .. } = last else {
        unreachable!()
    };
    assert_eq!(replaced, std::slice::from_ref(&first));

    let old = account(&engine, &first).await.expect("the log is kept");
    assert!(!old.enabled);
    assert_eq!(old.status, STATUS_REPLACED);
    assert_eq!(secrets.get(&SecretKey::bot_token(&first)).unwrap(), None);
    assert!(!engine.accounts().is_running(&first));
    assert_eq!(message_count(&engine, &first).await, 1);
    assert_eq!(
        secrets.get(&SecretKey::bot_token(&second)).unwrap(),
        Some(Secret::new(bot2.token.clone()))
    );
    assert!(engine.accounts().is_running(&second));
    next_event(&mut rx, online(&second)).await;
    sim.inject_text(&bot2.bot_id, &bot2.user_id, "to the new bot")
        .unwrap();
    next_event(&mut rx, received(&second)).await;
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_login_saves_nothing() {
    let sim = sim().await;
    let secrets = Arc::new(MemoryStore::new());
    let engine = Engine::new(Store::open_in_memory().unwrap(), secrets, config());
    let mut rx = engine.subscribe();
    let handle = engine.start_login(options(&sim)).await.unwrap();
    let id = handle.id().to_owned();
    next_event(
        &mut rx,
        login_state(&id, |s| matches!(s, LoginState::QrReady { .. })),
    )
    .await;
    assert!(engine.cancel_login(&id));
    assert_eq!(handle.finished().await, LoginState::Cancelled);
    next_event(&mut rx, login_state(&id, |s| *s == LoginState::Cancelled)).await;
    assert!(!engine.cancel_login(&id));
    assert!(engine
        .store()
        .call(|s| s.list_accounts())
        .await
        .unwrap()
        .is_empty());

    // Cancelling through the handle, while the login waits for a verify code.
    let handle = engine.start_login(options(&sim)).await.unwrap();
    let id = handle.id().to_owned();
    next_event(
        &mut rx,
        login_state(&id, |s| matches!(s, LoginState::QrReady { .. })),
    )
    .await;
    sim.ask_verify_code(&sim.latest_qrcode().unwrap(), "7")
        .unwrap();
    next_event(
        &mut rx,
        login_state(&id, |s| *s == LoginState::VerifyCodeNeeded),
    )
    .await;
    handle.cancel();
    assert_eq!(handle.finished().await, LoginState::Cancelled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_an_account_keeps_or_deletes_its_log_and_media() {
    let sim = sim().await;
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::at(tmp.path()).unwrap();
    let secrets = Arc::new(MemoryStore::new());
    let engine = Engine::new_in(
        Store::open(&data.database()).unwrap(),
        &data,
        secrets.clone(),
        config(),
    );
    let mut rx = engine.subscribe();
    let mut bots = Vec::new();
    for _ in 0..2 {
        let (id, bot, _) = log_in(&engine, &sim, &mut rx, None).await;
        next_event(&mut rx, online(&id)).await;
        sim.inject_text(&bot.bot_id, &bot.user_id, "hi").unwrap();
        next_event(&mut rx, received(&id)).await;
        bots.push((id, bot));
    }
    // Logins nobody named get friendly names, numbered.
    assert_eq!(
        account(&engine, &bots[0].0).await.unwrap().alias.as_deref(),
        Some("WeChat bot 1")
    );
    assert_eq!(
        account(&engine, &bots[1].0).await.unwrap().alias.as_deref(),
        Some("WeChat bot 2")
    );
    let (gone, _) = bots.pop().unwrap();
    let (kept, bot1) = bots.pop().unwrap();
    let (media, _) = data.create_media_file(&gone, 0, "photo.png").unwrap();
    let (kept_media, _) = data.create_media_file(&kept, 0, "photo.png").unwrap();

    engine.rename_account(&kept, "  Sales  ").await.unwrap();
    assert_eq!(
        account(&engine, &kept).await.unwrap().alias.as_deref(),
        Some("Sales")
    );
    engine.rename_account(&kept, " ").await.unwrap();
    assert_eq!(account(&engine, &kept).await.unwrap().alias, None);
    assert!(engine.rename_account("nobody", "x").await.is_err());

    // A message waiting in the outbox when the account goes fails visibly.
    sim.expire_context(&bot1.bot_id, &bot1.user_id).unwrap();
    let waiting = engine
        .send_text(&kept, &bot1.user_id, "never sent")
        .await
        .unwrap();
    next_event(&mut rx, |e| {
        matches!(e, EngineEvent::DeliveryUpdated { outbox_id, state: OutboxState::WaitingForWindow, .. }
            if *outbox_id == waiting.id)
    })
    .await;

    engine.remove_account(&kept, true).await.unwrap();
    next_event(&mut rx, |e| {
        matches!(e, EngineEvent::DeliveryUpdated { outbox_id, state: OutboxState::Failed, .. }
            if *outbox_id == waiting.id)
    })
    .await;
    next_event(&mut rx, |e| {
        matches!(e, EngineEvent::AccountRemoved { account_id, kept_log: true } if *account_id == kept)
    })
    .await;
    let acc = account(&engine, &kept).await.unwrap();
    assert_eq!((acc.enabled, acc.status.as_str()), (false, STATUS_REMOVED));
    assert!(!engine.accounts().is_running(&kept));
    assert_eq!(secrets.get(&SecretKey::bot_token(&kept)).unwrap(), None);
    assert_eq!(
        message_count(&engine, &kept).await,
        2,
        "inbound and the failed outbound"
    );
    assert!(data.root().join(&kept_media).is_file());
    let id = kept.clone();
    assert_eq!(
        engine.store().call(move |s| s.cursor(&id)).await.unwrap(),
        None
    );

    engine.remove_account(&gone, false).await.unwrap();
    assert!(account(&engine, &gone).await.is_none());
    assert!(!engine.accounts().is_running(&gone));
    assert_eq!(secrets.get(&SecretKey::bot_token(&gone)).unwrap(), None);
    assert_eq!(message_count(&engine, &gone).await, 0);
    assert!(!data.root().join(&media).exists());
    assert!(!data.root().join("media").join(&gone).exists());
    assert!(
        data.root().join(&kept_media).is_file(),
        "other accounts' media stay"
    );

    assert!(engine.remove_account(&gone, false).await.is_err());
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_qr_status_carrying_an_error_ends_the_login_with_the_reason_in_words() {
    let sim = sim().await;
    let engine = Engine::new(
        Store::open_in_memory().unwrap(),
        Arc::new(MemoryStore::new()),
        config(),
    );
    let mut rx = engine.subscribe();
    let handle = engine.start_login(options(&sim)).await.unwrap();
    next_event(
        &mut rx,
        login_state(handle.id(), |s| matches!(s, LoginState::QrReady { .. })),
    )
    .await;
    let qr = sim.latest_qrcode().unwrap();
    sim.set_qr_answer(&qr, serde_json::json!({ "errcode": -14, "errmsg": "" }))
        .unwrap();
    // The deadline is 8 minutes away: only the refusal can end the login.
    let last = tokio::time::timeout(common::WAIT, handle.finished())
        .await
        .expect("the login ended on the refusal");
    let LoginState::Failed { reason, .. } = &last else {
        panic!("the login did not fail: {last:?}");
    };
    assert!(reason.contains("session has expired"), "{reason}");
    assert!(reason.contains("errcode -14"), "{reason}");
    assert!(engine
        .store()
        .call(|s| s.list_accounts())
        .await
        .unwrap()
        .is_empty());
}
