//! Client configuration with the official client's defaults (docs/protocol.md §1.1, §1.5, §1.7).

use std::time::Duration;

/// The fixed API host, used for QR login and when an account has no `baseurl`.
pub const DEFAULT_API_BASE: &str = "https://ilinkai.weixin.qq.com";

/// The default `base_info.bot_agent`, before sanitising.
pub fn default_bot_agent() -> String {
    format!("WeixinDesk/{}", env!("CARGO_PKG_VERSION"))
}

/// Client-side timeouts per endpoint. Each bounds the wait for the response headers;
/// reading the body gets the same amount again (the official client leaves the body
/// untimed, which can hang forever on a stalled connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    /// `get_bot_qrcode`: none by default.
    pub get_bot_qrcode: Option<Duration>,
    /// `get_qrcode_status`: 35 s; running out counts as status `wait`.
    pub get_qrcode_status: Duration,
    /// The server's `getupdates` hold assumed until it advertises
    /// `longpolling_timeout_ms`: 35 s. The client waits this plus
    /// [`ClientConfig::longpoll_margin`]; running out gives an empty successful response.
    pub getupdates: Duration,
    /// `sendmessage` and `getuploadurl`: 15 s.
    pub send: Duration,
    /// `getconfig`, `sendtyping`, `notifystart`, `notifystop`: 10 s.
    pub control: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            get_bot_qrcode: None,
            get_qrcode_status: Duration::from_millis(35_000),
            getupdates: Duration::from_millis(35_000),
            send: Duration::from_millis(15_000),
            control: Duration::from_millis(10_000),
        }
    }
}

/// How a [`Client`](super::Client) talks to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// API base; a path prefix is kept when endpoints are joined on.
    pub api_base: String,
    /// Sent as `SKRouteTag` when set.
    pub route_tag: Option<String>,
    /// `base_info.bot_agent`; sanitised by the client before use.
    pub bot_agent: String,
    /// `base_info.channel_version`; also the source of `iLink-App-ClientVersion`.
    pub channel_version: String,
    /// Per-endpoint timeouts.
    pub timeouts: Timeouts,
    /// Whether proxy settings from the environment apply.
    pub use_system_proxy: bool,
    /// Largest API response body accepted; bigger ones fail with a decode error.
    pub max_response_bytes: usize,
    /// Added to the server's long-poll hold to make the getupdates timeout: 5 s. The
    /// official client adds none, so an idle poll that the server answers at the very
    /// end of its hold is cut off and its answer (and cursor) lost.
    pub longpoll_margin: Duration,
}

/// The default [`ClientConfig::longpoll_margin`].
pub const DEFAULT_LONGPOLL_MARGIN: Duration = Duration::from_secs(5);

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            api_base: DEFAULT_API_BASE.to_owned(),
            route_tag: None,
            bot_agent: default_bot_agent(),
            channel_version: crate::CHANNEL_VERSION.to_owned(),
            timeouts: Timeouts::default(),
            use_system_proxy: true,
            max_response_bytes: 16 * 1024 * 1024,
            longpoll_margin: DEFAULT_LONGPOLL_MARGIN,
        }
    }
}
