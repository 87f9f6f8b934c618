//! An account brought over from another client (the OpenClaw Weixin plugin), written in
//! one transaction: the account, its cursor, the peers' context tokens and its AI
//! settings all land, or nothing does.

use rusqlite::params;

use super::AccountUpsert;
use crate::secrets::Secret;
use crate::{CoreError, Store};

/// The time stored with a context token whose age is unknown (one imported from another
/// client): its reply window may already be closed. Any message from the peer brings a
/// token with a real time, which replaces it (`store_context_token` keeps the newer).
pub const CONTEXT_AGE_UNKNOWN_MS: i64 = 0;

/// Everything an import writes besides the bot token (which goes to the secret store).
#[derive(Debug, Clone)]
pub struct ImportedAccount {
    pub account: AccountUpsert,
    /// The long-poll cursor (embeds the bot token: never log it).
    pub cursor: Option<Secret>,
    /// The latest context token per peer, of unknown age.
    pub context_tokens: Vec<(String, Secret)>,
    /// The account's AI settings document.
    pub ai_settings_json: String,
}

impl Store {
    /// Writes a new account and its state in one transaction. Fails, leaving nothing,
    /// when the account exists already. Its peers get a conversation (shown from
    /// `now_ms`, with no messages) so the owner can write to them while a token lasts.
    pub fn insert_imported_account(
        &self,
        imported: &ImportedAccount,
        now_ms: i64,
    ) -> Result<(), CoreError> {
        let a = &imported.account;
        let alias = match &a.alias {
            Some(alias) => alias.clone(),
            None => self.next_default_alias()?,
        };
        let tx = self.conn().unchecked_transaction()?;
        tx.execute(
            "INSERT INTO accounts (account_id, bot_id, alias, user_id, base_url, cdn_url,
                                   route_tag, enabled, created_ms, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?8)",
            params![
                a.account_id,
                a.bot_id,
                alias,
                a.user_id,
                a.base_url,
                a.cdn_url,
                a.route_tag,
                now_ms
            ],
        )?;
        if let Some(cursor) = &imported.cursor {
            tx.execute(
                "INSERT INTO cursors (account_id, get_updates_buf, updated_ms) VALUES (?1, ?2, ?3)",
                params![a.account_id, cursor.expose(), now_ms],
            )?;
        }
        for (peer, token) in &imported.context_tokens {
            tx.execute(
                "INSERT INTO peers (account_id, peer_id, first_seen_ms, last_seen_ms)
                 VALUES (?1, ?2, ?3, ?3) ON CONFLICT DO NOTHING",
                params![a.account_id, peer, now_ms],
            )?;
            tx.execute(
                "INSERT INTO conversations (account_id, peer_id, last_activity_ms)
                 VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![a.account_id, peer, now_ms],
            )?;
            tx.execute(
                "INSERT INTO context_tokens (account_id, peer_id, token, last_seen_ms)
                 VALUES (?1, ?2, ?3, ?4)",
                params![a.account_id, peer, token.expose(), CONTEXT_AGE_UNKNOWN_MS],
            )?;
        }
        tx.execute(
            "INSERT INTO ai_accounts (account_id, settings) VALUES (?1, ?2)",
            params![a.account_id, imported.ai_settings_json],
        )?;
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::accounts::tests::sample;

    fn imported(id: &str) -> ImportedAccount {
        ImportedAccount {
            account: AccountUpsert {
                alias: None,
                ..sample(id)
            },
            cursor: Some(Secret::new("cursor-1")),
            context_tokens: vec![
                ("Alice@im.wechat".into(), Secret::new("ct-a")),
                ("bob@im.wechat".into(), Secret::new("ct-b")),
            ],
            ai_settings_json: r#"{"allow":["bob@im.wechat"]}"#.into(),
        }
    }

    #[test]
    fn an_import_lands_whole_with_tokens_of_unknown_age() {
        let store = Store::open_in_memory().unwrap();
        store
            .insert_imported_account(&imported("acc"), 500)
            .unwrap();
        let account = store.account("acc").unwrap().unwrap();
        assert!(account.enabled);
        assert_eq!(account.alias.as_deref(), Some("WeChat bot 1"));
        assert_eq!(store.cursor("acc").unwrap().unwrap().expose(), "cursor-1");
        assert_eq!(
            store.context_token("acc", "alice@im.wechat").unwrap(),
            Some(("ct-a".to_owned(), CONTEXT_AGE_UNKNOWN_MS))
        );
        let list = store.list_conversations("acc").unwrap();
        assert_eq!(list.len(), 2);
        assert!(list.iter().all(
            |c| c.context_seen_ms == Some(CONTEXT_AGE_UNKNOWN_MS) && c.last_activity_ms == 500
        ));
        assert!(store
            .ai_account_settings("acc")
            .unwrap()
            .unwrap()
            .contains("bob@im.wechat"));
    }

    #[test]
    fn an_existing_account_is_refused_and_nothing_is_written() {
        let store = Store::open_in_memory().unwrap();
        store.upsert_account(&sample("acc"), 1).unwrap();
        assert!(store
            .insert_imported_account(&imported("acc"), 500)
            .is_err());
        assert!(store.cursor("acc").unwrap().is_none());
        assert!(store.list_conversations("acc").unwrap().is_empty());
        assert_eq!(store.ai_account_settings("acc").unwrap(), None);
    }
}
