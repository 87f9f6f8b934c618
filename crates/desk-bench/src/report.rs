//! BENCHMARKS.md: the machine, the command, every figure with min/median/max and its
//! target, and the missed targets first.

use std::fmt::Write;

use crate::figure::{number, Figure};
use crate::machine::Machine;

pub struct Report<'a> {
    pub machine: &'a Machine,
    pub date: &'a str,
    pub revision: &'a str,
    pub command: &'a str,
    pub runs: usize,
    /// The 1-minute load average when the run started and when it ended.
    pub load: (f64, f64),
    pub figures: &'a [Figure],
    /// Scenarios that could not run here, with the reason.
    pub skipped: &'a [(String, String)],
}

impl Report<'_> {
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let m = self.machine;
        let _ = writeln!(out, "# Benchmarks\n");
        let _ = writeln!(
            out,
            "Measured {} on commit `{}` with `{}` ({} runs of each figure unless its \
             name says otherwise). Machine: {}, {} cores, {:.0} GiB, {}, Linux {}.\n",
            self.date,
            self.revision,
            self.command,
            self.runs,
            m.cpu,
            m.cores,
            m.memory_gib,
            m.os,
            m.kernel
        );
        let _ = writeln!(
            out,
            "Every figure is the min / median / max over the runs; a target is judged on \
             the median. Everything talks to `ilink-sim` on loopback. Load average (1 min) \
             at the start {:.1}, at the end {:.1}.\n",
            self.load.0, self.load.1
        );
        self.missed(&mut out);
        let mut sections: Vec<&str> = Vec::new();
        for figure in self.figures {
            if !sections.contains(&figure.section) {
                sections.push(figure.section);
            }
        }
        for section in sections {
            let _ = writeln!(out, "## {section}\n");
            let _ = writeln!(out, "| Figure | Min | Median | Max | Target | Met |");
            let _ = writeln!(out, "|---|---:|---:|---:|---|---|");
            for figure in self.figures.iter().filter(|f| f.section == section) {
                row(&mut out, figure);
            }
            out.push('\n');
        }
        if !self.skipped.is_empty() {
            let _ = writeln!(out, "## Not measured in this run\n");
            for (what, why) in self.skipped {
                let _ = writeln!(out, "- {what}: {why}");
            }
            out.push('\n');
        }
        out
    }

    fn missed(&self, out: &mut String) {
        let missed: Vec<&Figure> = self
            .figures
            .iter()
            .filter(|f| f.met() == Some(false))
            .collect();
        let _ = writeln!(out, "## Targets missed\n");
        if missed.is_empty() {
            let _ = writeln!(out, "None of the figures measured below.\n");
            return;
        }
        for figure in missed {
            let (Some(summary), Some(target)) = (figure.summary(), figure.target) else {
                continue;
            };
            let _ = writeln!(
                out,
                "- **{} — {}**: {} {} (target {})",
                figure.section,
                figure.name,
                number(summary.median),
                figure.unit,
                target.describe(figure.unit)
            );
        }
        out.push('\n');
    }
}

fn row(out: &mut String, figure: &Figure) {
    let target = figure
        .target
        .map_or_else(|| "—".to_owned(), |t| t.describe(figure.unit));
    let met = match figure.met() {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "—",
    };
    match figure.summary() {
        Some(s) => {
            let _ = writeln!(
                out,
                "| {} | {} {unit} | {} {unit} | {} {unit} | {target} | {met} |",
                figure.name,
                number(s.min),
                number(s.median),
                number(s.max),
                unit = figure.unit
            );
        }
        None => {
            let _ = writeln!(
                out,
                "| {} | — | — | — | {target} | not measured |",
                figure.name
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figure::Target;

    #[test]
    fn missed_targets_come_first_with_the_measured_median() {
        let machine = Machine {
            cpu: "Test CPU".into(),
            cores: 2,
            memory_gib: 24.0,
            kernel: "6.1".into(),
            os: "Debian".into(),
        };
        let mut slow = Figure::new("Scale", "p99 latency", "ms").target(Target::AtMost(50.0));
        slow.samples = vec![60.0, 70.0, 80.0];
        let mut fine = Figure::new("Idle", "RSS", "MiB").target(Target::AtMost(30.0));
        fine.samples = vec![20.0, 21.0, 22.0];
        let figures = [fine, slow];
        let skipped = [("App footprint".to_owned(), "no display".to_owned())];
        let text = Report {
            machine: &machine,
            date: "2026-11-24",
            revision: "abc1234",
            command: "./dev bench",
            runs: 3,
            load: (0.5, 1.25),
            figures: &figures,
            skipped: &skipped,
        }
        .markdown();
        let missed_at = text
            .find("**Scale — p99 latency**: 70 ms (target ≤ 50 ms)")
            .unwrap();
        let first_table = text.find("| Figure |").unwrap();
        assert!(missed_at < first_table, "{text}");
        assert!(text.contains("| RSS | 20 MiB | 21 MiB | 22 MiB | ≤ 30 MiB | yes |"));
        assert!(text.contains("| p99 latency | 60 ms | 70 ms | 80 ms | ≤ 50 ms | **no** |"));
        assert!(text.contains("- App footprint: no display"));
        assert!(text.contains("Test CPU, 2 cores, 24 GiB"));
        assert!(text.contains("at the start 0.5, at the end 1.2"));
    }
}
