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

    /// A body from the text after the URL on a URL-file line: JSON when it starts with `{` or
    /// `[`, otherwise sent as form data, as `curl -d` would.
    pub fn from_line(text: &str) -> Body {
        let trimmed = text.trim_start();
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            Body {
                content_type: Some("application/json".into()),
                bytes: text.as_bytes().to_vec(),
            }
        } else {
            Body::data(text.as_bytes().to_vec())
        }
    }
}

/// Method and body applied to every plain URL line (from `-X`, `--json`, `--form`, `--data`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestTemplate {
    /// Method; `None` means GET, or POST when there is a body.
    pub method: Option<String>,
    /// Body shared by every request.
    pub body: Option<Arc<Body>>,
}

impl RequestTemplate {
    /// The request for a plain `url` line.
    pub fn request(&self, url: String) -> Request {
        let method = match (&self.method, &self.body) {
            (Some(method), _) => method.clone(),
            (None, Some(_)) => "POST".to_string(),
            (None, None) => "GET".to_string(),
        };
        Request {
            method,
            url,
            body: self.body.clone(),
        }
    }
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
    fn bodies_carry_their_content_type() {
        let form = Body::form([("a", "1"), ("b", "x y&z")]);
        assert_eq!(form.bytes, b"a=1&b=x+y%26z");
        assert!(Body::json("{\"a\":").is_err());
        assert_eq!(
            Body::json("[1]").unwrap().content_type.as_deref(),
            Some("application/json")
        );
        assert_eq!(
            Body::from_line(" {\"a\":1}").content_type.as_deref(),
            Some("application/json")
        );
        assert_eq!(
            Body::from_line("a=1").content_type.as_deref(),
            Some("application/x-www-form-urlencoded")
        );
        let template = RequestTemplate {
            method: None,
            body: Some(Arc::new(form)),
        };
        assert_eq!(template.request("http://h/".into()).method, "POST");
        assert_eq!(
            RequestTemplate::default()
                .request("http://h/".into())
                .method,
            "GET"
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
}
