//! One request: method, URL and optional body. Knows nothing about pools or ordering.

use std::sync::Arc;

/// A request to send. `From<&str>`/`From<String>` make a `GET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// HTTP method, upper case (`GET`, `POST`, …).
    pub method: String,
    /// Absolute `http(s)` URL as given; validated when it is sent.
    pub url: String,
    /// Body bytes and their content type, shared between requests that send the same body.
    pub body: Option<Arc<Body>>,
}

/// A request body with the content type that describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// Value of the `Content-Type` header, when one should be sent.
    pub content_type: Option<String>,
    /// The bytes sent.
    pub bytes: Vec<u8>,
}

impl Request {
    /// A `GET` of `url`.
    pub fn get(url: impl Into<String>) -> Self {
        Request {
            method: "GET".to_string(),
            url: url.into(),
            body: None,
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

/// `message` with every occurrence of `url`'s userinfo replaced by `***`.
pub fn redact_message(message: &str, url: &str) -> String {
    match userinfo(url) {
        Some(info) if !info.is_empty() => message.replace(info, "***"),
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted_from_urls_and_messages() {
        let url = "http://alice:s3cret@127.0.0.1:9/path?q=a@b";
        assert_eq!(redact_url(url), "http://***@127.0.0.1:9/path?q=a@b");
        let message = format!("bad uri: {url}");
        assert!(!redact_message(&message, url).contains("s3cret"));
        assert_eq!(redact_url("http://host/a@b"), "http://host/a@b");
        assert_eq!(userinfo("no scheme@host"), Some("no scheme"));
    }
}
