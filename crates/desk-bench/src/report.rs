//! BENCHMARKS.md: the machine, every figure with min/median/max and its target, the
//! missed targets first, and what could not be measured. The figures are also kept as
//! JSON beside the page, so a later run of some scenarios (`--update`) replaces their
//! sections and keeps the others, each section saying when and where it was measured.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::figure::{number, Figure};
use crate::machine::Machine;

/// When and how a section was measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stamp {
    pub date: String,
    pub revision: String,
    pub runs: usize,
    /// The 1-minute load average when the run started and when it ended.
    pub load: (f64, f64),
}

/// Everything a page shows.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Results {
    pub figures: Vec<Figure>,
    /// Sections that could not be measured, with the reason.
    pub skipped: Vec<(String, String)>,
    pub stamps: BTreeMap<String, Stamp>,
}

impl Results {
    /// One run's results: every section it touched carries `stamp`.
    pub fn of_run(figures: Vec<Figure>, skipped: Vec<(String, String)>, stamp: &Stamp) -> Results {
        let mut stamps = BTreeMap::new();
        for section in figures
            .iter()
            .map(|f| &f.section)
            .chain(skipped.iter().map(|s| &s.0))
        {
            stamps.insert(section.clone(), stamp.clone());
        }
        Results {
            figures,
            skipped,
            stamps,
        }
    }

    /// `newer` replaces every section it touched, in that section's place on the page;
    /// the others stay, and sections new to the page come last.
    pub fn updated_with(self, newer: Results) -> Results {
        let replaced = |section: &str| newer.stamps.contains_key(section);
        let mut figures = Vec::with_capacity(self.figures.len() + newer.figures.len());
        let mut placed: Vec<String> = Vec::new();
        for figure in self.figures {
            if !replaced(&figure.section) {
                figures.push(figure);
            } else if !placed.contains(&figure.section) {
                placed.push(figure.section.clone());
                let section = figure.section;
                figures.extend(
                    newer
                        .figures
                        .iter()
                        .filter(|f| f.section == section)
                        .cloned(),
                );
            }
        }
        figures.extend(
            newer
                .figures
                .into_iter()
                .filter(|f| !placed.contains(&f.section)),
        );
        let mut merged = Results {
            figures,
            skipped: self
                .skipped
                .into_iter()
                .filter(|s| !replaced(&s.0))
                .collect(),
            stamps: self
                .stamps
                .into_iter()
                .filter(|(s, _)| !replaced(s))
                .collect(),
        };
        merged.skipped.extend(newer.skipped);
        merged.stamps.extend(newer.stamps);
        merged
    }
}

/// What a section's figures measure, where the names alone would not say.
fn section_note(section: &str) -> Option<&'static str> {
    (section == crate::media::SECTION).then_some(crate::media::NOTE)
}

pub struct Page<'a> {
    pub machine: &'a Machine,
    pub command: &'a str,
    pub results: &'a Results,
}

impl Page<'_> {
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let m = self.machine;
        let _ = writeln!(out, "# Benchmarks\n");
        let _ = writeln!(
            out,
            "Written by `{}` on {}, {} cores, {:.0} GiB, {}, Linux {}. Every figure is \
             the min / median / max over the runs of its section; a target is judged on \
             the median. Everything talks to `ilink-sim` on loopback. Each section says \
             when, on which commit and under what load (1-minute load average at its \
             run's start and end) it was measured.\n",
            self.command, m.cpu, m.cores, m.memory_gib, m.os, m.kernel
        );
        self.missed(&mut out);
        let mut sections: Vec<&str> = Vec::new();
        for figure in &self.results.figures {
            if !sections.contains(&figure.section.as_str()) {
                sections.push(&figure.section);
            }
        }
        for section in sections {
            let _ = writeln!(out, "## {section}\n");
            if let Some(stamp) = self.results.stamps.get(section) {
                let _ = writeln!(
                    out,
                    "Measured {} on `{}`, {} run(s), load {:.1} → {:.1}.\n",
                    stamp.date, stamp.revision, stamp.runs, stamp.load.0, stamp.load.1
                );
            }
            if let Some(note) = section_note(section) {
                let _ = writeln!(out, "{note}\n");
            }
            let _ = writeln!(out, "| Figure | Min | Median | Max | Target | Met |");
            let _ = writeln!(out, "|---|---:|---:|---:|---|---|");
            for figure in self.results.figures.iter().filter(|f| f.section == section) {
                row(&mut out, figure);
            }
            out.push('\n');
        }
        if !self.results.skipped.is_empty() {
            let _ = writeln!(out, "## Not measured\n");
            for (what, why) in &self.results.skipped {
                let _ = writeln!(out, "- {what}: {why}");
            }
            out.push('\n');
        }
        out
    }

    fn missed(&self, out: &mut String) {
        let missed: Vec<&Figure> = self
            .results
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
                target.describe(&figure.unit)
            );
        }
        out.push('\n');
    }
}

fn row(out: &mut String, figure: &Figure) {
    let target = figure
        .target
        .map_or_else(|| "—".to_owned(), |t| t.describe(&figure.unit));
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

    fn machine() -> Machine {
        Machine {
            cpu: "Test CPU".into(),
            cores: 2,
            memory_gib: 24.0,
            kernel: "6.1".into(),
            os: "Debian".into(),
        }
    }

    fn stamp(revision: &str) -> Stamp {
        Stamp {
            date: "2026-11-24".into(),
            revision: revision.into(),
            runs: 3,
            load: (0.5, 1.25),
        }
    }

    fn figure(section: &str, name: &str, unit: &str, samples: &[f64], target: Target) -> Figure {
        let mut figure = Figure::new(section, name, unit).target(target);
        figure.samples = samples.to_vec();
        figure
    }

    #[test]
    fn missed_targets_come_first_with_the_measured_median() {
        let fine = figure(
            "Idle",
            "RSS",
            "MiB",
            &[20.0, 21.0, 22.0],
            Target::AtMost(30.0),
        );
        let slow = figure(
            "Scale",
            "p99 latency",
            "ms",
            &[60.0, 70.0, 80.0],
            Target::AtMost(50.0),
        );
        let skipped = vec![("App footprint".to_owned(), "no display".to_owned())];
        let results = Results::of_run(vec![fine, slow], skipped, &stamp("abc1234"));
        let text = Page {
            machine: &machine(),
            command: "./dev bench",
            results: &results,
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
        assert!(text.contains("Measured 2026-11-24 on `abc1234`, 3 run(s), load 0.5 → 1.2."));
    }

    #[test]
    fn the_media_section_says_how_its_figures_are_taken() {
        let results = Results::of_run(
            vec![figure(
                crate::media::SECTION,
                "Ratio to the hardware bound: upload CPU path",
                "×",
                &[0.95],
                Target::AtLeast(0.9),
            )],
            Vec::new(),
            &stamp("abc1234"),
        );
        let text = Page {
            machine: &machine(),
            command: "./dev bench",
            results: &results,
        }
        .markdown();
        let note = text.find(crate::media::NOTE).unwrap();
        let heading = text.find(&format!("## {}", crate::media::SECTION)).unwrap();
        assert!(
            heading < note && note < text.find("| Figure |").unwrap(),
            "{text}"
        );
    }

    #[test]
    fn an_update_replaces_the_sections_it_measured_and_keeps_the_rest() {
        let old = Results::of_run(
            vec![
                figure("Idle", "RSS", "MiB", &[20.0], Target::AtMost(30.0)),
                figure("Soak", "RSS at end", "MiB", &[500.0], Target::AtMost(40.0)),
                figure("Idle", "CPU", "%", &[0.1], Target::AtMost(1.0)),
            ],
            vec![("App".to_owned(), "no display".to_owned())],
            &stamp("old1111"),
        );
        let newer = Results::of_run(
            vec![
                figure("Soak", "RSS at end", "MiB", &[31.0], Target::AtMost(40.0)),
                figure("App", "RSS", "MiB", &[200.0], Target::AtMost(250.0)),
            ],
            Vec::new(),
            &stamp("new2222"),
        );
        let merged = old.updated_with(newer);
        let json = serde_json::to_string(&merged).unwrap();
        let merged: Results = serde_json::from_str(&json).unwrap();
        let soak: Vec<&Figure> = merged
            .figures
            .iter()
            .filter(|f| f.section == "Soak")
            .collect();
        assert_eq!(soak.len(), 1);
        assert_eq!(soak[0].samples, [31.0]);
        let order: Vec<(&str, &str)> = merged
            .figures
            .iter()
            .map(|f| (f.section.as_str(), f.name.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                ("Idle", "RSS"),
                ("Soak", "RSS at end"),
                ("Idle", "CPU"),
                ("App", "RSS")
            ],
            "a re-measured section keeps its place, a new one comes last"
        );
        assert!(merged.skipped.is_empty(), "the app was measured now");
        assert_eq!(merged.stamps["Idle"].revision, "old1111");
        assert_eq!(merged.stamps["Soak"].revision, "new2222");
        assert_eq!(merged.stamps["App"].revision, "new2222");
    }
}
