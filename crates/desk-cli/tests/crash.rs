//! Crash test: `weixin-desk-cli run` is killed with SIGKILL at random (seeded) moments,
//! 20 times, while the emulator streams inbound messages and `send --queue` adds
//! outbound ones from other processes. After the last restart the log holds every
//! injected message exactly once, every queued send reached the emulator under exactly
//! one client_id, alone or merged with others queued beside it (a request cut off by a
//! kill is repeated with its recorded client_id, never as a new message), nothing is
//! left in the outbox, and the database passes `PRAGMA integrity_check`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use desk_core::store::OutboxState;
use desk_core::Store;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const PEER: &str = "alice@im.wechat";
const KILLS: usize = 20;
const SEED: u64 = 0x5eed_c0de;

struct Killed(Option<Child>);

impl Drop for Killed {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn run_survives_sigkill_at_random_moments_with_exactly_once_results() {
    let rt = common::runtime();
    let sim = Arc::new(common::start_sim(&rt, 500));
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let cli = || {
        let mut cmd = common::cli_command(&data, &sim.base_url(), "memory");
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        cmd
    };
    let bot = sim.create_bot();
    sim.add_peer(&bot.bot_id, PEER).unwrap();
    let mut add = cli()
        .args(["add-account", "--bot-id", &bot.bot_id, "--token-stdin"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(bot.token.as_bytes())
        .unwrap();
    assert!(add.wait().unwrap().success());
    let account = ilink::account_id::normalize(&bot.bot_id);
    // The peer writes first, so sends have a context token.
    sim.inject_text(&bot.bot_id, PEER, "in-start").unwrap();

    // Inbound stream: one message every 15 ms until told to stop.
    let injected = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let injector = {
        let (sim, injected, stop, bot_id) = (
            Arc::clone(&sim),
            Arc::clone(&injected),
            Arc::clone(&stop),
            bot.bot_id.clone(),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let n = injected.load(Ordering::SeqCst);
                sim.inject_text(&bot_id, PEER, &format!("in-{n}")).unwrap();
                injected.store(n + 1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(15));
            }
        })
    };

    let spawn_run = || {
        let mut child = cli()
            .args(["run", "--account", &account, "--token-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(bot.token.as_bytes())
            .unwrap();
        // Drained so the child never blocks on a full pipe; "status online" is reported.
        let stdout = child.stdout.take().unwrap();
        let (online_tx, online_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains("status online") {
                    let _ = online_tx.send(());
                }
            }
        });
        (Killed(Some(child)), online_rx)
    };
    let queue = |text: &str| {
        let status = cli()
            .args(["send", "--queue", "--account", &account, "--to", PEER, text])
            .status()
            .unwrap();
        assert!(status.success(), "send --queue {text}");
    };

    let mut rng = StdRng::seed_from_u64(SEED);
    let mut queued = Vec::new();
    for round in 0..KILLS {
        let (mut run, _online) = spawn_run();
        let mut left = Duration::from_millis(rng.random_range(150..1_200));
        // Sends queued from other processes at random points of the round.
        for k in 0..2 {
            let pause = Duration::from_millis(rng.random_range(0..=left.as_millis() as u64 / 2));
            std::thread::sleep(pause);
            left -= pause;
            let text = format!("out-{round}-{k}");
            queue(&text);
            queued.push(text);
        }
        std::thread::sleep(left);
        let child = run.0.as_mut().unwrap();
        assert_eq!(
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) },
            0
        );
        let status = child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGKILL),
            "round {round}: killed, not exited"
        );
        run.0 = None;
    }
    stop.store(true, Ordering::SeqCst);
    injector.join().unwrap();
    let injected = injected.load(Ordering::SeqCst);

    // The last run, left alone until everything is in (and up, so that SIGTERM meets
    // its handler rather than the default action).
    let (mut run, online) = spawn_run();
    online
        .recv_timeout(Duration::from_secs(30))
        .expect("the last run comes online");
    let mut expected_in: BTreeSet<String> = (0..injected)
        .map(|n| format!("in-{n}"))
        .chain(["in-start".to_owned()])
        .collect();
    // About ten messages may go out per message of the peer's: when the rest wait for
    // them to write, the peer writes again (once the last such message is in).
    let mut more = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    let (inbound, outbox) = loop {
        let store = Store::open(&data.join("weixin-desk.sqlite3")).unwrap();
        let page = store
            .conversation_page(&account, PEER, None, 100_000)
            .unwrap();
        let inbound: Vec<String> = page
            .messages
            .iter()
            .filter(|m| m.direction == "in")
            .filter_map(|m| m.text.clone())
            .collect();
        let outbox = store.unfinished_outbox(&account).unwrap();
        let have: BTreeSet<String> = inbound.iter().cloned().collect();
        if (have == expected_in && outbox.is_empty()) || Instant::now() > deadline {
            break (inbound, outbox);
        }
        let waiting = outbox
            .iter()
            .any(|e| e.state == OutboxState::WaitingForWindow);
        if waiting && have == expected_in {
            let text = format!("in-more-{more}");
            sim.inject_text(&bot.bot_id, PEER, &text).unwrap();
            expected_in.insert(text);
            more += 1;
        }
        drop(store);
        std::thread::sleep(Duration::from_millis(200));
    };
    let child = run.0.as_mut().unwrap();
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    assert!(child.wait().unwrap().success());
    run.0 = None;

    // Inbound: every injected message exactly once.
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for text in &inbound {
        *counts.entry(text.as_str()).or_default() += 1;
    }
    let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "stored more than once: {repeated:?}");
    let missing: Vec<_> = expected_in
        .iter()
        .filter(|t| !counts.contains_key(t.as_str()))
        .collect();
    assert!(missing.is_empty(), "never stored: {missing:?}");
    assert_eq!(inbound.len(), injected + 1 + more);

    // Outbound: nothing left over, every send delivered under exactly one client_id,
    // and no message the test did not queue.
    assert!(outbox.is_empty(), "still in the outbox: {outbox:?}");
    let store = Store::open(&data.join("weixin-desk.sqlite3")).unwrap();
    let out_rows = store
        .conversation_page(&account, PEER, None, 100_000)
        .unwrap()
        .messages
        .into_iter()
        .filter(|m| m.direction == "out")
        .collect::<Vec<_>>();
    assert_eq!(out_rows.len(), queued.len());
    assert!(out_rows
        .iter()
        .all(|m| m.delivery == OutboxState::Delivered.as_str()));
    let mut by_text: BTreeMap<String, (usize, BTreeSet<String>)> = BTreeMap::new();
    for sent in sim.sent_messages(&bot.bot_id).unwrap() {
        // Short texts queued together go out as one message, one line each.
        let message = sent.item["text_item"]["text"].as_str().unwrap();
        for text in message.lines() {
            let entry = by_text.entry(text.to_owned()).or_default();
            entry.0 += 1;
            entry.1.insert(sent.client_id.clone().unwrap_or_default());
        }
    }
    let merged = sim
        .sent_messages(&bot.bot_id)
        .unwrap()
        .iter()
        .filter(|m| m.item["text_item"]["text"].as_str().unwrap().contains('\n'))
        .count();
    println!("{merged} sends carried several queued texts");
    let sent_texts: BTreeSet<&String> = by_text.keys().collect();
    let queued_texts: BTreeSet<&String> = queued.iter().collect();
    assert_eq!(sent_texts, queued_texts);
    for (text, (requests, client_ids)) in &by_text {
        assert_eq!(client_ids.len(), 1, "{text} went out as different messages");
        // A kill can land while a request is on the wire; it is then repeated with
        // the same client_id. Printed, not asserted: it depends on scheduling.
        if *requests > 1 {
            println!("{text}: {requests} requests under one client_id");
        }
    }
    store.check_integrity().unwrap();
    println!(
        "{KILLS} kills; {} inbound messages stored once each; {} sends delivered once",
        injected + 1 + more,
        queued.len()
    );
}
