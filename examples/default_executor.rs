//! The seed pattern: `run_in_executor(None, requests.get, url)` on a default executor of 5
//! threads, then `gather`. Twenty requests of 100 ms finish in four waves of five.
//!
//! `cargo run --example default_executor`

use std::time::Duration;

use poolfetch::server::{Server, ServerConfig};
use poolfetch::{Config, Fetcher};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::start(ServerConfig {
        latency: Duration::from_millis(100),
        ..ServerConfig::default()
    })?;
    let fetcher = Fetcher::new(Config::default())?; // pool of 5, input order
    let urls = (1..=20).map(|i| server.url(&format!("/todos/{i}")));
    for record in fetcher.fetch_all(urls) {
        let worker = record.worker.map_or("-".to_string(), |w| w.to_string());
        println!(
            "#{:<2} finished at {:>6.1} ms on worker {worker}",
            record.index, record.finished_ms
        );
    }
    Ok(())
}
