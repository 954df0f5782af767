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
//! let fetcher = Fetcher::new(Config { pool: 5, ..Config::default() })?;
//! let urls = (1..=20).map(|i| format!("http://127.0.0.1:8080/todos/{i}"));
//! for record in fetcher.fetch_all(urls) {
//!     println!("{} {} {:?}", record.index, record.ok, record.status);
//! }
//! # Ok::<(), poolfetch::ConfigError>(())
//! ```

#![warn(missing_docs)]

pub mod bench;
pub mod cancel;
pub mod cli;
pub mod config;
pub mod engine;
pub mod fetch;
pub mod input;
pub mod order;
pub mod record;
pub mod request;
pub mod run;
pub mod server;
pub mod sink;

pub use config::{BodyMode, Config, ConfigError, EngineKind, Order};
pub use fetch::{Client, Outcome};
pub use record::{ErrorKind, FetchError, Record};
pub use request::Request;
pub use run::{CancelToken, Run};

use engine::threads::ThreadEngine;
use engine::tokio::AsyncEngine;
use run::Engine;

/// A configured fetcher: the shared agent and the worker pool, reusable across runs.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use poolfetch::{Config, Fetcher, Order};
/// use poolfetch::server::{Server, ServerConfig};
///
/// let server = Server::start(ServerConfig::default())?;
/// let fetcher = Fetcher::new(Config { pool: 2, order: Order::Input, ..Config::default() })?;
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
}

impl Fetcher {
    /// Validate `config` and start its pool and agent.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        config.validate()?;
        // Only the engine in use is built (the async engine has no ureq agent).
        let engine: Box<dyn Engine> = match config.engine {
            EngineKind::Threads => Box::new(ThreadEngine::new(&config, Client::new(&config)?)?),
            EngineKind::Async => Box::new(AsyncEngine::new(&config)?),
        };
        Ok(Fetcher { config, engine })
    }

    /// Like [`new`](Self::new) with a custom name resolver for the agent (for tests that must
    /// not leave the machine, or for pinning names to addresses).
    pub fn with_resolver(
        config: Config,
        resolver: impl ureq::unversioned::resolver::Resolver,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let engine: Box<dyn Engine> = match config.engine {
            EngineKind::Threads => Box::new(ThreadEngine::new(
                &config,
                Client::with_resolver(&config, resolver)?,
            )?),
            EngineKind::Async => Box::new(AsyncEngine::with_resolver(&config, resolver)?),
        };
        Ok(Fetcher { config, engine })
    }

    /// The settings this fetcher runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Start fetching `requests`; the returned iterator yields each record as soon as it may
    /// leave (in input order by default), so output streams while the run goes on.
    pub fn stream<I>(&self, requests: I) -> Run<'_, I::IntoIter>
    where
        I: IntoIterator,
        I::Item: Into<Request>,
    {
        Run::new(self.engine.as_ref(), requests.into_iter(), &self.config)
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

/// The public types can move between threads (checked at compile time).
#[allow(dead_code)]
fn assert_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<Fetcher>();
    check::<Config>();
    check::<Record>();
    check::<Client>();
    check::<CancelToken>();
}
