//! A lean TCP transport under the thread engine's ureq agent: fewer system calls per request.
//!
//! ureq's own TCP transport (ureq 3.5) sets `SO_RCVTIMEO`/`SO_SNDTIMEO` whenever the time left
//! differs, which with deadline-based timeouts is on nearly every request, and checks a pooled
//! connection's liveness with `FIONBIO` on, a 1-byte read, `FIONBIO` off — twice per request.
//! This one rounds timeouts up to a coarse step (so the socket option is set only when the
//! step changes), and checks liveness with one `recv(MSG_PEEK | MSG_DONTWAIT)`. Everything else
//! is ureq's: the connector chain (CONNECT proxies, rustls on top), buffers, shutdown handles.
//! Written by hand because no crate offers a ureq transport; it follows ureq's `TcpConnector`.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Weak};
use std::time::Duration;

use ureq::Timeout;

use crate::fetch::Live;
use ureq::unversioned::transport::{
    Buffers, ConnectProxyConnector, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout,
    RustlsConnector, ShutdownHandle, Transport,
};

/// The thread engine's connector chain: CONNECT proxies, then this TCP, then rustls.
pub(crate) fn connector(live: Arc<Live>) -> impl Connector<()> {
    ().chain(ConnectProxyConnector::default())
        .chain(LeanTcpConnector(live))
        .chain(RustlsConnector::default())
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
        let mut last_error = None;
        for addr in details.addrs.iter() {
            let connected = match timeout {
                Some(timeout) => TcpStream::connect_timeout(addr, timeout),
                None => TcpStream::connect(addr),
            };
            match connected {
                Ok(stream) => {
                    self.0
                        .connections
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if config.no_delay() {
                        stream.set_nodelay(true)?;
                    }
                    let transport = LeanTcp {
                        stream: Arc::new(stream),
                        buffers: LazyBuffers::new(
                            config.input_buffer_size(),
                            config.output_buffer_size(),
                        ),
                        read_timeout: None,
                        write_timeout: None,
                        asked_since_io: false,
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

/// A TCP connection that sets socket timeouts only when their coarse step changes.
pub(crate) struct LeanTcp {
    stream: Arc<TcpStream>,
    buffers: LazyBuffers,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    /// ureq asks twice per request whether the connection is open: when it goes back to the
    /// pool, and when it comes out. Only the second answer matters (a connection with junk
    /// or a close waiting is then skipped), so the first is not checked.
    asked_since_io: bool,
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

fn io_error(e: io::Error, reason: Timeout) -> ureq::Error {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ureq::Error::Timeout(reason),
        _ => ureq::Error::Io(e),
    }
}

impl Transport for LeanTcp {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.asked_since_io = false;
        let timeout = timeout.for_write();
        let stream = &*self.stream;
        set_if_changed(left(timeout)?, &mut self.write_timeout, |t| {
            stream.set_write_timeout(t)
        })?;
        let output = &self.buffers.output()[..amount];
        (&*self.stream)
            .write_all(output)
            .map_err(|e| io_error(e, timeout.reason))
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
        let amount = loop {
            match (&*self.stream).read(input) {
                // A signal: go on reading (the socket timeout still bounds the wait).
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                result => break result.map_err(|e| io_error(e, timeout.reason))?,
            }
        };
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        if !std::mem::replace(&mut self.asked_since_io, true) {
            return true; // going back to the pool: checked when it comes out
        }
        let mut byte = 0u8;
        // SAFETY: recv(2) on our own open socket into a 1-byte local buffer.
        let read = unsafe {
            libc::recv(
                self.stream.as_raw_fd(),
                (&raw mut byte).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        // Nothing to read is the healthy state of an idle connection; bytes nobody asked for
        // or an end of stream mean it must not be reused.
        read < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
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
            stream: Arc::new(TcpStream::connect(addr).unwrap()),
            buffers: LazyBuffers::new(1024, 1024),
            read_timeout: None,
            write_timeout: None,
            asked_since_io: true,
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
}
