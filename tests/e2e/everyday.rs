//! Everyday behaviour: failures in words with details on demand, a conversation list that
//! holds still under the pointer, the quick switcher, and marking an account read.

use std::time::Duration;

use thirtyfour::prelude::*;

use crate::harness::{enabled, free_port, App, Home, Launch};
use crate::sim::wait_login_state;

/// A login against a server nobody listens on: the dialog says what happened and what
/// to do in the user's language, with the technical text behind Details.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_without_network_speaks_in_words() {
    if !enabled("a_login_without_network_speaks_in_words") {
        return;
    }
    for (lang, sentence, details) in [
        (
            "en_US.UTF-8",
            "Login failed: Can't reach WeChat's server. Check the internet connection, then try again.",
            "Details",
        ),
        (
            "zh_CN.UTF-8",
            "登录失败：无法连接微信服务器。请检查网络连接，然后重试。",
            "详细信息",
        ),
    ] {
        let home = Home::new();
        // A loopback port that was free a moment ago: the connection is refused.
        let closed = format!("http://127.0.0.1:{}", free_port());
        let app = App::launch_with(&home, lang, Launch::sim(&closed)).await;
        app.find_css("[data-testid='empty-add-account']", Duration::from_secs(20))
            .await
            .click()
            .await
            .unwrap();
        app.element("login-start").await.click().await.unwrap();
        wait_login_state(&app, "failed").await;
        assert_eq!(app.text_of("login-error-sentence").await.trim(), sentence);
        let disclosure = app.element("login-error-details").await;
        let summary = disclosure.find(By::Tag("summary")).await.unwrap();
        assert_eq!(summary.text().await.unwrap().trim(), details);
        // The machine words are there, but only once asked for.
        assert_eq!(disclosure.attr("open").await.unwrap(), None);
        summary.click().await.unwrap();
        let technical = disclosure.find(By::Tag("pre")).await.unwrap();
        let text = technical.text().await.unwrap();
        assert!(text.contains("could not get a QR code"), "{text}");
        app.screenshot(&format!("login-no-network-{}", &lang[..2]))
            .await;
        app.quit().await;
    }
}
