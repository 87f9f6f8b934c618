//! A real OpenAI-compatible provider on loopback for the AI tests: a raw HTTP/1.1
//! server that records every request and answers chat completions with chunked SSE
//! (scripted per request: text streams, gates, stalls, errors, garbage), the model list
//! and image downloads.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use super::WAIT;

/// One request as the stub received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Value,
    pub at: Instant,
    /// Wall-clock arrival (epoch ms, fractional), comparable with the sim's times.
    pub at_epoch_ms: f64,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every message's text content joined, for "does this request mention X".
    pub fn all_text(&self) -> String {
        self.body["messages"].to_string()
    }

    /// The last message's text.
    pub fn last_user_text(&self) -> String {
        let last = self.body["messages"]
            .as_array()
            .and_then(|m| m.last())
            .cloned();
        match last.map(|m| m["content"].clone()) {
            Some(Value::String(s)) => s,
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join(""),
            _ => String::new(),
        }
    }
}

/// How the stub answers one chat completion.
#[derive(Clone)]
pub enum Reply {
    /// Raw SSE text pieces, each written as its own HTTP chunk after `delay`; waits for
    /// `gate` (if any) before the first.
    Sse {
        pieces: Vec<String>,
        delay: Duration,
        gate: Option<Arc<Notify>>,
    },
    /// An HTTP error with this body; `{authorization}` in it becomes the request's
    /// `Authorization` header and `{key}` the bearer key (a provider that echoes them).
    Status(u16, String),
    /// 200 and headers, then nothing, forever.
    Stall,
    /// Reads the request and never answers at all.
    Silent,
    /// Says nothing for this long (not even headers), then answers as the inner reply.
    Wait(Duration, Box<Reply>),
}

impl Reply {
    /// A normal streamed reply of these text deltas, with a keep-alive comment, a
    /// finish reason, a usage-only chunk and `[DONE]`.
    pub fn text(deltas: &[&str]) -> Reply {
        let mut pieces = vec![": keep-alive\n\n".to_owned()];
        pieces.extend(
            deltas
                .iter()
                .map(|d| sse(json!({"choices":[{"index":0,"delta":{"content":d}}]}))),
        );
        pieces.push(sse(
            json!({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}),
        ));
        pieces.push(sse(
            json!({"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3}}),
        ));
        pieces.push("data: [DONE]\n\n".to_owned());
        Reply::Sse {
            pieces,
            delay: Duration::ZERO,
            gate: None,
        }
    }

    pub fn gated(self, gate: Arc<Notify>) -> Reply {
        match self {
            Reply::Sse { pieces, delay, .. } => Reply::Sse {
                pieces,
                delay,
                gate: Some(gate),
            },
            other => other,
        }
    }

    pub fn delayed(self, d: Duration) -> Reply {
        match self {
            Reply::Sse { pieces, gate, .. } => Reply::Sse {
                pieces,
                delay: d,
                gate,
            },
            other => other,
        }
    }

    pub fn raw(pieces: &[&str]) -> Reply {
        Reply::Sse {
            pieces: pieces.iter().map(|p| (*p).to_owned()).collect(),
            delay: Duration::ZERO,
            gate: None,
        }
    }
}

pub fn sse(chunk: Value) -> String {
    format!("data: {chunk}\n\n")
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    script: VecDeque<Reply>,
    /// (marker, reply, uses left): a chat request whose messages mention the marker
    /// gets the reply, before the script.
    rules: Vec<(String, Reply, usize)>,
    images: Vec<(String, String, Vec<u8>)>,
    models: Option<(u16, Value)>,
}

#[derive(Clone)]
pub struct Stub {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    arrived: Arc<Notify>,
}

impl Stub {
    pub async fn start() -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stub = Stub {
            addr: listener.local_addr().unwrap(),
            state: Arc::default(),
            arrived: Arc::new(Notify::new()),
        };
        let s = stub.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(s.clone().serve(socket));
            }
        });
        stub
    }

    /// The base URL a provider config uses (`…/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Answers the next chat completions in order; after the script, "ok".
    pub fn push(&self, reply: Reply) {
        self.state.lock().unwrap().script.push_back(reply);
    }

    /// The next `times` chat requests whose messages mention `marker` get `reply`
    /// (for a caller that sends requests of its own in between, like a gateway).
    pub fn on_mention(&self, marker: &str, reply: Reply, times: usize) {
        self.state
            .lock()
            .unwrap()
            .rules
            .push((marker.to_owned(), reply, times));
    }

    pub fn serve_image(&self, path: &str, mime: &str, bytes: Vec<u8>) {
        self.state
            .lock()
            .unwrap()
            .images
            .push((path.to_owned(), mime.to_owned(), bytes));
    }

    pub fn set_models(&self, status: u16, body: Value) {
        self.state.lock().unwrap().models = Some((status, body));
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn chat_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/chat/completions"))
            .collect()
    }

    /// The last user text of each chat completion so far, in order.
    pub fn asked(&self) -> Vec<String> {
        self.chat_requests()
            .iter()
            .map(|r| r.last_user_text())
            .collect()
    }

    /// Waits until `n` chat completions have arrived.
    pub async fn wait_chats(&self, n: usize) -> Vec<Recorded> {
        tokio::time::timeout(WAIT, async {
            loop {
                let notified = self.arrived.notified();
                let chats = self.chat_requests();
                if chats.len() >= n {
                    return chats;
                }
                notified.await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {n} chat requests"))
    }

    async fn serve(self, mut socket: TcpStream) {
        let Some(request) = read_request(&mut socket).await else {
            return;
        };
        let path = request.path.clone();
        let method = request.method.clone();
        let mentioned = request.body["messages"].to_string();
        let authorization = request.header("authorization").unwrap_or("").to_owned();
        self.state.lock().unwrap().requests.push(request);
        self.arrived.notify_waiters();
        if method == "GET" && path.ends_with("/models") {
            let models = self.state.lock().unwrap().models.clone();
            let (status, body) = models.unwrap_or((
                200,
                json!({"object":"list","data":[{"id":"stub-model","object":"model"}]}),
            ));
            return respond(
                &mut socket,
                status,
                "application/json",
                body.to_string().as_bytes(),
            )
            .await;
        }
        if method == "GET" {
            let image = {
                let state = self.state.lock().unwrap();
                state.images.iter().find(|(p, _, _)| *p == path).cloned()
            };
            return match image {
                Some((_, mime, bytes)) => respond(&mut socket, 200, &mime, &bytes).await,
                None => respond(&mut socket, 404, "text/plain", b"not found").await,
            };
        }
        let reply = {
            let mut state = self.state.lock().unwrap();
            let rule = state
                .rules
                .iter_mut()
                .find(|(marker, _, left)| *left > 0 && mentioned.contains(marker.as_str()));
            match rule {
                Some((_, reply, left)) => {
                    *left -= 1;
                    reply.clone()
                }
                None => state
                    .script
                    .pop_front()
                    .unwrap_or_else(|| Reply::text(&["ok"])),
            }
        };
        let reply = match reply {
            Reply::Wait(wait, inner) => {
                tokio::time::sleep(wait).await;
                *inner
            }
            other => other,
        };
        match reply {
            Reply::Status(status, body) => {
                let key = authorization.trim_start_matches("Bearer ");
                let body = body
                    .replace("{authorization}", &authorization)
                    .replace("{key}", key);
                respond(&mut socket, status, "application/json", body.as_bytes()).await
            }
            Reply::Silent => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            Reply::Stall | Reply::Wait(..) => {
                let _ = socket.write_all(stream_head().as_bytes()).await;
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            Reply::Sse {
                pieces,
                delay,
                gate,
            } => {
                if socket.write_all(stream_head().as_bytes()).await.is_err() {
                    return;
                }
                if let Some(gate) = gate {
                    gate.notified().await;
                }
                for piece in pieces {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    let chunk = format!("{:x}\r\n{piece}\r\n", piece.len());
                    if socket.write_all(chunk.as_bytes()).await.is_err() {
                        return;
                    }
                    let _ = socket.flush().await;
                }
                let _ = socket.write_all(b"0\r\n\r\n").await;
                let _ = socket.shutdown().await;
            }
        }
    }
}

fn stream_head() -> String {
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\
     transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        .to_owned()
}

async fn respond(socket: &mut TcpStream, status: u16, mime: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {mime}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = socket.write_all(head.as_bytes()).await;
    let _ = socket.write_all(body).await;
    let _ = socket.shutdown().await;
}

async fn read_request(socket: &mut TcpStream) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        let n = socket.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_owned(), first.next()?.to_owned());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = socket.read(&mut tmp).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
    let body = &buf[head_end..(head_end + length).min(buf.len())];
    Some(Recorded {
        method,
        path,
        headers,
        body: serde_json::from_slice(body).unwrap_or(Value::Null),
        at: Instant::now(),
        at_epoch_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64()
            * 1000.0,
    })
}
