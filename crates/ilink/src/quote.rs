//! Partial-quote resolution (docs/protocol.md §5.6 item 4, vectors §10.11): which part of a quoted
//! message a `ref_msg.partial_text` selects, as the official client 2.4.9 computes it.
//!
//! `start` and `end` are substrings of the quoted message's full text; `startindex` and
//! `endindex` are 0-based counts of non-overlapping occurrences, not offsets. The start
//! is the `startindex`-th occurrence of `start`. `endindex` has two readings, and each
//! gives a candidate running from the start to the end of the chosen `end` occurrence:
//!
//! - **global**: the `endindex`-th occurrence of `end` in the whole text;
//! - **relative**: the `endindex`-th occurrence of `end` counted from just after the
//!   start occurrence.
//!
//! A candidate is void if its `end` occurrence is not found or begins before the start.
//! With `quotemd5` the candidate whose UTF-8 MD5 (hex, any case) matches wins, global
//! checked first, and no match means unresolved. Without it the global candidate wins,
//! else the relative one.
//!
//! Indices. The official client works on JS strings (UTF-16), but only ever searches
//! for whole substrings and counts occurrences; no offset crosses the wire. Searching
//! a valid UTF-8 string for a valid substring finds the same occurrences in the same
//! order as searching its UTF-16 form, so working on bytes here gives the same results
//! for every text Rust can hold (a JS string with a lone surrogate has no `&str` form).
//!
//! Choices where the spec is silent, each documented on [`resolve_partial_quote`]: an
//! absent or empty `start`/`end` leaves the quote unresolved; an absent index means 0
//! (protobuf-style JSON leaves zero values out); a negative index is unresolved; an
//! empty or blank `quotemd5` counts as absent.

use crate::models::PartialText;

/// The part of `text` that `partial` selects, or `None` when it does not resolve.
///
/// `text` is the quoted message's full body (from the quote store, §5.6 item 3). The
/// result borrows from `text`.
///
/// Where the spec gives no rule:
/// - `start` or `end` absent or empty: `None` (an empty needle selects nothing);
/// - `startindex` or `endindex` absent: 0, as a protobuf-backed server leaves zero
///   values out of its JSON;
/// - a negative index: `None`;
/// - `quotemd5` absent, empty or blank: no digest check (the global candidate wins);
///   otherwise it is compared trimmed and case-insensitively.
///
/// ```
/// use ilink::models::PartialText;
/// use ilink::quote::resolve_partial_quote;
///
/// let partial = PartialText {
///     start: Some("a".into()),
///     startindex: Some(0),
///     end: Some("x".into()),
///     endindex: Some(1),
///     ..PartialText::default()
/// };
/// assert_eq!(resolve_partial_quote("x-a-x-b-x", &partial), Some("a-x"));
/// ```
pub fn resolve_partial_quote<'t>(text: &'t str, partial: &PartialText) -> Option<&'t str> {
    let start_needle = non_empty(partial.start.as_deref())?;
    let end_needle = non_empty(partial.end.as_deref())?;
    let start_index = occurrence_count(partial.startindex)?;
    let end_index = occurrence_count(partial.endindex)?;
    let digest = partial
        .quotemd5
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());

    let start = nth_occurrence(text, start_needle, start_index, 0)?;
    let after_start = start + start_needle.len();

    let candidate = |from: usize| -> Option<&'t str> {
        let end = nth_occurrence(text, end_needle, end_index, from)?;
        if end < start {
            return None;
        }
        Some(&text[start..end + end_needle.len()])
    };
    let global = candidate(0);
    let relative = candidate(after_start);

    match digest {
        None => global.or(relative),
        Some(digest) => [global, relative]
            .into_iter()
            .flatten()
            .find(|quote| md5_hex(quote).eq_ignore_ascii_case(digest)),
    }
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

/// An index from the wire as a count: absent is 0, negative is unusable.
fn occurrence_count(index: Option<i64>) -> Option<usize> {
    usize::try_from(index.unwrap_or(0)).ok()
}

/// Byte offset of the `n`-th (0-based) non-overlapping occurrence of `needle` in
/// `text[from..]`, counted from `from`.
fn nth_occurrence(text: &str, needle: &str, n: usize, from: usize) -> Option<usize> {
    text.get(from..)?
        .match_indices(needle)
        .nth(n)
        .map(|(offset, _)| from + offset)
}

fn md5_hex(text: &str) -> String {
    crate::md5sum::md5_hex(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial(
        start: &str,
        startindex: i64,
        end: &str,
        endindex: i64,
        quotemd5: Option<&str>,
    ) -> PartialText {
        PartialText {
            start: Some(start.to_owned()),
            end: Some(end.to_owned()),
            startindex: Some(startindex),
            endindex: Some(endindex),
            quotemd5: quotemd5.map(str::to_owned),
        }
    }

    const XAXBX: &str = "x-a-x-b-x";

    // §10.11, first text: global candidate `a-x`, relative candidate `a-x-b-x`.

    #[test]
    fn vector_no_md5_takes_the_global_candidate() {
        assert_eq!(
            resolve_partial_quote(XAXBX, &partial("a", 0, "x", 1, None)),
            Some("a-x")
        );
    }

    #[test]
    fn vector_md5_of_the_relative_candidate_selects_it() {
        let p = partial("a", 0, "x", 1, Some("70150b1f989f48aa8cf60716a1ac8dbc"));
        assert_eq!(resolve_partial_quote(XAXBX, &p), Some("a-x-b-x"));
    }

    #[test]
    fn vector_upper_case_md5_of_the_global_candidate_selects_it() {
        let p = partial("a", 0, "x", 1, Some("E10856052DAD9619FA65B1FBA4824F69"));
        assert_eq!(resolve_partial_quote(XAXBX, &p), Some("a-x"));
    }

    #[test]
    fn vector_md5_matching_nothing_is_unresolved() {
        let p = partial("a", 0, "x", 1, Some("00"));
        assert_eq!(resolve_partial_quote(XAXBX, &p), None);
    }

    // §10.11, second text (multi-byte).

    const CJK: &str = "你好，世界。你好，朋友。";

    #[test]
    fn vector_cjk_global_end_index() {
        assert_eq!(
            resolve_partial_quote(CJK, &partial("你好", 1, "。", 1, None)),
            Some("你好，朋友。")
        );
    }

    #[test]
    fn vector_cjk_void_global_falls_back_to_relative() {
        assert_eq!(
            resolve_partial_quote(CJK, &partial("你好", 1, "。", 0, None)),
            Some("你好，朋友。")
        );
    }

    // §10.11, third text.

    #[test]
    fn vector_occurrences_do_not_overlap() {
        assert_eq!(
            resolve_partial_quote("aaa", &partial("aa", 1, "a", 0, None)),
            None
        );
    }

    // The spec's MD5s are what this module computes.

    #[test]
    fn md5s_of_the_vector_candidates() {
        assert_eq!(md5_hex("a-x-b-x"), "70150b1f989f48aa8cf60716a1ac8dbc");
        assert_eq!(md5_hex("a-x"), "e10856052dad9619fa65b1fba4824f69");
    }

    // Edge cases.

    #[test]
    fn empty_text_is_unresolved() {
        assert_eq!(
            resolve_partial_quote("", &partial("a", 0, "x", 0, None)),
            None
        );
    }

    #[test]
    fn missing_or_empty_needles_are_unresolved() {
        let mut p = partial("a", 0, "x", 1, None);
        p.start = None;
        assert_eq!(resolve_partial_quote(XAXBX, &p), None);
        let mut p = partial("a", 0, "x", 1, None);
        p.end = None;
        assert_eq!(resolve_partial_quote(XAXBX, &p), None);
        assert_eq!(
            resolve_partial_quote(XAXBX, &partial("", 0, "x", 1, None)),
            None
        );
        assert_eq!(
            resolve_partial_quote(XAXBX, &partial("a", 0, "", 1, None)),
            None
        );
        assert_eq!(resolve_partial_quote(XAXBX, &PartialText::default()), None);
    }

    #[test]
    fn missing_indices_count_as_zero() {
        let p = PartialText {
            start: Some("a".into()),
            end: Some("x".into()),
            ..PartialText::default()
        };
        // Global: first `x` is at 0, before the start, so void; relative: `a-x`.
        assert_eq!(resolve_partial_quote(XAXBX, &p), Some("a-x"));
        let p = PartialText {
            start: Some("b".into()),
            end: Some("x".into()),
            endindex: Some(2),
            ..PartialText::default()
        };
        assert_eq!(resolve_partial_quote(XAXBX, &p), Some("b-x"));
    }

    #[test]
    fn negative_or_huge_indices_are_unresolved() {
        assert_eq!(
            resolve_partial_quote(XAXBX, &partial("a", -1, "x", 1, None)),
            None
        );
        assert_eq!(
            resolve_partial_quote(XAXBX, &partial("a", 0, "x", -1, None)),
            None
        );
        assert_eq!(
            resolve_partial_quote(XAXBX, &partial("a", i64::MAX, "x", 1, None)),
            None
        );
        assert_eq!(
            resolve_partial_quote(XAXBX, &partial("a", 0, "x", i64::MAX, None)),
            None
        );
    }

    #[test]
    fn needles_not_in_the_text_are_unresolved() {
        assert_eq!(
            resolve_partial_quote(XAXBX, &partial("z", 0, "x", 1, None)),
            None
        );
        assert_eq!(
            resolve_partial_quote(XAXBX, &partial("a", 0, "z", 0, None)),
            None
        );
        assert_eq!(
            resolve_partial_quote(XAXBX, &partial("a", 1, "x", 0, None)),
            None
        );
    }

    #[test]
    fn blank_md5_counts_as_absent_and_md5_is_trimmed() {
        let p = partial("a", 0, "x", 1, Some("  "));
        assert_eq!(resolve_partial_quote(XAXBX, &p), Some("a-x"));
        let p = partial("a", 0, "x", 1, Some(" 70150b1f989f48aa8cf60716a1ac8dbc "));
        assert_eq!(resolve_partial_quote(XAXBX, &p), Some("a-x-b-x"));
    }

    #[test]
    fn start_and_end_may_be_the_same_occurrence() {
        // The end occurrence may begin at the start itself (it is not before it).
        assert_eq!(
            resolve_partial_quote("abcabc", &partial("abc", 1, "abc", 1, None)),
            Some("abc")
        );
        // Overlapping needles: end `bc` inside start `abc`.
        assert_eq!(
            resolve_partial_quote("abc", &partial("abc", 0, "bc", 0, None)),
            Some("abc")
        );
    }

    #[test]
    fn relative_counts_from_the_end_of_the_start_occurrence() {
        // Global `b` #0 lies before the start; the relative count begins after `ab`,
        // so an `end` inside the start occurrence is not counted.
        assert_eq!(
            resolve_partial_quote("b-ab-b", &partial("ab", 0, "b", 0, None)),
            Some("ab-b")
        );
    }

    #[test]
    fn md5_is_over_utf8_for_multibyte_text() {
        // The whole second vector text, selected via md5 of its UTF-8 bytes.
        let whole = md5_hex(CJK);
        let p = partial("你好", 0, "。", 1, Some(&whole.to_uppercase()));
        assert_eq!(resolve_partial_quote(CJK, &p), Some(CJK));
        // The same needles with the md5 of the shorter global candidate's UTF-16 bytes
        // (what a wrong encoding would hash) do not match.
        let utf16: Vec<u8> = "你好，世界。"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let wrong = crate::md5sum::md5_hex(&utf16);
        let p = partial("你好", 0, "。", 0, Some(&wrong));
        assert_eq!(resolve_partial_quote(CJK, &p), None);
    }

    #[test]
    fn astral_characters_are_counted_whole() {
        // Emoji are two UTF-16 units; occurrences still count by substring.
        let text = "😀a😀b😀";
        assert_eq!(
            resolve_partial_quote(text, &partial("a", 0, "😀", 2, None)),
            Some("a😀b😀")
        );
        // The global `endindex` 1 is the start occurrence itself.
        assert_eq!(
            resolve_partial_quote(text, &partial("😀", 1, "😀", 1, None)),
            Some("😀")
        );
        // Global 0 lies before the start; relative 0 is the next emoji.
        assert_eq!(
            resolve_partial_quote(text, &partial("😀", 1, "😀", 0, None)),
            Some("😀b😀")
        );
    }
}
