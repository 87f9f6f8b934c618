//! The OpenAI-compatible HTTP client: a streamed chat completion delivered as events on
//! a channel, the model list, and "test connection". Plain reqwest plus our own SSE
//! parser, so every quirk (extra headers and body fields, keep-alive comments, usage-only
//! chunks, odd endings) stays under our control.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::openclaw::{agent_target, check_agent, host_tools, AgentTarget, DEFAULT_AGENT_ID};
use super::provider::{chat_request, ChatMessage, ChatRequest, Preset, ProviderConfig};
use super::sse::{SseError, SseItem, SseParser};
use crate::secrets::Secret;
use crate::Locale;

/// How a provider call failed, in words an owner can act on. Never carries the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("the provider refused the API key (HTTP {0})")]
    Auth(u16),
    #[error("the provider answered HTTP {status}: {message}")]
    Status { status: u16, message: String },
    #[error("the provider did not answer within {0:?}")]
    NoAnswer(Duration),
    #[error("the provider's stream stalled for {0:?}")]
    Stalled(Duration),
    #[error("cannot reach the provider: {0}")]
    Network(String),
    #[error(transparent)]
    Stream(#[from] SseError),
    #[error("the provider's stream ended before the reply was complete")]
    EndedEarly,
}

/// How much of a provider's error body is shown.
const SHOWN_BODY_CHARS: usize = 200;

impl ProviderError {
    /// The same failure with every text the provider sent passed through
    /// [`redact`](crate::redact::redact): a provider may echo the key it was sent.
    pub fn redacted(self, secrets: &[&str]) -> ProviderError {
        let clean = |text: String| crate::redact::redact(&text, secrets);
        match self {
            ProviderError::Status { status, message } => ProviderError::Status {
                status,
                message: clean(message).chars().take(SHOWN_BODY_CHARS).collect(),
            },
            ProviderError::Network(text) => ProviderError::Network(clean(text)),
            ProviderError::Stream(SseError::Malformed(text)) => {
                ProviderError::Stream(SseError::Malformed(clean(text)))
            }
            ProviderError::Stream(SseError::Provider(text)) => {
                ProviderError::Stream(SseError::Provider(clean(text)))
            }
            other => other,
        }
    }
}

/// One step of a streamed reply.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    Text(String),
    /// The reply is complete.
    Done {
        prompt_tokens: u64,
        completion_tokens: u64,
    },
    Failed(ProviderError),
}

/// A streamed reply under way; dropping it aborts the request.
pub struct ReplyStream {
    pub events: mpsc::Receiver<StreamEvent>,
    task: JoinHandle<()>,
}

impl Drop for ReplyStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
pub struct ProviderClient {
    http: reqwest::Client,
}

impl ProviderClient {
    /// `use_system_proxy: false` talks to the provider directly (tests on loopback).
    pub fn new(use_system_proxy: bool) -> ProviderClient {
        let mut builder = reqwest::Client::builder().connect_timeout(Duration::from_secs(10));
        if !use_system_proxy {
            builder = builder.no_proxy();
        }
        ProviderClient {
            // Only fails without a TLS backend, which the build always has.
            http: builder.build().unwrap_or_default(),
        }
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Starts a streamed chat completion.
    pub fn stream(
        &self,
        config: &ProviderConfig,
        api_key: Option<Secret>,
        request: ChatRequest,
        first_byte: Duration,
        stall: Duration,
    ) -> ReplyStream {
        let (tx, rx) = mpsc::channel(64);
        let builder = self.post(config, api_key.as_ref(), &request);
        let task = tokio::spawn(async move {
            if let Err(e) = pump(builder, first_byte, stall, &tx).await {
                let key = api_key.as_ref().map(Secret::expose);
                let e = e.redacted(key.as_slice());
                let _ = tx.send(StreamEvent::Failed(e)).await;
            }
        });
        ReplyStream { events: rx, task }
    }

    fn post(
        &self,
        config: &ProviderConfig,
        api_key: Option<&Secret>,
        request: &ChatRequest,
    ) -> reqwest::RequestBuilder {
        let mut builder = self
            .http
            .post(config.endpoint("chat/completions"))
            .header("accept", "text/event-stream")
            .json(&request.body);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(key) = api_key.filter(|k| !k.expose().is_empty()) {
            builder = builder.bearer_auth(key.expose());
        }
        builder
    }

    /// Checks auth, the model list and a one-token reply, and says what works in
    /// `locale` (what the provider or the network said is quoted as it came).
    pub async fn test_connection(
        &self,
        config: &ProviderConfig,
        api_key: Option<Secret>,
        timeout: Duration,
        locale: Locale,
    ) -> ConnectionReport {
        let mut checks = Vec::new();
        let mut warnings = Vec::new();
        let agent = agent_target(config);
        if let Some(target) = &agent {
            let refused = check_agent(config).is_err();
            checks.push(agent_check(target, refused, locale));
            if refused {
                return ConnectionReport::new(checks, warnings, agent, locale).redacted(&api_key);
            }
            if target.main {
                warnings.push(say(
                    locale,
                    "ai.check.mainAgentWarning",
                    &[("agent", &target.id)],
                ));
            }
        }
        let mut get = self.http.get(config.endpoint("models"));
        if let Some(key) = api_key.as_ref().filter(|k| !k.expose().is_empty()) {
            get = get.bearer_auth(key.expose());
        }
        checks.push(match tokio::time::timeout(timeout, get.send()).await {
            Err(_) => check(
                "models",
                false,
                say(
                    locale,
                    "ai.check.noAnswer",
                    &[("seconds", &timeout.as_secs_f64().to_string())],
                ),
            ),
            Ok(Err(e)) => check(
                "models",
                false,
                say(
                    locale,
                    "ai.check.unreachable",
                    &[("url", &config.base_url), ("reason", &network(&e))],
                ),
            ),
            Ok(Ok(r)) => models_check(config, r, locale).await,
        });
        if agent.is_some() {
            if let Some(tools) = self.agent_tools(config, api_key.as_ref(), timeout).await {
                let (check, warning) = tools_check(&tools, locale);
                checks.push(check);
                warnings.extend(warning);
            }
        }
        // A fresh session each time: tests never pile onto one gateway session.
        let session_key = format!("weixin-desk-connection-test-{:016x}", rand::random::<u64>());
        let request = chat_request(
            config,
            &[ChatMessage::new("user", "Say OK.")],
            &session_key,
            None,
            Some(1),
        );
        let started = Instant::now();
        // A gateway runs a whole agent turn (its first one in a new session prepares
        // the agent): it may stay quiet longer than a bare model.
        let stall = if agent.is_some() {
            timeout.max(GATEWAY_TEST_STALL)
        } else {
            timeout
        };
        let key = api_key.clone();
        let mut stream = self.stream(config, api_key, request, timeout, stall);
        let mut outcome = None;
        while let Some(event) = stream.events.recv().await {
            match event {
                StreamEvent::Text(_) => {}
                StreamEvent::Done { .. } => {
                    outcome = Some(Ok(()));
                    break;
                }
                StreamEvent::Failed(e) => {
                    outcome = Some(Err(e));
                    break;
                }
            }
        }
        let problem = match &outcome {
            Some(Err(e)) => Some(crate::Problem::of_provider(e)),
            _ => None,
        };
        checks.push(match outcome {
            Some(Ok(())) => check(
                "completion",
                true,
                say(
                    locale,
                    "ai.check.answered",
                    &[
                        ("model", &config.model),
                        ("ms", &started.elapsed().as_millis().to_string()),
                    ],
                ),
            ),
            Some(Err(e)) => check("completion", false, completion_failure(config, &e, locale)),
            None => check("completion", false, say(locale, "ai.check.noReply", &[])),
        });
        let mut report = ConnectionReport::new(checks, warnings, agent, locale);
        report.problem = problem;
        report.redacted(&key)
    }

    /// The tools the gateway says an agent has, when it says (`GET /models/{model}`
    /// answering with a `tools` list); `None` when it does not tell.
    async fn agent_tools(
        &self,
        config: &ProviderConfig,
        api_key: Option<&Secret>,
        timeout: Duration,
    ) -> Option<Vec<String>> {
        let mut get = self
            .http
            .get(config.endpoint(&format!("models/{}", percent_encode_segment(&config.model))));
        if let Some(key) = api_key.filter(|k| !k.expose().is_empty()) {
            get = get.bearer_auth(key.expose());
        }
        let response = tokio::time::timeout(timeout, get.send()).await.ok()?.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let body: Value = tokio::time::timeout(timeout, response.json())
            .await
            .ok()?
            .ok()?;
        tool_names(&body)
    }
}

/// A tool list anywhere the gateway may put one: `tools`, `agent.tools` or
/// `openclaw.tools`, as names or objects with a `name`.
fn tool_names(body: &Value) -> Option<Vec<String>> {
    ["/tools", "/agent/tools", "/openclaw/tools"]
        .iter()
        .find_map(|pointer| body.pointer(pointer).and_then(Value::as_array))
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t.as_str().or_else(|| t["name"].as_str()))
                .map(str::to_owned)
                .collect()
        })
}

fn percent_encode_segment(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn agent_check(target: &AgentTarget, refused: bool, locale: Locale) -> ConnectionCheck {
    let agent = ("agent", target.id.as_str());
    if refused {
        let detail = say(
            locale,
            "ai.check.agentRefused",
            &[agent, ("dedicated", DEFAULT_AGENT_ID)],
        );
        return check("agent", false, detail);
    }
    let key = if target.main {
        "ai.check.agentMain"
    } else {
        "ai.check.agentNamed"
    };
    check("agent", true, say(locale, key, &[agent]))
}

fn tools_check(tools: &[String], locale: Locale) -> (ConnectionCheck, Option<String>) {
    let host = host_tools(tools);
    let warning = (!host.is_empty()).then(|| {
        say(
            locale,
            "ai.check.hostToolsWarning",
            &[("tools", &host.join(", "))],
        )
    });
    let detail = if tools.is_empty() {
        say(locale, "ai.check.noTools", &[])
    } else {
        say(locale, "ai.check.tools", &[("tools", &tools.join(", "))])
    };
    (check("tools", true, detail), warning)
}

/// The outcome of "test connection": one line per check, in plain words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ConnectionReport {
    pub ok: bool,
    pub summary: String,
    pub checks: Vec<ConnectionCheck>,
    /// Risks the owner should know of even when replies work.
    pub warnings: Vec<String>,
    /// The gateway agent that answers (the OpenClaw preset only).
    pub agent: Option<AgentTarget>,
    /// What kind of failure the reply test met, for the sentence the window shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub problem: Option<crate::Problem>,
}

impl ConnectionReport {
    fn new(
        checks: Vec<ConnectionCheck>,
        warnings: Vec<String>,
        agent: Option<AgentTarget>,
        locale: Locale,
    ) -> ConnectionReport {
        let ok = checks.iter().all(|c| c.ok || c.name == "models")
            && checks.iter().any(|c| c.name == "completion" && c.ok);
        let summary = say(
            locale,
            if ok { "ai.testWorks" } else { "ai.testFails" },
            &[],
        );
        ConnectionReport {
            ok,
            summary,
            checks,
            warnings,
            agent,
            problem: None,
        }
    }
}

impl ConnectionReport {
    /// Every line passed through [`redact`](crate::redact::redact): what the provider
    /// or its address said is shown, the key is not.
    fn redacted(mut self, api_key: &Option<Secret>) -> ConnectionReport {
        let key = api_key.as_ref().map(Secret::expose);
        let clean = |text: &mut String| *text = crate::redact::redact(text, key.as_slice());
        self.checks.iter_mut().for_each(|c| clean(&mut c.detail));
        self.warnings.iter_mut().for_each(clean);
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ConnectionCheck {
    /// `agent` (which gateway agent answers), `models` (auth and the model list),
    /// `tools` (the agent's tools, where the gateway tells) or `completion` (a one-token
    /// reply).
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

/// A sentence of the report in `locale`, from the window's catalogs.
fn say(locale: Locale, key: &str, values: &[(&str, &str)]) -> String {
    crate::catalog::text_with(locale, key, values)
}

fn check(name: &str, ok: bool, detail: String) -> ConnectionCheck {
    ConnectionCheck {
        name: name.to_owned(),
        ok,
        detail,
    }
}

/// The gateway setting that turns its OpenAI-compatible endpoints on (off by default).
pub const GATEWAY_ENDPOINT_SETTING: &str = "gateway.http.endpoints.chatCompletions.enabled";

/// How long "test connection" waits for a gateway's one-token agent turn to go on.
const GATEWAY_TEST_STALL: Duration = Duration::from_secs(120);

fn gateway_disabled(status: u16, locale: Locale) -> String {
    say(
        locale,
        "ai.check.gatewayEndpointOff",
        &[
            ("status", &status.to_string()),
            ("setting", GATEWAY_ENDPOINT_SETTING),
        ],
    )
}

fn gateway_token_refused(status: u16, locale: Locale) -> String {
    say(
        locale,
        "ai.check.gatewayTokenRefused",
        &[("status", &status.to_string())],
    )
}

/// A failed one-token request in words; for the gateway, what its statuses mean.
fn completion_failure(config: &ProviderConfig, e: &ProviderError, locale: Locale) -> String {
    if config.preset == Preset::OpenClaw {
        match e {
            ProviderError::Status { status: 404, .. } => return gateway_disabled(404, locale),
            ProviderError::Auth(status) => return gateway_token_refused(*status, locale),
            _ => {}
        }
    }
    if let ProviderError::Network(reason) = e {
        let values = [("url", config.base_url.as_str()), ("reason", reason)];
        return say(locale, "ai.check.unreachable", &values);
    }
    say(
        locale,
        "ai.check.requestFailed",
        &[("error", &e.to_string())],
    )
}

async fn models_check(
    config: &ProviderConfig,
    response: reqwest::Response,
    locale: Locale,
) -> ConnectionCheck {
    let status = response.status().as_u16();
    let gateway = config.preset == Preset::OpenClaw;
    if status == 401 || status == 403 {
        let detail = if gateway {
            gateway_token_refused(status, locale)
        } else {
            say(
                locale,
                "ai.check.keyRefused",
                &[("status", &status.to_string())],
            )
        };
        return check("models", false, detail);
    }
    if gateway && status == 404 {
        return check("models", false, gateway_disabled(status, locale));
    }
    if !response.status().is_success() {
        let detail = say(
            locale,
            "ai.check.noModelList",
            &[("status", &status.to_string())],
        );
        return check("models", false, detail);
    }
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let ids: Vec<String> = body["data"]
        .as_array()
        .map(|models| {
            models
                .iter()
                .filter_map(|m| m["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let listed = ids.iter().any(|id| id == &config.model);
    let shown: Vec<&str> = ids.iter().take(10).map(String::as_str).collect();
    let key = if listed {
        "ai.check.modelListed"
    } else {
        "ai.check.modelNotListed"
    };
    let (count, models) = (ids.len().to_string(), shown.join(", "));
    let values = [
        ("count", &*count),
        ("models", &*models),
        ("model", &*config.model),
    ];
    check("models", true, say(locale, key, &values))
}

fn network(e: &reqwest::Error) -> String {
    // Not the error's own text: it names the URL, which may carry a query.
    let mut parts = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    if parts.is_empty() {
        let kind = if e.is_connect() {
            "connection failed"
        } else if e.is_timeout() {
            "timed out"
        } else if e.is_body() || e.is_decode() {
            "the response body broke off"
        } else {
            "request failed"
        };
        parts.push(kind.to_owned());
    }
    parts.join(": ")
}

async fn pump(
    builder: reqwest::RequestBuilder,
    first_byte: Duration,
    stall: Duration,
    tx: &mpsc::Sender<StreamEvent>,
) -> Result<(), ProviderError> {
    let mut response = match tokio::time::timeout(first_byte, builder.send()).await {
        Err(_) => return Err(ProviderError::NoAnswer(first_byte)),
        Ok(Err(e)) if e.is_timeout() => return Err(ProviderError::NoAnswer(first_byte)),
        Ok(Err(e)) => return Err(ProviderError::Network(network(&e))),
        Ok(Ok(r)) => r,
    };
    let status = response.status().as_u16();
    if status == 401 || status == 403 {
        return Err(ProviderError::Auth(status));
    }
    if !response.status().is_success() {
        let text = tokio::time::timeout(stall, response.text())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| {
                v.pointer("/error/message")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or(text);
        // Cut to SHOWN_BODY_CHARS only after redaction (in `stream`), so that a
        // key cut in half at the limit is still recognised.
        return Err(ProviderError::Status {
            status,
            message: message.chars().take(4 * SHOWN_BODY_CHARS).collect(),
        });
    }
    let mut parser = SseParser::new();
    let (mut finished, mut usage) = (false, (0, 0));
    'stream: loop {
        let chunk = match tokio::time::timeout(stall, response.chunk()).await {
            Err(_) => return Err(ProviderError::Stalled(stall)),
            Ok(Err(e)) => return Err(ProviderError::Network(network(&e))),
            Ok(Ok(chunk)) => chunk,
        };
        let items = match &chunk {
            Some(bytes) => parser.feed(bytes)?,
            None => parser.finish()?,
        };
        for item in items {
            match item {
                SseItem::Text(t) => {
                    if tx.send(StreamEvent::Text(t)).await.is_err() {
                        return Ok(()); // nobody listens any more
                    }
                }
                SseItem::Finished(_) => finished = true,
                SseItem::Usage { prompt, completion } => usage = (prompt, completion),
                SseItem::Done => break 'stream,
            }
        }
        if chunk.is_none() {
            // No [DONE]: accept the end only if the model said it had finished.
            if !finished {
                return Err(ProviderError::EndedEarly);
            }
            break;
        }
    }
    let _ = tx
        .send(StreamEvent::Done {
            prompt_tokens: usage.0,
            completion_tokens: usage.1,
        })
        .await;
    Ok(())
}
