//! End-to-end tests: the real debug binary in a real WebKit window, driven over WebDriver
//! (tauri-driver + WebKitWebDriver). They need a display, a D-Bus session and an unlocked
//! keyring, which `./dev test` provides (Xvfb, dbus-run-session, gnome-keyring); without
//! `WEIXIN_DESK_E2E=1` each test reports that it was skipped. Tests that need a server
//! start their own `ilink-sim` on loopback and point the app at it (`WEIXIN_DESK_SIM`).

mod harness;
mod sim;
mod x11;
mod xdnd;

mod accounts;
mod ai;
mod ai_stub;
mod everyday;
mod files;
mod first_paint;
mod first_screen;
mod import_openclaw;
mod long_log;
mod media_scale;
mod messages;
mod no_display;
mod notifications;
mod peers;
mod push;
mod sandbox;
mod save_as;
mod search;
mod send_later;
mod tray;
