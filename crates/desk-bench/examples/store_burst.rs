//! The store's share of a burst: CPU time per message of the inbound group commit alone
//! (no HTTP, no decoding, no events: the pollers make the rows ready before the writer
//! takes them), shaped like the engine's groups. The floor under the scale
//! scenario's "CLI CPU time per stored message".
//!
//! `cargo run --release -p desk-bench --example store_burst -- ACCOUNTS MESSAGES BATCH GROUP`
//! (e.g. `500 20000 20 100`: batches of 20 messages, 100 batches per transaction).

use desk_core::inbound::ReceivedEntry;
use desk_core::store::{AccountUpsert, InboundBatch};
use desk_core::Store;
use ilink::models::InboundEntry;
use ilink::Secret;

fn main() {
    let numbers: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("four whole numbers"))
        .collect();
    let [accounts, total, per_batch, per_group] = numbers[..] else {
        eprintln!("usage: store_burst ACCOUNTS MESSAGES BATCH GROUP");
        std::process::exit(2);
    };
    let dir = tempfile::tempdir().expect("a temporary folder");
    let store = Store::open(&dir.path().join("burst.sqlite3")).expect("a store");
    for a in 0..accounts {
        let account = AccountUpsert {
            account_id: format!("acct{a}"),
            bot_id: format!("bot{a}@im.bot"),
            base_url: "http://127.0.0.1:9/".into(),
            alias: None,
            user_id: Some(format!("user{a}@im.wechat")),
            cdn_url: None,
            route_tag: None,
        };
        store.upsert_account(&account, 0).expect("an account");
    }
    // The second burst lands on a store that already holds the first.
    for round in 0..2 {
        let batches = burst(round, accounts, total, per_batch);
        let ids: Vec<String> = batches.iter().map(|(a, _, _)| format!("acct{a}")).collect();
        let (cpu_before, started) = (cpu_seconds(), std::time::Instant::now());
        for (group, ids) in batches.chunks(per_group).zip(ids.chunks(per_group)) {
            let group: Vec<InboundBatch<'_>> = group
                .iter()
                .zip(ids)
                .map(|((_, cursor, entries), account_id)| InboundBatch {
                    account_id,
                    cursor: Some(cursor),
                    entries,
                    now_ms: 1_800_000_000_000,
                })
                .collect();
            let outcomes = store.commit_inbound_group(&group).expect("a commit");
            assert!(outcomes.iter().all(Result::is_ok));
        }
        let (cpu, wall) = (cpu_seconds() - cpu_before, started.elapsed().as_secs_f64());
        println!(
            "burst {round}: {total} messages, {} per transaction: CPU {:.1} µs/message, {:.0} messages/s",
            per_batch * per_group,
            cpu * 1e6 / total as f64,
            total as f64 / wall
        );
    }
}

/// (account index, cursor, messages) per batch, as the emulator hands them out.
fn burst(
    round: usize,
    accounts: usize,
    total: usize,
    per_batch: usize,
) -> Vec<(usize, Secret, Vec<ReceivedEntry>)> {
    let mut batches = Vec::new();
    let mut index = 0;
    while index < total {
        let a = batches.len() % accounts;
        let size = per_batch.min(total - index);
        let entries = (index..index + size)
            .map(|i| ReceivedEntry::from_entry(&message(round, a, (round * total + i) as u64)))
            .collect();
        batches.push((a, Secret::new(format!("cursor-{round}-{index}")), entries));
        index += size;
    }
    batches
}

/// A text message with the emulator's envelope (ids above 2^53, a context token).
fn message(round: usize, account: usize, n: u64) -> InboundEntry {
    let id = 10_000_000_000_000_000 + n;
    let raw = serde_json::json!({
        "seq": n, "message_id": id, "from_user_id": format!("user{account}@im.wechat"),
        "to_user_id": format!("bot{account}@im.bot"), "client_id": format!("wx-sim-{id:x}"),
        "create_time_ms": 1_800_000_000_000 + n, "update_time_ms": 1_800_000_000_000u64,
        "session_id": "", "group_id": "", "message_type": 1, "message_state": 2,
        "context_token": format!("ctx{id}-{}", "A".repeat(40)),
        "item_list": [{
            "type": 1, "text_item": {"text": format!("burst {round} {n}")},
            "create_time_ms": 1, "update_time_ms": 1, "is_completed": true,
            "msg_id": format!("v1:{id}"),
        }],
    })
    .to_string();
    let message = serde_json::from_str(&raw).expect("a valid message");
    InboundEntry::Message {
        message: Box::new(message),
        raw,
    }
}

/// User and system CPU time of this process so far.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
