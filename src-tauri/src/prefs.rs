//! The window's own preferences (notifications, muted peers, start-up), kept as a small
//! JSON file in the data folder. Written atomically (temp file + rename); an unreadable
//! file counts as defaults, with a warning, so a bad edit never stops the app.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const FILE_NAME: &str = "ui-prefs.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase", default)]
pub struct Prefs {
    /// Notifications for inbound messages while the window is hidden or unfocused.
    pub notifications: bool,
    /// Silences every notification.
    pub do_not_disturb: bool,
    /// Conversations that never notify, as `[account_id, peer_id]`.
    pub muted: Vec<(String, String)>,
    /// Start with the window hidden in the tray.
    pub start_minimised: bool,
    /// Start when the user logs in (an XDG autostart entry).
    pub autostart: bool,
    /// A self-hosted iLink backend instead of the official one.
    pub backend: BackendPrefs,
}

/// Advanced: where logins go and what the client calls itself. Empty means the
/// official default. Used by the next login (API and CDN base) and from the next start
/// (bot agent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase", default)]
pub struct BackendPrefs {
    pub api_base: Option<String>,
    pub cdn_base: Option<String>,
    pub bot_agent: Option<String>,
    /// `SKRouteTag` sent by the next login and kept with its account.
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

    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join(FILE_NAME)
    }

    pub fn load(path: &Path) -> Prefs {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|err| {
                tracing::warn!(%err, path = %path.display(), "unreadable preferences; using defaults");
                Prefs::default()
            }),
            Err(_) => Prefs::default(),
        }
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("json.tmp");
        let body = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, body)?;
        std::fs::rename(&tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_survives_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = Prefs::path_in(dir.path());
        assert_eq!(Prefs::load(&path), Prefs::default());
        let mut prefs = Prefs::default();
        prefs.set_muted("acc", "Peer@im.wechat", true);
        prefs.do_not_disturb = true;
        prefs.save(&path).unwrap();
        let loaded = Prefs::load(&path);
        assert!(loaded.is_muted("acc", "peer@IM.wechat"));
        assert!(!loaded.is_muted("other", "peer@im.wechat"));
        assert!(loaded.do_not_disturb);
        let mut unmuted = loaded.clone();
        unmuted.set_muted("acc", "PEER@im.wechat", false);
        assert!(unmuted.muted.is_empty());

        std::fs::write(&path, b"{not json").unwrap();
        assert_eq!(Prefs::load(&path), Prefs::default());
        // Missing fields take their defaults.
        std::fs::write(&path, br#"{"doNotDisturb": true}"#).unwrap();
        let partial = Prefs::load(&path);
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
