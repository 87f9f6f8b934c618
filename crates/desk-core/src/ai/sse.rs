//! A small server-sent-events parser for streamed chat completions: `data:` lines
//! (several make one event), blank lines ending events, `:` comment/keep-alive lines,
//! `[DONE]`, and chunks that carry only usage. Bytes may arrive split anywhere.

use serde_json::Value;

/// What one completed event meant.
#[derive(Debug, Clone, PartialEq)]
pub enum SseItem {
    /// Reply text (`choices[0].delta.content`); reasoning deltas are never text.
    Text(String),
    /// The model said why it stopped (`finish_reason`).
    Finished(String),
    /// Token counts from the usage chunk.
    Usage { prompt: u64, completion: u64 },
    /// `data: [DONE]`.
    Done,
}

/// Why a stream could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("the provider sent a malformed stream chunk: {0}")]
    Malformed(String),
    #[error("the provider reported an error: {0}")]
    Provider(String),
}

/// Incremental parser: feed bytes, get the items of every event they completed.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    data: Vec<String>,
}

impl SseParser {
    pub fn new() -> SseParser {
        SseParser::default()
    }

    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<SseItem>, SseError> {
        let mut out = Vec::new();
        for &b in bytes {
            if b != b'\n' {
                self.line.push(b);
                continue;
            }
            if self.line.last() == Some(&b'\r') {
                self.line.pop();
            }
            let line = String::from_utf8(std::mem::take(&mut self.line))
                .map_err(|_| SseError::Malformed("not UTF-8".into()))?;
            self.line_done(&line, &mut out)?;
        }
        Ok(out)
    }

    /// The stream ended: a last event without its blank line still counts.
    pub fn finish(&mut self) -> Result<Vec<SseItem>, SseError> {
        let mut out = Vec::new();
        if !self.line.is_empty() {
            let line = String::from_utf8(std::mem::take(&mut self.line))
                .map_err(|_| SseError::Malformed("not UTF-8".into()))?;
            self.line_done(&line, &mut out)?;
        }
        self.dispatch(&mut out)?;
        Ok(out)
    }

    fn line_done(&mut self, line: &str, out: &mut Vec<SseItem>) -> Result<(), SseError> {
        if line.is_empty() {
            return self.dispatch(out);
        }
        if line.starts_with(':') {
            return Ok(()); // comment or keep-alive
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        if field == "data" {
            self.data
                .push(value.strip_prefix(' ').unwrap_or(value).to_owned());
        }
        // event:, id:, retry: carry nothing a chat completion needs.
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<SseItem>) -> Result<(), SseError> {
        if self.data.is_empty() {
            return Ok(());
        }
        let data = std::mem::take(&mut self.data).join("\n");
        if data.trim() == "[DONE]" {
            out.push(SseItem::Done);
            return Ok(());
        }
        let chunk: Value = serde_json::from_str(&data).map_err(|e| {
            SseError::Malformed(format!(
                "{e} in {:?}",
                data.chars().take(80).collect::<String>()
            ))
        })?;
        interpret(&chunk, out)
    }
}

fn interpret(chunk: &Value, out: &mut Vec<SseItem>) -> Result<(), SseError> {
    if !chunk.is_object() {
        return Err(SseError::Malformed("a chunk is not a JSON object".into()));
    }
    if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| error.to_string());
        return Err(SseError::Provider(message));
    }
    if let Some(choice) = chunk
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
    {
        if let Some(text) = choice
            .pointer("/delta/content")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            out.push(SseItem::Text(text.to_owned()));
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            out.push(SseItem::Finished(reason.to_owned()));
        }
    }
    if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
        let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
        out.push(SseItem::Usage {
            prompt: n("prompt_tokens"),
            completion: n("completion_tokens"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = ": keep-alive\r\n\r\n\
        data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"reasoning_content\":\"hmm\"}}]}\r\n\r\n\
        data: {\"choices\":[{\"delta\":{\"content\":\"你好\"}}]}\n\n\
        event: message\nid: 3\n\
        data: {\"choices\":[{\"delta\":{\"content\":\" there\"},\"finish_reason\":\"stop\"}]}\n\n\
        data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2}}\n\n\
        data: [DONE]\n\n";

    fn expected() -> Vec<SseItem> {
        vec![
            SseItem::Text("你好".into()),
            SseItem::Text(" there".into()),
            SseItem::Finished("stop".into()),
            SseItem::Usage {
                prompt: 7,
                completion: 2,
            },
            SseItem::Done,
        ]
    }

    #[test]
    fn any_byte_split_gives_the_same_items() {
        let bytes = STREAM.as_bytes();
        for cut in 0..bytes.len() {
            let mut p = SseParser::new();
            let mut items = p.feed(&bytes[..cut]).unwrap();
            items.extend(p.feed(&bytes[cut..]).unwrap());
            items.extend(p.finish().unwrap());
            assert_eq!(items, expected(), "cut at {cut}");
        }
    }

    #[test]
    fn multi_line_data_and_a_missing_final_blank_line() {
        let mut p = SseParser::new();
        let items = p
            .feed(b"data: {\"choices\":\ndata: [{\"delta\":{\"content\":\"a\"}}]}")
            .unwrap();
        assert!(items.is_empty());
        assert_eq!(p.finish().unwrap(), [SseItem::Text("a".into())]);
    }

    #[test]
    fn garbage_and_error_chunks_are_errors() {
        assert!(matches!(
            SseParser::new().feed(b"data: {not json\n\n"),
            Err(SseError::Malformed(_))
        ));
        assert_eq!(
            SseParser::new().feed(b"data: {\"error\":{\"message\":\"quota\"}}\n\n"),
            Err(SseError::Provider("quota".into()))
        );
    }
}
