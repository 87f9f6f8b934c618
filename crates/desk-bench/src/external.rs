//! Benchmarks that live beside the code they measure (`cargo bench` targets of the
//! crates), run as programs: each prints its figures as lines
//! `figure|<name>|<unit>|<value>[|<=target or >=target]` among its human-readable output.

use std::path::Path;
use std::process::Command;

use crate::figure::{Figure, Target};

/// Runs `program --bench` `runs` times and gathers its figures under `section`.
pub fn run(section: &'static str, program: &Path, runs: usize) -> Result<Vec<Figure>, String> {
    let mut figures: Vec<Figure> = Vec::new();
    for _ in 0..runs {
        let output = Command::new(program)
            .arg("--bench")
            .output()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        if !output.status.success() {
            return Err(format!(
                "{} failed: {}",
                program.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let Some((name, unit, value, target)) = parse(line) else {
                continue;
            };
            match figures.iter_mut().find(|f| f.name == name) {
                Some(figure) => figure.samples.push(value),
                None => {
                    let mut figure = Figure::new(section, name, unit);
                    figure.target = target;
                    figure.samples.push(value);
                    figures.push(figure);
                }
            }
        }
    }
    if figures.is_empty() {
        return Err(format!("{} printed no figure lines", program.display()));
    }
    Ok(figures)
}

fn parse(line: &str) -> Option<(String, String, f64, Option<Target>)> {
    let mut fields = line.strip_prefix("figure|")?.split('|');
    let name = fields.next()?.trim().to_owned();
    let unit = fields.next()?.trim().to_owned();
    let value = fields.next()?.trim().parse().ok()?;
    let target = match fields.next().map(str::trim) {
        Some(t) if t.starts_with("<=") => Some(Target::AtMost(t[2..].trim().parse().ok()?)),
        Some(t) if t.starts_with(">=") => Some(Target::AtLeast(t[2..].trim().parse().ok()?)),
        Some(_) => return None,
        None => None,
    };
    Some((name, unit, value, target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figure_lines_with_and_without_targets() {
        let (name, unit, value, target) = parse("figure|latency p99|ms|4.7|<=10").unwrap();
        assert_eq!(
            (name.as_str(), unit.as_str(), value),
            ("latency p99", "ms", 4.7)
        );
        assert!(matches!(target, Some(Target::AtMost(t)) if t == 10.0));
        let (_, unit, _, target) = parse("figure|burst|msg/s|16400|>=2000").unwrap();
        assert_eq!(unit, "msg/s");
        assert!(matches!(target, Some(Target::AtLeast(t)) if t == 2000.0));
        assert!(parse("figure|x|ms|1.5").unwrap().3.is_none());
        assert!(parse("latency: p99 4.7 ms").is_none());
        assert!(parse("figure|x|ms|fast").is_none());
        assert!(parse("figure|x|ms|1|~3").is_none());
    }
}
