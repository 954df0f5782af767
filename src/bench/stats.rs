//! Statistics for the bench: medians, percentiles and the ideal-time model. Pure functions.

use serde::{Deserialize, Serialize};

/// Median of `values` (mean of the two middle ones for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let sorted = sorted(values);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// The `p`-th percentile (0–100) by nearest rank: the smallest value with at least `p`% of the
/// values at or below it. `None` when empty.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let sorted = sorted(values);
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p.clamp(0.0, 100.0) / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.saturating_sub(1).min(sorted.len() - 1)])
}

fn sorted(values: &[f64]) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
}

/// The ideal wall time of `requests` requests of `latency_ms` each on `pool` workers:
/// `ceil(requests / pool) × latency`. A pool of 0 means unbounded: one wave.
pub fn ideal_ms(requests: usize, pool: usize, latency_ms: f64) -> f64 {
    if requests == 0 {
        return 0.0;
    }
    let waves = if pool == 0 {
        1
    } else {
        requests.div_ceil(pool)
    };
    waves as f64 * latency_ms
}

/// Median with the range it came from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// The median.
    pub median: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
}

impl Spread {
    /// Median, min and max of `values`; `None` when empty.
    pub fn of(values: &[f64]) -> Option<Spread> {
        let median = median(values)?;
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some(Spread { median, min, max })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), Some(50.0));
        assert_eq!(percentile(&values, 90.0), Some(90.0));
        assert_eq!(percentile(&values, 99.0), Some(99.0));
        assert_eq!(percentile(&values, 100.0), Some(100.0));
        assert_eq!(percentile(&values, 0.0), Some(1.0));
        assert_eq!(percentile(&[7.0, 1.0, 5.0], 50.0), Some(5.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn ideal_time_counts_waves() {
        assert_eq!(ideal_ms(200, 5, 100.0), 4000.0);
        assert_eq!(ideal_ms(200, 20, 100.0), 1000.0);
        assert_eq!(ideal_ms(101, 5, 100.0), 2100.0);
        assert_eq!(ideal_ms(3, 5, 100.0), 100.0);
        assert_eq!(ideal_ms(2000, 0, 1000.0), 1000.0);
        assert_eq!(ideal_ms(0, 5, 100.0), 0.0);
    }

    #[test]
    fn spread_reports_median_and_range() {
        let spread = Spread::of(&[10.0, 30.0, 20.0]).unwrap();
        assert_eq!((spread.median, spread.min, spread.max), (20.0, 10.0, 30.0));
        assert!(Spread::of(&[]).is_none());
    }
}
