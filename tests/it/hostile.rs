//! poolfetch in a hostile world: planted symlinks, odd ports, scheduler signals, stalled and
//! endless inputs, trickling servers, full disks, closed pipes. Real processes and real
//! signals against the embedded server; both engines wherever the behaviour is shared.

use crate::common;

use common::{per_engine, signal, wait_bounded};

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{LoopbackOnlyResolver, kind, server};
use poolfetch::{Config, EngineKind, ErrorKind, Fetcher, Record, RetryPolicy};

fn poolfetch() -> Command {
    let mut command = common::poolfetch();
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

/// Read stdout lines on a thread, so a test can wait for one with a deadline.
fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn parse(lines: &[String]) -> Vec<Record> {
    lines
        .iter()
        .map(|line| serde_json::from_str(line).expect("a whole, valid record"))
        .collect()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

per_engine!(planted_symlinks_in_the_output_dir_are_never_written_through);
fn planted_symlinks_in_the_output_dir_are_never_written_through(engine: EngineKind) {
    let server = server();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("out");
    std::fs::create_dir(&dir).unwrap();
    let outside_part = root.path().join("victim-part");
    let outside_final = root.path().join("victim-final");
    std::fs::write(&outside_part, "precious part").unwrap();
    std::fs::write(&outside_final, "precious final").unwrap();
    std::os::unix::fs::symlink(&outside_part, dir.join(".000000-x.part")).unwrap();
    std::os::unix::fs::symlink(&outside_part, dir.join(".000001-y.part")).unwrap();
    std::os::unix::fs::symlink(&outside_final, dir.join("000001-y")).unwrap();
    let config = Config::builder()
        .engine(engine)
        .output_dir(Some(dir.clone()))
        .build()
        .unwrap();
    let records = Fetcher::new(config)
        .unwrap()
        .fetch_all([server.url("/anything/x"), server.url("/anything/y")]);
    assert_eq!(
        std::fs::read_to_string(&outside_part).unwrap(),
        "precious part"
    );
    assert_eq!(
        std::fs::read_to_string(&outside_final).unwrap(),
        "precious final"
    );
    // A planted part link is removed and the download lands as a regular file.
    assert!(records[0].ok, "{engine:?} {:?}", records[0]);
    let saved = dir.join("000000-x");
    assert!(!saved.symlink_metadata().unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_to_string(&saved).unwrap(), "/anything/x");
    // A final name that is a link is refused: an io record, and nothing written.
    assert_eq!(kind(&records[1]), Some(ErrorKind::Io), "{engine:?}");
    assert!(
        records[1]
            .error
            .as_ref()
            .unwrap()
            .message
            .contains("symbolic link"),
        "{:?}",
        records[1].error
    );
    // Nothing was created or removed for the refused one: only its planted links remain.
    assert_eq!(
        files_in(&dir),
        [".000001-y.part", "000000-x", "000001-y"],
        "{engine:?}"
    );
}

per_engine!(ports_outside_the_valid_range_are_invalid_and_never_sent);
fn ports_outside_the_valid_range_are_invalid_and_never_sent(engine: EngineKind) {
    let config = Config::builder().engine(engine).build().unwrap();
    let records = Fetcher::new(config).unwrap().fetch_all([
        "http://127.0.0.1:99999/x",
        "http://127.0.0.1:65616/x",
        "http://127.0.0.1:0/x",
    ]);
    for record in &records {
        assert_eq!(
            kind(record),
            Some(ErrorKind::InvalidUrl),
            "{engine:?} {record:?}"
        );
        assert_eq!(record.attempts, 0);
        assert_eq!(record.worker, None, "a request never sent ran on no worker");
    }
}

per_engine!(dns_failures_are_dns_and_not_retried);
fn dns_failures_are_dns_and_not_retried(engine: EngineKind) {
    let retry = RetryPolicy {
        retries: 3,
        backoff: Duration::from_millis(1),
        ..RetryPolicy::default()
    };
    let config = Config::builder()
        .engine(engine)
        .retry(retry)
        .build()
        .unwrap();
    let fetcher = Fetcher::with_resolver(config, LoopbackOnlyResolver).unwrap();
    let records = fetcher.fetch_all(["http://no-such-host.invalid/"]);
    assert_eq!(kind(&records[0]), Some(ErrorKind::Dns), "{engine:?}");
    assert_eq!(records[0].attempts, 1, "{engine:?}: dns is final");
}

per_engine!(max_time_bounds_a_trickling_body);
fn max_time_bounds_a_trickling_body(engine: EngineKind) {
    let server = server();
    let config = Config::builder()
        .engine(engine)
        .timeout(Duration::from_secs(2))
        .max_time(Some(Duration::from_millis(600)))
        .build()
        .unwrap();
    let started = Instant::now();
    // 100 bytes, one every 100 ms: each read is quick, the whole takes 10 s.
    let records = Fetcher::new(config)
        .unwrap()
        .fetch_all([server.url("/drip/100/100"), server.url("/todos/1")]);
    assert_eq!(kind(&records[0]), Some(ErrorKind::Timeout), "{engine:?}");
    assert!(records[1].ok);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{engine:?}: {:?}",
        started.elapsed()
    );
}

/// SIGTERM and SIGHUP stop a run like Ctrl-C: every input gets a record, part files go,
/// and the exit code is 128 + the signal, within a couple of seconds of it.
#[test]
fn sigterm_and_sighup_keep_every_record_and_remove_part_files() {
    let server = server();
    for (number, code) in [
        (libc::SIGTERM, 143),
        (libc::SIGHUP, 129),
        (libc::SIGINT, 130),
    ] {
        let dir = tempfile::tempdir().unwrap();
        // 40 inputs of 100 bytes trickling at 50 ms each (5 s): two in flight, with part files.
        let mut child = poolfetch()
            .args(["fetch", "-q", "-p", "2", "--output-dir"])
            .arg(dir.path())
            .args([
                "--template",
                &server.url("/drip/100/50?n={}"),
                "--range",
                "1..40",
            ])
            .spawn()
            .unwrap();
        let lines = lines(&mut child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while files_in(dir.path()).len() < 2 {
            assert!(Instant::now() < deadline, "the downloads never started");
            std::thread::sleep(Duration::from_millis(10));
        }
        signal(&child, number);
        let (exit, took) = wait_bounded(&mut child, Duration::from_secs(10));
        assert_eq!(exit, code, "signal {number}");
        // The grace is 1 s; letting the downloads finish would take 100 s.
        assert!(
            took < Duration::from_secs(6),
            "signal {number}: ended {took:?} later"
        );
        let records = parse(&lines.iter().collect::<Vec<_>>());
        assert_eq!(
            records.iter().map(|r| r.index).collect::<Vec<_>>(),
            (0..40).collect::<Vec<_>>()
        );
        assert!(
            records
                .iter()
                .all(|r| kind(r) == Some(ErrorKind::Cancelled))
        );
        assert!(
            records[0]
                .error
                .as_ref()
                .unwrap()
                .message
                .contains("mid-transfer"),
            "{:?}",
            records[0]
        );
        assert_eq!(
            files_in(dir.path()),
            Vec::<String>::new(),
            "part files stay"
        );
    }
}

#[test]
fn records_leave_before_the_next_input_line_and_ctrl_c_ends_a_stalled_pipe() {
    let server = server();
    let mut child = poolfetch()
        .args(["fetch", "-q"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = lines(&mut child);
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{}", server.url("/todos/1")).unwrap();
    stdin.flush().unwrap();
    // The pipe stays open and silent: the record must not wait for the next line.
    let first = lines
        .recv_timeout(Duration::from_secs(5))
        .expect("record 0 before any next line");
    assert!(parse(&[first])[0].ok);
    signal(&child, libc::SIGINT);
    let (exit, took) = wait_bounded(&mut child, Duration::from_secs(5));
    assert_eq!(exit, 130);
    assert!(took < Duration::from_secs(2), "{took:?}");
    drop(stdin);
}

#[test]
fn an_endless_feed_stops_within_a_second_of_ctrl_c() {
    let server = server();
    let mut child = poolfetch()
        .args(["fetch", "-q", "-p", "2", "--body", "none"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = lines(&mut child);
    let mut stdin = child.stdin.take().unwrap();
    let url = format!("{}\n", server.url("/todos/1"));
    // `yes URL`, bounded: at most 200,000 lines, and only until poolfetch stops reading.
    let feeder = std::thread::spawn(move || {
        for _ in 0..200_000 {
            if stdin.write_all(url.as_bytes()).is_err() {
                return;
            }
        }
    });
    lines
        .recv_timeout(Duration::from_secs(5))
        .expect("a first record");
    signal(&child, libc::SIGINT);
    let (exit, took) = wait_bounded(&mut child, Duration::from_secs(5));
    assert_eq!(exit, 130);
    // No request is slow here: it ends at once (0.06 s idle); 5 s is far above that.
    assert!(took < Duration::from_secs(5), "{took:?}");
    let records: Vec<String> = lines.iter().collect();
    assert!(
        records.len() < 199_999,
        "{} records: the feed was read to its end",
        records.len()
    );
    let _ = feeder.join();
}

#[test]
fn binary_and_endless_lines_stop_the_input_with_one_line() {
    let server = server();
    let started = Instant::now();
    let output = poolfetch()
        .args(["fetch", "-q", "/dev/zero"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(started.elapsed() < Duration::from_secs(5));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("/dev/zero") && stderr.contains("NUL"),
        "{stderr}"
    );

    // A 1 MB line between two URLs: an invalid_url record showing only its start.
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list.txt");
    let long = format!("http://h/{}", "a".repeat(1_000_000));
    let text = format!(
        "{}\n{long}\n{}\n",
        server.url("/todos/1"),
        server.url("/todos/2")
    );
    std::fs::write(&list, text).unwrap();
    let output = poolfetch()
        .args(["fetch", "-q"])
        .arg(&list)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        output.stdout.len() < 10_000,
        "{} bytes of records",
        output.stdout.len()
    );
    let records = parse(
        &String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>(),
    );
    assert_eq!(records.len(), 3);
    assert!(records[0].ok && records[2].ok);
    assert_eq!(kind(&records[1]), Some(ErrorKind::InvalidUrl));
    assert!(records[1].url.len() < 200, "{}", records[1].url);
}

per_engine!(ctrl_c_is_bounded_behind_a_trickling_download);
fn ctrl_c_is_bounded_behind_a_trickling_download(engine: EngineKind) {
    let engine = engine.name();
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let mut child = poolfetch()
        .args(["fetch", "-q", "--engine", engine, "--output-dir"])
        .arg(dir.path())
        .args(["--url", &server.url("/drip/1000/50")])
        .spawn()
        .unwrap();
    let lines = lines(&mut child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while files_in(dir.path()).is_empty() {
        assert!(Instant::now() < deadline, "the download never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    signal(&child, libc::SIGINT);
    let (exit, took) = wait_bounded(&mut child, Duration::from_secs(10));
    assert_eq!(exit, 130, "{engine}");
    assert!(took < Duration::from_millis(2500), "{engine}: {took:?}");
    let records = parse(&lines.iter().collect::<Vec<_>>());
    assert_eq!(kind(&records[0]), Some(ErrorKind::Cancelled), "{engine}");
    assert!(
        files_in(dir.path()).is_empty(),
        "{engine}: the part file stayed"
    );
}

#[test]
fn write_failures_have_their_own_exit_code_and_a_closed_pipe_is_quiet() {
    let server = server();
    let output = poolfetch()
        .args([
            "fetch",
            "-q",
            "-o",
            "/dev/full",
            "--url",
            &server.url("/todos/1"),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot write records"), "{stderr}");

    // `| head -n 1`: the reader goes away after one line.
    let mut child = poolfetch()
        .args([
            "fetch",
            "-q",
            "-p",
            "4",
            "--template",
            &server.url("/todos/{}"),
            "--range",
            "1..200",
        ])
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    drop(stdout);
    let stderr = common::read_in_background(child.stderr.take().unwrap());
    let (exit, _) = wait_bounded(&mut child, Duration::from_secs(10));
    assert_eq!(exit, 3);
    let stderr = stderr.join().unwrap();
    assert!(
        stderr.is_empty(),
        "a closed pipe is not an error to shout about: {stderr}"
    );
}

#[test]
fn the_output_cannot_be_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("urls.txt");
    std::fs::write(&list, "http://127.0.0.1:9/x\n").unwrap();
    let output = poolfetch()
        .args(["fetch", "-q", "-o"])
        .arg(&list)
        .arg(&list)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(&list).unwrap(),
        "http://127.0.0.1:9/x\n"
    );
    let stdin = std::fs::File::open(&list).unwrap();
    let output = poolfetch()
        .args(["fetch", "-q", "-o"])
        .arg(&list)
        .stdin(stdin)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "stdin is that file too");
    assert_eq!(
        std::fs::read_to_string(&list).unwrap(),
        "http://127.0.0.1:9/x\n"
    );
}

#[test]
fn a_pool_past_the_open_file_limit_is_warned_about_once() {
    let server = server();
    // The child alone gets a limit of 64 open files: a shell lowers it, then becomes poolfetch.
    let mut command = std::process::Command::new("sh");
    command
        .args(["-c", "ulimit -n 64 && exec \"$0\" \"$@\""])
        .arg(assert_cmd::cargo::cargo_bin("poolfetch"))
        .args(["fetch", "-p", "200", "--url", &server.url("/todos/1")]);
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("--pool 200"), "{stderr}");
}
