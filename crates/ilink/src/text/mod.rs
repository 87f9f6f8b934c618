//! Outbound text shaping (docs/protocol.md §8.1, §5.4): the markdown filter WeChat needs, and the
//! splitter that cuts long replies into sendable pieces.

mod markdown;
mod split;

pub use markdown::{filter_markdown, MarkdownFilter};
pub use split::{split_text, split_text_parts, Part, DEFAULT_SPLIT_LIMIT};
