//! HTTPS against the embedded server with a CA and certificate generated at test time: the
//! built-in roots refuse it (`tls`), `--cacert` adds the CA, `--insecure` skips verification
//! and says so. Both engines.

use crate::common;

use common::per_engine;

use std::path::Path;

use assert_cmd::Command;
use common::{https_server, kind};
use poolfetch::{Config, EngineKind, ErrorKind, Fetcher};

fn write_ca(dir: &Path, pem: &str) -> std::path::PathBuf {
    let path = dir.join("ca.pem");
    std::fs::write(&path, pem).unwrap();
    path
}

per_engine!(verification_is_on_by_default_and_a_cacert_adds_a_trusted_ca);
fn verification_is_on_by_default_and_a_cacert_adds_a_trusted_ca(engine: EngineKind) {
    let (server, ca_pem) = https_server();
    let dir = tempfile::tempdir().unwrap();
    let ca = write_ca(dir.path(), &ca_pem);
    let url = server.url("/todos/9");
    assert!(url.starts_with("https://"));
    let default = Fetcher::new(
        Config::builder()
            .engine(engine)
            .build()
            .expect("a valid config"),
    )
    .unwrap();
    let records = default.fetch_all([url.clone()]);
    assert_eq!(
        kind(&records[0]),
        Some(ErrorKind::Tls),
        "{engine:?}: {:?}",
        records[0].error
    );

    let trusting = Fetcher::new(
        Config::builder()
            .engine(engine)
            .cacert(Some(ca.clone()))
            .build()
            .expect("a valid config"),
    )
    .unwrap();
    let records = trusting.fetch_all([url.clone()]);
    assert!(records[0].ok, "{engine:?}: {:?}", records[0].error);
    assert_eq!(records[0].body.as_ref().unwrap()["id"], 9);

    let insecure = Fetcher::new(
        Config::builder()
            .engine(engine)
            .insecure(true)
            .build()
            .expect("a valid config"),
    )
    .unwrap();
    assert!(insecure.fetch_all([url.clone()])[0].ok, "{engine:?}");
}

#[test]
fn a_bad_cacert_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate").unwrap();
    for path in [empty, dir.path().join("missing.pem")] {
        let result = Fetcher::new(
            Config::builder()
                .cacert(Some(path.clone()))
                .build()
                .expect("a valid config"),
        );
        assert!(result.is_err(), "{}", path.display());
        let output = Command::cargo_bin("poolfetch")
            .unwrap()
            .args(["fetch", "--url", "https://127.0.0.1:9/", "--cacert"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2));
        assert_eq!(String::from_utf8_lossy(&output.stderr).lines().count(), 1);
    }
}

#[test]
fn the_cli_trusts_a_cacert_and_flags_insecure_runs() {
    let (server, ca_pem) = https_server();
    let dir = tempfile::tempdir().unwrap();
    let ca = write_ca(dir.path(), &ca_pem);
    let url = server.url("/todos/2");
    let run = |extra: &[&str]| {
        Command::cargo_bin("poolfetch")
            .unwrap()
            .args(["fetch", "--url", &url])
            .args(extra)
            .output()
            .unwrap()
    };
    assert_eq!(run(&[]).status.code(), Some(1), "unknown CA: not ok");
    let trusted = run(&["--cacert", ca.to_str().unwrap()]);
    assert_eq!(trusted.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&trusted.stderr).contains("NOT verified"));
    let insecure = run(&["--insecure"]);
    assert_eq!(insecure.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&insecure.stderr).contains("TLS certificates NOT verified"));
}

/// A CA trusted only through `SSL_CERT_FILE`, or only through `SSL_CERT_DIR`, as curl and
/// requests honour them: ok with it, `tls` without (and the summary names the CAs the
/// certificate was checked against), on both engines. A variable naming nothing readable
/// fails https:// URLs as `tls`, and only them.
#[test]
fn ssl_cert_file_and_ssl_cert_dir_are_the_trust_store_when_set() {
    let (server, ca_pem) = https_server();
    let (_other_server, other_pem) = https_server();
    let dir = tempfile::tempdir().unwrap();
    let ca = write_ca(dir.path(), &ca_pem);
    let other = dir.path().join("other.pem");
    std::fs::write(&other, other_pem).unwrap();
    let ca_dir = dir.path().join("certs");
    std::fs::create_dir(&ca_dir).unwrap();
    std::fs::write(ca_dir.join("test-ca.pem"), &ca_pem).unwrap();
    let url = server.url("/todos/3");
    let plain_server = common::server();
    for engine in ["threads", "async"] {
        let run = |env: &[(&str, &std::path::Path)]| {
            let mut command = Command::cargo_bin("poolfetch").unwrap();
            command
                .env_remove("SSL_CERT_FILE")
                .env_remove("SSL_CERT_DIR")
                .args(["fetch", "--engine", engine, "--url", &url]);
            for (name, value) in env {
                command.env(name, value);
            }
            command.output().unwrap()
        };
        let stderr =
            |output: &std::process::Output| String::from_utf8_lossy(&output.stderr).to_string();
        let with_file = run(&[("SSL_CERT_FILE", &ca)]);
        assert_eq!(
            with_file.status.code(),
            Some(0),
            "{engine}: {}",
            stderr(&with_file)
        );
        let with_dir = run(&[("SSL_CERT_DIR", &ca_dir)]);
        assert_eq!(
            with_dir.status.code(),
            Some(0),
            "{engine}: {}",
            stderr(&with_dir)
        );
        let without = run(&[]);
        assert_eq!(without.status.code(), Some(1), "{engine}");
        assert!(
            stderr(&without).contains("checked against the system store"),
            "{engine}: {}",
            stderr(&without)
        );
        let another = run(&[("SSL_CERT_FILE", &other)]);
        assert_eq!(another.status.code(), Some(1), "{engine}");
        assert!(
            stderr(&another).contains("checked against SSL_CERT_FILE="),
            "{engine}: {}",
            stderr(&another)
        );
        // A trust file that cannot be read, or must not be (a FIFO would hang the run,
        // /dev/zero would fill memory): https:// URLs fail as `tls`, the summary says why,
        // and an http:// URL is fetched all the same, as curl does.
        let fifo = dir.path().join("fifo.pem");
        if !fifo.exists() {
            common::mkfifo(&fifo);
        }
        let plain = plain_server.url("/todos/4");
        for (bad, why) in [
            (dir.path().join("missing.pem"), "cannot be read"),
            (fifo.clone(), "not a regular file"),
            (std::path::PathBuf::from("/dev/zero"), "not a regular file"),
        ] {
            let output = Command::cargo_bin("poolfetch")
                .unwrap()
                .env_remove("SSL_CERT_DIR")
                .env("SSL_CERT_FILE", &bad)
                .args(["fetch", "--engine", engine, "--url", &url, "--url", &plain])
                .timeout(std::time::Duration::from_secs(60))
                .output()
                .unwrap();
            assert_eq!(
                output.status.code(),
                Some(1),
                "{engine} {bad:?}: {}",
                stderr(&output)
            );
            let found = common::records(&output.stdout);
            assert_eq!(
                found[0].error.as_ref().map(|e| e.kind),
                Some(poolfetch::ErrorKind::Tls)
            );
            assert!(found[1].ok, "{engine} {bad:?}: {:?}", found[1]);
            assert!(
                stderr(&output).contains(why),
                "{engine} {bad:?}: {}",
                stderr(&output)
            );
        }
    }
}

per_engine!(a_client_certificate_is_shown_to_a_server_that_asks);

/// `--cert` (the key in the same file, or in `--key`'s) gets through a server that requires a
/// client certificate; without one the record is `tls`, and a bad pair is refused up front.
fn a_client_certificate_is_shown_to_a_server_that_asks(engine: EngineKind) {
    let (client_ca, cert, key) = common::client_certificate();
    let (server, ca_pem) = common::https_server_with(true, Some(client_ca));
    let dir = tempfile::tempdir().unwrap();
    let ca = write_ca(dir.path(), &ca_pem);
    let (both, cert_only, key_only) = (
        dir.path().join("both.pem"),
        dir.path().join("cert.pem"),
        dir.path().join("key.pem"),
    );
    std::fs::write(&both, format!("{cert}{key}")).unwrap();
    std::fs::write(&cert_only, &cert).unwrap();
    std::fs::write(&key_only, &key).unwrap();
    let url = server.url("/todos/3");
    let run = |flags: &[&std::ffi::OsStr]| {
        Command::cargo_bin("poolfetch")
            .unwrap()
            .args([
                "fetch",
                "-q",
                "--body",
                "none",
                "--engine",
                engine.name(),
                "--cacert",
            ])
            .arg(&ca)
            .args(flags)
            .arg(&url)
            .output()
            .unwrap()
    };
    let records = |output: &std::process::Output| common::records(&output.stdout);
    let without = run(&[]);
    common::assert_exit(&without, 1);
    assert_eq!(
        kind(&records(&without)[0]),
        Some(ErrorKind::Tls),
        "{engine:?}: {:?}",
        records(&without)[0].error
    );
    for flags in [
        vec![std::ffi::OsStr::new("--cert"), both.as_os_str()],
        vec![
            std::ffi::OsStr::new("-E"),
            cert_only.as_os_str(),
            "--key".as_ref(),
            key_only.as_os_str(),
        ],
    ] {
        let with = run(&flags);
        common::assert_exit(&with, 0);
        assert_eq!(records(&with)[0].status, Some(200));
    }
    let no_key = run(&["--cert".as_ref(), cert_only.as_os_str()]);
    common::assert_exit(&no_key, 2);
    let stderr = String::from_utf8_lossy(&no_key.stderr);
    assert!(
        stderr.contains("no PEM private key") && stderr.contains("--key"),
        "{stderr}"
    );
}
