//! Helpers shared by the integration tests: an in-process server and small record queries.
#![allow(dead_code)]

use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener};

use poolfetch::server::{Server, ServerConfig};
use poolfetch::{ErrorKind, Record, Resolve};

/// A fresh embedded server on 127.0.0.1, port 0.
pub fn server() -> Server {
    Server::start(ServerConfig::default()).expect("the test server starts")
}

/// A loopback port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
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
