//! The desktop app (release build, in the session's virtual display): resident memory
//! of all its processes (WebKit's included) with the window open and hidden in the
//! tray, and the time from a cold process start to the first paint of the conversation
//! list over a large history.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use desk_core::Store;

use crate::figure::{Figure, Target};
use crate::fleet::Fleet;
use crate::idle::MIB;
use crate::procfs;
use crate::store_layer::{message, text, Lcg};

pub const MEMORY: &str = "Desktop app: memory and CPU";
pub const STARTUP: &str = "Desktop app: start-up";
/// The window has loaded and every account polls before memory is measured.
pub const WARM_UP: Duration = Duration::from_secs(15);
const FIRST_PAINT_WAIT: Duration = Duration::from_secs(60);

pub struct Plan {
    pub accounts: usize,
    pub idle: Duration,
    pub runs: usize,
    /// Messages stored before the start-up measurement.
    pub messages: usize,
}

/// The release app, next to this program.
pub fn binary() -> Result<PathBuf, String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let path = me.with_file_name("weixin-desk");
    if !path.exists() {
        return Err(format!(
            "{} is missing: build it with cargo build --release -p weixin-desk",
            path.display()
        ));
    }
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        return Err("no display (./dev bench runs it under Xvfb)".into());
    }
    Ok(path)
}

pub async fn footprint(plan: &Plan) -> Result<Vec<Figure>, String> {
    let app = binary()?;
    let fleet = app_fleet(plan.accounts).await?;
    let n = plan.accounts;
    let mut figures = Vec::new();
    // Targets: window open ≤ 230 MiB PSS; in the tray no web process, ≤ 180 MiB RSS and
    // ≤ 100 MiB PSS (all processes).
    for (in_tray, where_) in [(false, "window open"), (true, "in the tray")] {
        write_prefs(fleet.data(), in_tray)?;
        let mut rss = Figure::new(
            MEMORY,
            format!("{n} accounts, {where_}: RSS of all processes"),
            "MiB",
        );
        let mut pss = Figure::new(
            MEMORY,
            format!("{n} accounts, {where_}: PSS of all processes (shared pages divided)"),
            "MiB",
        )
        .target(Target::AtMost(if in_tray { 100.0 } else { 230.0 }));
        if in_tray {
            rss = rss.target(Target::AtMost(180.0));
        }
        let mut web = Figure::new(
            MEMORY,
            format!("{n} accounts, {where_}: WebKit processes"),
            "",
        );
        if in_tray {
            web = web.target(Target::AtMost(0.0));
        }
        let mut cpu = Figure::new(MEMORY, format!("{n} accounts, {where_}: CPU"), "%");
        for _ in 0..plan.runs {
            let running = Launched::start(&app, &fleet, false)?;
            tokio::time::sleep(WARM_UP).await;
            let before = procfs::usage_of_tree(running.pid());
            let started = Instant::now();
            let mut peak = before.rss_bytes;
            while started.elapsed() < plan.idle {
                tokio::time::sleep(Duration::from_secs(1)).await;
                peak = peak.max(procfs::usage_of_tree(running.pid()).rss_bytes);
            }
            let after = procfs::usage_of_tree(running.pid());
            cpu.samples.push(
                (after.cpu_seconds - before.cpu_seconds) / started.elapsed().as_secs_f64() * 100.0,
            );
            rss.samples.push(peak as f64 / MIB);
            pss.samples
                .push(procfs::pss_of_tree(running.pid()) as f64 / MIB);
            web.samples.push(
                procfs::tree(running.pid())
                    .into_iter()
                    .filter(|pid| procfs::name(*pid).is_some_and(|n| n.starts_with("WebKit")))
                    .count() as f64,
            );
        }
        figures.extend([rss, pss, web, cpu]);
    }
    Ok(figures)
}

pub async fn startup(plan: &Plan) -> Result<Vec<Figure>, String> {
    let app = binary()?;
    let fleet = app_fleet(plan.accounts).await?;
    fill(&fleet, plan.messages)?;
    write_prefs(fleet.data(), false)?;
    let mut paint = Figure::new(
        STARTUP,
        format!(
            "Start to first paint of the conversation list ({} accounts, {} messages)",
            plan.accounts,
            crate::store_layer::thousands(plan.messages)
        ),
        "ms",
    )
    .target(Target::AtMost(1_000.0));
    for _ in 0..plan.runs {
        let mut running = Launched::start(&app, &fleet, true)?;
        let stdout = running.child.stdout.take().expect("piped stdout");
        let ms = tokio::task::spawn_blocking(move || first_paint_ms(stdout))
            .await
            .map_err(|e| e.to_string())??;
        paint.samples.push(ms);
        drop(running);
        // Let the single-instance name and the keyring settle before the next start.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(vec![paint])
}

/// Accounts filed (tokens in the keyring) in the data directory the app will use:
/// `$XDG_DATA_HOME/weixin-desk` inside the fleet's temporary folder.
pub async fn app_fleet(accounts: usize) -> Result<Fleet, String> {
    let home = tempfile::tempdir().map_err(|e| e.to_string())?;
    let data = home.path().join("xdg-data").join("weixin-desk");
    Fleet::with_data(accounts, home, data).await
}

/// Spreads `count` text messages over every account's peers (20 per account).
fn fill(fleet: &Fleet, count: usize) -> Result<(), String> {
    let store = Store::open(
        &desk_core::DataDir::at(fleet.data())
            .map_err(|e| e.to_string())?
            .database(),
    )
    .map_err(|e| e.to_string())?;
    let accounts: Vec<String> = store
        .list_accounts()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|a| a.account_id)
        .collect();
    if accounts.is_empty() {
        return Err("no accounts to fill".into());
    }
    let mut random = Lcg(0xfeed);
    let per_account = count / accounts.len();
    let mut index = 0;
    for account in &accounts {
        let mut batch = Vec::with_capacity(1_000);
        for n in 0..per_account {
            let peer = format!("peer-{}@im.wechat", n % 20);
            batch.push(message(index, &peer, text(&mut random, index)));
            index += 1;
            if batch.len() == 1_000 || n + 1 == per_account {
                store
                    .commit_inbound_batch(account, None, &batch, 1_700_000_000_000)
                    .map_err(|e| e.to_string())?;
                batch.clear();
            }
        }
    }
    Ok(())
}

/// The shared preferences in the store: start hidden in the tray or not.
pub fn write_prefs(data: &Path, start_minimised: bool) -> Result<(), String> {
    let store = desk_core::DataDir::at(data)
        .and_then(|dir| Store::open(&dir.database()))
        .map_err(|e| e.to_string())?;
    store
        .update_prefs(|p| {
            p.start_minimised = start_minimised;
            p.notifications = false;
        })
        .map(drop)
        .map_err(|e| e.to_string())
}

fn first_paint_ms(stdout: std::process::ChildStdout) -> Result<f64, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(ms) = line.strip_prefix("first-paint-ms ") {
                let _ = tx.send(ms.trim().parse::<f64>().ok());
                return;
            }
        }
    });
    rx.recv_timeout(FIRST_PAINT_WAIT)
        .map_err(|_| "the app reported no first paint (WEIXIN_DESK_REPORT_FIRST_PAINT)".to_owned())?
        .ok_or_else(|| "the app's first-paint line was not a number".to_owned())
}

/// A running app with its own XDG folders; killed with its helpers when dropped.
pub struct Launched {
    child: Child,
}

impl Launched {
    /// With `report_first_paint` the app prints `first-paint-ms N` on its stdout.
    pub fn start(app: &Path, fleet: &Fleet, report_first_paint: bool) -> Result<Launched, String> {
        let home = fleet.home();
        let mut command = Command::new(app);
        command
            .args(["--sim", &fleet.url])
            .env("XDG_DATA_HOME", home.join("xdg-data"))
            .env("XDG_CONFIG_HOME", home.join("xdg-config"))
            .env("XDG_CACHE_HOME", home.join("xdg-cache"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if report_first_paint {
            command
                .env("WEIXIN_DESK_REPORT_FIRST_PAINT", "1")
                .stdout(Stdio::piped());
        }
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", app.display()))?;
        Ok(Launched { child })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Launched {
    fn drop(&mut self) {
        let helpers = procfs::tree(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in helpers.into_iter().skip(1) {
            // SAFETY: kill(2) on processes this app started.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
    }
}
