//! The CJK bigram index's text. Chinese, Japanese and Korean are written without spaces
//! and most words are two characters long, below the trigram index's reach; every pair
//! of adjacent CJK characters becomes one token of `messages_cjk` instead, so a
//! two-character term is an exact token lookup.

use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;
use rusqlite::Connection;

/// The SQL function the `messages_cjk` triggers and migration call. Every connection
/// that writes messages must have it (see [`register`]).
pub const BIGRAMS_FUNCTION: &str = "cjk_bigrams";

/// Registers [`BIGRAMS_FUNCTION`] on a connection; the triggers fail without it.
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        BIGRAMS_FUNCTION,
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            // Borrowed, not copied: this runs for every message written.
            let text = match ctx.get_raw(0) {
                ValueRef::Text(bytes) => std::str::from_utf8(bytes).ok(),
                _ => None,
            };
            Ok(text.and_then(bigrams))
        },
    )
}

/// Whether `c` is written without spaces between words: Han ideographs (with the
/// iteration and zero marks), kana and Hangul. Punctuation is left out, so it never
/// joins two words into a pair.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3005..=0x3007          // 々 〆 〇
        | 0x3040..=0x309F        // Hiragana
        | 0x30A0..=0x30FF        // Katakana (with ー and ・)
        | 0x31F0..=0x31FF        // Katakana phonetic extensions
        | 0x3400..=0x4DBF        // CJK Extension A
        | 0x4E00..=0x9FFF        // CJK Unified Ideographs
        | 0xF900..=0xFAFF        // CJK Compatibility Ideographs
        | 0xFF66..=0xFF9F        // Halfwidth Katakana
        | 0x1100..=0x11FF        // Hangul Jamo
        | 0x3130..=0x318F        // Hangul Compatibility Jamo
        | 0xAC00..=0xD7AF        // Hangul Syllables
        | 0x20000..=0x3134F      // CJK Extensions B–G and compatibility supplement
    )
}

/// The overlapping pairs of every run of CJK characters in `text`, space-separated
/// ("明天开会" → "明天 天开 开会"), or `None` when there are none. The index's `ascii`
/// tokenizer splits only on ASCII separators, so each pair stays one token, unfolded.
pub fn bigrams(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut previous: Option<char> = None;
    for c in text.chars() {
        if !is_cjk(c) {
            previous = None;
            continue;
        }
        if let Some(p) = previous {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push(p);
            out.push(c);
        }
        previous = Some(c);
    }
    (!out.is_empty()).then_some(out)
}

/// A search term the bigram index answers exactly: two CJK characters.
pub fn is_bigram_term(term: &str) -> bool {
    let mut chars = term.chars();
    matches!(
        (chars.next(), chars.next(), chars.next()),
        (Some(a), Some(b), None) if is_cjk(a) && is_cjk(b)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_each_run_of_cjk_characters() {
        assert_eq!(bigrams("明天开会").as_deref(), Some("明天 天开 开会"));
        // Latin, digits, spaces and CJK punctuation end a run.
        assert_eq!(
            bigrams("明天ok开会，报告!写").as_deref(),
            Some("明天 开会 报告")
        );
        assert_eq!(
            bigrams("東京へ行きます").as_deref(),
            Some("東京 京へ へ行 行き きま ます")
        );
        assert_eq!(
            bigrams("안녕하세요").as_deref(),
            Some("안녕 녕하 하세 세요")
        );
        assert_eq!(bigrams("コーヒー").as_deref(), Some("コー ーヒ ヒー"));
        // Supplementary-plane ideographs are one character each.
        assert_eq!(bigrams("𠀀𠀁").as_deref(), Some("𠀀𠀁"));
        assert_eq!(bigrams("明 天"), None);
        assert_eq!(bigrams("hello world"), None);
        assert_eq!(bigrams(""), None);
    }

    #[test]
    fn only_two_cjk_characters_make_a_bigram_term() {
        assert!(is_bigram_term("开会"));
        assert!(is_bigram_term("ます"));
        assert!(!is_bigram_term("开"));
        assert!(!is_bigram_term("开会了"));
        assert!(!is_bigram_term("开a"));
        assert!(!is_bigram_term("，会"));
        assert!(!is_bigram_term("ab"));
    }

    #[test]
    fn the_sql_function_returns_null_without_pairs() {
        let conn = Connection::open_in_memory().unwrap();
        register(&conn).unwrap();
        let value =
            |sql: &str| -> Option<String> { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(
            value("SELECT cjk_bigrams('今天开会')").as_deref(),
            Some("今天 天开 开会")
        );
        assert_eq!(value("SELECT cjk_bigrams('only latin')"), None);
        assert_eq!(value("SELECT cjk_bigrams(NULL)"), None);
    }
}
