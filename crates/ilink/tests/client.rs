//! The client against a tiny scripted HTTP server on 127.0.0.1: exact headers and bodies,
//! and the handling of error codes, timeouts and cancellation.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Router;
use base64::Engine as _;
use ilink::client::{Client, ClientConfig, Timeouts};
use ilink::models::{
    GetUploadUrlRequest, ItemType, MessageItem, MessageState, MessageType, QrStatus, TextItem,
    TypingStatus, UploadMediaType, WeixinMessage,
};
use ilink::{IlinkError, NetworkKind, Secret};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const PREFIX: &str = "/pfx";
const TOKEN: &str = "tok-SECRET-123";

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Clone)]
struct Scripted {
    status: u16,
    body: String,
    delay: Duration,
}

fn reply(body: &str) -> Scripted {
    Scripted {
        status: 200,
        body: body.to_owned(),
        delay: Duration::ZERO,
    }
}

fn http_status(code: u16, body: &str) -> Scripted {
    Scripted {
        status: code,
        ..reply(body)
    }
}

fn delayed(delay: Duration) -> Scripted {
    Scripted {
        delay,
        ..reply("{}")
    }
}

#[derive(Clone, Default)]
struct Server {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Per path: answers in order; the last one repeats.
    script: Arc<Mutex<HashMap<String, VecDeque<Scripted>>>>,
}

impl Server {
    fn script(&self, endpoint: &str, answers: Vec<Scripted>) {
        self.script
            .lock()
            .unwrap()
            .insert(format!("{PREFIX}/{endpoint}"), answers.into());
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn last(&self) -> Seen {
        self.seen().pop().expect("the server saw a request")
    }
}

async fn handle(State(server): State<Server>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, 1 << 20).await.unwrap_or_default().to_vec();
    let path = parts.uri.path().to_owned();
    server.seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        path: path.clone(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
    });
    let answer = {
        let mut script = server.script.lock().unwrap();
        match script.get_mut(&path) {
            Some(queue) if queue.len() > 1 => queue.pop_front(),
            Some(queue) => queue.front().cloned(),
            None => None,
        }
    };
    let answer = answer.unwrap_or_else(|| http_status(404, "no script"));
    tokio::time::sleep(answer.delay).await;
    Response::builder()
        .status(StatusCode::from_u16(answer.status).unwrap())
        .header("content-type", "application/json")
        .body(Body::from(answer.body))
        .unwrap()
}

/// Starts the server; returns it and the API base (with a path prefix).
async fn start() -> (Server, String) {
    let server = Server::default();
    let app = Router::new().fallback(handle).with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (server, format!("http://{addr}{PREFIX}"))
}

fn config(base: &str) -> ClientConfig {
    ClientConfig {
        api_base: base.to_owned(),
        use_system_proxy: false,
        timeouts: Timeouts {
            get_bot_qrcode: Some(Duration::from_secs(5)),
            get_qrcode_status: Duration::from_secs(5),
            getupdates: Duration::from_secs(5),
            send: Duration::from_secs(5),
            control: Duration::from_secs(5),
        },
        ..ClientConfig::default()
    }
}

fn client(base: &str) -> Client {
    Client::new(config(base), Some(Secret::new(TOKEN))).unwrap()
}

fn base_info() -> Value {
    json!({"channel_version": "2.4.9", "bot_agent": format!("WeixinDesk/{}", env!("CARGO_PKG_VERSION"))})
}

fn assert_post_headers(seen: &Seen, authorization: Option<&str>) {
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert_eq!(seen.header("authorizationtype"), Some("ilink_bot_token"));
    assert_eq!(seen.header("authorization"), authorization);
    assert_eq!(seen.header("ilink-app-id"), Some("bot"));
    assert_eq!(seen.header("ilink-app-clientversion"), Some("132105"));
    let uin = seen.header("x-wechat-uin").expect("X-WECHAT-UIN");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(uin)
        .unwrap();
    let digits = String::from_utf8(decoded).unwrap();
    digits.parse::<u32>().unwrap();
}

#[tokio::test]
async fn getupdates_sends_the_exact_headers_and_body_and_keeps_ids_exact() {
    let (server, base) = start().await;
    server.script(
        "ilink/bot/getupdates",
        vec![reply(
            r#"{"ret":0,"msgs":[{"seq":1,"message_id":7495426660285223688,"from_user_id":"U@im.wechat",
                "context_token":"ctx","item_list":[{"type":1,"msg_id":12,"text_item":{"text":"hi"}}]}],
                "get_updates_buf":"next","longpolling_timeout_ms":35000}"#,
        )],
    );
    let cfg = ClientConfig {
        route_tag: Some("rt-1".into()),
        bot_agent: "MyBot/1.0 not/valid/x".into(),
        ..config(&base)
    };
    let client = Client::new(cfg, Some(Secret::new(format!("  {TOKEN} ")))).unwrap();
    let cancel = CancellationToken::new();
    let resp = client.getupdates("cur-0", &cancel).await.unwrap();

    let msg = resp.msgs[0].message().expect("decoded");
    assert!(
        resp.msgs[0]
            .raw()
            .starts_with(r#"{"seq":1,"message_id":7495426660285223688,"#),
        "the message's own text is kept"
    );
    assert_eq!(msg.message_id.as_deref(), Some("7495426660285223688"));
    assert_eq!(
        msg.item_list.as_ref().unwrap()[0].msg_id.as_deref(),
        Some("12")
    );
    assert_eq!(resp.get_updates_buf.as_deref(), Some("next"));

    let seen = server.last();
    assert_eq!(seen.path, "/pfx/ilink/bot/getupdates");
    assert_post_headers(&seen, Some(&format!("Bearer {TOKEN}")));
    assert_eq!(seen.header("skroutetag"), Some("rt-1"));
    assert_eq!(
        seen.json(),
        json!({"get_updates_buf":"cur-0","base_info":{"channel_version":"2.4.9","bot_agent":"MyBot/1.0"}})
    );

    // X-WECHAT-UIN is drawn anew for every request.
    client.getupdates("next", &cancel).await.unwrap();
    let uins: Vec<_> = server
        .seen()
        .iter()
        .map(|s| s.header("x-wechat-uin").unwrap().to_owned())
        .collect();
    assert_ne!(uins[0], uins[1]);
}

#[tokio::test]
async fn no_or_blank_token_sends_no_authorization_and_no_route_tag_by_default() {
    let (server, base) = start().await;
    server.script(
        "ilink/bot/msg/notifystart",
        vec![reply(r#"{"ret":0,"errmsg":""}"#)],
    );
    for token in [None, Some(Secret::new("   "))] {
        let client = Client::new(config(&base), token).unwrap();
        client.notifystart().await.unwrap();
        let seen = server.last();
        assert_post_headers(&seen, None);
        assert_eq!(seen.header("skroutetag"), None);
        assert_eq!(seen.json(), json!({"base_info": base_info()}));
    }
}

#[tokio::test]
async fn get_bot_qrcode_posts_tokens_without_auth_or_base_info() {
    let (server, base) = start().await;
    server.script(
        "ilink/bot/get_bot_qrcode",
        vec![reply(
            r#"{"qrcode":"0123abcd","qrcode_img_content":"https://liteapp.weixin.qq.com/q/x?qrcode=0123abcd&bot_type=3","ret":0}"#,
        )],
    );
    let tokens: Vec<String> = ["", "  "]
        .iter()
        .map(|s| s.to_string())
        .chain((0..12).map(|i| format!("t{i}")))
        .collect();
    let qr = client(&base).get_bot_qrcode(&tokens).await.unwrap();
    assert_eq!(qr.qrcode.as_deref(), Some("0123abcd"));

    let seen = server.last();
    assert_eq!(seen.path, "/pfx/ilink/bot/get_bot_qrcode");
    assert_eq!(seen.query.as_deref(), Some("bot_type=3"));
    assert_post_headers(&seen, None);
    let expected: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
    assert_eq!(seen.json(), json!({ "local_token_list": expected }));

    server.script("ilink/bot/get_bot_qrcode", vec![reply("{}")]);
    let err = client(&base).get_bot_qrcode(&[]).await.unwrap_err();
    assert!(matches!(err, IlinkError::Decode { .. }), "{err:?}");
}

#[tokio::test]
async fn get_qrcode_status_is_a_plain_get_with_encoded_query() {
    let (server, base) = start().await;
    server.script(
        "ilink/bot/get_qrcode_status",
        vec![reply(
            r#"{"status":"confirmed","bot_token":"new","ilink_bot_id":"b0f5860fdecb@im.bot","baseurl":"https://h","ilink_user_id":"U@im.wechat"}"#,
        )],
    );
    let client = client(&base);
    let status = client
        .get_qrcode_status("ab+/=", Some("123"))
        .await
        .unwrap();
    assert_eq!(status.status, Some(QrStatus::Confirmed));
    assert_eq!(status.ilink_bot_id.as_deref(), Some("b0f5860fdecb@im.bot"));

    let seen = server.last();
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.path, "/pfx/ilink/bot/get_qrcode_status");
    assert_eq!(
        seen.query.as_deref(),
        Some("qrcode=ab%2B%2F%3D&verify_code=123")
    );
    assert_eq!(seen.header("ilink-app-id"), Some("bot"));
    assert_eq!(seen.header("ilink-app-clientversion"), Some("132105"));
    for absent in [
        "authorization",
        "authorizationtype",
        "x-wechat-uin",
        "content-type",
    ] {
        assert_eq!(seen.header(absent), None, "{absent}");
    }
    assert!(seen.body.is_empty());

    client.get_qrcode_status("q", None).await.unwrap();
    assert_eq!(server.last().query.as_deref(), Some("qrcode=q"));
}

#[tokio::test]
async fn qrcode_status_timeout_and_524_count_as_wait() {
    let (server, base) = start().await;
    let cfg = ClientConfig {
        timeouts: Timeouts {
            get_qrcode_status: Duration::from_millis(200),
            ..config(&base).timeouts
        },
        ..config(&base)
    };
    let client = Client::new(cfg, None).unwrap();

    server.script(
        "ilink/bot/get_qrcode_status",
        vec![delayed(Duration::from_secs(20))],
    );
    let status = client.get_qrcode_status("q", None).await.unwrap();
    assert_eq!(status.status, Some(QrStatus::Wait));

    server.script(
        "ilink/bot/get_qrcode_status",
        vec![http_status(524, "gateway timeout")],
    );
    let status = client.get_qrcode_status("q", None).await.unwrap();
    assert_eq!(status.status, Some(QrStatus::Wait));

    server.script(
        "ilink/bot/get_qrcode_status",
        vec![http_status(500, "boom")],
    );
    let err = client.get_qrcode_status("q", None).await.unwrap_err();
    assert_eq!(
        err,
        IlinkError::HttpStatus {
            status: 500,
            body: "boom".into()
        }
    );

    // Long bodies are cut to 200 characters in the error.
    server.script(
        "ilink/bot/get_qrcode_status",
        vec![http_status(503, &"é".repeat(1000))],
    );
    match client.get_qrcode_status("q", None).await.unwrap_err() {
        IlinkError::HttpStatus { status, body } => {
            assert_eq!(status, 503);
            assert_eq!(body, "é".repeat(200));
        }
        other => panic!("expected an HTTP status error, got {other:?}"),
    }

    server.script(
        "ilink/bot/get_qrcode_status",
        vec![reply(r#"{"status":"brand_new"}"#)],
    );
    let status = client.get_qrcode_status("q", None).await.unwrap();
    assert_eq!(status.status, Some(QrStatus::Other("brand_new".into())));
}

#[tokio::test]
async fn getupdates_error_codes() {
    let (server, base) = start().await;
    let client = client(&base);
    let cancel = CancellationToken::new();
    let cases = [
        (
            r#"{"errcode":-14,"errmsg":"session timeout","longpolling_timeout_ms":1234}"#,
            IlinkError::StaleToken,
        ),
        (r#"{"ret":-14,"errcode":-14}"#, IlinkError::StaleToken),
        (
            r#"{"ret":1,"errmsg":"x"}"#,
            IlinkError::ServerError {
                ret: Some(1),
                errcode: None,
                errmsg: "x".into(),
            },
        ),
        (
            r#"{"ret":0,"errcode":5}"#,
            IlinkError::ServerError {
                ret: Some(0),
                errcode: Some(5),
                errmsg: String::new(),
            },
        ),
    ];
    for (body, expected) in cases {
        server.script("ilink/bot/getupdates", vec![reply(body)]);
        assert_eq!(
            client.getupdates("c", &cancel).await.unwrap_err(),
            expected,
            "{body}"
        );
    }
    // The advertised hold is adopted even from an error response; the timeout adds the
    // margin to it.
    assert_eq!(client.longpoll_hold(), Duration::from_millis(1234));
    assert_eq!(
        client.longpoll_timeout(),
        Duration::from_millis(1234) + ilink::DEFAULT_LONGPOLL_MARGIN
    );

    // All fields missing is a success that keeps nothing.
    server.script("ilink/bot/getupdates", vec![reply("{}")]);
    let resp = client.getupdates("c", &cancel).await.unwrap();
    assert_eq!(resp.get_updates_buf, None);

    server.script("ilink/bot/getupdates", vec![reply("not json")]);
    let err = client.getupdates("c", &cancel).await.unwrap_err();
    assert!(matches!(err, IlinkError::Decode { .. }), "{err:?}");
}

#[tokio::test]
async fn getupdates_timeout_is_an_empty_success_using_the_servers_timeout() {
    let (server, base) = start().await;
    // 5 s until the server says otherwise, plus a short margin.
    let client = Client::new(
        ClientConfig {
            longpoll_margin: Duration::from_millis(100),
            ..config(&base)
        },
        Some(Secret::new(TOKEN)),
    )
    .unwrap();
    server.script(
        "ilink/bot/getupdates",
        vec![
            reply(r#"{"ret":0,"get_updates_buf":"c1","longpolling_timeout_ms":200}"#),
            delayed(Duration::from_secs(30)),
        ],
    );
    let cancel = CancellationToken::new();
    client.getupdates("c0", &cancel).await.unwrap();
    assert_eq!(client.longpoll_timeout(), Duration::from_millis(300));

    let started = Instant::now();
    let resp = client.getupdates("c1", &cancel).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "used the server's timeout"
    );
    assert_eq!(resp.status.ret, Some(0));
    assert!(resp.msgs.is_empty());
    assert_eq!(resp.get_updates_buf.as_deref(), Some("c1"));
}

#[tokio::test]
async fn getupdates_cancellation_aborts_the_request_in_flight() {
    let (server, base) = start().await;
    let client = Arc::new(client(&base));
    server.script(
        "ilink/bot/getupdates",
        vec![delayed(Duration::from_secs(30))],
    );
    let cancel = CancellationToken::new();
    let task = {
        let (client, cancel) = (client.clone(), cancel.clone());
        tokio::spawn(async move { client.getupdates("c", &cancel).await })
    };
    // Cancel only once the server holds the request.
    while server.seen().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let cancelled_at = Instant::now();
    cancel.cancel();
    let result = task.await.unwrap();
    assert!(cancelled_at.elapsed() < Duration::from_secs(1));
    assert_eq!(result.unwrap_err(), IlinkError::Cancelled);

    // An already-cancelled token sends nothing.
    let before = server.seen().len();
    let err = client.getupdates("c", &cancel).await.unwrap_err();
    assert_eq!(err, IlinkError::Cancelled);
    assert_eq!(server.seen().len(), before);
}

fn text_message() -> WeixinMessage {
    WeixinMessage {
        from_user_id: Some(String::new()),
        to_user_id: Some("U@im.wechat".into()),
        client_id: Some("weixin-desk:1700000000000-a1b2c3d4".into()),
        message_type: Some(MessageType::Bot),
        message_state: Some(MessageState::Finish),
        item_list: Some(vec![MessageItem {
            item_type: Some(ItemType::Text),
            text_item: Some(TextItem {
                text: Some("hi".into()),
            }),
            ..Default::default()
        }]),
        context_token: Some("ctx".into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn sendmessage_body_and_outcomes() {
    let (server, base) = start().await;
    let client = client(&base);

    server.script(
        "ilink/bot/sendmessage",
        vec![reply(r#"{"ret":0,"message_id":7495426660285223688}"#)],
    );
    let id = client.sendmessage(&text_message()).await.unwrap();
    assert_eq!(id.as_deref(), Some("7495426660285223688"));
    let seen = server.last();
    assert_post_headers(&seen, Some(&format!("Bearer {TOKEN}")));
    assert_eq!(
        seen.json(),
        json!({"msg":{"from_user_id":"","to_user_id":"U@im.wechat",
            "client_id":"weixin-desk:1700000000000-a1b2c3d4","message_type":2,"message_state":2,
            "item_list":[{"type":1,"text_item":{"text":"hi"}}],"context_token":"ctx"},
            "base_info": base_info()})
    );

    let cases: Vec<(Scripted, Result<Option<String>, IlinkError>)> = vec![
        (reply("{}"), Ok(None)),
        (reply(r#"{"ret":0,"errmsg":""}"#), Ok(None)),
        (reply(r#"{"message_id":"42"}"#), Ok(Some("42".into()))),
        (
            reply(r#"{"ret":-2,"errmsg":"prepare failed"}"#),
            Err(IlinkError::WindowClosedOrRateLimited {
                errmsg: "prepare failed".into(),
            }),
        ),
        (
            reply(r#"{"ret":-2}"#),
            Err(IlinkError::WindowClosedOrRateLimited {
                errmsg: String::new(),
            }),
        ),
        (
            reply(r#"{"ret":-3,"errmsg":"invalid arguments"}"#),
            Err(IlinkError::InvalidArguments {
                errmsg: "invalid arguments".into(),
            }),
        ),
        // A -2 naming a malformed request is one, not a closed window.
        (
            reply(r#"{"ret":-2,"errmsg":"Invalid Arguments"}"#),
            Err(IlinkError::InvalidArguments {
                errmsg: "Invalid Arguments".into(),
            }),
        ),
        (reply(r#"{"ret":-14}"#), Err(IlinkError::StaleToken)),
        (
            reply(r#"{"ret":7,"errcode":3}"#),
            Err(IlinkError::ServerError {
                ret: Some(7),
                errcode: Some(3),
                errmsg: String::new(),
            }),
        ),
        (
            http_status(502, "bad gateway"),
            Err(IlinkError::HttpStatus {
                status: 502,
                body: "bad gateway".into(),
            }),
        ),
    ];
    for (answer, expected) in cases {
        let shown = answer.body.clone();
        server.script("ilink/bot/sendmessage", vec![answer]);
        assert_eq!(
            client.sendmessage(&text_message()).await,
            expected,
            "{shown}"
        );
    }
    for body in ["", "  ", "<html>ok</html>"] {
        server.script("ilink/bot/sendmessage", vec![reply(body)]);
        let err = client.sendmessage(&text_message()).await.unwrap_err();
        assert!(
            matches!(err, IlinkError::Decode { .. }),
            "{body:?}: {err:?}"
        );
    }
}

#[tokio::test]
async fn sendmessage_times_out_with_short_timeout() {
    let (server, base) = start().await;
    let cfg = ClientConfig {
        timeouts: Timeouts {
            send: Duration::from_millis(200),
            ..config(&base).timeouts
        },
        ..config(&base)
    };
    let client = Client::new(cfg, Some(Secret::new(TOKEN))).unwrap();
    server.script(
        "ilink/bot/sendmessage",
        vec![delayed(Duration::from_secs(30))],
    );
    let err = client.sendmessage(&text_message()).await.unwrap_err();
    assert_eq!(err, IlinkError::Timeout);
    assert_eq!(err.network_label(), Some("timeout"));
}

#[tokio::test]
async fn upload_config_and_typing_bodies() {
    let (server, base) = start().await;
    let client = client(&base);

    server.script(
        "ilink/bot/getuploadurl",
        vec![reply(r#"{"upload_param":"UP+/x=","upload_full_url":""}"#)],
    );
    let request = GetUploadUrlRequest {
        filekey: Some("00112233445566778899aabbccddeeff".into()),
        media_type: Some(UploadMediaType::File),
        to_user_id: Some("U@im.wechat".into()),
        rawsize: Some(1000),
        rawfilemd5: Some("0cc175b9c0f1b6a831c399e269772661".into()),
        filesize: Some(1008),
        no_need_thumb: Some(true),
        aeskey: Some("00112233445566778899aabbccddeeff".into()),
        ..Default::default()
    };
    let resp = client.getuploadurl(&request).await.unwrap();
    assert_eq!(resp.upload_param.as_deref(), Some("UP+/x="));
    let seen = server.last();
    assert_eq!(seen.path, "/pfx/ilink/bot/getuploadurl");
    assert_post_headers(&seen, Some(&format!("Bearer {TOKEN}")));
    assert_eq!(
        seen.json(),
        json!({"filekey":"00112233445566778899aabbccddeeff","media_type":3,
            "to_user_id":"U@im.wechat","rawsize":1000,"rawfilemd5":"0cc175b9c0f1b6a831c399e269772661",
            "filesize":1008,"no_need_thumb":true,"aeskey":"00112233445566778899aabbccddeeff",
            "base_info": base_info()})
    );

    server.script(
        "ilink/bot/getconfig",
        vec![
            reply(r#"{"ret":0,"typing_ticket":"VElDSw=="}"#),
            reply(r#"{"ret":-2,"errmsg":"ilink_user_id required"}"#),
        ],
    );
    let config = client.getconfig("U@im.wechat", Some("ctx")).await.unwrap();
    assert_eq!(config.typing_ticket.as_deref(), Some("VElDSw=="));
    assert_eq!(
        server.last().json(),
        json!({"ilink_user_id":"U@im.wechat","context_token":"ctx","base_info": base_info()})
    );
    // Outside sendmessage, -2 is a plain server error.
    assert_eq!(
        client.getconfig("U@im.wechat", None).await.unwrap_err(),
        IlinkError::ServerError {
            ret: Some(-2),
            errcode: None,
            errmsg: "ilink_user_id required".into()
        }
    );
    assert_eq!(
        server.last().json(),
        json!({"ilink_user_id":"U@im.wechat","base_info": base_info()})
    );

    server.script("ilink/bot/sendtyping", vec![reply("")]);
    client
        .sendtyping("U@im.wechat", "VElDSw==", TypingStatus::Cancel)
        .await
        .unwrap();
    let seen = server.last();
    assert_post_headers(&seen, Some(&format!("Bearer {TOKEN}")));
    assert_eq!(
        seen.json(),
        json!({"ilink_user_id":"U@im.wechat","typing_ticket":"VElDSw==","status":2,"base_info": base_info()})
    );
    server.script("ilink/bot/sendtyping", vec![reply(r#"{"ret":-14}"#)]);
    assert_eq!(
        client
            .sendtyping("U@im.wechat", "t", TypingStatus::Typing)
            .await,
        Err(IlinkError::StaleToken)
    );

    server.script("ilink/bot/msg/notifystop", vec![reply("{}")]);
    client.notifystop().await.unwrap();
    let seen = server.last();
    assert_eq!(seen.path, "/pfx/ilink/bot/msg/notifystop");
    assert_eq!(seen.json(), json!({"base_info": base_info()}));
}

#[tokio::test]
async fn errors_and_debug_output_never_show_the_token() {
    let (server, base) = start().await;
    let client = client(&base);
    assert!(!format!("{client:?}").contains(TOKEN));

    server.script(
        "ilink/bot/sendmessage",
        vec![http_status(500, &format!("token {TOKEN} rejected"))],
    );
    let err = client.sendmessage(&text_message()).await.unwrap_err();
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(TOKEN), "{text}");
        assert!(text.contains("500"), "{text}");
    }

    server.script(
        "ilink/bot/getupdates",
        vec![reply(&format!(r#"{{"ret":9,"errmsg":"bad {TOKEN}"}}"#))],
    );
    let err = client
        .getupdates("c", &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains(TOKEN));

    // A decode error that would quote the offending value.
    server.script(
        "ilink/bot/getupdates",
        vec![reply(&format!(r#"{{"longpolling_timeout_ms":"{TOKEN}"}}"#))],
    );
    let err = client
        .getupdates("c", &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(err, IlinkError::Decode { .. }));
    assert!(!format!("{err} {err:?}").contains(TOKEN), "{err}");
}

#[tokio::test]
async fn refused_connections_are_tcp_errors() {
    // Bind and drop a listener so the port is closed.
    let port = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = client(&format!("http://127.0.0.1:{port}"));
    let err = client.notifystart().await.unwrap_err();
    match &err {
        IlinkError::Network { kind, .. } => assert_eq!(*kind, NetworkKind::Tcp, "{err}"),
        other => panic!("expected a network error, got {other:?}"),
    }
    assert_eq!(err.network_label(), Some("tcp"));
}

#[tokio::test]
async fn other_bases_and_bad_configuration() {
    let (server, base) = start().await;
    server.script("ilink/bot/msg/notifystart", vec![reply("{}")]);
    let unreachable = client("http://127.0.0.1:9/unused");
    let moved = unreachable.with_api_base(&format!("{base}/")).unwrap();
    moved.notifystart().await.unwrap();
    assert_eq!(server.last().path, "/pfx/ilink/bot/msg/notifystart");
    assert_eq!(
        server.last().header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );

    // An empty `baseurl` means the fixed default host.
    assert_eq!(
        moved.with_api_base("  ").unwrap().config().api_base,
        ilink::client::DEFAULT_API_BASE
    );

    let err = Client::new(config("not a url"), None).unwrap_err();
    assert!(matches!(err, IlinkError::Config { .. }), "{err:?}");
    let err = Client::new(config(&base), Some(Secret::new("bad\ntoken"))).unwrap_err();
    assert!(matches!(err, IlinkError::Config { .. }), "{err:?}");
    assert!(!err.to_string().contains("bad\ntoken"));
}
