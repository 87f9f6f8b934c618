//! The HTTP client for every iLink API endpoint (docs/protocol.md §1.2–§1.7, §2).
//!
//! One [`Client`] serves one account (one token, one API base). It keeps the long-poll
//! timeout the server last advertised; everything else is stateless.

mod config;
mod transport;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub use config::{
    default_bot_agent, ClientConfig, Timeouts, DEFAULT_API_BASE, DEFAULT_LONGPOLL_MARGIN,
};

use crate::error::IlinkError;
#[cfg(doc)]
use crate::models::InboundEntry;
use crate::models::{
    ApiStatus, BaseInfo, GetBotQrcodeRequest, GetConfigRequest, GetConfigResponse,
    GetUpdatesRequest, GetUploadUrlRequest, GetUploadUrlResponse, NotifyRequest, QrCodeResponse,
    QrStatusResponse, SendMessageRequest, SendMessageResponse, SendTypingRequest, TypingStatus,
    UpdatesBatch, WeixinMessage,
};
use crate::secret::Secret;
use crate::{bot_agent, headers, url};
pub(crate) use transport::classify;
use transport::{exchange, snippet, Reply};

const GET_BOT_QRCODE: &str = "ilink/bot/get_bot_qrcode?bot_type=3";
const GET_QRCODE_STATUS: &str = "ilink/bot/get_qrcode_status";
const GET_UPDATES: &str = "ilink/bot/getupdates";
const SEND_MESSAGE: &str = "ilink/bot/sendmessage";
const GET_UPLOAD_URL: &str = "ilink/bot/getuploadurl";
const GET_CONFIG: &str = "ilink/bot/getconfig";
const SEND_TYPING: &str = "ilink/bot/sendtyping";
const NOTIFY_START: &str = "ilink/bot/msg/notifystart";
const NOTIFY_STOP: &str = "ilink/bot/msg/notifystop";

/// The most bot tokens `get_bot_qrcode` sends in `local_token_list`.
pub const MAX_LOCAL_TOKENS: usize = 10;
/// HTTP 524 (a gateway timeout at the proxy); `get_qrcode_status` treats it as `wait`.
const GATEWAY_TIMEOUT_524: u16 = 524;

/// An iLink API client for one account. Cheap to derive others from with
/// [`Client::with_api_base`]; they share the connection pool.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    config: ClientConfig,
    token: Option<Secret>,
    /// `iLink-App-Id`, `iLink-App-ClientVersion` and `SKRouteTag`, on every call.
    common_headers: HeaderMap,
    /// `Bearer <token>`, when the trimmed token is non-empty.
    authorization: Option<HeaderValue>,
    /// The server's long-poll hold: the configured default until the server advertises a
    /// positive `longpolling_timeout_ms`, then that.
    longpoll_hold_ms: AtomicU64,
}

impl Client {
    /// Builds a client. `config.bot_agent` is sanitised (§1.5). Fails if the base URL does
    /// not parse, or the token or route tag cannot be sent as a header value.
    ///
    /// ```no_run
    /// use ilink::{Client, ClientConfig, Secret};
    ///
    /// // An account's client: its token and its `baseurl` from the QR login.
    /// let client = Client::new(
    ///     ClientConfig {
    ///         api_base: "https://ilinkai.weixin.qq.com".to_owned(),
    ///         ..ClientConfig::default()
    ///     },
    ///     Some(Secret::new("bot-token")),
    /// )?;
    /// # Ok::<(), ilink::IlinkError>(())
    /// ```
    pub fn new(config: ClientConfig, token: Option<Secret>) -> Result<Self, IlinkError> {
        let mut builder = reqwest::Client::builder();
        if !config.use_system_proxy {
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(|e| IlinkError::Config {
            message: format!("cannot build the HTTP client: {}", e.without_url()),
        })?;
        Self::with_http(http, config, token)
    }

    fn with_http(
        http: reqwest::Client,
        mut config: ClientConfig,
        token: Option<Secret>,
    ) -> Result<Self, IlinkError> {
        config.bot_agent = bot_agent::sanitize(&config.bot_agent);
        reqwest::Url::parse(&url::join(&config.api_base, GET_UPDATES)).map_err(|e| {
            IlinkError::Config {
                message: format!("the API base is not a valid URL: {e}"),
            }
        })?;

        let mut common_headers = HeaderMap::new();
        common_headers.insert(
            HeaderName::from_static("ilink-app-id"),
            HeaderValue::from_static("bot"),
        );
        common_headers.insert(
            HeaderName::from_static("ilink-app-clientversion"),
            HeaderValue::from(headers::client_version(&config.channel_version)),
        );
        if let Some(tag) = &config.route_tag {
            let value = HeaderValue::from_str(tag).map_err(|_| IlinkError::Config {
                message: "the route tag is not a valid header value".to_owned(),
            })?;
            common_headers.insert(HeaderName::from_static("skroutetag"), value);
        }

        let authorization = match token.as_ref().map(|t| t.expose().trim()) {
            Some(trimmed) if !trimmed.is_empty() => {
                let mut value =
                    HeaderValue::from_str(&format!("Bearer {trimmed}")).map_err(|_| {
                        IlinkError::Config {
                            message: "the bot token is not a valid header value".to_owned(),
                        }
                    })?;
                value.set_sensitive(true);
                Some(value)
            }
            _ => None,
        };

        let hold_ms = duration_ms(config.timeouts.getupdates);
        Ok(Self {
            http,
            config,
            token,
            common_headers,
            authorization,
            longpoll_hold_ms: AtomicU64::new(hold_ms),
        })
    }

    /// The same account against another API base (the account's `baseurl`, or a QR
    /// redirect host); an empty base means [`DEFAULT_API_BASE`], as for an empty
    /// `baseurl` at login. The long-poll timeout starts over at the configured default.
    pub fn with_api_base(&self, api_base: &str) -> Result<Self, IlinkError> {
        let api_base = match api_base.trim() {
            "" => DEFAULT_API_BASE,
            base => base,
        };
        let config = ClientConfig {
            api_base: api_base.to_owned(),
            ..self.config.clone()
        };
        Self::with_http(self.http.clone(), config, self.token.clone())
    }

    /// The shared HTTP client, for CDN transfers (which carry no iLink headers).
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The configuration in use (with the sanitised bot agent).
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The bot token this client authenticates with, so that a caller can keep it out
    /// of what it shows (a server's `errmsg` may repeat it).
    pub fn bot_token(&self) -> Option<&Secret> {
        self.token.as_ref()
    }

    /// The `base_info` sent on authenticated POSTs.
    pub fn base_info(&self) -> BaseInfo {
        BaseInfo {
            channel_version: Some(self.config.channel_version.clone()),
            bot_agent: Some(self.config.bot_agent.clone()),
        }
    }

    /// How long the server is expected to hold the next getupdates: the configured
    /// default until the server advertises its own.
    pub fn longpoll_hold(&self) -> Duration {
        Duration::from_millis(self.longpoll_hold_ms.load(Ordering::Relaxed))
    }

    /// The timeout the next getupdates will use: the hold plus the margin.
    pub fn longpoll_timeout(&self) -> Duration {
        self.longpoll_hold()
            .saturating_add(self.config.longpoll_margin)
    }

    /// `POST get_bot_qrcode?bot_type=3` (§2.1), without `Authorization` and `base_info`.
    /// Login always starts on the fixed host: call this on a client whose base is
    /// [`DEFAULT_API_BASE`], whatever the account's own `baseurl` is.
    /// Sends at most [`MAX_LOCAL_TOKENS`] non-empty tokens from `local_token_list`.
    /// Fails with a decode error if the response has no `qrcode`.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), ilink::IlinkError> {
    /// use ilink::{Client, ClientConfig};
    ///
    /// // Login needs no token; `QrLogin` drives the whole flow.
    /// let login = Client::new(ClientConfig::default(), None)?;
    /// let qr = login.get_bot_qrcode(&[]).await?;
    /// // Render this URL as a QR code for the phone to scan.
    /// println!("{}", qr.qrcode_img_content.unwrap_or_default());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get_bot_qrcode(
        &self,
        local_token_list: &[String],
    ) -> Result<QrCodeResponse, IlinkError> {
        let request = GetBotQrcodeRequest {
            local_token_list: local_token_list
                .iter()
                .filter(|t| !t.trim().is_empty())
                .take(MAX_LOCAL_TOKENS)
                .cloned()
                .collect(),
        };
        let body = to_value(&request)?;
        let reply = self
            .post(
                GET_BOT_QRCODE,
                body,
                false,
                self.config.timeouts.get_bot_qrcode,
            )
            .await?;
        let response: QrCodeResponse = self.decode(&self.success_body(reply)?)?;
        self.check_ret(&response.status)?;
        if response.qrcode.as_deref().is_none_or(str::is_empty) {
            return Err(IlinkError::Decode {
                message: "the response has no qrcode".to_owned(),
            });
        }
        Ok(response)
    }

    /// `GET get_qrcode_status` (§2.2). A client timeout or HTTP 524 gives status `wait`,
    /// as the official client treats them.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), ilink::IlinkError> {
    /// use ilink::{Client, ClientConfig, Secret};
    /// use ilink::models::QrStatus;
    ///
    /// let login = Client::new(ClientConfig::default(), None)?;
    /// let qrcode = login.get_bot_qrcode(&[]).await?.qrcode.unwrap_or_default();
    /// loop {
    ///     let answer = login.get_qrcode_status(&qrcode, None).await?;
    ///     match answer.status {
    ///         Some(QrStatus::Confirmed) => {
    ///             // Keep the token in the keyring, never in plain files.
    ///             let _token = Secret::new(answer.bot_token.unwrap_or_default());
    ///             println!("bot {:?} is ready", answer.ilink_bot_id);
    ///             break;
    ///         }
    ///         Some(QrStatus::Expired) => break,
    ///         _ => tokio::time::sleep(std::time::Duration::from_secs(1)).await,
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get_qrcode_status(
        &self,
        qrcode: &str,
        verify_code: Option<&str>,
    ) -> Result<QrStatusResponse, IlinkError> {
        let mut target = format!(
            "{}?qrcode={}",
            url::join(&self.config.api_base, GET_QRCODE_STATUS),
            url::encode_component(qrcode)
        );
        if let Some(code) = verify_code {
            target.push_str("&verify_code=");
            target.push_str(&url::encode_component(code));
        }
        let request = self.http.get(target).headers(self.common_headers.clone());
        let reply = match exchange(
            request,
            Some(self.config.timeouts.get_qrcode_status),
            self.config.max_response_bytes,
        )
        .await
        {
            Err(IlinkError::Timeout) => return Ok(QrStatusResponse::wait()),
            other => other?,
        };
        if reply.status.as_u16() == GATEWAY_TIMEOUT_524 {
            return Ok(QrStatusResponse::wait());
        }
        self.decode(&self.success_body(reply)?)
    }

    /// `POST getupdates` (§2.4), the long poll. The server's hold is 35 s until it
    /// advertises a positive `longpolling_timeout_ms` (even on an error response), then
    /// that; the client waits that long plus [`ClientConfig::longpoll_margin`], so an
    /// answer sent at the very end of the hold still arrives. Running out returns an
    /// empty success carrying `cursor` unchanged. `cancel` aborts the request in flight
    /// at once with [`IlinkError::Cancelled`].
    ///
    /// The answer is decoded envelope first, then message by message: a message that
    /// cannot be read comes back as [`InboundEntry::Undecodable`] with its JSON text, and
    /// each message keeps the exact text it arrived as.
    ///
    /// Fails if `ret` or `errcode` is present and non-zero; -14 is
    /// [`IlinkError::StaleToken`].
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), ilink::IlinkError> {
    /// use ilink::{Client, ClientConfig, Secret};
    /// use ilink::models::InboundEntry;
    /// use tokio_util::sync::CancellationToken;
    ///
    /// let client = Client::new(ClientConfig::default(), Some(Secret::new("bot-token")))?;
    ///
    /// let stop = CancellationToken::new();
    /// let mut cursor = String::new(); // the stored cursor, "" at first
    /// loop {
    ///     let updates = client.getupdates(&cursor, &stop).await?;
    ///     for entry in &updates.msgs {
    ///         match entry {
    ///             // message_id is exact decimal text, even above 2^53.
    ///             InboundEntry::Message { message, .. } => {
    ///                 println!("{:?} from {:?}", message.message_id, message.from_user_id)
    ///             }
    ///             InboundEntry::Undecodable { raw, error } => {
    ///                 println!("kept as is ({error}): {raw}")
    ///             }
    ///         }
    ///     }
    ///     // An empty or absent cursor keeps the old one.
    ///     if let Some(next) = updates.get_updates_buf.filter(|c| !c.is_empty()) {
    ///         cursor = next;
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn getupdates(
        &self,
        cursor: &str,
        cancel: &CancellationToken,
    ) -> Result<UpdatesBatch, IlinkError> {
        let body = self.authed_body(&GetUpdatesRequest {
            get_updates_buf: cursor.to_owned(),
            sync_buf: None,
            base_info: None,
        })?;
        let call = self.post(GET_UPDATES, body, true, Some(self.longpoll_timeout()));
        let reply = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(IlinkError::Cancelled),
            reply = call => reply,
        };
        let reply = match reply {
            Err(IlinkError::Timeout) => return Ok(empty_updates(cursor)),
            other => other?,
        };
        let body = self.success_body(reply)?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(IlinkError::Decode {
                message: "the response body is empty".to_owned(),
            });
        }
        let response = UpdatesBatch::decode(&body).map_err(|e| IlinkError::Decode {
            message: self.scrub(&e.to_string()),
        })?;
        if let Some(ms) = response.longpolling_timeout_ms.filter(|ms| *ms > 0) {
            self.longpoll_hold_ms
                .store(ms.unsigned_abs(), Ordering::Relaxed);
        }
        self.check_getupdates(&response.status)?;
        Ok(response)
    }

    /// `POST sendmessage` (§2.5). Success needs a JSON body whose `ret` is absent or 0;
    /// an empty or non-JSON body is a decode error. Returns the server's `message_id`
    /// when it sent one.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), ilink::IlinkError> {
    /// use ilink::{Client, ClientConfig, Secret};
    /// use ilink::models::{
    ///     ItemType, MessageItem, MessageState, MessageType, TextItem, WeixinMessage,
    /// };
    ///
    /// let client = Client::new(ClientConfig::default(), Some(Secret::new("bot-token")))?;
    ///
    /// let reply = WeixinMessage {
    ///     from_user_id: Some(String::new()),
    ///     to_user_id: Some("o9cq8AbC@im.wechat".to_owned()),
    ///     client_id: Some("weixin-desk:1700000000000-a1b2c3d4".to_owned()),
    ///     message_type: Some(MessageType::Bot),
    ///     message_state: Some(MessageState::Finish),
    ///     item_list: Some(vec![MessageItem {
    ///         item_type: Some(ItemType::Text),
    ///         text_item: Some(TextItem { text: Some("hi".to_owned()) }),
    ///         ..MessageItem::default()
    ///     }]),
    ///     // The latest context_token that peer's inbound messages carried.
    ///     context_token: Some("context-token".to_owned()),
    ///     ..WeixinMessage::default()
    /// };
    /// match client.sendmessage(&reply).await {
    ///     Ok(server_id) => println!("stored as {server_id:?}"),
    ///     Err(ilink::IlinkError::WindowClosedOrRateLimited { .. }) => {
    ///         // Wait until the peer writes again.
    ///     }
    ///     Err(other) => return Err(other),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn sendmessage(&self, msg: &WeixinMessage) -> Result<Option<String>, IlinkError> {
        let body = self.authed_body(&SendMessageRequest {
            msg: msg.clone(),
            base_info: None,
        })?;
        let reply = self
            .post(SEND_MESSAGE, body, true, Some(self.config.timeouts.send))
            .await?;
        let response: SendMessageResponse = self.decode(&self.success_body(reply)?)?;
        self.check_send(&response.status)?;
        Ok(response.message_id)
    }

    /// `POST getuploadurl` (§2.6). `base_info` is filled in; any given one is replaced.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), ilink::IlinkError> {
    /// use ilink::{Client, ClientConfig, Secret};
    /// use ilink::models::{GetUploadUrlRequest, UploadMediaType};
    ///
    /// let client = Client::new(ClientConfig::default(), Some(Secret::new("bot-token")))?;
    ///
    /// // `ilink::media::upload_file` does this (and the upload) for you.
    /// let answer = client
    ///     .getuploadurl(&GetUploadUrlRequest {
    ///         filekey: Some("00112233445566778899aabbccddeeff".to_owned()),
    ///         media_type: Some(UploadMediaType::File),
    ///         to_user_id: Some("o9cq8AbC@im.wechat".to_owned()),
    ///         rawsize: Some(5),
    ///         rawfilemd5: Some("5d41402abc4b2a76b9719d911017c592".to_owned()),
    ///         filesize: Some(16),
    ///         no_need_thumb: Some(true),
    ///         aeskey: Some("000102030405060708090a0b0c0d0e0f".to_owned()),
    ///         ..GetUploadUrlRequest::default()
    ///     })
    ///     .await?;
    /// println!("{:?} {:?}", answer.upload_param, answer.upload_full_url);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn getuploadurl(
        &self,
        request: &GetUploadUrlRequest,
    ) -> Result<GetUploadUrlResponse, IlinkError> {
        let body = self.authed_body(request)?;
        let reply = self
            .post(GET_UPLOAD_URL, body, true, Some(self.config.timeouts.send))
            .await?;
        let response: GetUploadUrlResponse = self.decode(&self.success_body(reply)?)?;
        self.check_ret(&response.status)?;
        Ok(response)
    }

    /// `POST getconfig` (§2.7), which hands out the typing ticket for a peer.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), ilink::IlinkError> {
    /// use ilink::{Client, ClientConfig, Secret};
    ///
    /// let client = Client::new(ClientConfig::default(), Some(Secret::new("bot-token")))?;
    /// let config = client
    ///     .getconfig("o9cq8AbC@im.wechat", Some("context-token"))
    ///     .await?;
    /// // Cache it per peer and use it with `sendtyping`.
    /// println!("typing ticket: {:?}", config.typing_ticket);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn getconfig(
        &self,
        ilink_user_id: &str,
        context_token: Option<&str>,
    ) -> Result<GetConfigResponse, IlinkError> {
        let body = self.authed_body(&GetConfigRequest {
            ilink_user_id: Some(ilink_user_id.to_owned()),
            context_token: context_token.map(str::to_owned),
            base_info: None,
        })?;
        let reply = self
            .post(GET_CONFIG, body, true, Some(self.config.timeouts.control))
            .await?;
        let response: GetConfigResponse = self.decode(&self.success_body(reply)?)?;
        self.check_ret(&response.status)?;
        Ok(response)
    }

    /// `POST sendtyping` (§2.8). The official client checks only the HTTP status; this
    /// one also fails on a JSON body with a non-zero `ret`, but accepts an empty body.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), ilink::IlinkError> {
    /// use ilink::{Client, ClientConfig, Secret};
    /// use ilink::models::TypingStatus;
    ///
    /// let client = Client::new(ClientConfig::default(), Some(Secret::new("bot-token")))?;
    ///
    /// let peer = "o9cq8AbC@im.wechat";
    /// let config = client.getconfig(peer, None).await?;
    /// if let Some(ticket) = config.typing_ticket {
    ///     client.sendtyping(peer, &ticket, TypingStatus::Typing).await?;
    ///     // ... compose the reply ...
    ///     client.sendtyping(peer, &ticket, TypingStatus::Cancel).await?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn sendtyping(
        &self,
        ilink_user_id: &str,
        typing_ticket: &str,
        status: TypingStatus,
    ) -> Result<(), IlinkError> {
        let body = self.authed_body(&SendTypingRequest {
            ilink_user_id: Some(ilink_user_id.to_owned()),
            typing_ticket: Some(typing_ticket.to_owned()),
            status: Some(status),
            base_info: None,
        })?;
        self.lenient_call(SEND_TYPING, body).await
    }

    /// `POST msg/notifystart` (§2.3): the account is going online. Callers log and ignore
    /// failures, as the official client does.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), ilink::IlinkError> {
    /// use ilink::{Client, ClientConfig, Secret};
    ///
    /// let client = Client::new(ClientConfig::default(), Some(Secret::new("bot-token")))?;
    /// // Before the poll loop; a failure is only worth a log line.
    /// if let Err(err) = client.notifystart().await {
    ///     eprintln!("notifystart failed: {err}");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn notifystart(&self) -> Result<(), IlinkError> {
        let body = self.authed_body(&NotifyRequest::default())?;
        self.lenient_call(NOTIFY_START, body).await
    }

    /// `POST msg/notifystop` (§2.3): the account is going offline. Not tied to any
    /// cancellation, so it can finish after the poll was aborted.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), ilink::IlinkError> {
    /// use ilink::{Client, ClientConfig, Secret};
    ///
    /// let client = Client::new(ClientConfig::default(), Some(Secret::new("bot-token")))?;
    /// // When the account stops, after the poll was cancelled.
    /// if let Err(err) = client.notifystop().await {
    ///     eprintln!("notifystop failed: {err}");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn notifystop(&self) -> Result<(), IlinkError> {
        let body = self.authed_body(&NotifyRequest::default())?;
        self.lenient_call(NOTIFY_STOP, body).await
    }

    /// A control call whose body is optional: an empty or non-JSON 2xx body is success,
    /// a JSON body is checked for `ret`/-14.
    async fn lenient_call(&self, endpoint: &str, body: Value) -> Result<(), IlinkError> {
        let reply = self
            .post(endpoint, body, true, Some(self.config.timeouts.control))
            .await?;
        let body = self.success_body(reply)?;
        if let Ok(status) = serde_json::from_slice::<ApiStatus>(&body) {
            self.check_ret(&status)?;
        }
        Ok(())
    }

    /// Sends one JSON POST with the §1.2 headers.
    async fn post(
        &self,
        endpoint: &str,
        body: Value,
        authorized: bool,
        timeout: Option<Duration>,
    ) -> Result<Reply, IlinkError> {
        let body = serde_json::to_vec(&body).map_err(|e| IlinkError::Decode {
            message: format!("cannot encode the request: {e}"),
        })?;
        let request = self
            .http
            .post(url::join(&self.config.api_base, endpoint))
            .headers(self.post_headers(authorized)?)
            .body(body);
        let result = exchange(request, timeout, self.config.max_response_bytes).await;
        if let Err(err) = &result {
            tracing::debug!(endpoint, error = %err, "iLink call failed");
        }
        result
    }

    fn post_headers(&self, authorized: bool) -> Result<HeaderMap, IlinkError> {
        let mut map = self.common_headers.clone();
        map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        map.insert(
            HeaderName::from_static("authorizationtype"),
            HeaderValue::from_static("ilink_bot_token"),
        );
        let uin = HeaderValue::from_str(&headers::random_wechat_uin()).map_err(|_| {
            IlinkError::Config {
                message: "X-WECHAT-UIN is not a valid header value".to_owned(),
            }
        })?;
        map.insert(HeaderName::from_static("x-wechat-uin"), uin);
        if authorized {
            if let Some(value) = &self.authorization {
                map.insert(AUTHORIZATION, value.clone());
            }
        }
        Ok(map)
    }

    /// Serialises a request and sets its `base_info`.
    fn authed_body<T: Serialize>(&self, request: &T) -> Result<Value, IlinkError> {
        let mut value = to_value(request)?;
        if let Value::Object(map) = &mut value {
            map.insert("base_info".to_owned(), to_value(&self.base_info())?);
        }
        Ok(value)
    }

    /// The body of a 2xx reply, or [`IlinkError::HttpStatus`].
    fn success_body(&self, reply: Reply) -> Result<Vec<u8>, IlinkError> {
        if reply.status.is_success() {
            Ok(reply.body)
        } else {
            Err(IlinkError::HttpStatus {
                status: reply.status.as_u16(),
                body: self.scrub(&snippet(&reply.body)),
            })
        }
    }

    fn decode<T: DeserializeOwned>(&self, body: &[u8]) -> Result<T, IlinkError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(IlinkError::Decode {
                message: "the response body is empty".to_owned(),
            });
        }
        serde_json::from_slice(body).map_err(|e| IlinkError::Decode {
            message: self.scrub(&e.to_string()),
        })
    }

    /// getupdates fails if `ret` or `errcode` is present and non-zero (§1.6).
    fn check_getupdates(&self, status: &ApiStatus) -> Result<(), IlinkError> {
        let failed = status.ret.is_some_and(|r| r != 0) || status.errcode.is_some_and(|c| c != 0);
        if failed {
            Err(self.failure(status))
        } else {
            Ok(())
        }
    }

    /// sendmessage: `ret` decides (-2, -3 get their own errors); `errcode` only for -14.
    /// A -2 saying "invalid arguments" is a malformed request, not a closed window or a
    /// rate limit (docs/protocol.md §1.6): it fails at once rather than waiting.
    fn check_send(&self, status: &ApiStatus) -> Result<(), IlinkError> {
        let errmsg = || self.scrub(status.errmsg.as_deref().unwrap_or(""));
        match status.ret {
            Some(-2) if is_invalid_arguments(status.errmsg.as_deref()) => {
                Err(IlinkError::InvalidArguments { errmsg: errmsg() })
            }
            Some(-2) => Err(IlinkError::WindowClosedOrRateLimited { errmsg: errmsg() }),
            Some(-3) => Err(IlinkError::InvalidArguments { errmsg: errmsg() }),
            _ => self.check_ret(status),
        }
    }

    /// Other endpoints: a non-zero `ret`, or -14 in either field, is a failure.
    fn check_ret(&self, status: &ApiStatus) -> Result<(), IlinkError> {
        let failed = status.ret.is_some_and(|r| r != 0) || status.errcode == Some(STALE);
        if failed {
            Err(self.failure(status))
        } else {
            Ok(())
        }
    }

    fn failure(&self, status: &ApiStatus) -> IlinkError {
        if status.ret == Some(STALE) || status.errcode == Some(STALE) {
            return IlinkError::StaleToken;
        }
        IlinkError::ServerError {
            ret: status.ret,
            errcode: status.errcode,
            errmsg: self.scrub(status.errmsg.as_deref().unwrap_or("")),
        }
    }

    /// Removes the bot token from text that came from the server.
    fn scrub(&self, text: &str) -> String {
        match self.token.as_ref().map(|t| t.expose().trim()) {
            Some(token) if !token.is_empty() => text.replace(token, "***"),
            _ => text.to_owned(),
        }
    }
}

/// The stale-token code, in `errcode` (or sometimes `ret`).
const STALE: i64 = -14;

/// What a getupdates timeout returns: `{ret:0, msgs:[], get_updates_buf:<cursor>}`.
fn empty_updates(cursor: &str) -> UpdatesBatch {
    UpdatesBatch {
        status: ApiStatus {
            ret: Some(0),
            ..ApiStatus::default()
        },
        get_updates_buf: Some(cursor.to_owned()),
        ..UpdatesBatch::default()
    }
}

fn to_value<T: Serialize>(value: &T) -> Result<Value, IlinkError> {
    serde_json::to_value(value).map_err(|e| IlinkError::Decode {
        message: format!("cannot encode the request: {e}"),
    })
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Whether a send's `errmsg` names a malformed request ("invalid arguments", any case).
fn is_invalid_arguments(errmsg: Option<&str>) -> bool {
    errmsg.is_some_and(|m| m.to_ascii_lowercase().contains("invalid argument"))
}
