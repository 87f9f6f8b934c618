//! Import from OpenClaw in the real window: a state folder written by the official
//! plugin's own code (`crates/ilink-sim/interop/openclaw-state.mjs`), found through
//! `OPENCLAW_STATE_DIR`, the dialog opened from Add account (English) and from the empty
//! screen (Chinese), one account imported through it, online at once and
//! polling from the plugin's cursor; the peers it knew listed with their reply windows
//! possibly closed. Once in English and once in Chinese, with screenshots of each.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use ilink_sim::{BotInfo, Sim};

use crate::harness::{enabled, App, Home, Launch};
use crate::sim::{open_peer, start_sim, wait_account_status, wait_log_has};

const ALICE: &str = "alice@im.wechat";
const BOB: &str = "bob@im.wechat";

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/ilink-sim/interop")
}

/// Runs the plugin's own code on `state` (`openclaw-state.mjs SIM ARGS…`); its JSON line.
fn plugin(sim: &Sim, state: &Path, log: &Path, args: &[&str]) -> serde_json::Value {
    let node = std::env::var("ILINK_SIM_NODE").unwrap_or_else(|_| "node".to_owned());
    let out = Command::new(node)
        .arg(interop_dir().join("openclaw-state.mjs"))
        .arg(sim.base_url())
        .args(args)
        .current_dir(interop_dir())
        .env("OPENCLAW_STATE_DIR", state)
        .env("OPENCLAW_TMP_DIR", log)
        .stdin(Stdio::null())
        .output()
        .expect("run node (./dev installs the plugin and uses the system's node)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "openclaw-state.mjs {args:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no JSON from the plugin script: {text}"))
}

/// A plugin account whose two peers wrote before the move (the plugin polled them and
/// kept their tokens), and one message waiting that only the import can receive.
fn plugin_state(sim: &Sim, home: &Home) -> (PathBuf, BotInfo) {
    let state = home.tmp.join("openclaw-state");
    let log = home.tmp.join("plugin-log");
    let login = plugin(sim, &state, &log, &["login"]);
    let account = login["account_id"].as_str().unwrap().to_owned();
    let bot = BotInfo {
        bot_id: login["bot_id"].as_str().unwrap().to_owned(),
        token: String::new(),
        user_id: login["user_id"].as_str().unwrap().to_owned(),
    };
    for peer in [ALICE, BOB] {
        sim.add_peer(&bot.bot_id, peer).unwrap();
        sim.inject_text(&bot.bot_id, peer, &format!("before the move, {peer}"))
            .unwrap();
    }
    plugin(sim, &state, &log, &["poll", &account]);
    plugin(sim, &state, &log, &["pair", &account, ALICE]);
    sim.inject_text(&bot.bot_id, ALICE, "after the move")
        .unwrap();
    (state, bot)
}

/// Where the owner opens the import.
enum Entry {
    EmptyScreen,
    AddAccount,
}

async fn import_through_the_dialog(lang: &str, shot: &str, entry: Entry) {
    let sim = start_sim().await;
    let home = Home::new();
    let (state, bot) = plugin_state(&sim, &home);
    let account = ilink::account_id::normalize(&bot.bot_id);
    let mut launch = Launch::sim(&sim.base_url());
    launch
        .env
        .push(("OPENCLAW_STATE_DIR", state.display().to_string()));
    let app = App::launch_with(&home, lang, launch).await;

    app.find_css(
        "[data-testid='empty-import-openclaw']",
        Duration::from_secs(20),
    )
    .await;
    app.screenshot(&format!("{shot}-empty")).await;
    match entry {
        // From the empty screen's button.
        Entry::EmptyScreen => app
            .element("empty-import-openclaw")
            .await
            .click()
            .await
            .unwrap(),
        // From Add account: the dialog offers the import instead of a scan.
        Entry::AddAccount => {
            app.element("empty-add-account")
                .await
                .click()
                .await
                .unwrap();
            app.element("login-import-openclaw").await;
            app.screenshot(&format!("{shot}-add-account")).await;
            app.element("login-import-openclaw")
                .await
                .click()
                .await
                .unwrap();
        }
    }
    let row = app
        .find_css(
            &format!("[data-testid='openclaw-account'][data-account='{account}']"),
            Duration::from_secs(20),
        )
        .await;
    let facts = app.text_of("openclaw-facts").await;
    assert!(facts.contains('2'), "two reply tokens: {facts}");
    let choose = row
        .find(thirtyfour::By::Css("[data-testid='openclaw-choose']"))
        .await
        .unwrap();
    assert!(choose.is_selected().await.unwrap(), "chosen by default");
    app.element("openclaw-warning").await;
    app.screenshot(&format!("{shot}-dialog")).await;

    app.element("openclaw-import").await.click().await.unwrap();
    app.find_css(
        &format!(
            "[data-testid='openclaw-outcome'][data-account='{account}'][data-imported='true']"
        ),
        Duration::from_secs(20),
    )
    .await;
    app.screenshot(&format!("{shot}-done")).await;
    app.element("openclaw-close").await.click().await.unwrap();

    let online = if lang.starts_with("zh") {
        "在线"
    } else {
        "Online"
    };
    wait_account_status(&app, &bot, online).await;
    // Polling resumed from the plugin's cursor: the waiting message, not the old ones.
    open_peer(&app, ALICE).await;
    wait_log_has(&app, "after the move").await;
    let texts = crate::sim::log_texts(&app).await;
    assert_eq!(texts, ["after the move"], "{texts:?}");
    // Bob has not written since: his window's age is unknown.
    app.find_css(
        &format!(
            "[data-testid='conversation-item'][data-peer='{BOB}'] [data-testid='conversation-window'][data-window='unknown']"
        ),
        Duration::from_secs(10),
    )
    .await;
    open_peer(&app, BOB).await;
    app.find_css(
        "[data-testid='window-state'][data-window='unknown']",
        Duration::from_secs(10),
    )
    .await;
    app.screenshot(&format!("{shot}-conversation")).await;

    // Looked at again, the plugin's account says why it cannot come over twice, in the
    // window's language.
    app.element("add-account").await.click().await.unwrap();
    app.element("login-import-openclaw")
        .await
        .click()
        .await
        .unwrap();
    let here = if lang.starts_with("zh") {
        "无法导入：它已经在 Weixin Desk 里了"
    } else {
        "Cannot import: it is in Weixin Desk already"
    };
    app.wait_text_contains("openclaw-problem", here, Duration::from_secs(20))
        .await;
    app.screenshot(&format!("{shot}-again")).await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openclaw_account_is_imported_through_the_dialog_and_goes_online() {
    if !enabled("an_openclaw_account_is_imported_through_the_dialog_and_goes_online") {
        return;
    }
    import_through_the_dialog("en_US.UTF-8", "openclaw-import-en", Entry::AddAccount).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openclaw_account_is_imported_through_the_dialog_in_chinese() {
    if !enabled("an_openclaw_account_is_imported_through_the_dialog_in_chinese") {
        return;
    }
    import_through_the_dialog("zh_CN.UTF-8", "openclaw-import-zh", Entry::EmptyScreen).await;
}
