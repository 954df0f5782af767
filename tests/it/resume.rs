//! Crash-safe `--resume`: a run killed at any point — SIGKILL, SIGTERM, Ctrl-C — and resumed,
//! any number of times, ends with exactly one record per input, in input order, and nothing
//! fetched twice beyond what was in flight at each kill.

use crate::common;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{poolfetch, read_records, server};

fn start(out: &Path, template: &str, resume: bool) -> Child {
    let mut command = poolfetch();
    command.args(["fetch", "-q", "-p", "5", "-o"]).arg(out);
    if resume {
        command.arg("--resume");
    }
    command
        .args(["--template", template, "--range", "1..300"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

/// Wait until `path` has at least `count` lines, then send `signal`, then wait for the exit.
fn stop_after(mut child: Child, path: &Path, count: usize, signal: i32) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while lines(path) < count {
        assert!(Instant::now() < deadline, "the run made no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    common::signal(&child, signal);
    common::wait_bounded(&mut child, Duration::from_secs(30));
}

#[test]
fn killed_twice_in_any_way_and_resumed_gives_every_record_once_in_order() {
    for signal in [libc::SIGKILL, libc::SIGTERM, libc::SIGINT] {
        let server = server();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("records.jsonl");
        let template = server.url("/delay/50?n={}");
        stop_after(start(&out, &template, false), &out, 40, signal);
        stop_after(start(&out, &template, true), &out, 150, signal);
        let status = start(&out, &template, true).wait().unwrap();
        assert_eq!(status.code(), Some(0), "signal {signal}");
        let records = read_records(&out);
        let indices: Vec<u64> = records.iter().map(|r| r.index).collect();
        assert_eq!(indices, (0..300).collect::<Vec<_>>(), "signal {signal}");
        assert!(records.iter().all(|r| r.ok), "signal {signal}");
        // Each kill may lose what was in flight (at most the pool, 5), nothing more.
        let requests = server.stats().requests;
        assert!(
            requests <= 300 + 2 * 5,
            "signal {signal}: {requests} requests"
        );
    }
}

#[test]
fn a_resume_with_other_inputs_stops_before_sending_and_leaves_the_file_alone() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("records.jsonl");
    let template = server.url("/todos/{}");
    stop_after(start(&out, &template, false), &out, 300, libc::SIGTERM);
    let before = std::fs::read(&out).unwrap();
    server.reset_stats();
    let output = poolfetch()
        .args(["fetch", "-q", "--resume", "-o"])
        .arg(&out)
        .args([
            "--template",
            &server.url("/delay/1?n={}"),
            "--range",
            "1..300",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not the same inputs"));
    assert_eq!(std::fs::read(&out).unwrap(), before, "untouched");
    assert_eq!(server.stats().requests, 0, "nothing sent");
    // From stdin it cannot check the inputs again: refused.
    let output = poolfetch()
        .args(["fetch", "-q", "--resume", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

/// `merge` to stdout spills its sort files into `$TMPDIR`, never beside an input whose
/// directory may not be writable (here `/proc/self/fd`, which not even root can write).
#[test]
fn merge_to_stdout_spills_into_tmpdir_not_beside_its_inputs() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let template = server.url("/todos/{}");
    let status = poolfetch()
        .args(["fetch", "-q", "-o"])
        .arg(&out)
        .args(["--template", &template, "--range", "1..200"])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    // Backwards: 200 stretches of one record each, more than merge sorts in memory.
    let text = std::fs::read_to_string(&out).unwrap();
    let reversed: String = text.lines().rev().map(|l| format!("{l}\n")).collect();
    let backwards = dir.path().join("backwards.jsonl");
    std::fs::write(&backwards, reversed).unwrap();
    let output = poolfetch()
        .env("TMPDIR", dir.path())
        .args(["merge", "/proc/self/fd/0"])
        .stdin(std::fs::File::open(&backwards).unwrap())
        .output()
        .unwrap();
    common::assert_exit(&output, 0);
    let merged = common::records(&output.stdout);
    assert_eq!(common::indices(&merged), (0..200).collect::<Vec<u64>>());
}

/// A run killed while it compacted FILE leaves `.FILE.XXXXXX.poolfetch-tmp` behind; the next
/// `--resume` of FILE removes it — and only it: a name poolfetch does not make, and one a live
/// process still writes (it holds a lock), stay.
#[test]
fn resume_removes_what_a_killed_compaction_left_and_nothing_else() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let template = server.url("/todos/{}");
    let run = || {
        poolfetch()
            .args(["fetch", "-q", "-o"])
            .arg(&out)
            .args(["--template", &template, "--range", "1..20", "--resume"])
            .status()
            .unwrap()
    };
    assert_eq!(run().code(), Some(0));
    let left = dir.path().join(".out.jsonl.aB3xY9.poolfetch-tmp");
    let busy = dir.path().join(".out.jsonl.Zz0123.poolfetch-tmp");
    let foreign = dir.path().join(".out.jsonl.mine.poolfetch-tmp");
    for path in [&left, &busy, &foreign] {
        std::fs::write(path, "half a compaction\n").unwrap();
    }
    let held = std::fs::File::open(&busy).unwrap();
    // Released when `held` is dropped.
    rustix::fs::flock(&held, rustix::fs::FlockOperation::LockExclusive).expect("flock");
    assert_eq!(run().code(), Some(0));
    assert!(!left.exists(), "the leftover of a killed compaction stays");
    assert!(busy.exists(), "a file a live process holds was removed");
    assert!(
        foreign.exists(),
        "a name poolfetch does not make was removed"
    );
    assert_eq!(read_records(&out).len(), 20);
    drop(held);
}
