//! Account records: the non-secret half of a login. The bot token is in the keyring
//! under [`crate::secrets::SecretKey::bot_token`].

use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use crate::{CoreError, Store};

/// What a login (or an edit) knows about an account. `None` keeps the stored value, as
/// the official client merges records (docs/protocol.md §3.3 step 2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountUpsert {
    /// Normalised id (`ilink::account_id::normalize`).
    pub account_id: String,
    /// `ilink_bot_id` as issued.
    pub bot_id: String,
    pub base_url: String,
    pub alias: Option<String>,
    /// The WeChat user who scanned the QR code (`ilink_user_id`).
    pub user_id: Option<String>,
    pub cdn_url: Option<String>,
    pub route_tag: Option<String>,
}

/// A stored account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub account_id: String,
    pub bot_id: String,
    pub alias: Option<String>,
    pub user_id: Option<String>,
    pub base_url: String,
    pub cdn_url: Option<String>,
    pub route_tag: Option<String>,
    pub enabled: bool,
    /// Lifecycle status as last set by the account manager (`offline` when new).
    pub status: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// Received messages this version could not decode (kept raw in the log).
    pub undecodable_count: i64,
}

const ACCOUNT_COLUMNS: &str = "account_id, bot_id, alias, user_id, base_url, cdn_url, \
     route_tag, enabled, status, created_ms, updated_ms, undecodable_count";

fn account_from_row(row: &Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        account_id: row.get(0)?,
        bot_id: row.get(1)?,
        alias: row.get(2)?,
        user_id: row.get(3)?,
        base_url: row.get(4)?,
        cdn_url: row.get(5)?,
        route_tag: row.get(6)?,
        enabled: row.get(7)?,
        status: row.get(8)?,
        created_ms: row.get(9)?,
        updated_ms: row.get(10)?,
        undecodable_count: row.get(11)?,
    })
}

impl Store {
    /// Creates the account or merges into it; returns the stored record.
    pub fn upsert_account(&self, new: &AccountUpsert, now_ms: i64) -> Result<Account, CoreError> {
        self.conn().execute(
            "INSERT INTO accounts (account_id, bot_id, alias, user_id, base_url, cdn_url,
                                   route_tag, created_ms, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
             ON CONFLICT(account_id) DO UPDATE SET
                bot_id     = excluded.bot_id,
                base_url   = excluded.base_url,
                alias      = COALESCE(excluded.alias, accounts.alias),
                user_id    = COALESCE(excluded.user_id, accounts.user_id),
                cdn_url    = COALESCE(excluded.cdn_url, accounts.cdn_url),
                route_tag  = COALESCE(excluded.route_tag, accounts.route_tag),
                updated_ms = excluded.updated_ms",
            params![
                new.account_id,
                new.bot_id,
                new.alias,
                new.user_id,
                new.base_url,
                new.cdn_url,
                new.route_tag,
                now_ms
            ],
        )?;
        self.account(&new.account_id)?
            .ok_or(CoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
    }

    pub fn account(&self, account_id: &str) -> Result<Option<Account>, CoreError> {
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE account_id = ?1"
            ))?
            .query_row([account_id], account_from_row)
            .optional()?)
    }

    /// All accounts, oldest first (the order they were added in).
    pub fn list_accounts(&self) -> Result<Vec<Account>, CoreError> {
        let mut stmt = self.conn().prepare(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY created_ms, account_id"
        ))?;
        let rows = stmt.query_map([], account_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every account with its unread total (the sum over its conversations), in one
    /// query; `only` narrows it to one account.
    pub fn accounts_with_unread(
        &self,
        only: Option<&str>,
    ) -> Result<Vec<(Account, i64)>, CoreError> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {ACCOUNT_COLUMNS},
                    (SELECT COALESCE(SUM(c.unread_count), 0) FROM conversations c
                     WHERE c.account_id = accounts.account_id)
             FROM accounts WHERE ?1 IS NULL OR account_id = ?1
             ORDER BY created_ms, account_id"
        ))?;
        let rows = stmt.query_map([only], |r| Ok((account_from_row(r)?, r.get(12)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Returns false if there is no such account.
    pub fn set_account_enabled(
        &self,
        account_id: &str,
        enabled: bool,
        now_ms: i64,
    ) -> Result<bool, CoreError> {
        let changed = self.conn().execute(
            "UPDATE accounts SET enabled = ?2, updated_ms = ?3 WHERE account_id = ?1",
            params![account_id, enabled, now_ms],
        )?;
        Ok(changed > 0)
    }

    /// Returns false if there is no such account.
    pub fn set_account_status(
        &self,
        account_id: &str,
        status: &str,
        now_ms: i64,
    ) -> Result<bool, CoreError> {
        let changed = self.conn().execute(
            "UPDATE accounts SET status = ?2, updated_ms = ?3 WHERE account_id = ?1",
            params![account_id, status, now_ms],
        )?;
        Ok(changed > 0)
    }

    /// Other accounts bound to the same WeChat user. The server keeps one binding per user,
    /// so after a login these are stale and get replaced (docs/protocol.md §3.3 step 4).
    pub fn accounts_bound_to_user(
        &self,
        user_id: &str,
        except_account_id: &str,
    ) -> Result<Vec<String>, CoreError> {
        let mut stmt = self.conn().prepare(
            "SELECT account_id FROM accounts WHERE user_id = ?1 AND account_id <> ?2
             ORDER BY account_id",
        )?;
        let rows = stmt.query_map([user_id, except_account_id], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes the account and, by cascade, its cursor, peers, messages, tokens, dedupe
    /// keys and outbox. The caller deletes its keyring secret and media files.
    pub fn delete_account(&self, account_id: &str) -> Result<bool, CoreError> {
        let changed = self
            .conn()
            .execute("DELETE FROM accounts WHERE account_id = ?1", [account_id])?;
        Ok(changed > 0)
    }
}

/// `accounts.status` of an account whose WeChat user logged in again as a new bot
/// (docs/protocol.md §3.3 step 4): disabled, token gone, log kept.
pub const STATUS_REPLACED: &str = "replaced";
/// `accounts.status` of an account removed with its log kept.
pub const STATUS_REMOVED: &str = "removed";

/// The error recorded on outbound messages that were still waiting when their account
/// was removed or replaced.
pub const ACCOUNT_GONE: &str = "account removed";

impl Store {
    /// A friendly name for a new account nobody named: "WeChat bot N" (in the saved
    /// interface language), N one past the highest such name in use.
    pub fn next_default_alias(&self) -> Result<String, CoreError> {
        let stem = match self.saved_locale()? {
            Some(crate::Locale::ZhCn) => "微信机器人",
            _ => "WeChat bot",
        };
        let highest = self
            .list_accounts()?
            .iter()
            .filter_map(|a| {
                a.alias
                    .as_deref()?
                    .strip_prefix(stem)?
                    .trim()
                    .parse::<u32>()
                    .ok()
            })
            .max()
            .unwrap_or(0);
        Ok(format!("{stem} {}", highest + 1))
    }

    /// Sets or clears (`None`) the alias; false if there is no such account.
    pub fn set_account_alias(
        &self,
        account_id: &str,
        alias: Option<&str>,
        now_ms: i64,
    ) -> Result<bool, CoreError> {
        let changed = self.conn().execute(
            "UPDATE accounts SET alias = ?2, updated_ms = ?3 WHERE account_id = ?1",
            params![account_id, alias, now_ms],
        )?;
        Ok(changed > 0)
    }

    /// Retires an account but keeps its log (messages, peers, conversations): it is
    /// disabled with `status` ([`STATUS_REPLACED`] or [`STATUS_REMOVED`]), its cursor
    /// (which embeds the old token) and context tokens are deleted, and its unfinished
    /// outbound messages fail with [`ACCOUNT_GONE`]. Returns the failed outbox ids, or
    /// `None` if there is no such account.
    pub fn retire_account(
        &self,
        account_id: &str,
        status: &str,
        now_ms: i64,
    ) -> Result<Option<Vec<i64>>, CoreError> {
        let tx = self.conn().unchecked_transaction()?;
        let changed = tx.execute(
            "UPDATE accounts SET enabled = 0, status = ?2, updated_ms = ?3 WHERE account_id = ?1",
            params![account_id, status, now_ms],
        )?;
        if changed == 0 {
            return Ok(None);
        }
        tx.execute("DELETE FROM cursors WHERE account_id = ?1", [account_id])?;
        tx.execute(
            "DELETE FROM context_tokens WHERE account_id = ?1",
            [account_id],
        )?;
        let unfinished: Vec<i64> = {
            let mut stmt = tx.prepare(
                "SELECT id FROM outbox WHERE account_id = ?1
                 AND state IN ('queued', 'sending', 'waiting_for_window') ORDER BY id",
            )?;
            let rows = stmt.query_map([account_id], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        tx.execute(
            "UPDATE messages SET delivery = 'failed', error = ?2, failure = ?3
             WHERE id IN (SELECT message_id FROM outbox WHERE account_id = ?1
                          AND state IN ('queued', 'sending', 'waiting_for_window'))",
            params![
                account_id,
                ACCOUNT_GONE,
                crate::views::SendFailure::AccountRemoved.as_str()
            ],
        )?;
        tx.execute(
            "UPDATE outbox SET state = 'failed', last_error = ?2, updated_ms = ?3
             WHERE account_id = ?1 AND state IN ('queued', 'sending', 'waiting_for_window')",
            params![account_id, ACCOUNT_GONE, now_ms],
        )?;
        tx.commit()?;
        Ok(Some(unfinished))
    }

    /// Up to `limit` account ids, newest first (by when they were added), for the
    /// login's `local_token_list`.
    pub fn newest_account_ids(&self, limit: usize) -> Result<Vec<String>, CoreError> {
        let mut stmt = self.conn().prepare(
            "SELECT account_id FROM accounts ORDER BY created_ms DESC, account_id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample(account_id: &str) -> AccountUpsert {
        AccountUpsert {
            account_id: account_id.into(),
            bot_id: format!("{account_id}@im.bot"),
            base_url: "https://ilinkai.weixin.qq.com".into(),
            alias: Some("Support".into()),
            user_id: Some("u1@im.wechat".into()),
            cdn_url: None,
            route_tag: None,
        }
    }

    #[test]
    fn upsert_creates_then_merges_keeping_missing_values() {
        let store = Store::open_in_memory().unwrap();
        let created = store.upsert_account(&sample("b1-im-bot"), 1_000).unwrap();
        assert_eq!(created.alias.as_deref(), Some("Support"));
        assert!(created.enabled);
        assert_eq!(created.status, "offline");
        assert_eq!((created.created_ms, created.updated_ms), (1_000, 1_000));

        let relogin = AccountUpsert {
            alias: None,
            base_url: "https://other.example".into(),
            cdn_url: Some("https://cdn.example".into()),
            ..sample("b1-im-bot")
        };
        let merged = store.upsert_account(&relogin, 2_000).unwrap();
        assert_eq!(
            merged.alias.as_deref(),
            Some("Support"),
            "missing value kept"
        );
        assert_eq!(merged.base_url, "https://other.example");
        assert_eq!(merged.cdn_url.as_deref(), Some("https://cdn.example"));
        assert_eq!((merged.created_ms, merged.updated_ms), (1_000, 2_000));
    }

    #[test]
    fn finds_other_accounts_of_the_same_user() {
        let store = Store::open_in_memory().unwrap();
        for id in ["old", "new", "unrelated"] {
            let mut a = sample(id);
            if id == "unrelated" {
                a.user_id = Some("someone-else".into());
            }
            store.upsert_account(&a, 1).unwrap();
        }
        assert_eq!(
            store.accounts_bound_to_user("u1@im.wechat", "new").unwrap(),
            ["old"]
        );
    }

    #[test]
    fn list_enable_status_delete() {
        let store = Store::open_in_memory().unwrap();
        store.upsert_account(&sample("b"), 2).unwrap();
        store.upsert_account(&sample("a"), 1).unwrap();
        let ids: Vec<_> = store
            .list_accounts()
            .unwrap()
            .into_iter()
            .map(|a| a.account_id)
            .collect();
        assert_eq!(ids, ["a", "b"]);

        assert!(store.set_account_enabled("a", false, 5).unwrap());
        assert!(store.set_account_status("a", "paused", 6).unwrap());
        let a = store.account("a").unwrap().unwrap();
        assert!(!a.enabled);
        assert_eq!((a.status.as_str(), a.updated_ms), ("paused", 6));
        assert!(!store.set_account_enabled("nope", true, 1).unwrap());

        assert!(store.set_account_alias("b", Some("Sales"), 7).unwrap());
        assert_eq!(
            store.account("b").unwrap().unwrap().alias.as_deref(),
            Some("Sales")
        );
        assert!(store.set_account_alias("b", None, 8).unwrap());
        assert_eq!(store.account("b").unwrap().unwrap().alias, None);
        assert!(!store.set_account_alias("nope", None, 8).unwrap());
        assert_eq!(store.newest_account_ids(10).unwrap(), ["b", "a"]);
        assert_eq!(store.newest_account_ids(1).unwrap(), ["b"]);

        assert!(store.delete_account("a").unwrap());
        assert!(!store.delete_account("a").unwrap());
        assert_eq!(store.list_accounts().unwrap().len(), 1);

        assert_eq!(
            store.retire_account("nope", STATUS_REMOVED, 9).unwrap(),
            None
        );
        assert_eq!(
            store.retire_account("b", STATUS_REPLACED, 9).unwrap(),
            Some(vec![])
        );
        let b = store.account("b").unwrap().unwrap();
        assert!(!b.enabled);
        assert_eq!(b.status, STATUS_REPLACED);
    }
}
