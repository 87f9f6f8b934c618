//! `ai …`: AI replies configured from the command line, with the same settings API the
//! desktop app uses. Settings live in SQLite (a running `run` reads them again for
//! every message); the provider's API key lives in the secret store only.

use std::sync::Arc;

use clap::{Args, Subcommand, ValueEnum};
use desk_core::ai::openclaw::{
    agent_target, check_agent, DEDICATED_AGENT_CONFIG, DEFAULT_AGENT_ID,
};
use desk_core::ai::provider::API_KEY_PROFILE;
use desk_core::ai::{AccountAiSettings, AiConfig, AiError, AiService, Preset, ProviderConfig};
use desk_core::secrets::{MemoryStore, SecretKey, SecretStore};
use desk_core::store::Account;
use desk_core::{Engine, Locale, Store};
use serde_json::json;

use super::{resolve_account, runtime, Context};
use crate::error::CliError;
use crate::render::{now_ms, plain, utc};
use crate::secrets::{self, WithGivenSecret};

/// The `ai_config` row `ai provider` rewrites when it stores or deletes the key (its
/// value: when, epoch ms). Nothing reads it; writing it is what tells a running `run`.
const KEY_CHANGED_MARKER: &str = "api_key_changed_ms";

/// `ai test` found that the provider does not work.
pub const EXIT_AI_TEST_FAILED: u8 = 3;

pub const AI_FLOW: &str = "\
AI replies on a server, step by step:

  1. an account: `login` (QR code) or `add-account --bot-id ID --token-stdin`
  2. the provider: `ai provider --preset openai --model gpt-4o-mini --key-stdin`
     (the key is read from stdin into the OS keyring; presets: openclaw, ollama,
     openai, deepseek, qwen, custom)
  3. check it: `ai test` (exit 0 when replies can be generated)
  4. turn replies on: `ai enable --account ID` (optionally `ai persona --account ID TEXT`)
  5. `run`: the accounts and the AI replies together, one line per event

Without a usable OS keyring (--secrets memory, or auto falling back to memory) the key \
cannot be kept: give it to each process instead, `ai test --key-stdin` and `run \
--ai-key-stdin` (with --token-stdin too: the bot token on the first line of stdin, the \
key on the second).

Changes made with `ai` while `run` is running take effect in it from the next message: \
run reads the settings for every message, and reads the key again after another \
process changed the data directory. The API key is never printed, logged or written to \
the database.";

#[derive(Args)]
#[command(after_help = AI_FLOW)]
pub struct AiArgs {
    #[command(subcommand)]
    command: AiCommand,
}

#[derive(Subcommand)]
enum AiCommand {
    /// Show the provider, whether a key is stored (never the key), the global pause, each
    /// account's AI settings, and the peers (with a conversation) that have their own.
    Status {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Choose the provider (a preset's defaults, then --base-url/--model), and store its
    /// API key from stdin.
    Provider(ProviderArgs),
    /// Check the provider: the key, the model list and a one-token reply. Exits 0 when
    /// replies can be generated, 3 when not.
    Test(TestArgs),
    /// Stop every AI reply at once (the settings stay).
    Pause,
    /// End the global pause.
    Resume,
    /// Turn AI replies on: for an account's peers by default, or for one --peer.
    Enable(Target),
    /// Turn AI replies off: for an account, or for one --peer only.
    Disable(Target),
    /// Let the AI answer a peer again after you replied by hand (ends the takeover).
    ResumePeer(PeerTarget),
    /// Drop a peer's own switch: it follows its account's again.
    FollowAccount(PeerTarget),
    /// Set or clear the persona (system prompt) of an account or of one peer.
    Persona(PersonaArgs),
    /// Show, reset or summarize what the model remembers of a conversation.
    Memory(MemoryArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum PresetArg {
    #[value(name = "openclaw")]
    OpenClaw,
    Ollama,
    #[value(name = "openai")]
    OpenAi,
    #[value(name = "deepseek")]
    DeepSeek,
    Qwen,
    Custom,
}

impl PresetArg {
    fn preset(self) -> Preset {
        match self {
            PresetArg::OpenClaw => Preset::OpenClaw,
            PresetArg::Ollama => Preset::Ollama,
            PresetArg::OpenAi => Preset::OpenAi,
            PresetArg::DeepSeek => Preset::DeepSeek,
            PresetArg::Qwen => Preset::Qwen,
            PresetArg::Custom => Preset::Custom,
        }
    }
}

fn preset_name(preset: Preset) -> &'static str {
    match preset {
        Preset::OpenClaw => "openclaw",
        Preset::Ollama => "ollama",
        Preset::OpenAi => "openai",
        Preset::DeepSeek => "deepseek",
        Preset::Qwen => "qwen",
        Preset::Custom => "custom",
    }
}

#[derive(Args)]
#[command(after_help = provider_help())]
struct ProviderArgs {
    /// Start from this provider's defaults.
    #[arg(long, value_enum)]
    preset: Option<PresetArg>,
    /// The provider's address, up to and including /v1 (http:// or https://).
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// The model name the provider knows.
    #[arg(long, value_name = "NAME")]
    model: Option<String>,
    /// Read the API key from stdin and store it in the OS keyring.
    #[arg(long)]
    key_stdin: bool,
    /// Delete the stored API key.
    #[arg(long, conflicts_with = "key_stdin")]
    forget_key: bool,
    /// OpenClaw: the gateway agent that answers (sets the model to openclaw/ID).
    #[arg(long, value_name = "ID", conflicts_with = "model")]
    agent: Option<String>,
    /// OpenClaw: let the gateway's main agent answer. Any WeChat user who writes can then
    /// use every tool that agent has (a default main agent can run shell commands).
    #[arg(long)]
    allow_main_agent: bool,
}

fn provider_help() -> String {
    format!(
        "\
--preset starts from that provider's defaults (address and model), which --base-url and \
--model then change; without --preset the current provider is edited. The key is read \
from stdin and goes to the OS keyring only, e.g.

  printf %s \"$OPENAI_API_KEY\" | weixin-desk-cli ai provider --preset openai --key-stdin

Nothing changes if any part is refused.

OpenClaw (--preset openclaw): the gateway runs every request made with its token as \
the owner's, so the agent that answers WeChat must be one with no tool that acts on the \
host. The preset targets the agent \"{agent}\" (model openclaw/{agent}); this gateway \
configuration (openclaw.json) turns on the endpoint and creates it with messaging only:

{config}

then: printf %s \"$OPENCLAW_GATEWAY_TOKEN\" | weixin-desk-cli ai provider --preset \
openclaw --key-stdin. The main agent (openclaw/default, openclaw/main) is refused \
unless --allow-main-agent confirms that any WeChat user who writes may use every tool \
it has.",
        agent = DEFAULT_AGENT_ID,
        config = DEDICATED_AGENT_CONFIG
    )
}

#[derive(Args)]
struct TestArgs {
    /// Read the API key from stdin and use it for this test only (not stored).
    #[arg(long)]
    key_stdin: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct Target {
    /// The account (default: every account; with --peer, the only account).
    #[arg(long, value_name = "ID")]
    account: Option<String>,
    /// Only this peer (its own switch, which wins over the account's).
    #[arg(long, value_name = "PEER")]
    peer: Option<String>,
}

#[derive(Args)]
struct PeerTarget {
    #[arg(long, value_name = "ID")]
    account: String,
    #[arg(long, value_name = "PEER")]
    peer: String,
}

#[derive(Args)]
#[command(after_help = "\
{peer_name} and {date} in the text are filled in for each reply. A peer's persona wins \
over its account's; --clear makes the peer follow the account again.")]
struct PersonaArgs {
    #[arg(long, value_name = "ID")]
    account: String,
    /// Only this peer.
    #[arg(long, value_name = "PEER")]
    peer: Option<String>,
    /// The persona text.
    #[arg(required_unless_present = "clear", conflicts_with = "clear")]
    text: Option<String>,
    /// Remove the persona.
    #[arg(long)]
    clear: bool,
}

#[derive(Args)]
#[command(after_help = "\
Without --reset or --set-summary, prints the memory scope, the summary and the history \
the next turn would send (message text, escaped for the terminal, as `log` shows it). \
--reset forgets the history before now (the message log stays).")]
struct MemoryArgs {
    #[arg(long, value_name = "ID")]
    account: String,
    #[arg(long, value_name = "PEER")]
    peer: String,
    /// Forget the conversation so far.
    #[arg(long, conflicts_with = "set_summary")]
    reset: bool,
    /// Replace the summary sent with every turn ("" clears it).
    #[arg(long, value_name = "TEXT")]
    set_summary: Option<String>,
}

/// An engine that runs no account, with the AI settings API on it. Fields drop in
/// order: the AI first, the runtime last.
struct Session {
    ai: AiService,
    engine: Arc<Engine>,
    secrets: Arc<dyn SecretStore>,
    rt: tokio::runtime::Runtime,
}

impl Session {
    fn open(ctx: &Context, secrets: Arc<dyn SecretStore>) -> Result<Session, CliError> {
        let rt = runtime()?;
        let _entered = rt.enter();
        let store = ctx.store()?;
        let engine = Arc::new(Engine::new(
            store,
            Arc::clone(&secrets),
            ctx.engine_config(),
        ));
        let ai = AiService::start(Arc::clone(&engine), ai_config(ctx));
        Ok(Session {
            ai,
            engine,
            secrets,
            rt,
        })
    }

    fn block_on<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.rt.block_on(f)
    }

    fn store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, desk_core::CoreError> + Send + 'static,
    ) -> Result<T, CliError> {
        Ok(self.block_on(self.engine.store().call(f))?)
    }
}

/// How the AI reaches its provider: with `--sim` (trying things out on loopback) not
/// through the system proxy.
pub fn ai_config(ctx: &Context) -> AiConfig {
    AiConfig {
        use_system_proxy: ctx.sim.is_none(),
        ..AiConfig::default()
    }
}

fn ai_err(e: AiError) -> CliError {
    match e {
        AiError::UnknownAccount(id) => {
            CliError::Usage(format!("no account {id:?} (see `accounts`)"))
        }
        AiError::Invalid(why) => CliError::Usage(why),
        AiError::Engine(e) => CliError::Engine(e),
        AiError::Secret(e) => CliError::Secret(e),
    }
}

pub fn ai(ctx: &Context, args: AiArgs) -> Result<(), CliError> {
    match args.command {
        AiCommand::Status { json } => status(ctx, json),
        AiCommand::Provider(args) => provider(ctx, args),
        AiCommand::Test(args) => test(ctx, args),
        AiCommand::Pause => set_paused(ctx, true),
        AiCommand::Resume => set_paused(ctx, false),
        AiCommand::Enable(target) => set_enabled(ctx, target, true),
        AiCommand::Disable(target) => set_enabled(ctx, target, false),
        AiCommand::ResumePeer(t) => resume_peer(ctx, t),
        AiCommand::FollowAccount(t) => follow_account(ctx, t),
        AiCommand::Persona(args) => persona(ctx, args),
        AiCommand::Memory(args) => memory(ctx, args),
    }
}

/// A session for commands that never touch the API key (no keyring wait, no warning).
fn settings_session(ctx: &Context) -> Result<Session, CliError> {
    Session::open(ctx, Arc::new(MemoryStore::new()))
}

fn account(session: &Session, id: &str) -> Result<Account, CliError> {
    let id = id.to_owned();
    session.store(move |s| Ok(resolve_account(s, &id)))?
}

/// Warns (without refusing) when a peer has never written to this account: a typo
/// would otherwise be stored silently.
fn warn_unknown_peer(session: &Session, account_id: &str, peer: &str) -> Result<(), CliError> {
    let a = account_id.to_owned();
    let known = session.store(move |s| s.list_conversations(&a))?;
    if !known.iter().any(|c| c.peer_id.eq_ignore_ascii_case(peer)) {
        eprintln!(
            "note: {} has no conversation with {} yet; the setting applies once they write",
            account_id,
            plain(peer, false)
        );
    }
    Ok(())
}

fn status(ctx: &Context, json: bool) -> Result<(), CliError> {
    let opened = ctx.open_secrets()?;
    let persistent = opened.persistent;
    let session = Session::open(ctx, opened.store)?;
    let global = session
        .block_on(session.ai.global_settings())
        .map_err(ai_err)?;
    let key_stored = if persistent {
        let secrets = Arc::clone(&session.secrets);
        Some(
            secrets
                .get(&SecretKey::ai_api_key(API_KEY_PROFILE))?
                .is_some(),
        )
    } else {
        None
    };
    let accounts = session.store(|s| s.list_accounts())?;
    let mut account_docs = Vec::new();
    for a in &accounts {
        let settings = session
            .block_on(session.ai.account_settings(&a.account_id))
            .map_err(ai_err)?;
        let id = a.account_id.clone();
        let conversations = session.store(move |s| s.list_conversations(&id))?;
        let mut peers = Vec::new();
        for c in conversations {
            let state = session
                .block_on(session.ai.peer_state(&a.account_id, &c.peer_id))
                .map_err(ai_err)?;
            if state.enabled.is_some()
                || state.persona.is_some()
                || state.takeover_until_ms.is_some()
            {
                peers.push(json!({
                    "peer_id": c.peer_id,
                    "enabled": state.enabled,
                    "effective": state.effective,
                    "persona": state.persona,
                    "takeover_until_ms": state.takeover_until_ms,
                }));
            }
        }
        account_docs.push(json!({
            "account_id": a.account_id,
            "alias": a.alias,
            "enabled": settings.enabled,
            "persona": settings.persona,
            "memory_scope": settings.memory_scope,
            "takeover_minutes": settings.takeover_minutes,
            "allow": settings.allow,
            "block": settings.block,
            "peers": peers,
        }));
    }
    let p = &global.provider;
    // Extra headers may carry credentials: only their names are shown.
    let header_names: Vec<&str> = p.extra_headers.iter().map(|(n, _)| n.as_str()).collect();
    let doc = json!({
        "paused": global.paused,
        "provider": {
            "preset": preset_name(p.preset),
            "base_url": p.base_url,
            "model": p.model,
            "vision": p.vision,
            "extra_header_names": header_names,
            "allow_main_agent": p.allow_main_agent,
            "agent": agent_target(p),
        },
        "api_key_stored": key_stored,
        "secrets_persistent": persistent,
        "accounts": account_docs,
    });
    if json {
        println!("{doc}");
        return Ok(());
    }
    println!(
        "AI replies: {}",
        if global.paused {
            "paused for every account (`ai resume` ends the pause)"
        } else {
            "not paused"
        }
    );
    println!(
        "provider: {} at {}, model {}",
        preset_name(p.preset),
        plain(&p.base_url, false),
        if p.model.is_empty() {
            "(none)".to_owned()
        } else {
            plain(&p.model, false)
        }
    );
    println!(
        "API key: {}",
        match key_stored {
            Some(true) => "stored in the OS keyring",
            Some(false) => "not stored (`ai provider --key-stdin`)",
            None => "unknown: the OS keyring is not usable (give it with --key-stdin)",
        }
    );
    if accounts.is_empty() {
        println!("no accounts (add one with `login` or `add-account`)");
    }
    for doc in &account_docs {
        let persona = doc["persona"].as_str().unwrap_or_default();
        println!(
            "account {}: AI {}, memory {}, persona {}",
            doc["account_id"].as_str().unwrap_or_default(),
            if doc["enabled"] == true { "on" } else { "off" },
            doc["memory_scope"].as_str().unwrap_or_default(),
            if persona.is_empty() {
                "(none)".to_owned()
            } else {
                format!("\"{}\"", plain(persona, false))
            }
        );
        for peer in doc["peers"].as_array().into_iter().flatten() {
            let mut parts = vec![match peer["enabled"].as_bool() {
                Some(true) => "AI on (own switch)".to_owned(),
                Some(false) => "AI off (own switch)".to_owned(),
                None => "follows the account".to_owned(),
            }];
            if let Some(persona) = peer["persona"].as_str() {
                parts.push(format!("persona \"{}\"", plain(persona, false)));
            }
            if let Some(until) = peer["takeover_until_ms"].as_i64() {
                parts.push(format!(
                    "quiet until {} UTC after your manual reply (`ai resume-peer`)",
                    utc(until)
                ));
            }
            println!(
                "  peer {}: {}",
                plain(peer["peer_id"].as_str().unwrap_or_default(), false),
                parts.join(", ")
            );
        }
    }
    Ok(())
}

/// `--base-url`: an http(s) address with a host, nothing a typo would leave in it.
fn check_base_url(url: &str) -> Result<String, CliError> {
    let url = url.trim();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
    let fine = matches!(host, Some(h) if !h.is_empty() && !h.starts_with(':'))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if host.is_some_and(|h| h.contains('@')) {
        return Err(CliError::Usage(
            "--base-url must not carry a user name or password (it is stored and shown); \
             give the key with --key-stdin"
                .into(),
        ));
    }
    if !fine {
        return Err(CliError::Usage(format!(
            "--base-url must be an http:// or https:// address such as \
             https://api.openai.com/v1 (got \"{}\")",
            plain(url, false)
        )));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn provider(ctx: &Context, args: ProviderArgs) -> Result<(), CliError> {
    if args.preset.is_none()
        && args.base_url.is_none()
        && args.model.is_none()
        && args.agent.is_none()
        && !args.allow_main_agent
        && !args.key_stdin
        && !args.forget_key
    {
        return Err(CliError::Usage(
            "nothing to change: give --preset, --base-url, --model, --agent, --key-stdin \
             or --forget-key (`ai status` shows the current provider)"
                .into(),
        ));
    }
    let model = match &args.agent {
        Some(id) if id.trim().is_empty() || id.contains(['/', ':']) => {
            return Err(CliError::Usage(
                "--agent must be an OpenClaw agent id such as weixin".into(),
            ))
        }
        Some(id) => Some(format!("openclaw/{}", id.trim())),
        None => args.model.clone(),
    };
    let base_url = args.base_url.as_deref().map(check_base_url).transpose()?;
    if let Some(model) = &model {
        if model.trim().is_empty() || model.chars().any(char::is_control) {
            return Err(CliError::Usage("--model must be a model name".into()));
        }
    }
    let opened = ctx.open_secrets()?;
    if (args.key_stdin || args.forget_key) && !opened.persistent {
        return Err(CliError::Usage(
            "the OS keyring is not usable, so an API key cannot be kept; nothing was \
             changed. Give the key to each process instead: `ai test --key-stdin`, \
             `run --ai-key-stdin`"
                .into(),
        ));
    }
    // Read before anything changes: a bad key loses nothing.
    let key = if args.key_stdin {
        Some(secrets::read_secrets_from_stdin(&["the API key"])?.remove(0))
    } else {
        None
    };
    let session = Session::open(ctx, opened.store)?;
    let mut global = session
        .block_on(session.ai.global_settings())
        .map_err(ai_err)?;
    // A key-only change is not refused for a model chosen later.
    let choosing = args.preset.is_some() || args.base_url.is_some() || model.is_some();
    let mut config = match args.preset {
        Some(p) => ProviderConfig::preset(p.preset()),
        None => global.provider.clone(),
    };
    if let Some(url) = base_url {
        config.base_url = url;
    }
    if let Some(model) = model {
        config.model = model.trim().to_owned();
    }
    if args.allow_main_agent {
        config.allow_main_agent = true;
    }
    if config.model.is_empty() && choosing {
        return Err(CliError::Usage(
            "this provider has no default model: name one with --model".into(),
        ));
    }
    if let Err(refused) = check_agent(&config) {
        if choosing {
            return Err(CliError::Usage(format!(
                "{refused} (--allow-main-agent); nothing was changed"
            )));
        }
        eprintln!("warning: AI replies will not run: {refused} (--allow-main-agent)");
    }
    global.provider = config;
    session
        .block_on(session.ai.set_global_settings(global.clone()))
        .map_err(ai_err)?;
    if args.key_stdin || args.forget_key {
        session
            .block_on(session.ai.set_api_key(key))
            .map_err(ai_err)?;
        // A commit a running `run` notices (it watches the database's data_version) and
        // then reads the key again; an unchanged settings document commits nothing.
        let changed = now_ms().to_string();
        session.store(move |s| s.set_ai_config(KEY_CHANGED_MARKER, &changed))?;
    }
    let p = &global.provider;
    println!(
        "provider: {} at {}, model {}",
        preset_name(p.preset),
        plain(&p.base_url, false),
        plain(&p.model, false)
    );
    if args.key_stdin {
        println!("API key stored in the OS keyring");
    } else if args.forget_key {
        println!("API key deleted");
    }
    if let Some(target) = agent_target(p) {
        if target.main {
            println!(
                "WARNING: the gateway's main agent ({}) answers WeChat users, with every \
                 tool it has",
                plain(&target.id, false)
            );
        } else {
            println!("gateway agent: {}", plain(&target.id, false));
        }
    }
    println!("check it with `weixin-desk-cli ai test`");
    Ok(())
}

fn test(ctx: &Context, args: TestArgs) -> Result<(), CliError> {
    let given = if args.key_stdin {
        Some(secrets::read_secrets_from_stdin(&["the API key"])?.remove(0))
    } else {
        None
    };
    let opened = ctx.open_secrets()?;
    let from = match (&given, opened.persistent) {
        (Some(_), _) => "from stdin",
        (None, true) => "from the OS keyring",
        (None, false) => "none (the OS keyring is not usable; use --key-stdin)",
    };
    let store: Arc<dyn SecretStore> = match given {
        Some(key) => Arc::new(WithGivenSecret::new(
            SecretKey::ai_api_key(API_KEY_PROFILE),
            key,
            opened.store,
        )),
        None => opened.store,
    };
    let session = Session::open(ctx, store)?;
    let global = session
        .block_on(session.ai.global_settings())
        .map_err(ai_err)?;
    let report = session
        .block_on(session.ai.test_connection(Locale::En))
        .map_err(ai_err)?;
    if args.json {
        let doc = serde_json::to_value(&report).unwrap_or_default();
        println!("{doc}");
    } else {
        let p = &global.provider;
        println!(
            "testing {} at {}, model {} (API key: {from})",
            preset_name(p.preset),
            plain(&p.base_url, false),
            plain(&p.model, false)
        );
        for check in &report.checks {
            println!(
                "{:<6} {}: {}",
                if check.ok { "ok" } else { "FAILED" },
                check.name,
                plain(&check.detail, false)
            );
        }
        for warning in &report.warnings {
            println!("WARNING {}", plain(warning, false));
        }
        println!("{}", report.summary);
    }
    if report.ok {
        Ok(())
    } else {
        Err(CliError::Outcome {
            message: report.summary,
            code: EXIT_AI_TEST_FAILED,
        })
    }
}

fn set_paused(ctx: &Context, paused: bool) -> Result<(), CliError> {
    let session = settings_session(ctx)?;
    session
        .block_on(session.ai.set_paused(paused))
        .map_err(ai_err)?;
    println!(
        "{}",
        if paused {
            "AI replies paused for every account (`ai resume` ends the pause)"
        } else {
            "AI replies resumed (accounts and peers keep their own switches)"
        }
    );
    Ok(())
}

fn set_enabled(ctx: &Context, target: Target, enabled: bool) -> Result<(), CliError> {
    let session = settings_session(ctx)?;
    let word = if enabled { "on" } else { "off" };
    let accounts = match &target.account {
        Some(id) => vec![account(&session, id)?],
        None => session.store(|s| s.list_accounts())?,
    };
    if accounts.is_empty() {
        return Err(CliError::Usage(
            "no accounts (add one with `login` or `add-account`)".into(),
        ));
    }
    if let Some(peer) = &target.peer {
        let [account] = accounts.as_slice() else {
            return Err(CliError::Usage(
                "--peer needs --account: there is more than one account".into(),
            ));
        };
        warn_unknown_peer(&session, &account.account_id, peer)?;
        session
            .block_on(
                session
                    .ai
                    .set_peer_enabled(&account.account_id, peer, Some(enabled)),
            )
            .map_err(ai_err)?;
        println!(
            "AI replies {word} for {} on {}",
            plain(peer, false),
            account.account_id
        );
        return Ok(());
    }
    for account in &accounts {
        session
            .block_on(session.ai.set_account_enabled(&account.account_id, enabled))
            .map_err(ai_err)?;
        println!(
            "AI replies {word} for {} (peers with their own switch keep it)",
            account.account_id
        );
    }
    Ok(())
}

fn resume_peer(ctx: &Context, t: PeerTarget) -> Result<(), CliError> {
    let session = settings_session(ctx)?;
    let account = account(&session, &t.account)?;
    session
        .block_on(session.ai.resume_peer(&account.account_id, &t.peer))
        .map_err(ai_err)?;
    println!(
        "the AI answers {} on {} again",
        plain(&t.peer, false),
        account.account_id
    );
    Ok(())
}

fn follow_account(ctx: &Context, t: PeerTarget) -> Result<(), CliError> {
    let session = settings_session(ctx)?;
    let account = account(&session, &t.account)?;
    session
        .block_on(
            session
                .ai
                .set_peer_enabled(&account.account_id, &t.peer, None),
        )
        .map_err(ai_err)?;
    println!(
        "{} on {} follows the account's AI switch again",
        plain(&t.peer, false),
        account.account_id
    );
    Ok(())
}

fn persona(ctx: &Context, args: PersonaArgs) -> Result<(), CliError> {
    let session = settings_session(ctx)?;
    let account = account(&session, &args.account)?;
    let id = account.account_id;
    let text = if args.clear { None } else { args.text };
    if text.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return Err(CliError::Usage(
            "the persona is empty: give a text, or --clear".into(),
        ));
    }
    match &args.peer {
        Some(peer) => {
            warn_unknown_peer(&session, &id, peer)?;
            session
                .block_on(session.ai.set_peer_persona(&id, peer, text.clone()))
                .map_err(ai_err)?;
        }
        None => {
            let mut settings = session
                .block_on(session.ai.account_settings(&id))
                .map_err(ai_err)?;
            settings.persona = text.clone().unwrap_or_default();
            session
                .block_on(session.ai.set_account_settings(&id, settings))
                .map_err(ai_err)?;
        }
    }
    let whose = match &args.peer {
        Some(peer) => format!("{} on {id}", plain(peer, false)),
        None => id.clone(),
    };
    match text {
        Some(_) => println!("persona set for {whose}"),
        None => println!("persona cleared for {whose}"),
    }
    Ok(())
}

fn memory(ctx: &Context, args: MemoryArgs) -> Result<(), CliError> {
    let session = settings_session(ctx)?;
    let account = account(&session, &args.account)?;
    let (id, peer) = (account.account_id, args.peer);
    if args.reset {
        session
            .block_on(session.ai.reset_memory(&id, &peer))
            .map_err(ai_err)?;
        println!(
            "memory of the conversation with {} on {id} reset (the message log stays)",
            plain(&peer, false)
        );
        return Ok(());
    }
    if let Some(summary) = args.set_summary {
        session
            .block_on(session.ai.set_memory_summary(&id, &peer, summary.trim()))
            .map_err(ai_err)?;
        println!("summary saved for {} on {id}", plain(&peer, false));
        return Ok(());
    }
    let view = session
        .block_on(session.ai.memory(&id, &peer))
        .map_err(ai_err)?;
    println!("scope: {}", plain(&view.scope_key, false));
    println!(
        "summary: {}",
        if view.summary.is_empty() {
            "(none)".to_owned()
        } else {
            plain(&view.summary, false)
        }
    );
    match &view.gateway_session {
        Some(session) => {
            println!(
                "gateway session: {} (the gateway keeps the conversation)",
                plain(session, false)
            );
            println!(
                "sent with the next turn besides it: the persona and summary, and {} \
                 message(s) the agent has not seen (since its last reply)",
                view.history.len()
            );
        }
        None => println!(
            "history sent with the next turn: {} message(s)",
            view.history.len()
        ),
    }
    for line in &view.history {
        println!("  {}: {}", line.role, plain(&line.text, false));
    }
    Ok(())
}

/// A message the owner sends by hand (`send`) keeps the AI quiet for that peer, as a
/// manual reply in the app does: the takeover goes into the store, where a running `run`
/// reads it with the peer's next message. Returns its end (epoch ms) and whether the
/// account's AI is on, or `None` when the account has takeovers off.
pub fn record_takeover(
    store: &Store,
    account_id: &str,
    peer_id: &str,
    now_ms: i64,
) -> Result<Option<(i64, bool)>, desk_core::CoreError> {
    let settings: AccountAiSettings = store
        .ai_account_settings(account_id)?
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default();
    if settings.takeover_minutes == 0 {
        return Ok(None);
    }
    let until = now_ms + i64::from(settings.takeover_minutes) * 60_000;
    let mut peer = store.ai_peer(account_id, peer_id)?;
    peer.takeover_until_ms = Some(until);
    store.set_ai_peer(account_id, peer_id, &peer)?;
    Ok(Some((until, settings.enabled)))
}

/// The line `send` prints after recording a takeover for an account with AI on.
pub fn takeover_note(peer_id: &str, taken: Option<(i64, bool)>) -> Option<String> {
    match taken {
        Some((until, true)) => Some(format!(
            "the AI stays quiet for {} until {} UTC (`ai resume-peer` ends it sooner)",
            plain(peer_id, false),
            utc(until)
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_need_a_scheme_and_a_host() {
        assert_eq!(
            check_base_url(" https://api.example.com/v1/ ").unwrap(),
            "https://api.example.com/v1"
        );
        assert!(check_base_url("http://127.0.0.1:8080/v1").is_ok());
        assert!(check_base_url("https://user:secret@api.example.com/v1").is_err());
        for bad in [
            "api.openai.com/v1",
            "ftp://x/v1",
            "https://",
            "http://:80/v1",
            "https://a b/v1",
        ] {
            assert!(check_base_url(bad).is_err(), "{bad}");
        }
    }
}
