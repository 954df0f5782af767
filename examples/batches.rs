//! Gather per batch of 10 (a common ThreadPoolExecutor script shape), beside the plain pool:
//! batching makes workers wait for the slowest request of each batch.
//!
//! `cargo run --example batches`

use std::time::Instant;

use poolfetch::server::{Server, ServerConfig};
use poolfetch::{Config, Fetcher, RunOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::start(ServerConfig::default())?;
    // Every tenth request is slow.
    let urls: Vec<String> = (0..50)
        .map(|i| server.url(&format!("/delay/{}", if i % 10 == 9 { 300 } else { 50 })))
        .collect();
    // One fetcher for both runs: the batch size is the run's, not the fetcher's.
    let fetcher = Fetcher::new(Config::default())?;
    for batch_size in [None, Some(10)] {
        let started = Instant::now();
        let options = RunOptions::default().batch_size(batch_size);
        let records: Vec<_> = fetcher.stream_with(urls.clone(), options).collect();
        let label = match batch_size {
            Some(size) => format!("gather per batch of {size}"),
            None => "one gather over all".to_string(),
        };
        println!(
            "{label}: {} records in {:.2} s",
            records.len(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
