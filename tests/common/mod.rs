//! Helpers shared by the integration tests: an in-process server and small record queries.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr, TcpListener};

use poolfetch::server::{Server, ServerConfig};
use poolfetch::{ErrorKind, Record};
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

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

/// A resolver that answers IP literals and `localhost` and fails every other name, so the
/// `dns` path is reached without any lookup leaving the machine.
#[derive(Debug)]
pub struct LoopbackOnlyResolver;

impl Resolver for LoopbackOnlyResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        _config: &ureq::config::Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().unwrap_or("").trim_matches(['[', ']']);
        let port = uri.port_u16().unwrap_or(80);
        let ip: IpAddr = match host {
            "localhost" => IpAddr::from([127, 0, 0, 1]),
            other => other.parse().map_err(|_| ureq::Error::HostNotFound)?,
        };
        let mut addrs = self.empty();
        addrs.push(SocketAddr::new(ip, port));
        Ok(addrs)
    }
}
