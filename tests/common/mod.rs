//! Helpers shared by the integration tests: an in-process server and small record queries.
#![allow(dead_code, unused_macros, unused_imports)]

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::process::{Command, Output};

use poolfetch::server::{Server, ServerConfig, TlsIdentity};
use poolfetch::{ErrorKind, Record, Resolve};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// Whether this test runs as root.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// `listen(2)` on `listener` again with a backlog of 0: its accept queue is full after one
/// connection, so the next connect never completes.
pub fn backlog_zero(listener: &std::net::TcpListener) {
    rustix::net::listen(listener, 0).expect("listen");
}

/// Say that a test could not run here, and why, as `SKIPPED: why` on the real stderr: the
/// test harness captures `eprintln!`, so a skip would otherwise pass in silence.
pub fn skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}

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
    https_server_with(http2, None)
}

/// A fresh CA: its certificate (PEM) and an issuer for leaves.
fn new_ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, name);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    (ca_cert.pem(), Issuer::new(ca_params, ca_key))
}

/// An HTTPS server (h2 by ALPN or not) and its CA (PEM); with `client_ca_pem`, it refuses a
/// client without a certificate that CA signed.
pub fn https_server_with(http2: bool, client_ca_pem: Option<String>) -> (Server, String) {
    let (ca_pem, issuer) = new_ca("poolfetch test CA");
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    let server = Server::start(ServerConfig {
        tls: Some(TlsIdentity {
            cert_chain_pem: leaf.pem(),
            key_pem: leaf_key.serialize_pem(),
            client_ca_pem,
        }),
        http2,
        ..ServerConfig::default()
    })
    .unwrap();
    (server, ca_pem)
}

/// A client CA (PEM), and a client certificate it signed with its key (both PEM).
pub fn client_certificate() -> (String, String, String) {
    let (ca_pem, issuer) = new_ca("poolfetch test client CA");
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "poolfetch test client");
    let cert = params.signed_by(&key, &issuer).unwrap();
    (ca_pem, cert.pem(), key.serialize_pem())
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
    let signal = rustix::process::Signal::from_named_raw(number).expect("a named signal");
    rustix::process::kill_process(rustix::process::Pid::from_child(child), signal)
        .expect("the child can be signalled");
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

/// Read `stream` to the end on a thread of its own (so a full pipe never blocks the child).
pub fn read_in_background(
    mut stream: impl std::io::Read + Send + 'static,
) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text);
        text
    })
}

/// Make a FIFO at `path`.
pub fn mkfifo(path: &std::path::Path) {
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        path,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .expect("mkfifo");
}

/// A SOCKS5 proxy on loopback for the tests (RFC 1928 CONNECT, RFC 1929 login): it never
/// resolves a name, it connects every name to 127.0.0.1 (so a test reaches any host name
/// without DNS), and it notes what it was asked.
pub struct SocksProxy {
    pub addr: SocketAddr,
    /// Each CONNECT target as asked: `name:port` or `ip:port`.
    pub asked: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl SocksProxy {
    /// Start one; with `login`, it accepts only that user name and password.
    pub fn start(login: Option<(&[u8], &[u8])>) -> SocksProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let login = login.map(|(u, p)| (u.to_vec(), p.to_vec()));
        let noted = std::sync::Arc::clone(&asked);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (noted, login) = (std::sync::Arc::clone(&noted), login.clone());
                std::thread::spawn(move || {
                    let _ = socks_session(client, &noted, login);
                });
            }
        });
        SocksProxy { addr, asked }
    }

    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

fn socks_session(
    mut client: std::net::TcpStream,
    asked: &std::sync::Mutex<Vec<String>>,
    login: Option<(Vec<u8>, Vec<u8>)>,
) -> io::Result<()> {
    use std::io::{Read, Write};
    client.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let read = |client: &mut std::net::TcpStream, n: usize| -> io::Result<Vec<u8>> {
        let mut bytes = vec![0; n];
        client.read_exact(&mut bytes)?;
        Ok(bytes)
    };
    let head = read(&mut client, 2)?;
    let methods = read(&mut client, usize::from(head[1]))?;
    let want = if login.is_some() { 2 } else { 0 };
    if !methods.contains(&want) {
        return client.write_all(&[5, 0xff]);
    }
    client.write_all(&[5, want])?;
    if let Some((user, password)) = login {
        let version_len = read(&mut client, 2)?;
        let given_user = read(&mut client, usize::from(version_len[1]))?;
        let password_len = read(&mut client, 1)?;
        let given_password = read(&mut client, usize::from(password_len[0]))?;
        let ok = given_user == user && given_password == password;
        client.write_all(&[1, if ok { 0 } else { 1 }])?;
        if !ok {
            return Ok(());
        }
    }
    let request = read(&mut client, 4)?;
    let (target, is_name) = match request[3] {
        1 => {
            let ip = read(&mut client, 4)?;
            (
                IpAddr::from([ip[0], ip[1], ip[2], ip[3]]).to_string(),
                false,
            )
        }
        4 => {
            let ip: [u8; 16] = read(&mut client, 16)?.try_into().unwrap();
            (format!("[{}]", IpAddr::from(ip)), false)
        }
        _ => {
            let len = read(&mut client, 1)?;
            let name = read(&mut client, usize::from(len[0]))?;
            (String::from_utf8_lossy(&name).into_owned(), true)
        }
    };
    let port_bytes = read(&mut client, 2)?;
    let port_number = u16::from_be_bytes([port_bytes[0], port_bytes[1]]);
    asked
        .lock()
        .unwrap()
        .push(format!("{target}:{port_number}"));
    // Every name is 127.0.0.1; an address is taken as it is.
    let connect_to = if is_name {
        SocketAddr::from(([127, 0, 0, 1], port_number))
    } else {
        format!("{target}:{port_number}").parse().unwrap()
    };
    let Ok(upstream) = std::net::TcpStream::connect(connect_to) else {
        return client.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]);
    };
    client.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0])?;
    client.set_read_timeout(None)?;
    let (mut up_read, mut client_read) = (upstream.try_clone()?, client.try_clone()?);
    let (mut up_write, mut client_write) = (upstream, client);
    std::thread::spawn(move || {
        let _ = io::copy(&mut client_read, &mut up_write);
        let _ = up_write.shutdown(std::net::Shutdown::Write);
    });
    let _ = io::copy(&mut up_read, &mut client_write);
    let _ = client_write.shutdown(std::net::Shutdown::Write);
    Ok(())
}

/// A TCP relay on loopback in front of `upstream` that keeps every byte a client sent
/// through it: to check what went on the wire (as a direct hop, or as an HTTP proxy in front
/// of the embedded server, which answers an absolute-form request by its path).
pub struct Relay {
    pub addr: SocketAddr,
    seen: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Relay {
    pub fn start(upstream: SocketAddr) -> Relay {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let noted = std::sync::Arc::clone(&seen);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(upstream) = std::net::TcpStream::connect(upstream) else {
                    continue;
                };
                let noted = std::sync::Arc::clone(&noted);
                let (mut up_read, mut client_write) =
                    (upstream.try_clone().unwrap(), client.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = io::copy(&mut up_read, &mut client_write);
                    let _ = client_write.shutdown(std::net::Shutdown::Write);
                });
                std::thread::spawn(move || {
                    let (mut client, mut upstream) = (client, upstream);
                    let mut buffer = [0u8; 16 * 1024];
                    while let Ok(n @ 1..) = client.read(&mut buffer) {
                        noted.lock().unwrap().extend_from_slice(&buffer[..n]);
                        if upstream.write_all(&buffer[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = upstream.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        Relay { addr, seen }
    }

    /// Every byte clients sent so far.
    pub fn seen(&self) -> Vec<u8> {
        self.seen.lock().unwrap().clone()
    }
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// An HTTP/1.1 server on loopback that answers each request by hand: `answer` gets the
/// request head (up to the blank line) and writes the whole response, bytes as it likes;
/// then the connection closes. For heads and bodies the embedded server will not produce.
pub struct Scripted {
    pub addr: SocketAddr,
}

impl Scripted {
    pub fn start(
        answer: impl Fn(&str, &mut std::net::TcpStream) + Send + Sync + 'static,
    ) -> Scripted {
        use std::io::Read;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let answer = std::sync::Arc::new(answer);
        std::thread::spawn(move || {
            for mut client in listener.incoming().flatten() {
                let answer = std::sync::Arc::clone(&answer);
                std::thread::spawn(move || {
                    let _ = client.set_read_timeout(Some(std::time::Duration::from_secs(10)));
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        match client.read(&mut byte) {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    answer(&String::from_utf8_lossy(&head), &mut client);
                    let _ = client.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        Scripted { addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// `bytes` gzip-encoded.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}
