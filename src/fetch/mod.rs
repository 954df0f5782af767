//! The fetch core, the same for both engines: the attempt loop (retries, backoff,
//! Retry-After, rate and per-host limits, all cancel-aware), redirects, a response head turned
//! into an [`Outcome`], bodies through the [`sink`](crate::sink), and the one error table.
//!
//! An engine supplies only a [`Transport`]: "send this one request, give me the head and a
//! body stream" and "sleep unless cancelled". The core is written once, as async code: the
//! async engine awaits it on tokio; the thread engine drives it with `pollster::block_on` on a
//! worker, where its transport blocks inside the future (so a worker still runs exactly one
//! blocking request, and nothing in it needs a runtime).

pub(crate) mod classify;
mod decode;
pub(crate) mod limits;
pub(crate) mod proxy;
pub(crate) mod resolver;
mod retry;
pub(crate) mod socks;
pub(crate) mod tls;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use http::header::{
    ACCEPT_ENCODING, AUTHORIZATION, CONTENT_RANGE, CONTENT_TYPE, COOKIE, ETAG, LAST_MODIFIED,
    LOCATION, PROXY_AUTHORIZATION, RETRY_AFTER,
};

pub use resolver::{Pin, Resolve};
pub(crate) use retry::parse_retry_after;

use crate::cancel::CancelToken;
use crate::config::{Config, ConfigError, RetryPolicy};
use crate::record::{ErrorKind, FetchError};
use crate::request::{Body, Request, basic_auth, check_url, redact_url, without_credentials};
use crate::sink::{self, BodyPolicy, BodySink, Kept, SinkError};
use limits::{Limits, host_key};

/// Counters a fetcher keeps while it runs, for live progress (read them with
/// [`Fetcher::live`](crate::Fetcher::live)).
#[derive(Debug, Default)]
pub(crate) struct Live {
    /// Requests being fetched now (retry waits included).
    pub in_flight: std::sync::atomic::AtomicUsize,
    /// Body bytes received so far, counted as they arrive.
    pub bytes: std::sync::atomic::AtomicU64,
    /// Connections opened (both engines count them).
    pub connections: std::sync::atomic::AtomicU64,
}

/// What the core tells about one request while it runs, for whoever must write its record
/// if it is cut off: the attempts sent so far, and when the first left the limits.
#[derive(Debug, Default)]
pub(crate) struct Attempts {
    sent: AtomicU32,
    first_sent: std::sync::OnceLock<Instant>,
}

impl Attempts {
    /// Count an attempt about to be sent (the `n`th, past the limits).
    fn sending(&self, n: u32) {
        self.sent.store(n, Ordering::Relaxed);
        if n == 1 {
            let _ = self.first_sent.set(Instant::now());
        }
    }

    /// Attempts sent so far, the one in progress included.
    pub(crate) fn sent(&self) -> u32 {
        self.sent.load(Ordering::Relaxed)
    }

    /// When the first attempt left the limits, if one did.
    pub(crate) fn first_sent(&self) -> Option<Instant> {
        self.first_sent.get().copied()
    }
}

/// Keeps a request counted in flight until dropped.
struct InFlight<'a>(&'a Live);

impl<'a> InFlight<'a> {
    fn enter(live: &'a Live) -> Self {
        live.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(live)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The result of one request, before it is placed in a record.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Outcome {
    /// Status of the response, when one arrived.
    pub status: Option<u16>,
    /// Its HTTP version (`"HTTP/1.1"`, `"HTTP/2"`).
    pub http_version: Option<&'static str>,
    /// The URL that answered, after redirects (credentials redacted).
    pub final_url: Option<String>,
    /// Its `Content-Type`.
    pub content_type: Option<String>,
    /// The address it came from (`ip:port`).
    pub remote_addr: Option<String>,
    /// When the phases of the last exchange ended (its connection's, if new).
    pub phases: Phases,
    /// The `Content-Encoding` decoded (its codings in the order applied, `gzip, br`), and
    /// the body's size once decoded.
    pub decoded: Option<(String, u64)>,
    /// Body bytes read.
    pub bytes: u64,
    /// The kept body.
    pub body: Option<serde_json::Value>,
    /// Where the body was saved, with `--output-dir`.
    pub file: Option<String>,
    /// True when kept text had invalid UTF-8 replaced.
    pub lossy: bool,
    /// Bytes an earlier run had saved, when a part file was continued.
    pub resumed_from: Option<u64>,
    /// Attempts made.
    pub attempts: u32,
    /// Why it is not ok, if it is not.
    pub error: Option<FetchError>,
    /// The response header fields the run keeps in records.
    pub headers: Option<Vec<(String, String)>>,
}

impl Outcome {
    /// A request that failed with `error` after `attempts` attempts.
    pub(crate) fn failed(attempts: u32, error: FetchError) -> Self {
        Outcome {
            attempts,
            error: Some(error),
            ..Outcome::default()
        }
    }

    /// A request whose (next) attempt was stopped by a cancel.
    pub(crate) fn cancelled(attempts: u32) -> Self {
        Self::failed(
            attempts,
            FetchError::new(ErrorKind::Cancelled, "cancelled before it was sent"),
        )
    }

    /// A bug caught in a worker (a panic), reported instead of losing the request.
    pub(crate) fn internal(panic: &(dyn std::any::Any + Send)) -> Self {
        let message = classify::Panicked(panic_message(panic)).to_string();
        Self::failed(1, FetchError::new(ErrorKind::Internal, message))
    }

    fn keep(&mut self, kept: Kept) {
        self.bytes = kept.bytes;
        self.body = kept.body;
        self.file = kept.file;
        self.lossy = kept.lossy;
        self.resumed_from = kept.resumed_from;
    }
}

/// The text of a panic's payload.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic")
        .to_string()
}

/// One request as an engine sends it: a single hop, redirects are the core's business.
pub(crate) struct Outgoing<'a> {
    /// Upper-case method.
    pub method: &'a str,
    /// The method may be sent twice (idempotent): an engine may send it once more when a
    /// reused connection turns out closed before any answer.
    pub idempotent: bool,
    /// The checked target.
    pub uri: http::Uri,
    /// Headers for every request (`-H`), minus credentials after a cross-origin redirect.
    pub headers: Vec<(&'a str, &'a str)>,
    /// Body, if any.
    pub body: Option<&'a Body>,
    /// What is left of `--max-time` for this hop: the engine bounds the whole exchange by it.
    pub time_left: Option<Duration>,
    /// The proxy this request goes through, if any, parsed once.
    pub proxy: Option<&'a std::sync::Arc<proxy::Proxy>>,
}

/// When each phase of an exchange ended: a new connection's name lookup, connect (a SOCKS
/// handshake included) and TLS handshake, noted by the engine as they end (so a request that
/// fails later keeps them); the head's arrival, noted by the core. A reused connection
/// skipped the first three: they stay `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Phases {
    pub dns: Option<Instant>,
    pub connect: Option<Instant>,
    pub tls: Option<Instant>,
    pub first_byte: Option<Instant>,
}

/// A response head and its body, as an engine hands them to the core.
pub(crate) struct Head<B> {
    pub status: u16,
    /// The URL that answered, after redirects (set by the core; engines leave it empty).
    pub url: String,
    /// The address of the connection it came on (a proxy's, through a proxy).
    pub remote: Option<std::net::SocketAddr>,
    /// The HTTP version of the response.
    pub version: http::Version,
    pub headers: http::HeaderMap,
    pub body: B,
}

/// What an engine supplies to the core.
pub(crate) trait Transport: Sync {
    /// The engine's body stream.
    type Body: BodyStream;

    /// Send one request and return its head (no redirects followed), noting in `phases` when
    /// each phase of a new connection ended, whether or not a head comes.
    fn send(
        &self,
        request: Outgoing<'_>,
        phases: &mut Phases,
    ) -> impl Future<Output = Result<Head<Self::Body>, FetchError>> + Send;

    /// Wait `duration` unless `cancel` fires first; true when the whole wait passed.
    fn sleep(&self, duration: Duration, cancel: &CancelToken) -> impl Future<Output = bool> + Send;
}

/// A response body, chunk by chunk.
pub(crate) trait BodyStream: Send {
    /// The next chunk, or `None` at the end.
    fn chunk(&mut self) -> impl Future<Output = Result<Option<&[u8]>, FetchError>> + Send;
}

/// Everything about fetching that does not depend on the engine, built once per fetcher.
pub(crate) struct Core {
    headers: Vec<(String, String)>,
    bodies: BodyPolicy,
    retry: RetryPolicy,
    limits: Limits,
    max_redirects: u32,
    max_time: Option<Duration>,
    /// The user's headers name `Authorization` (it wins over a URL's `user:password@`).
    users_authorization: bool,
    /// The `Accept-Encoding` the core adds; none when the user's headers name one.
    accept_encoding: Option<&'static str>,
    proxies: proxy::ProxyRules,
    /// Which response header fields records carry.
    response_headers: ResponseHeaders,
    /// The engine sends any method (the thread engine, ureq, only the nine of RFC 9110 and
    /// PATCH).
    any_method: bool,
    live: Arc<Live>,
}

/// The methods every engine sends.
const STANDARD_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// Which response header fields a record carries: none (the default), all, or the named ones.
enum ResponseHeaders {
    None,
    All,
    /// Lower-case names.
    Only(Vec<String>),
}

impl ResponseHeaders {
    fn of(config: &Config) -> Self {
        if config.include_headers {
            ResponseHeaders::All
        } else if config.header_fields.is_empty() {
            ResponseHeaders::None
        } else {
            ResponseHeaders::Only(
                config
                    .header_fields
                    .iter()
                    .map(|n| n.to_ascii_lowercase())
                    .collect(),
            )
        }
    }

    /// The fields of `headers` to keep, in the order received, repeated names kept; a value
    /// that is not UTF-8 is kept with U+FFFD in place of its bad bytes.
    fn pick(&self, headers: &http::HeaderMap) -> Option<Vec<(String, String)>> {
        let only = match self {
            ResponseHeaders::None => return None,
            ResponseHeaders::All => None,
            ResponseHeaders::Only(names) => Some(names),
        };
        Some(
            headers
                .iter()
                .filter(|(name, _)| {
                    only.is_none_or(|names| names.iter().any(|n| n == name.as_str()))
                })
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect(),
        )
    }
}

/// Bytes of a redirect's own body read (and dropped) so its connection can be reused.
const REDIRECT_BODY_DRAIN: u64 = 64 * 1024;

impl Core {
    pub(crate) fn new(config: &Config, live: Arc<Live>) -> Result<Arc<Self>, ConfigError> {
        Ok(Arc::new(Core {
            headers: config.headers.clone(),
            bodies: BodyPolicy::of(config),
            retry: config.retry.clone(),
            limits: Limits::new(config.rate, config.rate_per_host, config.per_host),
            response_headers: ResponseHeaders::of(config),
            any_method: config.engine != crate::config::EngineKind::Threads,
            max_redirects: config.max_redirects,
            max_time: config.max_time,
            users_authorization: config
                .headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case(AUTHORIZATION.as_str())),
            accept_encoding: (!config
                .headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case(ACCEPT_ENCODING.as_str())))
            .then(|| decode::accept_encoding(config.compressed)),
            proxies: proxy::ProxyRules::of(config)?,
            live,
        }))
    }

    /// Send `request` (input number `index`) and read its body, retrying transient failures
    /// as the retry policy allows (never once `cancel` is set); every failure becomes a typed
    /// error in the outcome, and `attempts` counts what was sent.
    pub(crate) async fn fetch<T: Transport>(
        &self,
        transport: &T,
        index: u64,
        request: &Request,
        cancel: &CancelToken,
        progress: &Attempts,
    ) -> Outcome {
        let _in_flight = InFlight::enter(&self.live);
        let mut attempts = 0;
        loop {
            let slot = match self.limits.is_active().then(|| check_url(&request.url)) {
                Some(Ok(uri)) => match self
                    .limits
                    .acquire(&host_key(&uri), cancel, transport)
                    .await
                {
                    Some(slot) => Some(slot),
                    None => return Outcome::cancelled(attempts),
                },
                _ => None,
            };
            progress.sending(attempts + 1);
            let (mut outcome, retry_after) = self.attempt(transport, index, request, cancel).await;
            drop(slot);
            match self.retry.after_attempt(
                &mut attempts,
                &request.method,
                &mut outcome,
                retry_after,
            ) {
                Some(wait) if transport.sleep(wait, cancel).await => continue,
                _ => return outcome,
            }
        }
    }

    /// One attempt (redirects included), and the response's `Retry-After`, if any.
    async fn attempt<T: Transport>(
        &self,
        transport: &T,
        index: u64,
        request: &Request,
        cancel: &CancelToken,
    ) -> (Outcome, Option<Duration>) {
        let max_time = request.timeout.or(self.max_time);
        let deadline = max_time.map(|max| Instant::now() + max);
        let mut leftover = self.leftover(index, request);
        let mut phases = Phases::default();
        let (head, continues) = loop {
            let asked = leftover.clone();
            let mut head = match self
                .send(
                    transport,
                    request,
                    (deadline, max_time),
                    leftover.take(),
                    &mut phases,
                )
                .await
            {
                Ok(head) => head,
                Err((attempts, error)) => {
                    let failed = Outcome::failed(attempts, error);
                    return (Outcome { phases, ..failed }, None);
                }
            };
            let Some((offset, validator)) = asked else {
                break (head, None);
            };
            match head.status {
                // The part is as long as the whole body, or the server cannot serve the
                // range: start again from zero.
                416 => drain(&mut head.body).await,
                // A 206 continues the part only if it is provably the rest of the same body;
                // anything else starts again from zero (its body is not read).
                206 => {
                    if let Some(continues) = continuation(&head.headers, offset, &validator) {
                        break (head, Some(continues));
                    }
                }
                // A 200: the server ignored the range, or If-Range said the body changed.
                _ => break (head, None),
            }
        };
        let Head {
            status,
            url,
            remote,
            version,
            headers,
            mut body,
        } = head;
        let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
        let retry_after = header(RETRY_AFTER).and_then(parse_retry_after);
        let mut outcome = Outcome {
            status: Some(status),
            final_url: Some(redact_url(&url)),
            remote_addr: remote.map(|a| a.to_string()),
            phases,
            content_type: header(CONTENT_TYPE).map(str::to_owned),
            http_version: Some(version_name(version)),
            headers: self.response_headers.pick(&headers),
            attempts: 1,
            ..Outcome::default()
        };
        // A 206 nobody asked for holds only part of the body: saved or kept, it would pass
        // for the whole of it.
        if status == 206 && continues.is_none() && !self.asks_for_a_range(request) {
            outcome.error = Some(FetchError::new(
                ErrorKind::Protocol,
                "206 Partial Content to a request that asked for no range: only part of the body",
            ));
            return (outcome, retry_after);
        }
        // A continued part holds raw bytes of a range: never decoded.
        let codings = decode::Decoder::codings(&headers).filter(|_| continues.is_none());
        // A part file of decoded bytes cannot be continued: a range counts the bytes as
        // stored (encoded), not as decoded. It gets no validator, so `--continue` starts it
        // again from zero.
        let validator = header(ETAG)
            .or_else(|| header(LAST_MODIFIED))
            .filter(|_| codings.is_none());
        let sink_head = sink::BodyHead {
            status,
            continues,
            validator,
        };
        let mut wire = 0u64;
        let decoded_as = codings.as_ref().map(|codings| codings.join(", "));
        let kept = match BodySink::open(&self.bodies, index, &request.url, &sink_head) {
            Ok(sink) => {
                let mut sink = match codings {
                    Some(codings) => Sink::Encoded(Some((sink, codings))),
                    None => Sink::Plain(sink),
                };
                loop {
                    match body.chunk().await {
                        Ok(Some(chunk)) => {
                            let size = chunk.len() as u64;
                            wire += size;
                            self.live.bytes.fetch_add(size, Ordering::Relaxed);
                            if let Err(e) = sink.push(chunk) {
                                break Err(e);
                            }
                            if let Some(error) = self.stop_reading(deadline, max_time, cancel) {
                                break Err(error);
                            }
                        }
                        Ok(None) => {
                            break sink
                                .finish()
                                .and_then(|s| s.finish(header(CONTENT_TYPE)).map_err(sink_error));
                        }
                        Err(e) => break Err(e),
                    }
                }
            }
            Err(e) => Err(sink_error(e)),
        };
        match kept {
            Ok(kept) => {
                outcome.keep(kept);
                // `bytes` is what came over the wire; the decoded size is said apart.
                if let Some(name) = decoded_as {
                    outcome.decoded = Some((name, outcome.bytes));
                    outcome.bytes = wire;
                }
                outcome.error = classify::status_error(status);
            }
            Err(error) => outcome.error = Some(error),
        }
        (outcome, retry_after)
    }

    /// Whether the user's own headers ask for a range (then a 206 is what they wanted).
    fn asks_for_a_range(&self, request: &Request) -> bool {
        names(&self.headers, "range") || names(&request.headers, "range")
    }

    /// What an earlier run left of input `index`'s download, with `--continue`.
    fn leftover(&self, index: u64, request: &Request) -> Option<(u64, String)> {
        let dir = self.bodies.output_dir.as_ref()?;
        if !self.bodies.continue_parts {
            return None;
        }
        sink::leftover(dir, index, &request.url)
    }

    /// Why a body still arriving must not be read further: `--max-time` passed, or the grace
    /// after a cancel ran out (the sink is dropped, so a part file goes with it).
    fn stop_reading(
        &self,
        deadline: Option<Instant>,
        max_time: Option<Duration>,
        cancel: &CancelToken,
    ) -> Option<FetchError> {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(max_time_error(max_time));
        }
        cancel.past_grace().then(FetchError::interrupted)
    }

    /// Send `request`, following redirects as curl and browsers do; the error says how many
    /// attempts were made (0 when the URL was refused before sending). `phases` are the
    /// last hop's.
    async fn send<T: Transport>(
        &self,
        transport: &T,
        request: &Request,
        (deadline, max_time): (Option<Instant>, Option<Duration>),
        leftover: Option<(u64, String)>,
        phases: &mut Phases,
    ) -> Result<Head<T::Body>, (u32, FetchError)> {
        // `--continue`: ask for the rest of the part file, if the body is still the same one.
        let range = leftover.map(|(offset, validator)| {
            [
                ("Range".to_string(), format!("bytes={offset}-")),
                ("If-Range".to_string(), validator),
            ]
        });
        if let Some(error) = &request.rejected {
            return Err((0, error.clone()));
        }
        if !self.any_method && !STANDARD_METHODS.contains(&request.method.as_str()) {
            let why = format!(
                "the thread engine sends only {}: {} needs --engine async",
                STANDARD_METHODS.join(", "),
                request.method
            );
            return Err((0, FetchError::new(ErrorKind::InvalidRequest, why)));
        }
        let mut method = request.method.as_str();
        let mut body = request.body.as_deref();
        let mut url = std::borrow::Cow::Borrowed(request.url.as_str());
        // A URL's `user:password@` is sent as `Authorization: Basic` (curl's rule, the same
        // on every engine and HTTP version), never as part of the authority; to the same
        // origin only, after a redirect, unless the new URL carries its own.
        let (mut uri, first_login) = without_credentials(check_url(&url).map_err(|e| (0, e))?);
        let first = uri.clone();
        let mut login = first_login.as_ref().map(basic_auth);
        let users_authorization =
            self.users_authorization || names(&request.headers, AUTHORIZATION.as_str());
        let mut hops = 0;
        loop {
            let same = hops == 0 || same_origin(&first, &uri);
            let time_left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if time_left.is_some_and(|left| left.is_zero()) {
                return Err((1, max_time_error(max_time)));
            }
            let proxy = self.proxies.for_uri(&uri);
            let outgoing = Outgoing {
                time_left,
                proxy,
                method,
                idempotent: retry::idempotent(method),
                uri: uri.clone(),
                headers: self
                    .headers
                    .iter()
                    .filter(|(name, _)| !names(&request.headers, name))
                    .chain(&request.headers)
                    .filter(|(name, _)| same || !is_credential(name))
                    .chain(range.iter().flatten().filter(|_| hops == 0))
                    .map(|(name, value)| (name.as_str(), value.as_str()))
                    .chain(
                        login
                            .as_deref()
                            .filter(|_| !users_authorization)
                            .map(|value| (AUTHORIZATION.as_str(), value)),
                    )
                    .chain(
                        self.accept_encoding
                            .filter(|_| !names(&request.headers, ACCEPT_ENCODING.as_str()))
                            .map(|value| (ACCEPT_ENCODING.as_str(), value)),
                    )
                    .collect(),
                body,
            };
            let sent_at = Instant::now();
            *phases = Phases::default();
            let sent = transport.send(outgoing, phases).await;
            if phases.connect.is_none_or(|at| at < sent_at) {
                // No new connection of this request's (reused, made for another request, or
                // failed to connect): no phases, not even a name lookup on the way (ureq asks
                // its resolver before it looks for an idle connection).
                *phases = Phases::default();
            }
            let mut head = sent.map_err(|mut e| {
                // A timeout at the whole-request limit says so in the same words on every
                // engine (ureq says "timeout: global", hyper's side names the phase).
                let past = deadline.is_some_and(|d| Instant::now() >= d);
                if e.kind == ErrorKind::Timeout && past {
                    e = max_time_error(max_time);
                }
                // Name the proxy in what failed through it (a refused proxy, say).
                if let Some(proxy) = proxy {
                    e.message = format!("{} (through proxy {})", e.message, proxy.shown);
                }
                (1, e)
            })?;
            phases.first_byte = Some(Instant::now());
            if !is_redirect(head.status) || self.max_redirects == 0 {
                head.url = url.into_owned();
                return Ok(head);
            }
            let location = head.headers.get(LOCATION).and_then(|v| v.to_str().ok());
            let Some(location) = location.map(str::to_owned) else {
                // A 3xx without Location is returned as it is.
                head.url = url.into_owned();
                return Ok(head);
            };
            if hops == self.max_redirects {
                let message = format!("more than {} redirects", self.max_redirects);
                return Err((1, FetchError::new(ErrorKind::Redirect, message)));
            }
            let target = redirect_target(&url, &location).map_err(|e| (1, e))?;
            drain(&mut head.body).await;
            // 303 always, and 301/302 after a POST, become a GET without a body (RFC 9110
            // §15.4, as browsers and curl do); 307/308 repeat the request as it was.
            if head.status == 303 && method != "HEAD"
                || matches!(head.status, 301 | 302) && method == "POST"
            {
                method = "GET";
                body = None;
            }
            let checked = check_url(&target).map_err(|e| {
                let message = format!("redirect to a bad URL: {}", e.message);
                (1, FetchError::new(ErrorKind::Redirect, message))
            })?;
            let (bare, own) = without_credentials(checked);
            login = match own {
                Some(own) => Some(basic_auth(&own)),
                None if same_origin(&first, &bare) => first_login.as_ref().map(basic_auth),
                None => None,
            };
            uri = bare;
            url = std::borrow::Cow::Owned(target);
            hops += 1;
        }
    }
}

/// The error of a request past its whole-request time limit.
fn max_time_error(max_time: Option<Duration>) -> FetchError {
    let max = max_time.unwrap_or_default();
    FetchError::new(
        ErrorKind::Timeout,
        format!("the whole-request time limit ({max:?}) passed before the last byte"),
    )
}

/// Whether `headers` name `name` (in any case).
fn names(headers: &[(String, String)], name: &str) -> bool {
    headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Headers that carry credentials: not sent to another origin after a redirect.
fn is_credential(name: &str) -> bool {
    [AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h.as_str()))
}

fn same_origin(a: &http::Uri, b: &http::Uri) -> bool {
    let same = |x: Option<&str>, y: Option<&str>| match (x, y) {
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
        (x, y) => x == y,
    };
    same(a.scheme_str(), b.scheme_str())
        && same(
            a.authority().map(|x| x.as_str()),
            b.authority().map(|x| x.as_str()),
        )
}

/// Where a `Location` points, resolved against `base`; only http(s) targets are followed.
fn redirect_target(base: &str, location: &str) -> Result<String, FetchError> {
    let bad = |why: String| FetchError::new(ErrorKind::Redirect, why);
    let base = url::Url::parse(base).map_err(|e| bad(format!("cannot resolve a redirect: {e}")))?;
    let target = base
        .join(location)
        .map_err(|e| bad(format!("bad redirect Location: {e}")))?;
    match target.scheme() {
        "http" | "https" => Ok(target.into()),
        scheme => Err(bad(format!(
            "redirect to an unsupported scheme {scheme}: (only http and https are followed)"
        ))),
    }
}

/// Read and drop up to a little of a body, so the connection can serve the next hop.
async fn drain(body: &mut impl BodyStream) {
    let mut read = 0;
    while read < REDIRECT_BODY_DRAIN {
        match body.chunk().await {
            Ok(Some(chunk)) => read += chunk.len() as u64,
            _ => return,
        }
    }
}

/// How a 206 answer to `Range: bytes=OFFSET-` + `If-Range: VALIDATOR` continues a part file,
/// if it provably does: its `Content-Range` starts exactly at `offset` and runs to the end of
/// the body, and it carries the validator that was sent (so the file never mixes two
/// versions). The sink then takes exactly the bytes it announced.
fn continuation(
    headers: &http::HeaderMap,
    offset: u64,
    validator: &str,
) -> Option<sink::Continuation> {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let (start, end, total) = parse_content_range(header(CONTENT_RANGE)?)?;
    let same_body = header(ETAG).or_else(|| header(LAST_MODIFIED)) == Some(validator);
    // The part holds bytes as sent without a coding poolfetch decodes; a range of an
    // encoded representation does not continue it.
    if decode::Decoder::codings(headers).is_some() {
        return None;
    }
    let to_the_end = total.is_none_or(|total| end + 1 == total);
    (start == offset && same_body && to_the_end).then_some(sink::Continuation {
        offset,
        length: end - start + 1,
    })
}

/// `bytes START-END/TOTAL` (TOTAL may be `*`), with START <= END < TOTAL.
fn parse_content_range(text: &str) -> Option<(u64, u64, Option<u64>)> {
    let (range, total) = text.trim().strip_prefix("bytes ")?.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let (start, end): (u64, u64) = (start.trim().parse().ok()?, end.trim().parse().ok()?);
    let total = match total.trim() {
        "*" => None,
        total => Some(total.parse::<u64>().ok()?),
    };
    (start <= end && total.is_none_or(|total| end < total)).then_some((start, end, total))
}

/// How a record names an HTTP version.
fn version_name(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2",
        http::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

/// The record error for a body the sink could not take.
/// Where body chunks go: straight into the sink, or through a decoder into it.
enum Sink {
    Plain(BodySink),
    /// An encoded body before its first byte: an empty one has nothing to decode (a HEAD, a
    /// 204 or 304, `Content-Length: 0`, with `Content-Encoding: gzip`).
    Encoded(Option<(BodySink, Vec<&'static str>)>),
    Decoding(Box<decode::Decoder>),
}

impl Sink {
    fn push(&mut self, chunk: &[u8]) -> Result<(), FetchError> {
        if chunk.is_empty() {
            return Ok(());
        }
        if let Sink::Encoded(pending) = self
            && let Some((sink, codings)) = pending.take()
        {
            *self = Sink::Decoding(Box::new(decode::Decoder::new(&codings, sink)));
        }
        match self {
            Sink::Plain(sink) => sink.push(chunk).map_err(sink_error),
            Sink::Decoding(decoder) => decoder.push(chunk).map_err(decode_error),
            Sink::Encoded(_) => Err(FetchError::new(ErrorKind::Internal, "a sink lost")),
        }
    }

    /// The sink, once the last decoded bytes are in it.
    fn finish(self) -> Result<BodySink, FetchError> {
        match self {
            Sink::Plain(sink) | Sink::Encoded(Some((sink, _))) => Ok(sink),
            Sink::Decoding(decoder) => decoder.finish().map_err(decode_error),
            Sink::Encoded(None) => Err(FetchError::new(ErrorKind::Internal, "a sink lost")),
        }
    }
}

fn decode_error(error: decode::DecodeError) -> FetchError {
    match error {
        decode::DecodeError::Sink(e) => sink_error(e),
        decode::DecodeError::Corrupt(e) => FetchError::new(
            ErrorKind::Protocol,
            format!("the body is not what its Content-Encoding says: {e}"),
        ),
    }
}

fn sink_error(error: SinkError) -> FetchError {
    match error {
        SinkError::TooLarge { limit } => FetchError::new(
            ErrorKind::TooLarge,
            format!("body is larger than the cap of {limit} bytes; nothing was kept"),
        ),
        SinkError::File(path, e) => FetchError::new(
            ErrorKind::Io,
            format!("cannot write {}: {e}", path.display()),
        ),
        SinkError::Length { announced, got } => FetchError::new(
            ErrorKind::Protocol,
            format!(
                "206 Partial Content announced {announced} bytes in Content-Range but sent {got}; the download is not kept"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_targets_resolve_and_only_http_is_followed() {
        let base = "http://h:1/a/b?q=1";
        assert_eq!(redirect_target(base, "/x").unwrap(), "http://h:1/x");
        assert_eq!(redirect_target(base, "c").unwrap(), "http://h:1/a/c");
        assert_eq!(redirect_target(base, "https://o/").unwrap(), "https://o/");
        for hostile in ["file:///etc/passwd", "javascript:alert(1)", "ftp://h/x"] {
            let error = redirect_target(base, hostile).unwrap_err();
            assert_eq!(error.kind, ErrorKind::Redirect, "{hostile}");
        }
        assert!(is_credential("authorization") && is_credential("Cookie"));
        assert!(!is_credential("Accept"));
    }
}
