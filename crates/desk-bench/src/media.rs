//! The media pipeline against the Node.js reference: runs the `ilink` crate's media
//! benchmark (built by `cargo bench --no-run`) once per run and reads its figures, so
//! ours and Node's are measured in the same run on the same file.

use std::path::Path;
use std::process::Command;

use crate::figure::{Figure, Target};

pub const SECTION: &str = "Media pipeline (ours and the Node.js reference, same run)";

/// How the figures are taken, printed under the section's heading.
pub const NOTE: &str = "On a 64 MiB file in the page cache. The upload CPU path is the two \
passes `upload_file` makes, called as it calls them: `checksum_file` (256 KiB reads and \
MD5 on the blocking pool), then the `encrypted_chunks` its request body streams (1 MiB \
reads encrypted in place on the blocking pool, handed on in 256 KiB chunks that are \
dropped where the connection would take them). Decrypt + MD5 check is the download's loop (`Decryptor`, then MD5) over the \
ciphertext read from a file. The ratios to the hardware bound are in CPU time: ours is \
the process's (every thread), the bound is `openssl speed` MD5 and AES-128-ECB on one \
core, run just before. Throughputs and the ratios to openssl and Node are in wall time.";

pub fn run(bench: &Path, runs: usize) -> Result<Vec<Figure>, String> {
    let mut figures: Vec<Figure> = Vec::new();
    for _ in 0..runs {
        let output = Command::new(bench)
            .arg("--bench")
            .output()
            .map_err(|e| format!("cannot start {}: {e}", bench.display()))?;
        if !output.status.success() {
            return Err(format!(
                "the media benchmark failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        let text = String::from_utf8_lossy(&output.stdout);
        if text.contains("identical to ours: false") {
            return Err("a peer's output differs from ours: figures not comparable".into());
        }
        for (name, unit, value) in parse(&text) {
            match figures.iter_mut().find(|f| f.name == name) {
                Some(figure) => figure.samples.push(value),
                None => {
                    let mut figure = Figure::new(SECTION, name, unit);
                    figure.target = target(&figure.name);
                    figure.samples.push(value);
                    figures.push(figure);
                }
            }
        }
    }
    if figures.is_empty() {
        return Err("the media benchmark printed no figures".into());
    }
    Ok(figures)
}

/// Issue 15's bars: every path at least 0.9 of the one-core hardware bound measured in
/// the same run, and in-process throughput at least 2.5 times the Node reference.
fn target(name: &str) -> Option<Target> {
    if name.starts_with("Ratio to the hardware bound") {
        Some(Target::AtLeast(0.9))
    } else if name.starts_with("Throughput ratio ours/node (in-process)") {
        Some(Target::AtLeast(2.5))
    } else {
        None
    }
}

/// (figure, unit, value) from the benchmark's lines: throughputs (`… ms  … MiB/s`), peak
/// memory (`… MiB`), ratios (`throughput ratio X: 1.22`), the hardware bound
/// (`hardware bound (…) X: 700.0 MiB/s`) and the ratios to it (`ratio to the hardware
/// bound X: 0.93 …`).
fn parse(text: &str) -> Vec<(String, &'static str, f64)> {
    let mut found = Vec::new();
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let first_number = |s: &str| s.split_whitespace().next().and_then(|v| v.parse().ok());
        if let Some(rest) = line.strip_prefix("ratio to the hardware bound ") {
            if let Some((what, value)) = rest.split_once(':') {
                if let Some(value) = first_number(value) {
                    found.push((format!("Ratio to the hardware bound: {what}"), "×", value));
                }
            }
        } else if let Some(rest) = line.strip_prefix("hardware bound (") {
            if let Some((what, value)) = rest.rsplit_once(": ") {
                if let Some(value) = first_number(value) {
                    found.push((format!("Hardware bound ({what}"), "MiB/s", value));
                }
            }
        } else if let Some(rest) = line.strip_prefix("throughput ratio ") {
            if let Some((what, value)) = rest.split_once(':') {
                let value = value.split_whitespace().next().and_then(|v| v.parse().ok());
                if let Some(value) = value {
                    found.push((
                        format!("Throughput ratio {what} (above 1: ours faster)"),
                        "×",
                        value,
                    ));
                }
            }
        } else if words.len() >= 5
            && words[words.len() - 1] == "MiB/s"
            && words[words.len() - 3] == "ms"
        {
            let name = words[..words.len() - 4].join(" ");
            if let Ok(value) = words[words.len() - 2].parse() {
                found.push((format!("{name}: throughput"), "MiB/s", value));
            }
        } else if words.len() >= 3 && words[words.len() - 1] == "MiB" && !line.contains('/') {
            let name = words[..words.len() - 2].join(" ");
            if let Ok(value) = words[words.len() - 2].parse() {
                found.push((
                    format!("{name}: peak memory (100 MiB upload)"),
                    "MiB",
                    value,
                ));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_throughputs_ratios_and_peaks() {
        let text = "Throughput on a 64 MiB file:
  ours: MD5 (read + hash)                                       120.5 ms     531.1 MiB/s
  openssl output identical to ours: true
  throughput ratio ours/node (in-process): 1.54 (above 1: ours is faster)
  hardware bound (openssl speed, one core) MD5 then AES-128-ECB: 690.5 MiB/s
  ratio to the hardware bound upload CPU path: 0.86 (target at least 0.9)

Peak resident memory (VmHWM) for a 100 MiB upload, each in a fresh process:
  ours: upload_file to a loopback sink (client + server)           9.8 MiB
  node / ours (upload_file): 30.1x the peak memory; above baseline: 302.0 MiB vs 4.7 MiB
";
        let found = parse(text);
        assert_eq!(
            found,
            vec![
                ("ours: MD5 (read + hash): throughput".to_owned(), "MiB/s", 531.1),
                (
                    "Throughput ratio ours/node (in-process) (above 1: ours faster)".to_owned(),
                    "×",
                    1.54
                ),
                (
                    "Hardware bound (openssl speed, one core) MD5 then AES-128-ECB".to_owned(),
                    "MiB/s",
                    690.5
                ),
                (
                    "Ratio to the hardware bound: upload CPU path".to_owned(),
                    "×",
                    0.86
                ),
                (
                    "ours: upload_file to a loopback sink (client + server): peak memory (100 MiB upload)"
                        .to_owned(),
                    "MiB",
                    9.8
                ),
            ]
        );
        assert_eq!(
            target("Ratio to the hardware bound: upload CPU path").map(|t| t.met_by(0.9)),
            Some(true)
        );
        assert!(target("ours: MD5 (read + hash): throughput").is_none());
    }
}
