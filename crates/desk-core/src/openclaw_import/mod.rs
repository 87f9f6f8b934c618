//! Moving accounts over from the official OpenClaw Weixin plugin without scanning again
//! (a new scan would revoke the plugin's token and lose the peers' open reply windows).
//!
//! [`scan`] lists what the plugin's state folder holds; [`import`] brings the chosen
//! accounts over, each whole or not at all: the bot token into the secret store (as a
//! login stores it), then one transaction with the account, its cursor, its peers'
//! context tokens (of unknown age: shown as possibly closed until the peer writes) and
//! the plugin's allow-list as the account's AI allow-list. A failed transaction takes
//! the token back out. The plugin's files are only read.
//!
//! One bot token must have one poller: while the plugin polls too, each takes messages
//! the other never sees. [`ONE_POLLER_WARNING`] says so before an imported account
//! starts, and [`gateway::look`] tells whether a gateway still seems to run.

pub mod folder;
pub mod gateway;

use serde::Serialize;

pub use folder::{AccountState, StateFolder};
pub use gateway::GatewaySigns;

use crate::ai::AccountAiSettings;
use crate::catalog::{text, text_with};
use crate::secrets::{SecretKey, SecretStore};
use crate::store::imported::ImportedAccount;
use crate::store::{AccountUpsert, STATUS_REMOVED, STATUS_REPLACED};
use crate::{CoreError, Locale, Store};

/// Said before any imported account polls (the window says it in its catalogs'
/// words, `openclaw.onePoller`).
pub const ONE_POLLER_WARNING: &str = "One bot token must have one poller. Stop the \
    OpenClaw gateway (or its Weixin channel) before the imported accounts start here; \
    while both poll, each takes messages the other never sees.";

/// One account found in the plugin's folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct FoundAccount {
    /// The plugin's account id, which is ours too.
    pub account_id: String,
    /// The bot id as issued (`…@im.bot`).
    pub bot_id: String,
    /// The WeChat user who scanned the plugin's QR code.
    pub user_id: Option<String>,
    /// When the plugin saved the token (ISO-8601, as it wrote it).
    pub saved_at: Option<String>,
    pub base_url: String,
    /// Whether the plugin stored a long-poll cursor (polling resumes from it).
    pub has_cursor: bool,
    /// Peers with a stored context token (their age is unknown).
    pub context_tokens: u32,
    /// Peers on the plugin's allow-list (they become the AI allow-list).
    pub allowed_peers: u32,
    /// Why it cannot be imported (damaged or partial state, or it is here already);
    /// `null` when it can.
    pub problem: Option<String>,
}

/// What the plugin's state folder holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct OpenClawScan {
    pub state_dir: String,
    /// Whether the plugin's folder (`<state>/openclaw-weixin`) exists.
    pub found: bool,
    /// Why its account list cannot be read, if it cannot.
    pub problem: Option<String>,
    pub accounts: Vec<FoundAccount>,
    /// Signs of a gateway still running.
    pub gateway: GatewaySigns,
}

/// What became of one chosen account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ImportOutcome {
    pub account_id: String,
    pub imported: bool,
    /// Why not, when it was not imported.
    pub reason: Option<String>,
    pub has_cursor: bool,
    pub context_tokens: u32,
    pub allowed_peers: u32,
}

/// Lists the accounts in `folder`, each with what an import would bring or why it
/// cannot (an account already here, or its user's, said in `locale`). Reads files and
/// `store`; writes nothing.
pub fn scan(
    folder: &StateFolder,
    store: &Store,
    locale: Locale,
) -> Result<OpenClawScan, CoreError> {
    let (ids, problem) = match folder.indexed_ids() {
        Ok(ids) => (ids, None),
        Err(why) => (Vec::new(), Some(why)),
    };
    let mut accounts = Vec::with_capacity(ids.len());
    for id in ids {
        accounts.push(match folder.read_account(&id) {
            Ok(state) => FoundAccount {
                problem: conflict(store, &state, locale)?,
                ..found(&state)
            },
            Err(why) => FoundAccount {
                bot_id: ilink::account_id::denormalize(&id),
                account_id: id,
                user_id: None,
                saved_at: None,
                base_url: String::new(),
                has_cursor: false,
                context_tokens: 0,
                allowed_peers: 0,
                problem: Some(why),
            },
        });
    }
    Ok(OpenClawScan {
        state_dir: folder.root().display().to_string(),
        found: folder.exists(),
        problem,
        accounts,
        gateway: gateway::look(folder),
    })
}

/// Imports the accounts `ids` from `folder`, each whole or not at all, in the order
/// given. The folder is read again here, not trusted from an earlier [`scan`].
pub fn import(
    folder: &StateFolder,
    ids: &[String],
    store: &Store,
    secrets: &dyn SecretStore,
    now_ms: i64,
    locale: Locale,
) -> Vec<ImportOutcome> {
    ids.iter()
        .map(
            |id| match import_one(folder, id, store, secrets, now_ms, locale) {
                Ok(state) => ImportOutcome {
                    imported: true,
                    reason: None,
                    ..outcome(&found(&state))
                },
                Err(why) => ImportOutcome {
                    account_id: id.clone(),
                    imported: false,
                    reason: Some(why),
                    has_cursor: false,
                    context_tokens: 0,
                    allowed_peers: 0,
                },
            },
        )
        .collect()
}

fn import_one(
    folder: &StateFolder,
    id: &str,
    store: &Store,
    secrets: &dyn SecretStore,
    now_ms: i64,
    locale: Locale,
) -> Result<AccountState, String> {
    let listed = folder.indexed_ids()?;
    if !listed.iter().any(|known| known == id) {
        return Err(format!("the plugin's accounts.json does not list {id:?}"));
    }
    let state = folder.read_account(id)?;
    if let Some(why) = conflict(store, &state, locale).map_err(|e| e.to_string())? {
        return Err(why);
    }
    let settings = AccountAiSettings {
        allow: state.allow_from.clone(),
        ..AccountAiSettings::default()
    };
    let imported = ImportedAccount {
        account: AccountUpsert {
            account_id: state.account_id.clone(),
            bot_id: state.bot_id.clone(),
            base_url: state.base_url.clone(),
            alias: None,
            user_id: state.user_id.clone(),
            cdn_url: Some(state.cdn_url.clone()),
            route_tag: state.route_tag.clone(),
        },
        cursor: state.cursor.clone(),
        context_tokens: state.context_tokens.clone(),
        ai_settings_json: serde_json::to_string(&settings).map_err(|e| e.to_string())?,
    };
    // The token first, as a login stores it; taken out again if the rows do not land,
    // so that nothing is left half-imported.
    let key = SecretKey::bot_token(&state.account_id);
    let before = secrets
        .get(&key)
        .map_err(|e| format!("cannot read the secret store: {e}"))?;
    secrets
        .set(&key, &state.token)
        .map_err(|e| format!("cannot store the bot token: {e}"))?;
    if let Err(e) = store.insert_imported_account(&imported, now_ms) {
        let undone = match &before {
            Some(old) => secrets.set(&key, old),
            None => secrets.delete(&key),
        };
        if let Err(undo) = undone {
            tracing::error!(account_id = id, error = %undo, "cannot take an imported token back");
        }
        return Err(format!("cannot save it: {e}"));
    }
    Ok(state)
}

/// Why the account cannot come over as things stand here, in `locale`: it is here
/// already, or its WeChat user is bound to another live account here.
fn conflict(
    store: &Store,
    state: &AccountState,
    locale: Locale,
) -> Result<Option<String>, CoreError> {
    if store.account(&state.account_id)?.is_some() {
        return Ok(Some(text(locale, "openclaw.conflictHere")));
    }
    let Some(user) = &state.user_id else {
        return Ok(None);
    };
    for other in store.accounts_bound_to_user(user, &state.account_id)? {
        let live = store
            .account(&other)?
            .is_some_and(|a| a.status != STATUS_REMOVED && a.status != STATUS_REPLACED);
        if live {
            let why = text_with(locale, "openclaw.conflictUser", &[("account", &other)]);
            return Ok(Some(why));
        }
    }
    Ok(None)
}

fn found(state: &AccountState) -> FoundAccount {
    FoundAccount {
        account_id: state.account_id.clone(),
        bot_id: state.bot_id.clone(),
        user_id: state.user_id.clone(),
        saved_at: state.saved_at.clone(),
        base_url: state.base_url.clone(),
        has_cursor: state.cursor.is_some(),
        context_tokens: count(state.context_tokens.len()),
        allowed_peers: count(state.allow_from.len()),
        problem: None,
    }
}

fn outcome(found: &FoundAccount) -> ImportOutcome {
    ImportOutcome {
        account_id: found.account_id.clone(),
        imported: false,
        reason: None,
        has_cursor: found.has_cursor,
        context_tokens: found.context_tokens,
        allowed_peers: found.allowed_peers,
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::MemoryStore;

    const EN: Locale = Locale::En;

    /// A minimal folder in the plugin's layout (the CLI's tests use one the plugin's
    /// own code writes).
    fn folder_with(id: &str) -> (tempfile::TempDir, StateFolder) {
        let dir = tempfile::tempdir().unwrap();
        let accounts = dir.path().join("openclaw-weixin/accounts");
        std::fs::create_dir_all(&accounts).unwrap();
        std::fs::write(
            dir.path().join("openclaw-weixin/accounts.json"),
            format!("[\"{id}\"]"),
        )
        .unwrap();
        std::fs::write(
            accounts.join(format!("{id}.json")),
            r#"{"token": "bot-token", "savedAt": "2026-01-02T03:04:05.000Z",
                "baseUrl": "http://127.0.0.1:9", "userId": "owner@im.wechat"}"#,
        )
        .unwrap();
        std::fs::write(
            accounts.join(format!("{id}.sync.json")),
            r#"{"get_updates_buf":"cur"}"#,
        )
        .unwrap();
        std::fs::write(
            accounts.join(format!("{id}.context-tokens.json")),
            r#"{"alice@im.wechat":"ct"}"#,
        )
        .unwrap();
        let folder = StateFolder::at(dir.path());
        (dir, folder)
    }

    #[test]
    fn a_failed_transaction_takes_the_token_back_out() {
        let (_dir, folder) = folder_with("b1-im-bot");
        let store = Store::open_in_memory().unwrap();
        let secrets = MemoryStore::new();
        // The last write of the transaction fails.
        store
            .conn()
            .execute_batch(
                "CREATE TRIGGER refuse BEFORE INSERT ON ai_accounts
                 BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
            )
            .unwrap();
        let outcomes = import(&folder, &["b1-im-bot".to_owned()], &store, &secrets, 1, EN);
        assert!(!outcomes[0].imported);
        assert!(outcomes[0].reason.as_deref().unwrap().contains("disk full"));
        assert!(store.account("b1-im-bot").unwrap().is_none());
        assert!(store.cursor("b1-im-bot").unwrap().is_none());
        assert!(secrets
            .get(&SecretKey::bot_token("b1-im-bot"))
            .unwrap()
            .is_none());

        store.conn().execute_batch("DROP TRIGGER refuse").unwrap();
        let outcomes = import(&folder, &["b1-im-bot".to_owned()], &store, &secrets, 1, EN);
        assert!(outcomes[0].imported, "{outcomes:?}");
        assert_eq!(
            secrets
                .get(&SecretKey::bot_token("b1-im-bot"))
                .unwrap()
                .unwrap()
                .expose(),
            "bot-token"
        );
        let account = store.account("b1-im-bot").unwrap().unwrap();
        assert_eq!(account.bot_id, "b1@im.bot");
        assert_eq!(
            account.cdn_url.as_deref(),
            Some(ilink::media::DEFAULT_CDN_BASE)
        );
        let allow = store.ai_account_settings("b1-im-bot").unwrap().unwrap();
        // No pairing file: the plugin lets the scanning user through.
        assert!(allow.contains("owner@im.wechat"), "{allow}");
    }

    #[test]
    fn an_account_the_index_does_not_list_is_not_read() {
        let (_dir, folder) = folder_with("b1-im-bot");
        let store = Store::open_in_memory().unwrap();
        let outcomes = import(
            &folder,
            &["../b1-im-bot".to_owned()],
            &store,
            &MemoryStore::new(),
            1,
            EN,
        );
        assert!(outcomes[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("does not list"));
    }

    #[test]
    fn a_user_bound_to_a_live_account_here_is_refused() {
        let (_dir, folder) = folder_with("b1-im-bot");
        let store = Store::open_in_memory().unwrap();
        store
            .upsert_account(
                &AccountUpsert {
                    account_id: "other".into(),
                    bot_id: "other".into(),
                    base_url: "http://127.0.0.1:9".into(),
                    user_id: Some("owner@im.wechat".into()),
                    ..AccountUpsert::default()
                },
                1,
            )
            .unwrap();
        let scan = scan(&folder, &store, EN).unwrap();
        let problem = scan.accounts[0].problem.as_deref().unwrap();
        assert!(problem.contains("bound to the account other"), "{problem}");
        // In the window's language when it is Chinese, the account named as it is.
        let in_chinese = super::scan(&folder, &store, Locale::ZhCn).unwrap();
        assert_eq!(
            in_chinese.accounts[0].problem.as_deref(),
            Some("它的微信用户已绑定到这里的账号 other；微信每个用户只能有一个机器人，请先移除那个账号")
        );
        assert!(scan.found && scan.accounts[0].has_cursor);
        assert_eq!(scan.accounts[0].context_tokens, 1);
    }
}
