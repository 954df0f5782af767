//! Requests with bodies and what happens to response bodies, on both engines: POST bytes that
//! arrive exactly, streamed files that never escape the output directory and never remain
//! half-written, caps on decoded sizes.

use crate::common;

use common::per_engine;

use std::path::{Path, PathBuf};

use common::{kind, server};
use poolfetch::Body;
use poolfetch::{BodyMode, Config, EngineKind, ErrorKind, Fetcher, Request};

fn post(url: String, body: Body) -> Request {
    Request::new("POST", url).with_body(body)
}

/// Every file under `root`, recursively.
fn all_files(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

per_engine!(form_and_json_bodies_arrive_byte_exact);
fn form_and_json_bodies_arrive_byte_exact(engine: EngineKind) {
    let server = server();
    let json = r#"{"name":"poolfetch","tags":["a","b"],"n":1.5,"u":"é"}"#;
    let fetcher = Fetcher::new(
        Config::builder()
            .engine(engine)
            .headers(vec![("X-Trace".into(), "t-1".into())])
            .build()
            .expect("a valid config"),
    )
    .unwrap();
    let records = fetcher.fetch_all([
        post(
            server.url("/post"),
            Body::form([("a", "1"), ("b", "x y&z=é")]),
        ),
        post(server.url("/post"), Body::json(json).unwrap()),
        post(server.url("/post"), Body::data(b"raw\x01bytes".to_vec())),
    ]);
    let echo = |i: usize| records[i].body.as_ref().expect("echo body").clone();
    assert_eq!(echo(0)["data"], "a=1&b=x+y%26z%3D%C3%A9", "{engine:?}");
    assert_eq!(echo(0)["form"]["b"], "x y&z=é");
    assert_eq!(echo(0)["content_type"], "application/x-www-form-urlencoded");
    assert_eq!(echo(1)["data"], json, "{engine:?}");
    assert_eq!(echo(1)["bytes"], json.len());
    assert_eq!(echo(1)["content_type"], "application/json");
    assert_eq!(echo(2)["data"], "raw\u{1}bytes");
    assert_eq!(echo(2)["headers"]["x-trace"], "t-1");
    assert!(records.iter().all(|r| r.ok && r.method == "POST"));
}

per_engine!(long_heads_and_big_bodies_fit_through_buffers_that_start_small);
/// Connection buffers start small and grow: a long URL, a long header, a head of many
/// headers, a big request body and a response head of several KiB all arrive whole, on a
/// connection first used by a small request.
fn long_heads_and_big_bodies_fit_through_buffers_that_start_small(engine: EngineKind) {
    let server = server();
    let long_value = "v".repeat(7_000);
    let many: Vec<(String, String)> = (0..40)
        .map(|i| (format!("x-many-{i}"), "m".repeat(200)))
        .chain([("x-long".to_string(), long_value.clone())])
        .collect();
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let fetcher = Fetcher::new(
        Config::builder()
            .engine(engine)
            .pool(1)
            .headers(many.clone())
            .build()
            .expect("a valid config"),
    )
    .unwrap();
    let long_path = format!("/anything/{}", "p".repeat(6_000));
    let records = fetcher.fetch_all([
        Request::get(server.url("/todos/1")),
        Request::get(server.url(&long_path)),
        post(server.url("/post"), Body::data(body.clone())),
        Request::get(server.url("/big-header/12000")),
    ]);
    for record in &records {
        assert!(record.ok, "{engine:?}: {:?}", record.error);
    }
    assert_eq!(
        records[1].body.as_ref().unwrap().as_str(),
        Some(long_path.as_str())
    );
    let echo = records[2].body.as_ref().expect("echo body");
    assert_eq!(echo["bytes"], body.len(), "{engine:?}");
    assert_eq!(echo["headers"]["x-long"], long_value.as_str());
    assert_eq!(echo["headers"]["x-many-39"], "m".repeat(200).as_str());
}

per_engine!(file_names_from_hostile_urls_never_escape_the_output_dir);
fn file_names_from_hostile_urls_never_escape_the_output_dir(engine: EngineKind) {
    let server = server();
    let paths = [
        "/anything/../../../../tmp/escape-1",
        "/anything/%2e%2e/%2e%2e/%2e%2e/escape-2",
        "/anything/a%2f..%2f..%2f..%2fescape-3",
        "/anything/..%5c..%5c..%5cescape-4",
        "/anything/%00nul",
        "/anything/CON",
        "/anything/.hidden",
        "/anything/",
        "/anything/same",
        "/anything/same",
    ];
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("a").join("out");
    std::fs::create_dir_all(&out).unwrap();
    let long = format!("/anything/{}", "x".repeat(3000));
    let urls: Vec<String> = paths
        .iter()
        .copied()
        .chain([long.as_str()])
        .map(|p| server.url(p))
        .collect();
    let fetcher = Fetcher::new(
        Config::builder()
            .engine(engine)
            .output_dir(Some(out.clone()))
            .build()
            .expect("a valid config"),
    )
    .unwrap();
    let records = fetcher.fetch_all(urls.clone());
    assert_eq!(records.len(), urls.len());
    for file in all_files(root.path()) {
        assert_eq!(
            file.parent(),
            Some(out.as_path()),
            "{engine:?} wrote {}",
            file.display()
        );
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        assert!(!name.starts_with('.'), "a part file stayed: {name}");
    }
    for record in records.iter().filter(|r| r.ok) {
        let file = PathBuf::from(record.file.as_ref().expect("an ok download names its file"));
        assert_eq!(file.parent(), Some(out.as_path()));
        assert_eq!(std::fs::metadata(&file).unwrap().len(), record.bytes);
    }
    // The two identical URLs got two files.
    let same: Vec<_> = records[8..10].iter().map(|r| r.file.clone()).collect();
    assert!(
        same[0].is_some() && same[0] != same[1],
        "{engine:?}: {same:?}"
    );
}

per_engine!(too_large_fires_at_the_cap_and_leaves_no_partial_file);
fn too_large_fires_at_the_cap_and_leaves_no_partial_file(engine: EngineKind) {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(
        Config::builder()
            .engine(engine)
            .max_body(Some(100_000))
            .output_dir(Some(dir.path().to_path_buf()))
            .build()
            .expect("a valid config"),
    )
    .unwrap();
    let records = fetcher.fetch_all([server.url("/bytes/100000"), server.url("/bytes/100001")]);
    assert!(records[0].ok, "{engine:?}: exactly the cap is fine");
    assert_eq!(kind(&records[1]), Some(ErrorKind::TooLarge), "{engine:?}");
    assert!(records[1].file.is_none());
    let names: Vec<String> = all_files(dir.path())
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    assert_eq!(names, ["000000-100000"], "{engine:?}");
}

per_engine!(a_reset_mid_download_leaves_no_file_and_a_typed_error);
fn a_reset_mid_download_leaves_no_file_and_a_typed_error(engine: EngineKind) {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(
        Config::builder()
            .engine(engine)
            .output_dir(Some(dir.path().to_path_buf()))
            .build()
            .expect("a valid config"),
    )
    .unwrap();
    let records = fetcher.fetch_all([
        server.url("/fault/reset-body/300000"),
        server.url("/bytes/10"),
    ]);
    assert_eq!(
        kind(&records[0]),
        Some(ErrorKind::Io),
        "{engine:?}: {:?}",
        records[0].error
    );
    assert!(records[0].file.is_none());
    assert!(records[1].ok);
    let files = all_files(dir.path());
    assert_eq!(files.len(), 1, "{engine:?}: {files:?}");
    assert!(files[0].ends_with("000001-10"));
}

per_engine!(gzip_is_decoded_and_the_cap_applies_to_the_decoded_size);
fn gzip_is_decoded_and_the_cap_applies_to_the_decoded_size(engine: EngineKind) {
    let server = server();
    let fetcher = Fetcher::new(
        Config::builder()
            .engine(engine)
            .body(BodyMode::Text)
            .max_body(Some(50_000))
            .build()
            .expect("a valid config"),
    )
    .unwrap();
    let records = fetcher.fetch_all([
        server.url("/gzip/40000"),
        server.url("/gzip/60000"),
        server.url("/gzip/60000000"),
    ]);
    assert!(records[0].ok, "{engine:?}");
    assert!(
        records[0].bytes < 1_000,
        "bytes count the wire: {}",
        records[0].bytes
    );
    assert_eq!(records[0].decoded_bytes, Some(40_000));
    assert_eq!(records[0].content_encoding.as_deref(), Some("gzip"));
    assert_eq!(
        records[0].body.as_ref().unwrap().as_str().unwrap(),
        "z".repeat(40_000)
    );
    for bomb in &records[1..] {
        assert_eq!(
            kind(bomb),
            Some(ErrorKind::TooLarge),
            "{engine:?}: compressed it is tiny"
        );
    }
}

per_engine!(compressed_asks_for_gzip_deflate_and_br_and_decodes_each);
/// `--compressed` asks for gzip, deflate and br (without it, gzip only), and each coding
/// decodes to the same body; `bytes` is what came over the wire, `decoded_bytes` the body. A
/// user's own `Accept-Encoding` is sent as given.
fn compressed_asks_for_gzip_deflate_and_br_and_decodes_each(engine: EngineKind) {
    let server = server();
    let fetcher = |compressed: bool, headers: Vec<(String, String)>| {
        Fetcher::new(
            Config::builder()
                .engine(engine)
                .body(BodyMode::Text)
                .compressed(compressed)
                .headers(headers)
                .build()
                .unwrap(),
        )
        .unwrap()
    };
    let asked = |compressed: bool, headers: Vec<(String, String)>| {
        let record = &fetcher(compressed, headers).fetch_all([server.url("/echo")])[0];
        let echo: serde_json::Value =
            serde_json::from_str(record.body.as_ref().unwrap().as_str().unwrap()).unwrap();
        echo["headers"]["accept-encoding"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(asked(false, Vec::new()), "gzip", "{engine:?}");
    assert_eq!(asked(true, Vec::new()), "gzip, deflate, br", "{engine:?}");
    let own = vec![("Accept-Encoding".to_string(), "identity".to_string())];
    assert_eq!(asked(true, own), "identity", "{engine:?}");
    let records = fetcher(true, Vec::new()).fetch_all(
        ["gzip", "deflate", "br"].map(|coding| server.url(&format!("/{coding}/100000"))),
    );
    for (record, coding) in records.iter().zip(["gzip", "deflate", "br"]) {
        assert!(record.ok, "{engine:?} {coding}: {record:?}");
        assert_eq!(record.content_encoding.as_deref(), Some(coding));
        assert_eq!(record.decoded_bytes, Some(100_000), "{coding}");
        assert_eq!(
            record.body.as_ref().unwrap().as_str().unwrap(),
            "z".repeat(100_000),
            "{coding}"
        );
    }
    assert!(records[0].bytes < 10_000 && records[2].bytes > 100_000);
}

per_engine!(discarded_bodies_are_counted_and_kept_ones_are_capped_at_ten_mib_by_default);
fn discarded_bodies_are_counted_and_kept_ones_are_capped_at_ten_mib_by_default(engine: EngineKind) {
    let server = server();
    let none = Fetcher::new(
        Config::builder()
            .engine(engine)
            .body(BodyMode::None)
            .build()
            .expect("a valid config"),
    )
    .unwrap();
    let records = none.fetch_all([server.url("/bytes/20000000")]);
    assert!(records[0].ok && records[0].body.is_none());
    assert_eq!(records[0].bytes, 20_000_000);
    let kept = Fetcher::new(
        Config::builder()
            .engine(engine)
            .build()
            .expect("a valid config"),
    )
    .unwrap();
    let records = kept.fetch_all([server.url("/bytes/20000000")]);
    assert_eq!(kind(&records[0]), Some(ErrorKind::TooLarge), "{engine:?}");
}

per_engine!(every_content_coding_is_decoded_in_order_and_an_empty_body_has_none_to_decode);
// `gzip` twice (on two header lines, or `gzip, gzip`) over a doubly gzipped body decodes to the
// body; HEAD, 204, 304 and `Content-Length: 0`, each with `Content-Encoding: gzip`, have
// nothing to decode and are ok.
fn every_content_coding_is_decoded_in_order_and_an_empty_body_has_none_to_decode(
    engine: EngineKind,
) {
    use std::io::Write;
    let twice = common::gzip(&common::gzip(b"hello, twice"));
    let server = common::Scripted::start(move |head, client| {
        let path = head.split_whitespace().nth(1).unwrap_or("");
        let (status, codings, body): (&str, &str, &[u8]) = match path {
            "/two-lines" => ("200 OK", "gzip\r\nContent-Encoding: gzip", &twice),
            "/one-line" => ("200 OK", "gzip, gzip", &twice),
            "/empty" => ("200 OK", "gzip", b""),
            "/head" => ("200 OK", "gzip", b""),
            "/no-content" => ("204 No Content", "gzip", b""),
            _ => ("304 Not Modified", "gzip", b""),
        };
        let length = match (path, status) {
            ("/head", _) => "Content-Length: 120\r\n".to_string(),
            (_, "200 OK") => format!("Content-Length: {}\r\n", body.len()),
            _ => String::new(),
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Encoding: {codings}\r\n{length}Connection: close\r\n\r\n"
        );
        let _ = client.write_all(head.as_bytes());
        let _ = client.write_all(body);
    });
    let fetcher = Fetcher::new(
        Config::builder()
            .engine(engine)
            .body(BodyMode::Text)
            .build()
            .unwrap(),
    )
    .unwrap();
    let records = fetcher.fetch_all([
        Request::get(server.url("/two-lines")),
        Request::get(server.url("/one-line")),
        Request::get(server.url("/empty")),
        Request::new("HEAD", server.url("/head")),
        Request::get(server.url("/no-content")),
        Request::get(server.url("/not-modified")),
    ]);
    for record in &records[..2] {
        assert!(record.ok, "{engine:?}: {record:?}");
        assert_eq!(
            record.body.as_ref().and_then(|b| b.as_str()),
            Some("hello, twice"),
            "{engine:?}: {record:?}"
        );
        assert_eq!(record.content_encoding.as_deref(), Some("gzip, gzip"));
        assert_eq!(record.decoded_bytes, Some(12));
    }
    for record in &records[2..] {
        assert!(record.ok, "{engine:?}: {record:?}");
        assert_eq!(record.bytes, 0, "{engine:?}: {record:?}");
    }
}

per_engine!(a_parsed_body_keeps_every_number_exactly_as_sent);
// `{"n": 123456789012345678901234567890}` stays that integer in the record (it used to
// become 1.2345678901234568e+29), and a long decimal keeps its digits.
fn a_parsed_body_keeps_every_number_exactly_as_sent(engine: EngineKind) {
    let server = server();
    let sent = r#"{"big":123456789012345678901234567890,"long":0.1000000000000000055511151231257827,"small":-7}"#;
    let output = common::poolfetch()
        .args(["fetch", "-q", "--engine", engine.name(), "--json", sent])
        .args(["--url", &server.url("/echo")])
        .output()
        .unwrap();
    common::assert_exit(&output, 0);
    let line = String::from_utf8(output.stdout).unwrap();
    assert!(line.contains(r#""json":{"big":123456789012345678901234567890,"long":0.1000000000000000055511151231257827,"small":-7}"#), "{engine:?}: {line}");
}
