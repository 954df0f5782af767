//! One shared session (`requests.Session`): every worker reuses keep-alive connections, so
//! 200 requests on a pool of 20 open 20 TCP connections, not 200.
//!
//! `cargo run --example shared_session`

use poolfetch::server::{Server, ServerConfig};
use poolfetch::{Config, Fetcher};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::start(ServerConfig::default())?;
    let fetcher = Fetcher::new(Config::builder().pool(20).build().expect("a valid config"))?;
    let records =
        fetcher.fetch_all((0..200).map(|i| server.url(&format!("/todos/{}", i % 200 + 1))));
    let stats = server.stats();
    println!(
        "{} records, {} requests served over {} TCP connections",
        records.len(),
        stats.requests,
        stats.connections
    );
    Ok(())
}
