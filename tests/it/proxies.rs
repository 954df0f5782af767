//! Proxies, as curl has them: the environment is honoured by default, `--proxy` overrides it,
//! `--noproxy` (or `no_proxy`) exempts hosts, errors through a proxy name it, and the bench's
//! own loopback server is never proxied. Both engines; the "proxy" is the embedded server,
//! which answers an absolute-form request by its path.

use crate::common;

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
            "socks4://127.0.0.1:1",
            "--url",
            "http://h/",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("only http://, https://, socks5:// and socks5h:// proxies")
    );
}

per_engine!(a_socks5h_proxy_resolves_names_and_a_socks5_one_gets_addresses);
/// `socks5h://` hands the host name to the proxy (this test's proxy connects every name to
/// 127.0.0.1, so nothing resolves here); `socks5://` resolves it here and hands over the
/// address. Both from `--proxy` and from `all_proxy`, over http and https, with a login when
/// the proxy asks; the record's `remote_addr` is the proxy's.
fn a_socks5h_proxy_resolves_names_and_a_socks5_one_gets_addresses(engine: EngineKind) {
    let engine = engine.name();
    let plain = server();
    let (secure, ca_pem) = common::https_server_speaking(false);
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let port = |url: &str| {
        url.rsplit(':')
            .next()
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_string()
    };
    let (plain_port, secure_port) = (port(&plain.url("/")), port(&secure.url("/")));

    let proxy = common::SocksProxy::start(Some((b"al ice", b"p@ss")));
    let proxy_url = format!("socks5h://al%20ice:p%40ss@{}", proxy.addr);
    let unresolvable = format!("http://poolfetch-socks.invalid:{plain_port}/todos/4");
    let by_name = format!("https://localhost:{secure_port}/todos/5");
    let cacert = ["--cacert", ca.to_str().unwrap()];
    for how in [vec![("all_proxy", proxy_url.as_str())], vec![]] {
        let mut extra = cacert.to_vec();
        extra.extend(["--url", &by_name]);
        if how.is_empty() {
            extra.extend(["--proxy", &proxy_url]);
        }
        let output = fetch_with(&how, engine, &unresolvable, &extra);
        assert_exit(&output, 0);
        let found = records(&output.stdout);
        assert_eq!(found[0].body.as_ref().unwrap()["id"], 4, "{engine}");
        assert_eq!(found[1].body.as_ref().unwrap()["id"], 5, "{engine}");
        let proxy_addr = proxy.addr.to_string();
        for record in &found {
            assert_eq!(record.remote_addr.as_deref(), Some(proxy_addr.as_str()));
            assert!(record.connect_ms.is_some(), "{record:?}");
        }
    }
    let expected = vec![
        format!("poolfetch-socks.invalid:{plain_port}"),
        format!("localhost:{secure_port}"),
    ];
    let mut asked = proxy.asked();
    asked.sort();
    let mut want = [expected.clone(), expected].concat();
    want.sort();
    assert_eq!(
        asked, want,
        "each of the two runs asked for each target once"
    );

    // socks5://: the name is resolved here (localhost), the proxy gets an address.
    let open = common::SocksProxy::start(None);
    let local = format!("socks5://{}", open.addr);
    let output = fetch_with(
        &[],
        engine,
        &format!("http://localhost:{plain_port}/todos/6"),
        &["--proxy", &local],
    );
    assert_exit(&output, 0);
    let asked = open.asked();
    assert_eq!(asked.len(), 1);
    assert!(
        asked[0] == format!("127.0.0.1:{plain_port}") || asked[0] == format!("[::1]:{plain_port}"),
        "{asked:?}"
    );

    // A proxy that wants a login nobody gave: a connect error that says so, through the proxy.
    let without_login = format!("socks5h://{}", proxy.addr);
    let output = fetch_with(&[], engine, &unresolvable, &["--proxy", &without_login]);
    assert_exit(&output, 1);
    let error = records(&output.stdout)[0].error.clone().unwrap();
    assert_eq!(error.kind, ErrorKind::Connect, "{engine}: {error:?}");
    assert!(
        error.message.contains("wants a login"),
        "{engine}: {}",
        error.message
    );
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

/// `Basic` of `user:password` as bytes.
fn basic(user: &[u8], password: &[u8]) -> String {
    use base64::Engine;
    let joined = [user, b":", password].concat();
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(joined)
    )
}

/// A URL's `user:password@` goes out as `Authorization: Basic` of the percent-decoded bytes
/// on every engine and HTTP version (curl's rule), and never in the authority: not in `Host`,
/// not in HTTP/2's `:authority`, not in a request line to a proxy.
#[test]
fn url_credentials_are_basic_on_every_engine_and_never_in_the_authority() {
    let server = server();
    let relay = common::Relay::start(server.addr());
    let want = basic(b"al@ice", b"S3CRET\xff");
    let secret = b"S3CRET";
    for (engine, version) in [
        ("threads", None),
        ("async", None),
        ("async", Some("--http2-prior-knowledge")),
    ] {
        for through_proxy in [false, true] {
            let (url, mut extra) = if through_proxy {
                let url = format!("http://al%40ice:S3CRET%FF@{}/echo", server.addr());
                (
                    url,
                    vec!["--proxy".to_string(), format!("http://{}", relay.addr)],
                )
            } else {
                let url = format!("http://al%40ice:S3CRET%FF@{}/echo", relay.addr);
                (url, vec![])
            };
            if through_proxy && version.is_some() {
                continue; // h2c is never spoken to an HTTP proxy
            }
            extra.extend(version.map(str::to_owned));
            let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
            let output = fetch_with(&[], engine, &url, &extra);
            let context = format!("{engine} {version:?} proxy={through_proxy}");
            assert_exit(&output, 0);
            let record = &records(&output.stdout)[0];
            let echo = record.body.as_ref().expect("the echo");
            assert_eq!(echo["headers"]["authorization"], want, "{context}");
            assert!(
                !echo["uri"].as_str().unwrap().contains("S3CRET"),
                "{context}: {}",
                echo["uri"]
            );
            assert!(!echo.to_string().contains("al%40ice"), "{context}: {echo}");
            assert!(
                !common::contains(&relay.seen(), secret),
                "{context}: the password crossed the wire"
            );
            assert!(!record.url.contains("S3CRET"), "{context}: {}", record.url);
        }
    }
    // A user's own Authorization header wins over the URL's.
    let url = format!("http://u:p@{}/echo", server.addr());
    for engine in ["threads", "async"] {
        let output = fetch_with(&[], engine, &url, &["-H", "Authorization: Bearer t"]);
        assert_exit(&output, 0);
        let echo = records(&output.stdout)[0].body.clone().unwrap();
        assert_eq!(echo["headers"]["authorization"], "Bearer t", "{engine}");
    }
}

// A SOCKS5 login is the proxy URL's percent-decoded bytes on both engines: an empty user
// name with a password logs in, and `%FF` is the byte 0xFF.
per_engine!(socks_logins_are_the_same_bytes_on_both_engines);
fn socks_logins_are_the_same_bytes_on_both_engines(engine: EngineKind) {
    let engine = engine.name();
    let server = server();
    let url = server.url("/todos/3");
    for (user, password, written) in [
        (&b""[..], &b"pw"[..], "socks5://:pw@"),
        (b"u", b"p\xff:", "socks5://u:p%FF%3A@"),
    ] {
        let proxy = common::SocksProxy::start(Some((user, password)));
        let proxy_url = format!("{written}{}", proxy.addr);
        let output = fetch_with(&[], engine, &url, &["--proxy", &proxy_url]);
        assert_exit(&output, 0);
        assert_eq!(proxy.asked().len(), 1, "{engine} {written}");
    }
}

// A SOCKS5 proxy that answers a byte at a time cannot stretch the handshake past
// `--connect-timeout` on either engine.
per_engine!(a_dripping_socks_proxy_is_bounded_by_the_connect_timeout);
fn a_dripping_socks_proxy_is_bounded_by_the_connect_timeout(engine: EngineKind) {
    use std::io::{Read, Write};
    let engine = engine.name();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut client in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut greeting = [0u8; 3];
                let _ = client.read_exact(&mut greeting);
                // Method chosen, then a CONNECT reply that never ends: a byte every 400 ms.
                for byte in [5u8, 0, 5, 0, 0, 1, 127, 0, 0, 1].iter().cycle().take(60) {
                    std::thread::sleep(std::time::Duration::from_millis(400));
                    if client.write_all(&[*byte]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    let proxy = format!("socks5h://{addr}");
    let started = std::time::Instant::now();
    let output = fetch_with(
        &[],
        engine,
        "http://poolfetch-drip.invalid/",
        &[
            "--proxy",
            &proxy,
            "--connect-timeout",
            "1s",
            "--timeout",
            "20s",
        ],
    );
    assert_exit(&output, 1);
    let record = &records(&output.stdout)[0];
    assert_eq!(
        record.error.as_ref().map(|e| e.kind),
        Some(ErrorKind::Timeout),
        "{engine}: {record:?}"
    );
    // Bound, not speed: the handshake would take 24 s; 1 s was asked.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{engine}: {:?}",
        started.elapsed()
    );
}
