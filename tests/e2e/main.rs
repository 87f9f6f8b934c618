//! End-to-end tests: the real debug binary in a real WebKit window, driven over WebDriver
//! (tauri-driver + WebKitWebDriver). They need a display, a D-Bus session and an unlocked
//! keyring, which `./dev test` provides (Xvfb, dbus-run-session, gnome-keyring); without
//! `WEIXIN_DESK_E2E=1` each test reports that it was skipped.

mod harness;
mod x11;

mod first_screen;
mod no_display;
mod tray;
