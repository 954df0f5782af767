//! Helpers shared by the integration tests: an in-process server and small record queries.
#![allow(dead_code, unused_macros, unused_imports)]

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::process::{Command, Output};

use poolfetch::server::{Server, ServerConfig, TlsIdentity};
use poolfetch::{ErrorKind, Record, Resolve};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// The `poolfetch` binary of this build, as a plain command (to spawn, signal, pipe).
pub fn poolfetch() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("poolfetch"))
}

/// `output` ended with exit code `code`; if not, the failure shows its stderr.
#[track_caller]
pub fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A fresh embedded server on 127.0.0.1, port 0.
pub fn server() -> Server {
    Server::start(ServerConfig::default()).expect("the test server starts")
}

/// A loopback port nothing listens on: bound and never listened on, and kept bound for the
/// rest of the test process, so no other test's server can take it (connecting is refused).
pub fn closed_port() -> u16 {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .expect("bind");
    let port = socket.local_addr().expect("addr").port();
    std::mem::forget(socket);
    port
}

/// The records of a `fetch` output (JSON Lines); every line must be a whole record.
pub fn records(output: &[u8]) -> Vec<Record> {
    String::from_utf8_lossy(output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("every line is a record"))
        .collect()
}

/// The records of an output file.
pub fn read_records(path: &std::path::Path) -> Vec<Record> {
    records(&std::fs::read(path).expect("the output file"))
}

/// The error kind of a record, if it failed.
pub fn kind(record: &Record) -> Option<ErrorKind> {
    record.error.as_ref().map(|e| e.kind)
}

/// Indices of records, in the order given.
pub fn indices(records: &[Record]) -> Vec<u64> {
    records.iter().map(|r| r.index).collect()
}

/// A resolver that answers `localhost` and fails every other name, so the `dns` path is
/// reached without any lookup leaving the machine (IP literals never reach a resolver).
#[derive(Debug)]
pub struct LoopbackOnlyResolver;

impl Resolve for LoopbackOnlyResolver {
    fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        match host {
            "localhost" => Ok(vec![SocketAddr::new(IpAddr::from([127, 0, 0, 1]), port)]),
            other => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{other} is not resolved in tests"),
            )),
        }
    }
}

/// A fresh CA (PEM) and an HTTPS server whose certificate it signed, for 127.0.0.1.
pub fn https_server() -> (Server, String) {
    https_server_speaking(true)
}

/// [`https_server`], offering h2 by ALPN or not.
pub fn https_server_speaking(http2: bool) -> (Server, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "poolfetch test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    let server = Server::start(ServerConfig {
        tls: Some(TlsIdentity {
            cert_chain_pem: leaf.pem(),
            key_pem: leaf_key.serialize_pem(),
        }),
        http2,
        ..ServerConfig::default()
    })
    .unwrap();
    (server, ca_cert.pem())
}

/// `per_engine!(name)` runs `fn name(engine: EngineKind)` as two tests, `name::threads` and
/// `name::async_engine`, so a failure on one engine never hides the other.
macro_rules! per_engine {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn threads() {
                super::$name(poolfetch::EngineKind::Threads);
            }

            #[test]
            fn async_engine() {
                super::$name(poolfetch::EngineKind::Async);
            }
        }
    )+};
}
pub(crate) use per_engine;

/// Send signal `number` to `child`, a process this test started.
pub fn signal(child: &std::process::Child, number: i32) {
    // SAFETY: kill(2) on a child we started, with a valid signal number.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, number) }, 0);
}

/// Wait for `child`, at most `limit` (a generous bound: a hung process fails the test instead
/// of hanging it); kill it and fail if it overstays. Its exit code and how long it took.
pub fn wait_bounded(
    child: &mut std::process::Child,
    limit: std::time::Duration,
) -> (i32, std::time::Duration) {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            return (status.code().unwrap_or(-1), started.elapsed());
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("poolfetch still ran {limit:?} later");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Make a FIFO at `path`.
pub fn mkfifo(path: &std::path::Path) {
    let c_path = std::ffi::CString::new(path.to_str().expect("a UTF-8 path")).expect("no NUL");
    // SAFETY: mkfifo(3) with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
}
