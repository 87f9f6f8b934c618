//! The headless CLI with many accounts online and idle: resident memory and CPU.

use std::time::{Duration, Instant};

use crate::figure::{Figure, Target};
use crate::fleet::Fleet;
use crate::procfs;

pub const SECTION: &str = "Idle footprint";
/// Start-up work (keyring reads, first polls) settles before measuring.
const WARM_UP: Duration = Duration::from_secs(5);
pub const MIB: f64 = 1024.0 * 1024.0;

pub struct Plan {
    pub accounts: usize,
    pub idle: Duration,
    pub runs: usize,
}

pub async fn run(plan: &Plan) -> Result<Vec<Figure>, String> {
    let n = plan.accounts;
    let mut rss = Figure::new(SECTION, format!("CLI, {n} accounts idle: RSS"), "MiB");
    let mut cpu = Figure::new(SECTION, format!("CLI, {n} accounts idle: CPU"), "%");
    if n <= 10 {
        rss = rss.target(Target::AtMost(30.0));
        cpu = cpu.target(Target::AtMost(0.5));
    }
    let fleet = Fleet::new(n).await?;
    for _ in 0..plan.runs {
        let running = fleet.start_cli().await?;
        let pid = running.pid();
        tokio::time::sleep(WARM_UP).await;
        let before = procfs::usage_of_tree(pid);
        let started = Instant::now();
        let mut peak = before.rss_bytes;
        while started.elapsed() < plan.idle {
            tokio::time::sleep(Duration::from_secs(1)).await;
            peak = peak.max(procfs::usage_of_tree(pid).rss_bytes);
        }
        let after = procfs::usage_of_tree(pid);
        let busy = after.cpu_seconds - before.cpu_seconds;
        cpu.samples
            .push(busy / started.elapsed().as_secs_f64() * 100.0);
        rss.samples.push(peak as f64 / MIB);
        tokio::task::spawn_blocking(move || running.stop())
            .await
            .map_err(|e| e.to_string())??;
    }
    Ok(vec![rss, cpu])
}
