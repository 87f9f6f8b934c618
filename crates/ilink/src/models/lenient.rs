//! Tolerant readers for the numeric, boolean and text fields of inbound bodies
//! (docs/architecture.md, "Inbound decoding").
//!
//! The server does not always send a field in the shape the protocol names: sizes arrive
//! as digit strings (`file_item.len` always does), and live payloads have shown item types
//! as strings, `is_completed` as a string, fractional timestamps and names that are bare
//! numbers. Each reader here accepts a number or its decimal text, and refuses what
//! cannot be kept exactly (a negative size, a number beyond 64 bits, a fraction where
//! only a whole number makes sense) with an error that says so. A refusal makes only the
//! message that carries it undecodable, never the batch (see `updates.rs`).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};

/// What a field may hold: drives the checks and the error texts.
#[derive(Clone, Copy)]
enum Kind {
    /// A signed whole number (`seq`, `encode_type`, widths, enum numbers).
    Integer,
    /// Milliseconds since the epoch: a fraction is cut off.
    Timestamp,
    /// A byte count: whole and not negative.
    Size,
}

impl Kind {
    fn expecting(self) -> &'static str {
        match self {
            Kind::Integer => "a whole number, or its decimal text",
            Kind::Timestamp => "a time in milliseconds, or its decimal text",
            Kind::Size => "a size in bytes (a whole number not below 0), or its decimal text",
        }
    }
}

/// Reads an optional number of `kind` into an `i128` wide enough for every 64-bit value.
struct NumberVisitor(Kind);

impl<'de> Visitor<'de> for NumberVisitor {
    type Value = Option<i128>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.0.expecting())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(i128::from(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(i128::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // serde_json hands integers beyond 64 bits over as floats too.
        let beyond = !v.is_finite() || v.abs() >= 18_446_744_073_709_551_616.0;
        if beyond {
            return Err(E::custom(format!("number {v} is beyond 64 bits")));
        }
        match self.0 {
            Kind::Timestamp => Ok(Some(v.trunc() as i128)),
            _ if v.fract() == 0.0 => Ok(Some(v as i128)),
            _ => Err(E::custom(format!(
                "{v} is not a whole number ({})",
                self.0.expecting()
            ))),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let text = v.trim();
        if text.is_empty() {
            return Ok(None);
        }
        if let Ok(n) = text.parse::<i128>() {
            return self.visit_i128_checked(n);
        }
        if matches!(self.0, Kind::Timestamp) {
            if let Ok(f) = text.parse::<f64>() {
                return self.visit_f64(f);
            }
        }
        Err(E::custom(format!("{v:?} is not {}", self.0.expecting())))
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

impl NumberVisitor {
    fn visit_i128_checked<E: de::Error>(self, n: i128) -> Result<Option<i128>, E> {
        if n > i128::from(u64::MAX) || n < i128::from(i64::MIN) {
            return Err(E::custom(format!("number {n} is beyond 64 bits")));
        }
        Ok(Some(n))
    }
}

fn read<'de, D: Deserializer<'de>>(d: D, kind: Kind) -> Result<Option<i128>, D::Error> {
    d.deserialize_any(NumberVisitor(kind))
}

fn to_i64<E: de::Error>(n: i128) -> Result<i64, E> {
    i64::try_from(n)
        .map_err(|_| E::custom(format!("number {n} does not fit a signed 64-bit value")))
}

/// An optional signed whole number, from a number or its decimal text.
pub(crate) fn int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    read(d, Kind::Integer)?.map(to_i64).transpose()
}

/// An optional time in milliseconds; a fraction (as a number or text) is cut off.
pub(crate) fn timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    read(d, Kind::Timestamp)?.map(to_i64).transpose()
}

/// An optional byte count: whole, not negative, within 64 bits.
pub(crate) fn size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match read(d, Kind::Size)? {
        None => Ok(None),
        Some(n) if n < 0 => Err(de::Error::custom(format!("size {n} is negative"))),
        Some(n) => u64::try_from(n)
            .map(Some)
            .map_err(|_| de::Error::custom(format!("size {n} is beyond 64 bits"))),
    }
}

/// An optional byte count kept as decimal text (`file_item.len`), from a number or text.
/// The text is normalised to its digits; an empty text reads as absent.
pub(crate) fn size_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(size(d)?.map(|n| n.to_string()))
}

/// A whole number that must be there (the numeric enums): a number or its decimal text.
pub(crate) fn required_int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    int(d)?.ok_or_else(|| de::Error::custom("a number is required here"))
}

/// An optional flag: `true`/`false`, their text, or `1`/`0` (as numbers or text).
pub(crate) fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    d.deserialize_any(FlagVisitor)
}

struct FlagVisitor;

impl<'de> Visitor<'de> for FlagVisitor {
    type Value = Option<bool>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("true or false, as a boolean, its text, or 1/0")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        match v {
            0 => Ok(Some(false)),
            1 => Ok(Some(true)),
            _ => Err(E::custom(format!("{v} is not a flag (1 or 0)"))),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::custom(format!("{v} is not a flag (1 or 0)"))),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        match v.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            "" => Ok(None),
            _ => Err(E::custom(format!("{v:?} is not a flag (true or false)"))),
        }
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

/// Optional text that may arrive as a bare number (a file named `2024`, a text `42`):
/// the number's JSON spelling is kept as the text.
pub(crate) fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(TextVisitor)
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("text, or a number standing for its text")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // Without serde_json's arbitrary precision the original digits are gone; this
        // is the shortest spelling that reads back as the same number.
        Ok(Some(v.to_string()))
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

    #[derive(Debug, Deserialize)]
    struct Holder {
        #[serde(default, deserialize_with = "super::int")]
        int: Option<i64>,
        #[serde(default, deserialize_with = "super::timestamp")]
        time: Option<i64>,
        #[serde(default, deserialize_with = "super::size")]
        size: Option<u64>,
        #[serde(default, deserialize_with = "super::size_text")]
        len: Option<String>,
        #[serde(default, deserialize_with = "super::flag")]
        flag: Option<bool>,
        #[serde(default, deserialize_with = "super::text")]
        text: Option<String>,
    }

    fn read(json: &str) -> Result<Holder, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn numbers_come_as_numbers_or_digit_strings() {
        let h = read(r#"{"int":"-7","time":"1700000000000","size":"2048","len":12}"#).unwrap();
        assert_eq!(h.int, Some(-7));
        assert_eq!(h.time, Some(1_700_000_000_000));
        assert_eq!(h.size, Some(2048));
        assert_eq!(h.len.as_deref(), Some("12"));
        let h = read(r#"{"int":3,"size":18446744073709551615,"len":" 0012 "}"#).unwrap();
        assert_eq!((h.int, h.size), (Some(3), Some(u64::MAX)));
        assert_eq!(h.len.as_deref(), Some("12"));
        let h = read(r#"{"int":null,"size":"","len":""}"#).unwrap();
        assert_eq!((h.int, h.size, h.len), (None, None, None));
    }

    #[test]
    fn fractional_timestamps_are_cut_but_fractional_integers_refused() {
        assert_eq!(
            read(r#"{"time":1700000000000.75}"#).unwrap().time,
            Some(1_700_000_000_000)
        );
        assert_eq!(read(r#"{"time":"12.9"}"#).unwrap().time, Some(12));
        assert_eq!(read(r#"{"int":4.0}"#).unwrap().int, Some(4));
        let err = read(r#"{"int":4.5}"#).unwrap_err();
        assert!(err.contains("not a whole number"), "{err}");
    }

    #[test]
    fn negative_and_oversize_sizes_are_refused_saying_why() {
        let err = read(r#"{"size":-5}"#).unwrap_err();
        assert!(err.contains("size -5 is negative"), "{err}");
        let err = read(r#"{"len":"-5"}"#).unwrap_err();
        assert!(err.contains("negative"), "{err}");
        let err = read(r#"{"size":18446744073709551616}"#).unwrap_err();
        assert!(err.contains("beyond 64 bits"), "{err}");
        let err = read(r#"{"len":"99999999999999999999999"}"#).unwrap_err();
        assert!(err.contains("beyond 64 bits"), "{err}");
        let err = read(r#"{"int":9223372036854775808}"#).unwrap_err();
        assert!(err.contains("signed 64-bit"), "{err}");
        assert!(read(r#"{"size":"12kb"}"#).is_err());
        assert!(read(r#"{"size":true}"#).is_err());
    }

    #[test]
    fn flags_and_texts_accept_their_other_spellings() {
        for (json, want) in [
            (r#"{"flag":true}"#, Some(true)),
            (r#"{"flag":"true"}"#, Some(true)),
            (r#"{"flag":"FALSE"}"#, Some(false)),
            (r#"{"flag":1}"#, Some(true)),
            (r#"{"flag":"0"}"#, Some(false)),
            (r#"{"flag":null}"#, None),
        ] {
            assert_eq!(read(json).unwrap().flag, want, "{json}");
        }
        assert!(read(r#"{"flag":"yes"}"#).is_err());
        assert_eq!(
            read(r#"{"text":12345}"#).unwrap().text.as_deref(),
            Some("12345")
        );
        assert_eq!(
            read(r#"{"text":-1.5}"#).unwrap().text.as_deref(),
            Some("-1.5")
        );
        assert_eq!(
            read(r#"{"text":"hi"}"#).unwrap().text.as_deref(),
            Some("hi")
        );
        assert!(read(r#"{"text":{"a":1}}"#).is_err());
    }
}
