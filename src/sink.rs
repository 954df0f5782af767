//! Where a response body goes: drained and counted, or kept (capped) in the record.
//!
//! A discarded body is read to the end rather than dropped, because ureq returns a
//! connection to its keep-alive pool only once the body has been read completely.

use std::io::{self, Read};

use crate::config::BodyMode;

/// What became of a body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Kept {
    /// Bytes read (after content decoding).
    pub bytes: u64,
    /// The body as the record keeps it (`None` when discarded or empty).
    pub body: Option<serde_json::Value>,
}

/// Why a body could not be consumed.
#[derive(Debug)]
pub enum SinkError {
    /// The body is longer than the cap; nothing was kept.
    TooLarge {
        /// The cap in bytes.
        limit: u64,
    },
    /// Reading the body failed.
    Read(io::Error),
}

/// Takes a body chunk by chunk (from a blocking reader or an async stream) and keeps or
/// counts it according to the body mode, refusing to grow past the cap.
#[derive(Debug)]
pub struct BodySink {
    mode: BodyMode,
    max_body: u64,
    bytes: u64,
    data: Vec<u8>,
}

impl BodySink {
    /// A sink for `mode`, keeping at most `max_body` bytes (ignored when discarding).
    pub fn new(mode: BodyMode, max_body: u64) -> Self {
        BodySink {
            mode,
            max_body,
            bytes: 0,
            data: Vec::new(),
        }
    }

    /// Take the next chunk; fails once a kept body passes the cap (nothing is truncated).
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), SinkError> {
        self.bytes += chunk.len() as u64;
        if self.mode == BodyMode::None {
            return Ok(());
        }
        if self.bytes > self.max_body {
            return Err(SinkError::TooLarge {
                limit: self.max_body,
            });
        }
        self.data.extend_from_slice(chunk);
        Ok(())
    }

    /// The body as the record keeps it.
    pub fn finish(self, content_type: Option<&str>) -> Kept {
        let body = match self.mode {
            BodyMode::None => None,
            mode => interpret(self.data, content_type, mode),
        };
        Kept {
            bytes: self.bytes,
            body,
        }
    }
}

/// Read `reader` to the end according to `mode`, keeping at most `max_body` bytes.
pub fn consume(
    mut reader: impl Read,
    content_type: Option<&str>,
    mode: BodyMode,
    max_body: u64,
) -> Result<Kept, SinkError> {
    let mut sink = BodySink::new(mode, max_body);
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => return Ok(sink.finish(content_type)),
            Ok(n) => sink.push(&buffer[..n])?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(SinkError::Read(e)),
        }
    }
}

fn interpret(
    data: Vec<u8>,
    content_type: Option<&str>,
    mode: BodyMode,
) -> Option<serde_json::Value> {
    let says_json = content_type.is_some_and(|ct| ct.to_ascii_lowercase().contains("json"));
    let try_json = match mode {
        BodyMode::Auto => {
            if data.is_empty() {
                return None;
            }
            says_json
        }
        BodyMode::Json => true,
        BodyMode::Text | BodyMode::None => false,
    };
    if try_json && let Ok(value) = serde_json::from_slice(&data) {
        return Some(value);
    }
    let text = match String::from_utf8(data) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    Some(serde_json::Value::String(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn auto_keeps_json_when_it_is_json_and_text_otherwise() {
        let kept = consume(
            &br#"{"a":1}"#[..],
            Some("application/json"),
            BodyMode::Auto,
            100,
        )
        .unwrap();
        assert_eq!(kept.body, Some(json!({"a": 1})));
        assert_eq!(kept.bytes, 7);
        let kept = consume(
            &b"{broken"[..],
            Some("application/json"),
            BodyMode::Auto,
            100,
        )
        .unwrap();
        assert_eq!(kept.body, Some(json!("{broken")));
        let kept = consume(&br#"{"a":1}"#[..], Some("text/plain"), BodyMode::Auto, 100).unwrap();
        assert_eq!(kept.body, Some(json!("{\"a\":1}")));
        let kept = consume(&b""[..], None, BodyMode::Auto, 100).unwrap();
        assert_eq!(kept.body, None);
    }

    #[test]
    fn none_counts_without_keeping_and_has_no_cap() {
        let data = vec![7u8; 5000];
        let kept = consume(&data[..], None, BodyMode::None, 10).unwrap();
        assert_eq!(
            kept,
            Kept {
                bytes: 5000,
                body: None
            }
        );
    }

    #[test]
    fn a_body_over_the_cap_is_too_large_not_truncated() {
        let data = [b'x'; 101];
        assert!(matches!(
            consume(&data[..], None, BodyMode::Text, 100),
            Err(SinkError::TooLarge { limit: 100 })
        ));
        let kept = consume(&data[..100], None, BodyMode::Text, 100).unwrap();
        assert_eq!(kept.bytes, 100);
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let kept = consume(&b"a\xffb"[..], None, BodyMode::Text, 100).unwrap();
        assert_eq!(kept.body, Some(json!("a\u{fffd}b")));
    }
}
