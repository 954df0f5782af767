//! The async contrast engine: one tokio runtime and `reqwest`, with at most `pool` requests in
//! flight (a semaphore), or no limit at all with `pool = 0` — the bare `gather` of every request.
//!
//! It runs the same fetch core as the thread engine through its own [`Transport`], behind the
//! same [`Engine`] seam, so ordering, windows, batches, retries, limits, redirects,
//! cancellation, error kinds and records are shared; only how one request travels differs.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{Either, select};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use super::tokio_tls::rustls_config;
use crate::cancel::CancelToken;
use crate::config::{Config, ConfigError};
use crate::fetch::classify::{Hint, Panicked, classify};
use crate::fetch::resolver::CachingResolver;
use crate::fetch::{BodyStream, Core, Head, Live, Outgoing, Transport, panic_message};
use crate::record::{ErrorKind, FetchError};
use crate::run::{Engine, Ticket};

/// Requests as tokio tasks on a runtime of its own, sharing one `reqwest::Client`.
pub(crate) struct AsyncEngine {
    runtime: Option<tokio::runtime::Runtime>,
    tickets: mpsc::UnboundedSender<Ticket>,
}

/// The fetch core and the client, shared by every task.
struct Shared {
    core: Arc<Core>,
    transport: ReqwestTransport,
}

impl AsyncEngine {
    /// A runtime and client for `config`; `pool = 0` means no concurrency limit.
    pub(crate) fn new(
        config: &Config,
        resolver: CachingResolver,
        live: Arc<Live>,
    ) -> Result<Self, ConfigError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .thread_name("poolfetch-async")
            .enable_all()
            .build()
            .map_err(|e| ConfigError::Pool(e.to_string()))?;
        let core = Core::new(config, live)?;
        let rules = Arc::new(core.proxies().clone());
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(rustls_config(config)?)
            .connect_timeout(config.timeout)
            // Per read, like the thread engine: covers the wait for the response head and
            // every stall of the body, but not a long download that keeps moving.
            .read_timeout(config.timeout)
            .user_agent(concat!("poolfetch/", env!("CARGO_PKG_VERSION")))
            .tcp_nodelay(true)
            // The core follows redirects (the same rules on both engines).
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(ReqwestResolver(Arc::new(resolver))))
            // Proxies are chosen by the same rules as the thread engine's, not by reqwest.
            .no_proxy();
        if !rules.is_empty() {
            builder = builder.proxy(reqwest::Proxy::custom(move |url| {
                rules
                    .for_target(url.scheme(), url.host_str()?)
                    .map(str::to_owned)
            }));
        }
        let client = builder
            .build()
            .map_err(|e| ConfigError::Pool(format!("cannot build the async client: {e}")))?;
        let shared = Arc::new(Shared {
            core,
            transport: ReqwestTransport { client },
        });
        let limit = (config.pool > 0).then(|| Arc::new(Semaphore::new(config.pool)));
        let (tickets, queue) = mpsc::unbounded_channel();
        runtime.spawn(dispatch(queue, shared, limit));
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
    shared: Arc<Shared>,
    limit: Option<Arc<Semaphore>>,
) {
    while let Some(ticket) = queue.recv().await {
        // Held until the request is done: at most `pool` run at once.
        let permit = match &limit {
            Some(limit) => Arc::clone(limit).acquire_owned().await.ok(),
            None => None,
        };
        tokio::spawn(run(ticket, Arc::clone(&shared), permit));
    }
}

async fn run(ticket: Ticket, shared: Arc<Shared>, permit: Option<OwnedSemaphorePermit>) {
    let Shared { core, transport } = &*shared;
    // hyper hands a finished connection back to its pool from the connection's own task;
    // one yield lets that happen before the next request takes the permit and looks for an
    // idle connection (without it a debug build opened a 6th connection for a pool of 5).
    let release = async move {
        tokio::task::yield_now().await;
        drop(permit);
    };
    ticket.run(core, transport, None, release).await;
}

/// The shared `reqwest::Client` as the core's transport.
struct ReqwestTransport {
    client: reqwest::Client,
}

impl Transport for ReqwestTransport {
    type Body = ReqwestBody;

    async fn send(&self, request: Outgoing<'_>) -> Result<Head<ReqwestBody>, FetchError> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|_| {
            let message = format!("invalid method {:?}", request.method);
            FetchError::new(ErrorKind::InvalidUrl, message)
        })?;
        let send = || {
            let mut builder = self.client.request(method.clone(), request.uri.to_string());
            for (name, value) in &request.headers {
                builder = builder.header(*name, *value);
            }
            if let Some(left) = request.time_left {
                builder = builder.timeout(left);
            }
            if let Some(body) = request.body {
                if let Some(content_type) = &body.content_type {
                    builder = builder.header(reqwest::header::CONTENT_TYPE, content_type);
                }
                builder = builder.body(body.bytes.clone());
            }
            builder.send()
        };
        // A keep-alive connection the server closed just as it was reused fails a request
        // the server never answered (hyper's "connection closed before message completed"):
        // one that may be sent twice is sent once more, as the thread engine does.
        let mut response = match send().await {
            Err(e) if request.idempotent && closed_before_answer(&e) => send().await,
            result => result,
        }
        .map_err(|e| classify_reqwest(&e))?;
        Ok(Head {
            status: response.status().as_u16(),
            headers: std::mem::take(response.headers_mut()),
            body: ReqwestBody {
                response,
                chunk: bytes::Bytes::new(),
            },
        })
    }

    async fn sleep(&self, duration: Duration, cancel: &CancelToken) -> bool {
        let timer = std::pin::pin!(tokio::time::sleep(duration));
        let stopped = std::pin::pin!(cancel.cancelled());
        matches!(select(timer, stopped).await, Either::Left(_))
    }
}

/// Whether `error` is a connection closed before any response came back.
fn closed_before_answer(error: &reqwest::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if e.downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_incomplete_message)
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// A reqwest body, chunk by chunk (the last chunk is kept so it can be lent out).
struct ReqwestBody {
    response: reqwest::Response,
    chunk: bytes::Bytes,
}

impl BodyStream for ReqwestBody {
    async fn chunk(&mut self) -> Result<Option<&[u8]>, FetchError> {
        match self.response.chunk().await {
            Ok(Some(chunk)) => {
                self.chunk = chunk;
                Ok(Some(&self.chunk))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(classify_reqwest(&e)),
        }
    }
}

/// reqwest's error through the one table: what `reqwest::Error` and hyper know is the hint.
fn classify_reqwest(error: &reqwest::Error) -> FetchError {
    let mut broken_http = false;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(hyper_error) = e.downcast_ref::<hyper::Error>() {
            broken_http |= hyper_error.is_parse() || hyper_error.is_parse_status();
        }
        cause = e.source();
    }
    let hint = if error.is_timeout() {
        Hint::certain(ErrorKind::Timeout)
    } else if error.is_builder() {
        Hint::certain(ErrorKind::InvalidUrl)
    } else if broken_http {
        Hint::certain(ErrorKind::Protocol)
    } else if error.is_connect() {
        Hint::fallback(ErrorKind::Connect)
    } else if error.is_decode() {
        Hint::fallback(ErrorKind::Protocol)
    } else {
        Hint::default()
    };
    classify(error, hint)
}

/// poolfetch's resolver answering reqwest's lookups on a blocking task.
struct ReqwestResolver(Arc<CachingResolver>);

impl reqwest::dns::Resolve for ReqwestResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = Arc::clone(&self.0);
        Box::pin(async move {
            let host = name.as_str().to_string();
            // hyper sets the port; the lookup answers port 0.
            let found = tokio::task::spawn_blocking(move || resolver.lookup(&host, 0)).await;
            match found {
                Ok(Ok(addrs)) => Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs),
                Ok(Err(e)) => Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
                Err(e) if e.is_panic() => Err(Box::new(Panicked(panic_message(&*e.into_panic())))
                    as Box<dyn std::error::Error + Send + Sync>),
                Err(e) => Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
            }
        })
    }
}
