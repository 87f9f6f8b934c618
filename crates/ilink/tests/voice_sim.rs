//! Inbound voice end to end against the emulator (docs/protocol.md §7.3–§7.5): SILK bytes made by
//! the same encoder the voice unit tests use (`silk-codec`), injected as an encrypted
//! CDN voice message, received with getupdates, picked by the download selection,
//! downloaded and decrypted, and decoded to a 24 kHz WAV.
//!
//! Outbound voice is not covered: no official client sends it (§11 q6) and this crate
//! has no voice upload path.
#![cfg(feature = "silk")]

use ilink::client::{Client, ClientConfig};
use ilink::media::{download_item, select_download, CdnConfig};
use ilink::models::{ItemType, MessageItem, VoiceEncoding};
use ilink::voice::{voice_to_wav, wav_header, VOICE_SAMPLE_RATE, WAV_HEADER_LEN};
use ilink::Secret;
use ilink_sim::{BotInfo, InboundMedia, KeyForm, Knobs, MediaKind, Sim, SimConfig};
use tokio_util::sync::CancellationToken;

const RATE: i32 = 24_000;

/// One second of a 440 Hz tone, SILK-encoded in Tencent's variant (leading `0x02`).
fn silk_tone() -> Vec<u8> {
    let pcm: Vec<i16> = (0..RATE)
        .map(|i| {
            let t = f64::from(i) / f64::from(RATE);
            ((t * 440.0 * std::f64::consts::TAU).sin() * 8_000.0) as i16
        })
        .collect();
    silk_codec::SilkCoder::builder()
        .encoder()
        .sample_rate(RATE)
        .bit_rate(24_000)
        .build()
        .expect("encoder")
        .encode(&pcm, true)
        .expect("encode")
}

async fn setup() -> (Sim, BotInfo, Client) {
    let sim = Sim::start(SimConfig {
        knobs: Knobs {
            poll_hold_ms: 300,
            ..Knobs::default()
        },
        ..SimConfig::default()
    })
    .await
    .expect("sim starts");
    let bot = sim.create_bot();
    let client = Client::new(
        ClientConfig {
            api_base: sim.base_url(),
            use_system_proxy: false,
            ..ClientConfig::default()
        },
        Some(Secret::new(bot.token.clone())),
    )
    .expect("client");
    (sim, bot, client)
}

async fn inject_voice(
    sim: &Sim,
    bot: &BotInfo,
    client: &Client,
    cursor: &str,
    bytes: Vec<u8>,
    text: Option<&str>,
) -> (Vec<MessageItem>, String) {
    sim.inject_media(
        &bot.bot_id,
        &bot.user_id,
        InboundMedia {
            kind: MediaKind::Voice {
                text: text.map(str::to_owned),
            },
            bytes,
            key_form: KeyForm::HexBase64,
            full_url: false,
        },
    )
    .expect("inject");
    let updates = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        client.getupdates(cursor, &CancellationToken::new()),
    )
    .await
    .expect("in time")
    .expect("getupdates");
    let cursor = updates.get_updates_buf.clone().unwrap_or_default();
    let mut msgs = updates.into_messages();
    assert_eq!(msgs.len(), 1);
    (msgs.remove(0).item_list.unwrap_or_default(), cursor)
}

#[tokio::test]
async fn inbound_silk_voice_downloads_and_decodes_to_wav() {
    let (sim, bot, client) = setup().await;
    let cdn = CdnConfig {
        cdn_base: sim.cdn_base_url(),
        ..CdnConfig::default()
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let silk = silk_tone();
    assert!(silk.starts_with(b"\x02#!SILK_V3"));

    let (items, cursor) = inject_voice(&sim, &bot, &client, "", silk.clone(), None).await;
    let selected = select_download(&items).expect("untranscribed voice is downloaded");
    assert!(!selected.quoted);
    let item = selected.item;
    assert_eq!(item.item_type, Some(ItemType::Voice));
    let voice = item.voice_item.as_ref().expect("voice_item");
    assert_eq!(voice.encode_type, Some(VoiceEncoding::Silk));

    let dest = dir.path().join("voice.silk");
    let got = download_item(&client, &cdn, item, &dest)
        .await
        .expect("download");
    assert_eq!(got.size, silk.len() as u64);
    let bytes = std::fs::read(&dest).expect("read");
    assert_eq!(bytes, silk, "the CDN round trip is byte exact");

    let wav = voice_to_wav(voice.encode_type, bytes).expect("SILK decodes");
    let pcm_len = wav.len() - WAV_HEADER_LEN;
    assert_eq!(
        wav[..WAV_HEADER_LEN],
        wav_header(pcm_len as u32, VOICE_SAMPLE_RATE)
    );
    let pcm: Vec<i16> = wav[WAV_HEADER_LEN..]
        .chunks_exact(2)
        .map(|s| i16::from_le_bytes([s[0], s[1]]))
        .collect();
    assert_eq!(pcm.len(), RATE as usize, "one second at 24 kHz");
    // A 440 Hz tone crosses zero about 880 times a second.
    let crossings = pcm.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
    assert!(
        (780..=980).contains(&crossings),
        "{crossings} zero crossings"
    );

    // With the server's transcript, the voice is not downloaded at all (§7.4).
    let (items, _) = inject_voice(&sim, &bot, &client, &cursor, silk_tone(), Some("你好")).await;
    assert!(select_download(&items).is_none());
    assert_eq!(
        items[0].voice_item.as_ref().and_then(|v| v.text.as_deref()),
        Some("你好")
    );
}
