//! Allocations per request on the client side: a counting global allocator around in-process
//! runs against `poolfetch serve` in a process of its own (so the server's allocations are
//! not counted). `cargo bench --bench allocations` prints one row per setup; docs/performance.md
//! keeps the figures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use poolfetch::{BodyMode, Config, EngineKind, Fetcher, JsonLinesWriter};

/// The system allocator, counting every allocation and its bytes.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: the caller's layout, as given.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        // SAFETY: `ptr` came from this allocator with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const REQUESTS: usize = 20_000;

fn main() {
    let mut server = Command::new(env!("CARGO_BIN_EXE_poolfetch"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("poolfetch serve");
    let mut line = String::new();
    std::io::BufReader::new(server.stdout.take().expect("its stdout"))
        .read_line(&mut line)
        .expect("its address");
    let base = line.trim().trim_start_matches("listening on ").to_string();
    let urls: Vec<String> = (0..REQUESTS)
        .map(|i| format!("{base}/todos/{}", i % 200 + 1))
        .collect();
    println!(
        "{REQUESTS} requests to /todos/N, pool 8; client side only; records written as JSON Lines"
    );
    println!(
        "{:32} {:>14} {:>14}",
        "setup", "allocs/request", "bytes/request"
    );
    for engine in [EngineKind::Threads, EngineKind::Async] {
        for body in [BodyMode::None, BodyMode::Auto] {
            let fetcher = Fetcher::new(
                Config::builder()
                    .engine(engine)
                    .pool(8)
                    .body(body)
                    .build()
                    .expect("a valid config"),
            )
            .expect("a fetcher");
            // One warm-up run: connections, caches and buffers are made once.
            let _ = fetcher.fetch_all(urls.iter().take(100).cloned());
            let mut out = JsonLinesWriter::new(std::io::sink());
            // The caller's URLs are made before counting: only what poolfetch does is counted.
            let inputs = urls.clone();
            let (allocations, bytes) = (
                ALLOCATIONS.load(Ordering::Relaxed),
                BYTES.load(Ordering::Relaxed),
            );
            let mut ok = 0;
            for record in fetcher.stream(inputs) {
                ok += usize::from(record.ok);
                out.write(&record).expect("a sink takes everything");
            }
            let allocations = ALLOCATIONS.load(Ordering::Relaxed) - allocations;
            let bytes = BYTES.load(Ordering::Relaxed) - bytes;
            assert_eq!(ok, REQUESTS, "every request ok");
            println!(
                "{:32} {:>14.1} {:>14.0}",
                format!("{} --body {}", engine.name(), body.name()),
                allocations as f64 / REQUESTS as f64,
                bytes as f64 / REQUESTS as f64
            );
        }
    }
    let _ = server.kill();
    let _ = server.wait();
}
