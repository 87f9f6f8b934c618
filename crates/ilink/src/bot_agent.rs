//! `base_info.bot_agent`: a User-Agent-like self-description, sanitised as the official
//! client does (docs/protocol.md §1.5) so that whatever the user configures, the server sees a
//! well-formed value.

/// What the official client sends when nothing valid is configured.
pub const FALLBACK: &str = "OpenClaw";
const MAX_BYTES: usize = 256;

/// Sanitises a configured bot agent; see the module docs.
pub fn sanitize(raw: &str) -> String {
    let mut items: Vec<String> = Vec::new();
    // Whether the last raw token was a product that can still take a comment.
    let mut open_product = false;
    for token in tokens(raw) {
        if let Some(inside) = token.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
            if open_product && valid_comment(inside) {
                if let Some(last) = items.last_mut() {
                    last.push(' ');
                    last.push_str(&token);
                }
            }
            open_product = false;
        } else if valid_product(&token) {
            items.push(token);
            open_product = true;
        } else {
            open_product = false;
        }
    }
    while !items.is_empty() && items.join(" ").len() > MAX_BYTES {
        items.pop();
    }
    if items.is_empty() {
        FALLBACK.to_owned()
    } else {
        items.join(" ")
    }
}

/// Splits on whitespace; a token opening `(` without closing it absorbs the following
/// tokens until one ends with `)`, so multi-word comments stay whole.
fn tokens(raw: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut pending: Option<String> = None;
    for word in raw.split_whitespace() {
        match pending.as_mut() {
            Some(comment) => {
                comment.push(' ');
                comment.push_str(word);
                if word.ends_with(')') {
                    out.extend(pending.take());
                }
            }
            None if word.starts_with('(') && !word.ends_with(')') => {
                pending = Some(word.to_owned())
            }
            None => out.push(word.to_owned()),
        }
    }
    out.extend(pending);
    out
}

fn valid_product(token: &str) -> bool {
    let Some((name, version)) = token.split_once('/') else {
        return false;
    };
    let part_ok = |s: &str, extra: &[u8]| {
        (1..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b) || extra.contains(&b))
    };
    part_ok(name, b"") && part_ok(version, b"+")
}

fn valid_comment(inside: &str) -> bool {
    (1..=64).contains(&inside.len())
        && inside
            .bytes()
            .all(|b| (0x20..=0x27).contains(&b) || (0x2A..=0x7E).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors() {
        // Spec §10.8.
        for (input, expected) in [
            (
                "MyBot/1.2.0 (built on linux)",
                "MyBot/1.2.0 (built on linux)",
            ),
            ("My Bot ValidApp/1.0", "ValidApp/1.0"),
            ("中文/1.0 MyBot/1.2.0", "MyBot/1.2.0"),
            ("(orphan) MyBot/1.0", "MyBot/1.0"),
            ("MyBot/1.0 (中文)", "MyBot/1.0"),
            ("A/1 B/2 (x) (y) C/3", "A/1 B/2 (x) C/3"),
            ("garbage no slashes", "OpenClaw"),
            ("", "OpenClaw"),
            ("   ", "OpenClaw"),
        ] {
            assert_eq!(sanitize(input), expected, "{input:?}");
        }
    }

    #[test]
    fn unclosed_comment_is_dropped_and_versions_allow_plus() {
        assert_eq!(sanitize("A/1.0+build (never closed"), "A/1.0+build");
        assert_eq!(sanitize("A+B/1"), FALLBACK);
    }

    #[test]
    fn long_values_drop_whole_items_from_the_end() {
        let product = format!("{}/{}", "a".repeat(32), "1".repeat(32)); // 65 bytes
        let raw = [product.as_str(); 5].join(" ");
        let out = sanitize(&raw);
        assert!(out.len() <= MAX_BYTES);
        assert_eq!(out.split(' ').count(), 3);
    }
}
