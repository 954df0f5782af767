//! No thread leaks: after fetchers of both engines run through a fault mix and are dropped,
//! the process's thread count returns to its baseline. (Its own test binary, so no other
//! test's threads are counted.)

mod common;

use std::time::{Duration, Instant};

use common::{closed_port, server};
use poolfetch::RetryPolicy;
use poolfetch::bench::process_threads;
use poolfetch::{Config, EngineKind, Fetcher};

#[test]
fn thread_count_returns_to_baseline_after_faults() {
    let server = server();
    let baseline = process_threads().expect("/proc/self/status");
    // 12: one plain rayon pool; 40: crews of small rayon pools started on demand.
    for (engine, pool) in [
        (EngineKind::Threads, 12),
        (EngineKind::Threads, 40),
        (EngineKind::Async, 12),
    ] {
        let fetcher = Fetcher::new(
            Config::builder()
                .engine(engine)
                .pool(pool)
                .timeout(Duration::from_millis(300))
                .retry(RetryPolicy {
                    retries: 1,
                    backoff: Duration::from_millis(1),
                    ..RetryPolicy::default()
                })
                .build()
                .expect("a valid config"),
        )
        .unwrap();
        let mut urls = vec![
            server.fault_url("/reset-before-headers"),
            server.fault_url("/malformed-status"),
            server.fault_url("/truncated-chunked"),
            server.fault_url("/short-body"),
            server.fault_url("/hang"),
            format!("http://127.0.0.1:{}/", closed_port()),
        ];
        urls.extend((0..200).map(|i| server.url(&format!("/mix/30?n={i}"))));
        let records = fetcher.fetch_all(urls.clone());
        assert_eq!(records.len(), urls.len());
        assert!(
            process_threads().unwrap() > baseline,
            "{engine:?}: the engine has threads"
        );
    }
    // Pools and runtimes wind down in the background: wait, bounded.
    let deadline = Instant::now() + Duration::from_secs(10);
    while process_threads().unwrap() > baseline && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(process_threads().unwrap(), baseline, "threads leaked");
}
