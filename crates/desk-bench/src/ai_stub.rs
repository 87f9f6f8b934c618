//! A small OpenAI-compatible chat-completions server on loopback for the soak: it
//! streams back `re: <the new user turn>` as server-sent events, and fails a seeded
//! share of the requests with a 500.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct AiStub {
    pub base_url: String,
    pub counts: Arc<StubCounts>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
pub struct StubCounts {
    pub requests: AtomicUsize,
    pub failed: AtomicUsize,
}

impl Drop for AiStub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl AiStub {
    /// `fail_percent` of the chat requests (drawn from `seed`) get a 500.
    pub async fn start(fail_percent: u64, seed: u64) -> std::io::Result<AiStub> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}/v1", listener.local_addr()?);
        let counts = Arc::new(StubCounts::default());
        let draws = Arc::new(Mutex::new(seed));
        let shared = Arc::clone(&counts);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (counts, draws) = (Arc::clone(&shared), Arc::clone(&draws));
                tokio::spawn(async move {
                    let _ = serve(stream, &counts, &draws, fail_percent).await;
                });
            }
        });
        Ok(AiStub {
            base_url,
            counts,
            task,
        })
    }
}

async fn serve(
    mut stream: TcpStream,
    counts: &StubCounts,
    draws: &Mutex<u64>,
    fail_percent: u64,
) -> std::io::Result<()> {
    let Some(body) = read_request(&mut stream).await? else {
        return Ok(());
    };
    counts.requests.fetch_add(1, Ordering::Relaxed);
    let fail = {
        let mut state = draws.lock().unwrap_or_else(|p| p.into_inner());
        *state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*state >> 33) % 100 < fail_percent
    };
    if fail {
        counts.failed.fetch_add(1, Ordering::Relaxed);
        let response =
            "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
        return stream.write_all(response.as_bytes()).await;
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let reply = format!("re: {}", last_user_text(&request));
    let chunk = json!({"choices": [{"index": 0, "delta": {"content": reply}}]});
    let events = format!("data: {chunk}\n\ndata: [DONE]\n\n");
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        events.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(events.as_bytes()).await
}

/// The body of one request (headers up to a blank line, then `content-length` bytes).
async fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buffer.len() < header_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(buffer[header_end..header_end + length].to_vec()))
}

fn last_user_text(request: &Value) -> String {
    let Some(message) = request["messages"]
        .as_array()
        .and_then(|all| all.iter().rev().find(|m| m["role"] == "user"))
    else {
        return String::new();
    };
    match &message["content"] {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_user_turn_is_the_last_user_message() {
        let request = json!({"messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "soak in 1"},
            {"role": "assistant", "content": "re: soak in 1"},
            {"role": "user", "content": [{"type": "text", "text": "soak in 2"}, {"type": "text", "text": "soak in 3"}]},
        ]});
        assert_eq!(last_user_text(&request), "soak in 2 soak in 3");
        assert_eq!(last_user_text(&json!({})), "");
    }
}
