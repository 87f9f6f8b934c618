//! The owner's preferences that the desktop app and the CLI share: notifications,
//! do-not-disturb, muted conversations, start-up, and a self-hosted iLink backend. One
//! JSON document in the store's `settings` table, so `weixin-desk-cli settings` sees and
//! changes what the window does (only window geometry stays with the window).

use rusqlite::TransactionBehavior;
use serde::{Deserialize, Serialize};

use crate::{CoreError, Store};

const PREFS_KEY: &str = "desk.prefs";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct Prefs {
    /// Notifications for inbound messages while the window is hidden or unfocused.
    pub notifications: bool,
    /// Silences every notification.
    // Aliases: documents saved before the wire went snake_case.
    #[serde(alias = "doNotDisturb")]
    pub do_not_disturb: bool,
    /// Conversations that never notify, as `[account_id, peer_id]`.
    pub muted: Vec<(String, String)>,
    /// Start with the window hidden in the tray.
    #[serde(alias = "startMinimised")]
    pub start_minimised: bool,
    /// Start when the user logs in (an XDG autostart entry).
    pub autostart: bool,
    /// A self-hosted iLink backend instead of the official one.
    pub backend: BackendPrefs,
    /// Least time between two sends of one account, in milliseconds; `null` is the
    /// engine's own ([`crate::engine::Timings::send_interval`], 1 s). Spacing sends
    /// keeps a burst under WeChat's rate limit.
    pub send_interval_ms: Option<u32>,
}

/// The longest pause between sends the owner may set.
pub const MAX_SEND_INTERVAL_MS: u32 = 60_000;

/// Checks a send interval the owner typed.
pub fn checked_send_interval(ms: Option<u32>) -> Result<Option<u32>, String> {
    match ms {
        Some(ms) if ms > MAX_SEND_INTERVAL_MS => Err(format!(
            "the time between sends must be at most {} s, got {} ms",
            MAX_SEND_INTERVAL_MS / 1000,
            ms
        )),
        other => Ok(other),
    }
}

/// Advanced: where logins go and what the client calls itself. Empty means the
/// official default. Used by the next login (API and CDN base) and from the next start
/// (bot agent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct BackendPrefs {
    #[serde(alias = "apiBase")]
    pub api_base: Option<String>,
    #[serde(alias = "cdnBase")]
    pub cdn_base: Option<String>,
    #[serde(alias = "botAgent")]
    pub bot_agent: Option<String>,
    /// `SKRouteTag` sent by the next login and kept with its account.
    #[serde(alias = "routeTag")]
    pub route_tag: Option<String>,
}

impl BackendPrefs {
    /// Trims the fields, drops empty ones and checks the URLs.
    pub fn cleaned(self) -> Result<BackendPrefs, String> {
        let clean = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let url = |v: Option<String>, what: &str| -> Result<Option<String>, String> {
            match clean(v) {
                Some(u) if !(u.starts_with("https://") || u.starts_with("http://")) => Err(
                    format!("the {what} must start with https:// or http://, got {u:?}"),
                ),
                other => Ok(other),
            }
        };
        Ok(BackendPrefs {
            api_base: url(self.api_base, "API base URL")?,
            cdn_base: url(self.cdn_base, "CDN base URL")?,
            bot_agent: clean(self.bot_agent),
            route_tag: clean(self.route_tag),
        })
    }
}

impl Default for Prefs {
    fn default() -> Self {
        Prefs {
            notifications: true,
            do_not_disturb: false,
            muted: Vec::new(),
            start_minimised: false,
            autostart: false,
            backend: BackendPrefs::default(),
            send_interval_ms: None,
        }
    }
}

impl Prefs {
    pub fn is_muted(&self, account_id: &str, peer_id: &str) -> bool {
        self.muted
            .iter()
            .any(|(a, p)| a == account_id && p.eq_ignore_ascii_case(peer_id))
    }

    pub fn set_muted(&mut self, account_id: &str, peer_id: &str, muted: bool) {
        self.muted
            .retain(|(a, p)| !(a == account_id && p.eq_ignore_ascii_case(peer_id)));
        if muted {
            self.muted.push((account_id.to_owned(), peer_id.to_owned()));
        }
    }
}

impl Store {
    /// The preferences; a missing document is the defaults, and an unreadable one too
    /// (with a warning), so a bad edit never stops the app.
    pub fn prefs(&self) -> Result<Prefs, CoreError> {
        Ok(match self.setting(PREFS_KEY)? {
            None => Prefs::default(),
            Some(json) => serde_json::from_str(&json).unwrap_or_else(|err| {
                tracing::warn!(%err, "unreadable preferences; using defaults");
                Prefs::default()
            }),
        })
    }

    /// Whether preferences were ever saved (a one-time import from an older layout
    /// happens only while they were not).
    pub fn has_prefs(&self) -> Result<bool, CoreError> {
        Ok(self.setting(PREFS_KEY)?.is_some())
    }

    /// Reads, changes and writes the preferences in one transaction, so the window and
    /// the CLI changing them at once lose neither change.
    pub fn update_prefs(&self, change: impl FnOnce(&mut Prefs)) -> Result<Prefs, CoreError> {
        let tx = rusqlite::Transaction::new_unchecked(self.conn(), TransactionBehavior::Immediate)?;
        let mut prefs = self.prefs()?;
        change(&mut prefs);
        // Strings and booleans only: serialising cannot fail.
        let json = serde_json::to_string(&prefs).unwrap_or_else(|_| "{}".to_owned());
        self.set_setting(PREFS_KEY, &json)?;
        tx.commit()?;
        Ok(prefs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preferences_round_trip_through_the_store_and_survive_garbage() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("db.sqlite3");
        {
            let store = Store::open(&path).unwrap();
            assert_eq!(store.prefs().unwrap(), Prefs::default());
            assert!(!store.has_prefs().unwrap());
            store
                .update_prefs(|p| {
                    p.set_muted("acc", "Peer@im.wechat", true);
                    p.do_not_disturb = true;
                })
                .unwrap();
        }
        // Another connection (the CLI beside the app) sees the change.
        let store = Store::open(&path).unwrap();
        let loaded = store.prefs().unwrap();
        assert!(loaded.is_muted("acc", "peer@IM.wechat"));
        assert!(!loaded.is_muted("other", "peer@im.wechat"));
        assert!(loaded.do_not_disturb && loaded.notifications);
        let unmuted = store
            .update_prefs(|p| p.set_muted("acc", "PEER@im.wechat", false))
            .unwrap();
        assert!(unmuted.muted.is_empty());

        store.set_setting(PREFS_KEY, "{not json").unwrap();
        assert_eq!(store.prefs().unwrap(), Prefs::default());
        // Missing fields take their defaults; a document saved in the older camelCase
        // form still reads.
        store
            .set_setting(PREFS_KEY, r#"{"doNotDisturb": true}"#)
            .unwrap();
        let partial = store.prefs().unwrap();
        assert!(partial.do_not_disturb && partial.notifications);
    }

    #[test]
    fn backend_fields_are_trimmed_and_urls_checked() {
        let cleaned = BackendPrefs {
            api_base: Some("  https://ilink.example.com/ ".into()),
            cdn_base: Some("".into()),
            bot_agent: Some(" Desk/1 ".into()),
            route_tag: Some(" shard-7 ".into()),
        }
        .cleaned()
        .unwrap();
        assert_eq!(
            cleaned.api_base.as_deref(),
            Some("https://ilink.example.com/")
        );
        assert_eq!(cleaned.cdn_base, None);
        assert_eq!(cleaned.bot_agent.as_deref(), Some("Desk/1"));
        assert_eq!(cleaned.route_tag.as_deref(), Some("shard-7"));
        let err = BackendPrefs {
            api_base: Some("ilink.example.com".into()),
            ..BackendPrefs::default()
        }
        .cleaned()
        .unwrap_err();
        assert!(err.contains("https://"), "{err}");
    }
}
