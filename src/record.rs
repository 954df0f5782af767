//! The per-URL result (`Record`), its typed error, and the JSON Lines writer.
//!
//! Every input produces exactly one `Record`, success or failure; a failure carries a typed
//! [`ErrorKind`] so scripts can filter on it without parsing messages.

use std::io::{self, Write};

use serde::{Deserialize, Serialize};

/// What kind of failure a record describes. Serialized in `snake_case` (`"invalid_url"`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input line is not an absolute `http(s)` URL with a host.
    InvalidUrl,
    /// The input is not a request that can be sent: a JSON request line that does not parse
    /// or names an unknown key, a method that is not an HTTP token, a header HTTP cannot
    /// carry, a `body_file` that cannot be read.
    InvalidRequest,
    /// The host name could not be resolved.
    Dns,
    /// The TCP connection could not be made (refused, unreachable).
    Connect,
    /// A connect, response or body-read deadline passed.
    Timeout,
    /// TLS handshake or certificate failure.
    Tls,
    /// The server answered with a status of 400 or more.
    Status,
    /// The server broke HTTP (malformed status line, bad chunking, …).
    Protocol,
    /// Too many redirects (a loop, or more than `--max-redirects`).
    Redirect,
    /// The connection failed after it was made (reset, unexpected EOF) or a local file failed.
    Io,
    /// The body exceeded `--max-body`; nothing is kept truncated.
    TooLarge,
    /// The request was never sent because the run was cancelled.
    Cancelled,
    /// A bug in poolfetch (a worker panicked); reported instead of aborting the run.
    Internal,
}

impl ErrorKind {
    /// The wire name, as it appears in records (`"invalid_url"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidUrl => "invalid_url",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::Dns => "dns",
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Tls => "tls",
            ErrorKind::Status => "status",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Redirect => "redirect",
            ErrorKind::Io => "io",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Internal => "internal",
        }
    }
}

/// A typed failure with a human message (credentials already redacted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchError {
    /// Machine-readable category.
    pub kind: ErrorKind,
    /// What failed, for humans.
    pub message: String,
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// So an error already typed can travel through an engine's own error and keep its kind.
impl std::error::Error for FetchError {}

impl FetchError {
    /// Build an error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        FetchError {
            kind,
            message: message.into(),
        }
    }

    /// A request still running when the cancel grace ran out.
    pub(crate) fn interrupted() -> Self {
        FetchError::new(
            ErrorKind::Cancelled,
            "interrupted mid-transfer: still running when the cancel grace ran out",
        )
    }
}

/// One line of output: everything known about one input URL.
///
/// Times are milliseconds since the run started, so plotting `finished_ms` against `index`
/// draws the stepwise completion curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Record {
    /// Position of the URL among the inputs, from 0.
    pub index: u64,
    /// The URL as given, with any `user:pass@` redacted.
    pub url: String,
    /// HTTP method sent.
    pub method: String,
    /// True when a response arrived with status < 400 and no transport error.
    pub ok: bool,
    /// HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// The HTTP version that answered (`"HTTP/1.1"`, `"HTTP/2"`), when a response arrived.
    #[serde(default)]
    pub http_version: Option<String>,
    /// The URL that answered, after redirects (credentials redacted); null when no response
    /// arrived.
    #[serde(default)]
    pub final_url: Option<String>,
    /// The response's `Content-Type`, when it had one.
    #[serde(default)]
    pub content_type: Option<String>,
    /// The address (`ip:port`) of the connection the response came on: the proxy's, through
    /// a proxy; null when no response arrived.
    #[serde(default)]
    pub remote_addr: Option<String>,
    /// Body bytes received, as they came over the wire (before any content decoding).
    pub bytes: u64,
    /// The `Content-Encoding` poolfetch decoded (`"gzip"`, `"deflate"`, `"br"`; only written
    /// then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    /// The body's size once decoded (only written with `content_encoding`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoded_bytes: Option<u64>,
    /// Attempts made (0 when the request was never sent).
    pub attempts: u32,
    /// Which worker ran the request: the pool thread (threads engine) or worker task (async
    /// engine), from 0 to pool − 1; none when never sent, and with `--pool 0` on async.
    pub worker: Option<usize>,
    /// When the request was handed to the pool.
    pub queued_ms: f64,
    /// When a worker started it.
    pub started_ms: f64,
    /// The same moment on the wall clock, RFC 3339 in UTC (`2026-11-30T17:00:05.123456Z`), so
    /// the records of separate runs (merged shards) share one clock; empty in records written
    /// before it existed.
    #[serde(default)]
    pub started_at: String,
    /// When the name lookup for a new connection ended, in ms since `started_ms`; null on a
    /// reused connection, or when the request did not get as far as connecting. With
    /// `connect_ms`, `tls_ms` and `ttfb_ms`, the phases of the last exchange (the last
    /// redirect hop's, the last retry's), as curl's `-w '%{time_namelookup}'` and friends; a
    /// request that failed after connecting keeps the phases it got through.
    #[serde(default)]
    pub dns_ms: Option<f64>,
    /// When the TCP connection (and a SOCKS handshake) was made, in ms since `started_ms`;
    /// null on a reused connection.
    #[serde(default)]
    pub connect_ms: Option<f64>,
    /// When the TLS handshake ended, in ms since `started_ms`; null without TLS or on a
    /// reused connection.
    #[serde(default)]
    pub tls_ms: Option<f64>,
    /// When the response head arrived, in ms since `started_ms`; null when none arrived.
    #[serde(default)]
    pub ttfb_ms: Option<f64>,
    /// When its result was complete.
    pub finished_ms: f64,
    /// The kept body: parsed JSON, text, or null (see `--body`).
    pub body: Option<serde_json::Value>,
    /// True when the kept text body had invalid UTF-8, replaced by U+FFFD (only written then).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub body_lossy: bool,
    /// Path of the file the body was streamed to, with `--output-dir`.
    pub file: Option<String>,
    /// Bytes an earlier run had saved, when `--continue` continued its part file (only
    /// written then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_from: Option<u64>,
    /// Why the record is not ok, when it is not.
    pub error: Option<FetchError>,
    /// The response's header fields as received, in order, repeated names kept (with
    /// `include_headers`, or only the names asked for with `header_fields`; only written
    /// then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Vec<(String, String)>>,
    /// The request's own `meta`, copied unchanged (only written when it had one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<serde_json::Value>,
}

/// Writes records as JSON Lines, one object per line; the caller decides when to flush.
pub struct JsonLinesWriter<W: Write> {
    out: W,
}

/// What happened to a request, as a picture draws it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Never sent (a bad URL, or cancelled before it started): it has no time on the wire.
    NeverSent,
    /// Sent, and still running when a cancel's grace ran out: cut off, not finished.
    Interrupted,
    /// Sent and done: answered, or failed on its own.
    Finished,
}

impl Record {
    /// What happened to this request.
    pub fn fate(&self) -> Fate {
        match (&self.error, self.attempts) {
            (_, 0) => Fate::NeverSent,
            (Some(error), _) if error.kind == ErrorKind::Cancelled => Fate::Interrupted,
            _ => Fate::Finished,
        }
    }
}

impl<W: Write> JsonLinesWriter<W> {
    /// Wrap a writer (stdout or a file); buffer it yourself if it is unbuffered.
    pub fn new(out: W) -> Self {
        JsonLinesWriter { out }
    }

    /// Write one record and a newline (into the writer's buffer: [`flush`](Self::flush) when
    /// no record is ready, so a pipe sees records promptly without a write per record).
    pub fn write(&mut self, record: &Record) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, record)?;
        self.out.write_all(b"\n")
    }

    /// Flush what is buffered.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Give the writer back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_serialize_to_their_wire_names() {
        for kind in [
            ErrorKind::InvalidUrl,
            ErrorKind::InvalidRequest,
            ErrorKind::Dns,
            ErrorKind::Connect,
            ErrorKind::Timeout,
            ErrorKind::Tls,
            ErrorKind::Status,
            ErrorKind::Protocol,
            ErrorKind::Redirect,
            ErrorKind::Io,
            ErrorKind::TooLarge,
            ErrorKind::Cancelled,
            ErrorKind::Internal,
        ] {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
    }

    #[test]
    fn writer_emits_one_parseable_line_per_record() {
        let record = Record {
            index: 7,
            url: "http://127.0.0.1:1/x".into(),
            method: "GET".into(),
            ok: false,
            status: None,
            http_version: None,
            final_url: None,
            content_type: None,
            remote_addr: None,
            bytes: 0,
            content_encoding: None,
            decoded_bytes: None,
            attempts: 1,
            worker: Some(2),
            queued_ms: 0.0,
            started_ms: 0.5,
            started_at: "2026-11-30T17:00:05.123456Z".into(),
            dns_ms: None,
            connect_ms: None,
            tls_ms: None,
            ttfb_ms: None,
            finished_ms: 1.5,
            body: None,
            body_lossy: false,
            file: None,
            resumed_from: None,
            error: Some(FetchError::new(ErrorKind::Connect, "refused")),
            headers: Some(vec![("set-cookie".into(), "a=1".into())]),
            meta: Some(serde_json::json!({"id": 7})),
        };
        let mut writer = JsonLinesWriter::new(Vec::new());
        writer.write(&record).unwrap();
        writer.write(&record).unwrap();
        let text = String::from_utf8(writer.into_inner()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let back: Record = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(back, record);
        assert!(lines[0].contains("\"kind\":\"connect\""));
    }
}
