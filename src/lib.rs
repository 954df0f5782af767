//! poolfetch: fetch many URLs with blocking `ureq` calls on a fixed-size `rayon` thread pool,
//! collect the results over a `crossbeam-channel`, and hand them back in input order.
//!
//! It is the measured Rust twin of Python's `run_in_executor(executor, requests.get, url)` +
//! `gather`: with a pool of 5 and N requests of latency L, completions arrive in waves of 5
//! and the run takes about `ceil(N / 5) × L`.
//!
//! ```no_run
//! use poolfetch::{Config, Fetcher};
//!
//! let fetcher = Fetcher::new(Config::builder().pool(5).build()?)?;
//! let urls = (1..=20).map(|i| format!("http://127.0.0.1:8080/todos/{i}"));
//! for record in fetcher.fetch_all(urls) {
//!     println!("{} {} {:?}", record.index, record.ok, record.status);
//! }
//! # Ok::<(), poolfetch::ConfigError>(())
//! ```
//!
//! A whole run — a list, resumable, into a file — is a [`job::Job`]: what `poolfetch fetch`
//! does, as a library call.
//!
//! ```no_run
//! use poolfetch::job::{Inputs, Job, JobOutput, JobSpec};
//! use poolfetch::{Config, Fetcher};
//!
//! let fetcher = Fetcher::new(Config::builder().pool(20).build()?)?;
//! let inputs = Inputs { files: vec!["urls.txt".into()], ..Inputs::default() };
//! // Killed part-way, the same call continues where it stopped.
//! let spec = JobSpec::new(inputs, JobOutput::File("records.jsonl".into())).resume(true);
//! let report = Job::new(&fetcher, spec)?.run()?;
//! println!("{} fetched, {} ok; the file is all ok: {}", report.tally.done, report.tally.ok, report.all_ok());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! One [`Fetcher`] serves many runs: what connections need (pool, engine, timeouts, TLS,
//! proxy) is its [`Config`]; what one run needs (order, window, batch size, shard) is that
//! run's [`RunOptions`] (or [`job::JobSpec`]).
//!
//! ```no_run
//! use poolfetch::{Config, Fetcher, Order, RunOptions};
//!
//! let fetcher = Fetcher::new(Config::builder().pool(8).build()?)?;
//! let urls = || (1..=40).map(|i| format!("http://127.0.0.1:8080/todos/{i}"));
//! let in_order = fetcher.fetch_all(urls());                       // gather
//! let as_completed = RunOptions::default().order(Order::Completion);
//! for record in fetcher.stream_with(urls(), as_completed) {       // the same pool
//!     println!("{} finished at {} ms", record.index, record.finished_ms);
//! }
//! # Ok::<(), poolfetch::ConfigError>(())
//! ```
//!
//! The public surface, by task:
//! - running: [`Fetcher`] ([`Fetcher::fetch_all`], [`Fetcher::stream`],
//!   [`Fetcher::stream_with`]), [`Run`], [`RunOptions`], [`CancelToken`] ([`CANCEL_GRACE`]),
//!   [`LiveCounts`]; a whole run as the command line does it: [`job`];
//! - settings: [`Config`] and [`ConfigBuilder`], [`EngineKind`], [`HttpVersion`], [`Order`],
//!   [`BodyMode`] (each with `NAMES` and `FromStr`, [`UnknownName`]), [`Rate`],
//!   [`RetryPolicy`], [`Shard`], [`DEFAULT_POOL`], [`ConfigError`], a custom [`Resolve`]r or
//!   [`Pin`]s;
//! - requests: [`Request`] (its own headers, time limit and `meta`), [`Body`],
//!   [`RequestTemplate`], [`json_request`] (a request as JSON data), [`InputFormat`],
//!   [`check_method`], [`basic_authorization`], [`parse_duration`], [`parse_range`],
//!   [`InputError`];
//! - records: [`Record`], [`Fate`], [`FetchError`], [`ErrorKind`], [`JsonLinesWriter`]; a
//!   job's [`Summary`] as data ([`job::JobReport::summary`]);
//! - earlier outputs: [`merge`], [`merge_to_file`], [`MergeReport`], [`IndexSet`],
//!   [`ResumeError`], [`OutputFile`], [`ReplaceError`];
//! - `bench` (feature): the pool-size sweep, [`bench::run`] on a [`bench::BenchPlan`];
//! - `server` (feature): the embedded test server, [`server::Server`].
//!
//! Data flows through the modules in this order: `job` → `input` → `request` → `run` →
//! `engine::{threads, tokio}` → `fetch` (the core) → `sink` → `order` → `record` (→ `resume`
//! and `replace` for earlier outputs).
//!
//! Cargo features: `async` (the tokio + hyper engine), `server` (the embedded test server),
//! `bench` (the pool-size sweep), `cli` (the `poolfetch` binary); all on by default. With
//! `--no-default-features` the library has the thread engine only.

#![warn(missing_docs)]

mod cancel;
mod config;
mod engine;
mod fetch;
mod fetcher;
mod input;
mod order;
mod record;
mod replace;
mod request;
mod resume;
mod run;
mod sink;
mod summary;

#[cfg(feature = "bench")]
pub mod bench;
pub mod job;
#[cfg(feature = "server")]
pub mod server;

pub use cancel::{CancelToken, GRACE as CANCEL_GRACE};
pub use config::{
    BodyMode, Config, ConfigBuilder, ConfigError, DEFAULT_POOL, EngineKind, HttpVersion, Order,
    Rate, RetryPolicy, Shard, UnknownName,
};
pub use fetch::{Pin, Resolve};
pub use fetcher::{Fetcher, LiveCounts};
pub use input::{InputError, InputFormat, RequestTemplate, json_request, parse_range};
pub use record::{ErrorKind, Fate, FetchError, JsonLinesWriter, Record};
pub use replace::{Output as OutputFile, ReplaceError};
pub use request::{Body, Request, basic_authorization, check_method, parse_duration};
pub use resume::{IndexSet, MergeReport, ResumeError, merge, merge_to_file};
pub use run::{Run, RunOptions};
pub use summary::{Latency, OutputCounts, StoppedReading, Summary};

/// Internals the fuzz targets exercise; not part of the API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    use std::path::{Path, PathBuf};

    pub use crate::input::{
        Line, RequestTemplate, expand_template, parse_line, parse_range, url_lines,
    };
    pub use crate::sink::file_name;

    /// Whether `url` would be sent (an absolute http(s) URL with a host).
    pub fn check_url(url: &str) -> bool {
        crate::request::check_url(url).is_ok()
    }

    /// `--resume` compaction of `path` against plain GET inputs `urls`: the indices (below
    /// `urls.len()`) it calls done, or the refusal.
    pub fn compact(path: &Path, urls: &[String], retry_failed: bool) -> Result<Vec<u64>, String> {
        let mut inputs = urls.iter().map(|url| crate::Request::get(url.clone()));
        let inputs: Option<&mut dyn Iterator<Item = crate::Request>> = Some(&mut inputs);
        let compacted =
            crate::resume::compact(path, inputs, retry_failed).map_err(|e| e.to_string())?;
        Ok((0..urls.len() as u64)
            .filter(|i| compacted.done.contains(*i))
            .collect())
    }

    /// The compaction at the end of a resumed run (no inputs to check against).
    pub fn compact_unchecked(path: &Path) -> Result<u64, String> {
        crate::resume::compact(path, None, false)
            .map(|c| c.records)
            .map_err(|e| e.to_string())
    }

    /// `poolfetch merge` of `inputs` into memory.
    pub fn merge(inputs: &[PathBuf]) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        crate::resume::merge(inputs, None, None, &mut out).map_err(|e| e.to_string())?;
        Ok(out)
    }
}

/// The public types can move between threads and be shared (checked at compile time); a
/// job and its spec can move to another thread (they own their inputs and writer).
#[allow(dead_code)]
fn assert_send_sync() {
    fn shared<T: Send + Sync>() {}
    fn sent<T: Send>() {}
    shared::<Fetcher>();
    shared::<Config>();
    shared::<Record>();
    shared::<CancelToken>();
    shared::<RunOptions>();
    shared::<IndexSet>();
    shared::<LiveCounts>();
    shared::<job::Inputs>();
    shared::<job::JobReport>();
    shared::<job::JobError>();
    shared::<job::FlushHandle>();
    shared::<MergeReport>();
    sent::<job::JobSpec>();
    sent::<job::Job<'static>>();
}
