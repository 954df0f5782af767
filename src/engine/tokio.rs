//! The async contrast engine: one tokio runtime and `reqwest`, with at most `pool` requests in
//! flight (a semaphore), or no limit at all with `pool = 0` — the bare `gather` of every request.
//!
//! It plugs into the same dispatcher as the thread engine ([`Engine`]), so ordering, windows,
//! batches, cancellation and records are shared; only how a request is run differs.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use ureq::unversioned::resolver::Resolver;

use crate::cancel::CancelToken;
use crate::config::{Config, ConfigError};
use crate::fetch::{
    Limits, Outcome, RetryPolicy, cancelled, host_key, io_kind, parse_retry_after, sink_error,
    status_error,
};
use crate::input::check_url;
use crate::record::{ErrorKind, FetchError};
use crate::request::Request;
use crate::run::{Engine, Ticket};
use crate::sink::{BodyPolicy, BodySink};

/// Requests as tokio tasks on a runtime of its own, sharing one `reqwest::Client`.
pub struct AsyncEngine {
    runtime: Option<tokio::runtime::Runtime>,
    tickets: mpsc::UnboundedSender<Ticket>,
}

struct AsyncFetcher {
    client: reqwest::Client,
    headers: Vec<(String, String)>,
    bodies: BodyPolicy,
    retry: RetryPolicy,
    limits: Limits,
}

impl AsyncEngine {
    /// A runtime and client for `config`; `pool = 0` means no concurrency limit.
    pub fn new(config: &Config) -> Result<Self, ConfigError> {
        Self::build(config, None)
    }

    /// Like [`new`](Self::new) with a ureq resolver adapted for reqwest (tests use this to
    /// reach the `dns` path without leaving the machine). It must answer without blocking.
    pub fn with_resolver(config: &Config, resolver: impl Resolver) -> Result<Self, ConfigError> {
        Self::build(config, Some(Arc::new(UreqResolver(resolver))))
    }

    fn build(
        config: &Config,
        resolver: Option<Arc<dyn reqwest::dns::Resolve>>,
    ) -> Result<Self, ConfigError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .thread_name("poolfetch-async")
            .enable_all()
            .build()
            .map_err(|e| ConfigError::Pool(e.to_string()))?;
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(crate::fetch::tls::rustls_config(config)?)
            .connect_timeout(config.timeout)
            // Per read, like the thread engine: covers the wait for the response head and
            // every stall of the body, but not a long download that keeps moving.
            .read_timeout(config.timeout)
            .user_agent(concat!("poolfetch/", env!("CARGO_PKG_VERSION")))
            .tcp_nodelay(true)
            .redirect(match config.max_redirects {
                0 => reqwest::redirect::Policy::none(),
                n => reqwest::redirect::Policy::limited(n as usize),
            });
        if let Some(resolver) = resolver {
            builder = builder.dns_resolver(resolver);
        }
        let client = builder
            .build()
            .map_err(|e| ConfigError::Pool(format!("cannot build the async client: {e}")))?;
        let fetcher = Arc::new(AsyncFetcher {
            client,
            headers: config.headers.clone(),
            bodies: BodyPolicy::of(config),
            retry: config.retry.clone(),
            limits: Limits::new(config.rate, config.per_host),
        });
        let limit = (config.pool > 0).then(|| Arc::new(Semaphore::new(config.pool)));
        let (tickets, queue) = mpsc::unbounded_channel();
        runtime.spawn(dispatch(queue, fetcher, limit));
        Ok(AsyncEngine {
            runtime: Some(runtime),
            tickets,
        })
    }
}

impl Drop for AsyncEngine {
    fn drop(&mut self) {
        // Never block: the engine may be dropped from inside another runtime.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Engine for AsyncEngine {
    fn start(&self, ticket: Ticket) {
        if let Err(mpsc::error::SendError(ticket)) = self.tickets.send(ticket) {
            // The runtime is gone (shutting down): the request is never sent.
            ticket.cancelled();
        }
    }
}

/// Hands out permits in ticket order, so requests start in index order (as the thread
/// pool's FIFO queue does) instead of in whatever order the runtime polls tasks.
async fn dispatch(
    mut queue: mpsc::UnboundedReceiver<Ticket>,
    fetcher: Arc<AsyncFetcher>,
    limit: Option<Arc<Semaphore>>,
) {
    while let Some(ticket) = queue.recv().await {
        // Held until the request is done: at most `pool` run at once.
        let permit = match &limit {
            Some(limit) => Arc::clone(limit).acquire_owned().await.ok(),
            None => None,
        };
        tokio::spawn(run(ticket, Arc::clone(&fetcher), permit));
    }
}

async fn run(ticket: Ticket, fetcher: Arc<AsyncFetcher>, permit: Option<OwnedSemaphorePermit>) {
    if ticket.is_cancelled() {
        ticket.cancelled();
        return;
    }
    let started = Instant::now();
    let (index, request, cancel) = (
        ticket.index,
        ticket.request.clone(),
        ticket.cancel_token().clone(),
    );
    // The fetch runs as its own task so that a panic in it is caught here and becomes a
    // record, instead of losing the ticket (and hanging the collector).
    let outcome =
        match tokio::spawn(async move { fetcher.fetch(index, &request, &cancel).await }).await {
            Ok(outcome) => outcome,
            Err(e) => Outcome {
                attempts: 1,
                error: Some(FetchError::new(
                    ErrorKind::Internal,
                    format!("async task failed: {e}"),
                )),
                ..Outcome::default()
            },
        };
    // hyper hands a finished connection back to its pool from the connection's own task;
    // one yield lets that happen before the next request takes the permit and looks for an
    // idle connection (without it a debug build opened a 6th connection for a pool of 5).
    tokio::task::yield_now().await;
    drop(permit);
    ticket.finish(outcome, None, started);
}

impl AsyncFetcher {
    /// Like the thread engine's `Client::fetch`: attempts with retries, one outcome.
    async fn fetch(&self, index: u64, request: &Request, cancel: &CancelToken) -> Outcome {
        let mut attempts = 0;
        loop {
            let slot = match self.limits.is_active().then(|| check_url(&request.url)) {
                Some(Ok(uri)) => match self.limits.acquire(&host_key(&uri), cancel).await {
                    Some(slot) => slot,
                    None => return cancelled(attempts),
                },
                _ => None,
            };
            let (mut outcome, retry_after) = self.attempt(index, request).await;
            drop(slot);
            match self.retry.after_attempt(
                &mut attempts,
                &request.method,
                &mut outcome,
                retry_after,
            ) {
                Some(wait) if cancel.sleep_async(wait).await => continue,
                _ => return outcome,
            }
        }
    }

    async fn attempt(&self, index: u64, request: &Request) -> (Outcome, Option<Duration>) {
        let mut outcome = Outcome::default();
        if let Err(error) = check_url(&request.url) {
            outcome.error = Some(error);
            return (outcome, None);
        }
        let method = match reqwest::Method::from_bytes(request.method.as_bytes()) {
            Ok(method) => method,
            Err(_) => {
                outcome.error = Some(FetchError::new(
                    ErrorKind::InvalidUrl,
                    format!("invalid method {:?}", request.method),
                ));
                return (outcome, None);
            }
        };
        outcome.attempts = 1;
        let mut builder = self.client.request(method, &request.url);
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = &request.body {
            if let Some(content_type) = &body.content_type {
                builder = builder.header(reqwest::header::CONTENT_TYPE, content_type);
            }
            builder = builder.body(body.bytes.clone());
        }
        let mut response = match builder.send().await {
            Ok(response) => response,
            Err(e) => {
                outcome.error = Some(classify(&e));
                return (outcome, None);
            }
        };
        let code = response.status().as_u16();
        outcome.status = Some(code);
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut sink = match BodySink::open(&self.bodies, index, &request.url, code) {
            Ok(sink) => sink,
            Err(e) => {
                outcome.error = Some(sink_error(e, read_error));
                return (outcome, retry_after);
            }
        };
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if let Err(e) = sink.push(&chunk) {
                        outcome.error = Some(sink_error(e, read_error));
                        return (outcome, retry_after);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    outcome.error = Some(classify(&e));
                    return (outcome, retry_after);
                }
            }
        }
        match sink.finish(content_type.as_deref()) {
            Ok(kept) => outcome.keep(kept),
            Err(e) => {
                outcome.error = Some(sink_error(e, read_error));
                return (outcome, retry_after);
            }
        }
        outcome.error = status_error(code);
        (outcome, retry_after)
    }
}

/// Body chunks come from reqwest, so a plain I/O error here is local.
fn read_error(e: io::Error) -> FetchError {
    FetchError::new(io_kind(&e), e.to_string())
}

/// Map a reqwest error to the same kinds the thread engine reports.
fn classify(error: &reqwest::Error) -> FetchError {
    let mut root: &dyn std::error::Error = error;
    let mut dns = false;
    let mut io_error = None;
    let mut tls = false;
    let mut broken_http = false;
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(e) = source {
        dns |= e.to_string().starts_with("dns error");
        tls |= e.is::<rustls::Error>();
        if let Some(hyper_error) = e.downcast_ref::<hyper::Error>() {
            broken_http |= hyper_error.is_parse() || hyper_error.is_parse_status();
        }
        if let Some(io) = e.downcast_ref::<io::Error>() {
            io_error.get_or_insert(io.kind());
            tls |= io_kind(io) == ErrorKind::Tls;
        }
        root = e;
        source = e.source();
    }
    let kind = if error.is_timeout() {
        ErrorKind::Timeout
    } else if error.is_builder() {
        ErrorKind::InvalidUrl
    } else if dns {
        ErrorKind::Dns
    } else if tls {
        ErrorKind::Tls
    } else if error.is_redirect() {
        ErrorKind::Redirect
    } else if broken_http {
        ErrorKind::Protocol
    } else if let Some(kind) = io_error {
        io_kind(&io::Error::from(kind))
    } else if error.is_connect() {
        ErrorKind::Connect
    } else if error.is_decode() {
        ErrorKind::Protocol
    } else {
        ErrorKind::Io
    };
    let message = if std::ptr::eq(
        root as *const _ as *const u8,
        error as *const _ as *const u8,
    ) {
        error.to_string()
    } else {
        format!("{error}: {root}")
    };
    FetchError::new(kind, message)
}

/// A ureq resolver answering reqwest's lookups.
struct UreqResolver<R>(R);

impl<R: Resolver> reqwest::dns::Resolve for UreqResolver<R> {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let result = format!("http://{}/", name.as_str())
            .parse::<ureq::http::Uri>()
            .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { Box::new(e) })
            .and_then(|uri| {
                self.0
                    .resolve(&uri, &ureq::config::Config::default(), Default::default())
                    .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { Box::new(e) })
            })
            .map(|addrs| -> reqwest::dns::Addrs {
                let list: Vec<std::net::SocketAddr> = addrs.iter().copied().collect();
                Box::new(list.into_iter())
            });
        Box::pin(std::future::ready(result))
    }
}
