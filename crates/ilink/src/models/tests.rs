use serde_json::{json, Value};

use super::*;

fn to_value<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

#[test]
fn vector_10_12_sendmessage_id() {
    let resp: SendMessageResponse =
        serde_json::from_str(r#"{"ret":0,"message_id":7495426660285223688}"#).unwrap();
    assert_eq!(resp.status.ret, Some(0));
    assert_eq!(resp.message_id.as_deref(), Some("7495426660285223688"));
}

#[test]
fn vector_10_12_nested_ids_and_text_untouched() {
    let raw = r#"{"msgs":[{"message_id":18446744073709551615,"item_list":[{"msg_id":12,"text_item":{"text":"\"message_id\":5"}}]}]}"#;
    let resp: GetUpdatesResponse = serde_json::from_str(raw).unwrap();
    let msg = &resp.msgs.as_ref().unwrap()[0];
    assert_eq!(msg.message_id.as_deref(), Some("18446744073709551615"));
    let item = &msg.item_list.as_ref().unwrap()[0];
    assert_eq!(item.msg_id.as_deref(), Some("12"));
    assert_eq!(
        item.text_item.as_ref().unwrap().text.as_deref(),
        Some("\"message_id\":5")
    );
}

#[test]
fn vector_10_12_seq_is_a_plain_integer() {
    let msg: WeixinMessage = serde_json::from_str(r#"{"seq":9007199254740993}"#).unwrap();
    assert_eq!(msg.seq, Some(9007199254740993));
    assert_eq!(msg.message_id, None);
}

#[test]
fn svr_id_and_string_ids_are_kept() {
    let item: MessageItem = serde_json::from_str(
        r#"{"type":1,"msg_id":"v1:9007199254740993","ref_msg":{"svr_id":9223372036854775807,
            "partial_text":{"start":"a","end":"x","startindex":0,"endindex":1,"quotemd5":"00"}}}"#,
    )
    .unwrap();
    assert_eq!(item.msg_id.as_deref(), Some("v1:9007199254740993"));
    let quote = item.ref_msg.unwrap();
    assert_eq!(quote.svr_id.as_deref(), Some("9223372036854775807"));
    assert_eq!(quote.partial_text.unwrap().endindex, Some(1));
}

#[test]
fn ids_serialise_as_strings() {
    let msg = WeixinMessage {
        message_id: Some("7495426660285223688".into()),
        ..Default::default()
    };
    assert_eq!(to_value(&msg), json!({"message_id": "7495426660285223688"}));
}

#[test]
fn absent_fields_stay_absent_and_empty_strings_stay() {
    let msg = WeixinMessage {
        from_user_id: Some(String::new()),
        to_user_id: Some("u@im.wechat".into()),
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
    };
    assert_eq!(
        to_value(&msg),
        json!({"from_user_id":"","to_user_id":"u@im.wechat","message_type":2,"message_state":2,
               "item_list":[{"type":1,"text_item":{"text":"hi"}}],"context_token":"ctx"})
    );
    assert_eq!(to_value(&WeixinMessage::default()), json!({}));
    assert_eq!(to_value(&GetUpdatesResponse::default()), json!({}));
}

#[test]
fn unknown_item_types_and_fields_are_tolerated() {
    let raw = json!({
        "message_id": 1, "root_id": "r", "parent_id": 3, "message_type": 9,
        "item_list": [{"type": 42, "button_item_list": [{"x": 1}], "weird_item": {}}],
        "at_bot_username_list": ["a"]
    });
    let msg: WeixinMessage = serde_json::from_value(raw).unwrap();
    assert_eq!(msg.message_type, Some(MessageType::Unknown(9)));
    let item = &msg.item_list.as_ref().unwrap()[0];
    assert_eq!(item.item_type, Some(ItemType::Unknown(42)));
    // Unknown numbers survive a round trip; unknown fields are dropped.
    assert_eq!(
        to_value(&msg),
        json!({"message_id":"1","message_type":9,"item_list":[{"type":42}]})
    );
}

#[test]
fn media_items_round_trip_with_their_field_types() {
    let raw = json!({
        "type": 4,
        "file_item": {"media": {"encrypt_query_param": "p", "aes_key": "k", "encrypt_type": 1,
                                 "full_url": "https://cdn/x"},
                      "file_name": "a.pdf", "md5": "m", "len": "1234"}
    });
    let item: MessageItem = serde_json::from_value(raw.clone()).unwrap();
    assert_eq!(
        item.file_item.as_ref().unwrap().len.as_deref(),
        Some("1234")
    );
    assert_eq!(to_value(&item), raw);

    let raw = json!({"type":2,"image_item":{"media":{"encrypt_query_param":"p"},
        "thumb_media":{"aes_key":"t"},"aeskey":"00112233445566778899aabbccddeeff","url":"u",
        "mid_size":1008,"thumb_size":16,"thumb_height":10,"thumb_width":20,"hd_size":2000}});
    let item: MessageItem = serde_json::from_value(raw.clone()).unwrap();
    assert_eq!(item.image_item.as_ref().unwrap().mid_size, Some(1008));
    assert_eq!(to_value(&item), raw);

    let raw = json!({"type":3,"voice_item":{"media":{"encrypt_query_param":"p"},"encode_type":6,
        "bits_per_sample":16,"sample_rate":24000,"playtime":1500,"text":"你好"}});
    let item: MessageItem = serde_json::from_value(raw.clone()).unwrap();
    assert_eq!(
        item.voice_item.as_ref().unwrap().encode_type,
        Some(VoiceEncoding::Silk)
    );
    assert_eq!(to_value(&item), raw);

    let raw = json!({"type":5,"video_item":{"media":{"full_url":"f"},"video_size":32,
        "play_length":3,"video_md5":"m","thumb_media":{},"thumb_size":1,"thumb_height":2,
        "thumb_width":3}});
    let item: MessageItem = serde_json::from_value(raw.clone()).unwrap();
    assert_eq!(to_value(&item), raw);

    let raw = json!({"type":12,"create_time_ms":1,"is_completed":true,
        "tool_call_result_item":{"tool_name":"t","tool_call_id":"c","status":"completed"}});
    let item: MessageItem = serde_json::from_value(raw.clone()).unwrap();
    assert_eq!(item.item_type, Some(ItemType::ToolCallResult));
    assert_eq!(to_value(&item), raw);
}

#[test]
fn file_len_given_as_number_is_kept_as_text() {
    let item: FileItem = serde_json::from_str(r#"{"len":1234}"#).unwrap();
    assert_eq!(item.len.as_deref(), Some("1234"));
    assert_eq!(to_value(&item), json!({"len":"1234"}));
}

#[test]
fn embedded_quote_round_trips() {
    let raw = json!({"type":1,"text_item":{"text":"reply"},
        "ref_msg":{"title":"t","message_item":{"type":2,"image_item":{"aeskey":"k"}}}});
    let item: MessageItem = serde_json::from_value(raw.clone()).unwrap();
    let quoted = item
        .ref_msg
        .as_ref()
        .unwrap()
        .message_item
        .as_ref()
        .unwrap();
    assert_eq!(quoted.item_type, Some(ItemType::Image));
    assert_eq!(to_value(&item), raw);
}

#[test]
fn getupdates_response_fields() {
    let resp: GetUpdatesResponse = serde_json::from_str(
        r#"{"ret":0,"msgs":[],"get_updates_buf":"Y3Vy","sync_buf":"s","longpolling_timeout_ms":35000}"#,
    )
    .unwrap();
    assert_eq!(resp.longpolling_timeout_ms, Some(35000));
    assert_eq!(resp.get_updates_buf.as_deref(), Some("Y3Vy"));
    let stale: GetUpdatesResponse =
        serde_json::from_str(r#"{"errcode":-14,"errmsg":"session timeout"}"#).unwrap();
    assert_eq!(stale.status.errcode, Some(-14));
    assert_eq!(stale.status.ret, None);
    assert_eq!(
        to_value(&stale),
        json!({"errcode":-14,"errmsg":"session timeout"})
    );
}

#[test]
fn requests_serialise_as_the_spec_shows() {
    let req = GetUploadUrlRequest {
        filekey: Some("00112233445566778899aabbccddeeff".into()),
        media_type: Some(UploadMediaType::Image),
        to_user_id: Some("u".into()),
        rawsize: Some(1000),
        rawfilemd5: Some("m".into()),
        filesize: Some(1008),
        no_need_thumb: Some(true),
        aeskey: Some("00112233445566778899aabbccddeeff".into()),
        ..Default::default()
    };
    assert_eq!(
        to_value(&req),
        json!({"filekey":"00112233445566778899aabbccddeeff","media_type":1,"to_user_id":"u",
               "rawsize":1000,"rawfilemd5":"m","filesize":1008,"no_need_thumb":true,
               "aeskey":"00112233445566778899aabbccddeeff"})
    );
    let typing = SendTypingRequest {
        ilink_user_id: Some("u".into()),
        typing_ticket: Some("t".into()),
        status: Some(TypingStatus::Typing),
        base_info: Some(BaseInfo {
            channel_version: Some("2.4.9".into()),
            bot_agent: Some("OpenClaw".into()),
        }),
    };
    assert_eq!(
        to_value(&typing),
        json!({"ilink_user_id":"u","typing_ticket":"t","status":1,
               "base_info":{"channel_version":"2.4.9","bot_agent":"OpenClaw"}})
    );
    assert_eq!(
        to_value(&GetUpdatesRequest::default()),
        json!({"get_updates_buf":""})
    );
    assert_eq!(
        to_value(&GetBotQrcodeRequest::default()),
        json!({"local_token_list":[]})
    );
    assert_eq!(to_value(&NotifyRequest::default()), json!({}));
    assert_eq!(
        to_value(&GetConfigRequest {
            ilink_user_id: Some("u".into()),
            ..Default::default()
        }),
        json!({"ilink_user_id":"u"})
    );
}

#[test]
fn qr_statuses_parse_and_keep_unknowns() {
    for s in [
        "wait",
        "scaned",
        "scaned_but_redirect",
        "need_verifycode",
        "verify_code_blocked",
        "expired",
        "binded_redirect",
        "confirmed",
        "something_new",
    ] {
        let status: QrStatus = serde_json::from_value(json!(s)).unwrap();
        assert_eq!(status.as_str(), s);
        assert_eq!(to_value(&status), json!(s));
    }
    let resp: QrStatusResponse = serde_json::from_value(json!({"status":"confirmed",
        "bot_token":"secret-token","ilink_bot_id":"b0f5860fdecb@im.bot","baseurl":"",
        "ilink_user_id":"U@im.wechat","extra":1}))
    .unwrap();
    assert_eq!(resp.status, Some(QrStatus::Confirmed));
    assert_eq!(resp.baseurl.as_deref(), Some(""));
    assert!(!format!("{resp:?}").contains("secret-token"));
    let qr: QrCodeResponse = serde_json::from_value(
        json!({"qrcode":"q","qrcode_img_content":"https://liteapp/q/x?qrcode=q&bot_type=3","ret":0}),
    )
    .unwrap();
    assert_eq!(qr.qrcode.as_deref(), Some("q"));
    assert_eq!(qr.status.ret, Some(0));
    let req = GetBotQrcodeRequest {
        local_token_list: vec!["tok-secret".into()],
    };
    assert!(!format!("{req:?}").contains("tok-secret"));
}
