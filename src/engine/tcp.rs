//! A lean TCP transport under the thread engine's ureq agent: fewer system calls per request.
//!
//! ureq's own TCP transport (ureq 3.5) sets `SO_RCVTIMEO`/`SO_SNDTIMEO` whenever the time left
//! differs, which with deadline-based timeouts is on nearly every request, and checks a pooled
//! connection's liveness with `FIONBIO` on, a 1-byte read, `FIONBIO` off — twice per request.
//! This one rounds timeouts up to a coarse step (so the socket option is set only when the
//! step changes), and checks liveness with one `recv(MSG_PEEK | MSG_DONTWAIT)` — only for a
//! connection idle a while, one carrying TLS, or before a request that must not be sent twice.
//! A plain connection used within [`FRESH`] goes out unchecked (ureq checks under its pool
//! lock, where 8 workers then queue); if it turns out closed before any response byte, the
//! request fails as [`Stale`] and the engine sends it once more on a checked or new
//! connection, as browsers and hyper do. Its buffers are [`LeanBuffers`] (started small).
//! Everything else is ureq's: the connector chain (CONNECT proxies, rustls on top), shutdown
//! handles. Written by hand because no crate offers a ureq transport; it follows ureq's
//! `TcpConnector`.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use ureq::Timeout;

use super::buffers::LeanBuffers;
use crate::fetch::resolver::{ATTEMPT_DELAY, happy_eyeballs_order};
use crate::fetch::{Live, Phases, socks};
use ureq::unversioned::transport::{
    Buffers, ConnectProxyConnector, ConnectionDetails, Connector, Either, NextTimeout,
    RustlsConnector, ShutdownHandle, Transport,
};

/// A connection idle for less than this leaves the pool without a liveness check.
const FRESH: Duration = Duration::from_secs(2);

/// What the request about to be sent on this thread asks of the connection it gets.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sending {
    /// Check a pooled connection whatever its age (a request that must not be sent twice, or
    /// a stale retry).
    pub check_reuse: bool,
    /// The longest line of its head (request line or one header): the output buffer must
    /// hold it whole.
    pub longest_line: usize,
}

thread_local! {
    /// The request this thread is sending. A thread-local because ureq asks its transport,
    /// not the request, and a worker thread sends exactly one request at a time.
    static SENDING: Cell<Sending> = const {
        Cell::new(Sending { check_reuse: false, longest_line: 0 })
    };
}

/// What ureq does not tell about the request this thread sent: the connection it went out on
/// and, when that connection is new, when its phases ended.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sent {
    /// The address of the connection (the record's `remote_addr`).
    pub to: Option<SocketAddr>,
    pub phases: Phases,
}

thread_local! {
    /// What the request this thread is sending met on its way, noted by the resolver, the
    /// connectors and the transport (ureq runs them all on the calling thread).
    static SENT: Cell<Sent> = const { Cell::new(Sent { to: None, phases: Phases {
        dns: None, connect: None, tls: None, first_byte: None,
    } }) };
}

/// Note something about the request this thread is sending.
pub(crate) fn note(change: impl FnOnce(&mut Sent)) {
    let mut sent = SENT.get();
    change(&mut sent);
    SENT.set(sent);
}

/// Run `send` (one request) with `sending` describing it to the connection it gets; also what
/// it met on its way ([`Sent`]).
pub(crate) fn sending<T>(sending: Sending, send: impl FnOnce() -> T) -> (T, Sent) {
    let before = SENDING.replace(sending);
    SENT.set(Sent::default());
    let result = send();
    SENDING.set(before);
    (result, SENT.take())
}

/// A pooled connection taken unchecked turned out closed before any byte of the response:
/// the server never answered this request, so it may be sent again.
#[derive(Debug)]
pub(crate) struct Stale;

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the server closed an idle keep-alive connection before answering")
    }
}

impl std::error::Error for Stale {}

/// Whether `error` is a [`Stale`] connection.
pub(crate) fn is_stale(error: &ureq::Error) -> bool {
    // Only plain connections go out unchecked, so the error comes straight from this
    // transport, not through rustls.
    matches!(error, ureq::Error::Io(e) if e.get_ref().is_some_and(|inner| inner.is::<Stale>()))
}

fn stale() -> ureq::Error {
    ureq::Error::Io(io::Error::new(io::ErrorKind::ConnectionReset, Stale))
}

/// The thread engine's connector chain: CONNECT proxies, then this TCP, then rustls, then a
/// note of when the TLS handshake ended.
pub(crate) fn connector(live: Arc<Live>) -> impl Connector<()> {
    ().chain(ConnectProxyConnector::default())
        .chain(LeanTcpConnector(live))
        .chain(RustlsConnector::default())
        .chain(TlsEnded)
}

/// Last in the chain: notes when a new https connection's TLS handshake ended (rustls
/// completes it inside its `connect`).
#[derive(Debug)]
pub(crate) struct TlsEnded;

impl<In: Transport> Connector<In> for TlsEnded {
    type Out = In;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<In>, ureq::Error> {
        if chained.is_some() && details.uri.scheme_str() == Some("https") {
            note(|sent| sent.phases.tls = Some(Instant::now()));
        }
        Ok(chained)
    }
}

/// Opens plain TCP connections as [`LeanTcp`] transports, counting them.
#[derive(Debug)]
pub(crate) struct LeanTcpConnector(Arc<Live>);

impl<In: Transport> Connector<In> for LeanTcpConnector {
    type Out = Either<In, LeanTcp>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        if chained.is_some() {
            // An earlier connector (a proxy) already made the connection.
            return Ok(chained.map(Either::A));
        }
        let config = details.config;
        let timeout = details.timeout.not_zero().map(|t| *t);
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut last_error = None;
        // Through a SOCKS5 proxy, connect to the proxy; `remote`: it resolves the target.
        let socks = config.proxy().and_then(|proxy| match proxy.protocol() {
            ureq::ProxyProtocol::Socks5 => Some((proxy, false)),
            ureq::ProxyProtocol::Socks5h => Some((proxy, true)),
            _ => None,
        });
        let addrs: Vec<SocketAddr> = match socks {
            Some((proxy, _)) => {
                let found = details
                    .resolver
                    .resolve(proxy.uri(), config, details.timeout)?;
                found.iter().copied().collect()
            }
            None => details.addrs.iter().copied().collect(),
        };
        let attempts: Vec<io::Result<TcpStream>> = if addrs.len() > 1 {
            vec![happy_eyeballs(&addrs, timeout)]
        } else {
            addrs
                .iter()
                .map(|addr| match timeout {
                    Some(timeout) => TcpStream::connect_timeout(addr, timeout),
                    None => TcpStream::connect(addr),
                })
                .collect()
        };
        for connected in attempts {
            match connected {
                Ok(stream) => {
                    if let Some((_, remote)) = socks {
                        socks_handshake(&stream, details, remote, deadline)?;
                    }
                    note(|sent| sent.phases.connect = Some(Instant::now()));
                    self.0
                        .connections
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if config.no_delay() {
                        stream.set_nodelay(true)?;
                    }
                    let transport = LeanTcp {
                        peer: stream.peer_addr().ok(),
                        stream: Arc::new(stream),
                        buffers: LeanBuffers::new(
                            config.input_buffer_size(),
                            config.output_buffer_size(),
                        ),
                        read_timeout: None,
                        write_timeout: None,
                        asked_since_io: false,
                        idle_since: None,
                        unchecked: false,
                        tls: details.uri.scheme_str() == Some("https"),
                    };
                    let handle = Arc::downgrade(&transport.stream) as Weak<dyn ShutdownHandle>;
                    (details.register_shutdown)(handle)?;
                    return Ok(Some(Either::B(transport)));
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(match last_error {
            Some(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                ureq::Error::Timeout(Timeout::Connect)
            }
            Some(e) => ureq::Error::Io(e),
            None => ureq::Error::HostNotFound,
        })
    }
}

/// Ask the SOCKS5 `proxy` at the other end of `stream` for a connection to the request's
/// host (by name when `remote`, else by the address resolved here), by `deadline` (the
/// connect phase's, which the TCP connect started).
fn socks_handshake(
    stream: &TcpStream,
    details: &ConnectionDetails,
    remote: bool,
    deadline: Option<Instant>,
) -> Result<(), ureq::Error> {
    let uri = details.uri;
    let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
        Some("https") => 443,
        _ => 80,
    });
    let addrs: Vec<SocketAddr> = details.addrs.iter().copied().collect();
    let typed = |e: crate::record::FetchError| ureq::Error::Other(Box::new(e));
    let target =
        socks::Target::of(uri.host().unwrap_or(""), port, remote, &addrs).map_err(typed)?;
    let login = SOCKS_LOGIN.with_borrow(Clone::clone);
    let login = login.as_ref().map(|(u, p)| (u.as_slice(), p.as_slice()));
    let mut wire = BlockingWire { stream, deadline };
    // The wire blocks, so the handshake's future is ready at every poll.
    pollster::block_on(socks::handshake(&mut wire, target, login)).map_err(typed)?;
    // Back to what `LeanTcp` starts from.
    stream.set_read_timeout(None)?;
    stream.set_write_timeout(None)?;
    Ok(())
}

/// A blocking TCP stream as the SOCKS5 handshake's wire, every read and write bounded by
/// what is left until `deadline` (so a proxy that answers a byte at a time cannot stretch
/// the handshake past it).
struct BlockingWire<'a> {
    stream: &'a TcpStream,
    deadline: Option<Instant>,
}

impl BlockingWire<'_> {
    /// Set the socket's timeouts to what is left; a timeout error when nothing is.
    fn bound(&self) -> io::Result<()> {
        let Some(deadline) = self.deadline else {
            return Ok(());
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"));
        }
        self.stream.set_read_timeout(Some(left))?;
        self.stream.set_write_timeout(Some(left))
    }
}

impl socks::Wire for BlockingWire<'_> {
    async fn write_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            self.bound()?;
            match (&*self.stream).write(bytes) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(timed_out(e)),
            }
        }
        Ok(())
    }

    async fn read_exact(&mut self, mut bytes: &mut [u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            self.bound()?;
            match (&*self.stream).read(bytes) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => bytes = &mut bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(timed_out(e)),
            }
        }
        Ok(())
    }
}

/// A socket timeout says so (it comes as `EAGAIN`, "Resource temporarily unavailable").
fn timed_out(error: io::Error) -> io::Error {
    match error.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            io::Error::new(io::ErrorKind::TimedOut, "timed out")
        }
        _ => error,
    }
}

impl Drop for BlockingWire<'_> {
    /// Back to what `LeanTcp` starts from: no socket timeouts.
    fn drop(&mut self) {
        if self.deadline.is_some() {
            let _ = self.stream.set_read_timeout(None);
            let _ = self.stream.set_write_timeout(None);
        }
    }
}

thread_local! {
    /// The SOCKS5 login of the request this thread is sending, as percent-decoded bytes: set
    /// around the request by [`with_socks_login`], because ureq's proxy type holds a login only
    /// as UTF-8 text.
    static SOCKS_LOGIN: std::cell::RefCell<Option<crate::request::Login>> =
        const { std::cell::RefCell::new(None) };
}

/// Run `send` with `login` as the SOCKS5 login its connection, if new, offers the proxy.
pub(crate) fn with_socks_login<T>(
    login: Option<crate::request::Login>,
    send: impl FnOnce() -> T,
) -> T {
    SOCKS_LOGIN.set(login);
    let result = send();
    SOCKS_LOGIN.set(None);
    result
}

/// Happy Eyeballs (RFC 8305) for a host with several addresses, on non-blocking sockets and
/// `poll(2)` (a blocking connect cannot be raced): the addresses alternate between IPv6 and
/// IPv4, a new attempt starts every 250 ms or as soon as one fails, earlier ones keep going,
/// the first to connect wins and the others are closed. So an address that never answers
/// costs 250 ms, not the whole `--connect-timeout`. Written here because ureq connects
/// address by address and no crate offers this for blocking sockets.
fn happy_eyeballs(addrs: &[SocketAddr], timeout: Option<Duration>) -> io::Result<TcpStream> {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    use rustix::net::{AddressFamily, SocketFlags, SocketType, socket_with};
    let order = happy_eyeballs_order(addrs);
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut pending: Vec<std::os::fd::OwnedFd> = Vec::new();
    let mut next = order.iter();
    let mut next_start = Instant::now();
    let mut last_error = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
    loop {
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out"));
        }
        if pending.is_empty() || now >= next_start {
            if let Some(addr) = next.next() {
                let family = if addr.is_ipv6() {
                    AddressFamily::INET6
                } else {
                    AddressFamily::INET
                };
                let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
                let socket = socket_with(family, SocketType::STREAM, flags, None)?;
                match rustix::net::connect(&socket, addr) {
                    Ok(()) => return connected(socket),
                    Err(rustix::io::Errno::INPROGRESS) => pending.push(socket),
                    Err(e) => last_error = e.into(),
                }
                next_start = Instant::now() + ATTEMPT_DELAY;
                continue;
            }
            if pending.is_empty() {
                return Err(last_error);
            }
        }
        // Wait for an attempt to finish, the next one to be due, or the deadline.
        let mut until = deadline;
        if next.len() > 0 {
            until = Some(until.map_or(next_start, |d| d.min(next_start)));
        }
        let wait = until.map(|u| u.saturating_duration_since(Instant::now()));
        let wait = wait.and_then(|w| Timespec::try_from(w).ok());
        let mut fds: Vec<PollFd<'_>> = pending
            .iter()
            .map(|fd| PollFd::new(fd, PollFlags::OUT))
            .collect();
        match poll(&mut fds, wait.as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        let done: Vec<usize> = fds
            .iter()
            .enumerate()
            .filter(|(_, fd)| !fd.revents().is_empty())
            .map(|(i, _)| i)
            .collect();
        drop(fds);
        for i in done.into_iter().rev() {
            let socket = pending.swap_remove(i);
            match rustix::net::sockopt::socket_error(&socket)? {
                Ok(()) => return connected(socket),
                Err(e) => last_error = e.into(),
            }
        }
    }
}

/// A connected non-blocking socket as a blocking `TcpStream`.
fn connected(socket: std::os::fd::OwnedFd) -> io::Result<TcpStream> {
    let stream = TcpStream::from(socket);
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// A TCP connection that sets socket timeouts only when their coarse step changes.
pub(crate) struct LeanTcp {
    stream: Arc<TcpStream>,
    /// The address it is connected to.
    peer: Option<SocketAddr>,
    buffers: LeanBuffers,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    /// ureq asks twice per request whether the connection is open: when it goes back to the
    /// pool, and when it comes out. Only the second answer matters (a connection with junk
    /// or a close waiting is then skipped), so the first is not checked.
    asked_since_io: bool,
    /// When it last went back to the pool.
    idle_since: Option<Instant>,
    /// Taken from the pool without a check, and no response byte read since.
    unchecked: bool,
    /// Carries TLS: always checked, because a server that closes it first sends a TLS alert,
    /// bytes this transport cannot tell from an answer.
    tls: bool,
}

impl std::fmt::Debug for LeanTcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeanTcp")
            .field("peer", &self.stream.peer_addr().ok())
            .finish()
    }
}

/// `timeout` rounded up: to 1 s from 2 s on, to 10 ms below. A deadline is then honoured to
/// within that step, and the socket option changes once per step instead of per request.
fn coarse(timeout: Duration) -> Duration {
    let step = if timeout >= Duration::from_secs(2) {
        Duration::from_secs(1)
    } else {
        Duration::from_millis(10)
    };
    let steps = timeout.as_nanos().div_ceil(step.as_nanos()).max(1);
    step * u32::try_from(steps).unwrap_or(u32::MAX)
}

/// The time left of `timeout` for one I/O call, or the timeout error if none is left.
fn left(timeout: NextTimeout) -> Result<Option<Duration>, ureq::Error> {
    if timeout.after.is_zero() {
        return Err(ureq::Error::Timeout(timeout.reason));
    }
    Ok(timeout.not_zero().map(|t| coarse(*t)))
}

fn set_if_changed(
    wanted: Option<Duration>,
    current: &mut Option<Duration>,
    set: impl FnOnce(Option<Duration>) -> io::Result<()>,
) -> io::Result<()> {
    if wanted != *current {
        set(wanted)?;
        *current = wanted;
    }
    Ok(())
}

/// Whether `e` says the peer closed or reset the connection.
fn closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

fn io_error(e: io::Error, reason: Timeout) -> ureq::Error {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ureq::Error::Timeout(reason),
        _ => ureq::Error::Io(e),
    }
}

impl Transport for LeanTcp {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.buffers.fit_output(SENDING.get().longest_line);
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.asked_since_io = false;
        let peer = self.peer;
        note(|sent| sent.to = peer);
        let timeout = timeout.for_write();
        let stream = &*self.stream;
        set_if_changed(left(timeout)?, &mut self.write_timeout, |t| {
            stream.set_write_timeout(t)
        })?;
        let output = &self.buffers.output()[..amount];
        (&*self.stream).write_all(output).map_err(|e| {
            if self.unchecked && closed(&e) {
                return stale();
            }
            io_error(e, timeout.reason)
        })
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.asked_since_io = false;
        let timeout = timeout.for_read();
        let stream = &*self.stream;
        set_if_changed(left(timeout)?, &mut self.read_timeout, |t| {
            stream.set_read_timeout(t)
        })?;
        let held = self.buffers.input().len();
        let input = self.buffers.input_append_buf();
        if input.is_empty() {
            // The whole buffer holds part of one response head and there is no room for more.
            return Err(ureq::Error::LargeResponseHeader(held + 1, held));
        }
        // The read may wait long: the pages opening the connection touched go back first.
        super::stack::trim();
        let amount = loop {
            match (&*self.stream).read(input) {
                // A signal: go on reading (the socket timeout still bounds the wait).
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if self.unchecked && closed(&e) => return Err(stale()),
                result => break result.map_err(|e| io_error(e, timeout.reason))?,
            }
        };
        if std::mem::take(&mut self.unchecked) && amount == 0 {
            return Err(stale());
        }
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        if !std::mem::replace(&mut self.asked_since_io, true) {
            // Going back to the pool: checked (or not) when it comes out.
            self.idle_since = Some(Instant::now());
            return true;
        }
        let fresh = self.idle_since.is_some_and(|at| at.elapsed() < FRESH);
        if fresh && !self.tls && !SENDING.get().check_reuse {
            self.unchecked = true;
            return true;
        }
        let mut byte = [0u8; 1];
        let read = rustix::net::recv(
            &self.stream,
            &mut byte[..],
            rustix::net::RecvFlags::PEEK | rustix::net::RecvFlags::DONTWAIT,
        );
        matches!(read, Err(rustix::io::Errno::AGAIN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_round_up_to_a_coarse_step() {
        assert_eq!(
            coarse(Duration::from_millis(29_999)),
            Duration::from_secs(30)
        );
        assert_eq!(
            coarse(Duration::from_millis(29_001)),
            Duration::from_secs(30)
        );
        assert_eq!(
            coarse(Duration::from_millis(399)),
            Duration::from_millis(400)
        );
        assert_eq!(coarse(Duration::from_micros(1)), Duration::from_millis(10));
    }

    #[test]
    fn a_peer_that_closed_or_sent_junk_is_not_open() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let transport = || LeanTcp {
            peer: Some(addr),
            stream: Arc::new(TcpStream::connect(addr).unwrap()),
            buffers: LeanBuffers::new(1024, 1024),
            read_timeout: None,
            write_timeout: None,
            asked_since_io: true,
            idle_since: None,
            unchecked: false,
            tls: false,
        };
        // Loopback delivers at once, but poll rather than guess how long "at once" is.
        let closes_within_2s = |transport: &mut LeanTcp| {
            let deadline = std::time::Instant::now() + Duration::from_secs(2);
            while transport.is_open() {
                if std::time::Instant::now() > deadline {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            true
        };
        let mut idle = transport();
        let (_server, _) = listener.accept().unwrap();
        assert!(idle.is_open(), "an idle connection is open");
        let mut junk = transport();
        let (mut server, _) = listener.accept().unwrap();
        server.write_all(b"junk").unwrap();
        assert!(closes_within_2s(&mut junk), "unasked-for bytes");
        let mut closed = transport();
        let (server, _) = listener.accept().unwrap();
        drop(server);
        assert!(closes_within_2s(&mut closed), "closed by the peer");
        assert!(idle.is_open(), "still open");
    }

    fn checked(check_reuse: bool) -> Sending {
        Sending {
            check_reuse,
            ..Sending::default()
        }
    }

    #[test]
    fn a_fresh_connection_goes_out_unchecked_and_a_dead_one_then_fails_as_stale() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut conn = LeanTcp {
            peer: None,
            stream: Arc::new(TcpStream::connect(listener.local_addr().unwrap()).unwrap()),
            buffers: LeanBuffers::new(1024, 1024),
            read_timeout: None,
            write_timeout: None,
            asked_since_io: false,
            idle_since: None,
            unchecked: false,
            tls: false,
        };
        drop(listener.accept().unwrap());
        // Back to the pool, then out again within FRESH: a checked take sees the close...
        assert!(conn.is_open(), "going back to the pool is not checked");
        let deadline = Instant::now() + Duration::from_secs(2);
        while sending(checked(true), || conn.is_open()).0 {
            assert!(Instant::now() < deadline, "the close never showed");
            conn.asked_since_io = true;
            std::thread::sleep(Duration::from_millis(5));
        }
        // ...an unchecked one does not, and the first read then says stale, not "closed".
        conn.asked_since_io = true;
        assert!(
            sending(checked(false), || conn.is_open()).0,
            "fresh: taken unchecked"
        );
        let error = conn.await_input(NextTimeout::default());
        assert!(error.as_ref().is_err_and(is_stale), "{error:?}");
        // One that has idled longer than FRESH is checked anyway, and so is a TLS one.
        conn.asked_since_io = true;
        conn.idle_since = Some(Instant::now() - FRESH);
        assert!(!conn.is_open(), "an old idle connection is checked");
        conn.asked_since_io = true;
        conn.idle_since = Some(Instant::now());
        conn.tls = true;
        assert!(!conn.is_open(), "a TLS connection is checked");
    }
}
