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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn both_languages_have_the_same_keys() {
        let keys = |l| catalog(l).keys().cloned().collect::<BTreeSet<_>>();
        assert_eq!(keys(Locale::En), keys(Locale::ZhCn));
    }
}
