use std::process::Command;

use crate::harness::APP_BINARY;

/// Needs no display, so it always runs: without one the app explains itself and exits 2.
#[test]
fn without_a_display_the_app_says_so_and_exits() {
    let out = Command::new(APP_BINARY)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("start the app");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no graphical display"), "{err}");
    assert!(err.contains("weixin-desk-cli"), "{err}");
}
