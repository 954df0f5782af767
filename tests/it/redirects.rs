//! Redirects are followed by the shared core, so both engines give the same record for every
//! hostile or unusual redirect; only http(s) targets are ever followed.

use crate::common;

use common::per_engine;

use common::{kind, server};
use poolfetch::{Config, EngineKind, ErrorKind, Fetcher, Request};

fn fetcher(engine: EngineKind, headers: Vec<(String, String)>) -> Fetcher {
    let config = Config::builder()
        .engine(engine)
        .pool(2)
        .headers(headers)
        .build()
        .unwrap();
    Fetcher::new(config).unwrap()
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

per_engine!(only_http_targets_are_followed_and_a_3xx_without_location_is_returned);
fn only_http_targets_are_followed_and_a_3xx_without_location_is_returned(engine: EngineKind) {
    let server = server();
    let hostile = [
        "file:///etc/passwd",
        "javascript:alert(1)",
        "ftp://127.0.0.1/x",
    ];
    let mut urls: Vec<String> = hostile
        .iter()
        .map(|target| server.url(&format!("/redirect-to?location={}", encode(target))))
        .collect();
    urls.push(server.url("/redirect-to?status=302"));
    urls.push(server.url(&format!(
        "/redirect-to?status=301&location={}",
        encode("/todos/4")
    )));
    let records = fetcher(engine, Vec::new()).fetch_all(urls);
    for record in &records[..3] {
        assert_eq!(
            kind(record),
            Some(ErrorKind::Redirect),
            "{engine:?} {record:?}"
        );
        assert!(!record.ok);
    }
    assert_eq!(
        (records[3].status, records[3].ok, kind(&records[3])),
        (Some(302), true, None),
        "{engine:?}: a 3xx without Location is returned as it is"
    );
    assert_eq!(records[4].status, Some(200), "{engine:?}");
    assert_eq!(records[4].body.as_ref().unwrap()["id"], 4);
    // The hostile targets were never requested (not even from this host): 5 requests
    // for the 5 inputs, plus the one followed redirect.
    assert_eq!(server.stats().requests, 6, "{engine:?}");
}

per_engine!(see_other_becomes_a_get_and_credentials_stay_with_their_origin);
fn see_other_becomes_a_get_and_credentials_stay_with_their_origin(engine: EngineKind) {
    let server = server();
    let other = common::server();
    let headers = vec![
        ("Authorization".to_string(), "Bearer s3cret".to_string()),
        ("X-Trace".to_string(), "7".to_string()),
    ];
    let fetcher = fetcher(engine, headers);
    let mut post = Request::get(server.url(&format!(
        "/redirect-to?status=303&location={}",
        encode("/echo")
    )));
    post.method = "POST".into();
    post.body = Some(std::sync::Arc::new(
        poolfetch::Body::json("{\"a\":1}").unwrap(),
    ));
    let cross = Request::get(server.url(&format!(
        "/redirect-to?status=307&location={}",
        encode(&other.url("/echo"))
    )));
    let records = fetcher.fetch_all([post, cross]);
    let same = records[0].body.as_ref().unwrap();
    assert_eq!(
        same["method"], "GET",
        "{engine:?}: 303 turns a POST into a GET"
    );
    assert_eq!(same["headers"]["authorization"], "Bearer s3cret");
    let moved = records[1].body.as_ref().unwrap();
    assert_eq!(moved["method"], "GET");
    assert!(
        moved["headers"].get("authorization").is_none(),
        "{engine:?}: credentials were sent to another origin: {moved}"
    );
    assert_eq!(moved["headers"]["x-trace"], "7");
}

per_engine!(a_record_says_which_url_answered_its_content_type_and_when_it_started);
/// `final_url` is where the redirects led (the `url` stays what was asked for), with
/// credentials redacted; `content_type` is the answer's; `started_at` is the wall clock, RFC
/// 3339 UTC, in step with `started_ms`.
fn a_record_says_which_url_answered_its_content_type_and_when_it_started(engine: EngineKind) {
    let server = server();
    let before = std::time::SystemTime::now();
    let asked = server.url("/redirect/3");
    let with_credentials = asked.replace("http://", "http://alice:s3cret@");
    let records = fetcher(engine, Vec::new()).fetch_all([
        asked.clone(),
        with_credentials,
        format!("http://127.0.0.1:{}/", common::closed_port()),
    ]);
    let (first, second, failed) = (&records[0], &records[1], &records[2]);
    assert!(first.ok, "{first:?}");
    assert_eq!(first.url, asked);
    assert_eq!(
        first.final_url.as_deref(),
        Some(server.url("/redirect/0").as_str())
    );
    assert_eq!(first.content_type.as_deref(), Some("application/json"));
    let port = server
        .url("/")
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    assert_eq!(
        first.remote_addr.as_deref(),
        Some(format!("127.0.0.1:{port}").as_str())
    );
    assert_eq!(failed.remote_addr, None);
    let final_url = second.final_url.as_deref().unwrap();
    assert!(
        final_url.contains("***@") && !final_url.contains("s3cret"),
        "{final_url}"
    );
    assert_eq!(failed.final_url, None);
    assert_eq!(failed.content_type, None);
    for record in &records {
        let at = humantime::parse_rfc3339(&record.started_at)
            .unwrap_or_else(|e| panic!("{}: {e}", record.started_at));
        assert!(record.started_at.ends_with('Z'));
        assert!(
            at >= before - std::time::Duration::from_millis(1),
            "{record:?}"
        );
    }
}

per_engine!(phase_timings_are_ordered_on_a_new_connection_and_null_on_a_reused_one);
/// `dns_ms ≤ connect_ms ≤ tls_ms ≤ ttfb_ms ≤ finished_ms − started_ms` on a new connection,
/// over http and https; a reused connection skipped the first three (null); a refused one has
/// none, and one that failed later keeps the phases it got through.
fn phase_timings_are_ordered_on_a_new_connection_and_null_on_a_reused_one(engine: EngineKind) {
    let plain = server();
    let (secure, ca_pem) = common::https_server_speaking(false);
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    // One worker, so the second request to each server finds the first one's connection.
    let config = Config::builder()
        .engine(engine)
        .pool(1)
        .cacert(Some(ca))
        .build()
        .unwrap();
    let records = Fetcher::new(config).unwrap().fetch_all([
        plain.url("/delay/20"),
        plain.url("/delay/20"),
        secure.url("/delay/20"),
        secure.url("/todos/2"),
        format!("http://127.0.0.1:{}/", common::closed_port()),
    ]);
    let phases = |r: &poolfetch::Record| [r.dns_ms, r.connect_ms, r.tls_ms, r.ttfb_ms];
    for record in &records[..4] {
        assert!(record.ok, "{record:?}");
        let took = record.finished_ms - record.started_ms + 1e-9;
        let known: Vec<f64> = phases(record).into_iter().flatten().collect();
        assert!(
            known.windows(2).all(|w| w[0] <= w[1]) && known.iter().all(|&t| t >= 0.0 && t <= took),
            "out of order: {record:?}"
        );
        assert!(record.ttfb_ms.is_some(), "{record:?}");
    }
    let (fresh, reused, fresh_tls, reused_tls) =
        (&records[0], &records[1], &records[2], &records[3]);
    assert!(
        fresh.dns_ms.is_some() && fresh.connect_ms.is_some(),
        "{fresh:?}"
    );
    assert_eq!(fresh.tls_ms, None, "no TLS on http: {fresh:?}");
    assert!(
        fresh_tls.dns_ms.is_some() && fresh_tls.tls_ms.is_some(),
        "{fresh_tls:?}"
    );
    for record in [reused, reused_tls] {
        assert_eq!(
            [record.dns_ms, record.connect_ms, record.tls_ms],
            [None, None, None],
            "reused: {record:?}"
        );
    }
    // The server waits 20 ms before its head: the first byte cannot come sooner.
    for record in [fresh, reused, fresh_tls] {
        assert!(record.ttfb_ms.unwrap() >= 20.0, "{record:?}");
    }
    assert_eq!(phases(&records[4]), [None; 4], "{:?}", records[4]);

    // A failure after the connection was made keeps the phases it got through, as curl's
    // time_connect does: a head that never comes, a certificate nobody trusts.
    let silent = server();
    let strict = Config::builder()
        .engine(engine)
        .pool(2)
        .max_time(Some(std::time::Duration::from_millis(300)))
        .build()
        .unwrap();
    let failed = Fetcher::new(strict)
        .unwrap()
        .fetch_all([silent.url("/delay/3000"), secure.url("/todos/1")]);
    let (waited, untrusted) = (&failed[0], &failed[1]);
    assert_eq!(
        common::kind(waited),
        Some(poolfetch::ErrorKind::Timeout),
        "{waited:?}"
    );
    // The same words on every engine.
    assert_eq!(
        waited.error.as_ref().map(|e| e.message.as_str()),
        Some("the whole-request time limit (300ms) passed before the last byte"),
        "{waited:?}"
    );
    assert!(
        waited.connect_ms.is_some() && waited.ttfb_ms.is_none(),
        "{waited:?}"
    );
    assert_eq!(
        common::kind(untrusted),
        Some(poolfetch::ErrorKind::Tls),
        "{untrusted:?}"
    );
    assert!(untrusted.connect_ms.is_some(), "{untrusted:?}");
    assert_eq!(
        (untrusted.tls_ms, untrusted.ttfb_ms),
        (None, None),
        "{untrusted:?}"
    );
}
