//! The async engine's transport: hyper's `client::conn` driven directly, the way oha drives it
//! — a connection is a `SendRequest` handle and a task running the connection; idle HTTP/1.1
//! handles wait in a small pool keyed by (scheme, host, port, proxy) and are reused. With
//! `--http2` (ALPN) or `--http2-prior-knowledge` (h2c) every request to a host shares one
//! HTTP/2 connection, as many streams at once as the pool allows.
//!
//! Written over `client::conn` rather than reqwest or hyper-util's pooled client because each
//! of those layers (its own pool, its own timeouts, its own proxy and redirect logic) repeats
//! what the fetch core already does once for both engines, and cost the async engine 3× the
//! CPU per request of a bare hyper client. What is left here is only what one request needs:
//! poolfetch's resolver, a TCP connect bounded by `--timeout`, rustls (tokio-rustls), an HTTP
//! proxy (absolute-form requests for `http://`, a `CONNECT` tunnel for `https://`), and
//! per-phase and whole-request deadlines.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{
    CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderValue, PROXY_AUTHORIZATION, USER_AGENT,
};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::client::conn::http2;
use hyper_util::rt::TokioExecutor;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::cancel::CancelToken;
use crate::config::HttpVersion;
use crate::fetch::classify::{Hint, Panicked, classify};
use crate::fetch::proxy::{Proxy, ProxyKind};
use crate::fetch::resolver::{ATTEMPT_DELAY, CachingResolver, happy_eyeballs_order};
use crate::fetch::socks;
use crate::fetch::tls::LazyTls;
use crate::fetch::{BodyStream, Head, Live, Outgoing, Phases, Transport, panic_message};
use crate::record::{ErrorKind, FetchError};

/// Where a connection goes: idle connections are reused only for the same key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    https: bool,
    host: String,
    port: u16,
    /// The proxy it goes through, as the core chose it (parsed once, by the core).
    proxy: Option<Arc<Proxy>>,
}

impl Key {
    /// The proxy, if it is an HTTP one (absolute-form requests, `CONNECT` tunnels,
    /// `Proxy-Authorization`); a SOCKS5 proxy only carries the connection.
    fn http_proxy(&self) -> Option<&Proxy> {
        self.proxy.as_deref().filter(|proxy| proxy.is_http())
    }
}

/// Idle HTTP/1.1 connections by where they go.
type IdlePool = Arc<Mutex<HashMap<Key, Vec<Conn1>>>>;

/// An HTTP/1.1 connection's handle, and the address it is connected to (`remote_addr`).
struct Conn1 {
    sender: SendRequest<Full<Bytes>>,
    remote: Option<SocketAddr>,
    /// The first I/O error on its stream, noted as the connection's task met it: what
    /// "closed before an answer" really was (a TLS alert the server sent after the
    /// handshake), so that failure has one kind however the race between the task and the
    /// request falls.
    failed: Failed,
}

/// The first I/O error of a connection, classified.
type Failed = Arc<std::sync::OnceLock<FetchError>>;

/// A connection's stream that notes its first I/O error in [`Failed`] before hyper sees it.
struct Watched {
    inner: Box<dyn Io>,
    failed: Failed,
}

impl Watched {
    fn note<T>(
        &self,
        result: std::task::Poll<std::io::Result<T>>,
    ) -> std::task::Poll<std::io::Result<T>> {
        if let std::task::Poll::Ready(Err(e)) = &result {
            self.failed.get_or_init(|| classify(e, Hint::default()));
        }
        result
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let result = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        self.note(result)
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let result = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        self.note(result)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let result = std::pin::Pin::new(&mut self.inner).poll_flush(cx);
        self.note(result)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let result = std::pin::Pin::new(&mut self.inner).poll_shutdown(cx);
        self.note(result)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let result = std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.note(result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// What a host's HTTP/2 connection is: shared by every request to it, or known not to be
/// (the server did not take h2 by ALPN: HTTP/1.1 from then on).
enum Shared2 {
    /// Its HTTP/2 connections: one, and another each time every one carries
    /// [`STREAMS_PER_CONNECTION`] streams.
    Http2(Vec<Stream2>),
    Http1Only,
}

/// A host's HTTP/2 state, behind its lock.
#[derive(Default)]
struct Host2 {
    shared: Option<Shared2>,
    /// The last connection attempt that failed, and when: a request that waited for the lock
    /// while it was made fails with it instead of trying again, so no request waits behind
    /// another's deadline (a host that never answers costs each request one timeout, not its
    /// place in the line × the timeout).
    failed: Option<(Instant, FetchError)>,
}

/// One HTTP/2 connection and how many streams it carries now.
struct Stream2 {
    sender: http2::SendRequest<Full<Bytes>>,
    streams: Arc<AtomicUsize>,
    remote: Option<SocketAddr>,
}

/// Streams on one HTTP/2 connection before another is opened: RFC 9113 (6.5.2) asks servers
/// to allow at least 100 concurrent streams, so this many never wait inside a connection for
/// the server's `SETTINGS_MAX_CONCURRENT_STREAMS` (nginx: 128).
const STREAMS_PER_CONNECTION: usize = 100;

/// A stream counted on its connection until dropped (when its body ends or is given up).
pub(crate) struct StreamSlot(Arc<AtomicUsize>);

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A new connection: HTTP/1.1, or HTTP/2.
enum Connection {
    Http1(Conn1),
    Http2(http2::SendRequest<Full<Bytes>>, Option<SocketAddr>),
}

/// The shared client: TLS settings, the resolver, the idle connections.
pub(crate) struct HyperTransport {
    /// The TLS connector, and the same offering h2 by ALPN first.
    tls: LazyTls<(tokio_rustls::TlsConnector, tokio_rustls::TlsConnector)>,
    http: HttpVersion,
    /// One HTTP/2 connection per host, each made under its host's own lock (so a burst
    /// makes one, and a slow host holds up no other).
    h2: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<Host2>>>>,
    resolver: Arc<CachingResolver>,
    /// Response head and each body read (`--timeout`).
    timeout: Duration,
    /// The TCP connect (`--connect-timeout`, else `--timeout`).
    connect_timeout: Duration,
    idle: IdlePool,
    /// Most idle connections kept per key (the pool size: more are never in use at once).
    max_idle: usize,
    live: Arc<Live>,
    user_agent: HeaderValue,
}

impl HyperTransport {
    pub(crate) fn new(
        tls: LazyTls<(tokio_rustls::TlsConnector, tokio_rustls::TlsConnector)>,
        http: HttpVersion,
        resolver: CachingResolver,
        timeout: Duration,
        connect_timeout: Duration,
        max_idle: usize,
        live: Arc<Live>,
    ) -> Self {
        HyperTransport {
            tls,
            http,
            h2: Mutex::new(HashMap::new()),
            resolver: Arc::new(resolver),
            timeout,
            connect_timeout,
            idle: Arc::new(Mutex::new(HashMap::new())),
            max_idle: max_idle.max(1),
            live,
            user_agent: HeaderValue::from_static(concat!("poolfetch/", env!("CARGO_PKG_VERSION"))),
        }
    }

    /// An idle connection to `key` that is still open, if any.
    fn take_idle(&self, key: &Key) -> Option<Conn1> {
        let mut idle = self.idle.lock().ok()?;
        let list = idle.get_mut(key)?;
        while let Some(conn) = list.pop() {
            if !conn.sender.is_closed() {
                return Some(conn);
            }
        }
        None
    }

    /// A new connection to `key`: resolve, connect, tunnel and TLS as needed; HTTP/2 when
    /// `want_h2` and the server takes it (by ALPN over TLS, or by prior knowledge on TCP).
    /// Each phase's end goes into `phases` as it comes, failure or not.
    async fn connect(
        &self,
        key: &Key,
        deadline: Option<Instant>,
        want_h2: bool,
        phases: &mut Phases,
    ) -> Result<Connection, FetchError> {
        let (host, port, proxy_auth) = match key.proxy.as_deref() {
            Some(proxy) => (
                proxy.host.clone(),
                proxy.port,
                key.http_proxy().and_then(proxy_authorization),
            ),
            None => (key.host.clone(), key.port, None),
        };
        let mut tcp = within(
            deadline,
            self.connect_timeout,
            self.tcp(&host, port, phases),
        )
        .await
        .map_err(|_| timeout_error("connecting"))??;
        if let Some(proxy) = key.proxy.as_deref()
            && let ProxyKind::Socks5 { remote } = proxy.kind
        {
            within(
                deadline,
                self.connect_timeout,
                self.socks(&mut tcp, key, proxy, remote, phases),
            )
            .await
            .map_err(|_| timeout_error("in the SOCKS5 handshake"))??;
        }
        phases.connect = Some(Instant::now());
        self.live.connections.fetch_add(1, Ordering::Relaxed);
        let remote = tcp.peer_addr().ok();
        let mut io: Box<dyn Io> = Box::new(tcp);
        // An https:// proxy is itself reached over TLS.
        if let Some(proxy) = key.http_proxy()
            && proxy.kind == ProxyKind::Https
        {
            io = self.tls(&host, io, deadline, false).await?.0;
        }
        // Over plain TCP only prior knowledge speaks h2 (h2c).
        let mut h2 = want_h2 && !key.https && key.http_proxy().is_none();
        if key.https {
            if key.http_proxy().is_some() {
                within(
                    deadline,
                    self.timeout,
                    tunnel(&mut io, &key.host, key.port, proxy_auth.as_ref()),
                )
                .await
                .map_err(|_| timeout_error("waiting for the proxy's CONNECT answer"))??;
            }
            let (tls, negotiated_h2) = self.tls(&key.host, io, deadline, want_h2).await?;
            phases.tls = Some(Instant::now());
            io = tls;
            h2 = negotiated_h2;
        }
        if h2 {
            let (sender, connection) = http2::handshake(TokioExecutor::new(), TokioIo::new(io))
                .await
                .map_err(|e| classify_hyper(&e))?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            return Ok(Connection::Http2(sender, remote));
        }
        let failed = Failed::default();
        let io = Watched {
            inner: io,
            failed: Arc::clone(&failed),
        };
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| classify_hyper(&e))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Connection::Http1(Conn1 {
            sender,
            remote,
            failed,
        }))
    }

    /// A new HTTP/1.1 connection to `key`.
    async fn connect_http1(
        &self,
        key: &Key,
        deadline: Option<Instant>,
        phases: &mut Phases,
    ) -> Result<Conn1, FetchError> {
        match self.connect(key, deadline, false, phases).await? {
            Connection::Http1(conn) => Ok(conn),
            Connection::Http2(..) => Err(FetchError::new(
                ErrorKind::Internal,
                "an HTTP/2 connection where HTTP/1.1 was asked",
            )),
        }
    }

    /// A stream on one of the host's HTTP/2 connections — the first with room, else a new
    /// one (its phases into `phases`) — or `None` when the host does not take h2 (fall back
    /// to HTTP/1.1).
    async fn shared_h2(
        &self,
        key: &Key,
        deadline: Option<Instant>,
        phases: &mut Phases,
    ) -> Result<
        Option<(
            http2::SendRequest<Full<Bytes>>,
            StreamSlot,
            Option<SocketAddr>,
        )>,
        FetchError,
    > {
        let slot = {
            let mut hosts = self.h2.lock().map_err(|_| {
                FetchError::new(ErrorKind::Internal, "the HTTP/2 table was poisoned")
            })?;
            Arc::clone(hosts.entry(key.clone()).or_default())
        };
        let asked = Instant::now();
        let mut host = slot.lock().await;
        if let Some((at, error)) = &host.failed
            && *at >= asked
        {
            return Err(error.clone());
        }
        let take = |conn: &Stream2| {
            conn.streams.fetch_add(1, Ordering::SeqCst);
            (
                conn.sender.clone(),
                StreamSlot(Arc::clone(&conn.streams)),
                conn.remote,
            )
        };
        match &mut host.shared {
            Some(Shared2::Http1Only) => return Ok(None),
            Some(Shared2::Http2(conns)) => {
                conns.retain(|conn| !conn.sender.is_closed());
                if let Some(conn) = conns
                    .iter()
                    .find(|conn| conn.streams.load(Ordering::SeqCst) < STREAMS_PER_CONNECTION)
                {
                    return Ok(Some(take(conn)));
                }
            }
            None => {}
        }
        let connected = match self.connect(key, deadline, true, phases).await {
            Ok(connected) => connected,
            Err(error) => {
                host.failed = Some((Instant::now(), error.clone()));
                return Err(error);
            }
        };
        host.failed = None;
        match connected {
            Connection::Http2(sender, remote) => {
                let conn = Stream2 {
                    sender,
                    streams: Arc::new(AtomicUsize::new(0)),
                    remote,
                };
                let taken = take(&conn);
                match &mut host.shared {
                    Some(Shared2::Http2(conns)) => conns.push(conn),
                    _ => host.shared = Some(Shared2::Http2(vec![conn])),
                }
                Ok(Some(taken))
            }
            Connection::Http1(conn) => {
                host.shared = Some(Shared2::Http1Only);
                drop(host);
                // Not wasted: the HTTP/1.1 connection the server chose waits for a request.
                self.put_idle(key.clone(), conn);
                Ok(None)
            }
        }
    }

    /// Drop the HTTP/2 connection `stream` was on from `key`'s list: it is dying, even if hyper
    /// does not say so yet.
    async fn forget_h2(&self, key: &Key, stream: &StreamSlot) {
        let slot = match self.h2.lock() {
            Ok(hosts) => hosts.get(key).map(Arc::clone),
            Err(_) => None,
        };
        if let Some(slot) = slot
            && let Some(Shared2::Http2(conns)) = &mut slot.lock().await.shared
        {
            conns.retain(|conn| !Arc::ptr_eq(&conn.streams, &stream.0));
        }
    }

    /// Keep an HTTP/1.1 connection for the next request to `key`.
    fn put_idle(&self, key: Key, conn: Conn1) {
        give_back(&self.idle, key, conn, self.max_idle);
    }

    /// Ask the SOCKS5 proxy at the other end of `tcp` for a connection to `key`'s host: by
    /// name (`socks5h://`, `remote`) or by an address resolved here.
    async fn socks(
        &self,
        tcp: &mut TcpStream,
        key: &Key,
        proxy: &Proxy,
        remote: bool,
        phases: &mut Phases,
    ) -> Result<(), FetchError> {
        let resolved = if remote {
            Vec::new()
        } else {
            let addrs = self.resolve(&key.host, key.port).await?;
            phases.dns = Some(Instant::now());
            addrs
        };
        let target = socks::Target::of(&key.host, key.port, remote, &resolved)?;
        let login = proxy
            .login
            .as_ref()
            .map(|(u, p)| (u.as_slice(), p.as_slice()));
        socks::handshake(&mut TokioWire(tcp), target, login).await
    }

    /// `io` wrapped in TLS to `host`, the certificate checked as configured.
    async fn tls(
        &self,
        host: &str,
        io: Box<dyn Io>,
        deadline: Option<Instant>,
        offer_h2: bool,
    ) -> Result<(Box<dyn Io>, bool), FetchError> {
        let name =
            rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_string())
                .map_err(|e| FetchError::new(ErrorKind::InvalidUrl, e.to_string()))?;
        let (plain, offering_h2) = self.tls.get()?;
        let connector = if offer_h2 { offering_h2 } else { plain };
        let tls = within(deadline, self.timeout, connector.connect(name, io))
            .await
            .map_err(|_| timeout_error("in the TLS handshake"))?
            .map_err(|e| classify(&e, Hint::fallback(ErrorKind::Tls)))?;
        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
        Ok((Box::new(tls), h2))
    }

    /// A TCP connection to `host:port` through poolfetch's resolver (the first address that
    /// answers).
    /// A TCP connection to `host`, by Happy Eyeballs (RFC 8305) when it has several
    /// addresses: IPv6 and IPv4 alternate, a new attempt starts every 250 ms or as soon as one
    /// fails, earlier ones keep going, and the first to connect wins.
    async fn tcp(
        &self,
        host: &str,
        port: u16,
        phases: &mut Phases,
    ) -> Result<TcpStream, FetchError> {
        use futures_util::StreamExt;
        use futures_util::stream::FuturesUnordered;
        let addrs = self.resolve(host, port).await?;
        phases.dns = Some(Instant::now());
        let mut next = happy_eyeballs_order(&addrs).into_iter();
        let mut attempts = FuturesUnordered::new();
        let mut last = None;
        loop {
            if let Some(addr) = next.next() {
                attempts.push(TcpStream::connect(addr));
            } else if attempts.is_empty() {
                break;
            }
            let delay = tokio::time::sleep(ATTEMPT_DELAY);
            tokio::pin!(delay);
            loop {
                let finished = futures_util::future::select(attempts.next(), &mut delay).await;
                match finished {
                    futures_util::future::Either::Left((Some(Ok(stream)), _)) => {
                        let _ = stream.set_nodelay(true);
                        return Ok(stream);
                    }
                    // A failure starts the next attempt at once.
                    futures_util::future::Either::Left((Some(Err(e)), _)) => {
                        last = Some(e);
                        break;
                    }
                    futures_util::future::Either::Left((None, _)) => break,
                    // Time for the next address beside the ones still trying.
                    futures_util::future::Either::Right(_) if next.len() > 0 => break,
                    futures_util::future::Either::Right(_) => delay
                        .as_mut()
                        .reset(tokio::time::Instant::now() + Duration::from_secs(3600)),
                }
            }
        }
        let error = last.unwrap_or_else(|| std::io::Error::other("no address to connect to"));
        Err(classify(&error, Hint::fallback(ErrorKind::Connect)))
    }

    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, FetchError> {
        let bare = host.trim_matches(['[', ']']);
        if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let resolver = Arc::clone(&self.resolver);
        let host = host.to_string();
        match tokio::task::spawn_blocking(move || resolver.lookup(&host, port)).await {
            Ok(Ok(addrs)) => Ok(addrs),
            Ok(Err(e)) => Err(classify(&e, Hint::default())),
            Err(e) if e.is_panic() => {
                let panicked = Panicked(panic_message(&*e.into_panic()));
                Err(classify(&panicked, Hint::default()))
            }
            Err(e) => Err(classify(&e, Hint::default())),
        }
    }

    /// The head and body of `response`; an HTTP/1.1 connection goes `back` to the idle pool
    /// once its body is read to the end.
    fn head(
        &self,
        response: http::Response<Incoming>,
        deadline: Option<Instant>,
        back: Option<Returned>,
        remote: Option<SocketAddr>,
    ) -> Head<HyperBody> {
        let (parts, body) = response.into_parts();
        Head {
            url: String::new(),
            remote,
            status: parts.status.as_u16(),
            version: parts.version,
            headers: parts.headers,
            body: HyperBody {
                body,
                chunk: Bytes::new(),
                timeout: self.timeout,
                deadline,
                back,
                stream: None,
            },
        }
    }

    /// The request hyper sends for `request` on a connection to `key`.
    fn build(
        &self,
        request: &Outgoing<'_>,
        key: &Key,
        h2: bool,
    ) -> Result<http::Request<Full<Bytes>>, FetchError> {
        let method = http::Method::from_bytes(request.method.as_bytes()).map_err(|_| {
            FetchError::new(
                ErrorKind::InvalidUrl,
                format!("invalid method {:?}", request.method),
            )
        })?;
        // Through an HTTP proxy (not tunnelled) the request line carries the whole URL, and
        // HTTP/2 takes scheme and authority from it.
        let target = if h2 || (key.http_proxy().is_some() && !key.https) {
            request.uri.clone()
        } else {
            let mut parts = http::uri::Parts::default();
            parts.path_and_query = Some(
                request
                    .uri
                    .path_and_query()
                    .cloned()
                    .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/")),
            );
            http::Uri::from_parts(parts).unwrap_or_else(|_| http::Uri::from_static("/"))
        };
        let bytes = request
            .body
            .map_or_else(Bytes::new, |body| Bytes::from(body.bytes.clone()));
        let has_body = request.body.is_some();
        let mut built = http::Request::builder()
            .method(method)
            .uri(target)
            .body(Full::new(bytes))
            .map_err(|e| FetchError::new(ErrorKind::InvalidUrl, e.to_string()))?;
        let headers = built.headers_mut();
        let default_port = if key.https { 443 } else { 80 };
        let authority = if key.port == default_port {
            key.host.clone()
        } else {
            format!("{}:{}", key.host, key.port)
        };
        // HTTP/2 says it in `:authority`.
        if !h2 && let Ok(host) = HeaderValue::from_str(&authority) {
            headers.insert(HOST, host);
        }
        headers.insert(USER_AGENT, self.user_agent.clone());
        if let (Some(proxy), false) = (key.http_proxy(), key.https)
            && let Some(auth) = proxy_authorization(proxy)
        {
            headers.insert(PROXY_AUTHORIZATION, auth);
        }
        if let Some(body) = request.body {
            if let Some(content_type) = &body.content_type
                && let Ok(value) = HeaderValue::from_str(content_type)
            {
                headers.insert(CONTENT_TYPE, value);
            }
            if has_body {
                headers.insert(CONTENT_LENGTH, HeaderValue::from(body.bytes.len()));
            }
        }
        let mut given: Vec<http::HeaderName> = Vec::new();
        for (name, value) in &request.headers {
            let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) else {
                continue;
            };
            // A user's header replaces the default of the same name (User-Agent,
            // Accept-Encoding…); a name the user gives twice is sent twice.
            if given.contains(&name) {
                headers.append(name, value);
            } else {
                given.push(name.clone());
                headers.insert(name, value);
            }
        }
        Ok(built)
    }
}

/// A tokio stream as the SOCKS5 handshake's wire.
struct TokioWire<'a, S>(&'a mut S);

impl<S: AsyncRead + AsyncWrite + Unpin> socks::Wire for TokioWire<'_, S> {
    async fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.0.write_all(bytes).await
    }

    async fn read_exact(&mut self, bytes: &mut [u8]) -> std::io::Result<()> {
        self.0.read_exact(bytes).await.map(|_| ())
    }
}

/// A stream hyper can run a connection on.
trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

impl Transport for HyperTransport {
    type Body = HyperBody;

    async fn send(
        &self,
        request: Outgoing<'_>,
        phases: &mut Phases,
    ) -> Result<Head<HyperBody>, FetchError> {
        let deadline = request.time_left.map(|left| Instant::now() + left);
        let https = request.uri.scheme_str() == Some("https");
        let key = Key {
            https,
            host: request.uri.host().unwrap_or_default().to_string(),
            port: request
                .uri
                .port_u16()
                .unwrap_or(if https { 443 } else { 80 }),
            proxy: request.proxy.cloned(),
        };
        let want_h2 = match self.http {
            HttpVersion::Http1 => false,
            HttpVersion::Http2 => https,
            HttpVersion::Http2PriorKnowledge => true,
        };
        // A shared HTTP/2 connection can die (GOAWAY, a broken frame) between being chosen
        // and carrying the request; hyper then hands the request back unsent. Or the server
        // says it never processed the stream: a GOAWAY whose last-stream-id is below it, or
        // `REFUSED_STREAM` (RFC 9113 §8.7). Either way the request goes again on another
        // connection, whatever its method ([`MAX_RESENDS`] times at most). A connection that failed a
        // request, timed out or was told to go away gets no further request.
        let mut resent = 0;
        while want_h2
            && let Some((mut sender, stream, remote)) =
                self.shared_h2(&key, deadline, phases).await?
        {
            let sent = async {
                sender.ready().await.map_err(SendError::Unsent)?;
                let built = self.build(&request, &key, true).map_err(SendError::Fetch)?;
                sender.try_send_request(built).await.map_err(|mut e| {
                    if e.take_message().is_some() {
                        SendError::Unsent(e.into_error())
                    } else {
                        SendError::Hyper(e.into_error())
                    }
                })
            };
            match within(deadline, self.timeout, sent).await {
                Err(_) => {
                    self.forget_h2(&key, &stream).await;
                    return Err(timeout_error("waiting for the response head"));
                }
                Ok(Ok(response)) => {
                    let mut head = self.head(response, deadline, None, remote);
                    head.body.stream = Some(stream);
                    return Ok(head);
                }
                Ok(Err(e)) => {
                    self.forget_h2(&key, &stream).await;
                    if !e.unprocessed() || resent == MAX_RESENDS {
                        return Err(e.into_fetch_error());
                    }
                    resent += 1;
                }
            }
        }
        let mut reused = true;
        let mut conn = match self.take_idle(&key) {
            Some(conn) => conn,
            None => {
                reused = false;
                self.connect_http1(&key, deadline, phases).await?
            }
        };
        let response = loop {
            let sent = async {
                conn.sender.ready().await.map_err(SendError::Hyper)?;
                let built = self
                    .build(&request, &key, false)
                    .map_err(SendError::Fetch)?;
                conn.sender
                    .send_request(built)
                    .await
                    .map_err(SendError::Hyper)
            };
            match within(deadline, self.timeout, sent).await {
                Err(_) => return Err(timeout_error("waiting for the response head")),
                Ok(Ok(response)) => break response,
                // A kept-alive connection the server closed just as it was reused fails a
                // request it never answered: one that may be sent twice goes once more, on a
                // new connection, as the thread engine does.
                Ok(Err(e)) if reused && request.idempotent && e.closed_before_answer() => {
                    reused = false;
                    conn = self.connect_http1(&key, deadline, phases).await?;
                }
                // Closed before an answer because its stream failed: that failure.
                Ok(Err(e)) => match conn.failed.get().filter(|_| e.closed_before_answer()) {
                    Some(failed) => return Err(failed.clone()),
                    None => return Err(e.into_fetch_error()),
                },
            }
        };
        let remote = conn.remote;
        let back = (Arc::clone(&self.idle), key, conn, self.max_idle);
        Ok(self.head(response, deadline, Some(back), remote))
    }

    async fn sleep(&self, duration: Duration, cancel: &CancelToken) -> bool {
        use futures_util::future::{Either, select};
        let timer = std::pin::pin!(tokio::time::sleep(duration));
        let stopped = std::pin::pin!(cancel.cancelled());
        matches!(select(timer, stopped).await, Either::Left(_))
    }
}

/// Why sending failed: hyper's error, hyper's error with the request never sent, or one of
/// ours (building the request).
enum SendError {
    Hyper(hyper::Error),
    Unsent(hyper::Error),
    Fetch(FetchError),
}

/// Times one request goes again on a new HTTP/2 connection after the server left it
/// unprocessed (a server that does so every time must not hold a worker forever; one that
/// ends each connection after a few requests may bump a stream more than once).
const MAX_RESENDS: u32 = 10;

impl SendError {
    /// The request never reached the server's application: handed back unsent, above a
    /// GOAWAY's last-stream-id, or refused (`REFUSED_STREAM`). Safe to send again.
    fn unprocessed(&self) -> bool {
        match self {
            SendError::Unsent(_) => true,
            SendError::Hyper(e) => h2_error(e).is_some_and(|h2| {
                h2.is_remote()
                    && (h2.is_go_away() || h2.reason() == Some(h2::Reason::REFUSED_STREAM))
            }),
            SendError::Fetch(_) => false,
        }
    }

    fn closed_before_answer(&self) -> bool {
        match self {
            SendError::Hyper(e) => e.is_incomplete_message() || e.is_canceled() || e.is_closed(),
            SendError::Unsent(_) => true,
            SendError::Fetch(_) => false,
        }
    }

    fn into_fetch_error(self) -> FetchError {
        match self {
            SendError::Hyper(e) | SendError::Unsent(e) => classify_hyper(&e),
            SendError::Fetch(e) => e,
        }
    }
}

/// A response body, frame by frame, each read bounded by `--timeout` (and what is left of
/// `--max-time`), as it came (the core decodes it). Read to the end, its connection goes back
/// to the idle pool.
pub(crate) struct HyperBody {
    body: Incoming,
    chunk: Bytes,
    timeout: Duration,
    deadline: Option<Instant>,
    back: Option<Returned>,
    /// The HTTP/2 stream it arrives on, counted on its connection until the body ends.
    stream: Option<StreamSlot>,
}

/// Where a connection goes back to when its body ends: the pool, its key, the handle, and
/// how many idle ones the key may keep.
type Returned = (IdlePool, Key, Conn1, usize);

impl HyperBody {
    /// The body ended: its connection may serve the next request.
    fn give_back(&mut self) {
        self.stream = None;
        if let Some((idle, key, conn, max)) = self.back.take() {
            give_back(&idle, key, conn, max);
        }
    }
}

/// Keep `sender` (still open) among `key`'s idle connections, at most `max` of them.
fn give_back(idle: &IdlePool, key: Key, conn: Conn1, max: usize) {
    if conn.sender.is_closed() {
        return;
    }
    if let Ok(mut idle) = idle.lock() {
        let list = idle.entry(key).or_default();
        if list.len() < max {
            list.push(conn);
        }
    }
}

impl BodyStream for HyperBody {
    async fn chunk(&mut self) -> Result<Option<&[u8]>, FetchError> {
        loop {
            let frame = within(self.deadline, self.timeout, self.body.frame())
                .await
                .map_err(|_| timeout_error("reading the body"))?;
            let data = match frame {
                None => {
                    self.give_back();
                    return Ok(None);
                }
                Some(Err(e)) => return Err(classify_hyper_body(&e)),
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => data,
                    Err(_) => continue, // trailers
                },
            };
            self.chunk = data;
            return Ok(Some(&self.chunk));
        }
    }
}

/// `future`, bounded by `per_phase` and by `deadline` (what is left of `--max-time`).
async fn within<F: Future>(
    deadline: Option<Instant>,
    per_phase: Duration,
    future: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    let limit = deadline.map_or(per_phase, |deadline| {
        deadline
            .saturating_duration_since(Instant::now())
            .min(per_phase)
    });
    tokio::time::timeout(limit, future).await
}

fn timeout_error(phase: &str) -> FetchError {
    FetchError::new(ErrorKind::Timeout, format!("timed out {phase}"))
}

/// hyper's error through the one table: a malformed response is `protocol`, over HTTP/1.1
/// (a parse error) or HTTP/2 (a protocol violation this side detected).
fn classify_hyper(error: &hyper::Error) -> FetchError {
    let hint = if error.is_parse()
        || error.is_parse_status()
        || error.is_parse_version_h2()
        || h2_violation(error).is_some()
    {
        Hint::certain(ErrorKind::Protocol)
    } else if error.is_timeout() {
        Hint::certain(ErrorKind::Timeout)
    } else {
        Hint::default()
    };
    classify(error, hint)
}

/// An error while reading a body. A stream the server ended short of its `content-length` is
/// a stream-level violation in HTTP/2's terms; it is `io` here, as the same cut body is over
/// HTTP/1.1, so the record does not depend on the version. A connection-level violation (bytes
/// that are not frames) stays `protocol`.
fn classify_hyper_body(error: &hyper::Error) -> FetchError {
    match h2_violation(error) {
        Some(h2) if !h2.is_go_away() => classify(error, Hint::certain(ErrorKind::Io)),
        _ => classify_hyper(error),
    }
}

/// The HTTP/2 error under `error` when this side found the peer broke the protocol (a
/// malformed head, bytes that are not frames, a body longer or shorter than announced) —
/// not a reset the server chose to send, not an I/O error.
fn h2_violation(error: &hyper::Error) -> Option<&h2::Error> {
    h2_error(error).filter(|h2| {
        !h2.is_remote()
            && !h2.is_io()
            && matches!(
                h2.reason(),
                Some(
                    h2::Reason::PROTOCOL_ERROR
                        | h2::Reason::COMPRESSION_ERROR
                        | h2::Reason::FRAME_SIZE_ERROR
                        | h2::Reason::FLOW_CONTROL_ERROR
                )
            )
    })
}

/// The HTTP/2 error under `error`, if it has one.
fn h2_error(error: &hyper::Error) -> Option<&h2::Error> {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(h2) = cause.downcast_ref::<h2::Error>() {
            return Some(h2);
        }
        source = cause.source();
    }
    None
}

/// `Proxy-Authorization: Basic …` for an HTTP proxy with a login (made once, by the core).
fn proxy_authorization(proxy: &Proxy) -> Option<HeaderValue> {
    HeaderValue::from_str(proxy.authorization.as_deref()?).ok()
}

/// Open a `CONNECT host:port` tunnel through the proxy at the other end of `stream`.
async fn tunnel(
    stream: &mut Box<dyn Io>,
    host: &str,
    port: u16,
    auth: Option<&HeaderValue>,
) -> Result<(), FetchError> {
    let io_error = |e: std::io::Error| classify(&e, Hint::fallback(ErrorKind::Connect));
    let mut head = format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n");
    if let Some(auth) = auth.and_then(|a| a.to_str().ok()) {
        head.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.map_err(io_error)?;
    let mut answer = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    // Byte by byte up to the blank line: nothing of the tunnel's own bytes may be read here.
    while !answer.ends_with(b"\r\n\r\n") {
        if answer.len() > 16 * 1024 || stream.read(&mut byte).await.map_err(io_error)? == 0 {
            return Err(FetchError::new(
                ErrorKind::Connect,
                "the proxy closed the connection or sent a head too long for CONNECT",
            ));
        }
        answer.push(byte[0]);
    }
    let status_line = String::from_utf8_lossy(&answer);
    let status = status_line.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        return Err(FetchError::new(
            ErrorKind::Connect,
            format!(
                "the proxy refused CONNECT {host}:{port}: {}",
                status_line.lines().next().unwrap_or("").trim()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_credentials_are_decoded_then_sent_as_basic() {
        use base64::Engine;
        let rules = |url: &str| {
            let config = crate::config::Config {
                proxy: Some(url.to_string()),
                ..crate::config::Config::default()
            };
            crate::fetch::proxy::ProxyRules::of(&config).unwrap()
        };
        let with_login = rules("http://us%40er:p%3As&s@proxy.test:3128");
        let proxy = with_login.for_target("http", "example.org").unwrap();
        let header = proxy_authorization(proxy).unwrap();
        let encoded = header.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(decoded, b"us@er:p:s&s");
        let without = rules("http://proxy.test:3128");
        assert!(proxy_authorization(without.for_target("http", "example.org").unwrap()).is_none());
    }
}
