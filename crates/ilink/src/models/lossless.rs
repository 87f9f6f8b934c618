//! Lossless reading of 64-bit ids (docs/protocol.md §1.8).
//!
//! `message_id`, `msg_id` and `svr_id` come as JSON numbers above 2^53 or as strings
//! (`"v1:<u64>"`). They are kept as exact decimal text. serde_json without
//! `arbitrary_precision` hands integers that fit 64 bits to `visit_u64`/`visit_i64`
//! exactly; anything larger arrives as a float, which is refused instead of rounded.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};

/// Deserialises an optional id given as a JSON number or string into its exact text.
/// `null` and an absent field (with `#[serde(default)]`) give `None`.
pub(crate) fn deserialize<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    deserializer.deserialize_any(IdVisitor)
}

struct IdVisitor;

impl<'de> Visitor<'de> for IdVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an id as a string or a 64-bit integer")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // Reached for fractions and for integers beyond the 64-bit range: either way the
        // exact value is already lost, so refuse rather than store a rounded id.
        Err(E::custom(format!(
            "id {v} is not an integer within 64 bits and cannot be kept exactly"
        )))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Holder {
        #[serde(default, deserialize_with = "super::deserialize")]
        id: Option<String>,
    }

    fn read(json: &str) -> Result<Option<String>, serde_json::Error> {
        serde_json::from_str::<Holder>(json).map(|h| h.id)
    }

    #[test]
    fn numbers_and_strings_are_kept_exactly() {
        assert_eq!(
            read(r#"{"id":7495426660285223688}"#).unwrap().as_deref(),
            Some("7495426660285223688")
        );
        assert_eq!(
            read(r#"{"id":18446744073709551615}"#).unwrap().as_deref(),
            Some("18446744073709551615")
        );
        assert_eq!(read(r#"{"id":-5}"#).unwrap().as_deref(), Some("-5"));
        assert_eq!(read(r#"{"id":"v1:42"}"#).unwrap().as_deref(), Some("v1:42"));
        assert_eq!(read(r#"{"id":null}"#).unwrap(), None);
        assert_eq!(read(r#"{}"#).unwrap(), None);
    }

    #[test]
    fn out_of_range_and_fractions_are_refused_clearly() {
        let err = read(r#"{"id":18446744073709551616}"#).unwrap_err();
        assert!(err.to_string().contains("cannot be kept exactly"), "{err}");
        assert!(read(r#"{"id":1.5}"#).is_err());
        assert!(read(r#"{"id":true}"#).is_err());
    }
}
