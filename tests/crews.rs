//! A large thread pool starts no more worker threads than its run has inputs. (Its own test
//! binary: it counts the process's threads.)

mod common;

use common::server;
use poolfetch::{Config, Fetcher};

/// Threads of this process named as poolfetch's workers (`poolfetch-worker-N`, cut to 15
/// bytes by the kernel).
fn worker_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("poolfetch-worke"))
        .count()
}

#[test]
fn a_huge_pool_for_three_urls_starts_three_threads() {
    let server = server();
    let baseline = worker_threads();
    let config = Config::builder().pool(100_000).build().unwrap();
    let fetcher = Fetcher::new(config).unwrap();
    let urls: Vec<String> = (1..=3)
        .map(|i| server.url(&format!("/delay/200?n={i}")))
        .collect();
    let records = fetcher.fetch_all(urls);
    assert!(records.iter().all(|r| r.ok));
    let started = worker_threads() - baseline;
    assert!(started <= 3, "{started} threads for 3 inputs");
    assert!(
        records.iter().all(|r| r.worker.is_some_and(|w| w < 3)),
        "{records:?}"
    );
}
