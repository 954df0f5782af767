//! One request: method, URL and optional body. Knows nothing about pools or ordering.

use std::sync::Arc;
use std::time::Duration;

use crate::record::{ErrorKind, FetchError};

/// A request to send. `From<&str>`/`From<String>` make a `GET`; [`Request::new`] any method.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Request {
    /// HTTP method, upper case (`GET`, `POST`, …).
    pub method: String,
    /// Absolute `http(s)` URL as given; validated when it is sent.
    pub url: String,
    /// Body bytes and their content type, shared between requests that send the same body.
    pub body: Option<Arc<Body>>,
    /// This request's own headers, sent after the run's (`-H`); a name given here replaces
    /// the run's header of the same name.
    pub headers: Vec<(String, String)>,
    /// This request's own whole-request time limit, in place of the run's `max_time`.
    pub timeout: Option<Duration>,
    /// The caller's own data about this request (an id, a label…), copied unchanged into its
    /// record's `meta`.
    pub meta: Option<serde_json::Value>,
    /// Set when the input itself was refused (a line too long to be a URL, a request line
    /// that does not parse): never sent, and the record carries this error.
    pub(crate) rejected: Option<FetchError>,
}

/// A request body with the content type that describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// Value of the `Content-Type` header, when one should be sent.
    pub content_type: Option<String>,
    /// The bytes sent.
    pub bytes: Vec<u8>,
}

impl Body {
    /// A JSON body (`Content-Type: application/json`); the text must parse as JSON.
    pub fn json(text: &str) -> Result<Body, String> {
        serde_json::from_str::<serde_json::Value>(text)
            .map_err(|e| format!("the JSON body does not parse: {e}"))?;
        Ok(Body {
            content_type: Some("application/json".into()),
            bytes: text.as_bytes().to_vec(),
        })
    }

    /// An urlencoded form (`Content-Type: application/x-www-form-urlencoded`) from pairs.
    pub fn form<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Body {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        serializer.extend_pairs(pairs);
        Body {
            content_type: Some("application/x-www-form-urlencoded".into()),
            bytes: serializer.finish().into_bytes(),
        }
    }

    /// Raw bytes, sent as they are with curl's `-d` default content type (urlencoded form).
    pub fn data(bytes: Vec<u8>) -> Body {
        Body {
            content_type: Some("application/x-www-form-urlencoded".into()),
            bytes,
        }
    }
}

impl Request {
    /// A `GET` of `url`.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    /// A request with `method` (upper case) to `url`, without a body.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Request {
            method: method.into(),
            url: url.into(),
            body: None,
            headers: Vec::new(),
            timeout: None,
            meta: None,
            rejected: None,
        }
    }

    /// This request with `body`.
    pub fn with_body(mut self, body: impl Into<Arc<Body>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// This request with a header of its own (over the run's header of the same name).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// This request with its own whole-request time limit.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// This request with `meta`, copied unchanged into its record.
    pub fn with_meta(mut self, meta: serde_json::Value) -> Self {
        self.meta = Some(meta);
        self
    }

    /// An input refused before any request: never sent, and its record (with `shown` as its
    /// URL) carries `error`.
    pub fn refused(shown: impl Into<String>, error: FetchError) -> Self {
        Self::rejected(shown.into(), error)
    }

    /// An input refused before any request (the record carries `error`).
    pub(crate) fn rejected(url: String, error: FetchError) -> Self {
        Request {
            rejected: Some(error),
            ..Self::new("GET", url)
        }
    }

    /// The URL with any `user:pass@` replaced by `***@`, safe for records and messages.
    pub fn display_url(&self) -> String {
        redact_url(&self.url)
    }
}

impl From<&str> for Request {
    fn from(url: &str) -> Self {
        Request::get(url)
    }
}

impl From<String> for Request {
    fn from(url: String) -> Self {
        Request::get(url)
    }
}

/// Whether HTTP can carry a header field `name: value` (a token name, a value without
/// control characters): the one check of the run's headers and of a request's own.
pub(crate) fn valid_header(name: &str, value: &str) -> bool {
    http::HeaderName::from_bytes(name.as_bytes()).is_ok()
        && http::HeaderValue::from_str(value).is_ok()
}

/// A duration as curl and poolfetch's users write one: bare seconds (`5`, `0.5`) or with a
/// unit (`10s`, `250ms`, `1m`).
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    if let Ok(seconds) = text.trim().parse::<f64>() {
        return std::time::Duration::try_from_secs_f64(seconds)
            .map_err(|_| format!("{text:?} is not a duration (try e.g. 5, 0.5, 10s or 250ms)"));
    }
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("{e} (try e.g. 5, 0.5, 10s or 250ms)"))
}

/// `text` as an HTTP method, upper case (`get` is `GET`): 1 to 16 ASCII letters, or why not.
/// Every client checks a method here before any request.
pub fn check_method(text: &str) -> Result<String, String> {
    let method = text.trim().to_ascii_uppercase();
    if method.is_empty() || method.len() > 16 || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "{text:?} is not an HTTP method (GET, POST, PUT, …)"
        ));
    }
    Ok(method)
}

/// The userinfo part (`user:pass`) of a URL, if it has one.
pub fn userinfo(url: &str) -> Option<&str> {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[after_scheme..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    authority.rfind('@').map(|at| &authority[..at])
}

/// `url` with its userinfo replaced by `***`, so credentials never reach output.
pub fn redact_url(url: &str) -> String {
    match userinfo(url) {
        Some(info) => url.replacen(&format!("{info}@"), "***@", 1),
        None => url.to_string(),
    }
}

/// `url` without its `userinfo@`.
pub(crate) fn without_userinfo(url: &str) -> String {
    match userinfo(url) {
        Some(info) => url.replacen(&format!("{info}@"), "", 1),
        None => url.to_string(),
    }
}

/// `message` with every occurrence of `url`'s userinfo replaced by `***`.
pub fn redact_message(message: &str, url: &str) -> String {
    match userinfo(url) {
        Some(info) if !info.is_empty() => message.replace(info, "***"),
        _ => message.to_string(),
    }
}

/// A user name and password, as bytes.
pub(crate) type Login = (Vec<u8>, Vec<u8>);

/// A URL's `user:password@`, percent-decoded to bytes, as curl reads it: what it sends as
/// `Authorization: Basic` (for a request URL) or a login (for a SOCKS5 proxy URL). `None`
/// when the URL has no userinfo or only `@`.
pub(crate) fn credentials(url: &str) -> Option<Login> {
    login_of(userinfo(url)?)
}

/// `user:password` (percent-encoded, as in a URL) decoded to bytes; `None` when empty.
fn login_of(info: &str) -> Option<Login> {
    if info.is_empty() {
        return None;
    }
    let (user, password) = info.split_once(':').unwrap_or((info, ""));
    let decode = |text: &str| percent_encoding::percent_decode_str(text).collect::<Vec<u8>>();
    Some((decode(user), decode(password)))
}

/// The `Authorization` value for `USER:PASSWORD` as given (curl's `-u`, not percent-decoded):
/// `Basic` and the base64 of its bytes.
pub fn basic_authorization(user_and_password: &str) -> String {
    let (user, password) = user_and_password
        .split_once(':')
        .unwrap_or((user_and_password, ""));
    basic_auth(&(user.as_bytes().to_vec(), password.as_bytes().to_vec()))
}

/// `Basic base64(user:password)` for credentials.
pub(crate) fn basic_auth((user, password): &Login) -> String {
    use base64::Engine;
    let mut joined = Vec::with_capacity(user.len() + 1 + password.len());
    joined.extend_from_slice(user);
    joined.push(b':');
    joined.extend_from_slice(password);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(joined)
    )
}

/// `uri` without its userinfo: credentials never go out as part of the authority
/// (`Host`, HTTP/2's `:authority`, a request line to a proxy; RFC 9110 §4.2.4, RFC 9113
/// §8.3.1), and the credentials it had.
pub(crate) fn without_credentials(uri: http::Uri) -> (http::Uri, Option<Login>) {
    let Some(authority) = uri.authority() else {
        return (uri, None);
    };
    let Some((info, host_port)) = authority.as_str().rsplit_once('@') else {
        return (uri, None);
    };
    let found = login_of(info);
    let mut parts = uri.clone().into_parts();
    match host_port.parse::<http::uri::Authority>() {
        Ok(bare) => parts.authority = Some(bare),
        Err(_) => return (uri, found),
    }
    match http::Uri::from_parts(parts) {
        Ok(bare) => (bare, found),
        Err(_) => (uri, found),
    }
}

/// Check that `url` is an absolute `http` or `https` URL with a host.
///
/// A failure is an `invalid_url` error for that input's record, never a panic.
pub(crate) fn check_url(url: &str) -> Result<http::Uri, FetchError> {
    let invalid =
        |why: &str| FetchError::new(ErrorKind::InvalidUrl, format!("{why}: {}", redact_url(url)));
    // An IDN host (`bücher.example`) goes out as punycode (`xn--bcher-kva.example`), and
    // other non-ASCII is percent-encoded, as curl and browsers send them; the record keeps
    // what was written.
    let ascii;
    let url = if url.is_ascii() {
        url
    } else {
        ascii = url::Url::parse(url).map_err(|e| invalid(&format!("not a valid URL ({e})")))?;
        ascii.as_str()
    };
    let uri: http::Uri = url.parse().map_err(|_| invalid("not a valid URL"))?;
    match uri.scheme_str() {
        Some(scheme)
            if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") => {}
        Some(_) => return Err(invalid("unsupported scheme (only http and https)")),
        None => return Err(invalid("not an absolute URL (no http:// or https://)")),
    }
    match uri.host() {
        Some(host) if !host.is_empty() => {}
        _ => return Err(invalid("URL has no host")),
    }
    // http::Uri accepts any digits as a port, and a client would quietly use the default
    // port for one it cannot represent: 99999 must not become 80.
    let authority = uri.authority().map_or("", |a| a.as_str());
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    if let Some((_, port)) = host_port.rsplit_once(':')
        && !port.contains(']')
        && !port.is_empty()
        && !matches!(port.parse::<u32>(), Ok(1..=65535))
    {
        return Err(invalid("port out of range (1-65535)"));
    }
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_leave_the_authority_and_decode_to_bytes() {
        let uri = check_url("http://al%40ice:S3%3ACRET%FF@127.0.0.1:8/p?q").unwrap();
        let (bare, found) = without_credentials(uri);
        assert_eq!(bare.to_string(), "http://127.0.0.1:8/p?q");
        let found = found.unwrap();
        assert_eq!(found.0, b"al@ice");
        assert_eq!(found.1, b"S3:CRET\xff");
        assert_eq!(basic_auth(&(b"a".to_vec(), b"b".to_vec())), "Basic YTpi");
        assert_eq!(credentials("socks5://:pw@h:1").unwrap().1, b"pw");
        assert!(credentials("http://@h/").is_none());
        assert!(
            without_credentials(check_url("http://h/").unwrap())
                .1
                .is_none()
        );
    }

    #[test]
    fn idn_hosts_go_out_as_punycode() {
        let uri = check_url("http://bücher.example:8080/straße?q=ä").unwrap();
        assert_eq!(uri.host(), Some("xn--bcher-kva.example"));
        assert_eq!(uri.port_u16(), Some(8080));
        assert_eq!(uri.path(), "/stra%C3%9Fe");
        assert!(check_url("http://exa mple.org/").is_err());
        assert!(
            check_url("http://☃/").is_ok(),
            "a snowman is a valid IDN label"
        );
    }

    #[test]
    fn bodies_carry_their_content_type() {
        let form = Body::form([("a", "1"), ("b", "x y&z")]);
        assert_eq!(form.bytes, b"a=1&b=x+y%26z");
        assert!(Body::json("{\"a\":").is_err());
        assert_eq!(
            Body::json("[1]").unwrap().content_type.as_deref(),
            Some("application/json")
        );
    }

    #[test]
    fn credentials_are_redacted_from_urls_and_messages() {
        let url = "http://alice:s3cret@127.0.0.1:9/path?q=a@b";
        assert_eq!(redact_url(url), "http://***@127.0.0.1:9/path?q=a@b");
        let message = format!("bad uri: {url}");
        assert!(!redact_message(&message, url).contains("s3cret"));
        assert_eq!(redact_url("http://host/a@b"), "http://host/a@b");
        assert_eq!(userinfo("no scheme@host"), Some("no scheme"));
    }
    #[test]
    fn only_absolute_http_urls_with_a_host_pass() {
        for good in [
            "http://127.0.0.1:8080/todos/1",
            "HTTPS://example.com",
            "http://u:p@h/",
        ] {
            assert!(check_url(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "not a url",
            "ftp://h/x",
            "/relative",
            "http://",
            "http:// spaced/",
            "http://127.0.0.1:99999/x",
            "http://127.0.0.1:65616/x",
            "http://127.0.0.1:0/x",
            "\u{fffd}",
        ] {
            let err = check_url(bad).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidUrl, "{bad}");
        }
        let err = check_url("ftp://bob:pw@h/").unwrap_err();
        assert!(!err.message.contains("pw"));
    }
}
