//! The QR login state machine against the emulator's scripted scanner (docs/protocol.md §3, E4–E6).

use std::time::Duration;

use ilink::client::{Client, ClientConfig};
use ilink::qr_login::{
    QrLogin, QrLoginConfig, QrLoginEvent, QrLoginFailure, QrLoginHandle, QrLoginOutcome,
};
use ilink::Secret;
use ilink_sim::{Fault, Knobs, Sim, SimConfig};
use serde_json::json;
use tokio::task::JoinHandle;

/// A guard against hangs only; nothing here measures speed.
const PATIENCE: Duration = Duration::from_secs(20);

async fn sim() -> Sim {
    Sim::start(SimConfig {
        knobs: Knobs {
            qr_hold_ms: 300,
            ..Knobs::default()
        },
        ..SimConfig::default()
    })
    .await
    .expect("sim starts")
}

fn client_for(base: &str) -> Client {
    Client::new(
        ClientConfig {
            api_base: base.to_owned(),
            use_system_proxy: false,
            ..ClientConfig::default()
        },
        None,
    )
    .expect("client")
}

fn quick_config() -> QrLoginConfig {
    QrLoginConfig {
        poll_interval: Duration::from_millis(20),
        redirect_scheme: "http".to_owned(),
        ..QrLoginConfig::default()
    }
}

fn start(sim: &Sim, config: QrLoginConfig) -> (QrLoginHandle, JoinHandle<QrLoginOutcome>) {
    let (login, handle) = QrLogin::new(client_for(&sim.base_url()), config);
    (handle, tokio::spawn(login.run()))
}

async fn next(handle: &mut QrLoginHandle) -> QrLoginEvent {
    tokio::time::timeout(PATIENCE, handle.next_event())
        .await
        .expect("an event in time")
        .expect("the login still runs")
}

/// Waits for `QrReady` and returns the QR id the emulator issued for it.
async fn qr_ready(sim: &Sim, handle: &mut QrLoginHandle) -> String {
    match next(handle).await {
        QrLoginEvent::QrReady { url } => {
            let qrcode = sim.latest_qrcode().expect("a QR was issued");
            assert!(url.starts_with("https://"), "{url}");
            assert!(url.contains(&qrcode), "the URL embeds the QR id: {url}");
            qrcode
        }
        other => panic!("expected QrReady, got {other:?}"),
    }
}

async fn outcome(task: JoinHandle<QrLoginOutcome>) -> QrLoginOutcome {
    tokio::time::timeout(PATIENCE, task)
        .await
        .expect("login ends in time")
        .expect("login task")
}

#[tokio::test]
async fn scan_verify_code_and_confirm() {
    let sim = sim().await;
    let (mut handle, task) = start(&sim, quick_config());
    let qrcode = qr_ready(&sim, &mut handle).await;

    sim.scan_qr(&qrcode).unwrap();
    assert_eq!(next(&mut handle).await, QrLoginEvent::Scanned);

    sim.ask_verify_code(&qrcode, "42").unwrap();
    assert_eq!(next(&mut handle).await, QrLoginEvent::VerifyCodeNeeded);
    handle.submit_verify_code("41");
    assert_eq!(next(&mut handle).await, QrLoginEvent::VerifyCodeWrong);
    handle.submit_verify_code(" 42 ");
    assert_eq!(next(&mut handle).await, QrLoginEvent::Scanned);

    let bot = sim.confirm_qr(&qrcode, None).unwrap().unwrap();
    let QrLoginEvent::Confirmed(creds) = next(&mut handle).await else {
        panic!("expected Confirmed");
    };
    assert_eq!(creds.token, Secret::new(bot.token.clone()));
    assert_eq!(creds.bot_id, bot.bot_id);
    assert_eq!(creds.user_id.as_deref(), Some(bot.user_id.as_str()));
    // As the server sent it (no trailing slash, like the real one); the client joins
    // endpoints onto it whatever its ending.
    assert_eq!(
        creds.base_url.as_deref(),
        Some(sim.base_url().trim_end_matches('/'))
    );
    assert!(!format!("{creds:?}").contains(&bot.token), "token hidden");
    assert_eq!(outcome(task).await, QrLoginOutcome::Confirmed(creds));
    assert!(handle.next_event().await.is_none(), "nothing after the end");
}

#[tokio::test]
async fn expiry_refreshes_then_gives_up_after_three_codes() {
    let sim = sim().await;
    let (mut handle, task) = start(&sim, quick_config());
    let first = qr_ready(&sim, &mut handle).await;
    sim.expire_qr(&first).unwrap();
    assert_eq!(next(&mut handle).await, QrLoginEvent::Expired);
    assert_eq!(next(&mut handle).await, QrLoginEvent::Refreshed { n: 1 });
    let second = qr_ready(&sim, &mut handle).await;
    assert_ne!(first, second);

    // A scan shows once per code, again on a new code.
    sim.scan_qr(&second).unwrap();
    assert_eq!(next(&mut handle).await, QrLoginEvent::Scanned);
    sim.expire_qr(&second).unwrap();
    assert_eq!(next(&mut handle).await, QrLoginEvent::Expired);
    assert_eq!(next(&mut handle).await, QrLoginEvent::Refreshed { n: 2 });
    let third = qr_ready(&sim, &mut handle).await;

    sim.expire_qr(&third).unwrap();
    assert_eq!(next(&mut handle).await, QrLoginEvent::Expired);
    assert_eq!(
        next(&mut handle).await,
        QrLoginEvent::Failed {
            reason: QrLoginFailure::TooManyRefreshes
        }
    );
    assert_eq!(
        outcome(task).await,
        QrLoginOutcome::Failed(QrLoginFailure::TooManyRefreshes)
    );
}

#[tokio::test]
async fn blocked_verify_code_refreshes_and_a_new_code_confirms() {
    let sim = sim().await;
    sim.update_knobs(|k| k.verify_code_attempts = 2);
    let (mut handle, task) = start(&sim, quick_config());
    let first = qr_ready(&sim, &mut handle).await;
    sim.ask_verify_code(&first, "7").unwrap();
    assert_eq!(next(&mut handle).await, QrLoginEvent::VerifyCodeNeeded);
    handle.submit_verify_code("1");
    assert_eq!(next(&mut handle).await, QrLoginEvent::VerifyCodeWrong);
    handle.submit_verify_code("2");
    assert_eq!(next(&mut handle).await, QrLoginEvent::VerifyCodeBlocked);
    assert_eq!(next(&mut handle).await, QrLoginEvent::Refreshed { n: 1 });
    let second = qr_ready(&sim, &mut handle).await;

    sim.confirm_qr(&second, None).unwrap().unwrap();
    assert!(matches!(
        next(&mut handle).await,
        QrLoginEvent::Confirmed(_)
    ));
    assert!(matches!(outcome(task).await, QrLoginOutcome::Confirmed(_)));
}

#[tokio::test]
async fn a_bot_already_bound_here_is_success_without_credentials() {
    let sim = sim().await;
    let existing = sim.create_bot();
    let config = QrLoginConfig {
        local_token_list: vec![Secret::new(existing.token.clone())],
        ..quick_config()
    };
    let (mut handle, task) = start(&sim, config);
    let qrcode = qr_ready(&sim, &mut handle).await;
    assert_eq!(
        sim.confirm_qr(&qrcode, Some(&existing.user_id)).unwrap(),
        None
    );
    assert_eq!(next(&mut handle).await, QrLoginEvent::AlreadyBound);
    assert_eq!(outcome(task).await, QrLoginOutcome::AlreadyBound);
}

#[tokio::test]
async fn redirect_moves_polling_to_the_new_host() {
    let sim = sim().await;
    let (mut handle, task) = start(&sim, quick_config());
    let qrcode = qr_ready(&sim, &mut handle).await;
    // `localhost` is the same emulator under another name.
    let host = format!("localhost:{}", sim.addr().port());
    sim.set_qr_answer(
        &qrcode,
        json!({ "status": "scaned_but_redirect", "redirect_host": host }),
    )
    .unwrap();
    assert_eq!(
        next(&mut handle).await,
        QrLoginEvent::Redirected { host: host.clone() }
    );
    sim.confirm_qr(&qrcode, None).unwrap().unwrap();
    // The same redirect answered again is not reported twice.
    assert!(matches!(
        next(&mut handle).await,
        QrLoginEvent::Confirmed(_)
    ));
    assert!(matches!(outcome(task).await, QrLoginOutcome::Confirmed(_)));
}

#[tokio::test]
async fn after_a_redirect_the_old_host_is_no_longer_polled() {
    let sim = sim().await;
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_host = dead.local_addr().unwrap().to_string();
    drop(dead);
    let config = QrLoginConfig {
        deadline: Duration::from_secs(2),
        ..quick_config()
    };
    let (mut handle, task) = start(&sim, config);
    let qrcode = qr_ready(&sim, &mut handle).await;
    sim.set_qr_answer(
        &qrcode,
        json!({ "status": "scaned_but_redirect", "redirect_host": dead_host }),
    )
    .unwrap();
    assert_eq!(
        next(&mut handle).await,
        QrLoginEvent::Redirected { host: dead_host }
    );
    // Confirmed on the old host, never seen: polls of the new one fail (as `wait`) until
    // the deadline.
    sim.confirm_qr(&qrcode, None).unwrap().unwrap();
    assert_eq!(
        next(&mut handle).await,
        QrLoginEvent::Failed {
            reason: QrLoginFailure::Timeout
        }
    );
    assert_eq!(
        outcome(task).await,
        QrLoginOutcome::Failed(QrLoginFailure::Timeout)
    );
}

#[tokio::test]
async fn server_errors_while_polling_count_as_waiting() {
    let sim = sim().await;
    for fault in [
        Fault::Status { status: 500 },
        Fault::Status { status: 524 },
        Fault::MalformedJson,
        Fault::EmptyBody,
        Fault::Json {
            body: json!({ "status": "something_new" }),
        },
    ] {
        sim.inject_fault("get_qrcode_status", fault);
    }
    let (mut handle, task) = start(&sim, quick_config());
    let qrcode = qr_ready(&sim, &mut handle).await;
    sim.scan_qr(&qrcode).unwrap();
    assert_eq!(next(&mut handle).await, QrLoginEvent::Scanned);
    sim.confirm_qr(&qrcode, None).unwrap().unwrap();
    assert!(matches!(
        next(&mut handle).await,
        QrLoginEvent::Confirmed(_)
    ));
    assert!(matches!(outcome(task).await, QrLoginOutcome::Confirmed(_)));
}

#[tokio::test]
async fn a_confirmation_without_bot_id_or_token_fails() {
    for (answer, reason) in [
        (
            json!({ "status": "confirmed", "bot_token": "t" }),
            QrLoginFailure::MissingBotId,
        ),
        (
            json!({ "status": "confirmed", "ilink_bot_id": "abc@im.bot" }),
            QrLoginFailure::MissingToken,
        ),
    ] {
        let sim = sim().await;
        let (mut handle, task) = start(&sim, quick_config());
        let qrcode = qr_ready(&sim, &mut handle).await;
        sim.set_qr_answer(&qrcode, answer).unwrap();
        assert_eq!(
            next(&mut handle).await,
            QrLoginEvent::Failed {
                reason: reason.clone()
            }
        );
        assert_eq!(outcome(task).await, QrLoginOutcome::Failed(reason));
    }
}

#[tokio::test]
async fn a_status_answer_carrying_an_error_ends_the_login_at_once_saying_why() {
    for (answer, ret, errcode, words) in [
        (
            json!({ "errcode": -14, "errmsg": "" }),
            None,
            Some(-14),
            "the server ended the login: the session has expired (errcode -14)",
        ),
        (
            json!({ "ret": -1, "errmsg": "qrcode invalid", "status": "wait" }),
            Some(-1),
            None,
            "the server ended the login: qrcode invalid (ret -1)",
        ),
        (
            json!({ "ret": "-5", "errcode": 0 }),
            Some(-5),
            Some(0),
            "the server ended the login: no reason given (ret -5)",
        ),
    ] {
        let sim = sim().await;
        // Far from the deadline: the login must not wait for it.
        let (mut handle, task) = start(
            &sim,
            QrLoginConfig {
                deadline: Duration::from_secs(3600),
                ..quick_config()
            },
        );
        let qrcode = qr_ready(&sim, &mut handle).await;
        sim.set_qr_answer(&qrcode, answer.clone()).unwrap();
        let reason = QrLoginFailure::Refused {
            ret,
            errcode,
            errmsg: answer["errmsg"].as_str().unwrap_or_default().to_owned(),
        };
        assert_eq!(reason.to_string(), words);
        assert_eq!(
            next(&mut handle).await,
            QrLoginEvent::Failed {
                reason: reason.clone()
            }
        );
        assert_eq!(outcome(task).await, QrLoginOutcome::Failed(reason));
    }
}

#[tokio::test]
async fn a_failed_qr_fetch_ends_the_login() {
    let sim = sim().await;
    sim.inject_fault("get_bot_qrcode", Fault::Status { status: 503 });
    let (mut handle, task) = start(&sim, quick_config());
    assert!(matches!(
        next(&mut handle).await,
        QrLoginEvent::Failed {
            reason: QrLoginFailure::QrFetch(_)
        }
    ));
    assert!(matches!(
        outcome(task).await,
        QrLoginOutcome::Failed(QrLoginFailure::QrFetch(_))
    ));
}

#[tokio::test]
async fn cancel_stops_a_waiting_login() {
    let sim = sim().await;
    let (mut handle, task) = start(&sim, quick_config());
    let qrcode = qr_ready(&sim, &mut handle).await;
    sim.ask_verify_code(&qrcode, "5").unwrap();
    assert_eq!(next(&mut handle).await, QrLoginEvent::VerifyCodeNeeded);
    handle.cancel();
    assert_eq!(
        next(&mut handle).await,
        QrLoginEvent::Failed {
            reason: QrLoginFailure::Cancelled
        }
    );
    assert_eq!(
        outcome(task).await,
        QrLoginOutcome::Failed(QrLoginFailure::Cancelled)
    );
}

#[tokio::test]
async fn the_overall_deadline_ends_an_unscanned_login() {
    let sim = sim().await;
    let config = QrLoginConfig {
        deadline: Duration::from_millis(1),
        ..quick_config()
    };
    let (mut handle, task) = start(&sim, config);
    qr_ready(&sim, &mut handle).await;
    // Raised to the 1 s minimum, then it ends.
    assert_eq!(
        next(&mut handle).await,
        QrLoginEvent::Failed {
            reason: QrLoginFailure::Timeout
        }
    );
    assert_eq!(
        outcome(task).await,
        QrLoginOutcome::Failed(QrLoginFailure::Timeout)
    );
}
