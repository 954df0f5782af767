//! The fault matrix: every way a server can fail, on both engines. Each input gets exactly
//! one record, in order, with the right error kind, and nothing panics.

use crate::common;

use common::per_engine;

use std::time::Duration;

use common::{closed_port, indices, kind, server};
use poolfetch::RetryPolicy;
use poolfetch::{Config, EngineKind, ErrorKind, Fetcher};

per_engine!(each_fault_gives_one_record_with_its_kind);
fn each_fault_gives_one_record_with_its_kind(engine: EngineKind) {
    let server = server();
    let matrix: Vec<(&str, String, Option<ErrorKind>)> = vec![
        (
            "connection refused",
            format!("http://127.0.0.1:{}/", closed_port()),
            Some(ErrorKind::Connect),
        ),
        (
            "reset before headers",
            server.fault_url("/reset-before-headers"),
            Some(ErrorKind::Io),
        ),
        (
            "reset mid-body",
            server.url("/fault/reset-body/100000"),
            Some(ErrorKind::Io),
        ),
        (
            "hang past the timeout",
            server.fault_url("/hang"),
            Some(ErrorKind::Timeout),
        ),
        (
            "malformed status line",
            server.fault_url("/malformed-status"),
            Some(ErrorKind::Protocol),
        ),
        (
            "not HTTP at all",
            server.fault_url("/garbage"),
            Some(ErrorKind::Protocol),
        ),
        (
            "truncated chunked body",
            server.fault_url("/truncated-chunked"),
            Some(ErrorKind::Io),
        ),
        (
            "Content-Length longer than body",
            server.fault_url("/short-body"),
            Some(ErrorKind::Io),
        ),
        (
            "429 with Retry-After",
            server.url("/retry-after/1"),
            Some(ErrorKind::Status),
        ),
        (
            "503 storm",
            server.url("/flaky/100"),
            Some(ErrorKind::Status),
        ),
        (
            "redirect loop",
            server.url("/redirect-loop"),
            Some(ErrorKind::Redirect),
        ),
        ("three redirects", server.url("/redirect/3"), None),
        ("healthy", server.url("/todos/1"), None),
    ];
    let fetcher = Fetcher::new(
        Config::builder()
            .engine(engine)
            .pool(4)
            .timeout(Duration::from_millis(400))
            .build()
            .expect("a valid config"),
    )
    .unwrap();
    let records = fetcher.fetch_all(matrix.iter().map(|(_, url, _)| url.clone()));
    assert_eq!(
        indices(&records),
        (0..matrix.len() as u64).collect::<Vec<_>>()
    );
    for ((fault, _, expected), record) in matrix.iter().zip(&records) {
        assert_eq!(
            kind(record),
            *expected,
            "{engine:?}, {fault}: {:?}",
            record.error
        );
        assert_eq!(record.ok, expected.is_none());
    }
}

per_engine!(retries_turn_a_twenty_percent_fail_mix_into_at_least_99_percent_ok);
fn retries_turn_a_twenty_percent_fail_mix_into_at_least_99_percent_ok(engine: EngineKind) {
    let server = server();
    let fetcher = Fetcher::new(
        Config::builder()
            .engine(engine)
            .pool(16)
            .retry(RetryPolicy {
                retries: 3,
                backoff: Duration::from_millis(1),
                max_wait: Duration::from_millis(20),
                all_methods: false,
            })
            .build()
            .expect("a valid config"),
    )
    .unwrap();
    let urls: Vec<String> = (0..2000)
        .map(|i| server.url(&format!("/mix/20?n={i}")))
        .collect();
    let records = fetcher.fetch_all(urls);
    assert_eq!(records.len(), 2000);
    let ok = records.iter().filter(|r| r.ok).count();
    assert!(ok >= 1980, "{engine:?}: only {ok} of 2000 ok");
    assert!(
        records.iter().any(|r| r.attempts > 1),
        "some needed a retry"
    );
    assert!(records.iter().all(|r| (1..=4).contains(&r.attempts)));
}

per_engine!(retry_after_is_waited_for_and_attempts_are_counted);
fn retry_after_is_waited_for_and_attempts_are_counted(engine: EngineKind) {
    let server = server();
    let fetcher = Fetcher::new(
        Config::builder()
            .engine(engine)
            .retry(RetryPolicy {
                retries: 2,
                backoff: Duration::from_millis(1),
                ..RetryPolicy::default()
            })
            .build()
            .expect("a valid config"),
    )
    .unwrap();
    let records = fetcher.fetch_all([server.url("/retry-after/1"), server.url("/status/404")]);
    let storm = &records[0];
    assert_eq!(storm.attempts, 3, "{engine:?}");
    assert_eq!(storm.status, Some(429));
    // Two waits of Retry-After: 1 s each (a lower bound, so timing-safe).
    assert!(
        storm.finished_ms - storm.started_ms >= 2000.0,
        "{engine:?}: {storm:?}"
    );
    assert_eq!(records[1].attempts, 1, "a 404 is not retried");
    // Retry-After as an HTTP date is honoured too (whole seconds, so no lower bound).
    let dated = fetcher.fetch_all([server.url("/retry-after-date/1")]);
    assert_eq!(
        (dated[0].attempts, dated[0].status),
        (3, Some(429)),
        "{engine:?}"
    );
}

#[test]
fn post_is_not_retried_unless_asked() {
    for (all_methods, expected) in [(false, 1), (true, 3)] {
        let fetcher = Fetcher::new(
            Config::builder()
                .retry(RetryPolicy {
                    retries: 2,
                    backoff: Duration::from_millis(1),
                    all_methods,
                    ..RetryPolicy::default()
                })
                .build()
                .expect("a valid config"),
        )
        .unwrap();
        let refused =
            poolfetch::Request::new("POST", format!("http://127.0.0.1:{}/", closed_port()));
        let records = fetcher.fetch_all([refused]);
        assert_eq!(records[0].attempts, expected, "all_methods = {all_methods}");
    }
}

per_engine!(redirects_follow_the_limit);
fn redirects_follow_the_limit(engine: EngineKind) {
    let server = server();
    let limited = Fetcher::new(
        Config::builder()
            .engine(engine)
            .max_redirects(2)
            .build()
            .expect("a valid config"),
    )
    .unwrap();
    let records = limited.fetch_all([server.url("/redirect/2"), server.url("/redirect/3")]);
    assert!(records[0].ok, "{engine:?}");
    assert_eq!(kind(&records[1]), Some(ErrorKind::Redirect), "{engine:?}");
    let none = Fetcher::new(
        Config::builder()
            .engine(engine)
            .max_redirects(0)
            .build()
            .expect("a valid config"),
    )
    .unwrap();
    let records = none.fetch_all([server.url("/redirect/1")]);
    assert_eq!(
        records[0].status,
        Some(302),
        "{engine:?}: with 0 the 3xx comes back"
    );
}

per_engine!(per_host_caps_requests_in_flight_to_one_host);
fn per_host_caps_requests_in_flight_to_one_host(engine: EngineKind) {
    let server = server();
    server.reset_stats();
    let fetcher = Fetcher::new(
        Config::builder()
            .engine(engine)
            .pool(8)
            .per_host(Some(3))
            .build()
            .expect("a valid config"),
    )
    .unwrap();
    let records = fetcher.fetch_all((0..24).map(|i| server.url(&format!("/delay/30?n={i}"))));
    assert!(records.iter().all(|r| r.ok));
    let peak = server.stats().max_in_flight;
    assert!(
        (1..=3).contains(&peak),
        "{engine:?}: {peak} in flight to one host"
    );
}

per_engine!(the_rate_cap_spaces_out_requests);
fn the_rate_cap_spaces_out_requests(engine: EngineKind) {
    let server = server();
    // (rate, requests, gap): per second, and per minute as a minute (120/m: one every 500 ms,
    // never 2/s rounded up or a burst of 120).
    for (rate, requests, gap) in [("40/s", 21, 25.0), ("120/m", 4, 500.0)] {
        let fetcher = Fetcher::new(
            Config::builder()
                .engine(engine)
                .pool(8)
                .rate(Some(rate.parse().expect("a rate")))
                .build()
                .expect("a valid config"),
        )
        .unwrap();
        let urls = (0..requests).map(|i| server.url(&format!("/todos/{}", i + 1)));
        let records = fetcher.fetch_all(urls);
        let mut starts: Vec<f64> = records.iter().map(|r| r.started_ms).collect();
        starts.sort_by(f64::total_cmp);
        // The k-th request starts no sooner than k gaps after the first: no burst.
        for (k, start) in starts.iter().enumerate() {
            assert!(
                start - starts[0] >= k as f64 * gap - 2.0,
                "{engine:?} {rate}: request {k} started {} ms after the first",
                start - starts[0]
            );
        }
    }
}

per_engine!(a_rate_per_host_spaces_each_host_alone);

/// `--rate-per-host 0.5/s` (a fraction: one request every 2 s) spaces the requests to each
/// host by 2 s, and one host's wait does not hold back another's.
fn a_rate_per_host_spaces_each_host_alone(engine: EngineKind) {
    let (a, b) = (server(), server());
    let fetcher = Fetcher::new(
        Config::builder()
            .engine(engine)
            .pool(4)
            .rate_per_host(Some("0.5/s".parse().expect("a rate")))
            .build()
            .expect("a valid config"),
    )
    .unwrap();
    let urls = [
        a.url("/todos/1"),
        a.url("/todos/2"),
        b.url("/todos/1"),
        b.url("/todos/2"),
    ];
    let records = fetcher.fetch_all(urls);
    assert!(records.iter().all(|r| r.ok), "{records:?}");
    let starts = |host: &str| {
        let mut starts: Vec<f64> = records
            .iter()
            .filter(|r| r.url.starts_with(host))
            .map(|r| r.started_ms)
            .collect();
        starts.sort_by(f64::total_cmp);
        starts
    };
    let (on_a, on_b) = (starts(&a.url("/")), starts(&b.url("/")));
    for starts in [&on_a, &on_b] {
        assert!(
            starts[1] - starts[0] >= 2000.0 - 2.0,
            "{engine:?}: {starts:?}"
        );
    }
    // Each host's first request went before the other host's second: not one queue.
    assert!(
        on_b[0] < on_a[1] && on_a[0] < on_b[1],
        "{engine:?}: {on_a:?} {on_b:?}"
    );
}

#[test]
fn credentials_in_headers_and_urls_never_reach_output() {
    let server = server();
    let secret = "s3cr3t-token";
    let urls = [
        server.url("/status/401"),
        format!("http://user:{secret}@127.0.0.1:{}/", closed_port()),
        format!("ftp://user:{secret}@127.0.0.1/"),
        server
            .fault_url("/malformed-status")
            .replace("http://", &format!("http://u:{secret}@")),
    ];
    let output = assert_cmd::Command::cargo_bin("poolfetch")
        .unwrap()
        .args(["fetch", "-H", &format!("Authorization: Bearer {secret}")])
        .args(urls.iter().flat_map(|u| ["--url", u.as_str()]))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let everything = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).lines().count(),
        urls.len(),
        "{everything}"
    );
    assert!(!everything.contains(secret), "{everything}");
    // A header value HTTP cannot carry is a usage error that does not echo the value.
    let output = assert_cmd::Command::cargo_bin("poolfetch")
        .unwrap()
        .args([
            "fetch",
            "--url",
            &urls[0],
            "-H",
            &format!("Authorization: {secret}\u{7f}"),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&output.stderr).contains(secret));
}

#[test]
fn a_response_head_too_large_for_the_thread_engine_is_a_protocol_error() {
    let server = server();
    let fetcher = Fetcher::new(Config::default()).unwrap();
    let records = fetcher.fetch_all([
        server.url("/big-header/4000"),
        server.url("/big-header/40000"),
    ]);
    assert!(records[0].ok, "{:?}", records[0]);
    assert_eq!(
        kind(&records[1]),
        Some(ErrorKind::Protocol),
        "{:?}",
        records[1]
    );
}

per_engine!(a_keep_alive_connection_closed_by_the_server_is_not_a_failure);
/// A server that closes each keep-alive connection after one response: a client that takes
/// such a connection from its pool finds it dead, and must send the request again on a new
/// one instead of failing it (the thread engine takes recently used connections unchecked).
fn a_keep_alive_connection_closed_by_the_server_is_not_a_failure(engine: EngineKind) {
    let server = server();
    let fetcher = Fetcher::new(
        Config::builder()
            .engine(engine)
            .pool(1)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap(),
    )
    .unwrap();
    server.reset_stats();
    let urls = vec![server.fault_url("/keep-alive-then-close"); 6];
    let records = fetcher.fetch_all(urls);
    assert_eq!(indices(&records), [0, 1, 2, 3, 4, 5], "{engine:?}");
    for record in &records {
        assert!(record.ok, "{engine:?}: {record:?}");
        assert_eq!(record.attempts, 1, "{engine:?}: {record:?}");
    }
    // Every request needed a connection of its own.
    assert!(server.stats().connections >= 6, "{engine:?}");
}

per_engine!(the_connect_timeout_bounds_a_connect_that_never_completes);
/// `--connect-timeout` bounds the TCP connect alone: a listener whose accept queue is full
/// (backlog 0, one connection already waiting) drops SYNs, so a connect never completes.
/// With `--timeout 60s` the record is a `timeout` after the 300 ms connect deadline.
fn the_connect_timeout_bounds_a_connect_that_never_completes(engine: EngineKind) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    common::backlog_zero(&listener);
    let port = listener.local_addr().unwrap().port();
    let _waiting = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let fetcher = Fetcher::new(
        Config::builder()
            .engine(engine)
            .timeout(Duration::from_secs(60))
            .connect_timeout(Some(Duration::from_millis(300)))
            .build()
            .unwrap(),
    )
    .unwrap();
    let records = fetcher.fetch_all([format!("http://127.0.0.1:{port}/")]);
    assert_eq!(
        kind(&records[0]),
        Some(ErrorKind::Timeout),
        "{:?}",
        records[0]
    );
    let took = records[0].finished_ms - records[0].started_ms;
    assert!(
        took < 20_000.0,
        "the 60 s --timeout applied, not the connect's: {took} ms"
    );
}

/// Resolves `dual.test` to an address that never answers, then to the embedded server.
struct FirstAddressBlackholed(u16);

impl poolfetch::Resolve for FirstAddressBlackholed {
    fn resolve(&self, host: &str, port: u16) -> std::io::Result<Vec<std::net::SocketAddr>> {
        assert_eq!(host, "dual.test");
        assert_eq!(port, self.0);
        Ok(vec![
            std::net::SocketAddr::from(([127, 0, 0, 2], port)),
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        ])
    }
}

per_engine!(happy_eyeballs_reach_the_second_address_when_the_first_never_answers);
/// Happy Eyeballs (RFC 8305): the first address never answers (a listener on 127.0.0.2 whose
/// accept queue is full drops SYNs), the second is the server. With a 20 s connect deadline the
/// record is ok after about 250 ms, not 20 s.
fn happy_eyeballs_reach_the_second_address_when_the_first_never_answers(engine: EngineKind) {
    let server = server();
    let port: u16 = server
        .url("/")
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let blackhole = std::net::TcpListener::bind(("127.0.0.2", port)).unwrap();
    common::backlog_zero(&blackhole);
    let _queued = std::net::TcpStream::connect(("127.0.0.2", port)).unwrap();
    let never = std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 2], port)),
        Duration::from_millis(200),
    );
    assert!(never.is_err(), "the first address must not answer");
    let fetcher = Fetcher::with_resolver(
        Config::builder()
            .engine(engine)
            .timeout(Duration::from_secs(30))
            .connect_timeout(Some(Duration::from_secs(20)))
            .build()
            .unwrap(),
        FirstAddressBlackholed(port),
    )
    .unwrap();
    let records = fetcher.fetch_all([format!("http://dual.test:{port}/todos/1")]);
    assert!(records[0].ok, "{engine:?}: {:?}", records[0]);
    let took = records[0].finished_ms - records[0].started_ms;
    assert!(
        took < 10_000.0,
        "{engine:?}: waited for the first address: {took} ms"
    );
}
