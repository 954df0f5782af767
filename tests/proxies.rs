//! Proxies, as curl has them: the environment is honoured by default, `--proxy` overrides it,
//! `--noproxy` (or `no_proxy`) exempts hosts, errors through a proxy name it, and the bench's
//! own loopback server is never proxied. Both engines; the "proxy" is the embedded server,
//! which answers an absolute-form request by its path.

mod common;

use common::per_engine;
use poolfetch::EngineKind;

use std::process::Output;

use assert_cmd::Command;
use common::{assert_exit, closed_port, records, server};
use poolfetch::ErrorKind;

fn poolfetch() -> Command {
    let mut command = Command::cargo_bin("poolfetch").unwrap();
    for name in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
    ] {
        command.env_remove(name);
    }
    command.env_remove("no_proxy").env_remove("NO_PROXY");
    command
}

/// `fetch -q --engine ENGINE --url URL EXTRA…` with `env` set.
fn fetch_with(env: &[(&str, &str)], engine: &str, url: &str, extra: &[&str]) -> Output {
    let mut command = poolfetch();
    for (name, value) in env {
        command.env(name, value);
    }
    command
        .args(["fetch", "-q", "--engine", engine, "--url", url])
        .args(extra)
        .output()
        .unwrap()
}

per_engine!(the_environment_proxy_is_used_named_in_errors_and_bypassed_on_request);
fn the_environment_proxy_is_used_named_in_errors_and_bypassed_on_request(engine: EngineKind) {
    let engine = engine.name();
    let server = server();
    let url = server.url("/todos/1");
    let dead_proxy = format!("http://127.0.0.1:{}", closed_port());
    let proxied = [("http_proxy", dead_proxy.as_str())];
    let output = fetch_with(&proxied, engine, &url, &[]);
    assert_eq!(output.status.code(), Some(1), "{engine}");
    let record = &records(&output.stdout)[0];
    let error = record.error.as_ref().unwrap();
    assert_eq!(error.kind, ErrorKind::Connect, "{engine}: {error:?}");
    assert!(
        error.message.contains(&dead_proxy),
        "{engine}: {}",
        error.message
    );

    for bypass in [
        ["--noproxy", "*"],
        ["--noproxy", "127.0.0.1"],
        ["--noproxy", "127.0.0.0/8"],
    ] {
        let output = fetch_with(&proxied, engine, &url, &bypass);
        assert_eq!(output.status.code(), Some(0), "{engine} {bypass:?}");
    }
    let exempt = [
        ("http_proxy", dead_proxy.as_str()),
        ("no_proxy", "example.org,127.0.0.0/8"),
    ];
    let output = fetch_with(&exempt, engine, &url, &[]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{engine}: no_proxy from the environment"
    );
}

#[test]
fn an_explicit_proxy_carries_requests_to_hosts_that_do_not_resolve() {
    let proxy = server();
    let proxy_url = proxy.url("");
    for engine in ["threads", "async"] {
        proxy.reset_stats();
        // The target name is never looked up here: the proxy gets the absolute URL.
        let output = poolfetch()
            .args(["fetch", "-q", "--engine", engine, "--proxy", &proxy_url])
            .args(["--url", "http://poolfetch-proxied.invalid/todos/3"])
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{engine}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let record = &records(&output.stdout)[0];
        assert_eq!(record.body.as_ref().unwrap()["id"], 3, "{engine}");
        assert_eq!(proxy.stats().requests, 1, "{engine}");
    }
    let bad = poolfetch()
        .args([
            "fetch",
            "--proxy",
            "socks5://127.0.0.1:1",
            "--url",
            "http://h/",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("only http:// and https:// proxies"));
}

#[test]
fn the_bench_never_proxies_its_own_server_and_says_when_everything_failed() {
    let dead_proxy = format!("http://127.0.0.1:{}", closed_port());
    let bench = [
        "bench",
        "--requests",
        "4",
        "--latency",
        "1ms",
        "--pools",
        "2",
        "--runs",
        "1",
    ];
    let output = poolfetch()
        .env("http_proxy", &dead_proxy)
        .args(bench)
        .args(["--engine", "threads,async", "--no-plot"])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let url = format!("http://127.0.0.1:{}/{{}}", closed_port());
    let output = poolfetch()
        .args(bench)
        .args(["--engine", "threads,async", "--no-plot", "--url", &url])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !stdout.contains("faster than"),
        "no winner among failures: {stdout}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("every request failed"), "{stderr}");
    assert!(stderr.contains("connect"), "{stderr}");
}

per_engine!(a_proxy_with_a_bad_port_is_a_usage_error);
/// A proxy URL whose port is out of range is a usage error before any request, on both
/// engines, from `--proxy` and from the environment alike (it used to go direct on the async
/// engine and to port 80 on the thread engine).
fn a_proxy_with_a_bad_port_is_a_usage_error(engine: EngineKind) {
    let engine = engine.name();
    let server = server();
    let url = server.url("/todos/1");
    for bad in [
        "http://127.0.0.1:99999",
        "http://127.0.0.1:65536",
        "http://127.0.0.1:-1",
    ] {
        let output = fetch_with(&[], engine, &url, &["-x", bad]);
        assert_exit(&output, 2);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("port"), "{engine} {bad}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{engine} {bad}: {stderr}");
        assert!(output.stdout.is_empty(), "{engine} {bad}: no record");
        let output = fetch_with(&[("http_proxy", bad)], engine, &url, &[]);
        assert_exit(&output, 2);
    }
    assert_eq!(server.stats().requests, 0, "{engine}: nothing was sent");
}
