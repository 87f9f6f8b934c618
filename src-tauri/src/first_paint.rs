//! A start-up measurement for the benchmark suite. With `WEIXIN_DESK_REPORT_FIRST_PAINT=1`,
//! once the window has painted its first screen (the conversation list, or the empty
//! state without accounts) the UI says so and the shell prints one line to stdout:
//! `first-paint-ms <milliseconds since the process started>`.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The variable that turns the report on (`1`).
pub const ENV: &str = "WEIXIN_DESK_REPORT_FIRST_PAINT";
/// The line's first word, which the benchmark suite looks for.
pub const PREFIX: &str = "first-paint-ms";

static PROCESS_START: OnceLock<Instant> = OnceLock::new();
static REPORTED: AtomicBool = AtomicBool::new(false);

/// Remembers when the process started: called first thing in `main`.
pub fn mark_process_start() {
    PROCESS_START.get_or_init(Instant::now);
}

/// Whether the variable asks for the report.
pub fn enabled(value: Option<&str>) -> bool {
    value == Some("1")
}

/// The line printed, in whole milliseconds.
pub fn line(since_start: Duration) -> String {
    format!("{PREFIX} {}", since_start.as_millis())
}

/// Reads a line printed by [`line`] back (for the benchmark suite and tests).
pub fn parse(line: &str) -> Option<u64> {
    let rest = line.trim().strip_prefix(PREFIX)?.strip_prefix(' ')?;
    rest.parse().ok()
}

/// Writes the line to `out` the first time it is asked while `enabled`; later calls
/// (a reloaded window) write nothing. Returns whether it wrote.
fn report_once(
    out: &mut impl Write,
    reported: &AtomicBool,
    enabled: bool,
    since_start: Duration,
) -> std::io::Result<bool> {
    if !enabled || reported.swap(true, Ordering::SeqCst) {
        return Ok(false);
    }
    writeln!(out, "{}", line(since_start))?;
    out.flush()?;
    Ok(true)
}

/// The window's first screen has been painted.
#[tauri::command]
#[specta::specta]
pub fn report_first_paint() -> bool {
    let on = enabled(std::env::var(ENV).ok().as_deref());
    let since = PROCESS_START.get_or_init(Instant::now).elapsed();
    report_once(&mut std::io::stdout().lock(), &REPORTED, on, since).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_one_parsable_line_once_and_only_when_asked() {
        let reported = AtomicBool::new(false);
        let mut out = Vec::new();
        assert!(!report_once(&mut out, &reported, false, Duration::from_millis(5)).unwrap());
        assert!(out.is_empty());
        let since = Duration::from_micros(1_234_567);
        assert!(report_once(&mut out, &reported, true, since).unwrap());
        assert!(!report_once(&mut out, &reported, true, since * 2).unwrap());
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "first-paint-ms 1234\n");
        assert_eq!(parse(text.lines().next().unwrap()), Some(1234));
    }

    #[test]
    fn only_one_turns_it_on_and_other_lines_do_not_parse() {
        assert!(enabled(Some("1")));
        for off in [None, Some("0"), Some(""), Some("true"), Some("yes")] {
            assert!(!enabled(off), "{off:?}");
        }
        assert_eq!(parse("first-paint-ms 0"), Some(0));
        assert_eq!(parse("first-paint-ms"), None);
        assert_eq!(parse("first-paint-msx 12"), None);
        assert_eq!(parse("first-paint-ms -3"), None);
        assert_eq!(parse("other 12"), None);
    }
}
