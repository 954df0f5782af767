//! A large thread pool starts no more threads than its run has inputs. (Its own test binary:
//! it counts the process's threads.)

mod common;

use common::server;
use poolfetch::bench::process_threads;
use poolfetch::{Config, Fetcher};

#[test]
fn a_huge_pool_for_three_urls_starts_three_threads() {
    let server = server();
    let baseline = process_threads().expect("/proc/self/status");
    let config = Config::builder().pool(100_000).build().unwrap();
    let fetcher = Fetcher::new(config).unwrap();
    let urls: Vec<String> = (1..=3)
        .map(|i| server.url(&format!("/delay/200?n={i}")))
        .collect();
    let records = fetcher.fetch_all(urls);
    assert!(records.iter().all(|r| r.ok));
    let started = process_threads().unwrap() - baseline;
    assert!(started <= 3, "{started} threads for 3 inputs");
    assert!(
        records.iter().all(|r| r.worker.is_some_and(|w| w < 3)),
        "{records:?}"
    );
}
