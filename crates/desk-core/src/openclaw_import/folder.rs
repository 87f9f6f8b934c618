//! The official Weixin plugin's state folder (docs/protocol.md "Moving over from
//! OpenClaw"), read the way `@tencent-weixin/openclaw-weixin` 2.4.9 reads it
//! (`storage/state-dir.js`, `storage/sync-buf.js`, `auth/accounts.js`,
//! `auth/pairing.js`, `messaging/inbound.js`). Only ever read: nothing here opens a
//! file for writing.
//!
//! Where the plugin shrugs off a damaged file (it starts over with no cursor, no tokens),
//! an import refuses the account with the reason instead: polling from no cursor could
//! repeat or lose messages, and the owner should know.

use std::path::{Path, PathBuf};

// The plugin falls back to the official host and CDN, as ours do.
use ilink::client::DEFAULT_API_BASE;
use ilink::media::DEFAULT_CDN_BASE;
use ilink::Secret;
use serde_json::Value;

/// Where the plugin keeps its state, and the two places it looks beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateFolder {
    root: PathBuf,
    /// The framework's credentials folder (the allow-lists live there).
    credentials: PathBuf,
    /// `openclaw.json` (CDN base and route tag per account).
    config: PathBuf,
}

impl StateFolder {
    /// The folder at `root`, with the credentials and config inside it.
    pub fn at(root: impl Into<PathBuf>) -> StateFolder {
        let root = root.into();
        StateFolder {
            credentials: root.join("credentials"),
            config: root.join("openclaw.json"),
            root,
        }
    }

    /// The folder the plugin itself would use: `OPENCLAW_STATE_DIR`, else
    /// `CLAWDBOT_STATE_DIR`, else `~/.openclaw` (or the older `~/.clawdbot` when only
    /// that exists), with `OPENCLAW_OAUTH_DIR` and `OPENCLAW_CONFIG_PATH` /
    /// `OPENCLAW_CONFIG` honoured as the plugin and its host do. `None` without a home.
    pub fn from_env() -> Option<StateFolder> {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let home = dirs::home_dir();
        let root = match var("OPENCLAW_STATE_DIR").or_else(|| var("CLAWDBOT_STATE_DIR")) {
            Some(dir) => expand_home(&dir, home.as_deref())?,
            None => {
                let home = home.clone()?;
                let current = home.join(".openclaw");
                let older = home.join(".clawdbot");
                if !current.exists() && older.exists() {
                    older
                } else {
                    current
                }
            }
        };
        let mut folder = StateFolder::at(root);
        if let Some(dir) = var("OPENCLAW_OAUTH_DIR") {
            folder.credentials = expand_home(&dir, home.as_deref())?;
        }
        if let Some(path) = var("OPENCLAW_CONFIG_PATH").or_else(|| var("OPENCLAW_CONFIG")) {
            folder.config = expand_home(&path, home.as_deref())?;
        }
        Some(folder)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(super) fn config_path(&self) -> &Path {
        &self.config
    }

    fn weixin(&self) -> PathBuf {
        self.root.join("openclaw-weixin")
    }

    fn accounts_dir(&self) -> PathBuf {
        self.weixin().join("accounts")
    }

    /// Whether the plugin's folder is there at all.
    pub fn exists(&self) -> bool {
        self.weixin().is_dir()
    }

    /// The account ids in `accounts.json`, in its order (none when the file is missing).
    pub fn indexed_ids(&self) -> Result<Vec<String>, String> {
        let path = self.weixin().join("accounts.json");
        let Some(value) = read_json(&path)? else {
            return Ok(Vec::new());
        };
        let Value::Array(items) = value else {
            return Err(format!("{} is not a list of account ids", path.display()));
        };
        let mut ids: Vec<String> = Vec::new();
        for id in items.iter().filter_map(Value::as_str).map(str::trim) {
            if !id.is_empty() && !ids.iter().any(|known| known == id) {
                ids.push(id.to_owned());
            }
        }
        Ok(ids)
    }

    /// Everything stored for one account, or why it cannot be imported.
    pub fn read_account(&self, id: &str) -> Result<AccountState, String> {
        if !is_plugin_account_id(id) {
            return Err(format!(
                "accounts.json lists {id:?}, which is not an account id the plugin writes"
            ));
        }
        let bot_id = ilink::account_id::denormalize(id);
        let record = self.read_record(id, &bot_id)?;
        let token = record
            .get("token")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                format!(
                    "no bot token is saved for it (accounts/{id}.json has none); log it in \
                     again with a QR code"
                )
            })?;
        let text = |key: &str| {
            record
                .get(key)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let (cdn_url, route_tag) = self.config_for(id);
        Ok(AccountState {
            account_id: id.to_owned(),
            bot_id,
            token: Secret::new(token),
            user_id: text("userId"),
            saved_at: text("savedAt"),
            base_url: text("baseUrl").unwrap_or_else(|| DEFAULT_API_BASE.to_owned()),
            cdn_url: cdn_url.unwrap_or_else(|| DEFAULT_CDN_BASE.to_owned()),
            route_tag,
            cursor: self.read_cursor(id)?,
            context_tokens: self.read_context_tokens(id)?,
            allow_from: self.read_allow_from(id, text("userId"))?,
        })
    }

    /// `accounts/<id>.json`, else the older file under the raw bot id, else the
    /// single-account `credentials/openclaw-weixin/credentials.json` (`loadWeixinAccount`).
    fn read_record(
        &self,
        id: &str,
        bot_id: &str,
    ) -> Result<serde_json::Map<String, Value>, String> {
        let mut candidates = vec![self.accounts_dir().join(format!("{id}.json"))];
        if bot_id != id {
            candidates.push(self.accounts_dir().join(format!("{bot_id}.json")));
        }
        for path in &candidates {
            if let Some(value) = read_json(path)? {
                return match value {
                    Value::Object(map) => Ok(map),
                    _ => Err(format!("{} is not an account record", path.display())),
                };
            }
        }
        let legacy = self
            .root
            .join("credentials/openclaw-weixin/credentials.json");
        match read_json(&legacy)? {
            Some(Value::Object(map)) => Ok(map),
            Some(_) => Err(format!("{} is not an account record", legacy.display())),
            None => Err(format!(
                "it is listed in accounts.json but accounts/{id}.json is missing"
            )),
        }
    }

    /// `accounts/<id>.sync.json`, the raw-id file, then the single-account one
    /// (`loadGetUpdatesBuf`). `None` when the plugin never stored a cursor.
    fn read_cursor(&self, id: &str) -> Result<Option<Secret>, String> {
        let bot_id = ilink::account_id::denormalize(id);
        let mut candidates = vec![self.accounts_dir().join(format!("{id}.sync.json"))];
        if bot_id != id {
            candidates.push(self.accounts_dir().join(format!("{bot_id}.sync.json")));
        }
        candidates.push(
            self.root
                .join("agents/default/sessions/.openclaw-weixin-sync/default.json"),
        );
        for path in &candidates {
            let Some(value) = read_json(path)? else {
                continue;
            };
            return match value.get("get_updates_buf") {
                Some(Value::String(buf)) if buf.is_empty() => Ok(None),
                Some(Value::String(buf)) => Ok(Some(Secret::new(buf.as_str()))),
                _ => Err(format!(
                    "its cursor file {} has no get_updates_buf text",
                    path.display()
                )),
            };
        }
        Ok(None)
    }

    /// `accounts/<id>.context-tokens.json`: `{ "<peer>": "<context_token>" }`.
    fn read_context_tokens(&self, id: &str) -> Result<Vec<(String, Secret)>, String> {
        let path = self
            .accounts_dir()
            .join(format!("{id}.context-tokens.json"));
        let Some(value) = read_json(&path)? else {
            return Ok(Vec::new());
        };
        let Value::Object(map) = value else {
            return Err(format!(
                "{} is not a map of peers to tokens",
                path.display()
            ));
        };
        let mut tokens: Vec<(String, Secret)> = Vec::with_capacity(map.len());
        for (peer, token) in map {
            match token.as_str() {
                Some(t) if !t.is_empty() && !peer.trim().is_empty() => {
                    // Peer ids compare case-insensitively here (protocol.md §5.5); the
                    // plugin's keys do not, so one peer may appear twice: keep one.
                    let peer = peer.trim();
                    tokens.retain(|(known, _)| !known.eq_ignore_ascii_case(peer));
                    tokens.push((peer.to_owned(), Secret::new(t)));
                }
                _ => {
                    return Err(format!(
                        "{} holds something other than a token for {peer:?}",
                        path.display()
                    ))
                }
            }
        }
        Ok(tokens)
    }

    /// The peers the plugin lets through (`readAllowFromStore` in
    /// `messaging/process-message.js`): the pairing file's list, else the user who
    /// scanned the QR code.
    fn read_allow_from(&self, id: &str, user_id: Option<String>) -> Result<Vec<String>, String> {
        let path = self.credentials.join(format!(
            "{}-{}-allowFrom.json",
            safe_key("openclaw-weixin"),
            safe_key(id)
        ));
        let listed = match read_json(&path)? {
            None => Vec::new(),
            Some(value) => match value.get("allowFrom") {
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect(),
                _ => return Err(format!("{} has no allowFrom list", path.display())),
            },
        };
        Ok(if listed.is_empty() {
            user_id.into_iter().collect()
        } else {
            listed
        })
    }

    /// The account's `cdnBaseUrl` and `routeTag` from `openclaw.json`
    /// (`channels.openclaw-weixin.accounts.<id>`, else the section itself), as
    /// `resolveWeixinAccount` and `loadConfigRouteTag` read them. An unreadable config
    /// leaves the defaults, as it does for the plugin.
    fn config_for(&self, id: &str) -> (Option<String>, Option<String>) {
        let Ok(Some(config)) = read_json(&self.config) else {
            return (None, None);
        };
        let section = &config["channels"]["openclaw-weixin"];
        let account = &section["accounts"][id];
        let text = |v: &Value| match v {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let scope = if account.is_object() {
            account
        } else {
            section
        };
        let cdn = scope
            .get("cdnBaseUrl")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let route = account
            .get("routeTag")
            .and_then(text)
            .or_else(|| section.get("routeTag").and_then(text));
        (cdn, route)
    }
}

/// What the plugin stored for one account.
#[derive(Debug, Clone)]
pub struct AccountState {
    /// The plugin's account id (the normalised bot id, as ours).
    pub account_id: String,
    /// The bot id as issued (`…@im.bot`), recovered from the account id.
    pub bot_id: String,
    pub token: Secret,
    pub user_id: Option<String>,
    /// When the plugin saved the token (ISO-8601, as written).
    pub saved_at: Option<String>,
    pub base_url: String,
    pub cdn_url: String,
    pub route_tag: Option<String>,
    /// The long-poll cursor (it embeds the bot token: never log it).
    pub cursor: Option<Secret>,
    /// The latest context token per peer; how old each is, the plugin does not record.
    pub context_tokens: Vec<(String, Secret)>,
    /// The peers the plugin answers.
    pub allow_from: Vec<String>,
}

/// The shape `normalizeAccountId` leaves ids in; anything else in the index was not
/// written by the plugin (and must not reach a file path).
fn is_plugin_account_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && id.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// The framework's `safeChannelKey`, used in the allow-list's file name.
fn safe_key(raw: &str) -> String {
    raw.trim()
        .to_lowercase()
        .replace(['\\', '/', ':', '*', '?', '"', '<', '>', '|'], "_")
        .replace("..", "_")
}

fn expand_home(path: &str, home: Option<&Path>) -> Option<PathBuf> {
    match path.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            Some(home?.join(rest.trim_start_matches('/')))
        }
        _ => Some(PathBuf::from(path)),
    }
}

/// The file's JSON; `None` when it does not exist.
fn read_json(path: &Path) -> Result<Option<Value>, String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    // Node writes UTF-8 without a byte-order mark; an editor may have added one.
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    serde_json::from_slice(bytes)
        .map(Some)
        .map_err(|e| format!("{} is not valid JSON ({e})", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_ids_are_recognised_and_paths_are_not() {
        assert!(is_plugin_account_id("b0f5860fdecb-im-bot"));
        assert!(!is_plugin_account_id("../etc"));
        assert!(!is_plugin_account_id("-x"));
        assert!(!is_plugin_account_id("A"));
        assert!(!is_plugin_account_id(&"a".repeat(65)));
    }

    #[test]
    fn allow_list_file_names_match_the_framework() {
        assert_eq!(safe_key("openclaw-weixin"), "openclaw-weixin");
        assert_eq!(safe_key("a..b/c"), "a_b_c");
    }

    #[test]
    fn a_peer_listed_twice_by_case_comes_over_once_and_a_damaged_token_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let folder = StateFolder::at(dir.path());
        std::fs::create_dir_all(folder.accounts_dir()).unwrap();
        let file = folder.accounts_dir().join("b-im-bot.context-tokens.json");
        std::fs::write(
            &file,
            r#"{"Alice@im.wechat": "t1", "alice@im.wechat": "t2"}"#,
        )
        .unwrap();
        let tokens = folder.read_context_tokens("b-im-bot").unwrap();
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens[0].1.expose(), "t2");
        std::fs::write(&file, r#"{"alice@im.wechat": 7}"#).unwrap();
        let why = folder.read_context_tokens("b-im-bot").unwrap_err();
        assert!(why.contains("alice@im.wechat"), "{why}");
    }

    #[test]
    fn home_is_expanded_only_at_the_start() {
        let home = Path::new("/home/u");
        assert_eq!(
            expand_home("~/state", Some(home)),
            Some(PathBuf::from("/home/u/state"))
        );
        assert_eq!(
            expand_home("/x/~y", Some(home)),
            Some(PathBuf::from("/x/~y"))
        );
        assert_eq!(expand_home("~", None), None);
    }
}
