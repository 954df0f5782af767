//! The embedded HTTP/1.1 server (tokio + hyper) for demos, tests and benchmarks.
//!
//! It binds 127.0.0.1 by default, answers every request from a task (not a thread), so
//! thousands of requests can wait at once, and counts what tests need to pin the engine's
//! invariants: TCP connections accepted and the most requests in flight at once.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::FutureExt;
use hyper_util::rt::TokioIo;
use tokio::net::TcpSocket;

mod body;
mod faults;
mod routes;
mod timer;
pub use body::ServerBody;
use timer::Timer;

/// The longest `/delay/{ms}` honoured (10 minutes); longer ones are clamped.
pub(super) const MAX_DELAY_MS: u64 = 600_000;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to bind; port 0 picks a free one (default `127.0.0.1:0`).
    pub addr: SocketAddr,
    /// Delay added to every route, like a far-away server.
    pub latency: Duration,
    /// Tokio worker threads answering requests (default 2).
    pub threads: usize,
    /// Serve HTTPS with this identity instead of plain HTTP (for TLS tests).
    pub tls: Option<TlsIdentity>,
    /// Speak HTTP/2 too — h2c prior knowledge, and h2 by ALPN over TLS (default true); false
    /// makes an HTTP/1.1-only server (for fallback tests).
    pub http2: bool,
}

/// A certificate chain and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct TlsIdentity {
    /// The leaf certificate first, then any intermediates.
    pub cert_chain_pem: String,
    /// The leaf's private key.
    pub key_pem: String,
    /// Ask every client for a certificate signed by this CA (PEM), and refuse a client
    /// without one (for client-certificate tests); `None`: no client certificates.
    pub client_ca_pem: Option<String>,
}

impl TlsIdentity {
    fn acceptor(&self, http2: bool) -> io::Result<tokio_rustls::TlsAcceptor> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let invalid = |e: String| io::Error::new(io::ErrorKind::InvalidInput, e);
        let chain = CertificateDer::pem_slice_iter(self.cert_chain_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(e.to_string()))?;
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| invalid(e.to_string()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid(e.to_string()))?;
        let builder = match &self.client_ca_pem {
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                    roots
                        .add(cert.map_err(|e| invalid(e.to_string()))?)
                        .map_err(|e| invalid(e.to_string()))?;
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .map_err(|e| invalid(e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(|e| invalid(e.to_string()))?;
        // HTTP/2 for clients that offer it, HTTP/1.1 for the rest.
        config.alpn_protocols = if http2 {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            latency: Duration::ZERO,
            threads: 2,
            tls: None,
            http2: true,
        }
    }
}

/// Counters the server keeps; read them with [`Server::stats`].
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) connections: AtomicU64,
    pub(super) requests: AtomicU64,
    pub(super) in_flight: AtomicUsize,
    pub(super) max_in_flight: AtomicUsize,
    /// Handler panics caught (each answered with a 500); a test server with any fails on drop.
    pub(super) panics: AtomicU64,
}

/// A snapshot of the server's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// TCP connections accepted.
    pub connections: u64,
    /// Requests received.
    pub requests: u64,
    /// Most requests being handled at the same moment.
    pub max_in_flight: usize,
}

/// A running server; it stops when dropped.
pub struct Server {
    scheme: &'static str,
    addr: SocketAddr,
    fault_addr: SocketAddr,
    counters: Arc<Counters>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Server {
    /// Bind `config.addr` and start serving on a tokio runtime of its own.
    pub fn start(config: ServerConfig) -> io::Result<Server> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.threads.max(1))
            .thread_name("poolfetch-server")
            .enable_all()
            .build()?;
        let bind = |addr: SocketAddr| {
            runtime.block_on(async {
                let socket = if addr.is_ipv4() {
                    TcpSocket::new_v4()?
                } else {
                    TcpSocket::new_v6()?
                };
                socket.set_reuseaddr(true)?;
                socket.bind(addr)?;
                // A deep backlog so a burst of a thousand connects is not refused.
                socket.listen(4096)
            })
        };
        let listener = bind(config.addr)?;
        let addr = listener.local_addr()?;
        let fault_listener = bind(SocketAddr::new(addr.ip(), 0))?;
        let fault_addr = fault_listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let state = Arc::new(State {
            timer: Timer::start()?,
            latency: config.latency,
            counters: Arc::clone(&counters),
            http2: config.http2,
        });
        runtime.spawn(faults::accept_loop(fault_listener, Arc::clone(&state)));
        let tls = config
            .tls
            .as_ref()
            .map(|identity| identity.acceptor(config.http2))
            .transpose()?;
        runtime.spawn(accept_loop(listener, state, tls));
        Ok(Server {
            scheme: if config.tls.is_some() {
                "https"
            } else {
                "http"
            },
            addr,
            fault_addr,
            counters,
            runtime: Some(runtime),
        })
    }

    /// The bound address (with the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` (or `https://` when serving TLS) followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{}", self.scheme, self.addr, path)
    }

    /// The fault listener's address: every connection there is answered by hand with a
    /// broken response chosen by the path (see the `faults` module).
    pub fn fault_addr(&self) -> SocketAddr {
        self.fault_addr
    }

    /// `http://FAULT_ADDR` followed by `path`, e.g. `/malformed-status`.
    pub fn fault_url(&self, path: &str) -> String {
        format!("http://{}{}", self.fault_addr, path)
    }

    /// The counters now.
    pub fn stats(&self) -> Stats {
        Stats {
            connections: self.counters.connections.load(Ordering::SeqCst),
            requests: self.counters.requests.load(Ordering::SeqCst),
            max_in_flight: self.counters.max_in_flight.load(Ordering::SeqCst),
        }
    }

    /// Zero the counters (between runs of a sweep). Open connections stay open.
    pub fn reset_stats(&self) {
        self.counters.connections.store(0, Ordering::SeqCst);
        self.counters.requests.store(0, Ordering::SeqCst);
        let now = self.counters.in_flight.load(Ordering::SeqCst);
        self.counters.max_in_flight.store(now, Ordering::SeqCst);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        // A handler that panicked answered 500 and the client may have shrugged it off: make
        // the test (or bench) that used this server fail instead of passing on a server bug.
        let panics = self.counters.panics.load(Ordering::SeqCst);
        if panics > 0 && !std::thread::panicking() {
            panic!("the embedded server's handlers panicked {panics} time(s)");
        }
    }
}

pub(super) struct State {
    timer: Timer,
    latency: Duration,
    counters: Arc<Counters>,
    /// HTTP/2 is spoken too.
    http2: bool,
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    state: Arc<State>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Out of file descriptors and the like: wait a little rather than spin.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        state.counters.connections.fetch_add(1, Ordering::SeqCst);
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                // A failed handshake (an untrusting client) just ends the connection.
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        serve(TokioIo::new(stream), state).await;
                    }
                }
                None => serve(TokioIo::new(stream), state).await,
            }
        });
    }
}

fn serve<I>(io: I, state: Arc<State>) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    Box::pin(async move {
        let http2 = state.http2;
        let service = hyper::service::service_fn(move |request| {
            let state = Arc::clone(&state);
            async move {
                if request.method() == hyper::Method::CONNECT {
                    return Ok::<_, Infallible>(tunnel_to_self(request, state));
                }
                let handled = AssertUnwindSafe(routes::handle(request, &state)).catch_unwind();
                let response = handled.await.unwrap_or_else(|_| {
                    state.counters.panics.fetch_add(1, Ordering::SeqCst);
                    routes::internal_error()
                });
                Ok::<_, Infallible>(response)
            }
        });
        // HTTP/1.1, or HTTP/2 when the connection opens with its preface (h2c prior
        // knowledge, or h2 chosen by ALPN). A client that hangs up mid-response is not the
        // server's problem.
        let mut builder =
            hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
        if !http2 {
            builder = builder.http1_only();
        }
        let _ = builder.serve_connection_with_upgrades(io, service).await;
    })
}

/// `CONNECT host:port`, as a client sends it to an HTTP proxy: the server answers 200 and then
/// serves its own routes inside the tunnel, whatever host was named. So the embedded server is
/// also a proxy for tests, and a test proves a request went through it.
fn tunnel_to_self(
    request: hyper::Request<hyper::body::Incoming>,
    state: Arc<State>,
) -> hyper::Response<ServerBody> {
    tokio::spawn(async move {
        if let Ok(upgraded) = hyper::upgrade::on(request).await {
            serve(upgraded, state).await;
        }
    });
    hyper::Response::new(ServerBody::Full(None))
}

/// Counts a request as in flight until dropped.
pub(super) struct InFlight<'a>(&'a Counters);

impl<'a> InFlight<'a> {
    pub(super) fn enter(counters: &'a Counters) -> Self {
        counters.requests.fetch_add(1, Ordering::SeqCst);
        let now = counters.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        counters.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(counters)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}
