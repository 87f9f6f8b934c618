//! The fault soak: the engine runs while the emulator (in its own process, so its
//! records do not count against the engine's memory) fails requests, stalls, drops
//! connections, answers garbage, replays messages, says -14 and closes reply windows.
//! Afterwards every injected message must be stored exactly once, every send must have
//! ended delivered exactly once or failed with a reason, and memory must not have grown.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use desk_core::ai::{AiConfig, AiService, Preset, ProviderConfig};
use desk_core::engine::{Engine, EngineConfig, Timings};
use desk_core::secrets::{MemoryStore, Secret, SecretKey, SecretStore};
use desk_core::store::{AccountUpsert, OutboxState};
use desk_core::{DataDir, Store};
use ilink::{ClientConfig, Timeouts};
use serde_json::{json, Value};

use crate::ai_stub::AiStub;
use crate::procfs;

pub struct SoakConfig {
    /// The `desk-bench` executable, which serves the emulator with `desk-bench sim`.
    pub sim_program: PathBuf,
    pub duration: Duration,
    pub accounts: usize,
    pub peers_per_account: usize,
    /// Inbound messages injected per second, over all accounts.
    pub inbound_per_second: f64,
    /// Texts queued per second, over all accounts.
    pub sends_per_second: f64,
    pub seed: u64,
}

impl SoakConfig {
    pub fn new(sim_program: PathBuf, duration: Duration) -> SoakConfig {
        SoakConfig {
            sim_program,
            duration,
            accounts: 4,
            peers_per_account: 3,
            inbound_per_second: 20.0,
            sends_per_second: 5.0,
            seed: 7,
        }
    }
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct SoakReport {
    pub injected: usize,
    /// Injected messages not in the store, and ones stored more than once.
    pub missing: Vec<String>,
    pub duplicated: Vec<String>,
    pub sends: usize,
    pub delivered: usize,
    /// Failed with a reason (expired windows, attempts used up).
    pub failed: usize,
    /// How many sends failed with each reason.
    #[serde(default)]
    pub failed_reasons: std::collections::BTreeMap<String, usize>,
    /// Sends that never finished, or that failed without a reason.
    pub unfinished: Vec<String>,
    /// Sends the emulator accepted a number of times other than their outcome allows.
    pub wrong_at_emulator: Vec<String>,
    /// Requests the AI provider stub got, and how many it failed on purpose.
    pub ai_requests: usize,
    pub ai_failed_on_purpose: usize,
    /// AI replies the emulator accepted (each answers one or more inbound messages).
    pub ai_replies: usize,
    /// Inbound messages answered by more than one AI reply.
    pub ai_answered_twice: Vec<String>,
    pub faults_fired: usize,
    pub rss_after_warm_up_mib: f64,
    pub rss_at_end_mib: f64,
    /// RSS every 5 s of the run.
    pub rss_timeline_mib: Vec<f64>,
}

impl SoakReport {
    /// Everything the soak promises; the reasons it does not hold.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut list = |what: &str, items: &[String]| {
            if !items.is_empty() {
                let shown: Vec<&str> = items.iter().take(5).map(String::as_str).collect();
                problems.push(format!("{} {what}: {}", items.len(), shown.join(", ")));
            }
        };
        list("injected messages missing from the log", &self.missing);
        list("injected messages stored twice", &self.duplicated);
        list(
            "sends not finished (or failed without a reason)",
            &self.unfinished,
        );
        list(
            "sends accepted by the emulator a wrong number of times",
            &self.wrong_at_emulator,
        );
        list(
            "inbound messages the AI answered twice",
            &self.ai_answered_twice,
        );
        if self.rss_at_end_mib > 1.2 * self.rss_after_warm_up_mib {
            problems.push(format!(
                "memory grew from {:.1} MiB after warm-up to {:.1} MiB at the end",
                self.rss_after_warm_up_mib, self.rss_at_end_mib
            ));
        }
        if self.faults_fired == 0 {
            problems.push("no fault fired: the soak proved nothing".into());
        }
        if self.ai_replies == 0 || self.ai_failed_on_purpose == 0 {
            problems.push(format!(
                "the AI was not exercised: {} replies, {} provider failures",
                self.ai_replies, self.ai_failed_on_purpose
            ));
        }
        problems
    }
}

/// How long the system gets, after the faults stop, to deliver what is pending.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);
const MIB: f64 = 1024.0 * 1024.0;
/// Share of AI provider requests the stub fails.
const AI_FAIL_PERCENT: u64 = 5;
/// Accounts with AI replies on (the others show the engine alone).
const AI_ACCOUNTS: usize = 2;
/// Inbound messages stored before the faults start.
const WARM_UP_BURST: usize = 3_000;

pub async fn run(config: &SoakConfig) -> Result<SoakReport, String> {
    let sim = SimProcess::start(&config.sim_program)?;
    let control = Control::new(&sim.url);
    let data = tempfile::tempdir().map_err(|e| e.to_string())?;
    let data_dir = DataDir::at(data.path()).map_err(|e| e.to_string())?;
    let store = Store::open(&data_dir.database()).map_err(|e| e.to_string())?;
    let secrets = Arc::new(MemoryStore::new());
    let mut accounts = Vec::new();
    for _ in 0..config.accounts {
        accounts.push(add_account(&control, &store, &secrets, &sim.url, config).await?);
    }
    control
        .post(
            "knobs",
            json!({
                "poll_hold_ms": 1_000,
                "longpolling_timeout_ms": 3_000,
                "replay_after_ms": 300,
                "replay_probability": 0.05,
                "replay_seed": config.seed,
            }),
        )
        .await?;
    let engine = Arc::new(Engine::new_in(
        store,
        &data_dir,
        secrets,
        soak_engine_config(),
    ));
    for account in &accounts {
        engine
            .accounts()
            .start(&account.account_id)
            .await
            .map_err(|e| e.to_string())?;
    }
    let stub = AiStub::start(AI_FAIL_PERCENT, config.seed)
        .await
        .map_err(|e| e.to_string())?;
    let ai = start_ai(&engine, &stub, &accounts[..AI_ACCOUNTS.min(accounts.len())]).await?;
    let mut report = SoakReport::default();
    let mut rng = Lcg(config.seed);
    let mut injected: Vec<(usize, String)> = Vec::new();
    // A fault-free burst first, so SQLite's page cache has filled before memory is
    // judged (it is what grows during the first few thousand messages).
    for _ in 0..WARM_UP_BURST {
        let (a, peer) = pick(&mut rng, &accounts);
        let text = format!("soak in {}", injected.len());
        control.inject(&accounts[a].bot_id, &peer, &text).await?;
        injected.push((a, text));
    }
    drain(&engine, &injected, &[], &accounts).await;
    control.post("faults", fault_rules(config.seed)).await?;

    let mut sends: Vec<(usize, i64, String)> = Vec::new();
    let started = Instant::now();
    let warm_up = (config.duration / 5).max(Duration::from_secs(10).min(config.duration / 2));
    let mut warm_rss = None;
    let tick = Duration::from_millis(50);
    let per_tick = |rate: f64| rate * tick.as_secs_f64();
    let (mut inbound_due, mut sends_due) = (0.0, 0.0);
    let stale_every = config.duration / (config.accounts as u32 + 1);
    let mut next_stale = stale_every;
    let mut next_sample = Duration::ZERO;
    while started.elapsed() < config.duration {
        tokio::time::sleep(tick).await;
        inbound_due += per_tick(config.inbound_per_second);
        while inbound_due >= 1.0 {
            inbound_due -= 1.0;
            let (a, peer) = pick(&mut rng, &accounts);
            let text = format!("soak in {}", injected.len());
            control.inject(&accounts[a].bot_id, &peer, &text).await?;
            injected.push((a, text));
        }
        sends_due += per_tick(config.sends_per_second);
        while sends_due >= 1.0 {
            sends_due -= 1.0;
            let (a, peer) = pick(&mut rng, &accounts);
            let text = format!("soak out {}", sends.len());
            let entry = engine
                .send_text(&accounts[a].account_id, &peer, &text)
                .await
                .map_err(|e| e.to_string())?;
            sends.push((a, entry.id, text));
        }
        if rng.below(100) == 0 {
            let (a, peer) = pick(&mut rng, &accounts);
            control
                .post(
                    &format!("bots/{}/expire_context", accounts[a].bot_id),
                    json!({ "peer_id": peer }),
                )
                .await?;
        }
        if started.elapsed() >= next_stale {
            next_stale += stale_every;
            let fault = json!({"endpoint": "getupdates", "fault": {"kind": "session_timeout"}});
            control.post("faults", fault).await?;
        }
        if started.elapsed() >= next_sample {
            next_sample += Duration::from_secs(5);
            report.rss_timeline_mib.push(rss_mib());
        }
        if warm_rss.is_none() && started.elapsed() >= warm_up {
            warm_rss = Some(rss_mib());
        }
    }
    report.faults_fired = control.get("faults").await?["hits"]
        .as_array()
        .map_or(0, Vec::len);
    report.rss_at_end_mib =
        procfs::usage(std::process::id()).map_or(0.0, |u| u.rss_bytes as f64 / MIB);
    report.rss_after_warm_up_mib = warm_rss.unwrap_or_default();

    // The faults stop; every peer writes once more, so closed windows reopen.
    control.delete("faults").await?;
    control
        .post("knobs", json!({ "replay_after_ms": null }))
        .await?;
    for (a, account) in accounts.iter().enumerate() {
        for peer in &account.peers {
            let text = format!("soak in {}", injected.len());
            control.inject(&account.bot_id, peer, &text).await?;
            injected.push((a, text));
        }
    }
    drain(&engine, &injected, &sends, &accounts).await;
    ai.shutdown();
    engine.shutdown().await;
    verify(&engine, &control, &accounts, &injected, &sends, &mut report).await?;
    report.ai_requests = stub
        .counts
        .requests
        .load(std::sync::atomic::Ordering::Relaxed);
    report.ai_failed_on_purpose = stub
        .counts
        .failed
        .load(std::sync::atomic::Ordering::Relaxed);
    Ok(report)
}

/// Waits until every injected message is stored and every send has finished, or the
/// drain limit passes (what is left then shows up in the report).
async fn drain(
    engine: &Engine,
    injected: &[(usize, String)],
    sends: &[(usize, i64, String)],
    accounts: &[Account],
) {
    let deadline = Instant::now() + DRAIN_LIMIT;
    while Instant::now() < deadline {
        let stored = stored_texts(engine, accounts).await.unwrap_or_default();
        let all_in = injected
            .iter()
            .all(|(a, t)| stored.contains_key(&(*a, t.clone())));
        let ids: Vec<i64> = sends.iter().map(|(_, id, _)| *id).collect();
        let all_out = engine
            .store()
            .call(move |s| {
                for id in ids {
                    let finished = s.outbox_entry(id)?.is_some_and(|e| {
                        matches!(e.state, OutboxState::Delivered | OutboxState::Failed)
                    });
                    if !finished {
                        return Ok(false);
                    }
                }
                Ok(true)
            })
            .await
            .unwrap_or(false);
        if all_in && all_out {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn verify(
    engine: &Engine,
    control: &Control,
    accounts: &[Account],
    injected: &[(usize, String)],
    sends: &[(usize, i64, String)],
    report: &mut SoakReport,
) -> Result<(), String> {
    report.injected = injected.len();
    let stored = stored_texts(engine, accounts).await?;
    for (a, text) in injected {
        match stored.get(&(*a, text.clone())) {
            None => report.missing.push(format!("{text} (account {a})")),
            Some(1) => {}
            Some(_) => report.duplicated.push(format!("{text} (account {a})")),
        }
    }
    let mut accepted: HashMap<(usize, String), usize> = HashMap::new();
    let mut answered: HashMap<(usize, String), usize> = HashMap::new();
    for (a, account) in accounts.iter().enumerate() {
        let sent = control
            .get(&format!("bots/{}/sent", account.bot_id))
            .await?;
        for message in sent.as_array().into_iter().flatten() {
            let Some(text) = message
                .pointer("/item/text_item/text")
                .and_then(Value::as_str)
            else {
                continue;
            };
            *accepted.entry((a, text.to_owned())).or_default() += 1;
            if let Some(answer) = text.strip_prefix("re: ") {
                report.ai_replies += 1;
                for asked in inbound_ids(answer) {
                    *answered.entry((a, asked)).or_default() += 1;
                }
            }
        }
    }
    for ((a, asked), times) in answered {
        if times > 1 {
            report
                .ai_answered_twice
                .push(format!("{asked} (account {a}): {times} replies"));
        }
    }
    report.sends = sends.len();
    for (a, id, text) in sends {
        let id = *id;
        let entry = engine
            .store()
            .call(move |s| s.outbox_entry(id))
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("outbox row {id} vanished"))?;
        let times = accepted.get(&(*a, text.clone())).copied().unwrap_or(0);
        match entry.state {
            OutboxState::Delivered => {
                report.delivered += 1;
                if times != 1 {
                    report
                        .wrong_at_emulator
                        .push(format!("{text}: delivered, accepted {times}×"));
                }
            }
            OutboxState::Failed if entry.last_error.as_deref().is_some_and(|e| !e.is_empty()) => {
                report.failed += 1;
                let reason = entry.last_error.clone().unwrap_or_default();
                *report.failed_reasons.entry(reason).or_default() += 1;
                if times != 0 {
                    report
                        .wrong_at_emulator
                        .push(format!("{text}: failed, accepted {times}×"));
                }
            }
            state => report.unfinished.push(format!("{text}: {state:?}")),
        }
    }
    Ok(())
}

/// The `soak in N` texts an AI reply echoes (the stub answers `re: <the new turn>`).
fn inbound_ids(answer: &str) -> Vec<String> {
    answer
        .split("soak in ")
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            (!digits.is_empty()).then(|| format!("soak in {digits}"))
        })
        .collect()
}

/// Turns AI replies on for `accounts` against the stub: no takeover (the soak's own
/// sends would silence it), no hourly cap, and the failure notice on.
async fn start_ai(
    engine: &Arc<Engine>,
    stub: &AiStub,
    accounts: &[Account],
) -> Result<AiService, String> {
    let ai = AiService::start(
        Arc::clone(engine),
        AiConfig {
            use_system_proxy: false,
            ..AiConfig::default()
        },
    );
    let mut settings = ai.global_settings().await.map_err(|e| e.to_string())?;
    settings.provider = ProviderConfig {
        base_url: stub.base_url.clone(),
        model: "soak".into(),
        ..ProviderConfig::preset(Preset::Custom)
    };
    ai.set_global_settings(settings)
        .await
        .map_err(|e| e.to_string())?;
    ai.set_api_key(Some(Secret::new("soak-key".to_owned())))
        .await
        .map_err(|e| e.to_string())?;
    for account in accounts {
        let mut settings = ai
            .account_settings(&account.account_id)
            .await
            .map_err(|e| e.to_string())?;
        settings.enabled = true;
        settings.takeover_minutes = 0;
        settings.runs_per_peer_per_hour = 0;
        ai.set_account_settings(&account.account_id, settings)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(ai)
}

/// (account index, text) → how many inbound rows hold it.
async fn stored_texts(
    engine: &Engine,
    accounts: &[Account],
) -> Result<HashMap<(usize, String), usize>, String> {
    let wanted: Vec<(String, Vec<String>)> = accounts
        .iter()
        .map(|a| (a.account_id.clone(), a.peers.clone()))
        .collect();
    engine
        .store()
        .call(move |s| {
            let mut counts = HashMap::new();
            for (index, (account, peers)) in wanted.iter().enumerate() {
                for peer in peers {
                    let mut cursor = None;
                    loop {
                        let page = s.conversation_page(account, peer, cursor, 500)?;
                        for message in page.messages.iter().filter(|m| m.direction == "in") {
                            if let Some(text) = &message.text {
                                *counts.entry((index, text.clone())).or_default() += 1;
                            }
                        }
                        match page.older {
                            Some(older) => cursor = Some(older),
                            None => break,
                        }
                    }
                }
            }
            Ok(counts)
        })
        .await
        .map_err(|e| e.to_string())
}

/// Faults on both ends of the engine's traffic. Send faults are ones the emulator answers
/// before serving: a send it accepted but whose answer was lost cannot be told apart
/// from one it never saw, so retrying it might deliver twice (`truncated_json` is
/// therefore only on getupdates, where the cursor and dedupe make a repeat harmless).
fn fault_rules(seed: u64) -> Value {
    let rules_for = |endpoint: &str| {
        vec![
            json!({"endpoint": endpoint, "probability": 0.10, "fault": {"kind": "status", "status": 503}}),
            json!({"endpoint": endpoint, "probability": 0.05, "fault": {"kind": "hang", "max_ms": 6_000}}),
            json!({"endpoint": endpoint, "probability": 0.02, "fault": {"kind": "reset"}}),
            json!({"endpoint": endpoint, "probability": 0.01, "fault": {"kind": "malformed_json"}}),
        ]
    };
    let mut rules = rules_for("getupdates");
    rules.push(
        json!({"endpoint": "getupdates", "probability": 0.01, "fault": {"kind": "truncated_json"}}),
    );
    rules.extend(rules_for("sendmessage"));
    json!({ "seed": seed, "rules": rules })
}

/// Short timeouts and pauses, so a minute holds many failures and recoveries.
fn soak_engine_config() -> EngineConfig {
    EngineConfig {
        client: ClientConfig {
            use_system_proxy: false,
            timeouts: Timeouts {
                get_bot_qrcode: Some(Duration::from_secs(3)),
                get_qrcode_status: Duration::from_secs(3),
                getupdates: Duration::from_secs(3),
                send: Duration::from_secs(2),
                control: Duration::from_secs(2),
            },
            ..ClientConfig::default()
        },
        timings: Timings {
            poll_retry: Duration::from_millis(100),
            poll_backoff: Duration::from_millis(500),
            stale_token_pause: Duration::from_secs(2),
            send_retry: Duration::from_millis(100),
            send_retry_max: Duration::from_secs(1),
            send_max_attempts: 12,
            window_wait_limit: Duration::from_secs(120),
            // The soak's clock runs fast: sends are paced at 20 ms, and it queues more
            // per peer message than WeChat's allowance (held back and released by the
            // engine's own tests), so that is off here.
            send_interval: Duration::from_millis(20),
            replies_per_message: 0,
            // Every queued message is its own send, so the soak's counts stay comparable.
            merge_short_texts: false,
            ..Timings::default()
        },
        ..EngineConfig::default()
    }
}

struct Account {
    account_id: String,
    bot_id: String,
    peers: Vec<String>,
}

async fn add_account(
    control: &Control,
    store: &Store,
    secrets: &MemoryStore,
    url: &str,
    config: &SoakConfig,
) -> Result<Account, String> {
    let bot = control.post("bots", json!({})).await?;
    let field = |name: &str| {
        bot[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no {name} in {bot}"))
    };
    let (bot_id, token, user_id) = (field("bot_id")?, field("token")?, field("user_id")?);
    let mut peers = Vec::new();
    for p in 0..config.peers_per_account {
        let peer = format!("soak-peer-{p}@im.wechat");
        control
            .post(&format!("bots/{bot_id}/peers"), json!({ "peer_id": peer }))
            .await?;
        peers.push(peer);
    }
    let account_id = ilink::account_id::normalize(&bot_id);
    store
        .upsert_account(
            &AccountUpsert {
                account_id: account_id.clone(),
                bot_id: bot_id.clone(),
                base_url: url.to_owned(),
                alias: None,
                user_id: Some(user_id),
                cdn_url: None,
                route_tag: None,
            },
            0,
        )
        .map_err(|e| e.to_string())?;
    secrets
        .set(&SecretKey::bot_token(&account_id), &Secret::new(token))
        .map_err(|e| e.to_string())?;
    Ok(Account {
        account_id,
        bot_id,
        peers,
    })
}

fn rss_mib() -> f64 {
    procfs::usage(std::process::id()).map_or(0.0, |u| u.rss_bytes as f64 / MIB)
}

fn pick(rng: &mut Lcg, accounts: &[Account]) -> (usize, String) {
    let a = rng.below(accounts.len() as u64) as usize;
    let peers = &accounts[a].peers;
    (a, peers[rng.below(peers.len() as u64) as usize].clone())
}

/// The emulator's control API (`/_sim/`).
struct Control {
    http: reqwest::Client,
    base: String,
}

impl Control {
    fn new(url: &str) -> Control {
        Control {
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("an HTTP client"),
            base: format!("{url}_sim/"),
        }
    }

    async fn inject(&self, bot: &str, peer: &str, text: &str) -> Result<(), String> {
        self.post(
            &format!("bots/{bot}/inject"),
            json!({"peer_id": peer, "text": text}),
        )
        .await
        .map(drop)
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        answer(
            self.http
                .post(format!("{}{path}", self.base))
                .json(&body)
                .send()
                .await,
        )
        .await
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        answer(self.http.get(format!("{}{path}", self.base)).send().await).await
    }

    async fn delete(&self, path: &str) -> Result<Value, String> {
        answer(
            self.http
                .delete(format!("{}{path}", self.base))
                .send()
                .await,
        )
        .await
    }
}

async fn answer(response: reqwest::Result<reqwest::Response>) -> Result<Value, String> {
    let response = response.map_err(|e| format!("emulator control API: {e}"))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("emulator control API answered {status}: {text}"));
    }
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text).map_err(|e| format!("emulator control API sent bad JSON: {e}"))
}

/// `desk-bench sim` as a child process; it ends when its stdin closes.
struct SimProcess {
    child: Child,
    url: String,
}

impl SimProcess {
    fn start(program: &std::path::Path) -> Result<SimProcess, String> {
        let mut child = Command::new(program)
            .arg("sim")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the emulator ({}): {e}", program.display()))?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let url = line
            .trim()
            .strip_prefix("ilink-sim ")
            .ok_or_else(|| format!("the emulator said {line:?} instead of its address"))?
            .to_owned();
        Ok(SimProcess { child, url })
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `desk-bench sim`: serves an emulator on a free loopback port, prints
/// `ilink-sim <url>` and runs until stdin closes (its parent ended).
pub async fn serve_sim() -> Result<(), String> {
    let sim = ilink_sim::Sim::start(ilink_sim::SimConfig::default())
        .await
        .map_err(|e| e.to_string())?;
    println!("ilink-sim {}", sim.base_url());
    use std::io::Write;
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    })
    .await
    .map_err(|e| e.to_string())?;
    drop(sim);
    Ok(())
}

/// The soak's deterministic choices.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}
