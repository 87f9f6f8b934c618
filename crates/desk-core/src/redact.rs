//! The one redaction step for text that comes from elsewhere (an AI provider's error
//! body, an iLink server's `errmsg`, a CDN's `x-error-message`) before it reaches the
//! terminal, the log, an event or the window (docs/architecture.md, invariant 4). A
//! server may repeat what it was sent, the `Authorization` header included; what it says
//! is shown, the secrets in it are not.

/// What a removed value becomes.
pub const MASK: &str = "***";

/// Known secrets shorter than this are not searched for: masking every "ab" in a text
/// would hide the message and protect nothing.
const MIN_SECRET_LEN: usize = 4;

/// An `sk-…` key is at least this long after its prefix before it counts as key-shaped.
const MIN_KEY_TAIL: usize = 16;

/// `text` without the given secrets (the configured API key, bot tokens), without the
/// value of any `Bearer …` credential or `Authorization` header/field, and without
/// anything shaped like an API key (`sk-` and a long run of key characters).
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    let mut known: Vec<&str> = secrets
        .iter()
        .map(|s| s.trim())
        .filter(|s| s.len() >= MIN_SECRET_LEN)
        .collect();
    // Longest first, so a secret that contains another is removed whole.
    known.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in known {
        out = out.replace(secret, MASK);
    }
    let out = mask_after_labels(&out);
    mask_key_shapes(&out)
}

/// Masks the value after `Authorization` (as a header `Authorization: …` or a field
/// `"authorization": "…"`) and after `Bearer `.
fn mask_after_labels(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if let Some(end) = authorization_value(text, &lower, i) {
            out.push_str(&text[i..end.0]);
            out.push_str(MASK);
            i = end.1;
        } else if let Some(end) = bearer_value(text, &lower, i) {
            out.push_str(&text[i..end.0]);
            out.push_str(MASK);
            i = end.1;
        } else {
            let ch = text[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// At `i`, `authorization` then an optional quote, spaces and `:` or `=`: the byte range
/// of its value (up to the closing quote, or the end of the line).
fn authorization_value(text: &str, lower: &str, i: usize) -> Option<(usize, usize)> {
    const LABEL: &str = "authorization";
    if !lower[i..].starts_with(LABEL) || !starts_word(lower, i) {
        return None;
    }
    let bytes = text.as_bytes();
    let mut j = i + LABEL.len();
    if matches!(bytes.get(j), Some(b'"' | b'\'')) {
        j += 1;
    }
    j = skip_spaces(bytes, j);
    if !matches!(bytes.get(j), Some(b':' | b'=')) {
        return None;
    }
    j = skip_spaces(bytes, j + 1);
    let (start, end) = match bytes.get(j) {
        Some(&q @ (b'"' | b'\'')) => {
            let start = j + 1;
            let len = text[start..].find(q as char).unwrap_or(text.len() - start);
            (start, start + len)
        }
        _ => {
            let len = text[j..]
                .find(['\n', '\r', ',', ';', '}'])
                .unwrap_or(text.len() - j);
            (j, j + len)
        }
    };
    (end > start).then_some((start, end))
}

/// At `i`, `bearer` and whitespace: the byte range of the credential after it.
fn bearer_value(text: &str, lower: &str, i: usize) -> Option<(usize, usize)> {
    const LABEL: &str = "bearer";
    if !lower[i..].starts_with(LABEL) || !starts_word(lower, i) {
        return None;
    }
    let bytes = text.as_bytes();
    let j = i + LABEL.len();
    if !matches!(bytes.get(j), Some(b' ' | b'\t')) {
        return None;
    }
    let start = skip_spaces(bytes, j);
    let len = text[start..]
        .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ';' | '}'))
        .unwrap_or(text.len() - start);
    let value = &text[start..start + len];
    // "a bearer of news" is prose: a credential is long, or not only letters.
    let credential = value.len() >= 8 || !value.chars().all(char::is_alphabetic);
    (credential && value != MASK).then_some((start, start + len))
}

/// `sk-` followed by a long run of key characters becomes `sk-***`.
fn mask_key_shapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i..].starts_with("sk-") && starts_word(text, i) {
            let tail = text[i + 3..]
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
                .count();
            if tail >= MIN_KEY_TAIL {
                out.push_str("sk-");
                out.push_str(MASK);
                i += 3 + tail;
                continue;
            }
        }
        let ch = text[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

fn starts_word(text: &str, i: usize) -> bool {
    text[..i]
        .chars()
        .next_back()
        .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
}

fn skip_spaces(bytes: &[u8], mut j: usize) -> usize {
    while matches!(bytes.get(j), Some(b' ' | b'\t')) {
        j += 1;
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_secrets_are_removed_wherever_they_appear() {
        let text = "bad key k3y-XYZ-123 (you sent k3y-XYZ-123); token tok-9f8e7d";
        let out = redact(text, &["k3y-XYZ-123", "tok-9f8e7d"]);
        assert_eq!(out, "bad key *** (you sent ***); token ***");
    }

    #[test]
    fn bearer_and_authorization_values_are_removed_in_every_form() {
        let cases = [
            (
                "echo: Authorization: Bearer abc.def",
                "echo: Authorization: ***",
            ),
            (
                r#"{"headers":{"authorization":"Bearer abc"},"x":1}"#,
                r#"{"headers":{"authorization":"***"},"x":1}"#,
            ),
            ("got bearer zzz99 twice", "got bearer *** twice"),
            (
                "AUTHORIZATION = Basic dXNlcjpw\nnext",
                "AUTHORIZATION = ***\nnext",
            ),
            ("'Authorization': 'Token q'", "'Authorization': '***'"),
        ];
        for (text, want) in cases {
            assert_eq!(redact(text, &[]), want, "{text}");
        }
    }

    #[test]
    fn key_shaped_values_are_removed_even_when_not_configured() {
        let out = redact(
            "Incorrect API key provided: sk-proj-abcdefghijklmnop1234.",
            &[],
        );
        assert_eq!(out, "Incorrect API key provided: sk-***.");
        // Short or embedded lookalikes are ordinary words.
        assert_eq!(
            redact("task-sk-1 and sk-short", &[]),
            "task-sk-1 and sk-short"
        );
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "the model is overloaded, try again later",
            "服务器繁忙（ret -2）",
            "authorization failed",
            "a bearer of bad news",
            "",
        ] {
            assert_eq!(redact(text, &["", "ab", "   "]), text);
        }
    }

    #[test]
    fn a_secret_inside_another_goes_whole() {
        assert_eq!(
            redact("key=abcd1234abcd", &["abcd", "abcd1234abcd"]),
            "key=***"
        );
    }
}
