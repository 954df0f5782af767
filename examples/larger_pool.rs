//! A ThreadPoolExecutor of 20: the same 100 requests take a fifth of the time of a pool of 5.
//!
//! `cargo run --example larger_pool`

use std::time::{Duration, Instant};

use poolfetch::server::{Server, ServerConfig};
use poolfetch::{Config, Fetcher};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::start(ServerConfig {
        latency: Duration::from_millis(100),
        ..ServerConfig::default()
    })?;
    for pool in [5, 20] {
        let fetcher = Fetcher::new(
            Config::builder()
                .pool(pool)
                .build()
                .expect("a valid config"),
        )?;
        let started = Instant::now();
        let records = fetcher.fetch_all((1..=100).map(|i| server.url(&format!("/todos/{i}"))));
        let ok = records.iter().filter(|r| r.ok).count();
        println!(
            "pool {pool:>2}: {ok}/100 ok in {:.2} s (ideal {:.1} s)",
            started.elapsed().as_secs_f64(),
            (100 / pool) as f64 * 0.1
        );
    }
    Ok(())
}
