//! Criterion benches of the engine: the pool sweep at a small latency (the stepwise model at
//! speed) and zero-latency throughput on loopback. Both use the embedded server in-process.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use poolfetch::server::{Server, ServerConfig};
use poolfetch::{BodyMode, Config, EngineKind, Fetcher};

fn fetcher(engine: EngineKind, pool: usize) -> Fetcher {
    Fetcher::new(
        Config::builder()
            .pool(pool)
            .engine(engine)
            .body(BodyMode::None)
            .build()
            .expect("a valid config"),
    )
    .expect("valid config")
}

fn urls(server: &Server, requests: usize) -> Vec<String> {
    (0..requests)
        .map(|i| server.url(&format!("/todos/{}", i % 200 + 1)))
        .collect()
}

/// One timed iteration: fetch every URL and insist that all were ok.
fn fetch_all_ok(fetcher: &Fetcher, urls: &[String]) {
    let ok = fetcher
        .stream(urls.iter().cloned())
        .filter(|r| r.ok)
        .count();
    assert_eq!(ok, urls.len());
}

/// N=40 requests of 2 ms: ideal ceil(40 / pool) × 2 ms (40, 16 and 4 ms).
fn pool_sweep(c: &mut Criterion) {
    let server = Server::start(ServerConfig {
        latency: Duration::from_millis(2),
        ..ServerConfig::default()
    })
    .expect("server");
    let requests = 40;
    let mut group = c.benchmark_group("sweep_2ms_40req");
    group.sample_size(20);
    for pool in [1, 5, 20] {
        let fetcher = fetcher(EngineKind::Threads, pool);
        let urls = urls(&server, requests);
        group.bench_with_input(BenchmarkId::from_parameter(pool), &pool, |b, _| {
            b.iter(|| fetch_all_ok(&fetcher, &urls))
        });
    }
    group.finish();
}

/// Requests per second with no added latency, for pools 1, 8 and 64, on both engines.
fn zero_latency_throughput(c: &mut Criterion) {
    let server = Server::start(ServerConfig::default()).expect("server");
    let requests = 2000;
    let mut group = c.benchmark_group("throughput_0ms");
    group.throughput(Throughput::Elements(requests as u64));
    group.sample_size(10);
    for engine in [EngineKind::Threads, EngineKind::Async] {
        for pool in [1, 8, 64] {
            let fetcher = fetcher(engine, pool);
            let urls = urls(&server, requests);
            let id = BenchmarkId::new(engine.name(), pool);
            group.bench_with_input(id, &pool, |b, _| b.iter(|| fetch_all_ok(&fetcher, &urls)));
        }
    }
    group.finish();
}

criterion_group!(benches, pool_sweep, zero_latency_throughput);
criterion_main!(benches);
