//! `--continue`: a download killed part-way is continued with a Range request and ends
//! byte-identical to a one-shot download; a server that ignores Range, or a changed body,
//! restarts it.

use crate::common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{assert_exit, per_engine, poolfetch, records, server};
use poolfetch::EngineKind;

const GIB: u64 = 1 << 30;

fn fingerprint(path: &Path) -> (u64, u64) {
    // FNV-1a over the whole file, read in 1 MiB blocks.
    let mut file = std::fs::File::open(path).unwrap();
    let (mut hash, mut length) = (0xcbf2_9ce4_8422_2325u64, 0u64);
    let mut block = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut block).unwrap();
        if read == 0 {
            return (length, hash);
        }
        length += read as u64;
        for byte in &block[..read] {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3);
        }
    }
}

fn part_of(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".part"))
}

#[test]
fn a_killed_gibibyte_download_continues_to_the_same_bytes() {
    let server = server();
    let url = server.url(&format!("/bytes/{GIB}"));
    let dir = tempfile::tempdir().unwrap();
    let (cut, whole) = (dir.path().join("cut"), dir.path().join("whole"));
    let mut child = poolfetch()
        .args(["fetch", "-q", "--output-dir"])
        .arg(&cut)
        .args(["--url", &url])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // SIGKILL once a good part has arrived: nothing gets to clean up.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let size = part_of(&cut)
            .and_then(|p| p.metadata().ok())
            .map_or(0, |m| m.len());
        if size > 64 << 20 {
            break;
        }
        assert!(Instant::now() < deadline, "the download did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let left = part_of(&cut).expect("a killed run leaves its part file");
    let had = left.metadata().unwrap().len();
    assert!(had < GIB);

    let output = poolfetch()
        .args(["fetch", "-q", "--continue", "--output-dir"])
        .arg(&cut)
        .args(["--url", &url])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let continued = records(&output.stdout).remove(0);
    let resumed = continued.resumed_from.expect("resumed_from in the record");
    assert!(resumed >= had && resumed > 0, "{resumed} vs {had}");
    assert_eq!(continued.bytes, GIB - resumed, "only the rest was fetched");

    let output = poolfetch()
        .args(["fetch", "-q", "--output-dir"])
        .arg(&whole)
        .args(["--url", &url])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let one_shot = records(&output.stdout).remove(0);
    assert_eq!(one_shot.resumed_from, None);
    let (a, b) = (
        PathBuf::from(continued.file.unwrap()),
        PathBuf::from(one_shot.file.unwrap()),
    );
    assert_eq!(fingerprint(&a), fingerprint(&b), "byte-identical");
    assert!(part_of(&cut).is_none(), "no part file stays");
}

#[test]
fn a_changed_body_or_a_server_without_ranges_restarts_the_file() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    // A part file with a validator the server no longer gives: If-Range fails, 200, restart.
    let url = server.url("/bytes/5000");
    let name = "000000-5000".to_string();
    let part = dir.path().join(format!(".{name}.part"));
    std::fs::write(&part, vec![b'#'; 1000]).unwrap();
    std::fs::write(format!("{}.validator", part.display()), "\"an-old-etag\"").unwrap();
    // And one from a route that ignores Range altogether.
    let other = server.url("/anything/plain.txt");
    let other_name = "000001-plain.txt".to_string();
    let other_part = dir.path().join(format!(".{other_name}.part"));
    std::fs::write(&other_part, "stale").unwrap();
    std::fs::write(format!("{}.validator", other_part.display()), "\"x\"").unwrap();
    // And a part as long as the whole body, with the right validator: 416, restart.
    let full = server.url("/bytes/3000");
    let full_part = dir.path().join(".000002-3000.part");
    std::fs::write(&full_part, vec![b'#'; 3000]).unwrap();
    std::fs::write(
        format!("{}.validator", full_part.display()),
        "\"bytes-3000\"",
    )
    .unwrap();
    let output = poolfetch()
        .args(["fetch", "-q", "--continue", "--output-dir"])
        .arg(dir.path())
        .args(["--url", &url, "--url", &other, "--url", &full])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let records = records(&output.stdout);
    assert!(
        records.iter().all(|r| r.resumed_from.is_none()),
        "{records:?}"
    );
    let saved = std::fs::read(dir.path().join(&name)).unwrap();
    assert_eq!(saved.len(), 5000);
    assert!(!saved.contains(&b'#'), "restarted from zero");
    assert_eq!(
        std::fs::read_to_string(dir.path().join(&other_name)).unwrap(),
        "/anything/plain.txt"
    );
}

/// The first `n` bytes of the embedded server's generated stream (what `/bytes/N` sends).
fn generated(from: u64, to: u64) -> Vec<u8> {
    (from..to).map(|o| b'a' + (o % 65_536 % 26) as u8).collect()
}

/// `fetch -q --engine ENGINE --continue --output-dir DIR --url URL`.
fn continue_into(dir: &Path, engine: EngineKind, url: &str) -> std::process::Output {
    poolfetch()
        .args([
            "fetch",
            "-q",
            "--engine",
            engine.name(),
            "--continue",
            "--output-dir",
        ])
        .arg(dir)
        .args(["--url", url])
        .output()
        .unwrap()
}

/// A part file holding the first `had` bytes of `/range/KIND/1000` (the right bytes, with
/// the right validator), as a killed run would leave it, for input 0.
fn plant_part(dir: &Path, had: u64) {
    let part = dir.join(".000000-1000.part");
    std::fs::write(&part, generated(0, had)).unwrap();
    std::fs::write(format!("{}.validator", part.display()), "\"bytes-1000\"").unwrap();
}

per_engine!(a_206_that_does_not_continue_the_part_is_never_saved_as_the_file);
/// A 206 that is not provably the rest of the same body — another offset, no Content-Range,
/// another ETag — is not appended: the download starts again from zero and the file is the
/// body. One that sends more than it announces, or a 206 nobody asked for, is an error and
/// leaves no file. (All of them used to be saved, `ok: true`.)
fn a_206_that_does_not_continue_the_part_is_never_saved_as_the_file(engine: EngineKind) {
    let server = server();
    for kind in ["wrong-offset", "no-content-range", "other-etag"] {
        let dir = tempfile::tempdir().unwrap();
        plant_part(dir.path(), 300);
        server.reset_stats();
        let output = continue_into(
            dir.path(),
            engine,
            &server.fault_url(&format!("/range/{kind}/1000")),
        );
        assert_exit(&output, 0);
        let record = records(&output.stdout).remove(0);
        assert!(record.ok, "{engine:?} {kind}: {record:?}");
        assert_eq!(record.resumed_from, None, "{engine:?} {kind}: restarted");
        let saved = std::fs::read(dir.path().join("000000-1000")).unwrap();
        assert_eq!(
            saved,
            generated(0, 1000),
            "{engine:?} {kind}: the body, once"
        );
        assert!(part_of(dir.path()).is_none(), "{engine:?} {kind}");
    }
    // More bytes than the Content-Range announced: an error, no file.
    let dir = tempfile::tempdir().unwrap();
    plant_part(dir.path(), 300);
    let output = continue_into(
        dir.path(),
        engine,
        &server.fault_url("/range/too-many/1000"),
    );
    assert_exit(&output, 1);
    let record = records(&output.stdout).remove(0);
    assert_eq!(
        record.error.map(|e| e.kind),
        Some(poolfetch::ErrorKind::Protocol),
        "{engine:?}"
    );
    assert_eq!(record.file, None, "{engine:?}");
    assert!(!dir.path().join("000000-1000").exists(), "{engine:?}");
    // A 206 to a GET that asked for no range (with or without a part to continue).
    for had in [None, Some(300)] {
        let dir = tempfile::tempdir().unwrap();
        if let Some(had) = had {
            plant_part(dir.path(), had);
        }
        let output = continue_into(
            dir.path(),
            engine,
            &server.fault_url("/range/always-206/1000"),
        );
        assert_exit(&output, 1);
        let record = records(&output.stdout).remove(0);
        let error = record.error.expect("an error");
        assert_eq!(
            error.kind,
            poolfetch::ErrorKind::Protocol,
            "{engine:?} {had:?}"
        );
        assert!(
            error.message.contains("206"),
            "{engine:?}: {}",
            error.message
        );
        assert!(
            !dir.path().join("000000-1000").exists(),
            "{engine:?} {had:?}"
        );
    }
}

/// A validator file that is a link (to a secret, to `/dev/zero`) or a FIFO is not read: the
/// secret never leaves the machine, memory stays small, and the run does not hang; the part
/// starts again from zero.
#[test]
fn a_planted_validator_is_never_read_or_sent() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, "TOP-SECRET-TOKEN\n").unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    // Input 0 is /echo (its body shows the headers it got), 1 and 2 are /bytes/1000.
    let plant = |name: &str, target: Option<&Path>| {
        let part = out.join(format!(".{name}.part"));
        std::fs::write(&part, b"abc").unwrap();
        let validator = PathBuf::from(format!("{}.validator", part.display()));
        match target {
            Some(target) => std::os::unix::fs::symlink(target, &validator).unwrap(),
            None => common::mkfifo(&validator),
        }
    };
    plant("000000-echo", Some(&secret));
    plant("000001-1000", Some(Path::new("/dev/zero")));
    plant("000002-1000", None);
    let output = poolfetch()
        .args(["fetch", "-q", "--continue", "--output-dir"])
        .arg(&out)
        .args(["--url", &server.url("/echo")])
        .args(["--url", &server.url("/bytes/1000")])
        .args(["--url", &server.url("/bytes/1000")])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let echoed = std::fs::read_to_string(out.join("000000-echo")).unwrap();
    assert!(!echoed.contains("TOP-SECRET"), "{echoed}");
    assert!(
        !echoed.to_ascii_lowercase().contains("if-range"),
        "{echoed}"
    );
    for name in ["000001-1000", "000002-1000"] {
        assert_eq!(
            std::fs::read(out.join(name)).unwrap(),
            generated(0, 1000),
            "{name}"
        );
    }
    assert!(
        records(&output.stdout)
            .iter()
            .all(|r| r.resumed_from.is_none())
    );
}

per_engine!(a_download_stored_compressed_continues_to_the_same_bytes_or_starts_again);
// An object stored gzip-encoded with an ETag, whose byte ranges count the stored bytes (as S3
// or GCS serve one): killed part-way (the part file holds decoded bytes) and continued, the
// file ends byte-identical to a download that never stopped.
fn a_download_stored_compressed_continues_to_the_same_bytes_or_starts_again(engine: EngineKind) {
    use std::io::Write;
    let plain: Vec<u8> = (0..4_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 % 7 + b'a')
        .collect();
    let stored = std::sync::Arc::new(common::gzip(&plain));
    let first = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let served = std::sync::Arc::clone(&stored);
    let server = common::Scripted::start(move |head, client| {
        let lower = head.to_ascii_lowercase();
        let from: usize = lower
            .split("range: bytes=")
            .nth(1)
            .and_then(|rest| rest.split('-').next())
            .and_then(|n| n.trim().parse().ok())
            .filter(|_| lower.contains("if-range: \"gz-1\""))
            .unwrap_or(0);
        let total = served.len();
        let status = if from > 0 {
            format!(
                "206 Partial Content\r\nContent-Range: bytes {from}-{}/{total}",
                total - 1
            )
        } else {
            "200 OK".to_string()
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Encoding: gzip\r\nETag: \"gz-1\"\r\nAccept-Ranges: bytes\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            total - from
        );
        let _ = client.write_all(head.as_bytes());
        if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
            // The first download: half the stored bytes, then nothing (it gets killed).
            let _ = client.write_all(&served[..total / 2]);
            std::thread::sleep(Duration::from_secs(20));
            return;
        }
        let _ = client.write_all(&served[from..]);
    });
    let url = server.url("/stored.txt");
    let dir = tempfile::tempdir().unwrap();
    let mut child = poolfetch()
        .args(["fetch", "-q", "--engine", engine.name(), "--output-dir"])
        .arg(dir.path())
        .args(["--url", &url])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while part_of(dir.path())
        .and_then(|p| p.metadata().ok())
        .is_none_or(|m| m.len() == 0)
    {
        assert!(
            Instant::now() < deadline,
            "{engine:?}: the download did not start"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let output = continue_into(dir.path(), engine, &url);
    assert_exit(&output, 0);
    let record = records(&output.stdout).remove(0);
    assert!(record.ok, "{engine:?}: {record:?}");
    let file = PathBuf::from(record.file.clone().expect("a file"));
    assert!(
        std::fs::read(&file).unwrap() == plain,
        "{engine:?}: the file is not the body ({record:?})"
    );
    assert!(part_of(dir.path()).is_none(), "{engine:?}");
}
