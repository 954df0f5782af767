//! Stream a large body to a file: never held in memory, written under a temporary name and
//! renamed when complete.
//!
//! `cargo run --release --example download_to_file`

use poolfetch::server::{Server, ServerConfig};
use poolfetch::{Config, Fetcher};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::start(ServerConfig::default())?;
    let dir = std::env::temp_dir().join("poolfetch-example-downloads");
    let fetcher = Fetcher::new(
        Config::builder()
            .output_dir(Some(dir.clone()))
            .build()
            .expect("a valid config"),
    )?;
    std::fs::create_dir_all(&dir)?;
    for record in fetcher.fetch_all([server.url("/bytes/104857600"), server.url("/bytes/1024")]) {
        let file = record.file.as_deref().unwrap_or("(not saved)");
        println!(
            "{} bytes -> {file} ({:.0} ms)",
            record.bytes, record.finished_ms
        );
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
