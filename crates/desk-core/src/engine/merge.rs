//! Which queued texts go out together as one message: short texts the owner wrote to
//! one peer, one after the other, never tried yet (queued, or held back before any
//! request, e.g. until the peer writes), joined by line breaks while the
//! result stays well inside one request. Anything else ends the run: a file, an AI
//! reply (its split size is the owner's setting), a long text.

use crate::store::QueuedText;

/// A text this long or shorter counts as short.
pub const SHORT_TEXT_CHARS: usize = 300;
/// The longest merged message (well under the split limit, so it stays one request).
pub const MERGED_MAX_CHARS: usize = 1_000;

/// How many entries from the start of `queue` (its head first) go out together.
pub fn how_many(queue: &[QueuedText]) -> usize {
    let mut total = 0;
    let mut taken = 0;
    for entry in queue {
        let text = match &entry.text {
            Some(text) if entry.kind == "text" && entry.untouched && !entry.ai_generated => text,
            _ => break,
        };
        let chars = text.chars().count();
        let joined = total + chars + usize::from(taken > 0);
        if chars > SHORT_TEXT_CHARS || joined > MERGED_MAX_CHARS {
            break;
        }
        total = joined;
        taken += 1;
    }
    taken
}

/// The one message a merged group sends.
pub fn joined(texts: &[String]) -> String {
    texts.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(id: i64, text: &str) -> QueuedText {
        QueuedText {
            id,
            kind: "text".into(),
            text: Some(text.into()),
            ai_generated: false,
            untouched: true,
        }
    }

    #[test]
    fn short_untouched_texts_merge_until_something_else_comes() {
        assert_eq!(how_many(&[text(1, "a"), text(2, "b"), text(3, "c")]), 3);
        let long = "x".repeat(SHORT_TEXT_CHARS + 1);
        assert_eq!(how_many(&[text(1, "a"), text(2, &long), text(3, "c")]), 1);
        let mut file = text(2, "caption");
        file.kind = "image".into();
        assert_eq!(how_many(&[text(1, "a"), file, text(3, "c")]), 1);
        let mut ai = text(2, "b");
        ai.ai_generated = true;
        assert_eq!(how_many(&[text(1, "a"), ai]), 1);
        let mut tried = text(2, "b");
        tried.untouched = false;
        assert_eq!(how_many(&[text(1, "a"), tried]), 1);
        // Within the merged limit, counting the line breaks.
        let part = "y".repeat(SHORT_TEXT_CHARS);
        let queue: Vec<_> = (0..5).map(|i| text(i, &part)).collect();
        assert_eq!(how_many(&queue), 3);
        assert_eq!(joined(&["a".into(), "b".into()]), "a\nb");
    }
}
