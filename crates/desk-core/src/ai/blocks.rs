//! Cuts a streamed reply into WeChat messages: a block goes out once it has enough
//! characters and reaches a break (or when the stream goes quiet), no block is longer
//! than the split limit, and one run sends at most `max_messages`; whatever does not fit
//! is cut off the last message with a marker (and the caller logs how much).

use ilink::text::{split_text, split_text_parts};

/// Appended to a last message that had to be cut short.
pub const CUT_MARKER: &str = "…（内容过长，其余部分已省略）";

#[derive(Debug)]
pub struct Blocks {
    buf: String,
    min_chars: usize,
    limit: usize,
    max_messages: usize,
    emitted: usize,
    /// Characters that did not fit in `max_messages` messages.
    pub dropped_chars: usize,
}

impl Blocks {
    pub fn new(min_chars: usize, limit: usize, max_messages: usize) -> Blocks {
        Blocks {
            buf: String::new(),
            min_chars: min_chars.max(1),
            limit: limit.max(16),
            max_messages: max_messages.max(1),
            emitted: 0,
            dropped_chars: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.buf.trim().is_empty()
    }

    /// The last allowed message is kept for the end, so the cut can happen there.
    fn last_slot(&self) -> bool {
        self.emitted + 1 >= self.max_messages
    }

    /// Adds streamed text; returns the blocks now ready.
    pub fn push(&mut self, text: &str) -> Vec<String> {
        self.buf.push_str(text);
        let mut out = Vec::new();
        while !self.last_slot() {
            let chars = self.buf.chars().count();
            if chars > self.limit {
                // The splitter's first piece (it may close a code fence it cut); its
                // original text is exactly a prefix of the buffer.
                let Some(first) = split_text_parts(&self.buf, self.limit).into_iter().next() else {
                    break;
                };
                let rest = self.buf.split_off(first.original().len());
                self.buf = rest;
                self.emit(first.text, &mut out);
                continue;
            }
            let cut = if chars >= self.min_chars {
                match last_break(&self.buf) {
                    Some(end) if self.buf[..end].chars().count() >= self.min_chars => end,
                    _ => break,
                }
            } else {
                break;
            };
            let rest = self.buf.split_off(cut);
            let block = std::mem::replace(&mut self.buf, rest);
            self.emit(block, &mut out);
        }
        out
    }

    /// The stream went quiet: everything gathered goes out (unless only the last slot
    /// is left, which waits for the end).
    pub fn flush_idle(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        if self.last_slot() {
            return out;
        }
        let text = std::mem::take(&mut self.buf);
        for piece in split_text(&text, self.limit) {
            if self.last_slot() {
                self.buf.push_str(&piece);
                continue;
            }
            self.emit(piece, &mut out);
        }
        out
    }

    /// The reply is complete: the rest, cut to fit the message cap.
    pub fn finish(mut self) -> (Vec<String>, usize) {
        let mut out = self.flush_idle();
        let rest = std::mem::take(&mut self.buf);
        let rest = rest.trim();
        if !rest.is_empty() {
            let chars = rest.chars().count();
            if chars <= self.limit {
                out.push(rest.to_owned());
            } else {
                let keep = self.limit.saturating_sub(CUT_MARKER.chars().count()).max(1);
                let mut last: String = rest.chars().take(keep).collect();
                self.dropped_chars += chars - keep;
                last.push_str(CUT_MARKER);
                out.push(last);
            }
        }
        (out, self.dropped_chars)
    }

    fn emit(&mut self, block: String, out: &mut Vec<String>) {
        let block = block.trim();
        if !block.is_empty() {
            self.emitted += 1;
            out.push(block.to_owned());
        }
    }
}

/// The byte just after the last line break or sentence end in `s`. ASCII `.!?` count
/// only when followed by white space, so "3.14" arriving as "3." + "14" is not cut.
fn last_break(s: &str) -> Option<usize> {
    let mut found = None;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = i + c.len_utf8();
        let next_is_space = chars.peek().is_some_and(|(_, n)| n.is_whitespace());
        match c {
            '\n' | '。' | '！' | '？' | '；' | '…' => found = Some(end),
            '.' | '!' | '?' if next_is_space => found = Some(end),
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_wait_for_enough_text_and_a_break() {
        let mut b = Blocks::new(10, 100, 10);
        assert!(b.push("Short. ").is_empty());
        assert!(b.push("Still no break").is_empty());
        assert_eq!(b.push(" here. And more"), ["Short. Still no break here."]);
        let (rest, dropped) = b.finish();
        assert_eq!((rest, dropped), (vec!["And more".to_owned()], 0));
    }

    #[test]
    fn no_block_exceeds_the_limit_and_the_cap_cuts_the_last() {
        let mut b = Blocks::new(5, 20, 3);
        let mut out = b.push(&"x".repeat(100));
        assert!(out.iter().all(|m| m.chars().count() <= 20));
        assert_eq!(out.len(), 2, "the third (last) slot waits for the end");
        let (rest, dropped) = b.finish();
        out.extend(rest);
        assert_eq!(out.len(), 3);
        assert!(out[2].chars().count() <= 20 + CUT_MARKER.chars().count());
        assert!(out[2].ends_with(CUT_MARKER));
        assert!(dropped > 0);
    }

    #[test]
    fn a_long_code_block_is_cut_with_its_fence_closed() {
        let mut b = Blocks::new(10, 40, 10);
        let code = format!("```\n{}```\n", "let x = 1;\n".repeat(10));
        let out = b.push(&code);
        assert!(!out.is_empty());
        assert!(out.iter().all(|m| m.chars().count() <= 40), "{out:?}");
        assert!(out[0].ends_with("```"), "{:?}", out[0]);
    }

    #[test]
    fn idle_flush_sends_what_is_there() {
        let mut b = Blocks::new(200, 100, 10);
        assert!(b.push("你好").is_empty());
        assert_eq!(b.flush_idle(), ["你好"]);
        assert!(b.is_empty());
    }
}
