use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::harness::{enabled, eventually, Home};
use crate::sim::{launch_on, login, open_conversation, start_sim, wait_log_has};
use crate::x11::Display;

/// A python3-dbusmock notification daemon on the session bus, logging every call.
pub(crate) struct MockDaemon {
    child: Child,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl MockDaemon {
    pub(crate) fn start() -> MockDaemon {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("notifications.log");
        // The system Python carries python3-dbusmock (a Debian package).
        let python = if std::path::Path::new("/usr/bin/python3").exists() {
            "/usr/bin/python3"
        } else {
            "python3"
        };
        let child = Command::new(python)
            .args(["-m", "dbusmock", "--template", "notification_daemon", "-l"])
            .arg(&log)
            .stdout(Stdio::null())
            .spawn()
            .expect("start python3-dbusmock (./dev setup installs python3-dbusmock)");
        MockDaemon {
            child,
            log,
            _dir: dir,
        }
    }

    pub(crate) fn calls(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for MockDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// With the window hidden, an inbound message becomes a desktop notification; a muted
/// conversation stays silent; a stale token is announced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hidden_window_notifies_inbound_messages_except_muted_peers() {
    if !enabled("hidden_window_notifies_inbound_messages_except_muted_peers") {
        return;
    }
    let daemon = MockDaemon::start();
    let sim = start_sim().await;
    let home = Home::new();
    let app = launch_on(&sim, &home).await;
    let bot = login(&app, &sim, "Shop", "erin@im.wechat").await;
    sim.add_peer(&bot.bot_id, "frank@im.wechat").unwrap();
    sim.inject_text(&bot.bot_id, "frank@im.wechat", "first from frank")
        .unwrap();
    open_conversation(&app, &bot, "frank@im.wechat").await;
    wait_log_has(&app, "first from frank").await;
    app.element("toggle-mute").await.click().await.unwrap();
    app.wait_text("toggle-mute", "Unmute").await;

    let display = Display::open();
    assert!(display.request_close("Weixin Desk") > 0);
    eventually(Duration::from_secs(10), "the window is hidden", || {
        !display.any_visible("Weixin Desk")
    })
    .await;
    sim.inject_text(&bot.bot_id, "frank@im.wechat", "muted words")
        .unwrap();
    sim.inject_text(&bot.bot_id, "erin@im.wechat", "ping while hidden")
        .unwrap();
    eventually(
        Duration::from_secs(20),
        "a notification reached the daemon",
        || daemon.calls().contains("ping while hidden"),
    )
    .await;
    let calls = daemon.calls();
    assert!(calls.contains("Notify"), "{calls}");
    assert!(
        calls.contains("erin@im.wechat"),
        "the title names the peer: {calls}"
    );
    assert!(
        !calls.contains("muted words"),
        "a muted peer notified: {calls}"
    );

    // An account problem is announced too.
    sim.revoke_token(&bot.bot_id).unwrap();
    eventually(
        Duration::from_secs(20),
        "a token-stale notification",
        || daemon.calls().contains("needs a new QR scan"),
    )
    .await;
    app.quit().await;
}

/// Tells the mock daemon that notification `id` was clicked.
fn click_notification(id: usize) {
    let status = Command::new("gdbus")
        .args([
            "call",
            "--session",
            "--dest",
            "org.freedesktop.Notifications",
            "--object-path",
            "/org/freedesktop/Notifications",
            "--method",
            "org.freedesktop.DBus.Mock.EmitSignal",
            "org.freedesktop.Notifications",
            "ActionInvoked",
            "us",
        ])
        .arg(format!("[<uint32 {id}>, <'default'>]"))
        .stdout(Stdio::null())
        .status()
        .expect("gdbus (./dev setup installs libglib2.0-bin)");
    assert!(status.success(), "the mock daemon did not take the click");
}

/// In the tray no web process is left; a click on a message's notification opens the
/// window again, at that conversation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_click_opens_its_conversation() {
    if !enabled("a_notification_click_opens_its_conversation") {
        return;
    }
    let daemon = MockDaemon::start();
    let sim = start_sim().await;
    let home = Home::new();
    let app = launch_on(&sim, &home).await;
    let bot = login(&app, &sim, "Shop", "gwen@im.wechat").await;
    sim.add_peer(&bot.bot_id, "hugo@im.wechat").unwrap();
    sim.inject_text(&bot.bot_id, "gwen@im.wechat", "hello from gwen")
        .unwrap();
    open_conversation(&app, &bot, "gwen@im.wechat").await;
    wait_log_has(&app, "hello from gwen").await;

    let display = Display::open();
    assert!(display.request_close("Weixin Desk") > 0);
    eventually(Duration::from_secs(10), "the window is gone", || {
        !display.any_visible("Weixin Desk") && crate::tray::web_processes() == 0
    })
    .await;
    sim.inject_text(&bot.bot_id, "hugo@im.wechat", "knock knock")
        .unwrap();
    eventually(
        Duration::from_secs(20),
        "hugo's message is notified",
        || daemon.calls().contains("knock knock"),
    )
    .await;
    // The daemon numbers its notifications from 1, in order.
    let calls = daemon.calls();
    let id = calls
        .lines()
        .filter(|line| line.contains("Notify"))
        .position(|line| line.contains("knock knock"))
        .expect("the Notify call")
        + 1;
    click_notification(id);
    eventually(Duration::from_secs(20), "the window is back", || {
        display.any_visible("Weixin Desk")
    })
    .await;
    crate::tray::follow_new_window(&app).await;
    app.find_css(
        "[data-testid='conversation-pane'][data-peer='hugo@im.wechat']",
        Duration::from_secs(20),
    )
    .await;
    wait_log_has(&app, "knock knock").await;
    app.quit().await;
}
