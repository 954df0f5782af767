//! Run settings shared by the library, the CLI and the bench: one plain value, validated once.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The pool size Python's `run_in_executor(None, …)` used up to 3.5.2, and poolfetch's default.
pub const DEFAULT_POOL: usize = 5;
/// Default cap on a body kept in a record (10 MiB).
pub const DEFAULT_MAX_BODY: u64 = 10 * 1024 * 1024;

/// In which order records come out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// Input order (`gather`): a record leaves once every lower index has left.
    #[default]
    Input,
    /// Completion order (`as_completed`): a record leaves as soon as it is done.
    Completion,
}

/// What a record keeps of the response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyMode {
    /// Parsed JSON when the response says JSON and parses, text otherwise.
    #[default]
    Auto,
    /// Parsed JSON, or text when it does not parse.
    Json,
    /// Text (invalid UTF-8 replaced).
    Text,
    /// Nothing: the body is drained and only counted.
    None,
    /// The bytes exactly, as a base64 string (standard alphabet, padded): for bodies that are
    /// not text (Python's `body="bytes"` decodes it).
    Base64,
}

/// Which engine runs the requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineKind {
    /// Blocking `ureq` calls on a `rayon` pool of `pool` threads.
    #[default]
    Threads,
    /// hyper on a tokio runtime, at most `pool` requests at once (`pool = 0`: no limit).
    Async,
}

/// The one table of names for a public enum: `NAMES`, `name()`, `FromStr` and `Display`, so
/// every client (the command line, Python) takes and shows the same words.
macro_rules! named {
    ($kind:ident, $what:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $kind {
            /// Every name, as clients take them.
            pub const NAMES: &'static [&'static str] = &[$($name),+];

            /// Its name (`input`, `threads`, `auto`…).
            pub fn name(self) -> &'static str {
                match self {
                    $($kind::$variant => $name),+
                }
            }
        }

        impl std::str::FromStr for $kind {
            type Err = $crate::config::UnknownName;

            fn from_str(text: &str) -> Result<Self, $crate::config::UnknownName> {
                match text {
                    $($name => Ok($kind::$variant),)+
                    _ => Err($crate::config::UnknownName {
                        what: $what,
                        given: text.to_string(),
                        names: Self::NAMES,
                    }),
                }
            }
        }

        impl std::fmt::Display for $kind {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

// bench (a feature) names its Contender with it too.
#[cfg_attr(not(feature = "bench"), allow(unused_imports))]
pub(crate) use named;

named!(Order, "order", { Input => "input", Completion => "completion" });
named!(BodyMode, "body mode", {
    Auto => "auto", Json => "json", Text => "text", None => "none", Base64 => "base64",
});
named!(EngineKind, "engine", { Threads => "threads", Async => "async" });

/// A name that is none of an enum's [`NAMES`](Order::NAMES).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown {what} {given:?} (one of: {})", names.join(", "))]
pub struct UnknownName {
    pub(crate) what: &'static str,
    pub(crate) given: String,
    pub(crate) names: &'static [&'static str],
}

/// Which HTTP version the async engine speaks (curl's flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpVersion {
    /// HTTP/1.1 (both engines).
    #[default]
    Http1,
    /// `--http2`: offer h2 by ALPN over TLS and fall back to HTTP/1.1 when the server does
    /// not take it; plain `http://` stays HTTP/1.1 (as curl does).
    Http2,
    /// `--http2-prior-knowledge`: h2c on plain TCP, and h2 by ALPN over TLS.
    Http2PriorKnowledge,
}

/// Everything a run needs to know. Build it with [`Config::builder`] (or take
/// [`Config::default`] and set fields).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// Worker threads, which is also the most requests in flight (default 5). With the async
    /// engine it is the concurrency limit, and 0 means none.
    pub pool: usize,
    /// Deadline for connecting, for the response head, and for each body read (default 30 s).
    pub timeout: Duration,
    /// Ask for gzip, deflate and br and decode them (`--compressed`); by default only gzip is
    /// asked for (and decoded).
    pub compressed: bool,
    /// Deadline for the TCP connect alone (`--connect-timeout`, curl's name); `None`: `timeout`.
    pub connect_timeout: Option<Duration>,
    /// Deadline for a whole request, first byte sent to last byte read, per attempt
    /// (`--max-time`; default none). Past it the record is a `timeout`.
    pub max_time: Option<Duration>,
    /// What records keep of bodies (default auto).
    pub body: BodyMode,
    /// Largest body kept or saved; larger ones fail with `too_large`. `None`: 10 MiB for
    /// bodies kept in records, no cap for files under `output_dir`.
    pub max_body: Option<u64>,
    /// Stream each body to a file in this directory (the record names the file).
    pub output_dir: Option<std::path::PathBuf>,
    /// With `output_dir`: continue a part file an earlier (killed) run left, with a `Range`
    /// request guarded by `If-Range` (`--continue`).
    pub continue_parts: bool,
    /// Headers sent with every request.
    pub headers: Vec<(String, String)>,
    /// Engine that runs the requests.
    pub engine: EngineKind,
    /// HTTP version the async engine speaks (default HTTP/1.1). With HTTP/2 the pool's
    /// requests share one connection per host.
    pub http: HttpVersion,
    /// When to retry failed requests (default: never).
    pub retry: RetryPolicy,
    /// Redirects followed before a `redirect` error (default 10; 0 returns the 3xx as is).
    pub max_redirects: u32,
    /// Extra CA certificates (PEM) to trust besides the built-in roots.
    pub cacert: Option<std::path::PathBuf>,
    /// Skip certificate verification (`--insecure`; never the default).
    pub insecure: bool,
    /// Names pinned to addresses, as curl's `--resolve`: no lookup for them.
    pub resolve: Vec<crate::fetch::Pin>,
    /// A client certificate (PEM: the chain, leaf first; it may hold the key too) to show
    /// servers that ask for one (`--cert`).
    pub client_cert: Option<std::path::PathBuf>,
    /// The client certificate's private key (PEM); `None`: the key in `client_cert`
    /// (`--key`).
    pub client_key: Option<std::path::PathBuf>,
    /// At most this many requests in all, evenly spaced (`--rate`).
    pub rate: Option<Rate>,
    /// At most this many requests in flight to any one host (`--per-host`).
    pub per_host: Option<usize>,
    /// At most this many requests per period to any one host, evenly spaced
    /// (`--rate-per-host`).
    pub rate_per_host: Option<Rate>,
    /// Put the response's header fields into each record (`--include-headers`).
    pub include_headers: bool,
    /// Put only these response header fields into each record (`--header-field`, any case).
    pub header_fields: Vec<String>,
    /// Send every request through this proxy (http, https, socks5, socks5h) (`--proxy`); `None`: the environment's
    /// `http_proxy`/`https_proxy`/`all_proxy`, as curl does.
    pub proxy: Option<String>,
    /// Hosts (and domains) never proxied, comma-separated, `*` for all (`--noproxy`); `None`:
    /// the environment's `no_proxy`.
    pub no_proxy: Option<String>,
}

/// A request rate: requests evenly spaced, one every [`interval`](Rate::interval) (the k-th
/// request never starts before (k−1) intervals), with no burst: `30/m` is one request every
/// 2 s, `0.5/s` one every 2 s too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// The time between two requests, more than 0.
    interval: Duration,
}

impl Rate {
    /// `count` requests per second.
    pub fn per_second(count: std::num::NonZeroU32) -> Self {
        Rate {
            interval: (Duration::from_secs(1) / count.get()).max(Duration::from_nanos(1)),
        }
    }

    /// One request every `interval`; `None` for a zero interval.
    pub fn every(interval: Duration) -> Option<Self> {
        (!interval.is_zero()).then_some(Rate { interval })
    }

    /// The time between two requests.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Requests per second.
    pub fn per_second_f64(&self) -> f64 {
        1.0 / self.interval.as_secs_f64()
    }
}

impl std::str::FromStr for Rate {
    type Err = String;

    /// `N` or `N/s` per second, `N/m` per minute, `N/h` per hour; `N` may be a fraction
    /// (`0.5/s` is one request every 2 s).
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a rate (try 50/s, 0.5/s, 600/m or 100/h)");
        let (number, per) = text.trim().split_once('/').unwrap_or((text.trim(), "s"));
        let count: f64 = number.trim().parse().map_err(|_| bad())?;
        let per = match per.trim() {
            "s" | "sec" => 1.0,
            "m" | "min" => 60.0,
            "h" | "hour" => 3600.0,
            _ => return Err(bad()),
        };
        if !count.is_finite() {
            return Err(bad());
        }
        if count <= 0.0 {
            return Err(format!("{text:?}: the rate must be more than 0"));
        }
        let interval = Duration::try_from_secs_f64(per / count).map_err(|_| {
            format!("{text:?}: the rate is too slow (one request in over 584 years)")
        })?;
        Ok(Rate {
            interval: interval.max(Duration::from_nanos(1)),
        })
    }
}

impl std::fmt::Display for Rate {
    /// Per second, minute or hour, whichever reads as a number of at least 1.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let per_second = self.per_second_f64();
        let (count, unit) = if per_second >= 1.0 {
            (per_second, "s")
        } else if per_second * 60.0 >= 1.0 {
            (per_second * 60.0, "m")
        } else {
            (per_second * 3600.0, "h")
        };
        // Three decimals at most, trailing zeros dropped: 50/s, 0.5/s is 30/m, 2.5/h.
        let shown = format!("{count:.3}");
        let shown = shown.trim_end_matches('0').trim_end_matches('.');
        write!(f, "{shown}/{unit}")
    }
}

/// One of N equal parts of an input list: the inputs whose index ≡ `index` (mod `count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// K, from 0.
    index: u64,
    /// N, at least 1.
    count: u64,
}

impl Shard {
    /// Shard `index` (K) of `count` (N): `0 <= K < N`, or [`ConfigError::BadShard`].
    pub fn new(index: u64, count: u64) -> Result<Shard, ConfigError> {
        if count == 0 || index >= count {
            return Err(ConfigError::BadShard);
        }
        Ok(Shard { index, count })
    }

    /// The whole list: shard 0 of 1.
    pub fn whole() -> Shard {
        Shard { index: 0, count: 1 }
    }

    /// K.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// N.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Whether input number `position` belongs to this shard.
    pub fn holds(&self, position: u64) -> bool {
        position % self.count == self.index
    }

    /// The place of input `position` among this shard's inputs.
    pub fn local(&self, position: u64) -> u64 {
        position.saturating_sub(self.index) / self.count
    }

    /// How many of `total` inputs this shard holds.
    pub fn size_of(&self, total: u64) -> u64 {
        total.saturating_sub(self.index).div_ceil(self.count)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            pool: DEFAULT_POOL,
            timeout: Duration::from_secs(30),
            max_time: None,
            connect_timeout: None,
            compressed: false,
            body: BodyMode::Auto,
            max_body: None,
            output_dir: None,
            continue_parts: false,
            headers: Vec::new(),
            engine: EngineKind::Threads,
            http: HttpVersion::Http1,
            retry: RetryPolicy::default(),
            max_redirects: 10,
            cacert: None,
            insecure: false,
            resolve: Vec::new(),
            client_cert: None,
            client_key: None,
            rate: None,
            per_host: None,
            rate_per_host: None,
            include_headers: false,
            header_fields: Vec::new(),
            proxy: None,
            no_proxy: None,
        }
    }
}

/// Retry settings (`--retries`, `--retry-backoff`, `--retry-max-wait`, `--retry-all-methods`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 0: one attempt).
    pub retries: u32,
    /// Base of the exponential backoff: attempt k waits a random time in
    /// `0..=min(max_wait, backoff × 2^(k-1))` (default 100 ms).
    pub backoff: Duration,
    /// Longest wait before a retry, for backoff and for `Retry-After` alike (default 30 s).
    pub max_wait: Duration,
    /// Retry POST and PATCH too, which may not be safe to repeat (default false).
    pub all_methods: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 0,
            backoff: Duration::from_millis(100),
            max_wait: Duration::from_secs(30),
            all_methods: false,
        }
    }
}

/// A setting that cannot work, found before any request is sent.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `pool` was 0 on the thread engine (only the async engine can be unbounded).
    #[error("the pool must be at least 1 (a pool of 0, no limit, needs the async engine)")]
    ZeroPool,
    /// `window` was 0.
    #[error("the window must be at least 1")]
    ZeroWindow,
    /// `batch_size` was 0.
    #[error("the batch size must be at least 1")]
    ZeroBatch,
    /// `timeout` was 0.
    #[error("every timeout must be more than 0")]
    ZeroTimeout,
    /// A header name or value HTTP cannot carry (named without its value, which may be a
    /// credential).
    #[error("invalid header {0:?} (name or value not allowed in HTTP)")]
    BadHeader(String),
    /// TLS could not be set up.
    #[error("TLS cannot be set up: {0}")]
    Tls(String),
    /// The extra CA file (`cacert`) cannot be used: unreadable, not a regular file, or no
    /// PEM certificate in it.
    #[error("CA file {}: {why}", path.display())]
    CaFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        why: String,
    },
    /// The client certificate or its key cannot be used: unreadable, not a regular file, no
    /// PEM certificate or key in it, or a key that does not go with the certificate.
    #[error("client certificate {}: {why}", path.display())]
    ClientCert {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        why: String,
    },
    /// A client key was given without a client certificate.
    #[error("a client key needs a client certificate")]
    KeyWithoutCert,
    /// The thread pool or the async runtime could not be built.
    #[error("cannot start the worker pool: {0}")]
    Pool(String),
    /// `output_dir` does not exist and cannot be created.
    #[error("cannot create the output directory {}: {reason}", path.display())]
    OutputDir {
        /// The directory.
        path: std::path::PathBuf,
        /// Why it failed.
        reason: String,
    },
    /// `shard` has no inputs: K must be below N.
    #[error("a shard K of N needs 0 <= K < N")]
    BadShard,
    /// The proxy (given, or from the environment) is not a proxy URL poolfetch can use.
    #[error("invalid proxy {0}")]
    Proxy(String),
    /// HTTP/2 was asked of the thread engine, which speaks HTTP/1.1 only.
    #[error("HTTP/2 needs the async engine (the thread engine speaks HTTP/1.1 only)")]
    Http2NeedsAsync,
    /// The engine asked for was left out of this build (a cargo feature is off).
    #[error("the {0} engine is not in this build (enable the cargo feature)")]
    EngineNotBuilt(&'static str),
}

/// Builds a [`Config`] field by field; [`build`](ConfigBuilder::build) validates it.
///
/// ```
/// use poolfetch::{Config, EngineKind};
/// let config = Config::builder()
///     .pool(20)
///     .engine(EngineKind::Threads)
///     .build()
///     .unwrap();
/// assert_eq!(config.pool, 20);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ConfigBuilder(Config);

macro_rules! setters {
    ($($(#[$doc:meta])* $field:ident: $ty:ty),* $(,)?) => {
        impl ConfigBuilder {
            $(
                $(#[$doc])*
                pub fn $field(mut self, value: $ty) -> Self {
                    self.0.$field = value;
                    self
                }
            )*
        }
    };
}

setters! {
    /// Worker threads = most requests in flight (async engine: 0 means no limit).
    pool: usize,
    /// Connect, response-head and per-read deadline.
    timeout: Duration,
    /// Whole-request deadline per attempt.
    max_time: Option<Duration>,
    /// TCP connect deadline (else `timeout`).
    connect_timeout: Option<Duration>,
    /// Ask for and decode gzip, deflate and br.
    compressed: bool,
    /// What records keep of bodies.
    body: BodyMode,
    /// Largest body kept or saved.
    max_body: Option<u64>,
    /// Stream each body to a file in this directory.
    output_dir: Option<std::path::PathBuf>,
    /// Continue part files with Range requests.
    continue_parts: bool,
    /// Headers sent with every request.
    headers: Vec<(String, String)>,
    /// Engine that runs the requests.
    engine: EngineKind,
    /// HTTP version of the async engine.
    http: HttpVersion,
    /// When to retry failed requests.
    retry: RetryPolicy,
    /// Redirects followed before a `redirect` error (0 returns the 3xx).
    max_redirects: u32,
    /// Extra CA certificates (PEM) to trust.
    cacert: Option<std::path::PathBuf>,
    /// Skip certificate verification.
    insecure: bool,
    /// Names pinned to addresses (no lookup for them).
    resolve: Vec<crate::fetch::Pin>,
    /// A client certificate (PEM) for servers that ask for one.
    client_cert: Option<std::path::PathBuf>,
    /// The client certificate's key (PEM), if not in `client_cert`.
    client_key: Option<std::path::PathBuf>,
    /// At most this many requests in all, evenly spaced.
    rate: Option<Rate>,
    /// At most this many requests in flight to any one host.
    per_host: Option<usize>,
    /// At most this many requests per period to any one host.
    rate_per_host: Option<Rate>,
    /// Put the response's header fields into each record.
    include_headers: bool,
    /// Put only these response header fields into each record.
    header_fields: Vec<String>,
    /// An explicit http(s) proxy for every request.
    proxy: Option<String>,
    /// Hosts never proxied (`*`: none).
    no_proxy: Option<String>,
}

impl From<Config> for ConfigBuilder {
    /// Start from an existing config.
    fn from(config: Config) -> Self {
        ConfigBuilder(config)
    }
}

impl ConfigBuilder {
    /// Check every setting and return the config.
    pub fn build(self) -> Result<Config, ConfigError> {
        self.0.validate()?;
        Ok(self.0)
    }
}

impl Config {
    /// The TCP connect deadline: `connect_timeout`, else `timeout`.
    pub fn connect_deadline(&self) -> Duration {
        self.connect_timeout.unwrap_or(self.timeout)
    }

    /// A builder starting from the defaults.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// Check every setting; called by `Fetcher::new`, so a bad value never reaches the network.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.pool == 0 && self.engine == EngineKind::Threads {
            return Err(ConfigError::ZeroPool);
        }
        if self.http != HttpVersion::Http1 && self.engine == EngineKind::Threads {
            return Err(ConfigError::Http2NeedsAsync);
        }
        if self.timeout.is_zero()
            || self.max_time.is_some_and(|t| t.is_zero())
            || self.connect_timeout.is_some_and(|t| t.is_zero())
        {
            return Err(ConfigError::ZeroTimeout);
        }
        if let Some((name, _)) = self
            .headers
            .iter()
            .find(|(name, value)| !crate::request::valid_header(name, value))
        {
            return Err(ConfigError::BadHeader(name.clone()));
        }
        if self.client_key.is_some() && self.client_cert.is_none() {
            return Err(ConfigError::KeyWithoutCert);
        }
        if let Some(name) = self
            .header_fields
            .iter()
            .find(|name| http::HeaderName::from_bytes(name.as_bytes()).is_err())
        {
            return Err(ConfigError::BadHeader(name.clone()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_pool_is_five_and_a_shard_holds_every_nth_input() {
        assert_eq!(Config::default().pool, 5);
        let shard = Shard::new(1, 3).unwrap();
        assert!(shard.holds(4) && !shard.holds(5));
        assert_eq!(shard.size_of(10), 3);
        assert_eq!(Shard::new(3, 3), Err(ConfigError::BadShard));
        assert_eq!(Shard::new(0, 0), Err(ConfigError::BadShard));
    }

    #[test]
    fn zero_values_and_bad_headers_are_rejected() {
        let bad = |config: Config| config.validate().unwrap_err();
        assert_eq!(
            bad(Config {
                pool: 0,
                ..Config::default()
            }),
            ConfigError::ZeroPool
        );
        assert_eq!(
            bad(Config {
                timeout: Duration::ZERO,
                ..Config::default()
            }),
            ConfigError::ZeroTimeout
        );
        let header = Config {
            headers: vec![("Bad Name".into(), "v".into())],
            ..Config::default()
        };
        assert!(matches!(bad(header), ConfigError::BadHeader(_)));
        assert!(Config::default().validate().is_ok());
    }
}
