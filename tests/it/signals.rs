//! Ctrl-C on a real `poolfetch fetch` process: one valid record per input, exit code 130.

use crate::common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::server;
use poolfetch::{ErrorKind, Record};

fn start(url_template: &str, inputs: u32) -> Child {
    common::poolfetch()
        .args([
            "fetch",
            "-q",
            "-p",
            "2",
            "--template",
            url_template,
            "--range",
        ])
        .arg(format!("1..{inputs}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("poolfetch starts")
}

fn interrupt(child: &Child) {
    common::signal(child, libc::SIGINT);
}

/// Wait (at most 10 s) until the server has seen `n` requests: they are in flight.
fn wait_until_sent(server: &poolfetch::server::Server, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.stats().requests < n {
        assert!(Instant::now() < deadline, "the requests never started");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Wait for the process, bounded, killing it if it overstays.
fn wait(mut child: Child, limit: Duration) -> i32 {
    common::wait_bounded(&mut child, limit).0
}

#[test]
fn ctrl_c_gives_every_input_a_record_and_exits_130() {
    let server = server();
    let inputs = 60;
    let mut child = start(&server.url("/delay/150?n={}"), inputs);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    interrupt(&child);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let code = wait(child, Duration::from_secs(10));
    assert_eq!(code, 130);
    let records: Vec<Record> = first
        .lines()
        .chain(rest.lines())
        .map(|line| serde_json::from_str(line).expect("a whole, valid record"))
        .collect();
    let indices: Vec<u64> = records.iter().map(|r| r.index).collect();
    assert_eq!(indices, (0..u64::from(inputs)).collect::<Vec<_>>());
    let cancelled = records
        .iter()
        .filter(|r| {
            r.error
                .as_ref()
                .is_some_and(|e| e.kind == ErrorKind::Cancelled)
        })
        .count();
    assert!(
        cancelled > 0 && cancelled < inputs as usize,
        "{cancelled} cancelled"
    );
    assert!(records[0].ok, "in-flight requests finish normally");
    // Nothing cancelled was sent.
    assert_eq!(
        server.stats().requests as usize,
        inputs as usize - cancelled
    );
}

#[test]
fn a_second_ctrl_c_exits_at_once_with_whole_lines() {
    let server = server();
    let mut child = start(&server.url("/delay/10000?n={}"), 20);
    let mut stdout = child.stdout.take().unwrap();
    // Once both workers' requests are in flight, interrupt twice: they would take 10 s.
    wait_until_sent(&server, 2);
    interrupt(&child);
    // Signals of one kind do not queue: wait until the first is handled (it says so).
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    stderr.read_line(&mut said).unwrap();
    assert!(said.contains("interrupted"), "{said}");
    interrupt(&child);
    let started = Instant::now();
    let mut output = String::new();
    stdout.read_to_string(&mut output).unwrap();
    let code = wait(child, Duration::from_secs(10));
    assert_eq!(code, 130);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the second Ctrl-C waited for the 10 s requests"
    );
    for line in output.lines() {
        serde_json::from_str::<Record>(line).expect("only whole records");
    }
}

/// A `--range` of ten billion is an input like a pipe: after Ctrl-C it is not read further
/// (it used to write a `cancelled` record for every remaining number until the disk was
/// full), the records are the inputs read, in order, and stderr says how many were never read.
#[test]
fn ctrl_c_stops_reading_a_huge_range() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("records.jsonl");
    let child = common::poolfetch()
        .args(["fetch", "-p", "2", "-o"])
        .arg(&out)
        .args(["--template", &server.url("/delay/200?n={}")])
        .args(["--range", "1..10000000000"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_sent(&server, 2);
    interrupt(&child);
    let mut child = child;
    let reader = common::read_in_background(child.stderr.take().unwrap());
    assert_eq!(wait(child, Duration::from_secs(30)), 130);
    let stderr = reader.join().unwrap();
    let records: Vec<Record> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("a whole record"))
        .collect();
    let indices: Vec<u64> = records.iter().map(|r| r.index).collect();
    assert_eq!(indices, (0..records.len() as u64).collect::<Vec<_>>());
    assert!(records.len() < 100_000, "{} records", records.len());
    let unread = 10_000_000_000 - records.len() as u64;
    assert!(
        stderr.contains(&format!("{unread} inputs never read")),
        "{stderr}"
    );
}

/// SIGINT and SIGTERM with every worker busy on a long request and more tickets waiting in
/// the window, on both engines: the requests the server saw are exactly the records with
/// `attempts ≥ 1`, and each keeps its worker and its real start; the others say never sent
/// (`attempts: 0`, no worker); the summary's counts add up to the records, and it prints no
/// latency of requests that never finished.
#[test]
fn after_a_signal_each_record_says_whether_it_was_sent() {
    for (engine, signal, code) in [
        ("threads", libc::SIGINT, 130),
        ("async", libc::SIGTERM, 143),
    ] {
        let server = server();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("records.jsonl");
        let mut child = common::poolfetch()
            .args(["fetch", "--engine", engine, "-p", "3", "-o"])
            .arg(&out)
            .args(["--template", &server.url("/delay/10000?n={}")])
            .args(["--range", "1..40"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_until_sent(&server, 3);
        common::signal(&child, signal);
        let reader = common::read_in_background(child.stderr.take().unwrap());
        assert_eq!(wait(child, Duration::from_secs(20)), code, "{engine}");
        let stderr = reader.join().unwrap();
        let records: Vec<Record> = std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).expect("a whole record"))
            .collect();
        let indices: Vec<u64> = records.iter().map(|r| r.index).collect();
        assert_eq!(indices, (0..records.len() as u64).collect::<Vec<_>>());
        let (sent, never): (Vec<&Record>, Vec<&Record>) =
            records.iter().partition(|r| r.attempts >= 1);
        assert_eq!(sent.len() as u64, server.stats().requests, "{engine}");
        for record in &sent {
            let error = record.error.as_ref().expect("interrupted");
            assert_eq!(error.kind, ErrorKind::Cancelled);
            assert!(error.message.contains("interrupted"), "{record:?}");
            assert!(record.worker.is_some_and(|w| w < 3), "{engine}: {record:?}");
            // It started before the signal and was cut only when the 1 s grace ran out.
            assert!(
                record.finished_ms - record.started_ms >= 999.0,
                "{engine}: {record:?}"
            );
        }
        assert!(!never.is_empty(), "{engine}: tickets waited in the window");
        for record in &never {
            assert_eq!(record.worker, None, "{engine}: {record:?}");
            assert_eq!(
                record.error.as_ref().map(|e| e.kind),
                Some(ErrorKind::Cancelled)
            );
        }
        let expected = format!(
            "{} records: {} sent (0 ok, 0 failed, {} interrupted), {} never sent",
            records.len(),
            sent.len(),
            sent.len(),
            never.len()
        );
        assert!(stderr.contains(&expected), "{engine}: {stderr}");
        assert!(!stderr.contains("p50"), "{engine}: {stderr}");
    }
}
