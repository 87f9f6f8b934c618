//! The outbound markdown filter of docs/protocol.md §8.1, reproducing the official algorithm's output
//! (vectors in §10.9).
//!
//! WeChat renders only some Markdown: this removes images, H5/H6 heading markers and
//! single/triple emphasis around CJK text, and leaves everything else alone. Fenced code
//! passes verbatim. [`MarkdownFilter`] works on a stream of chunks (an AI reply as it is
//! generated); it holds back only what it cannot decide yet.

/// Streaming markdown filter: feed chunks with [`push`](Self::push), then call
/// [`finish`](Self::finish). The concatenated outputs equal [`filter_markdown`] of the
/// concatenated inputs, however the input was chunked.
#[derive(Debug, Default, Clone)]
pub struct MarkdownFilter {
    /// Input not yet decided.
    pending: Vec<char>,
    /// Inside a fenced code block.
    in_fence: bool,
    /// The next pending char starts a line.
    mid_line: bool,
}

/// What one step of the scanner decided.
enum Step {
    /// Consumed `n` chars of input, having appended their output.
    Took(usize),
    /// Cannot decide without more input.
    NeedMore,
}

/// Filters a whole text at once.
pub fn filter_markdown(text: &str) -> String {
    let mut filter = MarkdownFilter::new();
    let mut out = filter.push(text);
    out.push_str(&filter.finish());
    out
}

impl MarkdownFilter {
    /// A filter at the start of a text.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a chunk and returns the output that is now certain.
    pub fn push(&mut self, chunk: &str) -> String {
        self.pending.extend(chunk.chars());
        self.run(false)
    }

    /// Ends the text: returns the rest, emitting unclosed constructs unchanged.
    pub fn finish(mut self) -> String {
        self.run(true)
    }

    fn run(&mut self, eof: bool) -> String {
        let mut out = String::new();
        let mut pos = 0;
        while pos < self.pending.len() {
            match self.step(pos, eof, &mut out) {
                Step::Took(n) => pos += n,
                Step::NeedMore => break,
            }
        }
        self.pending.drain(..pos);
        out
    }

    fn step(&mut self, pos: usize, eof: bool, out: &mut String) -> Step {
        let rest = &self.pending[pos..];
        if !self.mid_line {
            // A line that cannot be a fence, rule or heading goes inline at once; the
            // others need the whole line.
            if !self.in_fence && !matches!(rest[0], '`' | '#' | '-' | '*' | '_' | ' ' | '\t') {
                self.mid_line = true;
                return self.inline(pos, eof, out);
            }
            let Some(line_len) = line_len(rest, eof) else {
                return Step::NeedMore;
            };
            let line = &rest[..line_len];
            let fence = starts_with(line, "```");
            if self.in_fence || fence || is_horizontal_rule(line) {
                if fence {
                    self.in_fence = !self.in_fence;
                }
                out.extend(line);
                return Step::Took(line_len);
            }
            self.mid_line = true;
            let hashes = line.iter().take_while(|&&c| c == '#').count();
            if (5..=6).contains(&hashes) && line.get(hashes) == Some(&' ') {
                return Step::Took(hashes + 1);
            }
            return self.inline(pos, eof, out);
        }
        self.inline(pos, eof, out)
    }

    /// One inline token at `pos`: a newline, an image, an emphasis run, or plain text.
    fn inline(&mut self, pos: usize, eof: bool, out: &mut String) -> Step {
        let rest = &self.pending[pos..];
        match rest[0] {
            '\n' => {
                self.mid_line = false;
                out.push('\n');
                Step::Took(1)
            }
            '!' if rest.get(1) == Some(&'[') => image(rest, eof, out),
            '!' if rest.len() == 1 && !eof => Step::NeedMore,
            marker @ ('*' | '_') => emphasis(rest, marker, eof, out),
            c => {
                out.push(c);
                Step::Took(1)
            }
        }
    }
}

/// Length of the first line including its `\n`, or all of `rest` at the end of the text.
fn line_len(rest: &[char], eof: bool) -> Option<usize> {
    match rest.iter().position(|&c| c == '\n') {
        Some(i) => Some(i + 1),
        None if eof => Some(rest.len()),
        None => None,
    }
}

fn starts_with(chars: &[char], prefix: &str) -> bool {
    let mut it = chars.iter();
    prefix.chars().all(|p| it.next() == Some(&p))
}

/// A line of only one of `-`, `*`, `_` (at least three) and spaces.
fn is_horizontal_rule(line: &[char]) -> bool {
    let body: Vec<char> = line
        .iter()
        .copied()
        .filter(|&c| c != '\n' && c != '\r')
        .collect();
    let Some(&marker) = body.iter().find(|&&c| c != ' ' && c != '\t') else {
        return false;
    };
    matches!(marker, '-' | '*' | '_')
        && body.iter().all(|&c| c == marker || c == ' ' || c == '\t')
        && body.iter().filter(|&&c| c == marker).count() >= 3
}

/// `![alt](url)` is dropped; `![alt]` without `(` stays; unclosed at the end stays.
fn image(rest: &[char], eof: bool, out: &mut String) -> Step {
    let Some(close) = rest.iter().position(|&c| c == ']') else {
        return unclosed(rest, eof, out);
    };
    match rest.get(close + 1) {
        None if !eof => Step::NeedMore,
        Some('(') => match rest[close + 2..].iter().position(|&c| c == ')') {
            Some(end) => Step::Took(close + 2 + end + 1),
            None => unclosed(rest, eof, out),
        },
        _ => {
            out.extend(&rest[..=close]);
            Step::Took(close + 1)
        }
    }
}

/// An unclosed construct: wait for more input, or at the end emit the rest unchanged.
fn unclosed(rest: &[char], eof: bool, out: &mut String) -> Step {
    if !eof {
        return Step::NeedMore;
    }
    out.extend(rest);
    Step::Took(rest.len())
}

/// A run of `*` or `_`. Single and triple runs are emphasis whose markers go when the
/// inside has CJK; double runs (bold) and longer ones stay as they are.
fn emphasis(rest: &[char], marker: char, eof: bool, out: &mut String) -> Step {
    let run = rest.iter().take_while(|&&c| c == marker).count();
    if run == rest.len() && !eof {
        return Step::NeedMore;
    }
    let opens = matches!(rest.get(run), Some(c) if *c != ' ' && *c != '\n');
    if !(run == 1 || run == 3) || !opens {
        out.extend(&rest[..run]);
        return Step::Took(run);
    }
    let body = &rest[run..];
    // Single emphasis ends at the first marker and may not cross a newline; triple
    // ends at the next run of three and may.
    let close = if run == 1 {
        match body.iter().position(|&c| c == marker || c == '\n') {
            Some(i) if body[i] == '\n' => {
                out.extend(&rest[..run + i]);
                return Step::Took(run + i);
            }
            found => found,
        }
    } else {
        body.windows(3).position(|w| w.iter().all(|&c| c == marker))
    };
    let Some(close) = close else {
        return unclosed(rest, eof, out);
    };
    let inner = &body[..close];
    if inner.iter().copied().any(is_cjk) {
        out.extend(inner);
    } else {
        out.extend(&rest[..run + close + run]);
    }
    Step::Took(run + close + run)
}

/// The CJK ranges of docs/protocol.md §8.1.
fn is_cjk(c: char) -> bool {
    matches!(c, '\u{2E80}'..='\u{9FFF}' | '\u{AC00}'..='\u{D7AF}' | '\u{F900}'..='\u{FAFF}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Spec §10.9, every vector.
    const VECTORS: &[(&str, &str)] = &[
        ("##### Notes\nbody", "Notes\nbody"),
        ("*中文* and *text*", "中文 and *text*"),
        ("***重点*** ***bold***", "重点 ***bold***"),
        ("see ![logo](http://x/y.png) here", "see  here"),
        ("![alt] text", "![alt] text"),
        ("```\n*中文*\n```\n*中文*", "```\n*中文*\n```\n中文"),
        ("_下划线_ __keep__", "下划线 __keep__"),
        ("> quote *引用*", "> quote 引用"),
        ("`*中文*`", "`中文`"),
        ("**粗体**", "**粗体**"),
        ("*open\nnext", "*open\nnext"),
        ("3 * 4 = 12", "3 * 4 = 12"),
    ];

    #[test]
    fn spec_vectors() {
        for (input, want) in VECTORS {
            assert_eq!(filter_markdown(input), *want, "input {input:?}");
        }
    }

    #[test]
    fn more_rules() {
        for (input, want) in [
            ("###### H6\n#### H4", "H6\n#### H4"),
            ("####### seven", "####### seven"),
            ("---\n* * *\n___", "---\n* * *\n___"),
            ("![unclosed", "![unclosed"),
            ("![a](unclosed", "![a](unclosed"),
            ("***跨\n行***", "跨\n行"),
            ("***never closed", "***never closed"),
            ("*中文", "*中文"),
            ("snake_case_name", "snake_case_name"),
            ("```rust\n![x](y) *中*\n```", "```rust\n![x](y) *中*\n```"),
            ("한국어 *한국*", "한국어 한국"),
            ("", ""),
        ] {
            assert_eq!(filter_markdown(input), want, "input {input:?}");
        }
    }

    #[test]
    fn vectors_hold_when_streamed_one_char_at_a_time() {
        for (input, want) in VECTORS {
            let mut filter = MarkdownFilter::new();
            let mut out = String::new();
            for c in input.chars() {
                out.push_str(&filter.push(&c.to_string()));
            }
            out.push_str(&filter.finish());
            assert_eq!(out, *want, "input {input:?}");
        }
    }

    #[test]
    fn streaming_emits_settled_lines_early() {
        let mut filter = MarkdownFilter::new();
        assert_eq!(filter.push("hello *中文* wor"), "hello 中文 wor");
        assert_eq!(filter.push("ld\n##"), "ld\n");
        assert_eq!(filter.push("### x\n"), "x\n");
        assert_eq!(filter.finish(), "");
    }

    proptest! {
        #[test]
        fn chunking_never_changes_the_output(
            text in "[a-z中 *_!\\[\\]()`#\n-]{0,60}",
            cuts in proptest::collection::vec(0usize..60, 0..6),
        ) {
            let chars: Vec<char> = text.chars().collect();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(chars.len())).collect();
            cuts.sort_unstable();
            let mut filter = MarkdownFilter::new();
            let mut out = String::new();
            let mut last = 0;
            for cut in cuts.into_iter().chain([chars.len()]) {
                let piece: String = chars[last..cut].iter().collect();
                out.push_str(&filter.push(&piece));
                last = cut;
            }
            out.push_str(&filter.finish());
            prop_assert_eq!(out, filter_markdown(&text));
        }
    }
}
