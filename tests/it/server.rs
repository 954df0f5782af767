//! The embedded server on its own: routes, counters, and many waiting requests at once.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::server;

/// Raise the soft open-files limit to the hard one (each connection costs two descriptors here).
fn raise_fd_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    let _ = setrlimit(Resource::Nofile, limit);
}

#[test]
fn holds_a_thousand_waiting_requests_without_a_thread_each() {
    raise_fd_limit();
    let server = server();
    let count = 1000;
    // One client thread opens every connection and sends every request before reading any
    // answer, so all of them wait on the server together.
    let mut streams: Vec<TcpStream> = (0..count)
        .map(|_| {
            let mut stream = TcpStream::connect(server.addr()).expect("connect");
            stream
                .write_all(b"GET /delay/400 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .expect("send");
            stream
        })
        .collect();
    let mut ok = 0;
    for stream in &mut streams {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read");
        ok += usize::from(answer.starts_with("HTTP/1.1 200"));
    }
    assert_eq!(ok, count);
    let stats = server.stats();
    assert_eq!(stats.connections, count as u64);
    assert_eq!(
        stats.max_in_flight, count,
        "all {count} requests waited at once"
    );
}

#[test]
fn routes_answer_as_documented() {
    let server = server();
    let get = |path: &str| {
        ureq::get(&server.url(path))
            .config()
            .http_status_as_error(false)
            .build()
            .call()
            .unwrap()
    };

    let mut todo = get("/todos/42");
    assert_eq!(todo.status(), 200);
    let body: serde_json::Value =
        serde_json::from_str(&todo.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(body["id"], 42);
    assert_eq!(body["userId"], 3);
    assert_eq!(get("/todos/201").status(), 404);
    assert_eq!(get("/todos/0").status(), 404);

    let mut bytes = get("/bytes/200000");
    let data = bytes
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_vec()
        .unwrap();
    assert_eq!(data.len(), 200_000);
    assert_eq!(get("/bytes/0").body_mut().read_to_vec().unwrap().len(), 0);

    assert_eq!(get("/status/503").status(), 503);
    assert_eq!(get("/status/99").status(), 400);
    assert_eq!(get("/delay/soon").status(), 400);
    assert_eq!(get("/nowhere").status(), 404);

    let mut echo = ureq::post(&server.url("/post"))
        .content_type("application/json")
        .send(r#"{"a":[1,2]}"#)
        .unwrap();
    let body: serde_json::Value =
        serde_json::from_str(&echo.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(body["json"]["a"][1], 2);
    assert_eq!(body["bytes"], 11);

    let mut stats = get("/stats");
    let stats: serde_json::Value =
        serde_json::from_str(&stats.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(stats["requests"], 10, "/stats does not count itself");
}

#[test]
fn latency_is_added_to_every_route() {
    let server = poolfetch::server::Server::start(poolfetch::server::ServerConfig {
        latency: Duration::from_millis(80),
        ..Default::default()
    })
    .unwrap();
    let started = std::time::Instant::now();
    ureq::get(&server.url("/todos/1")).call().unwrap();
    assert!(started.elapsed() >= Duration::from_millis(80));
}

#[test]
#[should_panic(expected = "handlers panicked 1 time")]
fn a_panicking_handler_fails_the_test_that_owns_the_server() {
    let server = common::server();
    let answer = ureq::get(&server.url("/fault/panic")).call();
    assert!(
        matches!(answer, Err(ureq::Error::StatusCode(500))),
        "{answer:?}"
    );
    drop(server);
}
