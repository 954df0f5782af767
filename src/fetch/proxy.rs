//! Which proxy a request goes through, decided once for both engines, as curl decides it
//! (an http or https proxy, or SOCKS5: `socks5://` resolves names here, `socks5h://` leaves
//! them to the proxy):
//! `--proxy URL` for every request, or else the environment (`http_proxy`/`HTTP_PROXY` for
//! http, `https_proxy`/`HTTPS_PROXY` for https, `all_proxy`/`ALL_PROXY` for either), except
//! for hosts in `--noproxy LIST` (or else `no_proxy`/`NO_PROXY`): host names that match
//! exactly or as a domain suffix, IP literals, CIDR ranges (`10.0.0.0/8`, `fd00::/8`, as curl
//! 7.86+ takes them); `*` means no proxy at all.

use std::sync::Arc;

use crate::config::{Config, ConfigError};
use crate::request::{Login, redact_url};

/// The proxy settings of a fetcher.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProxyRules {
    http: Option<Arc<Proxy>>,
    https: Option<Arc<Proxy>>,
    bypass: Bypass,
}

/// A proxy, parsed once when the rules are made: everything either engine needs of it, so
/// nothing is parsed again per request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Proxy {
    /// `scheme://[user:password@]host:port`, as checked (the port always written).
    pub url: String,
    /// The same without `user:password@` (what ureq is given for a SOCKS5 proxy, whose login
    /// goes to the handshake as bytes).
    pub bare_url: String,
    /// The same with the login redacted, for messages.
    pub shown: String,
    pub kind: ProxyKind,
    pub host: String,
    pub port: u16,
    /// The login, percent-decoded (RFC 1929 for SOCKS5).
    pub login: Option<Login>,
    /// `Basic …` for `Proxy-Authorization`, for an http(s) proxy with a login.
    pub authorization: Option<String>,
}

/// What kind of proxy it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ProxyKind {
    /// `http://`: absolute-form requests, `CONNECT` for `https://` targets.
    Http,
    /// `https://`: the same, over TLS to the proxy.
    Https,
    /// `socks5://` (`remote: false`, names resolved here) or `socks5h://` (by the proxy).
    Socks5 { remote: bool },
}

impl Proxy {
    /// An HTTP proxy (absolute-form requests, `CONNECT` tunnels, `Proxy-Authorization`), as
    /// opposed to a SOCKS5 one, which only carries the connection.
    #[cfg_attr(not(feature = "async"), allow(dead_code))]
    pub(crate) fn is_http(&self) -> bool {
        matches!(self.kind, ProxyKind::Http | ProxyKind::Https)
    }

    /// The typed proxy of a URL [`checked`] wrote.
    fn of(url: String) -> Result<Proxy, ConfigError> {
        let parsed = url::Url::parse(&url)
            .map_err(|e| ConfigError::Proxy(format!("{}: {e}", redact_url(&url))))?;
        let kind = match parsed.scheme() {
            "https" => ProxyKind::Https,
            "socks5" => ProxyKind::Socks5 { remote: false },
            "socks5h" => ProxyKind::Socks5 { remote: true },
            _ => ProxyKind::Http,
        };
        let host = parsed.host_str().unwrap_or_default().to_string();
        let port = parsed.port_or_known_default().unwrap_or(80);
        let login = crate::request::credentials(&url);
        let authorization = login
            .as_ref()
            .filter(|_| !matches!(kind, ProxyKind::Socks5 { .. }))
            .map(crate::request::basic_auth);
        Ok(Proxy {
            bare_url: crate::request::without_userinfo(&url),
            shown: redact_url(&url),
            url,
            kind,
            host,
            port,
            login,
            authorization,
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Bypass {
    #[default]
    Nothing,
    Everything,
    Hosts(Vec<Exempt>),
}

/// One `no_proxy` entry: a host name (exact or a domain suffix), or an IP range.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Exempt {
    Name(String),
    /// A CIDR range: the network and its prefix length. A prefix-mask compare of two
    /// addresses is all it takes, so no crate for it.
    Net(std::net::IpAddr, u8),
}

impl Exempt {
    fn parse(entry: &str) -> Self {
        if let Some((net, bits)) = entry.split_once('/')
            && let (Ok(net), Ok(bits)) = (net.parse::<std::net::IpAddr>(), bits.parse::<u8>())
            && bits <= if net.is_ipv4() { 32 } else { 128 }
        {
            return Exempt::Net(net, bits);
        }
        Exempt::Name(entry.to_string())
    }

    fn covers(&self, host: &str) -> bool {
        match self {
            Exempt::Name(name) => {
                host == name
                    || host
                        .strip_suffix(name.as_str())
                        .is_some_and(|rest| rest.ends_with('.'))
            }
            Exempt::Net(net, bits) => host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| in_range(ip, *net, *bits)),
        }
    }
}

/// Whether `ip` is in `net/bits` (same family only).
fn in_range(ip: std::net::IpAddr, net: std::net::IpAddr, bits: u8) -> bool {
    use std::net::IpAddr::{V4, V6};
    let same = |a: u128, b: u128, width: u32| {
        let bits = u32::from(bits);
        bits == 0 || (a ^ b) >> (width - bits) == 0
    };
    match (ip, net) {
        (V4(ip), V4(net)) => same(u32::from(ip).into(), u32::from(net).into(), 32),
        (V6(ip), V6(net)) => same(u128::from(ip), u128::from(net), 128),
        _ => false,
    }
}

fn env(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|name| std::env::var(name).ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A proxy URL as written (`host:port` means http), parsed once for both engines: http,
/// https, socks5 or socks5h, a host, and a port from 1 to 65535 (default 80 for http, 443
/// for https, 1080 for SOCKS). The result
/// names its port, so neither engine's own parser can fall back to another one: a bad port
/// (`:99999`, `:-1`, `:0`) is a usage error, never a silent direct connection.
fn checked(url: &str) -> Result<String, ConfigError> {
    let url = if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    let bad = |why: &str| ConfigError::Proxy(format!("{}: {why}", redact_url(&url)));
    let mut parsed = url::Url::parse(&url).map_err(|e| match e {
        url::ParseError::InvalidPort => bad("the port must be a number from 1 to 65535"),
        url::ParseError::EmptyHost => bad("no host"),
        _ => bad("not a URL"),
    })?;
    match parsed.scheme() {
        "http" | "https" | "socks5" | "socks5h" => {}
        _ => {
            return Err(bad(
                "only http://, https://, socks5:// and socks5h:// proxies are supported",
            ));
        }
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if parsed.port() == Some(0) {
        return Err(bad("the port must be a number from 1 to 65535"));
    }
    if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() || parsed.fragment().is_some()
    {
        return Err(bad(
            "a proxy URL is scheme://[user:password@]host[:port], with no path",
        ));
    }
    // ureq carries an HTTP proxy's login as text: one that is not UTF-8 once decoded is
    // refused here, before any request, the same on both engines (a SOCKS5 login is bytes).
    if !parsed.scheme().starts_with("socks")
        && let Some((user, password)) = crate::request::credentials(parsed.as_str())
        && (String::from_utf8(user).is_err() || String::from_utf8(password).is_err())
    {
        return Err(bad(
            "an HTTP proxy's user name and password must be UTF-8 once percent-decoded",
        ));
    }
    let port = parsed
        .port_or_known_default()
        .unwrap_or(if parsed.scheme().starts_with("socks") {
            1080
        } else {
            80
        });
    // `set_port` drops a port equal to the scheme's default; write it out by hand instead.
    let _ = parsed.set_port(None);
    let mut text = parsed.as_str().trim_end_matches('/').to_string();
    text.push_str(&format!(":{port}"));
    Ok(text)
}

impl ProxyRules {
    /// The rules for `config`, reading the environment where the config leaves it to.
    pub(crate) fn of(config: &Config) -> Result<Self, ConfigError> {
        let (http, https) = match &config.proxy {
            Some(url) => {
                let proxy = Arc::new(Proxy::of(checked(url)?)?);
                (Some(Arc::clone(&proxy)), Some(proxy))
            }
            None => {
                let all = env(&["all_proxy", "ALL_PROXY"]);
                let from = |names: &[&str]| env(names).or_else(|| all.clone());
                // Only the lower-case http_proxy, as curl: HTTP_PROXY can be set by a CGI
                // request header (httpoxy).
                let typed = |u: String| checked(&u).and_then(Proxy::of).map(Arc::new);
                let http = from(&["http_proxy"]).map(typed).transpose()?;
                let https = from(&["https_proxy", "HTTPS_PROXY"])
                    .map(typed)
                    .transpose()?;
                (http, https)
            }
        };
        let list = config
            .no_proxy
            .clone()
            .or_else(|| env(&["no_proxy", "NO_PROXY"]))
            .unwrap_or_default();
        let bypass = if list.trim() == "*" {
            Bypass::Everything
        } else {
            let hosts: Vec<Exempt> = list
                .split(',')
                .map(|h| h.trim().trim_start_matches('.').to_ascii_lowercase())
                .map(|h| h.trim_matches(['[', ']']).to_string())
                .filter(|h| !h.is_empty())
                .map(|h| Exempt::parse(&h))
                .collect();
            if hosts.is_empty() {
                Bypass::Nothing
            } else {
                Bypass::Hosts(hosts)
            }
        };
        Ok(ProxyRules {
            http,
            https,
            bypass,
        })
    }

    /// The proxy for a request with `scheme` to `host`, if any.
    pub(crate) fn for_target(&self, scheme: &str, host: &str) -> Option<&Arc<Proxy>> {
        let proxy = match scheme {
            "https" => self.https.as_ref(),
            _ => self.http.as_ref(),
        }?;
        let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
        let bypassed = match &self.bypass {
            Bypass::Nothing => false,
            Bypass::Everything => true,
            Bypass::Hosts(hosts) => hosts.iter().any(|entry| entry.covers(&host)),
        };
        (!bypassed).then_some(proxy)
    }

    /// The URL of the proxy for a request with `scheme` to `host`, if any (for tests).
    #[cfg(test)]
    fn url_for(&self, scheme: &str, host: &str) -> Option<&str> {
        self.for_target(scheme, host)
            .map(|proxy| proxy.url.as_str())
    }

    /// The proxy for `uri`, if any.
    pub(crate) fn for_uri(&self, uri: &http::Uri) -> Option<&Arc<Proxy>> {
        self.for_target(uri.scheme_str()?, uri.host()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proxy_is_parsed_once_into_its_kind_host_port_and_login() {
        let typed = |url: &str| Proxy::of(checked(url).unwrap()).unwrap();
        assert_eq!(
            typed("socks5h://p:1080").kind,
            ProxyKind::Socks5 { remote: true }
        );
        assert_eq!(
            typed("SOCKS5://p").kind,
            ProxyKind::Socks5 { remote: false }
        );
        assert_eq!(typed("SOCKS5://p").port, 1080);
        let http = typed("http://u%40s:p%3A@proxy.test:3128");
        assert_eq!(
            (http.kind, http.host.as_str(), http.port),
            (ProxyKind::Http, "proxy.test", 3128)
        );
        assert_eq!(http.login, Some((b"u@s".to_vec(), b"p:".to_vec())));
        assert!(http.authorization.is_some() && !http.shown.contains("p%3A"));
        let socks = typed("socks5://u:p@s.test");
        assert!(
            socks.authorization.is_none(),
            "a SOCKS5 login goes to the handshake"
        );
        assert_eq!(socks.bare_url, "socks5://s.test:1080");
        assert_eq!(typed("proxy.test").kind, ProxyKind::Http);
    }

    fn rules(proxy: Option<&str>, no_proxy: Option<&str>) -> ProxyRules {
        let config = Config {
            proxy: proxy.map(str::to_string),
            no_proxy: no_proxy.map(str::to_string),
            ..Config::default()
        };
        ProxyRules::of(&config).unwrap()
    }

    #[test]
    fn noproxy_takes_cidr_ranges() {
        let r = rules(
            Some("http://p:3128"),
            Some("10.0.0.0/8, 192.168.1.0/24,fd00::/8,1.2.3.4/32"),
        );
        for direct in ["10.1.2.3", "192.168.1.200", "[fd12::1]", "1.2.3.4"] {
            assert_eq!(r.url_for("http", direct), None, "{direct}");
        }
        for proxied in [
            "11.0.0.1",
            "192.168.2.1",
            "[fe80::1]",
            "1.2.3.5",
            "example.org",
        ] {
            assert!(r.url_for("http", proxied).is_some(), "{proxied}");
        }
        assert_eq!(
            rules(Some("http://p:3128"), Some("0.0.0.0/0")).url_for("http", "8.8.8.8"),
            None
        );
        // Not a range: a name like any other.
        assert!(
            rules(Some("http://p:3128"), Some("10.0.0.0/99"))
                .url_for("http", "10.0.0.1")
                .is_some()
        );
    }

    #[test]
    fn noproxy_matches_hosts_domains_and_everything() {
        let r = rules(
            Some("127.0.0.1:3128"),
            Some("example.com, .internal,10.0.0.1,[::1]"),
        );
        assert_eq!(r.url_for("http", "a.test"), Some("http://127.0.0.1:3128"));
        assert_eq!(r.url_for("https", "a.test"), Some("http://127.0.0.1:3128"));
        for bypassed in [
            "example.com",
            "www.example.com",
            "x.internal",
            "10.0.0.1",
            "[::1]",
        ] {
            assert_eq!(r.url_for("http", bypassed), None, "{bypassed}");
        }
        assert!(r.url_for("http", "notexample.com").is_some());
        assert_eq!(rules(Some("p:1"), Some("*")).url_for("http", "a"), None);
    }

    #[test]
    fn http_and_socks5_proxies_are_accepted() {
        let mut config = Config {
            proxy: Some("socks4://127.0.0.1:1080".into()),
            ..Config::default()
        };
        assert!(matches!(
            ProxyRules::of(&config),
            Err(ConfigError::Proxy(_))
        ));
        for (given, written) in [
            ("socks5h://u:p@proxy.test", "socks5h://u:p@proxy.test:1080"),
            ("SOCKS5://10.0.0.1:9050", "socks5://10.0.0.1:9050"),
        ] {
            config.proxy = Some(given.into());
            let rules = ProxyRules::of(&config).unwrap();
            assert_eq!(rules.url_for("https", "a.test"), Some(written));
        }
        config.proxy = Some("http://u:secret@p:1".into());
        assert!(ProxyRules::of(&config).is_ok());
        config.proxy = Some("ftp://u:secret@p:1".into());
        let error = ProxyRules::of(&config).unwrap_err().to_string();
        assert!(!error.contains("secret"), "{error}");
    }

    #[test]
    fn a_proxy_port_out_of_range_is_refused_and_a_good_one_is_written_out() {
        for bad in [
            "http://127.0.0.1:99999",
            "http://127.0.0.1:65536",
            "http://127.0.0.1:-1",
            "http://127.0.0.1:0",
            "127.0.0.1:http",
            "http://127.0.0.1:8080/path",
        ] {
            let config = Config {
                proxy: Some(bad.into()),
                ..Config::default()
            };
            assert!(
                matches!(ProxyRules::of(&config), Err(ConfigError::Proxy(_))),
                "{bad} accepted"
            );
        }
        let r = rules(Some("http://[::1]"), None);
        assert_eq!(r.url_for("http", "a"), Some("http://[::1]:80"));
        let r = rules(Some("https://u:p@proxy.test/"), None);
        assert_eq!(r.url_for("http", "a"), Some("https://u:p@proxy.test:443"));
        let r = rules(Some("127.0.0.1:65535"), None);
        assert_eq!(r.url_for("http", "a"), Some("http://127.0.0.1:65535"));
    }
}
