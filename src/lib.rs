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
mod input;
mod order;
mod record;
mod replace;
mod request;
mod resume;
mod run;
mod sink;

#[cfg(feature = "bench")]
pub mod bench;
pub mod job;
#[cfg(feature = "server")]
pub mod server;

pub use cancel::{CancelToken, GRACE as CANCEL_GRACE};
pub use config::{
    BodyMode, Config, ConfigBuilder, ConfigError, DEFAULT_POOL, EngineKind, HttpVersion, Order,
    Rate, RetryPolicy, Shard,
};
pub use fetch::Resolve;
pub use input::{InputError, RequestTemplate, parse_range};
pub use record::{ErrorKind, Fate, FetchError, JsonLinesWriter, Record};
pub use replace::{Output as OutputFile, ReplaceError};
pub use request::{Body, Request, check_method};
pub use resume::{IndexSet, MergeReport, ResumeError, merge, merge_to_file};
pub use run::{Run, RunOptions};

use std::sync::Arc;

use fetch::resolver::{CachingResolver, SystemResolver};
use run::Engine;

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

/// A configured fetcher: the shared client and the worker pool, reusable across runs.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use poolfetch::{Config, Fetcher, Order};
/// use poolfetch::server::{Server, ServerConfig};
///
/// let server = Server::start(ServerConfig::default())?;
/// let fetcher = Fetcher::new(Config::builder().pool(2).order(Order::Input).build()?)?;
/// let urls = vec![server.url("/todos/1"), server.url("/status/404")];
/// let records = fetcher.fetch_all(urls);
/// assert_eq!(records.len(), 2);
/// assert!(records[0].ok);
/// assert_eq!(records[1].status, Some(404));
/// # Ok(())
/// # }
/// ```
pub struct Fetcher {
    config: Config,
    engine: Box<dyn Engine>,
    live: Arc<fetch::Live>,
}

/// What a fetcher is doing right now (for progress displays): see [`Fetcher::live`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct LiveCounts {
    /// Requests being fetched now (retry waits included).
    pub in_flight: usize,
    /// Body bytes received so far, counted as they arrive (not when a body completes).
    pub bytes: u64,
    /// TCP connections opened so far (both engines count them).
    pub connections: Option<u64>,
}

impl Fetcher {
    /// Validate `config` (creating `output_dir` if needed) and start its pool and client.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        Self::with_resolver(config, SystemResolver)
    }

    /// Like [`new`](Self::new) with a custom name resolver (for tests that must not leave
    /// the machine, or for pinning names to addresses). Its answers are cached for a minute;
    /// IP literals never reach it.
    pub fn with_resolver(config: Config, resolver: impl Resolve) -> Result<Self, ConfigError> {
        config.validate()?;
        if let Some(dir) = &config.output_dir {
            std::fs::create_dir_all(dir).map_err(|e| ConfigError::OutputDir {
                path: dir.clone(),
                reason: e.to_string(),
            })?;
        }
        let resolver = CachingResolver::new(Box::new(resolver));
        let live = Arc::new(fetch::Live::default());
        let counted = Arc::clone(&live);
        // Only the engine in use is built (the async engine has no ureq agent).
        let engine: Box<dyn Engine> = match config.engine {
            EngineKind::Threads => Box::new(engine::threads::ThreadEngine::new(
                &config, resolver, counted,
            )?),
            #[cfg(feature = "async")]
            EngineKind::Async => {
                Box::new(engine::tokio::AsyncEngine::new(&config, resolver, counted)?)
            }
            #[cfg(not(feature = "async"))]
            EngineKind::Async => return Err(ConfigError::EngineNotBuilt("async")),
        };
        Ok(Fetcher {
            config,
            engine,
            live,
        })
    }

    /// Counters of what this fetcher is doing now; cheap, callable from any thread while a
    /// run goes on.
    pub fn live(&self) -> LiveCounts {
        use std::sync::atomic::Ordering::Relaxed;
        LiveCounts {
            in_flight: self.live.in_flight.load(Relaxed),
            bytes: self.live.bytes.load(Relaxed),
            connections: Some(self.live.connections.load(Relaxed)),
        }
    }

    /// The settings this fetcher runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The CAs an https:// certificate is checked against, in words (the system store, the
    /// environment's `SSL_CERT_FILE`/`SSL_CERT_DIR` and why they could not be read, the
    /// extra CA file): what to know behind an inspecting proxy after a `tls` error.
    pub fn trust_store(&self) -> Option<String> {
        fetch::tls::Trust::of(&self.config)
            .ok()
            .map(|trust| trust.source)
    }

    /// Start fetching `requests`; the returned iterator yields each record as soon as it may
    /// leave (in input order by default), so output streams while the run goes on.
    pub fn stream<'a, I>(&'a self, requests: I) -> Run<'a>
    where
        I: IntoIterator,
        I::IntoIter: 'a,
        I::Item: Into<Request>,
    {
        self.stream_with(requests, RunOptions::default())
    }

    /// [`stream`](Self::stream) with a cancel token, inputs to skip, or an expected count.
    pub fn stream_with<'a, I>(&'a self, requests: I, options: RunOptions) -> Run<'a>
    where
        I: IntoIterator,
        I::IntoIter: 'a,
        I::Item: Into<Request>,
    {
        Run::new(
            self.engine.as_ref(),
            requests.into_iter(),
            &self.config,
            options,
        )
    }

    /// A run fed through a queue by an input thread (the job's URL lists): dispatch never
    /// blocks on input. With `stop_on_cancel`, a cancel ends the input at once.
    pub(crate) fn stream_queue(
        &self,
        requests: crossbeam_channel::Receiver<Request>,
        stop_on_cancel: bool,
        options: RunOptions,
    ) -> Run<'_> {
        let engine = self.engine.as_ref();
        Run::from_queue(engine, requests, stop_on_cancel, &self.config, options)
    }

    /// Fetch every request and return one record per input, in the configured order.
    pub fn fetch_all<I>(&self, requests: I) -> Vec<Record>
    where
        I: IntoIterator,
        I::Item: Into<Request>,
    {
        self.stream(requests).collect()
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
