//! The owner's own name and note for each peer (per account). iLink gives a bot only
//! opaque ids, so the owner names the people they talk to; the names live here and are
//! never sent to WeChat. The owner's name (`alias`) wins over any name a server or the
//! emulator's demo gave (`display_name`) wherever a peer is shown; clearing it falls
//! back to that name, then to the id.

use rusqlite::{params, params_from_iter, OptionalExtension};
use serde::Serialize;

use super::SearchScope;
use crate::{CoreError, Store};

/// Longest name the owner may give a peer, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 2000;
/// How much of the peer's first message is offered as a hint while naming.
pub const HINT_CHARS: usize = 80;

/// The SQL for the name a peer is shown by (`p` is the `peers` row): the one rule,
/// used by every query that shows a peer.
macro_rules! shown_name {
    () => {
        "COALESCE(p.alias, p.display_name)"
    };
}
pub(crate) use shown_name;

/// A peer as the owner knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PeerCard {
    pub account_id: String,
    pub peer_id: String,
    /// The name the peer is shown by: the owner's, else one the server gave; `null`
    /// shows the id.
    pub display_name: Option<String>,
    /// The owner's own name for the peer.
    pub alias: Option<String>,
    /// The owner's free-text note.
    pub note: Option<String>,
    /// The start of the peer's first text message, a hint while naming.
    pub first_text: Option<String>,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// The peer's context token came from an import and its age is unknown: the reply
    /// window may be closed until the peer writes.
    pub window_age_unknown: bool,
}

// The query spells out the time of a token of unknown age.
const _: () = assert!(super::CONTEXT_AGE_UNKNOWN_MS == 0);

const CARD_QUERY: &str = concat!(
    "SELECT p.account_id, p.peer_id, ",
    shown_name!(),
    ", p.alias, p.note,
        (SELECT m.text FROM messages m
         WHERE m.account_id = p.account_id AND m.peer_id = p.peer_id AND m.direction = 'in'
           AND m.item_kind = 'text' AND m.text IS NOT NULL AND trim(m.text) <> ''
         ORDER BY m.create_time_ms, m.id LIMIT 1),
        p.first_seen_ms, p.last_seen_ms,
        EXISTS (SELECT 1 FROM context_tokens ct
                WHERE ct.account_id = p.account_id AND ct.peer_id = p.peer_id
                  AND ct.last_seen_ms = 0)
     FROM peers p"
);

fn card_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PeerCard> {
    let first_text: Option<String> = r.get(5)?;
    Ok(PeerCard {
        account_id: r.get(0)?,
        peer_id: r.get(1)?,
        display_name: r.get(2)?,
        alias: r.get(3)?,
        note: r.get(4)?,
        first_text: first_text.map(|t| hint(&t)),
        first_seen_ms: r.get(6)?,
        last_seen_ms: r.get(7)?,
        window_age_unknown: r.get(8)?,
    })
}

/// The first line of a message, cut to [`HINT_CHARS`].
fn hint(text: &str) -> String {
    let line = text.trim().lines().next().unwrap_or_default().trim();
    let mut out: String = line.chars().take(HINT_CHARS).collect();
    if line.chars().count() > HINT_CHARS {
        out.push('…');
    }
    out
}

fn is_invisible_control(c: char) -> bool {
    // Bidirectional overrides could make a name read as something else.
    c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// A name as stored: one line (runs of white space become one space), control and
/// direction-override characters dropped, trimmed; blank clears it.
pub fn clean_name(name: &str) -> Result<Option<String>, CoreError> {
    let mut out = String::with_capacity(name.len());
    for word in name.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().filter(|c| !is_invisible_control(*c)));
    }
    let out = out.trim().to_owned();
    if out.chars().count() > MAX_NAME_CHARS {
        return Err(CoreError::PeerNameTooLong {
            max: MAX_NAME_CHARS,
        });
    }
    Ok(Some(out).filter(|n| !n.is_empty()))
}

/// A note as stored: line breaks and tabs kept, other control and direction-override
/// characters dropped, trimmed; blank clears it.
pub fn clean_note(note: &str) -> Result<Option<String>, CoreError> {
    let out: String = note
        .replace("\r\n", "\n")
        .chars()
        .filter(|c| matches!(c, '\n' | '\t') || !is_invisible_control(*c))
        .collect();
    let out = out.trim().to_owned();
    if out.chars().count() > MAX_NOTE_CHARS {
        return Err(CoreError::PeerNoteTooLong {
            max: MAX_NOTE_CHARS,
        });
    }
    Ok(Some(out).filter(|n| !n.is_empty()))
}

impl Store {
    /// Gives a peer the owner's name (cleaned by [`clean_name`]; blank clears it).
    /// Returns the stored name. Only peers the account knows can be named.
    pub fn set_peer_alias(
        &self,
        account_id: &str,
        peer_id: &str,
        name: &str,
    ) -> Result<Option<String>, CoreError> {
        let name = clean_name(name)?;
        self.update_peer(account_id, peer_id, "alias", name.as_deref())?;
        Ok(name)
    }

    /// Sets the owner's note on a peer (cleaned by [`clean_note`]; blank clears it).
    pub fn set_peer_note(
        &self,
        account_id: &str,
        peer_id: &str,
        note: &str,
    ) -> Result<Option<String>, CoreError> {
        let note = clean_note(note)?;
        self.update_peer(account_id, peer_id, "note", note.as_deref())?;
        Ok(note)
    }

    fn update_peer(
        &self,
        account_id: &str,
        peer_id: &str,
        column: &'static str,
        value: Option<&str>,
    ) -> Result<(), CoreError> {
        let changed = self.conn().execute(
            &format!("UPDATE peers SET {column} = ?3 WHERE account_id = ?1 AND peer_id = ?2"),
            params![account_id, peer_id, value],
        )?;
        if changed == 0 {
            return Err(CoreError::UnknownPeer {
                account_id: account_id.to_owned(),
                peer_id: peer_id.to_owned(),
            });
        }
        Ok(())
    }

    /// One peer (the id matches case-insensitively).
    pub fn peer_card(
        &self,
        account_id: &str,
        peer_id: &str,
    ) -> Result<Option<PeerCard>, CoreError> {
        let sql = format!("{CARD_QUERY} WHERE p.account_id = ?1 AND p.peer_id = ?2");
        let mut stmt = self.conn().prepare_cached(&sql)?;
        Ok(stmt
            .query_row(params![account_id, peer_id], card_from_row)
            .optional()?)
    }

    /// The peers of one account (or of every account), most recently seen first.
    pub fn peer_cards(&self, account_id: Option<&str>) -> Result<Vec<PeerCard>, CoreError> {
        let sql = format!(
            "{CARD_QUERY} WHERE ?1 IS NULL OR p.account_id = ?1
             ORDER BY p.last_seen_ms DESC, p.account_id, p.peer_id"
        );
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map(params![account_id], card_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Peers whose name, note or id holds every whitespace-separated term of `query`
    /// (case-insensitive), within `scope`, most recently seen first. Search shows these
    /// beside the messages, so a person is found by the name the owner gave them.
    pub fn search_peers(
        &self,
        query: &str,
        scope: &SearchScope,
        limit: usize,
    ) -> Result<Vec<PeerCard>, CoreError> {
        let terms: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
        if terms.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let mut sql = format!(
            "{CARD_QUERY} WHERE (?1 IS NULL OR p.account_id = ?1) AND (?2 IS NULL OR p.peer_id = ?2)"
        );
        for i in 0..terms.len() {
            sql.push_str(&format!(
                " AND instr(lower(coalesce(p.alias, '') || char(10) || coalesce(p.display_name, '')
                   || char(10) || coalesce(p.note, '') || char(10) || p.peer_id), ?{}) > 0",
                i + 4
            ));
        }
        sql.push_str(" ORDER BY p.last_seen_ms DESC, p.account_id, p.peer_id LIMIT ?3");
        let mut values: Vec<rusqlite::types::Value> = vec![
            scope.account_id.clone().into(),
            scope.peer_id.clone().into(),
            (limit as i64).into(),
        ];
        values.extend(terms.into_iter().map(Into::into));
        let mut stmt = self.conn().prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(values), card_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The accounts that know a peer (for a command that names a peer without its
    /// account).
    pub fn accounts_knowing_peer(&self, peer_id: &str) -> Result<Vec<String>, CoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT account_id FROM peers WHERE peer_id = ?1 ORDER BY account_id",
        )?;
        let rows = stmt.query_map(params![peer_id], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::accounts::tests::sample;
    use crate::store::conversations::tests::text;

    fn store() -> Store {
        let store = Store::open_in_memory().unwrap();
        store.upsert_account(&sample("acc"), 0).unwrap();
        store.upsert_account(&sample("other"), 0).unwrap();
        let batch = [
            text(
                "o9cq80@im.wechat",
                1,
                100,
                "  Hello, I ordered the blue teapot\nsecond line",
            ),
            text("o9cq80@im.wechat", 2, 200, "still waiting"),
            text("zz77@im.wechat", 3, 300, "hi"),
        ];
        store.commit_inbound_batch("acc", None, &batch, 0).unwrap();
        store
            .commit_inbound_batch("other", None, &[text("o9cq80@im.wechat", 4, 400, "x")], 0)
            .unwrap();
        store
    }

    fn shown(store: &Store, account: &str, peer: &str) -> Option<String> {
        store
            .conversation(account, peer)
            .unwrap()
            .unwrap()
            .display_name
    }

    #[test]
    fn the_owners_name_wins_and_clearing_it_falls_back() {
        let store = store();
        assert_eq!(shown(&store, "acc", "o9cq80@im.wechat"), None);
        store
            .name_peer("acc", "o9cq80@im.wechat", Some("Server name"), 0)
            .unwrap();
        assert_eq!(
            shown(&store, "acc", "o9cq80@im.wechat").as_deref(),
            Some("Server name")
        );
        let stored = store
            .set_peer_alias("acc", "O9CQ80@im.wechat", "  Teapot\n  customer ")
            .unwrap();
        assert_eq!(stored.as_deref(), Some("Teapot customer"));
        assert_eq!(
            shown(&store, "acc", "o9cq80@im.wechat").as_deref(),
            Some("Teapot customer")
        );
        // Per account: the same id elsewhere keeps its own (no) name.
        assert_eq!(shown(&store, "other", "o9cq80@im.wechat"), None);
        // A name the server gives later does not override the owner's.
        store
            .name_peer("acc", "o9cq80@im.wechat", Some("Newer server name"), 0)
            .unwrap();
        assert_eq!(
            shown(&store, "acc", "o9cq80@im.wechat").as_deref(),
            Some("Teapot customer")
        );
        assert_eq!(
            store
                .set_peer_alias("acc", "o9cq80@im.wechat", "   ")
                .unwrap(),
            None
        );
        assert_eq!(
            shown(&store, "acc", "o9cq80@im.wechat").as_deref(),
            Some("Newer server name")
        );
        let card = store.peer_card("acc", "o9cq80@im.wechat").unwrap().unwrap();
        assert_eq!(card.alias, None);
    }

    #[test]
    fn notes_keep_lines_and_names_refuse_unknown_peers_and_length() {
        let store = store();
        let note = store
            .set_peer_note(
                "acc",
                "zz77@im.wechat",
                "VIP\r\n<b>pays late</b>\u{202e}\u{7}\n",
            )
            .unwrap();
        assert_eq!(note.as_deref(), Some("VIP\n<b>pays late</b>"));
        let card = store.peer_card("acc", "zz77@im.wechat").unwrap().unwrap();
        assert_eq!(card.note.as_deref(), Some("VIP\n<b>pays late</b>"));
        assert!(matches!(
            store.set_peer_alias("acc", "nobody@im.wechat", "X"),
            Err(CoreError::UnknownPeer { .. })
        ));
        assert!(matches!(
            store.set_peer_alias("acc", "zz77@im.wechat", &"名".repeat(MAX_NAME_CHARS + 1)),
            Err(CoreError::PeerNameTooLong { .. })
        ));
        assert!(store
            .set_peer_alias("acc", "zz77@im.wechat", &"名".repeat(MAX_NAME_CHARS))
            .is_ok());
        assert!(matches!(
            store.set_peer_note("acc", "zz77@im.wechat", &"x".repeat(MAX_NOTE_CHARS + 1)),
            Err(CoreError::PeerNoteTooLong { .. })
        ));
        assert_eq!(
            store
                .set_peer_note("acc", "zz77@im.wechat", "\n \t")
                .unwrap(),
            None
        );
    }

    #[test]
    fn the_first_message_is_the_naming_hint() {
        let store = store();
        let card = store.peer_card("acc", "o9cq80@im.wechat").unwrap().unwrap();
        assert_eq!(
            card.first_text.as_deref(),
            Some("Hello, I ordered the blue teapot")
        );
        assert_eq!(
            hint(&"长".repeat(HINT_CHARS + 5)).chars().count(),
            HINT_CHARS + 1
        );
        let all = store.peer_cards(Some("acc")).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(store.peer_cards(None).unwrap().len(), 3);
    }

    #[test]
    fn peers_are_found_by_name_note_or_id_within_the_scope() {
        let store = store();
        store
            .set_peer_alias("acc", "o9cq80@im.wechat", "王小明 Teapot")
            .unwrap();
        store
            .set_peer_note("acc", "zz77@im.wechat", "Wholesale buyer")
            .unwrap();
        let found = |q: &str, account: Option<&str>| -> Vec<(String, String)> {
            let scope = SearchScope {
                account_id: account.map(str::to_owned),
                peer_id: None,
            };
            store
                .search_peers(q, &scope, 10)
                .unwrap()
                .into_iter()
                .map(|c| (c.account_id, c.peer_id))
                .collect()
        };
        let acc = |p: &str| ("acc".to_owned(), p.to_owned());
        assert_eq!(found("小明", None), [acc("o9cq80@im.wechat")]);
        assert_eq!(found("teapot 王", None), [acc("o9cq80@im.wechat")]);
        assert_eq!(found("WHOLESALE", None), [acc("zz77@im.wechat")]);
        assert!(found("teapot buyer", None).is_empty());
        // By id: both accounts know o9cq80.
        assert_eq!(found("o9cq", None).len(), 2);
        assert_eq!(
            found("o9cq", Some("other")),
            [("other".to_owned(), "o9cq80@im.wechat".to_owned())]
        );
        // LIKE wildcards are plain characters here.
        assert!(found("%", None).is_empty());
        assert!(found("   ", None).is_empty());
        assert_eq!(
            store.accounts_knowing_peer("O9CQ80@im.wechat").unwrap(),
            ["acc", "other"]
        );
    }
}
