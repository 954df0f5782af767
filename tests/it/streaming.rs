//! Invariant 5: bodies that are discarded or streamed to files are never held whole in memory.
//! Peak RSS (VmHWM) may not grow by anything like the body size. Its own test binary, so no
//! other test's memory is counted.

use crate::common;

use common::server;
use poolfetch::{BodyMode, Config, EngineKind, Fetcher};

/// Peak resident memory of this process so far, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib * 1024
}

#[test]
fn large_bodies_stream_through_without_being_held() {
    let server = server();
    let size: u64 = 256 * 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let before = peak_rss();
    for engine in [EngineKind::Threads, EngineKind::Async] {
        for output_dir in [None, Some(dir.path().to_path_buf())] {
            let fetcher = Fetcher::new(
                Config::builder()
                    .engine(engine)
                    .body(BodyMode::None)
                    .output_dir(output_dir.clone())
                    .build()
                    .expect("a valid config"),
            )
            .unwrap();
            let records = fetcher.fetch_all([server.url(&format!("/bytes/{size}"))]);
            assert!(records[0].ok, "{engine:?}: {:?}", records[0].error);
            assert_eq!(records[0].bytes, size);
            if let Some(file) = &records[0].file {
                assert_eq!(std::fs::metadata(file).unwrap().len(), size);
                std::fs::remove_file(file).unwrap();
            }
        }
    }
    let growth = peak_rss().saturating_sub(before);
    assert!(
        growth < 64 * 1024 * 1024,
        "peak RSS grew by {} MiB for 256 MiB bodies",
        growth >> 20
    );
}
