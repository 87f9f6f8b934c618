//! One measured figure: its samples over the runs, its unit and the target it is held to.

/// Which way a target points.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub enum Target {
    /// The figure should be at most this.
    AtMost(f64),
    /// The figure should be at least this.
    AtLeast(f64),
}

impl Target {
    /// Judged on the median, so one noisy run neither hides nor invents a miss.
    pub fn met_by(self, value: f64) -> bool {
        match self {
            Target::AtMost(limit) => value <= limit,
            Target::AtLeast(floor) => value >= floor,
        }
    }

    pub fn describe(self, unit: &str) -> String {
        match self {
            Target::AtMost(limit) => format!("≤ {} {unit}", number(limit)),
            Target::AtLeast(floor) => format!("≥ {} {unit}", number(floor)),
        }
    }
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Figure {
    /// The section it belongs to, e.g. "Idle footprint".
    pub section: String,
    pub name: String,
    pub unit: String,
    pub samples: Vec<f64>,
    pub target: Option<Target>,
}

/// Min, median and max of a figure's samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

impl Figure {
    pub fn new(
        section: impl Into<String>,
        name: impl Into<String>,
        unit: impl Into<String>,
    ) -> Figure {
        Figure {
            section: section.into(),
            name: name.into(),
            unit: unit.into(),
            samples: Vec::new(),
            target: None,
        }
    }

    pub fn target(mut self, target: Target) -> Figure {
        self.target = Some(target);
        self
    }

    pub fn summary(&self) -> Option<Summary> {
        summarise(&self.samples)
    }

    /// None when there is no target or no sample.
    pub fn met(&self) -> Option<bool> {
        Some(self.target?.met_by(self.summary()?.median))
    }
}

pub fn summarise(samples: &[f64]) -> Option<Summary> {
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|s| s.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    let median = if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    };
    Some(Summary {
        min: sorted[0],
        median,
        max: sorted[sorted.len() - 1],
    })
}

/// The `p`-th percentile (0–100) by nearest rank.
pub fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = samples.to_vec();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// A figure as a person reads it: three significant digits, no trailing zeros.
pub fn number(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = (2 - magnitude).clamp(0, 6) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_takes_the_middle_of_odd_and_even_runs() {
        let odd = summarise(&[5.0, 1.0, 3.0]).unwrap();
        assert_eq!(
            odd,
            Summary {
                min: 1.0,
                median: 3.0,
                max: 5.0
            }
        );
        let even = summarise(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!(even.median, 2.5);
        assert_eq!(summarise(&[f64::NAN]), None);
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&samples, 50.0), Some(50.0));
        assert_eq!(percentile(&samples, 99.0), Some(99.0));
        assert_eq!(percentile(&samples, 100.0), Some(100.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
    }

    #[test]
    fn targets_are_judged_on_the_median() {
        let mut figure = Figure::new("s", "x", "ms").target(Target::AtMost(10.0));
        figure.samples = vec![9.0, 11.0, 30.0];
        assert_eq!(figure.met(), Some(false));
        figure.samples = vec![1.0, 9.0, 30.0];
        assert_eq!(figure.met(), Some(true));
        let floor = Figure::new("s", "y", "msg/s").target(Target::AtLeast(2000.0));
        assert_eq!(floor.met(), None);
    }

    #[test]
    fn numbers_keep_three_significant_digits() {
        assert_eq!(number(12.345), "12.3");
        assert_eq!(number(0.012345), "0.0123");
        assert_eq!(number(2500.0), "2500");
        assert_eq!(number(1.5), "1.5");
    }
}
