//! The running engine and, in the sandbox, the emulator it talks to. One backend runs at
//! a time; switching to the sandbox stops the old one first.

use std::sync::{Arc, Mutex};

use desk_core::ai::{AiConfig, AiService};
use desk_core::engine::LoginOptions;
use desk_core::secrets::{MemoryStore, Secret, SecretKey, SecretStore};
use desk_core::store::AccountUpsert;
use desk_core::views::{MediaLinks, Views};
use desk_core::{DataDir, Engine, EngineConfig, Store};
use ilink_sim::{DemoConfig, Sim, SimConfig};
use tauri::async_runtime::JoinHandle;

use crate::launch::Mode;
use desk_core::prefs::BackendPrefs;

use crate::media_stream::MediaStream;

/// Folder of the sandbox's data, next to the real one and wiped at each sandbox start:
/// the emulator forgets its bots when it stops, so old sandbox accounts could not log in.
const SANDBOX_DIR_NAME: &str = "weixin-desk-sandbox";

/// Milliseconds between two demo messages in the sandbox (default 4000); tests and
/// screenshots use a faster timeline.
pub const SANDBOX_TICK_ENV: &str = "WEIXIN_DESK_SANDBOX_TICK_MS";

pub struct Backend {
    pub mode: Mode,
    pub data_dir: DataDir,
    pub engine: Arc<Engine>,
    /// AI replies beside the engine (settings, toggles, takeover, memory).
    pub ai: AiService,
    /// What the window shows, built in the core.
    pub views: Views,
    /// Where QR logins go: `None` means the official host.
    login_api_base: Option<String>,
    login_cdn_base: Option<String>,
    /// Kept alive for as long as the sandbox runs.
    _sim: Option<Sim>,
    forwarder: Mutex<Option<JoinHandle<()>>>,
    /// Where the voice and video players stream from (Linux: see `media_stream`).
    pub media_stream: Option<MediaStream>,
}

impl Backend {
    /// Opens the store in `data_dir` and builds (but does not start) the engine.
    /// `custom` (a self-hosted backend's bot agent) applies in the normal mode only.
    pub fn open(
        mode: Mode,
        data_dir: DataDir,
        secrets: Arc<dyn SecretStore>,
        custom: &BackendPrefs,
    ) -> Result<Backend, String> {
        let store = Store::open(&data_dir.database()).map_err(|e| e.to_string())?;
        let (login_api_base, login_cdn_base) = match &mode {
            Mode::Sim { url } => (Some(url.clone()), Some(cdn_base_of(url))),
            Mode::Normal | Mode::Sandbox => (None, None),
        };
        let mut config = engine_config(&mode);
        if let (Mode::Normal, Some(agent)) = (&mode, &custom.bot_agent) {
            config.client.bot_agent = agent.clone();
        }
        let engine = Arc::new(Engine::new_in(store, &data_dir, secrets, config));
        let ai = AiService::start(
            Arc::clone(&engine),
            AiConfig {
                // Providers on loopback (tests, local models) are reached directly.
                use_system_proxy: mode == Mode::Normal,
                ..AiConfig::default()
            },
        );
        let media_stream = start_media_stream(&data_dir);
        let views = Views::new(
            Arc::clone(&engine),
            Arc::new(MediaSchemeLinks {
                stream_base: media_stream.as_ref().map(|m| m.base.clone()),
                root: data_dir.root().to_owned(),
            }),
        );
        Ok(Backend {
            views,
            media_stream,
            mode,
            data_dir,
            engine,
            ai,
            login_api_base,
            login_cdn_base,
            _sim: None,
            forwarder: Mutex::new(None),
        })
    }

    /// Starts an emulator with its demo timeline on loopback and a backend on a fresh
    /// sandbox folder next to `home`, with the demo bot already added as an account.
    pub async fn sandbox(home: &DataDir) -> Result<Backend, String> {
        let root = home
            .root()
            .parent()
            .map(|p| p.join(SANDBOX_DIR_NAME))
            .ok_or("the data folder has no parent")?;
        if root.exists() {
            std::fs::remove_dir_all(&root)
                .map_err(|e| format!("cannot clear {}: {e}", root.display()))?;
        }
        let data_dir = DataDir::at(root).map_err(|e| e.to_string())?;
        let mut sim = Sim::start(SimConfig::default())
            .await
            .map_err(|e| format!("cannot start the sandbox emulator: {e}"))?;
        let mut demo = DemoConfig::default();
        if let Some(ms) = std::env::var(SANDBOX_TICK_ENV)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|ms| *ms > 0)
        {
            demo.tick = std::time::Duration::from_millis(ms);
        }
        let bot = sim.start_demo(demo);
        let secrets: Arc<dyn SecretStore> = Arc::new(MemoryStore::new());
        let account_id = ilink::account_id::normalize(&bot.bot_id);
        secrets
            .set(&SecretKey::bot_token(&account_id), &Secret::new(bot.token))
            .map_err(|e| e.to_string())?;
        let store = Store::open(&data_dir.database()).map_err(|e| e.to_string())?;
        store
            .upsert_account(
                &AccountUpsert {
                    account_id: account_id.clone(),
                    bot_id: bot.bot_id,
                    base_url: sim.base_url(),
                    alias: Some("Demo bot".to_owned()),
                    user_id: Some(bot.user_id),
                    cdn_url: Some(sim.cdn_base_url()),
                    route_tag: None,
                },
                now_ms(),
            )
            .map_err(|e| e.to_string())?;
        // The emulator's demo users have names; real iLink peers have none.
        for peer in ilink_sim::demo_peers() {
            store
                .name_peer(&account_id, peer.user_id, Some(peer.display_name), now_ms())
                .map_err(|e| e.to_string())?;
        }
        drop(store);
        let mut backend =
            Backend::open(Mode::Sandbox, data_dir, secrets, &BackendPrefs::default())?;
        backend.login_api_base = Some(sim.base_url());
        backend.login_cdn_base = Some(sim.cdn_base_url());
        backend._sim = Some(sim);
        Ok(backend)
    }

    /// Login settings for this backend: its emulator, a self-hosted host, or the
    /// official one.
    /// `custom` is read at each login, so a changed setting applies at once.
    pub fn login_options(&self, alias: Option<String>, custom: &BackendPrefs) -> LoginOptions {
        let (api_base, cdn_base, route_tag) = if self.mode == Mode::Normal {
            (
                custom.api_base.clone(),
                custom.cdn_base.clone(),
                custom.route_tag.clone(),
            )
        } else {
            (
                self.login_api_base.clone(),
                self.login_cdn_base.clone(),
                None,
            )
        };
        let plain_http = api_base.as_deref().is_some_and(is_plain_http);
        let mut options = LoginOptions {
            api_base,
            cdn_base,
            alias,
            route_tag,
            ..LoginOptions::default()
        };
        if plain_http {
            options.qr.redirect_scheme = "http".to_owned();
        }
        options
    }

    pub fn set_forwarder(&self, handle: JoinHandle<()>) {
        *self.forwarder.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
    }

    /// Stops every account and the event forwarding.
    pub async fn stop(&self) {
        self.ai.shutdown();
        self.engine.shutdown().await;
        if let Some(handle) = self
            .forwarder
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            handle.abort();
        }
    }
}

fn engine_config(mode: &Mode) -> EngineConfig {
    let mut config = EngineConfig::default();
    if !matches!(mode, Mode::Normal) {
        // An emulator on loopback is reached directly, never through a proxy.
        config.client.use_system_proxy = false;
    }
    config
}

fn is_plain_http(url: &str) -> bool {
    url.starts_with("http://")
}

/// The emulator serves its CDN under `c2c/` of the API base.
fn cdn_base_of(api_base: &str) -> String {
    format!("{}/c2c", api_base.trim_end_matches('/'))
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The players' loopback server, where the webview needs one (WebKitGTK).
fn start_media_stream(data_dir: &DataDir) -> Option<MediaStream> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    MediaStream::start(data_dir.root().to_owned())
        .map_err(|err| tracing::warn!(%err, "no media stream server: players will not load"))
        .ok()
}

/// `media://` URLs for the window (players stream over loopback: see `media_stream`).
struct MediaSchemeLinks {
    root: std::path::PathBuf,
    stream_base: Option<String>,
}

impl MediaLinks for MediaSchemeLinks {
    fn links(&self, relative: &std::path::Path) -> (Option<String>, Option<String>) {
        crate::media_scheme::urls_for(&self.root, relative, self.stream_base.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdn_base_sits_under_the_api_base() {
        assert_eq!(cdn_base_of("http://127.0.0.1:9/"), "http://127.0.0.1:9/c2c");
        assert_eq!(cdn_base_of("http://127.0.0.1:9"), "http://127.0.0.1:9/c2c");
    }
}
