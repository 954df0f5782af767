//! Name resolution for the shared agent: IP literals without a lookup, names cached briefly.
//!
//! ureq resolves the host before every request, even one that will reuse a pooled
//! connection, and with a resolve timeout set its default resolver spawns a thread per
//! lookup. For 10,000 URLs on one host that was 10,000 threads; here it is one lookup.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// How long a successful lookup is reused.
const TTL: Duration = Duration::from_secs(60);

/// Wraps a resolver with an IP-literal shortcut and a short-lived cache of successes.
#[derive(Debug)]
pub struct CachingResolver<R> {
    inner: R,
    cache: Mutex<HashMap<String, (Instant, ResolvedSocketAddrs)>>,
}

impl<R: Resolver> CachingResolver<R> {
    /// Cache the answers of `inner`.
    pub fn new(inner: R) -> Self {
        CachingResolver {
            inner,
            cache: Mutex::new(HashMap::new()),
        }
    }
}

impl<R: Resolver> Resolver for CachingResolver<R> {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
            return self.inner.resolve(uri, config, timeout);
        };
        let Some(key) = DefaultResolver::host_and_port(scheme, authority) else {
            return self.inner.resolve(uri, config, timeout);
        };
        let host = authority.host().trim_matches(['[', ']']);
        if let (Ok(ip), Some(port)) = (
            host.parse::<IpAddr>(),
            authority.port_u16().or(default_port(scheme)),
        ) {
            let mut addrs = self.inner.empty();
            addrs.push(SocketAddr::new(ip, port));
            return Ok(addrs);
        }
        let now = Instant::now();
        if let Ok(cache) = self.cache.lock()
            && let Some((at, addrs)) = cache.get(&key)
            && now.duration_since(*at) < TTL
        {
            return Ok(addrs.clone());
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(key, (now, addrs.clone()));
        }
        Ok(addrs)
    }
}

fn default_port(scheme: &ureq::http::uri::Scheme) -> Option<u16> {
    match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug, Default)]
    struct Counting(AtomicUsize);

    impl Resolver for Counting {
        fn resolve(
            &self,
            _uri: &Uri,
            _config: &ureq::config::Config,
            _timeout: NextTimeout,
        ) -> Result<ResolvedSocketAddrs, ureq::Error> {
            self.0.fetch_add(1, Ordering::SeqCst);
            let mut addrs = self.empty();
            addrs.push(SocketAddr::from(([127, 0, 0, 1], 9)));
            Ok(addrs)
        }
    }

    fn resolve(resolver: &CachingResolver<Counting>, url: &str) -> Vec<SocketAddr> {
        let config = ureq::config::Config::default();
        let timeout = NextTimeout::default();
        let uri: Uri = url.parse().unwrap();
        resolver
            .resolve(&uri, &config, timeout)
            .unwrap()
            .iter()
            .copied()
            .collect()
    }

    #[test]
    fn names_are_looked_up_once_and_ip_literals_never() {
        let resolver = CachingResolver::new(Counting::default());
        for _ in 0..3 {
            resolve(&resolver, "http://example.test:8080/a");
        }
        assert_eq!(resolver.inner.0.load(Ordering::SeqCst), 1);
        assert_eq!(
            resolve(&resolver, "http://10.1.2.3/x"),
            [SocketAddr::from(([10, 1, 2, 3], 80))]
        );
        assert_eq!(
            resolve(&resolver, "https://[::1]:8443/x"),
            ["[::1]:8443".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(resolver.inner.0.load(Ordering::SeqCst), 1);
        resolve(&resolver, "http://example.test:9090/");
        assert_eq!(
            resolver.inner.0.load(Ordering::SeqCst),
            2,
            "another port is another key"
        );
    }
}
