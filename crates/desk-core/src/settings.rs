//! Typed access to the `settings` table. Secrets never go here (they live in the keyring).

use rusqlite::{params, OptionalExtension};

use crate::{CoreError, Locale, Store};

const LOCALE_KEY: &str = "ui.locale";
/// The conversation the window showed last, as `[account_id, peer_id]`.
const OPEN_CONVERSATION_KEY: &str = "ui.open_conversation";

impl Store {
    pub(crate) fn setting(&self, key: &str) -> Result<Option<String>, CoreError> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub(crate) fn set_setting(&self, key: &str, value: &str) -> Result<(), CoreError> {
        self.conn().execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// The language the user picked, if they ever did. An unreadable value counts as unset.
    pub fn saved_locale(&self) -> Result<Option<Locale>, CoreError> {
        Ok(self
            .setting(LOCALE_KEY)?
            .and_then(|tag| Locale::from_tag(&tag).ok()))
    }

    pub fn save_locale(&self, locale: Locale) -> Result<(), CoreError> {
        self.set_setting(LOCALE_KEY, locale.tag())
    }

    /// The conversation the window showed last (account, peer), so that the app opens
    /// there again; an unreadable value counts as unset.
    pub fn saved_open_conversation(&self) -> Result<Option<(String, String)>, CoreError> {
        Ok(self
            .setting(OPEN_CONVERSATION_KEY)?
            .and_then(|json| serde_json::from_str(&json).ok()))
    }

    pub fn save_open_conversation(&self, open: Option<(&str, &str)>) -> Result<(), CoreError> {
        let json = serde_json::to_string(&open).unwrap_or_else(|_| "null".into());
        self.set_setting(OPEN_CONVERSATION_KEY, &json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locale_persists_across_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("db.sqlite3");
        {
            let store = Store::open(&path).unwrap();
            assert_eq!(store.saved_locale().unwrap(), None);
            store.save_locale(Locale::ZhCn).unwrap();
            store.save_locale(Locale::En).unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.saved_locale().unwrap(), Some(Locale::En));
    }

    #[test]
    fn the_open_conversation_is_kept_and_cleared() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(store.saved_open_conversation().unwrap(), None);
        store
            .save_open_conversation(Some(("acc", "p@im.wechat")))
            .unwrap();
        assert_eq!(
            store.saved_open_conversation().unwrap(),
            Some(("acc".to_owned(), "p@im.wechat".to_owned()))
        );
        store.save_open_conversation(None).unwrap();
        assert_eq!(store.saved_open_conversation().unwrap(), None);
    }

    #[test]
    fn unknown_stored_locale_reads_as_unset() {
        let store = Store::open_in_memory().unwrap();
        store.set_setting(LOCALE_KEY, "klingon").unwrap();
        assert_eq!(store.saved_locale().unwrap(), None);
    }
}
