//! Bench exports: one small type per format behind one trait, as hyperfine does it.

use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::report;
use poolfetch::bench::BenchResult;
use poolfetch::bench::stats::percentile;

/// Turns results into the bytes of one file format.
trait Exporter {
    fn serialize(&self, results: &[BenchResult]) -> io::Result<Vec<u8>>;
}

/// hyperfine's JSON export, so its analysis scripts read it as they read hyperfine's: each
/// result has `command`, `mean`, `stddev`, `median`, `min`, `max`, `times` (seconds),
/// `exit_codes` and `parameters` (pool, engine, batch size, as strings), beside every figure
/// of poolfetch's own (`setup`, `wall_ms`, `req_per_s`, each run with its finish times…).
struct JsonExporter;

/// One result: hyperfine's fields, then poolfetch's.
#[derive(Serialize)]
struct JsonResult<'a> {
    command: String,
    mean: f64,
    stddev: Option<f64>,
    median: f64,
    min: f64,
    max: f64,
    times: Vec<f64>,
    /// 0 for a run whose requests were all ok, 1 otherwise (poolfetch's own exit code).
    exit_codes: Vec<i32>,
    parameters: std::collections::BTreeMap<&'static str, String>,
    #[serde(flatten)]
    figures: &'a BenchResult,
}

impl<'a> JsonResult<'a> {
    fn of(result: &'a BenchResult) -> Self {
        let times: Vec<f64> = result.runs.iter().map(|r| r.wall_ms / 1000.0).collect();
        let (mean, stddev) = report::mean_sd(result);
        let mut parameters = std::collections::BTreeMap::new();
        parameters.insert("pool", result.setup.pool.to_string());
        parameters.insert("engine", result.setup.engine.name().to_string());
        if let Some(batch) = result.setup.batch_size {
            parameters.insert("batch_size", batch.to_string());
        }
        JsonResult {
            command: result.setup.label(),
            mean: mean / 1000.0,
            // hyperfine writes null for one run: no deviation of one value.
            stddev: (times.len() > 1).then_some(stddev / 1000.0),
            median: result.wall_ms.median / 1000.0,
            min: result.wall_ms.min / 1000.0,
            max: result.wall_ms.max / 1000.0,
            exit_codes: result
                .runs
                .iter()
                .map(|r| i32::from(r.failed > 0))
                .collect(),
            times,
            parameters,
            figures: result,
        }
    }
}

impl Exporter for JsonExporter {
    fn serialize(&self, results: &[BenchResult]) -> io::Result<Vec<u8>> {
        #[derive(Serialize)]
        struct Document<'a> {
            tool: &'static str,
            version: &'static str,
            results: Vec<JsonResult<'a>>,
        }
        let document = Document {
            tool: "poolfetch",
            version: env!("CARGO_PKG_VERSION"),
            results: results.iter().map(JsonResult::of).collect(),
        };
        serde_json::to_vec_pretty(&document).map_err(io::Error::other)
    }
}

/// One row per timed run.
struct CsvExporter;

#[derive(Serialize)]
struct CsvRow<'a> {
    setup: &'a str,
    engine: &'a str,
    pool: usize,
    batch_size: Option<usize>,
    requests: usize,
    run: usize,
    wall_ms: f64,
    ideal_ms: Option<f64>,
    wall_over_ideal: Option<f64>,
    req_per_s: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    ok: usize,
    failed: usize,
    connections: Option<u64>,
    threads: Option<u64>,
    cpu_us_per_request: Option<f64>,
}

/// `value` rounded to `digits` decimals (CSV cells people read and diff).
fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

impl Exporter for CsvExporter {
    fn serialize(&self, results: &[BenchResult]) -> io::Result<Vec<u8>> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        for result in results {
            let label = result.setup.label();
            let engine = serde_json::to_value(result.setup.engine)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            for (run, figures) in result.runs.iter().enumerate() {
                writer
                    .serialize(CsvRow {
                        setup: &label,
                        engine: &engine,
                        pool: result.setup.pool,
                        batch_size: result.setup.batch_size,
                        requests: result.requests,
                        run: run + 1,
                        wall_ms: round(figures.wall_ms, 3),
                        ideal_ms: result.ideal_ms.map(|i| round(i, 3)),
                        wall_over_ideal: result.ideal_ms.map(|i| round(figures.wall_ms / i, 4)),
                        req_per_s: round(figures.req_per_s, 1),
                        p50_ms: round(percentile(&figures.latency_ms, 50.0).unwrap_or(0.0), 3),
                        p90_ms: round(percentile(&figures.latency_ms, 90.0).unwrap_or(0.0), 3),
                        p99_ms: round(percentile(&figures.latency_ms, 99.0).unwrap_or(0.0), 3),
                        ok: figures.ok,
                        failed: figures.failed,
                        connections: figures.connections,
                        threads: figures.threads,
                        cpu_us_per_request: figures
                            .cpu_ms
                            .map(|ms| round(ms * 1000.0 / result.requests.max(1) as f64, 2)),
                    })
                    .map_err(io::Error::other)?;
            }
        }
        writer
            .into_inner()
            .map_err(|e| io::Error::other(e.to_string()))
    }
}

/// hyperfine's markdown table (`Command`, `Mean [ms]` with its σ, `Min`, `Max`, `Relative`
/// to the fastest mean), then poolfetch's columns (wall over ideal, req/s, p99).
struct MarkdownExporter;

impl Exporter for MarkdownExporter {
    fn serialize(&self, results: &[BenchResult]) -> io::Result<Vec<u8>> {
        let row = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
        let mut out = row(MARKDOWN_HEADERS.iter().map(|h| h.to_string()).collect());
        let mut rule: Vec<String> = vec![":---".into()];
        rule.extend(std::iter::repeat_n(
            "---:".to_string(),
            MARKDOWN_HEADERS.len() - 1,
        ));
        out.push_str(&row(rule));
        let fastest = results
            .iter()
            .min_by(|a, b| report::mean_sd(a).0.total_cmp(&report::mean_sd(b).0));
        for result in results {
            let (mean, sd) = report::mean_sd(result);
            let (relative, error) =
                fastest.map_or((1.0, 0.0), |fast| report::wall_ratio(result, fast));
            let relative = if result.runs.len() > 1 {
                format!("{relative:.2} ± {error:.2}")
            } else {
                format!("{relative:.2}")
            };
            out.push_str(&row(vec![
                format!("`{}`", result.setup.label()),
                format!("{mean:.1} ± {sd:.1}"),
                format!("{:.1}", result.wall_ms.min),
                format!("{:.1}", result.wall_ms.max),
                relative,
                result
                    .wall_over_ideal
                    .map_or("–".into(), |r| format!("{r:.3}")),
                format!("{:.1}", result.req_per_s),
                format!("{:.1}", result.p99_ms),
            ]));
        }
        Ok(out.into_bytes())
    }
}

/// The markdown export's columns: hyperfine's five, then poolfetch's.
const MARKDOWN_HEADERS: [&str; 8] = [
    "Command",
    "Mean [ms]",
    "Min [ms]",
    "Max [ms]",
    "Relative",
    "×ideal",
    "req/s",
    "p99 [ms]",
];

/// Which exports to write, and where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exports {
    /// `--export-json FILE`.
    pub json: Option<PathBuf>,
    /// `--export-csv FILE`.
    pub csv: Option<PathBuf>,
    /// `--export-markdown FILE`.
    pub markdown: Option<PathBuf>,
}

impl Exports {
    /// Write every requested export; the first failure names its file.
    pub fn write(&self, results: &[BenchResult]) -> io::Result<()> {
        let exporters: [(&Option<PathBuf>, &dyn Exporter); 3] = [
            (&self.json, &JsonExporter),
            (&self.csv, &CsvExporter),
            (&self.markdown, &MarkdownExporter),
        ];
        for (path, exporter) in exporters {
            if let Some(path) = path {
                write_file(path, &exporter.serialize(results)?)?;
            }
        }
        Ok(())
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    std::fs::write(path, bytes)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display())))
}
