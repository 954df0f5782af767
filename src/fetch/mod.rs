//! The one shared `ureq::Agent` and a single blocking fetch turned into an [`Outcome`].
//!
//! All workers share one agent, so keep-alive connections are reused across threads; its
//! idle-pool limits are raised to the pool size (ureq keeps only 3 per host by default).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use ureq::unversioned::resolver::{DefaultResolver, Resolver};
use ureq::unversioned::transport::DefaultConnector;

pub mod limits;
mod resolver;
mod retry;
pub mod tls;
pub use crate::config::RetryPolicy;
pub use limits::{Limits, host_key};
pub use resolver::CachingResolver;
pub use retry::parse_retry_after;

use crate::cancel::CancelToken;
use crate::config::{Config, ConfigError};
use crate::input::check_url;
use crate::record::{ErrorKind, FetchError};
use crate::request::Request;
use crate::sink::{self, BodyPolicy, BodySink, Kept, SinkError};

/// The result of one request, before it is placed in a record.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    /// Status of the response, when one arrived.
    pub status: Option<u16>,
    /// Body bytes read.
    pub bytes: u64,
    /// The kept body.
    pub body: Option<serde_json::Value>,
    /// Where the body was saved, with `--output-dir`.
    pub file: Option<String>,
    /// True when kept text had invalid UTF-8 replaced.
    pub lossy: bool,
    /// Attempts made.
    pub attempts: u32,
    /// Why it is not ok, if it is not.
    pub error: Option<FetchError>,
}

/// A blocking HTTP client built once per run from a [`Config`] and shared by all workers.
#[derive(Debug, Clone)]
pub struct Client {
    agent: ureq::Agent,
    headers: Vec<(String, String)>,
    bodies: BodyPolicy,
    retry: RetryPolicy,
    limits: Arc<Limits>,
}

impl Client {
    /// Build the shared agent for `config` with the system resolver.
    pub fn new(config: &Config) -> Result<Self, ConfigError> {
        Self::with_resolver(config, DefaultResolver::default())
    }

    /// Build the agent with a custom resolver (tests reach the `dns` path this way without
    /// leaving the machine). Its answers are cached; IP literals skip it.
    pub fn with_resolver(config: &Config, resolver: impl Resolver) -> Result<Self, ConfigError> {
        let agent = ureq::Agent::with_parts(
            agent_config(config)?,
            DefaultConnector::default(),
            CachingResolver::new(resolver),
        );
        Ok(Client {
            agent,
            headers: config.headers.clone(),
            bodies: BodyPolicy::of(config),
            retry: config.retry.clone(),
            limits: Arc::new(Limits::new(config.rate, config.per_host)),
        })
    }

    /// Send `request` (input number `index`) and read its body, retrying transient failures
    /// as the retry policy allows (never once `cancel` is set); every failure becomes a typed
    /// error in the outcome, and `attempts` counts what was sent.
    pub fn fetch(&self, index: u64, request: &Request, cancel: &CancelToken) -> Outcome {
        let mut attempts = 0;
        loop {
            // --rate and --per-host: wait for a slot (every attempt counts).
            let slot = match self.limits.is_active().then(|| check_url(&request.url)) {
                Some(Ok(uri)) => match self.limits.acquire_blocking(&host_key(&uri), cancel) {
                    Some(slot) => Some(slot),
                    None => return cancelled(attempts),
                },
                _ => None,
            };
            let (mut outcome, retry_after) = self.attempt(index, request);
            drop(slot);
            match self.retry.after_attempt(
                &mut attempts,
                &request.method,
                &mut outcome,
                retry_after,
            ) {
                Some(wait) if cancel.sleep(wait) => continue,
                _ => return outcome,
            }
        }
    }

    /// One attempt, and the response's `Retry-After`, if any.
    fn attempt(&self, index: u64, request: &Request) -> (Outcome, Option<Duration>) {
        let mut outcome = Outcome::default();
        let uri = match check_url(&request.url) {
            Ok(uri) => uri,
            Err(error) => {
                outcome.error = Some(error);
                return (outcome, None);
            }
        };
        outcome.attempts = 1;
        let response = match self.send(request, uri) {
            Ok(response) => response,
            Err(error) => {
                outcome.error = Some(error);
                return (outcome, None);
            }
        };
        let status = response.status();
        outcome.status = Some(status.as_u16());
        let retry_after = response
            .headers()
            .get(ureq::http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let content_type = response
            .headers()
            .get(ureq::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let reader = response.into_body().into_reader();
        let kept = BodySink::open(&self.bodies, index, &request.url, status.as_u16())
            .and_then(|sink| sink::consume(reader, content_type.as_deref(), sink));
        match kept {
            Ok(kept) => outcome.keep(kept),
            Err(e) => {
                outcome.error = Some(sink_error(e, classify_io));
                return (outcome, retry_after);
            }
        }
        outcome.error = status_error(status.as_u16());
        (outcome, retry_after)
    }

    fn send(
        &self,
        request: &Request,
        uri: ureq::http::Uri,
    ) -> Result<ureq::http::Response<ureq::Body>, FetchError> {
        let mut builder = ureq::http::Request::builder()
            .method(request.method.as_str())
            .uri(uri);
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        let result = match &request.body {
            Some(body) => {
                if let Some(content_type) = &body.content_type {
                    builder = builder.header(ureq::http::header::CONTENT_TYPE, content_type);
                }
                let http_request = builder
                    .body(body.bytes.as_slice())
                    .map_err(invalid_request)?;
                self.agent.run(http_request)
            }
            None => {
                let http_request = builder.body(()).map_err(invalid_request)?;
                self.agent.run(http_request)
            }
        };
        result.map_err(classify)
    }
}

/// The outcome of a request whose next attempt was stopped by a cancel.
pub fn cancelled(attempts: u32) -> Outcome {
    Outcome {
        attempts,
        error: Some(FetchError::new(
            ErrorKind::Cancelled,
            "cancelled before it was sent",
        )),
        ..Outcome::default()
    }
}

impl Outcome {
    /// Take in what the sink made of the body.
    pub fn keep(&mut self, kept: Kept) {
        self.bytes = kept.bytes;
        self.body = kept.body;
        self.file = kept.file;
        self.lossy = kept.lossy;
    }
}

/// The record error for a body that could not be consumed; `read` classifies read failures.
pub fn sink_error(error: SinkError, read: impl FnOnce(io::Error) -> FetchError) -> FetchError {
    match error {
        SinkError::TooLarge { limit } => FetchError::new(
            ErrorKind::TooLarge,
            format!("body is larger than --max-body ({limit} bytes); nothing was kept"),
        ),
        SinkError::Read(e) => read(e),
        SinkError::File(path, e) => FetchError::new(
            ErrorKind::Io,
            format!("cannot write {}: {e}", path.display()),
        ),
    }
}

fn classify_io(e: io::Error) -> FetchError {
    classify(ureq::Error::from(e))
}

/// The `status` error of a response with a code of 400 or more (`HTTP 404 Not Found`).
pub fn status_error(code: u16) -> Option<FetchError> {
    if code < 400 {
        return None;
    }
    let reason = ureq::http::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map_or(String::new(), |r| format!(" {r}"));
    Some(FetchError::new(
        ErrorKind::Status,
        format!("HTTP {code}{reason}"),
    ))
}

fn invalid_request(e: ureq::http::Error) -> FetchError {
    FetchError::new(ErrorKind::InvalidUrl, format!("cannot build request: {e}"))
}

/// The agent settings poolfetch needs; see the module docs and DESIGN.md "Facts that bite".
fn agent_config(config: &Config) -> Result<ureq::config::Config, ConfigError> {
    let timeout = Some(config.timeout);
    Ok(ureq::Agent::config_builder()
        .tls_config(tls::ureq_tls(config)?)
        // Classify 4xx/5xx ourselves and keep their bodies.
        .http_status_as_error(false)
        .max_redirects(config.max_redirects)
        // With redirects off, hand back the 3xx itself; otherwise a loop is an error.
        .max_redirects_will_error(config.max_redirects > 0)
        // One idle connection per worker, or a big pool keeps reconnecting.
        .max_idle_connections(config.pool.max(10))
        .max_idle_connections_per_host(config.pool.max(3))
        // Per-phase deadlines: a long download that keeps moving is not cut off,
        // a stalled one is.
        .timeout_global(None)
        .timeout_resolve(timeout)
        .timeout_connect(timeout)
        .timeout_send_request(timeout)
        .timeout_send_body(timeout)
        .timeout_recv_response(timeout)
        .timeout_per_read(timeout)
        // ureq allocates 128 KiB in and 128 KiB out per connection by default: 256 MB at a
        // pool of 1,000. The input buffer still holds the largest response head (64 KiB);
        // requests are small, and bodies stream past the output buffer.
        .input_buffer_size(64 * 1024)
        .output_buffer_size(16 * 1024)
        .user_agent(concat!("poolfetch/", env!("CARGO_PKG_VERSION")))
        .build())
}

/// Map a ureq error to our typed error at once (ureq's error is neither `Clone` nor exhaustive).
pub fn classify(error: ureq::Error) -> FetchError {
    use ureq::Error as E;
    let kind = match &error {
        E::BadUri(_) | E::Http(_) | E::RequireHttpsOnly(_) => ErrorKind::InvalidUrl,
        E::HostNotFound => ErrorKind::Dns,
        E::Timeout(_) => ErrorKind::Timeout,
        E::ConnectionFailed | E::ConnectProxyFailed(_) => ErrorKind::Connect,
        E::Tls(_) | E::Pem(_) | E::Rustls(_) | E::TlsRequired => ErrorKind::Tls,
        E::TooManyRedirects | E::RedirectFailed => ErrorKind::Redirect,
        E::Protocol(_) | E::LargeResponseHeader(..) | E::Decompress(..) => ErrorKind::Protocol,
        E::Io(e) => io_kind(e),
        _ => ErrorKind::Io,
    };
    FetchError::new(kind, error.to_string())
}

/// The error kind of an I/O failure: refused/unreachable are `connect`, timeouts `timeout`.
pub fn io_kind(e: &io::Error) -> ErrorKind {
    use io::ErrorKind as K;
    // rustls reports handshake failures (an unknown issuer, …) through I/O errors, which
    // connectors may wrap in further I/O errors.
    let mut inner = e.get_ref();
    while let Some(error) = inner {
        if error.is::<rustls::Error>() {
            return ErrorKind::Tls;
        }
        inner = error
            .downcast_ref::<io::Error>()
            .and_then(io::Error::get_ref);
    }
    match e.kind() {
        K::ConnectionRefused
        | K::HostUnreachable
        | K::NetworkUnreachable
        | K::AddrNotAvailable
        | K::NetworkDown => ErrorKind::Connect,
        K::TimedOut | K::WouldBlock => ErrorKind::Timeout,
        _ => ErrorKind::Io,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_errors_map_to_their_kinds() {
        let io = |kind| ureq::Error::Io(io::Error::new(kind, "x"));
        assert_eq!(
            classify(io(io::ErrorKind::ConnectionRefused)).kind,
            ErrorKind::Connect
        );
        assert_eq!(
            classify(io(io::ErrorKind::ConnectionReset)).kind,
            ErrorKind::Io
        );
        assert_eq!(
            classify(io(io::ErrorKind::TimedOut)).kind,
            ErrorKind::Timeout
        );
        assert_eq!(classify(ureq::Error::HostNotFound).kind, ErrorKind::Dns);
        assert_eq!(
            classify(ureq::Error::Timeout(ureq::Timeout::RecvResponse)).kind,
            ErrorKind::Timeout
        );
        assert_eq!(
            classify(ureq::Error::TooManyRedirects).kind,
            ErrorKind::Redirect
        );
    }

    #[test]
    fn a_bad_url_fails_before_the_network_with_zero_attempts() {
        let client = Client::new(&Config::default()).unwrap();
        let outcome = client.fetch(0, &Request::get("ftp://127.0.0.1/x"), &CancelToken::new());
        assert_eq!(outcome.attempts, 0);
        assert_eq!(outcome.error.unwrap().kind, ErrorKind::InvalidUrl);
    }
}
