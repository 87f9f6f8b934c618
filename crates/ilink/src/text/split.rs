//! Splits a long reply into pieces of at most `limit` characters (Unicode scalar values,
//! never bytes, so no piece ends inside a multi-byte character).
//!
//! Cuts prefer, in this order: a paragraph break, a line break, the end of a sentence
//! (Chinese or English punctuation), a space; only then a hard cut. Fenced code blocks
//! are kept whole; a block that alone exceeds the limit is cut between lines, and each
//! piece closes the fence and the next re-opens it with the same opening line.

/// The default piece size. The framework splits at 4000 (docs/protocol.md §5.4); a smaller piece
/// reads better on a phone and stays far from any server limit.
pub const DEFAULT_SPLIT_LIMIT: usize = 1_800;

/// Fewest characters a limit may have; smaller values are raised to this.
const MIN_LIMIT: usize = 16;
const FENCE: &str = "```";

/// One piece and what the splitter added to it to keep a code fence balanced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The text to send.
    pub text: String,
    /// Bytes at the start of `text` that re-open a fence (not from the input there).
    pub added_prefix: usize,
    /// Bytes at the end of `text` that close a fence (not from the input there).
    pub added_suffix: usize,
}

impl Part {
    /// The part of `text` that came from the input.
    pub fn original(&self) -> &str {
        &self.text[self.added_prefix..self.text.len() - self.added_suffix]
    }
}

/// Splits `text` into pieces of at most `limit` chars. Text that fits comes back as one
/// piece; empty text gives no pieces.
pub fn split_text(text: &str, limit: usize) -> Vec<String> {
    split_text_parts(text, limit)
        .into_iter()
        .map(|p| p.text)
        .collect()
}

/// Like [`split_text`], also saying what was added to re-balance fences, so that the
/// [`Part::original`] slices concatenate back to `text`.
pub fn split_text_parts(text: &str, limit: usize) -> Vec<Part> {
    let limit = limit.max(MIN_LIMIT);
    let chars: Vec<char> = text.chars().collect();
    let blocks = fence_blocks(&chars);
    let mut parts = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        if chars.len() - start <= limit {
            parts.push(plain(&chars[start..]));
            break;
        }
        if let Some(block) = blocks.iter().find(|b| b.start == start) {
            if block.end - block.start > limit {
                if let Some(mut pieces) = split_block(&chars, block, limit) {
                    parts.append(&mut pieces);
                    start = block.end;
                    continue;
                }
            }
        }
        let end = best_cut(&chars, start, limit, &blocks);
        parts.push(plain(&chars[start..end]));
        start = end;
    }
    parts
}

fn plain(chars: &[char]) -> Part {
    Part {
        text: chars.iter().collect(),
        added_prefix: 0,
        added_suffix: 0,
    }
}

/// A fenced block: from its opening line through its closing line (or the end).
#[derive(Debug, Clone, Copy)]
struct Block {
    start: usize,
    /// End of the opening line (after its `\n`).
    body: usize,
    end: usize,
}

/// Fences as the markdown filter sees them: a line starting with ``` opens, the next one
/// closes.
fn fence_blocks(chars: &[char]) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, usize)> = None;
    let mut line_start = 0;
    while line_start < chars.len() {
        let line_end = chars[line_start..]
            .iter()
            .position(|&c| c == '\n')
            .map_or(chars.len(), |i| line_start + i + 1);
        let is_fence = chars[line_start..line_end]
            .iter()
            .take(3)
            .eq(FENCE.chars().collect::<Vec<_>>().iter());
        if is_fence {
            match open.take() {
                None => open = Some((line_start, line_end)),
                Some((start, body)) => blocks.push(Block {
                    start,
                    body,
                    end: line_end,
                }),
            }
        }
        line_start = line_end;
    }
    if let Some((start, body)) = open {
        blocks.push(Block {
            start,
            body,
            end: chars.len(),
        });
    }
    blocks
}

/// How good a cut is; higher wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Cut {
    Hard,
    Space,
    Sentence,
    Line,
    Paragraph,
}

/// The end of the next piece starting at `start`: the last cut of the best kind within
/// `limit` chars, never inside a fenced block. Cuts in the last two thirds of the window
/// come first, so a paragraph break right at the start does not make a tiny piece.
fn best_cut(chars: &[char], start: usize, limit: usize, blocks: &[Block]) -> usize {
    let max_end = start + limit;
    let inside_block = |pos: usize| blocks.iter().any(|b| b.start < pos && pos < b.end);
    let mut best = (Cut::Hard, max_end);
    let mut best_late = (Cut::Hard, max_end);
    let late_from = start + limit / 3;
    for end in start + 1..=max_end {
        if inside_block(end) {
            continue;
        }
        let kind = cut_kind(chars, end);
        if kind >= best.0 && kind > Cut::Hard {
            best = (kind, end);
        }
        if end >= late_from && kind >= best_late.0 && kind > Cut::Hard {
            best_late = (kind, end);
        }
    }
    if best_late.0 > Cut::Hard {
        best = best_late;
    }
    if best.0 == Cut::Hard {
        // No boundary at all: a hard cut, but not inside a block that starts later.
        if let Some(block) = blocks
            .iter()
            .find(|b| b.start > start && b.start < max_end && inside_block(max_end))
        {
            return block.start;
        }
    }
    best.1
}

/// What kind of cut lies between `chars[end - 1]` and `chars[end]`.
fn cut_kind(chars: &[char], end: usize) -> Cut {
    let before = chars[end - 1];
    let after = chars.get(end).copied();
    if before == '\n' {
        if end >= 2 && chars[end - 2] == '\n' && after != Some('\n') {
            return Cut::Paragraph;
        }
        return if after == Some('\n') {
            Cut::Hard
        } else {
            Cut::Line
        };
    }
    let after_is_space = matches!(after, Some(' ' | '\t'));
    if after_is_space || after == Some('\n') {
        // Keep trailing spaces with the sentence, cut before the next word.
        return Cut::Hard;
    }
    // The last char before the cut that is not a space.
    let mut i = end;
    while i > 0 && matches!(chars[i - 1], ' ' | '\t') {
        i -= 1;
    }
    if i == 0 {
        return Cut::Hard;
    }
    let trailing_spaces = i < end;
    match chars[i - 1] {
        '。' | '！' | '？' | '；' | '…' => Cut::Sentence,
        '.' | '!' | '?' | ';' if trailing_spaces => Cut::Sentence,
        _ if trailing_spaces => Cut::Space,
        _ => Cut::Hard,
    }
}

/// Cuts an over-long fenced block between lines, closing and re-opening the fence.
/// `None` when the opening line is too long to repeat.
fn split_block(chars: &[char], block: &Block, limit: usize) -> Option<Vec<Part>> {
    let opener: String = chars[block.start..block.body].iter().collect();
    let opener_len = block.body - block.start;
    // Room for the re-opened fence, a newline and the closing fence.
    let overhead = opener_len + 1 + FENCE.len();
    if overhead + MIN_LIMIT / 2 > limit {
        return None;
    }
    let mut parts = Vec::new();
    let mut pos = block.start;
    while pos < block.end {
        let first = pos == block.start;
        let prefix = if first { 0 } else { opener_len };
        // The rest of the block fits with only the prefix.
        if prefix + (block.end - pos) <= limit {
            let mut part = plain(&chars[pos..block.end]);
            if !first {
                part.text.insert_str(0, &opener);
                part.added_prefix = opener.len();
            }
            parts.push(part);
            break;
        }
        let room = limit - prefix - 1 - FENCE.len();
        // The last line end within room, else a hard cut (a single very long line).
        let window_end = (pos + room).min(block.end);
        let mut end = (pos + 1..=window_end)
            .rev()
            .find(|&e| chars[e - 1] == '\n')
            .unwrap_or(window_end);
        if end <= pos {
            end = window_end;
        }
        let body: String = chars[pos..end].iter().collect();
        let mut text = String::new();
        if !first {
            text.push_str(&opener);
        }
        text.push_str(&body);
        let mut suffix = String::new();
        if !body.ends_with('\n') {
            suffix.push('\n');
        }
        suffix.push_str(FENCE);
        text.push_str(&suffix);
        parts.push(Part {
            text,
            added_prefix: if first { 0 } else { opener.len() },
            added_suffix: suffix.len(),
        });
        pos = end;
    }
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lens(parts: &[String]) -> Vec<usize> {
        parts.iter().map(|p| p.chars().count()).collect()
    }

    #[test]
    fn short_and_empty() {
        assert_eq!(split_text("hi", 100), vec!["hi"]);
        assert!(split_text("", 100).is_empty());
    }

    #[test]
    fn prefers_paragraphs_then_lines_then_sentences() {
        let text = "aaaa aaaa.\n\nbbbb bbbb\ncccc";
        assert_eq!(
            split_text(text, 24),
            vec!["aaaa aaaa.\n\n", "bbbb bbbb\ncccc"]
        );
        let text = "aaaa. bbbb\ncccc dddd";
        assert_eq!(split_text(text, 16), vec!["aaaa. bbbb\n", "cccc dddd"]);
        let text = "第一句话。第二句话！第三句话很长很长？";
        assert_eq!(
            split_text(text, 16),
            vec!["第一句话。第二句话！", "第三句话很长很长？"]
        );
        let text = "One two. Three four five";
        assert_eq!(split_text(text, 20), vec!["One two. ", "Three four five"]);
    }

    #[test]
    fn avoids_tiny_pieces() {
        let text = format!("Hi\n\n{}", "word ".repeat(10));
        let parts = split_text(&text, 30);
        assert!(parts[0].chars().count() > 10, "{parts:?}");
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn counts_chars_not_bytes() {
        let text = "中".repeat(40);
        let parts = split_text(&text, 16);
        assert_eq!(lens(&parts), vec![16, 16, 8]);
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn keeps_a_fitting_code_block_whole() {
        let text = format!("intro line\n```\n{}```\nafter", "code\n".repeat(5));
        let block = format!("```\n{}```\n", "code\n".repeat(5));
        let parts = split_text(&text, 40);
        assert_eq!(
            parts,
            vec!["intro line\n".to_owned(), format!("{block}after")]
        );
        let parts = split_text(&format!("{text} and more words here"), 36);
        assert!(parts.iter().any(|p| p.starts_with(&block)), "{parts:?}");
        assert_eq!(parts.concat(), format!("{text} and more words here"));
    }

    #[test]
    fn reopens_a_fence_when_the_block_alone_is_too_long() {
        let body: String = (0..20).map(|i| format!("let x{i} = {i};\n")).collect();
        let text = format!("```rust\n{body}```\n");
        let parts = split_text_parts(&text, 60);
        assert!(parts.len() > 1);
        for part in &parts {
            assert!(part.text.chars().count() <= 60, "{:?}", part.text);
            assert!(part.text.starts_with("```rust\n"), "{:?}", part.text);
            assert!(part.text.ends_with("```") || part.text.ends_with("```\n"));
        }
        let joined: String = parts.iter().map(Part::original).collect();
        assert_eq!(joined, text);
    }

    proptest! {
        #[test]
        fn pieces_fit_and_join_back(
            text in "([a-z]{1,8}|[中文字]{1,4}|[ .。！\n]|\n```[a-z]{0,3}\n){0,80}",
            limit in 16usize..80,
        ) {
            let parts = split_text_parts(&text, limit);
            for part in &parts {
                prop_assert!(part.text.chars().count() <= limit, "{:?}", part.text);
                prop_assert!(!part.text.is_empty());
            }
            let joined: String = parts.iter().map(Part::original).collect();
            prop_assert_eq!(joined, text);
        }
    }
}
