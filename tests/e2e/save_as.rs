//! "Save as…" on a received file: the native save dialog opens (titled in the app's
//! language), a path typed into it on the keyboard is where the file's bytes end up.

use std::time::Duration;

use ilink_sim::{InboundMedia, KeyForm, MediaKind};

use crate::harness::{enabled, eventually, Home};
use crate::sim::{launch_on, login, open_conversation, start_sim};
use crate::x11::{Display, CONTROL_L, RETURN};

const PEER: &str = "erin@im.wechat";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn save_as_copies_a_received_file_where_the_dialog_says() {
    if !enabled("save_as_copies_a_received_file_where_the_dialog_says") {
        return;
    }
    let sim = start_sim().await;
    let home = Home::new();
    let app = launch_on(&sim, &home).await;
    let bot = login(&app, &sim, "Shop", PEER).await;
    sim.inject_media(
        &bot.bot_id,
        PEER,
        InboundMedia {
            kind: MediaKind::File {
                name: "minutes.txt".into(),
            },
            bytes: b"minutes of the meeting".to_vec(),
            key_form: KeyForm::HexBase64,
            full_url: false,
        },
    )
    .unwrap();
    open_conversation(&app, &bot, PEER).await;
    app.find_css("[data-testid='save-as']", Duration::from_secs(30))
        .await
        .click()
        .await
        .unwrap();

    let display = Display::open();
    eventually(Duration::from_secs(20), "the save dialog to open", || {
        display.any_visible("Save as…")
    })
    .await;
    let (dialog, _) = display
        .windows_titled("Save as…")
        .into_iter()
        .find(|(_, visible)| *visible)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    display.focus(dialog);
    let target = home.tmp.join("saved-minutes.txt");
    display.key(u32::from('a'), &[CONTROL_L]);
    display.type_text(target.to_str().unwrap());
    display.key(RETURN, &[]);

    eventually(Duration::from_secs(20), "the file to be saved", || {
        std::fs::read(&target).ok().as_deref() == Some(b"minutes of the meeting".as_slice())
    })
    .await;
    app.wait_text(
        "saved-to",
        &format!("Saved to {}", target.to_str().unwrap()),
    )
    .await;
    assert!(!display.any_visible("Save as…"), "the dialog stayed open");
    app.quit().await;
}
