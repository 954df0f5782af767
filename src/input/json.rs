//! Requests as data: one JSON object per request (a JSON Lines list, a Python dict), with its
//! own method, headers, body, time limit and `meta`.
//!
//! ```text
//! {"url": "https://api.example/items", "method": "POST", "json": {"name": "a"},
//!  "headers": {"X-Trace": "1"}, "timeout": "5s", "meta": {"id": 17}}
//! ```
//!
//! A request that cannot be sent as written (an unknown key, two bodies, a method that is not
//! an HTTP token, a header HTTP cannot carry, an unreadable `body_file`) is never sent: its
//! record is an `invalid_request` saying why.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::RequestTemplate;
use crate::record::{ErrorKind, FetchError};
use crate::request::{Body, Request, check_method, parse_duration, valid_header};

/// The keys a JSON request may have, as a user writes them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    url: String,
    method: Option<String>,
    headers: Option<Pairs>,
    json: Option<Value>,
    data: Option<String>,
    form: Option<Pairs>,
    body_file: Option<std::path::PathBuf>,
    /// A `Value`, not an untagged enum: with serde_json's `arbitrary_precision` an untagged
    /// enum cannot take a number.
    timeout: Option<Value>,
    meta: Option<Value>,
}

/// Headers or form fields: an object (`{"A": "1"}`) or a list of pairs (`[["A", "1"]]`,
/// which may repeat a name).
#[derive(Deserialize)]
#[serde(untagged)]
enum Pairs {
    Object(BTreeMap<String, String>),
    List(Vec<(String, String)>),
}

impl Pairs {
    fn into_vec(self) -> Vec<(String, String)> {
        match self {
            Pairs::Object(map) => map.into_iter().collect(),
            Pairs::List(list) => list,
        }
    }
}

/// A time limit: a number of seconds (`2.5`) or a duration (`"2.5s"`, `"250ms"`).
fn timeout_of(value: &Value) -> Result<Duration, String> {
    let parsed = match value {
        Value::Number(number) => parse_duration(&number.to_string()).ok(),
        Value::String(text) => parse_duration(text).ok(),
        _ => None,
    };
    parsed.filter(|d| !d.is_zero()).ok_or_else(|| {
        "\"timeout\" must be a positive number of seconds or a duration like \"2s\"".into()
    })
}

/// The request a JSON object describes, with what `template` (`-X`, `--json`, …) gives for
/// what it leaves out; a request that cannot be sent as written comes back refused, with
/// an `invalid_request` error whose message starts with `where_` (`line 7`, `urls[3]`;
/// formatted only then).
pub fn json_request(
    text: &str,
    template: &RequestTemplate,
    where_: impl std::fmt::Display,
) -> Request {
    match parse(text, template) {
        Ok(request) => request,
        Err((url, why)) => {
            let error = FetchError::new(ErrorKind::InvalidRequest, format!("{where_}: {why}"));
            Request::rejected(url.unwrap_or_else(|| shown(text)), error)
        }
    }
}

/// The start of a line that names no URL, as its record shows it.
fn shown(text: &str) -> String {
    const SHOWN: usize = 80;
    let mut start: String = text.chars().take(SHOWN).collect();
    if start.len() < text.len() {
        start.push('…');
    }
    start
}

/// The request, or its URL (when it got that far) and why it cannot be sent.
fn parse(text: &str, template: &RequestTemplate) -> Result<Request, (Option<String>, String)> {
    let spec: Spec = serde_json::from_str(text).map_err(|e| (url_in(text), describe(&e)))?;
    let url = spec.url.clone();
    let refuse = |why: String| (Some(url.clone()), why);
    let bodies = [
        spec.json.is_some(),
        spec.data.is_some(),
        spec.form.is_some(),
        spec.body_file.is_some(),
    ];
    if bodies.iter().filter(|b| **b).count() > 1 {
        return Err(refuse(
            "give one of \"json\", \"data\", \"form\" and \"body_file\", not two".into(),
        ));
    }
    let body = if let Some(json) = &spec.json {
        Some(Body {
            content_type: Some("application/json".into()),
            bytes: serde_json::to_vec(json).map_err(|e| refuse(e.to_string()))?,
        })
    } else if let Some(data) = spec.data {
        Some(Body::data(data.into_bytes()))
    } else if let Some(form) = spec.form {
        let pairs = form.into_vec();
        Some(Body::form(
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ))
    } else if let Some(path) = &spec.body_file {
        let bytes = read_body_file(path).map_err(refuse)?;
        Some(Body {
            content_type: None,
            bytes,
        })
    } else {
        None
    };
    let method = match &spec.method {
        Some(method) => check_method(method).map_err(refuse)?,
        None => match (&template.method, &body, &template.body) {
            (Some(method), _, _) => method.clone(),
            (None, None, None) => "GET".into(),
            (None, _, _) => "POST".into(),
        },
    };
    let headers = spec.headers.map(Pairs::into_vec).unwrap_or_default();
    if let Some((name, _)) = headers
        .iter()
        .find(|(name, value)| !valid_header(name, value))
    {
        return Err(refuse(format!(
            "invalid header {name:?} (name or value not allowed in HTTP)"
        )));
    }
    let timeout = spec
        .timeout
        .as_ref()
        .map(timeout_of)
        .transpose()
        .map_err(refuse)?;
    let mut request = Request::new(method, spec.url);
    request.body = body.map(Arc::new).or_else(|| template.body.clone());
    request.headers = headers;
    request.timeout = timeout;
    request.meta = spec.meta;
    Ok(request)
}

/// The largest `body_file` read into memory (the same cap as a body kept in a record).
const MAX_BODY_FILE: u64 = crate::config::DEFAULT_MAX_BODY;

/// A `body_file`'s bytes: a regular file of at most [`MAX_BODY_FILE`] (a FIFO or device would
/// block or never end).
fn read_body_file(path: &std::path::Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let why = |e: std::io::Error| format!("cannot read body_file {}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(why)?;
    let meta = file.metadata().map_err(why)?;
    if !meta.is_file() {
        return Err(format!(
            "body_file {} is not a regular file",
            path.display()
        ));
    }
    if meta.len() > MAX_BODY_FILE {
        return Err(format!(
            "body_file {} is larger than {} MiB",
            path.display(),
            MAX_BODY_FILE / (1024 * 1024)
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_BODY_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(why)?;
    Ok(bytes)
}

/// The `url` of a line that is JSON but not a request poolfetch takes, so its record is
/// findable by URL.
fn url_in(text: &str) -> Option<String> {
    let value: Value = serde_json::from_str(text).ok()?;
    value.get("url")?.as_str().map(str::to_owned)
}

/// serde's error, in the words of a request line: which key is unknown, what is missing.
fn describe(error: &serde_json::Error) -> String {
    let text = error.to_string();
    // "unknown field `x`, expected one of …" and "missing field `url`" read well as they are;
    // the position only means something for a syntax error.
    let text = match error.classify() {
        serde_json::error::Category::Data => {
            text.split(" at line ").next().unwrap_or(&text).to_string()
        }
        _ => text,
    };
    if text.starts_with("data did not match any variant of untagged enum Pairs") {
        return "\"headers\" and \"form\" must be an object of strings or a list of [name, value] pairs".into();
    }
    match error.classify() {
        serde_json::error::Category::Data => format!("not a request: {text}"),
        _ => format!("not a JSON object: {text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str) -> Request {
        json_request(text, &RequestTemplate::default(), "line 1")
    }

    fn refused(text: &str) -> FetchError {
        let request = request(text);
        let error = request.rejected.clone().expect("refused");
        assert_eq!(error.kind, ErrorKind::InvalidRequest, "{error:?}");
        error
    }

    #[test]
    fn every_key_reaches_the_request() {
        let r = request(
            r#"{"url":"http://h/a","method":"put","headers":{"X-A":"1"},"json":{"n":123456789012345678901234567890},"timeout":2.5,"meta":{"id":7}}"#,
        );
        assert_eq!(r.rejected, None);
        assert_eq!((r.method.as_str(), r.url.as_str()), ("PUT", "http://h/a"));
        assert_eq!(r.headers, [("X-A".to_string(), "1".to_string())]);
        let body = r.body.unwrap();
        assert_eq!(body.bytes, br#"{"n":123456789012345678901234567890}"#);
        assert_eq!(r.timeout, Some(Duration::from_millis(2500)));
        assert_eq!(r.meta, Some(serde_json::json!({"id": 7})));
        let form = request(r#"{"url":"http://h/","form":[["a","1"],["a","2 3"]]}"#);
        assert_eq!(form.method, "POST");
        assert_eq!(form.body.unwrap().bytes, b"a=1&a=2+3");
        let text = request(r#"{"url":"http://h/","data":"raw","timeout":"250ms"}"#);
        assert_eq!(text.body.unwrap().bytes, b"raw");
        assert_eq!(text.timeout, Some(Duration::from_millis(250)));
    }

    #[test]
    fn the_template_fills_what_a_line_leaves_out() {
        let template = RequestTemplate {
            method: Some("PATCH".into()),
            body: Some(Arc::new(Body::data(b"x=1".to_vec()))),
        };
        let r = json_request(r#"{"url":"http://h/"}"#, &template, "line 1");
        assert_eq!(r.method, "PATCH");
        assert_eq!(r.body.unwrap().bytes, b"x=1");
    }

    #[test]
    fn bad_lines_say_why_and_keep_their_url() {
        let e = refused(r#"{"url":"http://h/","mehtod":"GET"}"#);
        assert!(e.message.starts_with("line 1: "), "{e}");
        assert!(e.message.contains("unknown field `mehtod`"), "{e}");
        assert_eq!(
            request(r#"{"url":"http://h/","mehtod":"GET"}"#).url,
            "http://h/"
        );
        assert!(
            refused(r#"{"method":"GET"}"#)
                .message
                .contains("missing field `url`")
        );
        assert!(
            refused(r#"{"url":"http://h/","json":1,"data":"a"}"#)
                .message
                .contains("not two")
        );
        assert!(
            refused(r#"{"url":"http://h/","method":"GE T"}"#)
                .message
                .contains("not an HTTP method")
        );
        assert!(
            refused(r#"{"url":"http://h/","headers":{"A":"1\n2"}}"#)
                .message
                .contains("invalid header")
        );
        assert!(
            refused(r#"{"url":"http://h/","headers":"A: 1"}"#)
                .message
                .contains("list of [name, value]")
        );
        assert!(
            refused(r#"{"url":"http://h/","timeout":0}"#)
                .message
                .contains("timeout")
        );
        assert!(
            refused(r#"{"url":"http://h/","timeout":[1]}"#)
                .message
                .contains("timeout")
        );
        assert!(
            refused(r#"{"url":"http://h/","timeout":-1}"#)
                .message
                .contains("timeout")
        );
        assert!(
            refused(r#"{"url":"http://h/","body_file":"/nonexistent/x"}"#)
                .message
                .contains("cannot read body_file")
        );
        assert!(
            refused(r#"{"url":"http://h/","body_file":"/dev"}"#)
                .message
                .contains("not a regular file")
        );
        let broken = request(r#"{"url": "http://h/", "#);
        assert!(broken.url.starts_with("{\"url\""), "{}", broken.url);
    }
}
