//! The two languages the app speaks, and how the system's locale maps onto them.

use serde::{Deserialize, Serialize};

use crate::CoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Locale {
    #[serde(rename = "zh-CN")]
    ZhCn,
    #[serde(rename = "en")]
    En,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::ZhCn, Locale::En];

    /// The BCP 47 tag used in settings, the UI and the translation files.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::ZhCn => "zh-CN",
            Locale::En => "en",
        }
    }

    /// Parses one of the app's own tags exactly (as stored in settings or sent by the UI).
    pub fn from_tag(tag: &str) -> Result<Locale, CoreError> {
        Locale::ALL
            .into_iter()
            .find(|l| l.tag() == tag)
            .ok_or_else(|| CoreError::UnknownLocale(tag.to_owned()))
    }

    /// Maps a system locale such as `zh_CN.UTF-8`, `zh-Hans-CN`, `zh_TW` or `en_GB` onto the
    /// app's languages: any Chinese locale reads Chinese, everything else English.
    pub fn from_system(system: &str) -> Locale {
        let language = system
            .split(['-', '_', '.', '@'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if language == "zh" {
            Locale::ZhCn
        } else {
            Locale::En
        }
    }

    /// The language to show: the user's saved choice wins, then the system's, then English.
    pub fn resolve(saved: Option<Locale>, system: Option<&str>) -> Locale {
        saved
            .or_else(|| system.map(Locale::from_system))
            .unwrap_or(Locale::En)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_locales_map_to_app_languages() {
        for tag in ["zh_CN.UTF-8", "zh-Hans-CN", "zh_TW", "ZH", "zh"] {
            assert_eq!(Locale::from_system(tag), Locale::ZhCn, "{tag}");
        }
        for tag in ["en_US.UTF-8", "en-GB", "C", "POSIX", "de_DE", "", "zhx"] {
            assert_eq!(Locale::from_system(tag), Locale::En, "{tag}");
        }
    }

    #[test]
    fn saved_choice_beats_system() {
        assert_eq!(Locale::resolve(Some(Locale::En), Some("zh_CN")), Locale::En);
        assert_eq!(Locale::resolve(None, Some("zh_CN")), Locale::ZhCn);
        assert_eq!(Locale::resolve(None, None), Locale::En);
    }

    #[test]
    fn tags_round_trip_and_reject_others() {
        for l in Locale::ALL {
            assert_eq!(Locale::from_tag(l.tag()).unwrap(), l);
            assert_eq!(
                serde_json::to_string(&l).unwrap(),
                format!("\"{}\"", l.tag())
            );
        }
        assert!(matches!(
            Locale::from_tag("zh"),
            Err(CoreError::UnknownLocale(t)) if t == "zh"
        ));
    }
}
