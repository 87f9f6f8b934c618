//! The Rust side's view of the UI's translation files, for the tray and notifications.
//! One key set serves both: the JSON lives in `ui/src/lib/i18n/`.

use desk_core::Locale;

/// The text for `key`, falling back to English and then to the key itself.
pub fn text(locale: Locale, key: &str) -> String {
    desk_core::catalog::text(locale, key)
}

/// [`text`] with its `{name}` placeholders filled in one pass (a value is never read
/// for placeholders).
pub fn text_with(locale: Locale, key: &str, values: &[(&str, &str)]) -> String {
    desk_core::catalog::text_with(locale, key, values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use desk_core::catalog::catalog;
    use std::collections::BTreeSet;

    #[test]
    fn both_languages_have_the_same_keys() {
        let keys = |l| catalog(l).keys().cloned().collect::<BTreeSet<_>>();
        assert_eq!(keys(Locale::En), keys(Locale::ZhCn));
    }

    #[test]
    fn tray_texts_exist_and_differ_by_language() {
        for key in ["tray.show", "tray.hide", "tray.quit", "tray.tooltip"] {
            assert!(catalog(Locale::En).contains_key(key), "{key}");
        }
        assert_eq!(text(Locale::En, "tray.quit"), "Quit Weixin Desk");
        assert_eq!(text(Locale::ZhCn, "tray.quit"), "退出 Weixin Desk");
        assert_eq!(text(Locale::ZhCn, "no.such.key"), "no.such.key");
    }
}
