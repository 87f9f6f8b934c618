//! The translation catalogs the window uses (`ui/src/lib/i18n/`), compiled in so the
//! shell's tray and notifications and the CLI speak the same words.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::Locale;

const EN: &str = include_str!("../../../ui/src/lib/i18n/en.json");
const ZH_CN: &str = include_str!("../../../ui/src/lib/i18n/zh-CN.json");

type Catalog = HashMap<String, String>;

/// Every key and its text in `locale`.
pub fn catalog(locale: Locale) -> &'static Catalog {
    static EN_CATALOG: OnceLock<Catalog> = OnceLock::new();
    static ZH_CATALOG: OnceLock<Catalog> = OnceLock::new();
    // The files are compiled in and checked by tests, so a parse failure is a build bug.
    let parse = |text: &str| serde_json::from_str(text).expect("bundled translations are JSON");
    match locale {
        Locale::En => EN_CATALOG.get_or_init(|| parse(EN)),
        Locale::ZhCn => ZH_CATALOG.get_or_init(|| parse(ZH_CN)),
    }
}

/// The text for `key`, falling back to English and then to the key itself.
pub fn text(locale: Locale, key: &str) -> String {
    catalog(locale)
        .get(key)
        .or_else(|| catalog(Locale::En).get(key))
        .cloned()
        .unwrap_or_else(|| key.to_owned())
}

/// [`text`] with each `{name}` filled from `values`, as [`fill`] does.
pub fn text_with(locale: Locale, key: &str, values: &[(&str, &str)]) -> String {
    fill(&text(locale, key), values)
}

/// `template` with each `{name}` filled from `values` in one pass, as the window's `t`
/// does (a value is never read for placeholders); one without a value stays as written.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut filled = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        filled.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            let (_, value) = values.iter().find(|(n, _)| *n == name)?;
            Some((value, close))
        });
        match value {
            Some((value, close)) => {
                filled.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                filled.push('{');
                rest = after;
            }
        }
    }
    filled.push_str(rest);
    filled
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn both_languages_have_the_same_keys() {
        let keys = |l| catalog(l).keys().cloned().collect::<BTreeSet<_>>();
        assert_eq!(keys(Locale::En), keys(Locale::ZhCn));
    }

    #[test]
    fn placeholders_are_filled_in_either_language() {
        let values = [("status", "401")];
        assert_eq!(
            text_with(Locale::En, "ai.check.keyRefused", &values),
            "The API key was refused (HTTP 401)."
        );
        assert_eq!(
            text_with(Locale::ZhCn, "ai.check.keyRefused", &values),
            "API 密钥被拒绝（HTTP 401）。"
        );
        assert_eq!(
            text_with(Locale::En, "ai.check.keyRefused", &[]),
            "The API key was refused (HTTP {status})."
        );
        // A value that reads like a placeholder is left as it is.
        let values = [("url", "http://h/{reason}"), ("reason", "refused")];
        assert_eq!(
            text_with(Locale::En, "ai.check.unreachable", &values),
            "Cannot reach http://h/{reason}: refused."
        );
    }
}
