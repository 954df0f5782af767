//! `--continue`: a download killed part-way is continued with a Range request and ends
//! byte-identical to a one-shot download; a server that ignores Range, or a changed body,
//! restarts it.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{assert_exit, poolfetch, records, server};

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
