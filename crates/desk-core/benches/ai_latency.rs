//! AI reply latency overhead: from the emulator handing out a message (injected into a
//! held long-poll) to the provider receiving the chat request, with an instant provider
//! stub on loopback. Prints p50/p90/p99/max over sequential messages (target: p99 ≤ 15 ms).
//!
//! Run: `cargo bench -p desk-core --bench ai_latency` (`AI_BENCH_MESSAGES=N` to change
//! the count; default 300).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use desk_core::ai::Preset;

use common::ai_world::{World, ALICE};

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let count: usize = std::env::var("AI_BENCH_MESSAGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let mut w = World::start_with(Preset::OpenAi, |_| {}, |_| {}).await;
    let mut settings = w.ai.account_settings(&w.account_id).await.unwrap();
    settings.runs_per_peer_per_hour = 0;
    w.ai.set_account_settings(&w.account_id, settings)
        .await
        .unwrap();
    // Warm-up: the first message also fetches the typing ticket and opens connections.
    for i in 0..5 {
        w.say(ALICE, &format!("warm-up {i}"));
        w.finished().await;
        w.wait_sent(i + 1).await;
    }
    let mut samples = Vec::with_capacity(count);
    let mut from_injection = Vec::with_capacity(count);
    for i in 0..count {
        let before = w.stub.chat_requests().len();
        let text = format!("message {i}");
        let t0 = Instant::now();
        let message_id = w.sim.inject_text(&w.bot_id, ALICE, &text).unwrap();
        let chats = w.stub.wait_chats(before + 1).await;
        let request = &chats[before];
        assert!(request.last_user_text().contains(&text));
        from_injection.push(request.at.duration_since(t0));
        let handed_out = w.sim.handed_out(&w.bot_id).unwrap()[&message_id];
        let ms = (request.at_epoch_ms - handed_out).max(0.0);
        samples.push(Duration::from_secs_f64(ms / 1000.0));
        w.finished().await;
        // The reply is delivered before the next message, so runs never overlap.
        w.wait_sent(5 + i + 1).await;
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let line = |samples: &mut Vec<Duration>| {
        samples.sort();
        let pick = |q: f64| {
            samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1]
        };
        format!(
            "n={}  p50={:.2} ms  p90={:.2} ms  p99={:.2} ms  max={:.2} ms",
            samples.len(),
            ms(pick(0.50)),
            ms(pick(0.90)),
            ms(pick(0.99)),
            ms(pick(1.0))
        )
    };
    println!("ai_latency: the sim hands a message out (poll answered) -> the provider stub receives the request (target p99 <= 15 ms)");
    println!("  {}", line(&mut samples));
    // `line` sorted the samples.
    let p99 = samples[((samples.len() as f64 * 0.99).ceil() as usize).clamp(1, samples.len()) - 1];
    println!(
        "figure|hand-out → provider request p99 (instant stub)|ms|{:.3}|<=15",
        ms(p99)
    );
    println!(
        "  from injection (includes waking the held poll): {}",
        line(&mut from_injection)
    );
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("  load average while measuring: {}", load.trim());
    }
    w.engine.shutdown().await;
}
