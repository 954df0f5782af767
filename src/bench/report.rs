//! Human output of the bench: the table and the hyperfine-style relative summary.

use super::BenchResult;

/// Column headers of the table (also used by the markdown export).
pub const HEADERS: [&str; 11] = [
    "setup",
    "requests",
    "wall (median, min–max)",
    "ideal",
    "wall/ideal",
    "req/s",
    "p50",
    "p90",
    "p99",
    "conns",
    "threads",
];

/// The cells of one row, formatted for people.
pub fn cells(result: &BenchResult) -> Vec<String> {
    let wall = &result.wall_ms;
    let wall_text = if result.runs.len() > 1 {
        format!("{} ({}–{})", ms(wall.median), ms(wall.min), ms(wall.max))
    } else {
        ms(wall.median)
    };
    vec![
        result.setup.label(),
        result.requests.to_string(),
        wall_text,
        result.ideal_ms.map_or("–".into(), ms),
        result
            .wall_over_ideal
            .map_or("–".into(), |r| format!("{r:.3}")),
        format!("{:.1}", result.req_per_s),
        ms(result.p50_ms),
        ms(result.p90_ms),
        ms(result.p99_ms),
        result.connections.map_or("–".into(), |c| c.to_string()),
        result.threads.map_or("–".into(), |t| t.to_string()),
    ]
}

/// A duration in ms, shown in the unit that reads best.
pub fn ms(value: f64) -> String {
    if value >= 1000.0 {
        format!("{:.3} s", value / 1000.0)
    } else if value >= 10.0 {
        format!("{value:.1} ms")
    } else {
        format!("{value:.2} ms")
    }
}

/// The results as an aligned text table.
pub fn table(results: &[BenchResult]) -> String {
    let rows: Vec<Vec<String>> = results.iter().map(cells).collect();
    let mut widths: Vec<usize> = HEADERS.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, width))| {
                let pad = width - cell.chars().count();
                if i == 0 {
                    format!("{cell}{}", " ".repeat(pad))
                } else {
                    format!("{}{cell}", " ".repeat(pad))
                }
            })
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let header: Vec<String> = HEADERS.iter().map(|h| h.to_string()).collect();
    let mut out = vec![line(&header)];
    out.extend(rows.iter().map(|row| line(row)));
    out.join("\n") + "\n"
}

/// "threads pool 20 ran 18.9× faster than threads pool 1", fastest first, as hyperfine does.
pub fn relative_summary(results: &[BenchResult]) -> String {
    // A setup whose requests all failed measured how fast errors come back, not fetching:
    // it takes no part in the comparison.
    let results: Vec<&BenchResult> = results
        .iter()
        .filter(|r| r.runs.iter().any(|run| run.ok > 0))
        .collect();
    let Some(fastest) = results
        .iter()
        .copied()
        .min_by(|a, b| a.wall_ms.median.total_cmp(&b.wall_ms.median))
    else {
        return String::new();
    };
    if results.len() < 2 {
        return String::new();
    }
    let mut others: Vec<&BenchResult> = results
        .iter()
        .copied()
        .filter(|r| !std::ptr::eq(*r, fastest))
        .collect();
    others.sort_by(|a, b| a.wall_ms.median.total_cmp(&b.wall_ms.median));
    let mut out = format!("Summary\n  {} ran\n", fastest.setup.label());
    for other in others {
        let ratio = other.wall_ms.median / fastest.wall_ms.median.max(f64::EPSILON);
        out.push_str(&format!(
            "    {ratio:>6.2}× faster than {}\n",
            other.setup.label()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{BenchPlan, RunResult, Setup, summarise};
    use crate::config::EngineKind;

    /// Fixed runs instead of a network: the figures are exactly predictable.
    fn result(pool: usize, walls: &[f64]) -> BenchResult {
        let plan = BenchPlan {
            requests: 4,
            latency: std::time::Duration::from_millis(100),
            ..BenchPlan::default()
        };
        let runs = walls
            .iter()
            .map(|&wall_ms| RunResult {
                wall_ms,
                req_per_s: 4000.0 / wall_ms,
                ok: 4,
                failed: 0,
                connections: Some(pool as u64),
                threads: Some(7),
                first_error: None,
                finished_ms: vec![100.0, 100.0, 200.0, 200.0],
                latency_ms: vec![100.0, 101.0, 102.0, 110.0],
            })
            .collect();
        let setup = Setup {
            engine: EngineKind::Threads,
            pool,
            batch_size: None,
        };
        summarise(&plan, setup, runs)
    }

    #[test]
    fn summarise_takes_medians_and_the_ideal_model() {
        let r = result(2, &[210.0, 200.0, 230.0]);
        assert_eq!(r.wall_ms.median, 210.0);
        assert_eq!((r.wall_ms.min, r.wall_ms.max), (200.0, 230.0));
        assert_eq!(r.ideal_ms, Some(200.0));
        assert_eq!(r.wall_over_ideal, Some(1.05));
        assert!((r.req_per_s - 4.0 / 0.21).abs() < 1e-9);
        assert_eq!(r.p50_ms, 101.0);
        assert_eq!(r.p99_ms, 110.0);
        assert_eq!(r.connections, Some(2));
        assert_eq!(r.median_run().unwrap().wall_ms, 210.0);
    }

    #[test]
    fn table_and_summary_name_every_setup_fastest_first() {
        let results = [
            result(1, &[400.0]),
            result(4, &[100.0]),
            result(2, &[200.0]),
        ];
        let table = table(&results);
        assert_eq!(table.lines().count(), 4);
        assert!(table.lines().nth(2).unwrap().starts_with("threads pool 4"));
        let summary = relative_summary(&results);
        let lines: Vec<&str> = summary.lines().collect();
        assert_eq!(lines[1].trim(), "threads pool 4 ran");
        assert_eq!(lines[2].trim(), "2.00× faster than threads pool 2");
        assert_eq!(lines[3].trim(), "4.00× faster than threads pool 1");
        assert_eq!(relative_summary(&results[..1]), "");
    }
}
