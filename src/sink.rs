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

/// Read `reader` to the end according to `mode`, keeping at most `max_body` bytes.
pub fn consume(
    mut reader: impl Read,
    content_type: Option<&str>,
    mode: BodyMode,
    max_body: u64,
) -> Result<Kept, SinkError> {
    if mode == BodyMode::None {
        let bytes = io::copy(&mut reader, &mut io::sink()).map_err(SinkError::Read)?;
        return Ok(Kept { bytes, body: None });
    }
    let mut data = Vec::new();
    reader
        .take(max_body.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(SinkError::Read)?;
    if data.len() as u64 > max_body {
        return Err(SinkError::TooLarge { limit: max_body });
    }
    let bytes = data.len() as u64;
    Ok(Kept {
        bytes,
        body: interpret(data, content_type, mode),
    })
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
