//! The thread engine: blocking `ureq` calls on a dedicated `rayon` pool of exactly `pool`
//! threads, jobs spawned FIFO so dispatch order is start order.
//!
//! All workers share one `ureq::Agent`, so keep-alive connections are reused across threads;
//! its idle-pool limits are raised to the pool size (ureq keeps only 3 per host by default).
//! Each job drives the engine-neutral fetch core with `pollster::block_on`; this transport
//! blocks inside it, so a worker runs exactly one blocking request at a time.

use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crossbeam_channel::{Receiver, SendError, Sender};
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

use crate::cancel::CancelToken;
use crate::config::{Config, ConfigError};
use crate::fetch::classify::{Hint, classify};
use crate::fetch::proxy::{Proxy, ProxyKind};
use crate::fetch::resolver::CachingResolver;
use crate::fetch::tls::{LazyTls, Trust};
use crate::fetch::{BodyStream, Core, Head, Live, Outgoing, Phases, Transport};
use crate::record::{ErrorKind, FetchError};
use crate::run::{Engine, Ticket};

use super::tcp;

/// Pools up to this size are one rayon pool with a job per request (the plain shape).
const PLAIN_MAX: usize = 16;
/// Workers started at once, sharing an agent, in a larger pool (a crew).
const CREW: usize = 16;
/// Stack of a crew worker: the fetch path (ureq, rustls, serde_json) needs far less than
/// the 2 MiB default, and thousands of threads each map one.
const CREW_STACK: usize = 512 * 1024;

/// A connection's input buffer, which also bounds a response head.
const INPUT_BUFFER: usize = 16 * 1024;

/// The fetch core and an agent, shared by the workers of a pool (or of a crew).
type Shared = Arc<(Arc<Core>, UreqTransport)>;

/// Blocking `ureq` calls on dedicated `rayon` threads, exactly `pool` of them at most.
pub(crate) struct ThreadEngine {
    workers: Workers,
}

enum Workers {
    /// Up to [`PLAIN_MAX`] threads: one rayon pool, a job per request spawned FIFO, so
    /// dispatch order is start order; one agent for all.
    Plain(rayon::ThreadPool, Shared),
    /// More: one rayon pool holds thousands of idle workers that search each other's queues
    /// (O(threads²) to start and to idle, on any number of cores). Instead, workers are
    /// started in crews of up to [`CREW`] as demand grows, each a one-thread rayon pool (see
    /// [`worker_pool`]) whose worker runs one long-lived job that takes tickets from one FIFO
    /// channel: idle workers sleep in the channel, and start order is still dispatch order.
    /// A crew shares one agent, so its workers reuse each other's connections.
    Crews(Box<Crews>),
}

struct Crews {
    tickets: Sender<Ticket>,
    queue: Receiver<Ticket>,
    pools: Arc<Mutex<Vec<rayon::ThreadPool>>>,
    /// Threads started (or being started).
    started: Arc<AtomicUsize>,
    /// Threads running a ticket.
    busy: Arc<AtomicUsize>,
    pool: usize,
    core: Arc<Core>,
    /// What each crew's own agents are built from.
    agents: Arc<Agents>,
    /// The one thread that creates workers, started with the first crew: the kernel creates
    /// threads one at a time per process anyway, and one creator spares a thread per crew
    /// and the contention of hundreds of creators.
    builder: OnceLock<Sender<Build>>,
}

/// Work for the builder thread: start one crew.
type Build = Box<dyn FnOnce() + Send>;

impl ThreadEngine {
    /// Workers named `poolfetch-worker-N`, at most `config.pool`, sharing one agent that
    /// resolves names with `resolver`.
    pub(crate) fn new(
        config: &Config,
        resolver: CachingResolver,
        live: Arc<Live>,
    ) -> Result<Self, ConfigError> {
        let core = Core::new(config, Arc::clone(&live))?;
        let resolver = Arc::new(resolver);
        let workers = if config.pool <= PLAIN_MAX {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(config.pool)
                .thread_name(|i| format!("poolfetch-worker-{i}"))
                .build()
                .map_err(|e| ConfigError::Pool(e.to_string()))?;
            let agents = Agents::new(config, config.pool, resolver, live)?;
            Workers::Plain(pool, Arc::new((core, UreqTransport::new(Arc::new(agents)))))
        } else {
            let (tickets, queue) = crossbeam_channel::unbounded();
            Workers::Crews(Box::new(Crews {
                tickets,
                queue,
                pools: Arc::new(Mutex::new(Vec::new())),
                started: Arc::new(AtomicUsize::new(0)),
                busy: Arc::new(AtomicUsize::new(0)),
                pool: config.pool,
                core,
                agents: Arc::new(Agents::new(config, CREW, resolver, live)?),
                builder: OnceLock::new(),
            }))
        };
        Ok(ThreadEngine { workers })
    }
}

impl Engine for ThreadEngine {
    fn start(&self, ticket: Ticket) {
        match &self.workers {
            Workers::Plain(pool, shared) => {
                let shared = Arc::clone(shared);
                pool.spawn_fifo(move || {
                    let worker = rayon::current_thread_index().unwrap_or(0);
                    run_ticket(&shared, ticket, worker);
                });
            }
            Workers::Crews(crews) => {
                let run_size = ticket.run_size();
                if let Err(SendError(ticket)) = crews.tickets.send(ticket) {
                    return ticket.cancelled();
                }
                crews.grow(run_size);
            }
        }
    }
}

impl Crews {
    /// Start more workers when tickets wait and no started worker is free: as many as wait,
    /// but at least as many as run already (so a burst needs few pools), at most a crew, and
    /// never more than the pool or the run's size (`run_size` requests, when known).
    fn grow(&self, run_size: Option<usize>) {
        let started = self.started.load(Ordering::SeqCst);
        let limit = run_size.map_or(self.pool, |n| n.max(started).min(self.pool));
        let free = started.saturating_sub(self.busy.load(Ordering::SeqCst));
        let waiting = self.queue.len();
        if started >= limit || waiting <= free {
            return;
        }
        let want = (waiting - free).max(started).min(CREW).min(limit - started);
        if self
            .started
            .compare_exchange(started, started + want, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return; // someone else grew it meanwhile
        }
        // Built off the dispatching thread (a crew takes a millisecond or more to create), so
        // dispatch goes on meanwhile.
        let (queue, busy, pools) = (
            self.queue.clone(),
            Arc::clone(&self.busy),
            Arc::clone(&self.pools),
        );
        let started_count = Arc::clone(&self.started);
        // Each crew has its own agents: its workers reuse each other's connections, and
        // thousands of workers do not queue on one connection-pool lock.
        let transport = UreqTransport::new(Arc::clone(&self.agents));
        let shared: Shared = Arc::new((Arc::clone(&self.core), transport));
        let build = move || {
            for i in 0..want {
                let worker = started + i;
                let (queue, busy, shared) = (queue.clone(), Arc::clone(&busy), Arc::clone(&shared));
                let Some(pool) = worker_pool(worker, move || {
                    super::stack::register();
                    while let Some(ticket) = next_ticket(&queue) {
                        busy.fetch_add(1, Ordering::SeqCst);
                        run_ticket(&shared, ticket, worker);
                        busy.fetch_sub(1, Ordering::SeqCst);
                    }
                }) else {
                    // Out of threads: run with the workers there are (tickets keep waiting).
                    started_count.fetch_sub(want - i, Ordering::SeqCst);
                    return;
                };
                if let Ok(mut pools) = pools.lock() {
                    pools.push(pool);
                }
            }
        };
        let builder = self.builder.get_or_init(|| {
            let (builds, queue) = crossbeam_channel::unbounded::<Build>();
            // If the builder cannot start, the queue is dropped and every send below fails.
            let _ = std::thread::Builder::new()
                .name("poolfetch-crew-builder".into())
                .spawn(move || queue.iter().for_each(|build| build()));
            builds
        });
        if builder.send(Box::new(build)).is_err() {
            self.started.fetch_sub(want, Ordering::SeqCst);
        }
    }
}

/// A rayon pool of one thread, `poolfetch-worker-N`, running `job` (a crew worker's loop).
///
/// One thread per pool, and the job pushed onto the worker's own deque by the worker itself as
/// it starts: a rayon worker that looks for work elsewhere (its siblings' deques, its own FIFO
/// end) pins crossbeam's epoch, and a thread's first pin walks the list of every thread that
/// ever pinned — O(threads²) in all, a third of the CPU of a pool of 5,000. Popping its own
/// deque pins nothing. `None` when no thread can be made.
fn worker_pool(worker: usize, job: impl FnOnce() + Send + 'static) -> Option<rayon::ThreadPool> {
    let job = Mutex::new(Some(job));
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .thread_name(move |_| format!("poolfetch-worker-{worker}"))
        .stack_size(CREW_STACK)
        .start_handler(move |_| {
            if let Some(job) = job.lock().ok().and_then(|mut job| job.take()) {
                rayon::spawn(job);
            }
        })
        .build()
        .ok()
}

/// Run one ticket on worker number `worker`: the core driven to completion on this thread
/// (the transport blocks inside the future, so a worker runs one request at a time).
fn run_ticket(shared: &Shared, ticket: Ticket, worker: usize) {
    let (core, transport) = &**shared;
    // The future made in a frame of its own and polled on the heap, not in this frame: the
    // request's deepest frames sit 2 KiB higher on the worker's stack, which `stack::trim`
    // keeps at 7 pages while it waits (see `stack`).
    pollster::block_on(boxed(core, transport, ticket, worker));
}

/// The next ticket of a crew's queue, `None` once it is closed and empty. A worker about
/// to wait for one first gives back the stack pages its last request touched.
#[inline(never)]
fn next_ticket(queue: &Receiver<Ticket>) -> Option<Ticket> {
    if queue.is_empty() {
        super::stack::trim();
    }
    queue.recv().ok()
}

/// `ticket`'s future, made on the heap.
#[inline(never)]
fn boxed<'a>(
    core: &'a Core,
    transport: &'a UreqTransport,
    ticket: Ticket,
    worker: usize,
) -> std::pin::Pin<Box<impl Future<Output = ()> + 'a>> {
    Box::pin(ticket.run(core, transport, Some(worker), async {}))
}

/// The shared agents as the core's transport: one for plain HTTP, and one with the TLS
/// settings, made at the first request that needs TLS (see [`LazyTls`]).
struct UreqTransport {
    agent: ureq::Agent,
    tls_agent: OnceLock<ureq::Agent>,
    agents: Arc<Agents>,
    /// ureq's form of each proxy in use, made the first time one is needed.
    proxies: Mutex<Vec<(String, ureq::Proxy)>>,
}

/// What a transport's agents are made from.
struct Agents {
    plain: ureq::config::Config,
    tls: LazyTls<ureq::config::Config>,
    resolver: Arc<CachingResolver>,
    live: Arc<Live>,
}

impl Agents {
    /// For `workers` workers sharing an agent.
    fn new(
        config: &Config,
        workers: usize,
        resolver: Arc<CachingResolver>,
        live: Arc<Live>,
    ) -> Result<Self, ConfigError> {
        Ok(Agents {
            plain: agent_config(config, workers, ureq::tls::TlsConfig::default()),
            tls: LazyTls::new(config, move |config| {
                Ok(agent_config(config, workers, ureq_tls(config)?))
            })?,
            resolver,
            live,
        })
    }

    /// An agent on `config` with the lean TCP transport (counting connections into `live`)
    /// and poolfetch's resolver.
    fn agent(&self, config: ureq::config::Config) -> ureq::Agent {
        ureq::Agent::with_parts(
            config,
            super::tcp::connector(Arc::clone(&self.live)),
            UreqResolver(Arc::clone(&self.resolver)),
        )
    }
}

impl UreqTransport {
    fn new(agents: Arc<Agents>) -> Self {
        UreqTransport {
            agent: agents.agent(agents.plain.clone()),
            tls_agent: OnceLock::new(),
            agents,
            proxies: Mutex::new(Vec::new()),
        }
    }

    /// The agent for `uri` through `proxy`: the one with TLS settings when either is
    /// `https://`.
    fn agent_for(
        &self,
        uri: &ureq::http::Uri,
        proxy: Option<&Arc<Proxy>>,
    ) -> Result<&ureq::Agent, ureq::Error> {
        let https = uri.scheme_str() == Some("https")
            || proxy.is_some_and(|proxy| matches!(proxy.kind, ProxyKind::Https));
        if !https {
            return Ok(&self.agent);
        }
        let config = self
            .agents
            .tls
            .get()
            .map_err(|e| ureq::Error::Other(Box::new(e)))?;
        Ok(self
            .tls_agent
            .get_or_init(|| self.agents.agent(config.clone())))
    }
}

impl Transport for UreqTransport {
    type Body = UreqBody;

    async fn send(
        &self,
        request: Outgoing<'_>,
        phases: &mut Phases,
    ) -> Result<Head<UreqBody>, FetchError> {
        // A request that may be sent twice goes out on a recently used connection unchecked;
        // if that connection turns out closed before any answer, it is sent once more on a
        // checked or new one (see `tcp`). Any other request is only sent on a checked one.
        let mut sending = tcp::Sending {
            check_reuse: !request.idempotent,
            longest_line: longest_head_line(&request),
        };
        let (result, sent) = match tcp::sending(sending, || self.send_once(&request)) {
            (Err(e), _) if tcp::is_stale(&e) => {
                sending.check_reuse = true;
                tcp::sending(sending, || self.send_once(&request))
            }
            sent => sent,
        };
        *phases = sent.phases;
        let (parts, body) = result.map_err(classify_ureq)?.into_parts();
        // A small body gets a small buffer: thousands of requests may wait at once.
        let length = parts
            .headers
            .get(ureq::http::header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok()?.parse::<usize>().ok());
        Ok(Head {
            url: String::new(),
            remote: sent.to,
            status: parts.status.as_u16(),
            version: parts.version,
            headers: parts.headers,
            body: UreqBody {
                reader: body.into_reader(),
                buffer: Vec::new(),
                size: length.map_or(BODY_BUFFER, |n| n.clamp(1, BODY_BUFFER)),
            },
        })
    }

    async fn sleep(&self, duration: Duration, cancel: &CancelToken) -> bool {
        // On a worker thread: blocking is the point.
        cancel.sleep(duration)
    }
}

impl UreqTransport {
    /// Build and run `request` once.
    fn send_once(
        &self,
        request: &Outgoing<'_>,
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let mut builder = ureq::http::Request::builder()
            .method(request.method)
            .uri(request.uri.clone());
        for (name, value) in &request.headers {
            builder = builder.header(*name, *value);
        }
        let (time_left, proxy) = (request.time_left, request.proxy);
        match request.body {
            Some(body) => {
                // The body's type, unless the user's headers name one (theirs wins, as on the
                // async engine; `header` would add a second field).
                let named = request
                    .headers
                    .iter()
                    .any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
                if let Some(content_type) = body.content_type.as_ref().filter(|_| !named) {
                    builder = builder.header(ureq::http::header::CONTENT_TYPE, content_type);
                }
                let request = builder.body(body.bytes.as_slice())?;
                self.run(request, time_left, proxy)
            }
            None => self.run(builder.body(())?, time_left, proxy),
        }
    }

    /// Run one request, bounded as a whole by `time_left` (`--max-time`) and sent through
    /// `proxy`, when set (per-request settings cost a config copy, so only then).
    fn run<S: ureq::AsSendBody>(
        &self,
        request: ureq::http::Request<S>,
        time_left: Option<Duration>,
        proxy: Option<&Arc<Proxy>>,
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let agent = self.agent_for(request.uri(), proxy)?;
        if time_left.is_none() && proxy.is_none() {
            return agent.run(request);
        }
        // A SOCKS5 login goes to the connector as bytes (ureq keeps one only as UTF-8).
        let socks_login = proxy
            .filter(|proxy| matches!(proxy.kind, ProxyKind::Socks5 { .. }))
            .and_then(|proxy| proxy.login.clone());
        let request = agent
            .configure_request(request)
            .timeout_global(time_left)
            .proxy(proxy.map(|proxy| self.ureq_proxy(proxy)).transpose()?)
            .build();
        super::tcp::with_socks_login(socks_login, || agent.run(request))
    }

    /// ureq's form of `proxy`, made once per proxy (a fetcher has at most two).
    fn ureq_proxy(&self, proxy: &Proxy) -> Result<ureq::Proxy, ureq::Error> {
        let mut made = self
            .proxies
            .lock()
            .map_err(|_| ureq::Error::Other("the proxy table was poisoned".into()))?;
        if let Some((_, found)) = made.iter().find(|(url, _)| *url == proxy.url) {
            return Ok(found.clone());
        }
        let url = match proxy.kind {
            ProxyKind::Socks5 { .. } => &proxy.bare_url,
            _ => &proxy.url,
        };
        let typed = ureq::Proxy::new(url)?;
        made.push((proxy.url.clone(), typed.clone()));
        Ok(typed)
    }
}

/// The longest line of `request`'s head: the request line (at most the whole URI, as a
/// proxy gets it) or one header. The connection's output buffer must hold it whole.
fn longest_head_line(request: &Outgoing<'_>) -> usize {
    let uri = &request.uri;
    let uri_len = uri.scheme_str().map_or(0, str::len)
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path_and_query().map_or(1, |p| p.as_str().len())
        + 3;
    request
        .headers
        .iter()
        .map(|(name, value)| name.len() + value.len() + 4)
        .fold(request.method.len() + uri_len + 12, usize::max)
}

/// The most a body is read in one piece.
const BODY_BUFFER: usize = 8 * 1024;

/// A ureq body read into one reused buffer, allocated on the first read.
struct UreqBody {
    reader: ureq::BodyReader<'static>,
    buffer: Vec<u8>,
    /// The buffer's size: the body's length when it is known and smaller.
    size: usize,
}

impl BodyStream for UreqBody {
    async fn chunk(&mut self) -> Result<Option<&[u8]>, FetchError> {
        if self.buffer.is_empty() {
            self.buffer = vec![0; self.size];
        }
        loop {
            match self.reader.read(&mut self.buffer) {
                Ok(0) => return Ok(None),
                Ok(n) => return Ok(Some(&self.buffer[..n])),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // ureq wraps its own errors (a timeout, a broken chunk) in the io::Error.
                Err(e) => return Err(classify_ureq(ureq::Error::from(e))),
            }
        }
    }
}

/// ureq's error through the one table: the variants are ureq's hint, its I/O error (or the
/// error a resolver returned) the chain of causes. ureq's error has no `source()`.
fn classify_ureq(error: ureq::Error) -> FetchError {
    use ureq::Error as E;
    let hint = match &error {
        E::BadUri(_) | E::Http(_) | E::RequireHttpsOnly(_) => Hint::certain(ErrorKind::InvalidUrl),
        E::HostNotFound => Hint::certain(ErrorKind::Dns),
        E::Timeout(_) => Hint::certain(ErrorKind::Timeout),
        E::ConnectionFailed | E::ConnectProxyFailed(_) => Hint::certain(ErrorKind::Connect),
        E::Tls(_) | E::Pem(_) | E::Rustls(_) | E::TlsRequired => Hint::certain(ErrorKind::Tls),
        E::TooManyRedirects | E::RedirectFailed => Hint::certain(ErrorKind::Redirect),
        E::Protocol(_) | E::LargeResponseHeader(..) => Hint::certain(ErrorKind::Protocol),
        _ => Hint::default(),
    };
    match &error {
        E::Io(cause) => classify(cause, hint),
        E::Other(cause) => classify(cause.as_ref(), hint),
        _ => classify(&error, hint),
    }
}

/// The agent settings poolfetch needs, for an agent serving `workers` workers.
fn agent_config(
    config: &Config,
    workers: usize,
    tls: ureq::tls::TlsConfig,
) -> ureq::config::Config {
    let timeout = Some(config.timeout);
    ureq::Agent::config_builder()
        .tls_config(tls)
        // Classify 4xx/5xx ourselves and keep their bodies.
        .http_status_as_error(false)
        // Proxies are chosen per request by the core (`fetch/proxy.rs`), not from the
        // environment by ureq.
        .proxy(None)
        // The core follows redirects (the same rules on both engines): hand back every 3xx.
        .max_redirects(0)
        .max_redirects_will_error(false)
        // One idle connection per worker, or a big pool keeps reconnecting.
        .max_idle_connections(workers.max(10))
        .max_idle_connections_per_host(workers.max(3))
        // Per-phase deadlines: a long download that keeps moving is not cut off,
        // a stalled one is.
        .timeout_global(None)
        .timeout_resolve(timeout)
        .timeout_connect(Some(config.connect_deadline()))
        .timeout_send_request(timeout)
        .timeout_send_body(timeout)
        .timeout_recv_response(timeout)
        .timeout_per_read(timeout)
        // ureq allocates 128 KiB in and 128 KiB out per connection by default: 256 MB at a
        // pool of 1,000. The input buffer bounds the response head (a larger one is a
        // `protocol` error; 16 KiB is twice what common servers send at most); requests are
        // small, and bodies stream through.
        .input_buffer_size(INPUT_BUFFER)
        .output_buffer_size(8 * 1024)
        .user_agent(concat!("poolfetch/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// ureq's TLS settings for `config`: the one trust decision ([`Trust`]), or none with
/// `--insecure`.
fn ureq_tls(config: &Config) -> Result<ureq::tls::TlsConfig, ConfigError> {
    let mut builder = ureq::tls::TlsConfig::builder().disable_verification(config.insecure);
    if !config.insecure {
        let roots = Trust::of(config)?
            .roots
            .into_iter()
            .map(|der| ureq::tls::Certificate::from_der(der.as_ref()).to_owned());
        builder = builder.root_certs(ureq::tls::RootCerts::from(roots.collect::<Vec<_>>()));
    }
    if let Some(identity) = crate::fetch::tls::ClientIdentity::of(config)? {
        use ureq::tls::{Certificate, ClientCert, PrivateKey};
        let chain: Vec<Certificate<'static>> = identity
            .chain
            .iter()
            .map(|der| Certificate::from_der(der.as_ref()).to_owned())
            .collect();
        let key = PrivateKey::from_pem(&identity.key_pem).map_err(|e| ConfigError::ClientCert {
            path: config
                .client_key
                .clone()
                .or_else(|| config.client_cert.clone())
                .unwrap_or_default(),
            why: e.to_string(),
        })?;
        builder = builder.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
    }
    Ok(builder.build())
}

/// poolfetch's resolver answering ureq's lookups; failures travel as a typed `DnsError`.
#[derive(Debug)]
struct UreqResolver(Arc<CachingResolver>);

impl Resolver for UreqResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        _config: &ureq::config::Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().unwrap_or("");
        let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
            Some("https") => 443,
            _ => 80,
        });
        let found = self
            .0
            .lookup(host, port)
            .map_err(|e| ureq::Error::Other(Box::new(e)))?;
        tcp::note(|sent| sent.phases.dns = Some(std::time::Instant::now()));
        let mut addrs = self.empty();
        for addr in found.into_iter().take(16) {
            addrs.push(addr);
        }
        Ok(addrs)
    }
}
