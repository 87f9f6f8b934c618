//! Memory and CPU of a process and its descendants, read from /proc (Linux).

use std::fs;

/// Resident memory and CPU time of a set of processes at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    pub rss_bytes: u64,
    /// User + system time, in seconds.
    pub cpu_seconds: f64,
}

/// `root` and every process below it (WebKit's helpers, for example).
pub fn tree(root: u32) -> Vec<u32> {
    let mut all = vec![root];
    let mut index = 0;
    while index < all.len() {
        let parent = all[index];
        all.extend(children(parent));
        index += 1;
    }
    all
}

fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for task in tasks.flatten() {
        let path = task.path().join("children");
        if let Ok(text) = fs::read_to_string(path) {
            found.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    found
}

/// Summed over `root`'s tree; processes that end while being read count as nothing.
pub fn usage_of_tree(root: u32) -> Usage {
    tree(root).into_iter().fold(Usage::default(), |sum, pid| {
        let one = usage(pid).unwrap_or_default();
        Usage {
            rss_bytes: sum.rss_bytes + one.rss_bytes,
            cpu_seconds: sum.cpu_seconds + one.cpu_seconds,
        }
    })
}

pub fn usage(pid: u32) -> Option<Usage> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib: u64 = field_kib(&status, "VmRSS:")?;
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(Usage {
        rss_bytes: rss_kib * 1024,
        cpu_seconds: cpu_seconds(&stat)?,
    })
}

/// The machine's CPU time so far over all cores, in clock ticks: (busy, total), from
/// the first line of /proc/stat (idle and I/O wait count as not busy).
pub fn machine_ticks() -> Option<(u64, u64)> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    machine_ticks_of(stat.lines().next()?)
}

fn machine_ticks_of(cpu_line: &str) -> Option<(u64, u64)> {
    let mut fields = cpu_line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let ticks: Vec<u64> = fields
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let total: u64 = ticks.iter().sum();
    let not_busy = ticks.get(3)? + ticks.get(4)?;
    Some((total - not_busy, total))
}

/// Proportional set size summed over `root`'s tree: shared pages (libraries, memory
/// the processes share) are divided among their users instead of counted in each.
pub fn pss_of_tree(root: u32) -> u64 {
    tree(root).into_iter().filter_map(pss).sum()
}

/// A process's name (`comm`, at most 15 characters).
pub fn name(pid: u32) -> Option<String> {
    Some(
        fs::read_to_string(format!("/proc/{pid}/comm"))
            .ok()?
            .trim()
            .to_owned(),
    )
}

/// Proportional set size of one process.
pub fn pss(pid: u32) -> Option<u64> {
    let rollup = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    Some(field_kib(&rollup, "Pss:")? * 1024)
}

/// Peak resident memory (VmHWM) of one process.
pub fn peak_rss_bytes(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(field_kib(&status, "VmHWM:")? * 1024)
}

fn field_kib(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// utime + stime from `/proc/<pid>/stat`. The command name (field 2) may hold spaces
/// and parentheses, so fields are counted after its last `)`.
fn cpu_seconds(stat: &str) -> Option<f64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) sit at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / clock_ticks_per_second())
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let stat = "42 (we ird) name)) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0";
        let seconds = cpu_seconds(stat).unwrap();
        assert!((seconds - 300.0 / clock_ticks_per_second()).abs() < 1e-9);
    }

    #[test]
    fn machine_ticks_leave_idle_and_io_wait_out_of_busy() {
        let line = "cpu  100 5 20 1000 30 2 3 7 0 0";
        assert_eq!(machine_ticks_of(line), Some((137, 1167)));
        assert_eq!(machine_ticks_of("cpu0 1 2 3 4 5 6 7 8"), None);
        assert_eq!(machine_ticks_of("cpu 1 2"), None);
        let (busy, total) = machine_ticks().unwrap();
        assert!(busy <= total && total > 0);
    }

    #[test]
    fn this_process_has_memory_and_a_tree_with_its_child() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let me = std::process::id();
        let found = tree(me);
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(found.contains(&child.id()), "{found:?}");
        let own = usage(me).unwrap();
        assert!(own.rss_bytes > 1024 * 1024);
        assert!(peak_rss_bytes(me).unwrap() >= own.rss_bytes);
        let pss = pss_of_tree(me);
        assert!(pss > 0 && pss <= usage_of_tree(me).rss_bytes, "{pss}");
    }
}
