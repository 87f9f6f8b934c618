//! Account ids as stored locally (docs/protocol.md §10.7): lower-case, with `@` and `.` turned into `-`.

/// Normalises a bot or user id into a file- and key-safe account id.
pub fn normalize(id: &str) -> String {
    let mapped: String = id
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c == '@' || c == '.' { '-' } else { c })
        .collect();
    let trimmed = mapped.trim_matches('-');
    if trimmed.is_empty() {
        "default".to_owned()
    } else {
        mapped
    }
}

/// Reverses [`normalize`] for the two id shapes the server issues
/// (`…-im-bot` → `…@im.bot`, `…-im-wechat` → `…@im.wechat`); other ids are returned as is.
pub fn denormalize(account_id: &str) -> String {
    for (suffix, original) in [("-im-bot", "@im.bot"), ("-im-wechat", "@im.wechat")] {
        if let Some(stem) = account_id.strip_suffix(suffix) {
            return format!("{stem}{original}");
        }
    }
    account_id.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors() {
        // Spec §10.7.
        assert_eq!(normalize("b0f5860fdecb@im.bot"), "b0f5860fdecb-im-bot");
        assert_eq!(normalize("B0F5860FDECB@im.bot"), "b0f5860fdecb-im-bot");
        assert_eq!(normalize("abc@im.wechat"), "abc-im-wechat");
        assert_eq!(normalize("a.b.c"), "a-b-c");
        assert_eq!(normalize("@@@"), "default");
        assert_eq!(normalize(""), "default");
        assert_eq!(denormalize("b0f5860fdecb-im-bot"), "b0f5860fdecb@im.bot");
        assert_eq!(denormalize("abc-im-wechat"), "abc@im.wechat");
        assert_eq!(denormalize("plain"), "plain");
    }
}
