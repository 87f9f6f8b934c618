//! The `bot_agent` sanitisation of docs/protocol.md §1.5, written independently of the client. The
//! emulator accepts a `bot_agent` only if sanitising it changes nothing.

const DEFAULT_AGENT: &str = "OpenClaw";
const MAX_AGENT_BYTES: usize = 256;

pub(crate) fn is_sanitised(agent: &str) -> bool {
    sanitise(agent) == agent
}

pub(crate) fn sanitise(raw: &str) -> String {
    let mut items: Vec<String> = Vec::new();
    // True while the item just accepted is a product that has no comment yet.
    let mut comment_slot = false;
    for token in tokens(raw) {
        if is_product(&token) {
            items.push(token);
            comment_slot = true;
        } else if token.len() >= 2 && token.starts_with('(') && token.ends_with(')') {
            let inner = &token[1..token.len() - 1];
            if comment_slot && is_comment_text(inner) {
                if let Some(last) = items.last_mut() {
                    last.push(' ');
                    last.push_str(&token);
                }
            }
            comment_slot = false;
        } else {
            comment_slot = false;
        }
    }
    while !items.is_empty() && items.join(" ").len() > MAX_AGENT_BYTES {
        items.pop();
    }
    if items.is_empty() {
        DEFAULT_AGENT.to_owned()
    } else {
        items.join(" ")
    }
}

/// Whitespace-split tokens, where an opening `(` absorbs words up to the closing `)`.
fn tokens(raw: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut words = raw.split_whitespace();
    while let Some(word) = words.next() {
        let mut token = word.to_owned();
        if token.starts_with('(') && !token.ends_with(')') {
            for next in words.by_ref() {
                token.push(' ');
                token.push_str(next);
                if next.ends_with(')') {
                    break;
                }
            }
        }
        out.push(token);
    }
    out
}

fn is_product(token: &str) -> bool {
    let Some((name, version)) = token.split_once('/') else {
        return false;
    };
    let name_ok = (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    let version_ok = (1..=32).contains(&version.len())
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.+-".contains(&b));
    name_ok && version_ok
}

fn is_comment_text(inner: &str) -> bool {
    (1..=64).contains(&inner.len())
        && inner
            .bytes()
            .all(|b| (0x20..=0x27).contains(&b) || (0x2A..=0x7E).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spec §10.8.
    #[test]
    fn known_answers() {
        for (input, want) in [
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
        ] {
            assert_eq!(sanitise(input), want, "{input:?}");
        }
    }

    #[test]
    fn only_fixed_points_are_accepted() {
        assert!(is_sanitised("OpenClaw"));
        assert!(is_sanitised("MyBot/1.2.0 (built on linux)"));
        assert!(!is_sanitised("My Bot"));
        assert!(!is_sanitised(" MyBot/1.0"));
    }

    #[test]
    fn long_agents_lose_whole_items() {
        let long = vec!["abcdefghij/1.0"; 30].join(" ");
        let cut = sanitise(&long);
        assert!(cut.len() <= MAX_AGENT_BYTES);
        assert!(cut.ends_with("abcdefghij/1.0"));
    }
}
