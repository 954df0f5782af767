//! `poolfetch bench`: flags to a `BenchPlan`, the sweep, table, summary, exports and plot.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::export::Exports;
use super::parse::{parse_duration, parse_header, parse_method};
use super::values::named;
use super::{CliError, EXIT_FAILED, EXIT_OK, progress, usage};
use super::{plot, report};
use poolfetch::Order;
use poolfetch::bench::Contender;
use poolfetch::bench::{self, BenchPlan};

/// Flags of `poolfetch bench`.
#[derive(Debug, Args)]
pub(super) struct BenchArgs {
    /// Requests per run (N).
    #[arg(long, value_name = "N", default_value_t = 100)]
    requests: usize,
    /// Latency per request (L): the embedded server's delay [default: 50ms]; with --url, what
    /// the target is known to take (for the ideal column).
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    latency: Option<Duration>,
    /// Pool sizes to compare: a list (1,5,20) or a doubling range (1..128 = 1,2,4,…,128);
    /// 0 = unbounded, async engine only.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "1,5,20",
        value_parser = parse_pools
    )]
    pools: Vec<Vec<usize>>,
    /// Engines to compare, comma-separated: threads, async, async-h2 (the async engine over
    /// HTTP/2, every request in flight on one connection).
    #[arg(
        long = "engine",
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "threads,async",
        value_parser = named::<Contender>(Contender::NAMES)
    )]
    engines: Vec<Contender>,
    /// Timed runs of each setup, interleaved (the table shows the median and ±) [default: 3,
    /// or up to 10 while a setup's runs take under 3 s in all, as hyperfine chooses].
    #[arg(long, value_name = "R")]
    runs: Option<usize>,
    /// Untimed runs of each configuration before the timed ones.
    #[arg(long, value_name = "W", default_value_t = 0)]
    warmup: usize,
    /// Order of records inside each run: input or completion.
    #[arg(long, default_value = "input", value_parser = named::<Order>(Order::NAMES))]
    order: Order,
    /// Also run every pool with gather-per-batch of N, to show what batching costs.
    #[arg(long, value_name = "N")]
    batch_size: Option<usize>,
    /// Measure this URL instead of the embedded server; '{}' takes the request number 1..=N.
    #[arg(long, value_name = "TEMPLATE")]
    url: Option<String>,
    /// Per-request timeout.
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_duration)]
    timeout: Duration,
    /// HTTP method of every request [default: GET, or POST with a body].
    #[arg(short = 'X', long, value_name = "M", value_parser = parse_method)]
    method: Option<String>,
    /// JSON body of every request (or @FILE).
    #[arg(long, value_name = "BODY", group = "payload")]
    json: Option<String>,
    /// Raw body of every request (or @FILE), sent as form data like curl -d.
    #[arg(long, value_name = "BODY", group = "payload")]
    data: Option<String>,
    /// Header sent with every request, 'Name: value' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "'K: V'", value_parser = parse_header)]
    headers: Vec<(String, String)>,
    /// Where to write the SVG plot.
    #[arg(long, value_name = "FILE.svg", default_value = "poolfetch-bench.svg")]
    plot: PathBuf,
    /// Do not write a plot.
    #[arg(long, conflicts_with = "plot")]
    no_plot: bool,
    /// Write every figure (and each request's finish time) as JSON.
    #[arg(long, value_name = "FILE")]
    export_json: Option<PathBuf>,
    /// Write one CSV row per timed run.
    #[arg(long, value_name = "FILE")]
    export_csv: Option<PathBuf>,
    /// Write the table as markdown.
    #[arg(long, value_name = "FILE")]
    export_markdown: Option<PathBuf>,
}

pub(super) fn bench(args: BenchArgs) -> Result<i32, CliError> {
    let plan = args.plan()?;
    // Every output path is checked before minutes of measuring, not after.
    let plot = (!args.no_plot).then_some(&args.plot);
    let outputs = [
        plot,
        args.export_json.as_ref(),
        args.export_csv.as_ref(),
        args.export_markdown.as_ref(),
    ];
    for path in outputs.into_iter().flatten() {
        let opened = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path);
        if let Err(e) = opened {
            return Err(usage(format!("cannot write {}: {e}", path.display())));
        }
    }
    let target = plan
        .url
        .clone()
        .unwrap_or_else(|| "the embedded server".to_string());
    announce(&plan, &target);
    let bar = progress::bench_bar();
    let results = bench::run(&plan, |at| {
        bar.set_length(at.total);
        bar.set_position(at.done);
        bar.set_message(at.setup.label());
    });
    bar.finish_and_clear();
    let results = match results {
        Ok(results) => results,
        Err(e) if e.is_usage() => return Err(usage(super::words::bench(&e))),
        Err(e) => {
            eprintln!("poolfetch: {e}");
            return Ok(EXIT_FAILED);
        }
    };
    report_and_export(&args, &plan, &target, &results)
}

impl BenchArgs {
    /// The plan these flags ask for, checked.
    fn plan(&self) -> Result<BenchPlan, CliError> {
        let template = super::fetch::request_template(
            self.method.clone(),
            self.json.clone(),
            &[],
            self.data
                .as_deref()
                .map(super::fetch::read_at_file)
                .transpose()
                .map_err(usage)?,
        )
        .map_err(usage)?;
        let plan = BenchPlan {
            method: template.method,
            body: template.body,
            headers: self.headers.clone(),
            requests: self.requests,
            latency: self.latency.unwrap_or(BenchPlan::default().latency),
            latency_known: self.url.is_none() || self.latency.is_some(),
            pools: self.pools.iter().flatten().copied().collect(),
            engines: self.engines.clone(),
            runs: self.runs,
            warmup: self.warmup,
            order: self.order,
            batch_size: self.batch_size,
            url: self.url.clone(),
            timeout: self.timeout,
        };
        plan.validate()
            .map_err(|e| usage(super::words::bench(&e)))?;
        Ok(plan)
    }
}

/// The line that says what is about to be measured.
fn announce(plan: &BenchPlan, target: &str) {
    eprintln!(
        "poolfetch bench: {} of {} against {target}, {} timed runs per setup, interleaved",
        super::words::count(plan.requests as u64, "request"),
        if plan.latency_known {
            humantime::format_duration(plan.latency).to_string()
        } else {
            "unknown latency".into()
        },
        match plan.runs {
            Some(runs) => runs.to_string(),
            None => format!("{}–{}", bench::MIN_RUNS, bench::MAX_RUNS),
        },
    );
}

/// The table, the advice and the summary on stdout, then the exports and the plot; the exit
/// code says whether every request was ok.
fn report_and_export(
    args: &BenchArgs,
    plan: &BenchPlan,
    target: &str,
    results: &[bench::BenchResult],
) -> Result<i32, CliError> {
    let runs = results.iter().flat_map(|r| &r.runs);
    if runs.clone().all(|run| run.ok == 0) {
        // Nothing was measured but how fast errors come back: no table, plot or winner.
        let why = runs
            .filter_map(|run| run.first_error.as_deref())
            .next()
            .unwrap_or("unknown");
        eprintln!("poolfetch: every request failed, so nothing was measured; the first: {why}");
        return Ok(EXIT_FAILED);
    }
    print!("{}", report::table(results));
    for text in [
        report::pool_advice(results),
        report::relative_summary(results),
    ] {
        if !text.is_empty() {
            println!("\n{text}");
        }
    }
    let exports = Exports {
        json: args.export_json.clone(),
        csv: args.export_csv.clone(),
        markdown: args.export_markdown.clone(),
    };
    if let Err(e) = exports.write(results) {
        eprintln!("poolfetch: {e}");
        return Ok(EXIT_FAILED);
    }
    if !args.no_plot {
        let title = plot_title(plan, target);
        match plot::write_svg(&args.plot, results, &title) {
            Ok(()) => eprintln!("poolfetch: plot written to {}", args.plot.display()),
            Err(e) => {
                eprintln!("poolfetch: {e}");
                return Ok(EXIT_FAILED);
            }
        }
    }
    let failed: usize = results
        .iter()
        .flat_map(|r| &r.runs)
        .map(|run| run.failed)
        .sum();
    if failed > 0 {
        eprintln!(
            "poolfetch: warning: {} failed; the figures above include them",
            super::words::count(failed as u64, "request")
        );
        return Ok(EXIT_FAILED);
    }
    Ok(EXIT_OK)
}

/// The plot's title: the workload and the machine, so a shared picture explains itself.
fn plot_title(plan: &BenchPlan, target: &str) -> String {
    let latency = if plan.latency_known {
        format!(" of {}", humantime::format_duration(plan.latency))
    } else {
        String::new()
    };
    let pools: Vec<String> = plan.pools.iter().map(|p| p.to_string()).collect();
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    format!(
        "poolfetch bench: {}{latency} against {target}, pools {} ({cpus} CPUs, {})",
        super::words::count(plan.requests as u64, "request"),
        pools.join(", "),
        std::env::consts::OS
    )
}

/// One item of `--pools`: a size, or `A..B` doubling from A up to B (B included).
fn parse_pools(text: &str) -> Result<Vec<usize>, String> {
    match text.split_once("..") {
        None => text
            .trim()
            .parse()
            .map(|pool| vec![pool])
            .map_err(|e| format!("{e} (expected e.g. 1,5,20 or 1..128)")),
        Some((from, to)) => {
            let bad = || format!("invalid range {text:?}: expected A..B with 1 <= A <= B");
            let from: usize = from.trim().parse().map_err(|_| bad())?;
            let to: usize = to
                .trim()
                .trim_start_matches('=')
                .parse()
                .map_err(|_| bad())?;
            if from == 0 || from > to {
                return Err(bad());
            }
            let mut pools: Vec<usize> = std::iter::successors(Some(from), |p| p.checked_mul(2))
                .take_while(|p| *p <= to)
                .collect();
            if pools.last() != Some(&to) {
                pools.push(to);
            }
            Ok(pools)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_ranges_double() {
        assert_eq!(
            parse_pools("1..128").unwrap(),
            [1, 2, 4, 8, 16, 32, 64, 128]
        );
        assert_eq!(parse_pools("5..30").unwrap(), [5, 10, 20, 30]);
        assert_eq!(parse_pools("7").unwrap(), [7]);
        assert!(parse_pools("0..8").is_err() && parse_pools("9..3").is_err());
    }
}
