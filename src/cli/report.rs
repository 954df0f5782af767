//! Human output of the bench: the table and the hyperfine-style relative summary.

use poolfetch::bench::BenchResult;

/// Column headers of the table. It fits 100 columns.
pub const HEADERS: [&str; 11] = [
    "setup", "wall", "±σ", "×ideal", "req/s", "CPU/req", "pool/p50", "p50", "p99", "conns",
    "threads",
];

/// The setup's short name in the table: `threads 20`, `async unbounded`, `threads 5 b10`.
fn short_label(result: &BenchResult) -> String {
    let pool = match result.setup.pool {
        0 => "unbounded".to_string(),
        pool => pool.to_string(),
    };
    let batch = result
        .setup
        .batch_size
        .map_or(String::new(), |b| format!(" b{b}"));
    format!("{} {pool}{batch}", result.setup.engine.name())
}

/// Little's law: with `pool` requests always in flight, each taking p50, the pool serves
/// `pool / p50` requests a second until the server saturates.
fn littles_law(result: &BenchResult) -> Option<f64> {
    (result.setup.pool > 0 && result.p50_ms > 0.0)
        .then(|| result.setup.pool as f64 / (result.p50_ms / 1000.0))
}

/// The cells of one row, formatted for people.
pub fn cells(result: &BenchResult) -> Vec<String> {
    let wall = &result.wall_ms;
    // The standard deviation of the timed runs' walls, as a share of their mean (hyperfine's σ).
    let (mean, sd) = mean_sd(result);
    let spread = if result.runs.len() > 1 && mean > 0.0 {
        format!("{:.1}%", sd / mean * 100.0)
    } else {
        "–".into()
    };
    vec![
        short_label(result),
        ms(wall.median),
        spread,
        result
            .wall_over_ideal
            .map_or("–".into(), |r| format!("{r:.3}")),
        format!("{:.1}", result.req_per_s),
        result
            .cpu_us_per_request
            .map_or("–".into(), |us| format!("{us:.1} µs")),
        littles_law(result).map_or("–".into(), |r| format!("{r:.1}")),
        ms(result.p50_ms),
        ms(result.p99_ms),
        result.connections.map_or("–".into(), |c| c.to_string()),
        result.threads.map_or("–".into(), |t| t.to_string()),
    ]
}

/// What the sweep says about `engine`'s pool size.
pub enum PoolAnswer<'a> {
    /// The smallest pool within 5% of the best throughput, and where adding workers stopped
    /// paying (the knee), if the sweep shows one.
    Found {
        /// The smallest pool within 5% of the best.
        pick: &'a BenchResult,
        /// The last pool after which one more step gained less than 5%.
        knee: Option<&'a BenchResult>,
    },
    /// The largest pool tried is the best and still gained 5% or more on the one before: the
    /// sweep has not found the knee.
    StillRising {
        /// The largest pool tried.
        last: &'a BenchResult,
        /// The pool tried before it.
        before: &'a BenchResult,
    },
}

/// The answer for `engine` (setups without batches that worked, by pool); `None` with fewer
/// than two.
pub fn pool_answer(
    results: &[BenchResult],
    engine: poolfetch::bench::Contender,
) -> Option<PoolAnswer<'_>> {
    let mut plain: Vec<&BenchResult> = results
        .iter()
        .filter(|r| r.setup.engine == engine && r.setup.batch_size.is_none())
        .filter(|r| r.runs.iter().any(|run| run.ok > 0))
        .collect();
    plain.sort_by_key(|r| {
        if r.setup.pool == 0 {
            usize::MAX
        } else {
            r.setup.pool
        }
    });
    if plain.len() < 2 {
        return None;
    }
    let best = *plain
        .iter()
        .max_by(|a, b| a.req_per_s.total_cmp(&b.req_per_s))?;
    let pick = *plain.iter().find(|r| no_better(best, r))?;
    let (last, before) = (plain[plain.len() - 1], plain[plain.len() - 2]);
    if std::ptr::eq(pick, last) && last.setup.pool != 0 {
        return Some(PoolAnswer::StillRising { last, before });
    }
    let knee = plain
        .windows(2)
        .find(|pair| no_better(pair[1], pair[0]))
        .map(|pair| pair[0]);
    Some(PoolAnswer::Found { pick, knee })
}

/// Whether `faster` is no better than `other` in throughput: less than 5% ahead, or ahead by
/// less than the noise of their runs (the ± of the wall ratio, as the summary computes it).
fn no_better(faster: &BenchResult, other: &BenchResult) -> bool {
    let (ratio, error) = wall_ratio(other, faster);
    ratio < 1.05 || ratio - error <= 1.0
}

/// `slow`'s mean wall over `fast`'s, and its ± propagated from both setups' spreads, as
/// hyperfine computes it.
pub(super) fn wall_ratio(slow: &BenchResult, fast: &BenchResult) -> (f64, f64) {
    let (fast_mean, fast_sd) = mean_sd(fast);
    let (mean, sd) = mean_sd(slow);
    let ratio = mean / fast_mean.max(f64::EPSILON);
    let error = ratio
        * ((sd / mean.max(f64::EPSILON)).powi(2) + (fast_sd / fast_mean.max(f64::EPSILON)).powi(2))
            .sqrt();
    (ratio, error)
}

/// Which pool size to use, for each engine: the smallest pool within 5% of the best
/// throughput, its p99, and the knee — or, when the best is the largest pool tried, that the
/// sweep should go further, with what Little's law predicts.
pub fn pool_advice(results: &[BenchResult]) -> String {
    let mut lines = Vec::new();
    let engines = engines_of(results);
    for engine in engines {
        let line = match pool_answer(results, engine) {
            None => continue,
            Some(PoolAnswer::Found { pick, knee }) => {
                let mut line = format!(
                    "{}: pool {} is the smallest within 5% (or the noise) of the best throughput\n    ({:.1} req/s, p99 {})",
                    engine.name(),
                    pick.setup.pool,
                    pick.req_per_s,
                    ms(pick.p99_ms)
                );
                if let Some(knee) = knee {
                    line.push_str(&format!(
                        "; past pool {} more workers added less than 5% (or the noise)",
                        knee.setup.pool
                    ));
                }
                line
            }
            Some(PoolAnswer::StillRising { last, before }) => still_rising(engine, last, before),
        };
        lines.push(line);
    }
    if lines.is_empty() {
        String::new()
    } else {
        let starred = engines_of(results)
            .into_iter()
            .any(|engine| matches!(pool_answer(results, engine), Some(PoolAnswer::Found { .. })));
        let header = if starred {
            "Pool size (* in the table)"
        } else {
            "Pool size"
        };
        format!("{header}\n  {}", lines.join("\n  "))
    }
}

/// The advice when `engine`'s throughput still rose at the largest pool tried: where to look
/// next (never past the number of requests), and Little's law for a target rate.
fn still_rising(
    engine: poolfetch::bench::Contender,
    last: &BenchResult,
    before: &BenchResult,
) -> String {
    let gain = (last.req_per_s / before.req_per_s.max(f64::EPSILON) - 1.0) * 100.0;
    let p50_s = last.p50_ms / 1000.0;
    let mut line = format!(
        "{}: still rising at pool {}, the largest tried ({:.1} req/s, +{gain:.0}% over pool {}):\n    ",
        engine.name(),
        last.setup.pool,
        last.req_per_s,
        before.setup.pool,
    );
    // More workers than requests cannot help: each request already has its own.
    let requests = last.requests.max(1);
    let next = last.setup.pool.saturating_mul(8).min(requests);
    if last.setup.pool >= requests {
        line.push_str(&format!(
            "every one of the {requests} requests already has its own worker, so no \
             larger pool can help;\n    what limits the wall now is each request's \
             own time (or the server)"
        ));
    } else if next < last.setup.pool.saturating_mul(8) {
        line.push_str(&format!(
            "the knee is further; try --pools {}..{next} (no pool above the \
             {requests} requests can help)",
            last.setup.pool
        ));
    } else {
        line.push_str(&format!(
            "the knee is further; try --pools {}..{next}",
            last.setup.pool
        ));
    }
    if p50_s > 0.0 {
        line.push_str(&format!(
            "\n    Little's law: each request takes p50 {}, so a pool of N serves about \
             N × {:.1} req/s\n    until the server saturates; for R req/s, pool ≈ R × {}",
            ms(last.p50_ms),
            1.0 / p50_s,
            ms(last.p50_ms)
        ));
    }
    line
}

/// The engines of a sweep, in order of first appearance.
pub fn engines_of(results: &[BenchResult]) -> Vec<poolfetch::bench::Contender> {
    let mut engines = Vec::new();
    for result in results {
        if !engines.contains(&result.setup.engine) {
            engines.push(result.setup.engine);
        }
    }
    engines
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
    // The answer to "which pool size?" is starred in place.
    let picks: Vec<&BenchResult> = {
        engines_of(results)
            .into_iter()
            .filter_map(|engine| match pool_answer(results, engine) {
                Some(PoolAnswer::Found { pick, .. }) => Some(pick),
                _ => None,
            })
            .collect()
    };
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|result| {
            let mut row = cells(result);
            if picks.iter().any(|pick| std::ptr::eq(*pick, result)) {
                row[0].push_str(" *");
            }
            row
        })
        .collect();
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

/// Mean and standard deviation of a setup's timed walls (ms).
pub(super) fn mean_sd(result: &BenchResult) -> (f64, f64) {
    let walls: Vec<f64> = result.runs.iter().map(|r| r.wall_ms).collect();
    let n = walls.len().max(1) as f64;
    let mean = walls.iter().sum::<f64>() / n;
    let var = if walls.len() > 1 {
        walls.iter().map(|w| (w - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// "threads pool 20 ran 19.84 ± 0.05 times faster than threads pool 1", fastest first, as
/// hyperfine does (± from the spread of the timed runs; shown with two runs or more). A ratio
/// whose uncertainty reaches 1 is reported as "about as fast as": no winner inside the noise.
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
        .min_by(|a, b| mean_sd(a).0.total_cmp(&mean_sd(b).0))
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
    others.sort_by(|a, b| mean_sd(a).0.total_cmp(&mean_sd(b).0));
    let measured = results.iter().all(|r| r.runs.len() > 1);
    if !measured {
        // One run has no ± : a ratio is reported, no winner is called.
        let mut out = format!(
            "Summary (one run of some setups: no ± to tell a difference from noise; use --runs 3)\n  {} had the shortest wall\n",
            fastest.setup.label()
        );
        for other in others {
            let (ratio, _) = wall_ratio(other, fastest);
            out.push_str(&format!(
                "    {ratio:>6.2} × that wall: {}\n",
                other.setup.label()
            ));
        }
        return out;
    }
    let mut out = format!("Summary\n  {} ran\n", fastest.setup.label());
    for other in others {
        let (ratio, error) = wall_ratio(other, fastest);
        let line = if ratio - error <= 1.0 {
            format!(
                "    about as fast as {} ({ratio:.2} ± {error:.2})\n",
                other.setup.label()
            )
        } else {
            format!(
                "    {ratio:>6.2} ± {error:.2} times faster than {}\n",
                other.setup.label()
            )
        };
        out.push_str(&line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use poolfetch::bench::{BenchPlan, RunResult, Setup, summarise};

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
                cpu_ms: Some(2.0),
                first_error: None,
                finished_ms: vec![100.0, 100.0, 200.0, 200.0],
                latency_ms: vec![100.0, 101.0, 102.0, 110.0],
            })
            .collect();
        let setup = Setup {
            engine: poolfetch::bench::Contender::Threads,
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
            result(1, &[400.0, 401.0]),
            result(4, &[100.0, 101.0]),
            result(2, &[200.0, 201.0]),
        ];
        let table = table(&results);
        assert_eq!(table.lines().count(), 4);
        assert!(table.lines().nth(2).unwrap().starts_with("threads 4"));
        assert!(table.lines().all(|l| l.chars().count() <= 100), "{table}");
        let summary = relative_summary(&results);
        let lines: Vec<&str> = summary.lines().collect();
        assert_eq!(lines[1].trim(), "threads pool 4 ran");
        assert!(
            lines[2]
                .trim()
                .ends_with("times faster than threads pool 2")
        );
        assert!(
            lines[3]
                .trim()
                .ends_with("times faster than threads pool 1")
        );
        assert_eq!(relative_summary(&results[..1]), "");
    }

    #[test]
    fn a_sweep_whose_best_is_its_largest_pool_says_the_knee_is_further() {
        let results = [
            result(1, &[400.0, 401.0, 399.0]),
            result(2, &[200.0, 201.0, 199.0]),
            result(4, &[100.0, 101.0, 99.0]),
        ];
        let advice = pool_advice(&results);
        assert!(advice.contains("still rising at pool 4"), "{advice}");
        // 4 requests: pool 4 gives each its own worker; nothing larger can help.
        assert!(advice.contains("no larger pool can help"), "{advice}");
        assert!(!advice.contains("try --pools"), "{advice}");
        assert!(advice.contains("Little's law"), "{advice}");
        // More requests than the largest pool: the next sweep, capped at the requests.
        for (requests, want) in [
            (1000, "try --pools 4..32"),
            (20, "try --pools 4..20 (no pool"),
        ] {
            let more: Vec<BenchResult> = results
                .iter()
                .cloned()
                .map(|mut r| {
                    r.requests = requests;
                    r
                })
                .collect();
            let advice = pool_advice(&more);
            assert!(advice.contains(want), "{advice}");
        }
        assert!(!table(&results).contains('*'), "no pool is starred");
        // Level past pool 2 (inside the noise): pool 2 is the answer, and the knee.
        let results = [
            result(1, &[400.0, 401.0, 399.0]),
            result(2, &[200.0, 230.0, 170.0]),
            result(4, &[190.0, 220.0, 160.0]),
        ];
        let advice = pool_advice(&results);
        assert!(advice.contains("pool 2 is the smallest"), "{advice}");
        assert!(advice.contains("past pool 2"), "{advice}");
    }

    #[test]
    fn one_run_calls_no_winner() {
        let results = [result(4, &[100.0]), result(2, &[200.0])];
        let summary = relative_summary(&results);
        assert!(!summary.contains("faster"), "{summary}");
        assert!(summary.contains("no ±"), "{summary}");
        assert!(
            summary.contains("2.00 × that wall: threads pool 2"),
            "{summary}"
        );
    }

    #[test]
    fn runs_are_at_least_three_and_more_while_short() {
        let plan = BenchPlan::default();
        assert_eq!(plan.runs_after(5000.0), 3, "a 5 s run: the fewest");
        assert_eq!(plan.runs_after(500.0), 6, "3 s in all");
        assert_eq!(plan.runs_after(1.0), 10, "the most");
        let told = BenchPlan {
            runs: Some(1),
            ..BenchPlan::default()
        };
        assert_eq!(told.runs_after(1.0), 1, "--runs is obeyed");
    }

    #[test]
    fn no_winner_is_named_inside_the_noise() {
        let results = [
            result(4, &[100.0, 130.0, 90.0]),
            result(2, &[110.0, 95.0, 125.0]),
        ];
        let summary = relative_summary(&results);
        assert!(summary.contains("about as fast as"), "{summary}");
        let results = [
            result(4, &[100.0, 101.0, 99.0]),
            result(2, &[200.0, 202.0, 198.0]),
        ];
        let summary = relative_summary(&results);
        assert!(summary.contains("2.00 ± 0.03 times faster"), "{summary}");
    }
}
