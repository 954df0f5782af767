//! Proxies, as curl has them: the environment is honoured by default, `--proxy` overrides it,
//! `--noproxy` (or `no_proxy`) exempts hosts, errors through a proxy name it, and the bench's
//! own loopback server is never proxied. Both engines; the "proxy" is the embedded server,
//! which answers an absolute-form request by its path.

mod common;

use assert_cmd::Command;
use common::{closed_port, server};
use poolfetch::{ErrorKind, Record};

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

fn records(stdout: &[u8]) -> Vec<Record> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a record"))
        .collect()
}

#[test]
fn the_environment_proxy_is_used_named_in_errors_and_bypassed_on_request() {
    let server = server();
    let dead_proxy = format!("http://127.0.0.1:{}", closed_port());
    for engine in ["threads", "async"] {
        let output = poolfetch()
            .env("http_proxy", &dead_proxy)
            .args([
                "fetch",
                "-q",
                "--engine",
                engine,
                "--url",
                &server.url("/todos/1"),
            ])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{engine}");
        let record = &records(&output.stdout)[0];
        let error = record.error.as_ref().unwrap();
        assert_eq!(error.kind, ErrorKind::Connect, "{engine}: {error:?}");
        assert!(
            error.message.contains(&dead_proxy),
            "{engine}: {}",
            error.message
        );

        for bypass in [["--noproxy", "*"], ["--noproxy", "127.0.0.1"]] {
            let output = poolfetch()
                .env("http_proxy", &dead_proxy)
                .args([
                    "fetch",
                    "-q",
                    "--engine",
                    engine,
                    "--url",
                    &server.url("/todos/1"),
                ])
                .args(bypass)
                .output()
                .unwrap();
            assert_eq!(output.status.code(), Some(0), "{engine} {bypass:?}");
        }
        let output = poolfetch()
            .env("http_proxy", &dead_proxy)
            .env("no_proxy", "localhost,127.0.0.1")
            .args([
                "fetch",
                "-q",
                "--engine",
                engine,
                "--url",
                &server.url("/todos/1"),
            ])
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{engine}: no_proxy from the environment"
        );
    }
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
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
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
