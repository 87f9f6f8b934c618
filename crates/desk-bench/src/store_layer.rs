//! The store layer under a large history: opening a 100,000-message conversation and a
//! full-text search over every stored message, on a database filled through the same
//! inbound path the engine uses.

use std::time::Instant;

use desk_core::store::{AccountUpsert, PageCursor};
use desk_core::Store;
use ilink::models::WeixinMessage;

use crate::figure::{Figure, Target};

pub const SECTION: &str = "Store layer";
const ACCOUNT: &str = "bench-bot";
const BIG_PEER: &str = "big-peer@im.wechat";
const PAGE: usize = 50;
const BATCH: usize = 1_000;

pub struct Sizes {
    pub total: usize,
    pub big_conversation: usize,
}

const WORDS: &[&str] = &[
    "meeting", "tomorrow", "lunch", "photo", "report", "weekend", "train", "coffee", "budget",
    "问题", "明天", "开会", "谢谢", "好的", "周末", "照片", "报告", "晚饭", "hello", "thanks",
    "project", "deadline", "ticket", "包裹", "快递", "地址",
];
/// Rare enough that a search has to find a few hundred among the million.
const RARE: &str = "invoice-7731";

pub fn run(sizes: &Sizes, runs: usize) -> Result<Vec<Figure>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("bench.sqlite3");
    let store = Store::open(&path).map_err(|e| e.to_string())?;
    store
        .upsert_account(
            &AccountUpsert {
                account_id: ACCOUNT.into(),
                bot_id: format!("{ACCOUNT}@im.bot"),
                base_url: "http://127.0.0.1:9/".into(),
                alias: None,
                user_id: None,
                cdn_url: None,
                route_tag: None,
            },
            0,
        )
        .map_err(|e| e.to_string())?;
    let fill_started = Instant::now();
    fill(&store, sizes)?;
    let fill_rate = sizes.total as f64 / fill_started.elapsed().as_secs_f64();
    drop(store);

    let mut open = figure(format!(
        "Open a {}-message conversation (newest {PAGE})",
        thousands(sizes.big_conversation)
    ))
    .target(Target::AtMost(50.0));
    let mut deep = figure(format!("Page {PAGE} messages from the middle of it"));
    let mut search = figure(format!(
        "Full-text search over {} messages (\"{RARE}\", newest {PAGE})",
        thousands(sizes.total)
    ))
    .target(Target::AtMost(100.0));
    let mut search_cjk = figure(format!(
        "Full-text search over {} messages (\"开会 报告\", newest {PAGE})",
        thousands(sizes.total)
    ))
    .target(Target::AtMost(100.0));
    for _ in 0..runs {
        // A fresh connection per run, as after an app start (the OS page cache stays).
        let store = Store::open(&path).map_err(|e| e.to_string())?;
        let (ms, page) = timed(|| store.conversation_page(ACCOUNT, BIG_PEER, None, PAGE))?;
        check(page.messages.len() == PAGE, "the newest page is short")?;
        open.samples.push(ms);
        let middle = page.messages[0].create_time_ms - sizes.total as i64 * 1_000 / 2;
        let cursor = PageCursor {
            create_time_ms: middle,
            id: i64::MAX,
        };
        let (ms, page) = timed(|| store.conversation_page(ACCOUNT, BIG_PEER, Some(cursor), PAGE))?;
        check(page.messages.len() == PAGE, "a middle page is short")?;
        deep.samples.push(ms);
        let (ms, hits) = timed(|| store.search(RARE, PAGE))?;
        check(!hits.is_empty(), "the rare word was not found")?;
        search.samples.push(ms);
        let (ms, hits) = timed(|| store.search("开会 报告", PAGE))?;
        check(!hits.is_empty(), "the Chinese words were not found")?;
        search_cjk.samples.push(ms);
    }
    let mut fill_figure = Figure::new(
        SECTION,
        format!("Filling the store in {BATCH}-message inbound batches (one run)"),
        "msg/s",
    );
    fill_figure.samples.push(fill_rate);
    Ok(vec![open, deep, search, search_cjk, fill_figure])
}

fn figure(name: String) -> Figure {
    Figure::new(SECTION, name, "ms")
}

fn fill(store: &Store, sizes: &Sizes) -> Result<(), String> {
    let mut random = Lcg(0x5eed);
    let others = sizes.total.saturating_sub(sizes.big_conversation);
    let mut batch = Vec::with_capacity(BATCH);
    for index in 0..sizes.total {
        // The big conversation's messages are spread evenly through the history.
        let big = (index as u128 * sizes.big_conversation as u128 / sizes.total as u128)
            != ((index as u128 + 1) * sizes.big_conversation as u128 / sizes.total as u128);
        let peer = if big || others == 0 {
            BIG_PEER.to_owned()
        } else {
            format!("peer-{}@im.wechat", random.next() % 1_000)
        };
        batch.push(message(index, &peer, text(&mut random, index)));
        if batch.len() == BATCH || index + 1 == sizes.total {
            store
                .commit_inbound_batch(ACCOUNT, None, &batch, 1_700_000_000_000 + index as i64)
                .map_err(|e| e.to_string())?;
            batch.clear();
        }
    }
    Ok(())
}

pub(crate) fn text(random: &mut Lcg, index: usize) -> String {
    let count = 3 + random.next() % 10;
    let mut words: Vec<&str> = (0..count)
        .map(|_| WORDS[random.next() as usize % WORDS.len()])
        .collect();
    if index % 1_000 == 7 {
        words.push(RARE);
    }
    words.join(" ")
}

pub(crate) fn message(index: usize, peer: &str, text: String) -> WeixinMessage {
    let value = serde_json::json!({
        "message_id": 10_000_000_000u64 + index as u64,
        "from_user_id": peer,
        "create_time_ms": 1_700_000_000_000i64 + index as i64 * 1_000,
        "message_type": 1,
        "item_list": [{ "type": 1, "text_item": { "text": text } }],
    });
    serde_json::from_value(value).expect("a valid text message")
}

fn timed<T, E: ToString>(f: impl FnOnce() -> Result<T, E>) -> Result<(f64, T), String> {
    let started = Instant::now();
    let value = f().map_err(|e| e.to_string())?;
    Ok((started.elapsed().as_secs_f64() * 1_000.0, value))
}

fn check(ok: bool, what: &str) -> Result<(), String> {
    ok.then_some(()).ok_or_else(|| what.to_owned())
}

pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A small deterministic generator: the same history on every machine.
pub(crate) struct Lcg(pub(crate) u64);

impl Lcg {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_history_measures_every_figure() {
        let figures = run(
            &Sizes {
                total: 3_000,
                big_conversation: 600,
            },
            2,
        )
        .unwrap();
        assert_eq!(figures.len(), 5);
        for figure in &figures[..4] {
            assert_eq!(figure.samples.len(), 2, "{}", figure.name);
        }
        assert!(figures[0].name.contains("600-message"));
        assert!(figures[4].samples[0] > 0.0);
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(100), "100");
    }
}
