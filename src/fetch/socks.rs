//! The client side of a SOCKS5 handshake (RFC 1928, with RFC 1929 username/password), run by
//! both engines over the TCP connection they opened to the proxy.
//!
//! Written here, once, because neither engine's crate can do it over poolfetch's own
//! connection: ureq's SOCKS connector opens its own TCP socket (past the lean transport, its
//! connection count, Happy Eyeballs and `remote_addr`), the `socks` crate likewise, and
//! tokio-socks would serve only the async engine. The handshake is one async function over
//! [`Wire`]; the thread engine drives it with blocking I/O under `pollster`.

use std::io;
use std::net::{IpAddr, SocketAddr};

use crate::record::{ErrorKind, FetchError};

/// What the proxy is asked to connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target<'a> {
    /// An address resolved here (`socks5://`, or an IP literal).
    Ip(SocketAddr),
    /// A name the proxy resolves (`socks5h://`).
    Name(&'a str, u16),
}

impl std::fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Ip(addr) => write!(f, "{addr}"),
            Target::Name(host, port) => write!(f, "{host}:{port}"),
        }
    }
}

impl<'a> Target<'a> {
    /// The target for `host:port` through a proxy that resolves names itself (`remote`) or
    /// not, with `resolved` the addresses found here.
    pub(crate) fn of(
        host: &'a str,
        port: u16,
        remote: bool,
        resolved: &[SocketAddr],
    ) -> Result<Self, FetchError> {
        let bare = host.trim_matches(['[', ']']);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(Target::Ip(SocketAddr::new(ip, port)));
        }
        if remote {
            return Ok(Target::Name(bare, port));
        }
        resolved.first().copied().map(Target::Ip).ok_or_else(|| {
            FetchError::new(
                ErrorKind::Dns,
                format!("{host}: no address to ask the SOCKS5 proxy for"),
            )
        })
    }
}

/// The byte stream to the proxy, as the handshake reads and writes it.
pub(crate) trait Wire {
    fn write_all(&mut self, bytes: &[u8]) -> impl Future<Output = io::Result<()>>;
    fn read_exact(&mut self, bytes: &mut [u8]) -> impl Future<Output = io::Result<()>>;
}

const VERSION: u8 = 5;
const NO_AUTH: u8 = 0;
const USER_PASSWORD: u8 = 2;
const NO_ACCEPTABLE: u8 = 0xff;

/// Ask the proxy at the other end of `wire` to connect to `target`, logging in with
/// `credentials` when the proxy asks for them. Afterwards `wire` carries the target's bytes.
pub(crate) async fn handshake<W: Wire>(
    wire: &mut W,
    target: Target<'_>,
    credentials: Option<(&[u8], &[u8])>,
) -> Result<(), FetchError> {
    let io = |e: io::Error| {
        let kind = match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ErrorKind::Timeout,
            _ => ErrorKind::Io,
        };
        FetchError::new(kind, format!("SOCKS5 handshake: {e}"))
    };
    let methods: &[u8] = match credentials {
        Some(_) => &[NO_AUTH, USER_PASSWORD],
        None => &[NO_AUTH],
    };
    let mut greeting = vec![VERSION, methods.len() as u8];
    greeting.extend_from_slice(methods);
    wire.write_all(&greeting).await.map_err(io)?;
    let mut chosen = [0u8; 2];
    wire.read_exact(&mut chosen).await.map_err(io)?;
    if chosen[0] != VERSION {
        return Err(broken("the proxy does not speak SOCKS5"));
    }
    match (chosen[1], credentials) {
        (NO_AUTH, _) => {}
        (USER_PASSWORD, Some((user, password))) => {
            let (Ok(user_len), Ok(password_len)) =
                (u8::try_from(user.len()), u8::try_from(password.len()))
            else {
                return Err(refused(
                    "a SOCKS5 user name and password are 255 bytes at most",
                ));
            };
            let mut login = vec![1, user_len];
            login.extend_from_slice(user);
            login.push(password_len);
            login.extend_from_slice(password);
            wire.write_all(&login).await.map_err(io)?;
            let mut status = [0u8; 2];
            wire.read_exact(&mut status).await.map_err(io)?;
            if status[1] != 0 {
                return Err(refused(
                    "the SOCKS5 proxy refused the user name and password",
                ));
            }
        }
        (NO_ACCEPTABLE | USER_PASSWORD, _) => {
            return Err(refused(
                "the SOCKS5 proxy wants a login poolfetch was not given (user:password@ in the proxy URL)",
            ));
        }
        (other, _) => {
            return Err(broken(&format!(
                "the proxy chose an unknown SOCKS5 method {other}"
            )));
        }
    }
    wire.write_all(&connect_request(target)?)
        .await
        .map_err(io)?;
    let mut reply = [0u8; 4];
    wire.read_exact(&mut reply).await.map_err(io)?;
    if reply[0] != VERSION {
        return Err(broken("the proxy's SOCKS5 reply has the wrong version"));
    }
    if reply[1] != 0 {
        return Err(refused(&format!(
            "the SOCKS5 proxy could not connect to {target}: {} ({})",
            reply_text(reply[1]),
            reply[1]
        )));
    }
    // The address the proxy bound, which nobody here needs, then the port.
    let rest = match reply[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        3 => {
            let mut len = [0u8; 1];
            wire.read_exact(&mut len).await.map_err(io)?;
            usize::from(len[0]) + 2
        }
        _ => {
            return Err(broken(
                "the proxy's SOCKS5 reply has an unknown address type",
            ));
        }
    };
    let mut bound = vec![0u8; rest];
    wire.read_exact(&mut bound).await.map_err(io)
}

/// `CONNECT target`.
fn connect_request(target: Target<'_>) -> Result<Vec<u8>, FetchError> {
    let mut request = vec![VERSION, 1, 0];
    let port = match target {
        Target::Ip(SocketAddr::V4(addr)) => {
            request.push(1);
            request.extend_from_slice(&addr.ip().octets());
            addr.port()
        }
        Target::Ip(SocketAddr::V6(addr)) => {
            request.push(4);
            request.extend_from_slice(&addr.ip().octets());
            addr.port()
        }
        Target::Name(host, port) => {
            let len = u8::try_from(host.len()).map_err(|_| {
                FetchError::new(
                    ErrorKind::InvalidUrl,
                    "a host name longer than SOCKS5 takes",
                )
            })?;
            request.push(3);
            request.push(len);
            request.extend_from_slice(host.as_bytes());
            port
        }
    };
    request.extend_from_slice(&port.to_be_bytes());
    Ok(request)
}

/// RFC 1928's reply codes.
fn reply_text(code: u8) -> &'static str {
    match code {
        1 => "general failure",
        2 => "not allowed by its rules",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unknown reply",
    }
}

fn refused(message: &str) -> FetchError {
    FetchError::new(ErrorKind::Connect, message)
}

fn broken(message: &str) -> FetchError {
    FetchError::new(ErrorKind::Protocol, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scripted proxy: what it answers, and what it was sent.
    struct Script {
        answers: std::collections::VecDeque<u8>,
        sent: Vec<u8>,
    }

    impl Wire for Script {
        async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
            self.sent.extend_from_slice(bytes);
            Ok(())
        }
        async fn read_exact(&mut self, bytes: &mut [u8]) -> io::Result<()> {
            for byte in bytes {
                *byte = self
                    .answers
                    .pop_front()
                    .ok_or(io::ErrorKind::UnexpectedEof)?;
            }
            Ok(())
        }
    }

    fn run(
        answers: &[u8],
        target: Target<'_>,
        login: Option<(&str, &str)>,
    ) -> (Result<(), FetchError>, Vec<u8>) {
        let login = login.map(|(u, p)| (u.as_bytes(), p.as_bytes()));
        let mut script = Script {
            answers: answers.iter().copied().collect(),
            sent: Vec::new(),
        };
        let result = pollster::block_on(handshake(&mut script, target, login));
        (result, script.sent)
    }

    #[test]
    fn a_name_goes_to_the_proxy_and_a_login_is_sent_when_asked() {
        let answers = [5, 2, 1, 0, 5, 0, 0, 1, 10, 0, 0, 1, 0, 80];
        let (result, sent) = run(
            &answers,
            Target::Name("example.org", 443),
            Some(("u", "pw")),
        );
        assert_eq!(result, Ok(()));
        let mut expected = vec![5, 2, 0, 2, 1, 1, b'u', 2, b'p', b'w', 5, 1, 0, 3, 11];
        expected.extend_from_slice(b"example.org");
        expected.extend_from_slice(&[1, 187]);
        assert_eq!(sent, expected);
    }

    #[test]
    fn an_address_is_sent_as_one_and_a_refusal_is_a_connect_error() {
        let addr: SocketAddr = "[::1]:8080".parse().unwrap();
        let (result, sent) = run(&[5, 0, 5, 5, 0, 1], Target::Ip(addr), None);
        let error = result.unwrap_err();
        assert_eq!(error.kind, ErrorKind::Connect);
        assert!(
            error.message.contains("connection refused (5)"),
            "{}",
            error.message
        );
        assert_eq!(&sent[..3], &[5, 1, 0]);
        assert_eq!(sent[6], 4);
        assert_eq!(&sent[sent.len() - 2..], &[0x1f, 0x90]);
    }

    #[test]
    fn a_proxy_that_wants_a_login_or_speaks_something_else_is_said_so() {
        let (wants, _) = run(&[5, 0xff], Target::Name("h", 80), None);
        assert!(wants.unwrap_err().message.contains("wants a login"));
        let (http, _) = run(b"HTTP/1.1 400", Target::Name("h", 80), None);
        assert_eq!(http.unwrap_err().kind, ErrorKind::Protocol);
        let (cut, _) = run(&[5], Target::Name("h", 80), None);
        assert_eq!(cut.unwrap_err().kind, ErrorKind::Io);
    }

    #[test]
    fn socks5h_leaves_names_to_the_proxy_and_socks5_resolves_them_here() {
        let here: SocketAddr = "10.0.0.7:80".parse().unwrap();
        assert_eq!(
            Target::of("a.test", 80, true, &[]),
            Ok(Target::Name("a.test", 80))
        );
        assert_eq!(
            Target::of("a.test", 80, false, &[here]),
            Ok(Target::Ip(here))
        );
        assert_eq!(
            Target::of("[::1]", 80, true, &[]),
            Ok(Target::Ip("[::1]:80".parse().unwrap()))
        );
        assert_eq!(
            Target::of("a.test", 80, false, &[]).unwrap_err().kind,
            ErrorKind::Dns
        );
    }
}
