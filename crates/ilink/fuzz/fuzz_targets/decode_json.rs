//! Decoding untrusted API bodies never panics, and whatever decodes round-trips.

#![no_main]

use ilink::models::{
    GetConfigResponse, GetUpdatesResponse, GetUploadUrlResponse, QrCodeResponse, QrStatusResponse,
    SendMessageResponse, WeixinMessage,
};
use libfuzzer_sys::fuzz_target;
use serde::{de::DeserializeOwned, Serialize};

fn round_trip<T: DeserializeOwned + Serialize + PartialEq>(data: &[u8], name: &str) {
    let Ok(value) = serde_json::from_slice::<T>(data) else {
        return;
    };
    let text = serde_json::to_vec(&value).expect("a decoded value serialises");
    let again: T = serde_json::from_slice(&text).expect("serialised JSON decodes again");
    assert!(again == value, "{name} changed in a round trip");
}

fuzz_target!(|data: &[u8]| {
    round_trip::<GetUpdatesResponse>(data, "GetUpdatesResponse");
    round_trip::<WeixinMessage>(data, "WeixinMessage");
    round_trip::<SendMessageResponse>(data, "SendMessageResponse");
    round_trip::<GetUploadUrlResponse>(data, "GetUploadUrlResponse");
    round_trip::<GetConfigResponse>(data, "GetConfigResponse");
    round_trip::<QrCodeResponse>(data, "QrCodeResponse");
    round_trip::<QrStatusResponse>(data, "QrStatusResponse");
});
