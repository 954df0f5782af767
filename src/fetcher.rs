//! [`Fetcher`]: what connections need — the engine and its pool, the shared client (TLS,
//! proxy, resolver, timeouts) — built once and reused across runs.

use std::sync::Arc;

use crate::config::{Config, ConfigError, EngineKind};
use crate::engine;
use crate::fetch::resolver::{CachingResolver, Pinned, SystemResolver};
use crate::fetch::{self, Resolve};
use crate::record::Record;
use crate::request::Request;
use crate::run::{Engine, Run, RunOptions};

/// A configured fetcher: the shared client and the worker pool, reusable across runs.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use poolfetch::{Config, Fetcher, Order, RunOptions};
/// use poolfetch::server::{Server, ServerConfig};
///
/// let server = Server::start(ServerConfig::default())?;
/// let fetcher = Fetcher::new(Config::builder().pool(2).build()?)?;
/// let urls = vec![server.url("/delay/200"), server.url("/status/404")];
/// let records = fetcher.fetch_all(urls.clone());
/// assert_eq!(records.len(), 2);
/// assert!(records[0].ok);
/// assert_eq!(records[1].status, Some(404));
/// // The same fetcher (the same pool and connections), another run in completion order.
/// let completion = RunOptions::default().order(Order::Completion);
/// let records: Vec<_> = fetcher.stream_with(urls, completion).collect();
/// assert_eq!(records[0].index, 1, "the 404 comes back before the 200 ms delay");
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
        let resolver: Box<dyn Resolve> = match config.resolve.is_empty() {
            true => Box::new(resolver),
            false => Box::new(Pinned {
                pins: config.resolve.clone(),
                inner: Box::new(resolver),
            }),
        };
        let resolver = CachingResolver::new(resolver);
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
        requests: crossbeam_channel::Receiver<Vec<Request>>,
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
