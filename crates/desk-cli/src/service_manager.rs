//! Talking to systemd when `run` is its service (Type=notify): READY once the accounts
//! started, WATCHDOG at half the unit's interval while the loop turns, STOPPING on the
//! way out. Outside systemd (no NOTIFY_SOCKET) every call does nothing.

use std::time::Duration;

use sd_notify::NotifyState;

pub fn ready(status: &str) {
    let _ = sd_notify::notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

pub fn stopping() {
    let _ = sd_notify::notify(&[NotifyState::Stopping]);
}

pub fn watchdog() {
    let _ = sd_notify::notify(&[NotifyState::Watchdog]);
}

/// How often to tell the watchdog we are alive: half its interval, if it has one.
pub fn watchdog_period() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|interval| interval / 2)
}
