//! Many accounts long-polling in one headless process, then a burst of inbound messages
//! spread over them: throughput to durable storage, latency from the emulator handing a
//! message out to the CLI's event line, and peak memory; and the everyday load, a steady
//! stream over a few accounts, for its latency. An event's time is when this process
//! read the CLI's line for it (the CLI's own stamp is in whole milliseconds), so it
//! includes the CLI's write and the pipe: what a program following the CLI sees.

use std::collections::HashMap;
use std::time::Duration;

use ilink_sim::BotInfo;

use crate::cli::now_ms;
use crate::figure::{percentile, Figure, Target};
use crate::fleet::Fleet;
use crate::idle::MIB;
use crate::procfs;

pub const SECTION: &str = "Scale";
const EVENT_WAIT: Duration = Duration::from_secs(180);
/// No event for this long: the CLI has printed all it will.
const QUIET: Duration = Duration::from_secs(2);

pub struct Plan {
    pub accounts: usize,
    pub messages: usize,
    pub runs: usize,
}

pub async fn run(plan: &Plan) -> Result<Vec<Figure>, String> {
    let (n, m) = (plan.accounts, plan.messages);
    let label = format!("{n} accounts, burst of {m}");
    let mut rate =
        Figure::new(SECTION, format!("{label}: stored"), "msg/s").target(Target::AtLeast(20_000.0));
    // What the machine's load cannot change much: the CLI's own work per message
    // (polls, decoding, storing, printing), from the first injection to the last row.
    let mut cpu = Figure::new(
        SECTION,
        format!("{label}: CLI CPU time per stored message"),
        "µs",
    );
    // The emulator runs in this process, on the same cores: its share of the machine
    // during the burst (with the injection and the wait for the rows), and how busy the
    // machine was, say how much CPU the CLI could have had.
    let mut emulator_cpu = Figure::new(
        SECTION,
        format!("{label}: emulator (bench process) CPU time per stored message"),
        "µs",
    );
    let mut machine_busy = Figure::new(
        SECTION,
        format!("{label}: machine busy, all cores, injection → last row"),
        "%",
    );
    let [mut p50, mut p99] = latency_figures(&label, 50.0);
    // Includes the time a message waits in the emulator's queue behind the burst.
    let mut queued_p99 = Figure::new(SECTION, format!("{label}: injection → event p99"), "ms");
    // How long the emulator took to hand the whole burst out (its responses go as the
    // pollers come back): the pace the CLI would have to keep for the p99 target.
    let mut handing_out = Figure::new(SECTION, format!("{label}: first → last hand-out"), "ms");
    // One account is left out of the burst and gets one message half-way through it:
    // what someone writing to a quiet account waits while the others flood in.
    let mut quiet = Figure::new(
        SECTION,
        format!("{label}: a quiet account's message mid-burst, injection → event"),
        "ms",
    );
    let mut peak =
        Figure::new(SECTION, format!("{label}: peak RSS"), "MiB").target(Target::AtMost(300.0));
    // The CLI's event printer may fall behind a burst and skip events (it says how
    // many; the store has every message), so latencies are over the events it printed.
    let mut seen = Figure::new(
        SECTION,
        format!("{label}: events the CLI printed"),
        "events",
    );
    let mut said_skipped = Figure::new(
        SECTION,
        format!("{label}: events the CLI said it skipped"),
        "events",
    );
    let fleet = Fleet::new(n).await?;
    for run in 0..plan.runs {
        let got = inject_and_follow(
            &fleet,
            &format!("burst {run} "),
            m,
            Load::BurstBesideAQuietAccount,
        )
        .await?;
        cpu.samples.extend(got.cpu_per_message_us);
        emulator_cpu.samples.extend(got.emulator_cpu_per_message_us);
        machine_busy.samples.extend(got.machine_busy_percent);
        seen.samples.push(got.printed as f64);
        said_skipped.samples.push(got.skipped as f64);
        queued_p99.samples.extend(percentile(&got.queued, 99.0));
        handing_out.samples.push(got.handing_out_ms);
        rate.samples.push(got.stored_per_second);
        p50.samples.extend(percentile(&got.latencies, 50.0));
        p99.samples.extend(percentile(&got.latencies, 99.0));
        peak.samples.extend(got.peak_rss_mib);
        quiet.samples.extend(got.quiet_ms);
    }
    Ok(vec![
        rate,
        cpu,
        emulator_cpu,
        machine_busy,
        p50,
        p99,
        queued_p99,
        handing_out,
        quiet,
        seen,
        said_skipped,
        peak,
    ])
}

/// The everyday load: a few accounts receiving a steady stream, one message every
/// `1 / per_second` seconds spread over them.
pub struct SteadyPlan {
    pub accounts: usize,
    pub per_second: u32,
    pub messages: usize,
    pub runs: usize,
}

pub async fn steady(plan: &SteadyPlan) -> Result<Vec<Figure>, String> {
    let label = format!(
        "{} accounts at {} msg/s ({} messages)",
        plan.accounts, plan.per_second, plan.messages
    );
    let [mut p50, mut p99] = latency_figures(&label, 10.0);
    let fleet = Fleet::new(plan.accounts).await?;
    let pace = Duration::from_secs(1) / plan.per_second.max(1);
    for run in 0..plan.runs {
        let prefix = format!("steady {run} ");
        let got = inject_and_follow(&fleet, &prefix, plan.messages, Load::Paced(pace)).await?;
        if got.skipped > 0 {
            return Err(format!("the CLI skipped {} events at {label}", got.skipped));
        }
        p50.samples.extend(percentile(&got.latencies, 50.0));
        p99.samples.extend(percentile(&got.latencies, 99.0));
    }
    Ok(vec![p50, p99])
}

/// Hand-out → event p50 and p99, the p99 with its target.
fn latency_figures(label: &str, p99_target_ms: f64) -> [Figure; 2] {
    [
        Figure::new(SECTION, format!("{label}: hand-out → event p50"), "ms"),
        Figure::new(SECTION, format!("{label}: hand-out → event p99"), "ms")
            .target(Target::AtMost(p99_target_ms)),
    ]
}

/// What one run of injected messages came to.
struct Followed {
    /// Hand-out → event, per printed event (ms).
    latencies: Vec<f64>,
    /// Injection → event, per printed event (ms).
    queued: Vec<f64>,
    printed: usize,
    /// First → last hand-out of the run's messages (ms).
    handing_out_ms: f64,
    skipped: usize,
    stored_per_second: f64,
    cpu_per_message_us: Option<f64>,
    emulator_cpu_per_message_us: Option<f64>,
    machine_busy_percent: Option<f64>,
    peak_rss_mib: Option<f64>,
    /// Injection → event of the quiet account's message (ms), when there was one.
    quiet_ms: Option<f64>,
}

/// How the messages of a run go in.
enum Load {
    /// One every so often, over every account.
    Paced(Duration),
    /// All at once over every account but the last, which gets one more message when
    /// half the burst is in.
    BurstBesideAQuietAccount,
}

/// Starts the CLI on `fleet`, injects `burst` texts starting with `prefix` over its
/// accounts as `load` says (the quiet account's is text number `burst`), waits until
/// all are stored, and follows the CLI's events for them.
async fn inject_and_follow(
    fleet: &Fleet,
    prefix: &str,
    burst: usize,
    load: Load,
) -> Result<Followed, String> {
    let (pace, quiet) = match load {
        Load::Paced(pace) => (Some(pace), None),
        Load::BurstBesideAQuietAccount => (None, fleet.bots.last()),
    };
    let n = fleet.bots.len() - usize::from(quiet.is_some());
    let m = burst + usize::from(quiet.is_some());
    let running = fleet.start_cli().await?;
    let pid = running.pid();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let database = desk_core::DataDir::at(fleet.data())
        .map_err(|e| e.to_string())?
        .database();
    // Only rows after this one are looked at while waiting (earlier runs' stay out of
    // every count).
    let last_row = last_row_id(&database)?;
    let cpu_before = procfs::usage(pid).map(|u| u.cpu_seconds);
    let own_cpu_before = procfs::usage(std::process::id()).map(|u| u.cpu_seconds);
    let machine_before = procfs::machine_ticks();
    let mut injected_ms = vec![0.0; m];
    let mut message_ids = vec![0; m];
    let mut ticks = pace.map(|pace| {
        let mut ticks = tokio::time::interval(pace);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks
    });
    let inject = |index: usize, bot: &BotInfo| {
        let at = now_ms();
        fleet
            .sim
            .inject_text(&bot.bot_id, &bot.user_id, &format!("{prefix}{index}"))
            .map(|id| (at, id))
            .map_err(|e| e.to_string())
    };
    for index in 0..burst {
        if let Some(ticks) = ticks.as_mut() {
            ticks.tick().await;
        }
        (injected_ms[index], message_ids[index]) = inject(index, &fleet.bots[index % n])?;
        if let Some(bot) = quiet.filter(|_| index == burst / 2) {
            (injected_ms[burst], message_ids[burst]) = inject(burst, bot)?;
        }
    }
    let pattern = format!("{prefix}%");
    let all_stored_ms =
        tokio::task::spawn_blocking(move || wait_until_stored(&database, last_row, &pattern, m))
            .await
            .map_err(|e| e.to_string())??;
    let per_message_us = |pid: u32, before: Option<f64>| {
        before
            .zip(procfs::usage(pid))
            .map(|(before, after)| (after.cpu_seconds - before) * 1e6 / m as f64)
    };
    let cpu_per_message_us = per_message_us(pid, cpu_before);
    let emulator_cpu_per_message_us = per_message_us(std::process::id(), own_cpu_before);
    let machine_busy_percent = machine_before
        .zip(procfs::machine_ticks())
        .filter(|((_, total_before), (_, total))| total > total_before)
        .map(|((busy_before, total_before), (busy, total))| {
            (busy - busy_before) as f64 * 100.0 / (total - total_before) as f64
        });
    let owned_prefix = prefix.to_owned();
    let (running, (received, skipped)) = tokio::task::spawn_blocking(move || {
        let received = collect(&running, &owned_prefix, m);
        (running, received)
    })
    .await
    .map_err(|e| e.to_string())?;
    let mut handed_out = HashMap::new();
    for bot in &fleet.bots {
        handed_out.extend(
            fleet
                .sim
                .handed_out(&bot.bot_id)
                .map_err(|e| e.to_string())?,
        );
    }
    let handed: Vec<f64> = message_ids
        .iter()
        .filter_map(|id| handed_out.get(id).copied())
        .collect();
    let handing_out_ms = handed.iter().copied().fold(f64::MIN, f64::max)
        - handed.iter().copied().fold(f64::MAX, f64::min);
    let mut latencies = Vec::with_capacity(m);
    for (index, at) in &received {
        let out = handed_out
            .get(&message_ids[*index])
            .ok_or_else(|| format!("message {index} reached the CLI but was never handed out"))?;
        latencies.push(at - out);
    }
    let queued = received
        .iter()
        .map(|(index, at)| at - injected_ms[*index])
        .collect();
    let quiet_ms = quiet
        .and_then(|_| received.get(&burst))
        .map(|at| at - injected_ms[burst]);
    let peak_rss_mib = procfs::peak_rss_bytes(pid).map(|b| b as f64 / MIB);
    tokio::task::spawn_blocking(move || running.stop())
        .await
        .map_err(|e| e.to_string())??;
    Ok(Followed {
        latencies,
        queued,
        printed: received.len(),
        handing_out_ms,
        skipped,
        stored_per_second: m as f64 / ((all_stored_ms - injected_ms[0]) / 1_000.0),
        cpu_per_message_us,
        emulator_cpu_per_message_us,
        machine_busy_percent,
        peak_rss_mib,
        quiet_ms,
    })
}

/// Index of each burst message → when its event was read from the CLI (epoch ms), and how
/// many events the CLI said it skipped; until every message is accounted for or none
/// came for a while (every message is stored by then).
fn collect(
    running: &crate::cli::Running,
    prefix: &str,
    count: usize,
) -> (HashMap<usize, f64>, usize) {
    let mut seen = HashMap::with_capacity(count);
    let mut skipped = 0;
    while seen.len() + skipped < count {
        let Ok(crate::cli::Event {
            read_ms,
            json: event,
        }) = running.events.recv_timeout(QUIET)
        else {
            break;
        };
        if event["type"] == "skipped" {
            skipped += event["count"].as_u64().unwrap_or(0) as usize;
            continue;
        }
        if event["type"] != "message_received" {
            continue;
        }
        let index = event["preview"]
            .as_str()
            .and_then(|p| p.strip_prefix(prefix))
            .and_then(|rest| rest.parse::<usize>().ok());
        if let Some(index) = index {
            seen.insert(index, read_ms);
        }
    }
    (seen, skipped)
}

fn read_only(database: &std::path::Path) -> Result<rusqlite::Connection, String> {
    rusqlite::Connection::open_with_flags(database, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| e.to_string())
}

/// The newest message row's id (0 when there is none).
fn last_row_id(database: &std::path::Path) -> Result<i64, String> {
    read_only(database)?
        .query_row("SELECT COALESCE(MAX(id), 0) FROM messages", [], |row| {
            row.get(0)
        })
        .map_err(|e| e.to_string())
}

/// Polls the CLI's database (read-only, beside its writer) until `count` inbound
/// messages after row `after` match `pattern`; returns when (epoch ms). More than
/// `count` is a duplicate. Each look reads only the rows after `after`, so the polling
/// costs the shared cores little.
fn wait_until_stored(
    database: &std::path::Path,
    after: i64,
    pattern: &str,
    count: usize,
) -> Result<f64, String> {
    let conn = read_only(database)?;
    let deadline = std::time::Instant::now() + EVENT_WAIT;
    loop {
        // The newest row id first (one B-tree descent), and the burst's rows counted
        // only once there can be enough of them: counting reads every row, and polled
        // all along it took CPU from the CLI it measures (two cores).
        let newest: i64 = conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM messages", [], |row| {
                row.get(0)
            })
            .map_err(|e| e.to_string())?;
        if newest - after >= count as i64 {
            let stored: i64 = conn
                .query_row(
                    "SELECT COUNT(*) FROM messages
                     WHERE id > ?1 AND direction = 'in' AND text LIKE ?2",
                    rusqlite::params![after, pattern],
                    |row| row.get(0),
                )
                .map_err(|e| e.to_string())?;
            let stored = stored as usize;
            if stored > count {
                return Err(format!("{stored} messages stored for a burst of {count}"));
            }
            if stored == count {
                return Ok(now_ms());
            }
        }
        if std::time::Instant::now() >= deadline {
            return Err(format!(
                "not all {count} messages were stored within {} s",
                EVENT_WAIT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
