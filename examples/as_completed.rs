//! `as_completed`: records as soon as each request finishes, not in input order.
//!
//! `cargo run --example as_completed`

use poolfetch::server::{Server, ServerConfig};
use poolfetch::{Config, Fetcher, Order, RunOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::start(ServerConfig::default())?;
    let fetcher = Fetcher::new(Config::default())?;
    let urls = (0..5).map(|i| server.url(&format!("/delay/{}", (5 - i) * 100)));
    // A streaming iterator: each line prints as its request completes.
    let completion = RunOptions::default().order(Order::Completion);
    for record in fetcher.stream_with(urls, completion) {
        println!(
            "index {} done at {:>5.0} ms",
            record.index, record.finished_ms
        );
    }
    Ok(())
}
