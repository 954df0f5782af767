//! The embedded HTTP/1.1 server (tokio + hyper) for demos, tests and benchmarks.
//!
//! It binds 127.0.0.1 by default, answers every request from a task (not a thread), so
//! thousands of requests can wait at once, and counts what tests need to pin the engine's
//! invariants: TCP connections accepted and the most requests in flight at once.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpSocket;

mod timer;
use timer::Timer;

/// The longest `/delay/{ms}` honoured (10 minutes); longer ones are clamped.
const MAX_DELAY_MS: u64 = 600_000;
/// Size of the chunks `/bytes/{n}` streams.
const CHUNK: usize = 64 * 1024;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to bind; port 0 picks a free one (default `127.0.0.1:0`).
    pub addr: SocketAddr,
    /// Delay added to every route, like a far-away server.
    pub latency: Duration,
    /// Tokio worker threads answering requests (default 2).
    pub threads: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            latency: Duration::ZERO,
            threads: 2,
        }
    }
}

/// Counters the server keeps; read them with [`Server::stats`].
#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    requests: AtomicU64,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
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
    addr: SocketAddr,
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
        let listener = runtime.block_on(async {
            let socket = if config.addr.is_ipv4() {
                TcpSocket::new_v4()?
            } else {
                TcpSocket::new_v6()?
            };
            socket.set_reuseaddr(true)?;
            socket.bind(config.addr)?;
            // A deep backlog so a burst of a thousand connects is not refused.
            socket.listen(4096)
        })?;
        let addr = listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let state = Arc::new(State {
            timer: Timer::start()?,
            latency: config.latency,
            counters: Arc::clone(&counters),
        });
        runtime.spawn(accept_loop(listener, state));
        Ok(Server {
            addr,
            counters,
            runtime: Some(runtime),
        })
    }

    /// The bound address (with the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
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
    }
}

struct State {
    timer: Timer,
    latency: Duration,
    counters: Arc<Counters>,
}

async fn accept_loop(listener: tokio::net::TcpListener, state: Arc<State>) {
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
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let state = Arc::clone(&state);
                async move { Ok::<_, Infallible>(handle(request, &state).await) }
            });
            // A client that hangs up mid-response is not the server's problem.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Counts a request as in flight until dropped.
struct InFlight<'a>(&'a Counters);

impl<'a> InFlight<'a> {
    fn enter(counters: &'a Counters) -> Self {
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

async fn handle(request: hyper::Request<Incoming>, state: &State) -> Response<ServerBody> {
    // `/stats` reports the counters without counting itself or waiting for --latency.
    if request.uri().path() == "/stats" {
        let c = &state.counters;
        return json_response(
            StatusCode::OK,
            json!({
                "connections": c.connections.load(Ordering::SeqCst),
                "requests": c.requests.load(Ordering::SeqCst),
                "max_in_flight": c.max_in_flight.load(Ordering::SeqCst),
            }),
        );
    }
    let _in_flight = InFlight::enter(&state.counters);
    state.timer.sleep(state.latency).await;
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (&method, segments.as_slice()) {
        (&Method::GET, ["todos", id]) => match id.parse::<u32>() {
            Ok(id @ 1..=200) => json_response(StatusCode::OK, todo(id)),
            _ => not_found(&path),
        },
        (&Method::GET, ["delay", ms]) => match ms.parse::<u64>() {
            Ok(ms) => {
                let ms = ms.min(MAX_DELAY_MS);
                state.timer.sleep(Duration::from_millis(ms)).await;
                json_response(StatusCode::OK, json!({ "delayed_ms": ms }))
            }
            Err(_) => bad_request("delay takes milliseconds, e.g. /delay/100"),
        },
        (&Method::GET, ["bytes", n]) => match n.parse::<u64>() {
            Ok(n) => Response::builder()
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(ServerBody::Generated { remaining: n })
                .unwrap_or_else(|_| internal_error()),
            Err(_) => bad_request("bytes takes a byte count, e.g. /bytes/1024"),
        },
        (&Method::GET, ["status", code]) => {
            match code
                .parse::<u16>()
                .ok()
                .and_then(|c| StatusCode::from_u16(c).ok())
            {
                Some(code) if code.as_u16() >= 200 => {
                    json_response(code, json!({ "status": code.as_u16() }))
                }
                _ => bad_request("status takes a code from 200 to 599"),
            }
        }
        (&Method::POST, ["post"]) => echo(request).await,
        _ => not_found(&path),
    }
}

/// The `/todos/{id}` document, shaped like jsonplaceholder's.
fn todo(id: u32) -> serde_json::Value {
    json!({
        "userId": (id - 1) / 20 + 1,
        "id": id,
        "title": format!("todo number {id}"),
        "completed": id.is_multiple_of(3),
    })
}

async fn echo(request: hyper::Request<Incoming>) -> Response<ServerBody> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let data = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return bad_request("could not read the request body"),
    };
    let parsed_json: Option<serde_json::Value> = serde_json::from_slice(&data).ok();
    json_response(
        StatusCode::OK,
        json!({
            "content_type": content_type,
            "bytes": data.len(),
            "data": String::from_utf8_lossy(&data),
            "json": parsed_json,
        }),
    )
}

fn json_response(status: StatusCode, value: serde_json::Value) -> Response<ServerBody> {
    let mut response = Response::new(ServerBody::Full(Some(Bytes::from(value.to_string()))));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn not_found(path: &str) -> Response<ServerBody> {
    json_response(
        StatusCode::NOT_FOUND,
        json!({ "error": "not found", "path": path }),
    )
}

fn bad_request(message: &str) -> Response<ServerBody> {
    json_response(StatusCode::BAD_REQUEST, json!({ "error": message }))
}

fn internal_error() -> Response<ServerBody> {
    json_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({ "error": "internal" }),
    )
}

/// One 64 KiB block of printable bytes, shared by every `/bytes` response.
fn pattern() -> &'static Bytes {
    static PATTERN: OnceLock<Bytes> = OnceLock::new();
    PATTERN.get_or_init(|| {
        Bytes::from(
            (0..CHUNK)
                .map(|i| b'a' + (i % 26) as u8)
                .collect::<Vec<_>>(),
        )
    })
}

/// Response bodies: a whole buffer, or `n` generated bytes streamed in chunks.
pub enum ServerBody {
    /// A complete body, sent in one frame.
    Full(Option<Bytes>),
    /// Generated bytes still to send.
    Generated {
        /// Bytes left.
        remaining: u64,
    },
}

impl Body for ServerBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        let frame = match this {
            ServerBody::Full(data) => data.take().map(Frame::data),
            ServerBody::Generated { remaining } => {
                if *remaining == 0 {
                    None
                } else {
                    let take = (*remaining).min(CHUNK as u64) as usize;
                    *remaining -= take as u64;
                    Some(Frame::data(pattern().slice(..take)))
                }
            }
        };
        Poll::Ready(frame.map(Ok))
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ServerBody::Full(data) => data.is_none(),
            ServerBody::Generated { remaining } => *remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ServerBody::Full(data) => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            ServerBody::Generated { remaining } => SizeHint::with_exact(*remaining),
        }
    }
}
