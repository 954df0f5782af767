//! The record contract as a file: every record of a mixed run — ok, every error kind the
//! embedded server can provoke, a file download — validates against docs/record.schema.json
//! on both engines, and the wire field names are pinned.

use crate::common;

use common::per_engine;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{closed_port, https_server, kind, server};
use poolfetch::{CancelToken, Config, EngineKind, ErrorKind, Fetcher, Record, Resolve, RunOptions};

/// `panic.invalid` panics (an `internal` record), every other name fails (`dns`).
struct TestResolver;

impl Resolve for TestResolver {
    fn resolve(&self, host: &str, _port: u16) -> std::io::Result<Vec<std::net::SocketAddr>> {
        assert_ne!(host, "panic.invalid", "resolver exploded");
        Err(std::io::Error::new(std::io::ErrorKind::NotFound, "test"))
    }
}

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string("docs/record.schema.json").expect("the schema file");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("the schema parses");
    jsonschema::validator_for(&schema).expect("the schema is valid")
}

fn check(validator: &jsonschema::Validator, record: &Record) -> serde_json::Value {
    let value = serde_json::to_value(record).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{value}: {errors:?}");
    value
}

per_engine!(records_of_every_kind_match_the_schema);
fn records_of_every_kind_match_the_schema(engine: EngineKind) {
    let validator = validator();
    let server = server();
    let (tls_server, _ca) = https_server();
    let dir = tempfile::tempdir().unwrap();
    let base = Config::builder()
        .engine(engine)
        .pool(4)
        // Long enough for every other request on a loaded machine; only /hang waits for it.
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let fetcher = Fetcher::with_resolver(base.clone(), TestResolver).unwrap();
    let inputs = [
        (server.url("/todos/1"), None),
        ("not a url".to_string(), Some(ErrorKind::InvalidUrl)),
        ("http://nowhere.invalid/".to_string(), Some(ErrorKind::Dns)),
        (
            format!("http://127.0.0.1:{}/", closed_port()),
            Some(ErrorKind::Connect),
        ),
        (server.fault_url("/hang"), Some(ErrorKind::Timeout)),
        (tls_server.url("/todos/1"), Some(ErrorKind::Tls)),
        (server.url("/status/503"), Some(ErrorKind::Status)),
        (
            server.fault_url("/malformed-status"),
            Some(ErrorKind::Protocol),
        ),
        (server.url("/redirect-loop"), Some(ErrorKind::Redirect)),
        (
            server.fault_url("/reset-before-headers"),
            Some(ErrorKind::Io),
        ),
        (
            "http://panic.invalid/".to_string(),
            Some(ErrorKind::Internal),
        ),
    ];
    let records = fetcher.fetch_all(inputs.iter().map(|(url, _)| url.clone()));
    let mut seen = BTreeSet::new();
    for (record, (url, expected)) in records.iter().zip(&inputs) {
        assert_eq!(
            record.error.as_ref().map(|e| e.kind),
            *expected,
            "{engine:?} {url}: {record:?}"
        );
        seen.insert(format!("{:?}", record.error.as_ref().map(|e| e.kind)));
        check(&validator, record);
    }
    assert_eq!(seen.len(), inputs.len(), "every kind once");

    let capped = poolfetch::ConfigBuilder::from(base.clone())
        .max_body(Some(10))
        .build()
        .unwrap();
    let too_large = Fetcher::new(capped)
        .unwrap()
        .fetch_all([server.url("/bytes/100")]);
    assert_eq!(
        too_large[0].error.as_ref().unwrap().kind,
        ErrorKind::TooLarge
    );
    check(&validator, &too_large[0]);

    let cancel = CancelToken::new();
    cancel.cancel();
    let cancelled: Vec<Record> = Fetcher::new(base.clone())
        .unwrap()
        .stream_with([server.url("/todos/2")], RunOptions::cancelled_by(cancel))
        .collect();
    assert_eq!(
        cancelled[0].error.as_ref().unwrap().kind,
        ErrorKind::Cancelled
    );
    check(&validator, &cancelled[0]);

    let downloads = poolfetch::ConfigBuilder::from(base.clone())
        .output_dir(Some(dir.path().join(format!("{engine:?}"))))
        .build()
        .unwrap();
    let saved = Fetcher::new(downloads)
        .unwrap()
        .fetch_all([server.url("/bytes/1000")]);
    assert!(saved[0].ok && saved[0].file.is_some(), "{:?}", saved[0]);
    check(&validator, &saved[0]);

    // A JSON request with meta, one that is no request, and response headers.
    let with_headers = poolfetch::ConfigBuilder::from(base)
        .include_headers(true)
        .build()
        .unwrap();
    let plain = poolfetch::RequestTemplate::default();
    let line = serde_json::json!({"url": server.url("/todos/3"), "meta": {"id": [1, "a"]}});
    let requests = [
        poolfetch::json_request(&line.to_string(), &plain, "line 1"),
        poolfetch::json_request(r#"{"url": 1}"#, &plain, "line 2"),
    ];
    let data = Fetcher::new(with_headers).unwrap().fetch_all(requests);
    assert!(data[0].ok && data[0].meta.is_some() && data[0].headers.is_some());
    assert_eq!(kind(&data[1]), Some(ErrorKind::InvalidRequest));
    for record in &data {
        check(&validator, record);
    }
}

#[test]
fn the_wire_field_names_are_pinned() {
    let server = server();
    let records = Fetcher::new(Config::default())
        .unwrap()
        .fetch_all([server.url("/todos/1")]);
    let value = serde_json::to_value(&records[0]).unwrap();
    let fields: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "attempts",
        "body",
        "bytes",
        "connect_ms",
        "content_type",
        "dns_ms",
        "error",
        "file",
        "final_url",
        "finished_ms",
        "http_version",
        "index",
        "method",
        "ok",
        "queued_ms",
        "remote_addr",
        "started_at",
        "started_ms",
        "status",
        "tls_ms",
        "ttfb_ms",
        "url",
        "worker",
    ];
    expected.sort_unstable();
    let mut fields = fields;
    fields.sort_unstable();
    assert_eq!(fields, expected);
    // The schema names exactly these, plus the fields written only when they apply.
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("docs/record.schema.json").unwrap()).unwrap();
    let mut properties: Vec<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|name| {
            !matches!(
                *name,
                "body_lossy"
                    | "resumed_from"
                    | "content_encoding"
                    | "decoded_bytes"
                    | "headers"
                    | "meta"
            )
        })
        .collect();
    properties.sort_unstable();
    assert_eq!(properties, expected);
}
