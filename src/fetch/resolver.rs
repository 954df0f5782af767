//! Name resolution for both engines: poolfetch's own small [`Resolve`] trait (so the library
//! does not expose ureq's unversioned one), IP literals answered without a lookup, names
//! cached briefly, and failures typed as [`DnsError`] so classification never matches text.
//!
//! ureq resolves the host before every request, even one that will reuse a pooled
//! connection; for 10,000 URLs on one host that was 10,000 lookups, here it is one.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long one connection attempt runs alone before the next address is tried beside it
/// (RFC 8305's "Connection Attempt Delay"), on both engines.
pub(crate) const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// `addrs` in Happy Eyeballs order (RFC 8305 §4): the first address's family first, then the
/// two families alternating.
pub(crate) fn happy_eyeballs_order(addrs: &[SocketAddr]) -> Vec<SocketAddr> {
    let (v6, v4): (Vec<SocketAddr>, Vec<SocketAddr>) = addrs.iter().partition(|a| a.is_ipv6());
    let (first, second) = if addrs.first().is_some_and(SocketAddr::is_ipv6) {
        (v6, v4)
    } else {
        (v4, v6)
    };
    let mut order = Vec::with_capacity(addrs.len());
    for i in 0..first.len().max(second.len()) {
        order.extend(first.get(i).copied());
        order.extend(second.get(i).copied());
    }
    order
}

/// Turns a host name into socket addresses. Inject one with `Fetcher::with_resolver` to pin
/// names to addresses, or to reach the `dns` error path in tests without leaving the machine.
/// It is called from worker threads (and from a blocking task on the async engine), so it may
/// block.
pub trait Resolve: Send + Sync + 'static {
    /// The addresses of `host` (never an IP literal: those are answered before) on `port`.
    fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>>;
}

/// The system resolver (`getaddrinfo`).
#[derive(Debug, Default)]
pub(crate) struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok((host, port).to_socket_addrs()?.collect())
    }
}

/// A name pinned to addresses on one port, as curl's `--resolve HOST:PORT:ADDR[,ADDR…]`:
/// requests to that host and port connect there (TLS still checks the certificate for HOST),
/// and no lookup is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// The host name, lower case.
    pub host: String,
    /// The port.
    pub port: u16,
    /// Where to connect, in this order.
    pub addrs: Vec<IpAddr>,
}

impl std::str::FromStr for Pin {
    type Err = String;

    /// `HOST:PORT:ADDR[,ADDR…]`; an IPv6 address may be in brackets (`[::1]`).
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not HOST:PORT:ADDR (e.g. example.com:443:127.0.0.1)");
        let mut parts = text.splitn(3, ':');
        let (Some(host), Some(port), Some(addrs)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let port: u16 = port.parse().map_err(|_| bad())?;
        let addrs = addrs
            .split(',')
            .map(|a| {
                a.trim()
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| bad())?;
        if host.is_empty() || addrs.is_empty() {
            return Err(bad());
        }
        Ok(Pin {
            host: host.to_ascii_lowercase(),
            port,
            addrs,
        })
    }
}

/// A resolver that answers pinned names itself and asks `inner` for the rest.
pub(crate) struct Pinned {
    pub pins: Vec<Pin>,
    pub inner: Box<dyn Resolve>,
}

impl Resolve for Pinned {
    fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        let pinned = self
            .pins
            .iter()
            .find(|pin| pin.port == port && pin.host.eq_ignore_ascii_case(host));
        match pinned {
            Some(pin) => Ok(pin
                .addrs
                .iter()
                .map(|ip| SocketAddr::new(*ip, port))
                .collect()),
            None => self.inner.resolve(host, port),
        }
    }
}

/// A name that could not be resolved: the one error both engines classify as `dns`.
#[derive(Debug, thiserror::Error)]
#[error("cannot resolve {host}: {source}")]
pub(crate) struct DnsError {
    host: String,
    #[source]
    source: io::Error,
}

/// How long a successful lookup is reused.
const TTL: Duration = Duration::from_secs(60);

/// Successful lookups by (host, port), with when they were made.
type Cache = HashMap<(String, u16), (Instant, Vec<SocketAddr>)>;

/// Wraps a resolver with an IP-literal shortcut and a short-lived cache of successes.
pub(crate) struct CachingResolver {
    inner: Box<dyn Resolve>,
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for CachingResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CachingResolver")
    }
}

impl CachingResolver {
    /// Cache the answers of `inner`.
    pub(crate) fn new(inner: Box<dyn Resolve>) -> Self {
        CachingResolver {
            inner,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The addresses of `host` (a name, or an IP literal with or without brackets) on `port`.
    pub(crate) fn lookup(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, DnsError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let key = (bare.to_ascii_lowercase(), port);
        let now = Instant::now();
        if let Ok(cache) = self.cache.lock()
            && let Some((at, addrs)) = cache.get(&key)
            && now.duration_since(*at) < TTL
        {
            return Ok(addrs.clone());
        }
        let fail = |source| DnsError {
            host: bare.to_string(),
            source,
        };
        let addrs = self.inner.resolve(bare, port).map_err(fail)?;
        if addrs.is_empty() {
            return Err(fail(io::Error::new(
                io::ErrorKind::NotFound,
                "no addresses",
            )));
        }
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(key, (now, addrs.clone()));
        }
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counting(Arc<AtomicUsize>);

    impl Resolve for Counting {
        fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            if host == "missing.test" {
                return Err(io::Error::new(io::ErrorKind::NotFound, "no such host"));
            }
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
        }
    }

    #[test]
    fn happy_eyeballs_alternate_families_starting_with_the_first() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        let addrs = [a("[::1]:1"), a("[::2]:1"), a("[::3]:1"), a("10.0.0.1:1")];
        assert_eq!(
            happy_eyeballs_order(&addrs),
            [a("[::1]:1"), a("10.0.0.1:1"), a("[::2]:1"), a("[::3]:1")]
        );
        assert_eq!(happy_eyeballs_order(&[a("10.0.0.1:1")]), [a("10.0.0.1:1")]);
    }

    #[test]
    fn names_are_looked_up_once_and_ip_literals_never() {
        let calls = Arc::new(AtomicUsize::new(0));
        let resolver = CachingResolver::new(Box::new(Counting(Arc::clone(&calls))));
        for _ in 0..3 {
            resolver.lookup("Example.test", 8080).unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(
            resolver.lookup("10.1.2.3", 80).unwrap(),
            [SocketAddr::from(([10, 1, 2, 3], 80))]
        );
        assert_eq!(
            resolver.lookup("[::1]", 8443).unwrap(),
            ["[::1]:8443".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        resolver.lookup("example.test", 9090).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2, "another port, another key");
        let error = resolver.lookup("missing.test", 80).unwrap_err();
        assert!(error.to_string().contains("missing.test"), "{error}");
    }
}
