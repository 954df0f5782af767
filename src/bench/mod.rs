//! `poolfetch bench`: sweep pool sizes (and engines, and batch sizes) over the same workload,
//! measure wall time against the ideal `ceil(N / pool) × L`, and report, export and plot it.
//!
//! Fetching is the library's own pipeline ([`Fetcher`]); this module only plans runs, times
//! them and summarises them.

pub mod stats;

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::{BodyMode, Config, ConfigError, EngineKind, HttpVersion, Order};
use crate::fetcher::Fetcher;
use crate::server::{Server, ServerConfig};
use stats::{Spread, ideal_ms, percentile};

/// The fewest timed runs a setup gets when the plan does not say: enough for a ± .
pub const MIN_RUNS: usize = 3;
/// The most timed runs a setup gets when the plan does not say.
pub const MAX_RUNS: usize = 10;
/// A setup whose first run is short gets more runs, up to this much timed time in all.
pub const AUTO_BUDGET: Duration = Duration::from_secs(3);

/// What to measure. `Default` is the no-argument `poolfetch bench`.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchPlan {
    /// Requests per run (N).
    pub requests: usize,
    /// Latency of each request (L): the embedded server's delay, or what `url` is known to take.
    pub latency: Duration,
    /// Whether `latency` is known, so an ideal time can be shown (false for a bare `--url`).
    pub latency_known: bool,
    /// Pool sizes to compare.
    pub pools: Vec<usize>,
    /// Engines to compare (the async one also over HTTP/2, as `async-h2`).
    pub engines: Vec<Contender>,
    /// Timed runs per setup; `None` chooses as hyperfine does: at least
    /// [`MIN_RUNS`], and more (up to [`MAX_RUNS`]) while a setup's timed runs take under
    /// [`AUTO_BUDGET`] in all.
    pub runs: Option<usize>,
    /// Untimed runs per configuration before the timed ones.
    pub warmup: usize,
    /// Output order inside each run.
    pub order: Order,
    /// Also run every pool with gather-per-batch of this size.
    pub batch_size: Option<usize>,
    /// Target URL instead of the embedded server; a `{}` in it takes the request number
    /// (1..=N), without one every request asks for the same URL.
    pub url: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Method of every request (default GET, or POST with a body).
    pub method: Option<String>,
    /// Body of every request.
    pub body: Option<std::sync::Arc<crate::request::Body>>,
    /// Headers sent with every request.
    pub headers: Vec<(String, String)>,
}

impl Default for BenchPlan {
    fn default() -> Self {
        BenchPlan {
            requests: 100,
            latency: Duration::from_millis(50),
            latency_known: true,
            pools: vec![1, 5, 20],
            engines: vec![Contender::Threads, Contender::Async],
            runs: None,
            warmup: 0,
            order: Order::Input,
            batch_size: None,
            url: None,
            timeout: Duration::from_secs(30),
            method: None,
            body: None,
            headers: Vec::new(),
        }
    }
}

/// One configuration of a sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setup {
    /// Engine that ran it.
    pub engine: Contender,
    /// Pool size (most requests in flight).
    pub pool: usize,
    /// Gather-per-batch size, if batched.
    pub batch_size: Option<usize>,
}

impl Setup {
    /// Short name for tables and legends, e.g. `threads pool 5 batch 10`.
    pub fn label(&self) -> String {
        let engine = self.engine.name();
        let pool = match self.pool {
            0 => "unbounded".to_string(),
            pool => format!("pool {pool}"),
        };
        match self.batch_size {
            Some(batch) => format!("{engine} {pool} batch {batch}"),
            None => format!("{engine} {pool}"),
        }
    }
}

/// One contender of a sweep: an engine, and for the async one the HTTP version it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Contender {
    /// The thread engine (HTTP/1.1).
    Threads,
    /// The async engine over HTTP/1.1.
    Async,
    /// The async engine over HTTP/2 (h2c by prior knowledge on `http://`, ALPN on
    /// `https://`): every request in flight on one connection per host.
    AsyncH2,
}

crate::config::named!(Contender, "engine", {
    Threads => "threads",
    Async => "async",
    AsyncH2 => "async-h2",
});

impl Contender {
    /// The engine that runs it.
    pub fn engine(self) -> EngineKind {
        match self {
            Contender::Threads => EngineKind::Threads,
            Contender::Async | Contender::AsyncH2 => EngineKind::Async,
        }
    }

    /// The HTTP version it speaks.
    pub fn http(self) -> HttpVersion {
        match self {
            Contender::AsyncH2 => HttpVersion::Http2PriorKnowledge,
            _ => HttpVersion::Http1,
        }
    }
}

/// Figures of one timed run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Wall time of the run.
    pub wall_ms: f64,
    /// Requests per second over the run.
    pub req_per_s: f64,
    /// Records that were ok.
    pub ok: usize,
    /// Records that were not.
    pub failed: usize,
    /// TCP connections the embedded server accepted during the run.
    pub connections: Option<u64>,
    /// OS threads in this process at the end of the run, engine still alive (Linux only).
    #[serde(default)]
    pub threads: Option<u64>,
    /// CPU time (user + sys) the client used: the collecting thread and the engine's
    /// threads, not the embedded server's (Linux only).
    #[serde(default)]
    pub cpu_ms: Option<f64>,
    /// The error of the first failed request, if any (to say why a run failed).
    #[serde(default)]
    pub first_error: Option<String>,
    /// `finished_ms` of every request, by index: re-plot the curve from these.
    pub finished_ms: Vec<f64>,
    /// `finished_ms - started_ms` of every request, by index.
    pub latency_ms: Vec<f64>,
}

/// Everything measured for one configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchResult {
    /// The configuration.
    pub setup: Setup,
    /// Output order of the runs.
    pub order: Order,
    /// Requests per run.
    pub requests: usize,
    /// Latency per request, when known.
    pub latency_ms: Option<f64>,
    /// `ceil(N / pool) × L`, when the latency is known.
    pub ideal_ms: Option<f64>,
    /// Wall time over the timed runs.
    pub wall_ms: Spread,
    /// Median wall / ideal.
    pub wall_over_ideal: Option<f64>,
    /// Requests per second at the median wall time.
    pub req_per_s: f64,
    /// Request latency percentiles over every request of every timed run.
    pub p50_ms: f64,
    /// 90th percentile latency.
    pub p90_ms: f64,
    /// 99th percentile latency.
    pub p99_ms: f64,
    /// Median TCP connections per run (embedded server only).
    pub connections: Option<u64>,
    /// Median OS threads of the process during a run (engine, embedded server, main thread).
    #[serde(default)]
    pub threads: Option<u64>,
    /// Median client CPU time per request, in µs: the cost of the engine, not only its speed.
    #[serde(default)]
    pub cpu_us_per_request: Option<f64>,
    /// Every timed run.
    pub runs: Vec<RunResult>,
}

impl BenchResult {
    /// The timed run whose wall time is closest to the median (the one plotted).
    pub fn median_run(&self) -> Option<&RunResult> {
        self.runs.iter().min_by(|a, b| {
            let da = (a.wall_ms - self.wall_ms.median).abs();
            let db = (b.wall_ms - self.wall_ms.median).abs();
            da.total_cmp(&db)
        })
    }
}

/// A problem that stops the bench before it measures anything.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A setting cannot work.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The plan asks for no requests.
    #[error("the number of requests must be at least 1")]
    NoRequests,
    /// The plan asks for no runs.
    #[error("the number of runs must be at least 1")]
    NoRuns,
    /// The plan has no pool size or no engine.
    #[error("nothing to run: no pool size or no engine")]
    NothingToRun,
    /// The embedded server could not start.
    #[error("cannot start the embedded server: {0}")]
    Server(std::io::Error),
}

impl BenchPlan {
    /// Every configuration, in the order they run: engines × pools × (plain, batched).
    pub fn setups(&self) -> Vec<Setup> {
        let batches: Vec<Option<usize>> = std::iter::once(None)
            .chain(self.batch_size.map(Some))
            .collect();
        let mut setups = Vec::new();
        for &engine in &self.engines {
            for &pool in &self.pools {
                for &batch_size in &batches {
                    setups.push(Setup {
                        engine,
                        pool,
                        batch_size,
                    });
                }
            }
        }
        setups
    }

    /// Timed runs of a setup whose first timed run took `first_ms`.
    pub fn runs_after(&self, first_ms: f64) -> usize {
        self.runs.unwrap_or_else(|| {
            let fit = (AUTO_BUDGET.as_secs_f64() * 1000.0 / first_ms.max(1.0)) as usize;
            fit.clamp(MIN_RUNS, MAX_RUNS)
        })
    }

    /// Check the plan before anything runs (also done by [`run`]).
    pub fn validate(&self) -> Result<(), BenchError> {
        if self.requests == 0 {
            return Err(BenchError::NoRequests);
        }
        if self.runs == Some(0) {
            return Err(BenchError::NoRuns);
        }
        if self.pools.is_empty() || self.engines.is_empty() {
            return Err(BenchError::NothingToRun);
        }
        for setup in self.setups() {
            self.config(setup).validate()?;
            if setup.batch_size == Some(0) {
                return Err(BenchError::Config(ConfigError::ZeroBatch));
            }
        }
        Ok(())
    }

    fn config(&self, setup: Setup) -> Config {
        Config {
            pool: setup.pool,
            timeout: self.timeout,
            headers: self.headers.clone(),
            body: BodyMode::None,
            engine: setup.engine.engine(),
            http: setup.engine.http(),
            // The embedded server is on loopback: never through a proxy from the environment.
            no_proxy: self.url.is_none().then(|| "*".to_string()),
            ..Config::default()
        }
    }
}

/// Where a sweep is, for whoever draws progress (the CLI's bar); the bench draws nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchProgress<'a> {
    /// The setup running now.
    pub setup: &'a Setup,
    /// Requests finished so far in the whole sweep, warm-up runs included.
    pub done: u64,
    /// Requests the whole sweep will make.
    pub total: u64,
}

impl BenchError {
    /// True when the plan itself is wrong (a usage error), false when running it failed.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            BenchError::Config(_)
                | BenchError::NoRequests
                | BenchError::NoRuns
                | BenchError::NothingToRun
        )
    }
}

/// Run the whole sweep: start the embedded server unless `plan.url` is set, then every setup,
/// with warm-up and timed runs. `progress` is called after every finished request.
pub fn run(
    plan: &BenchPlan,
    mut progress: impl FnMut(BenchProgress<'_>),
) -> Result<Vec<BenchResult>, BenchError> {
    plan.validate()?;
    let (server, template) = match &plan.url {
        Some(url) => (None, url.clone()),
        None => {
            let server = Server::start(ServerConfig {
                latency: plan.latency,
                ..ServerConfig::default()
            })
            .map_err(BenchError::Server)?;
            let template = server.url("/todos/{}");
            (Some(server), template)
        }
    };
    let setups = plan.setups();
    // Until the first round says how long a run takes, the fewest runs there will be.
    let mut total =
        (setups.len() * (plan.runs.unwrap_or(MIN_RUNS) + plan.warmup) * plan.requests) as u64;
    let mut done = 0;
    let mut fetch_once = |setup: Setup, total: u64| -> Result<RunResult, BenchError> {
        // The embedded server has todos 1..=200; a user's --url gets 1..=N.
        let number = |n: usize| {
            if plan.url.is_some() {
                n
            } else {
                (n - 1) % 200 + 1
            }
        };
        let method = match (&plan.method, &plan.body) {
            (Some(method), _) => method.as_str(),
            (None, Some(_)) => "POST",
            (None, None) => "GET",
        };
        let urls = (1..=plan.requests).map(|n| {
            let url = template.replace("{}", &number(n).to_string());
            let request = crate::Request::new(method, url);
            match &plan.body {
                Some(body) => request.with_body(std::sync::Arc::clone(body)),
                None => request,
            }
        });
        if let Some(server) = &server {
            server.reset_stats();
        }
        // A fresh fetcher per run: every run pays for its own connections, as a user would.
        let cpu_before = ClientCpu::now();
        let fetcher = Fetcher::new(plan.config(setup))?;
        let started = Instant::now();
        let mut finished_ms = vec![0.0; plan.requests];
        let mut latency_ms = vec![0.0; plan.requests];
        let mut ok = 0;
        let mut first_error = None;
        let options = crate::run::RunOptions {
            order: plan.order,
            batch_size: setup.batch_size,
            ..crate::run::RunOptions::default()
        };
        for record in fetcher.stream_with(urls, options) {
            if let (None, Some(error)) = (&first_error, &record.error) {
                first_error = Some(format!("{} ({})", error.message, error.kind.as_str()));
            }
            let index = record.index as usize;
            finished_ms[index] = record.finished_ms;
            latency_ms[index] = record.finished_ms - record.started_ms;
            ok += usize::from(record.ok);
            done += 1;
            progress(BenchProgress {
                setup: &setup,
                done,
                total,
            });
        }
        let wall = started.elapsed().as_secs_f64();
        let threads = process_threads();
        let cpu_ms = cpu_before.and_then(|before| before.used_ms());
        drop(fetcher);
        Ok(RunResult {
            wall_ms: wall * 1000.0,
            req_per_s: plan.requests as f64 / wall.max(f64::EPSILON),
            ok,
            failed: plan.requests - ok,
            connections: server.as_ref().map(|s| s.stats().connections),
            threads,
            cpu_ms,
            first_error,
            finished_ms,
            latency_ms,
        })
    };
    // Rounds: one run of every setup in turn, so drift on the machine hits all alike.
    for _ in 0..plan.warmup {
        for &setup in &setups {
            fetch_once(setup, total)?;
        }
    }
    let mut runs: Vec<Vec<RunResult>> = Vec::with_capacity(setups.len());
    for &setup in &setups {
        runs.push(vec![fetch_once(setup, total)?]);
    }
    let wanted: Vec<usize> = runs.iter().map(|r| plan.runs_after(r[0].wall_ms)).collect();
    total =
        (wanted.iter().sum::<usize>() + setups.len() * plan.warmup) as u64 * plan.requests as u64;
    for round in 1..wanted.iter().copied().max().unwrap_or(1) {
        for (i, &setup) in setups.iter().enumerate() {
            if round < wanted[i] {
                runs[i].push(fetch_once(setup, total)?);
            }
        }
    }
    Ok(setups
        .into_iter()
        .zip(runs)
        .map(|(setup, runs)| summarise(plan, setup, runs))
        .collect())
}

/// Turn the timed runs of one setup into its row of figures.
pub fn summarise(plan: &BenchPlan, setup: Setup, runs: Vec<RunResult>) -> BenchResult {
    let walls: Vec<f64> = runs.iter().map(|r| r.wall_ms).collect();
    let wall_ms = Spread::of(&walls).unwrap_or(Spread {
        median: 0.0,
        min: 0.0,
        max: 0.0,
    });
    let latency_ms = plan
        .latency_known
        .then_some(plan.latency.as_secs_f64() * 1000.0);
    // No ideal without latency: 0 ms would make every ratio infinite.
    let ideal = latency_ms
        .filter(|l| *l > 0.0)
        .map(|l| ideal_ms(plan.requests, setup.pool, l));
    let all_latencies: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.latency_ms.iter().copied())
        .collect();
    let connections: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.connections)
        .map(|c| c as f64)
        .collect();
    let threads: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.threads)
        .map(|t| t as f64)
        .collect();
    BenchResult {
        setup,
        order: plan.order,
        requests: plan.requests,
        latency_ms,
        ideal_ms: ideal,
        wall_over_ideal: ideal.filter(|i| *i > 0.0).map(|i| wall_ms.median / i),
        req_per_s: plan.requests as f64 / (wall_ms.median / 1000.0).max(f64::EPSILON),
        p50_ms: percentile(&all_latencies, 50.0).unwrap_or(0.0),
        p90_ms: percentile(&all_latencies, 90.0).unwrap_or(0.0),
        p99_ms: percentile(&all_latencies, 99.0).unwrap_or(0.0),
        connections: stats::median(&connections).map(|c| c.round() as u64),
        threads: stats::median(&threads).map(|t| t.round() as u64),
        cpu_us_per_request: stats::median(
            &runs
                .iter()
                .filter_map(|r| r.cpu_ms)
                .map(|ms| ms * 1000.0 / plan.requests.max(1) as f64)
                .collect::<Vec<_>>(),
        ),
        wall_ms,
        runs,
    }
}

/// The client's CPU clock at the start of a run: the calling thread's, and which threads
/// already existed (an earlier run's engine threads may still be exiting; they do not count).
struct ClientCpu {
    caller_ns: u64,
    existing: std::collections::HashSet<String>,
}

impl ClientCpu {
    fn now() -> Option<Self> {
        let existing = std::fs::read_dir("/proc/self/task")
            .ok()?
            .filter_map(|entry| Some(entry.ok()?.file_name().to_string_lossy().into_owned()))
            .collect();
        Some(ClientCpu {
            caller_ns: schedstat_ns("/proc/thread-self/schedstat")?,
            existing,
        })
    }

    /// CPU time since `now()`: the calling thread's, plus every engine thread started since
    /// (named `poolfetch-worker-N`, `poolfetch-async`, `poolfetch-crew-builder`); the
    /// embedded server's threads are left out.
    fn used_ms(&self) -> Option<f64> {
        let caller = schedstat_ns("/proc/thread-self/schedstat")?.saturating_sub(self.caller_ns);
        let mut engine = 0u64;
        for entry in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
            let tid = entry.file_name().to_string_lossy().into_owned();
            if self.existing.contains(&tid) {
                continue;
            }
            let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            let ours = ["poolfetch-worke", "poolfetch-async", "poolfetch-crew-"]
                .iter()
                .any(|prefix| comm.starts_with(prefix));
            if ours {
                engine += schedstat_ns(entry.path().join("schedstat")).unwrap_or(0);
            }
        }
        Some((caller + engine) as f64 / 1e6)
    }
}

/// The first field of a schedstat file: nanoseconds spent on a CPU.
fn schedstat_ns(path: impl AsRef<std::path::Path>) -> Option<u64> {
    std::fs::read_to_string(path)
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// OS threads of this process, from `/proc/self/status` (None where there is no procfs).
pub fn process_threads() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}
