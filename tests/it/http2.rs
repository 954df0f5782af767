//! HTTP/2 on the async engine: h2c by prior knowledge and h2 by ALPN share one connection per
//! host and never carry more streams than the pool; a server without h2 gets HTTP/1.1 and the
//! record says so; the thread engine refuses; and the records are the same over both versions.

use crate::common;

use std::io::Write;
use std::time::Duration;

use common::{assert_exit, https_server_speaking, kind, poolfetch, records, server};
use poolfetch::{Config, ConfigError, EngineKind, Fetcher, HttpVersion, Record};

fn fetcher(
    http: HttpVersion,
    pool: usize,
    extra: impl FnOnce(poolfetch::ConfigBuilder) -> poolfetch::ConfigBuilder,
) -> Fetcher {
    let builder = Config::builder()
        .engine(EngineKind::Async)
        .http(http)
        .pool(pool);
    Fetcher::new(extra(builder).build().unwrap()).unwrap()
}

/// `n` distinct URLs of `/delay/MS`.
fn delays(server: &poolfetch::server::Server, n: usize, ms: u64) -> Vec<String> {
    (0..n)
        .map(|i| server.url(&format!("/delay/{ms}?n={i}")))
        .collect()
}

#[test]
fn h2c_shares_one_connection_and_never_carries_more_streams_than_the_pool() {
    let server = server();
    let records =
        fetcher(HttpVersion::Http2PriorKnowledge, 4, |b| b).fetch_all(delays(&server, 40, 30));
    assert_eq!(records.len(), 40);
    for record in &records {
        assert!(record.ok, "{record:?}");
        assert_eq!(record.http_version.as_deref(), Some("HTTP/2"));
    }
    let stats = server.stats();
    assert_eq!(stats.connections, 1, "one connection for the host");
    assert!(
        stats.max_in_flight <= 4,
        "{} streams at once",
        stats.max_in_flight
    );
    assert_eq!(stats.requests, 40);
}

#[test]
fn http2_by_alpn_over_tls_and_http1_when_the_server_does_not_take_it() {
    for (speaks_h2, expected) in [(true, "HTTP/2"), (false, "HTTP/1.1")] {
        let (server, ca) = https_server_speaking(speaks_h2);
        let dir = tempfile::tempdir().unwrap();
        let ca_path = dir.path().join("ca.pem");
        std::fs::File::create(&ca_path)
            .unwrap()
            .write_all(ca.as_bytes())
            .unwrap();
        let urls: Vec<String> = (0..12)
            .map(|i| server.url(&format!("/todos/{}", i + 1)))
            .collect();
        let records =
            fetcher(HttpVersion::Http2, 3, |b| b.cacert(Some(ca_path.clone()))).fetch_all(urls);
        for record in &records {
            assert!(record.ok, "{expected}: {record:?}");
            assert_eq!(record.http_version.as_deref(), Some(expected));
        }
        let connections = server.stats().connections;
        if speaks_h2 {
            assert_eq!(connections, 1, "one h2 connection");
        } else {
            assert!(
                connections <= 3,
                "{connections} HTTP/1.1 connections for a pool of 3"
            );
        }
    }
    // --http2 on plain http:// stays HTTP/1.1, as curl does.
    let server = server();
    let records = fetcher(HttpVersion::Http2, 2, |b| b).fetch_all([server.url("/todos/1")]);
    assert_eq!(records[0].http_version.as_deref(), Some("HTTP/1.1"));
}

#[test]
fn the_thread_engine_refuses_http2_with_one_line() {
    let refused = Config::builder().http(HttpVersion::Http2).build();
    assert_eq!(refused.err(), Some(ConfigError::Http2NeedsAsync));
    let server = server();
    for flag in ["--http2", "--http2-prior-knowledge"] {
        let output = poolfetch()
            .args(["fetch", "-q", flag, "--url", &server.url("/todos/1")])
            .output()
            .unwrap();
        assert_exit(&output, 2);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("--engine async"), "{stderr}");
    }
    assert_eq!(server.stats().requests, 0);
    let output = poolfetch()
        .args([
            "fetch",
            "-q",
            "--engine",
            "async",
            "--http2-prior-knowledge",
        ])
        .args(["--url", &server.url("/todos/1")])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert_eq!(
        records(&output.stdout)[0].http_version.as_deref(),
        Some("HTTP/2")
    );
}

/// What a record says, without times and versions.
fn essence(
    record: &Record,
) -> (
    u64,
    bool,
    Option<u16>,
    u64,
    u32,
    Option<poolfetch::ErrorKind>,
) {
    (
        record.index,
        record.ok,
        record.status,
        record.bytes,
        record.attempts,
        kind(record),
    )
}

#[test]
fn the_same_records_over_http1_and_http2() {
    let server = server();
    let urls = [
        server.url("/todos/1"),
        server.url("/status/404"),
        server.url("/status/503"),
        server.url("/redirect-to?location=/todos/2"),
        server.url("/redirect-loop"),
        server.url("/retry-after/0"),
        server.url("/bytes/60000"),
        server.url("/gzip/40000"),
        server.url("/delay/3000"),
        server.url("/post"),
    ];
    let run = |http| {
        fetcher(http, 4, |b| {
            b.timeout(Duration::from_millis(1500))
                .max_body(Some(50_000))
                .retry(poolfetch::RetryPolicy {
                    retries: 1,
                    backoff: Duration::from_millis(10),
                    ..poolfetch::RetryPolicy::default()
                })
        })
        .fetch_all(urls.clone())
    };
    let http1 = run(HttpVersion::Http1);
    let http2 = run(HttpVersion::Http2PriorKnowledge);
    for (one, two) in http1.iter().zip(&http2) {
        assert_eq!(
            essence(one),
            essence(two),
            "{} over HTTP/1.1 and HTTP/2",
            one.url
        );
        if one.status.is_some() {
            assert_eq!(one.http_version.as_deref(), Some("HTTP/1.1"));
            assert_eq!(two.http_version.as_deref(), Some("HTTP/2"));
        }
    }
    assert_eq!(kind(&http2[8]), Some(poolfetch::ErrorKind::Timeout));
    assert_eq!(http2[7].decoded_bytes, Some(40_000), "gzip decoded");
    assert_eq!(kind(&http2[6]), Some(poolfetch::ErrorKind::TooLarge));
    assert_eq!(http2[5].attempts, 2, "429 retried after Retry-After");
}

/// The fault port's breakages in each version's terms (it answers h2c too): a reset before
/// the head, a hang, a malformed head, bytes that are not HTTP, a body cut short, a body
/// shorter than its length, and a server closing the connection after a complete answer.
/// At pool 1, because on HTTP/2 a broken connection takes every stream on it.
#[test]
fn the_fault_matrix_gives_the_same_records_over_http1_and_http2() {
    use poolfetch::ErrorKind::{Io, Protocol, Timeout};
    let server = server();
    let matrix = [
        ("/reset-before-headers", Some(Io)),
        ("/hang", Some(Timeout)),
        ("/malformed-status", Some(Protocol)),
        ("/garbage", Some(Protocol)),
        ("/truncated-chunked", Some(Io)),
        ("/short-body", Some(Io)),
        ("/keep-alive-then-close", None),
        ("/keep-alive-then-close", None),
        ("/keep-alive-then-close", None),
    ];
    let urls: Vec<String> = matrix
        .iter()
        .map(|(path, _)| server.fault_url(path))
        .collect();
    let run =
        |http| fetcher(http, 1, |b| b.timeout(Duration::from_millis(400))).fetch_all(urls.clone());
    let http1 = run(HttpVersion::Http1);
    let http2 = run(HttpVersion::Http2PriorKnowledge);
    for ((one, two), (path, expected)) in http1.iter().zip(&http2).zip(matrix) {
        assert_eq!(kind(one), expected, "{path} over HTTP/1.1: {:?}", one.error);
        assert_eq!(
            essence(one),
            essence(two),
            "{path}: {:?} / {:?}",
            one.error,
            two.error
        );
    }
    for record in http2.iter().filter(|r| r.ok) {
        assert_eq!(record.http_version.as_deref(), Some("HTTP/2"));
    }
}

/// Ctrl-C over HTTP/2 as over HTTP/1.1: exit 130, a record for every input read, in order,
/// and the server saw exactly the requests whose records say they were sent.
#[test]
fn ctrl_c_over_http2_keeps_every_record_true() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("records.jsonl");
    let mut child = poolfetch()
        .args([
            "fetch",
            "-q",
            "--engine",
            "async",
            "--http2-prior-knowledge",
            "-p",
            "2",
            "-o",
        ])
        .arg(&out)
        .args([
            "--template",
            &server.url("/delay/300?n={}"),
            "--range",
            "1..40",
        ])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.stats().requests < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the requests never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    common::signal(&child, libc::SIGINT);
    let (code, _) = common::wait_bounded(&mut child, Duration::from_secs(30));
    assert_eq!(code, 130);
    let records = common::read_records(&out);
    let indices: Vec<u64> = records.iter().map(|r| r.index).collect();
    assert_eq!(indices, (0..40).collect::<Vec<_>>());
    let sent = records.iter().filter(|r| r.attempts >= 1).count() as u64;
    assert_eq!(server.stats().requests, sent);
    for record in records.iter().filter(|r| r.attempts == 0) {
        assert_eq!(
            kind(record),
            Some(poolfetch::ErrorKind::Cancelled),
            "{record:?}"
        );
    }
    for record in records.iter().filter(|r| r.ok) {
        assert_eq!(record.http_version.as_deref(), Some("HTTP/2"));
    }
}

/// Past 100 streams on one connection (the least a server must allow, RFC 9113 6.5.2) another
/// connection opens, so no request waits inside a connection for the server's stream limit.
#[test]
fn more_than_100_streams_open_a_second_connection() {
    let server = server();
    let records =
        fetcher(HttpVersion::Http2PriorKnowledge, 150, |b| b).fetch_all(delays(&server, 300, 100));
    assert!(records.iter().all(|r| r.ok));
    let stats = server.stats();
    assert_eq!(stats.connections, 2, "150 streams on 2 connections");
    assert!(stats.max_in_flight <= 150, "{}", stats.max_in_flight);
}

/// A hand-written h2c server for the cases hyper's server will not produce: each connection
/// answers its first `answered` streams (`:status: 200`, no body), then either sends a
/// graceful GOAWAY naming the last of them (what nginx does at `keepalive_requests`) and
/// closes, or goes silent with the connection left open. It counts connections.
struct H2Script {
    addr: std::net::SocketAddr,
    connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

#[derive(Clone, Copy)]
enum AfterThat {
    GoAway,
    Silence,
}

impl H2Script {
    fn start(answered: u32, after: AfterThat) -> H2Script {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = std::sync::Arc::clone(&connections);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                counted.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let _ = h2_session(client, answered, after);
                });
            }
        });
        H2Script { addr, connections }
    }

    fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut bytes = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    bytes.extend_from_slice(&stream.to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

fn h2_session(
    mut client: std::net::TcpStream,
    answered: u32,
    after: AfterThat,
) -> std::io::Result<()> {
    use std::io::Read;
    const HEADERS: u8 = 1;
    const SETTINGS: u8 = 4;
    const GOAWAY: u8 = 7;
    let mut preface = [0u8; 24];
    client.read_exact(&mut preface)?;
    client.write_all(&frame(SETTINGS, 0, 0, &[]))?;
    let mut done = 0;
    loop {
        let mut head = [0u8; 9];
        client.read_exact(&mut head)?;
        let len = (usize::from(head[0]) << 16) | (usize::from(head[1]) << 8) | usize::from(head[2]);
        let (kind, flags) = (head[3], head[4]);
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; len];
        client.read_exact(&mut payload)?;
        match kind {
            SETTINGS if flags & 1 == 0 => client.write_all(&frame(SETTINGS, 1, 0, &[]))?,
            HEADERS if done < answered => {
                // `:status: 200` is entry 8 of HPACK's static table; END_HEADERS | END_STREAM.
                client.write_all(&frame(HEADERS, 0x5, stream, &[0x88]))?;
                done += 1;
                if done == answered
                    && let AfterThat::GoAway = after
                {
                    // Its last-stream-id is this stream, the last it processed.
                    let mut goaway = stream.to_be_bytes().to_vec();
                    goaway.extend_from_slice(&0u32.to_be_bytes()); // NO_ERROR
                    client.write_all(&frame(GOAWAY, 0, 0, &goaway))?;
                    // Whatever else arrives is never processed; then the connection ends.
                    client.set_read_timeout(Some(Duration::from_millis(200)))?;
                }
            }
            _ => {}
        }
    }
}

/// A graceful GOAWAY leaves the streams above its last-stream-id unprocessed: they go again on
/// a new connection (RFC 9113 §6.8), so every request ends ok, whatever its method.
#[test]
fn streams_a_goaway_left_unprocessed_are_sent_again_on_a_new_connection() {
    let script = H2Script::start(5, AfterThat::GoAway);
    let base = format!("http://{}", script.addr);
    let body = std::sync::Arc::new(poolfetch::Body::json("{}").unwrap());
    let posts = (0..30)
        .map(|i| poolfetch::Request::new("POST", format!("{base}/n/{i}")).with_body(body.clone()));
    let records = fetcher(HttpVersion::Http2PriorKnowledge, 6, |b| b).fetch_all(posts);
    assert_eq!(records.len(), 30);
    for record in &records {
        assert!(record.ok, "{record:?}");
        assert_eq!(record.status, Some(200));
    }
    assert!(
        script.connections() >= 6,
        "5 streams a connection: {} connections",
        script.connections()
    );
}

/// A shared connection that stops answering is dropped at the first timeout: the retry, and
/// every later request, goes on a new connection.
#[test]
fn a_connection_that_stops_answering_gets_no_further_request() {
    let script = H2Script::start(4, AfterThat::Silence);
    let base = format!("http://{}", script.addr);
    let urls: Vec<String> = (0..10).map(|i| format!("{base}/n/{i}")).collect();
    let records = fetcher(HttpVersion::Http2PriorKnowledge, 1, |b| {
        b.timeout(Duration::from_millis(400))
            .retry(poolfetch::RetryPolicy {
                retries: 1,
                backoff: Duration::from_millis(1),
                ..poolfetch::RetryPolicy::default()
            })
    })
    .fetch_all(urls);
    for record in &records {
        assert!(record.ok, "{record:?}");
    }
    // Requests 4 and 8 (from 0) met a silent connection once, and only once.
    let attempts: Vec<u32> = records.iter().map(|r| r.attempts).collect();
    assert_eq!(attempts, [1, 1, 1, 1, 2, 1, 1, 1, 2, 1]);
    assert_eq!(script.connections(), 3);
}

/// With `--http2`, a host whose TLS handshake never answers costs each request its own
/// timeout, not its place in the line times the timeout: requests waiting for the host's
/// connection fail with the attempt they waited for.
#[test]
fn requests_waiting_for_a_host_that_never_answers_share_its_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let holder = std::sync::Arc::clone(&held);
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            holder.lock().unwrap().push(client); // accepted, never answered
        }
    });
    let urls: Vec<String> = (0..6).map(|i| format!("https://{addr}/n/{i}")).collect();
    let records = fetcher(HttpVersion::Http2, 6, |b| {
        b.timeout(Duration::from_millis(500))
    })
    .fetch_all(urls);
    for record in &records {
        assert_eq!(
            kind(record),
            Some(poolfetch::ErrorKind::Timeout),
            "{record:?}"
        );
        // A bound, not a speed: in line, the sixth would take 6 × 500 ms.
        let took = record.finished_ms - record.started_ms;
        assert!(took < 1_800.0, "{} took {took} ms", record.index);
    }
}
