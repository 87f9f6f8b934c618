//! Odd field shapes in inbound messages (the `corrupt_message` knob): one field of one
//! queued message is sent in a shape live payloads have shown, so that tests can check a
//! client keeps receiving the rest of the batch and every later one.
//!
//! The message stays a `Value` in the queue; the odd field is written into its JSON text
//! when a poll hands it out, since some shapes (an integer beyond 64 bits) cannot be held
//! in a `Value` at all.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which field is sent oddly, and how. Item fields are those of the first item, created
/// when the message has no such item object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Corruption {
    /// `image_item.mid_size` as a digit string, `"2048"`.
    SizeAsDigitString,
    /// `image_item.mid_size` negative, `-2048`.
    NegativeSize,
    /// `image_item.mid_size` one past the largest u64, `18446744073709551616`.
    SizeBeyondU64,
    /// `file_item.file_name` a bare number, `20240101`.
    FileNameAsNumber,
    /// `text_item.text` a bare number (the text's digits if it has only digits, else 42).
    TextAsNumber,
    /// The item's `type` as a string, e.g. `"1"`.
    ItemTypeAsString,
    /// The item's `is_completed` as a string, `"true"`.
    IsCompletedAsString,
    /// The message's `create_time_ms` with a fraction, e.g. `1764825600000.5`.
    FractionalTimestamp,
}

/// Corrupt the message queued after `after` more messages (0: the next one); the knob
/// then clears itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorruptMessage {
    pub shape: Corruption,
    #[serde(default)]
    pub after: u32,
}

/// Stands in for the odd value in the `Value`, replaced in the text.
const MARK: &str = "@@ilink-sim-odd-field@@";

/// The JSON text of `msg` as handed out, with `corruption` applied if any.
pub(crate) fn render(msg: &Value, corruption: Option<Corruption>) -> String {
    let Some(corruption) = corruption else {
        return msg.to_string();
    };
    let mut msg = msg.clone();
    let literal = apply(&mut msg, corruption);
    msg.to_string()
        .replacen(&format!("\"{MARK}\""), &literal, 1)
}

/// Puts [`MARK`] where the odd value goes and returns the value's JSON text.
fn apply(msg: &mut Value, corruption: Corruption) -> String {
    let mark = Value::String(MARK.to_owned());
    if corruption == Corruption::FractionalTimestamp {
        let time = msg["create_time_ms"].as_u64().unwrap_or(1_764_825_600_000);
        msg["create_time_ms"] = mark;
        return format!("{time}.5");
    }
    if !msg["item_list"].is_array() {
        msg["item_list"] = Value::Array(Vec::new());
    }
    let items = msg["item_list"].as_array_mut().expect("an array");
    if items.is_empty() {
        items.push(serde_json::json!({ "type": 1 }));
    }
    let item = &mut items[0];
    match corruption {
        Corruption::SizeAsDigitString => {
            item["image_item"]["mid_size"] = mark;
            "\"2048\"".to_owned()
        }
        Corruption::NegativeSize => {
            item["image_item"]["mid_size"] = mark;
            "-2048".to_owned()
        }
        Corruption::SizeBeyondU64 => {
            item["image_item"]["mid_size"] = mark;
            "18446744073709551616".to_owned()
        }
        Corruption::FileNameAsNumber => {
            item["file_item"]["file_name"] = mark;
            "20240101".to_owned()
        }
        Corruption::TextAsNumber => {
            let text = item["text_item"]["text"].as_str().unwrap_or_default();
            let digits = !text.is_empty()
                && text.len() < 16
                && text.bytes().all(|b| b.is_ascii_digit())
                && !text.starts_with('0');
            let literal = if digits {
                text.to_owned()
            } else {
                "42".to_owned()
            };
            item["text_item"]["text"] = mark;
            literal
        }
        Corruption::ItemTypeAsString => {
            let kind = item["type"].as_u64().unwrap_or(1);
            item["type"] = mark;
            format!("\"{kind}\"")
        }
        Corruption::IsCompletedAsString => {
            item["is_completed"] = mark;
            "\"true\"".to_owned()
        }
        Corruption::FractionalTimestamp => unreachable!("handled above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message() -> Value {
        json!({"message_id": 9_007_199_254_740_993_u64, "create_time_ms": 1000,
               "item_list": [{"type": 1, "text_item": {"text": "hello"}}]})
    }

    #[test]
    fn each_shape_changes_one_field_in_the_text() {
        let cases = [
            (
                Corruption::SizeAsDigitString,
                r#""image_item":{"mid_size":"2048"}"#,
            ),
            (Corruption::NegativeSize, r#""mid_size":-2048"#),
            (
                Corruption::SizeBeyondU64,
                r#""mid_size":18446744073709551616"#,
            ),
            (Corruption::FileNameAsNumber, r#""file_name":20240101"#),
            (Corruption::TextAsNumber, r#""text":42"#),
            (Corruption::ItemTypeAsString, r#""type":"1""#),
            (Corruption::IsCompletedAsString, r#""is_completed":"true""#),
            (
                Corruption::FractionalTimestamp,
                r#""create_time_ms":1000.5"#,
            ),
        ];
        for (shape, expected) in cases {
            let text = render(&message(), Some(shape));
            assert!(text.contains(expected), "{shape:?}: {text}");
            assert!(!text.contains(MARK), "{text}");
            assert!(
                text.contains(r#""message_id":9007199254740993"#),
                "the rest is untouched: {text}"
            );
        }
        assert_eq!(render(&message(), None), message().to_string());
        let digits = json!({"item_list": [{"type": 1, "text_item": {"text": "2024"}}]});
        assert!(render(&digits, Some(Corruption::TextAsNumber)).contains(r#""text":2024"#));
    }
}
