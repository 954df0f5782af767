//! `gather` keeps input order even when later requests finish first.
//!
//! `cargo run --example ordered_results`

use poolfetch::server::{Server, ServerConfig};
use poolfetch::{Config, Fetcher};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::start(ServerConfig::default())?;
    let fetcher = Fetcher::new(Config::default())?;
    // Descending delays: request 0 is the slowest, request 4 the fastest.
    let urls = (0..5).map(|i| server.url(&format!("/delay/{}", (5 - i) * 100)));
    for record in fetcher.fetch_all(urls) {
        println!(
            "index {} finished at {:>5.0} ms",
            record.index, record.finished_ms
        );
    }
    Ok(())
}
