//! Lists bigger than one machine: `--shard K/N` fetches every Nth input keeping global
//! indices, and `poolfetch merge` joins the shard outputs into exactly the unsharded run —
//! from a plain loop of processes and under GNU parallel.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{assert_exit, poolfetch, read_records, server};
use poolfetch::Record;

/// What must agree between two runs of the same inputs (times and workers differ).
fn essence(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {} {:?} {} {:?} {:?}",
                r.index,
                r.url,
                r.method,
                r.ok,
                r.status,
                r.bytes,
                r.body,
                r.error.as_ref().map(|e| e.kind)
            )
        })
        .collect()
}

/// 30 inputs of several kinds, with a comment and a blank line that take no index.
fn list(dir: &Path, server: &poolfetch::server::Server) -> PathBuf {
    let mut lines = vec!["# a list".to_string(), String::new()];
    for i in 0..30 {
        lines.push(match i % 3 {
            0 => server.url(&format!("/todos/{}", i + 1)),
            1 => server.url("/status/404"),
            _ => format!("POST {} {{\"n\":{i}}}", server.url("/post")),
        });
    }
    let path = dir.join("urls.txt");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn merge(files: &[PathBuf], out: &Path) -> std::process::Output {
    poolfetch()
        .arg("merge")
        .args(files)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn three_shards_merged_equal_one_unsharded_run() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let list = list(dir.path(), &server);
    let whole = dir.path().join("whole.jsonl");
    let status = poolfetch()
        .args(["fetch", "-q", "-p", "4", "-o"])
        .arg(&whole)
        .arg(&list)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1), "the 404s are not ok");

    let mut shards = Vec::new();
    for k in 0..3 {
        let out = dir.path().join(format!("shard{k}.jsonl"));
        poolfetch()
            .args(["fetch", "-q", "-p", "2", "--shard", &format!("{k}/3"), "-o"])
            .arg(&out)
            .arg(&list)
            .status()
            .unwrap();
        let records = read_records(&out);
        assert_eq!(records.len(), 10);
        assert!(
            records.iter().all(|r| r.index % 3 == k),
            "global indices kept"
        );
        shards.push(out);
    }
    let merged = dir.path().join("merged.jsonl");
    let output = merge(&shards, &merged);
    assert_exit(&output, 0);
    assert_eq!(
        essence(&read_records(&merged)),
        essence(&read_records(&whole))
    );

    // A shard left out is reported (exit 1), as is one given twice.
    let output = merge(&shards[..2], &dir.path().join("partial.jsonl"));
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("missing indices: 9 (2, 5, 8"), "{stderr}");
    assert!(stderr.contains("--expect N counts them"), "{stderr}");
    // Told how many inputs there were, the last one (29, past the highest read) counts too.
    let output = poolfetch()
        .arg("merge")
        .args(&shards[..2])
        .args(["--expect", "30"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("missing indices: 10 (2, 5, 8, 11, 14, 17, 20, 23, 26, 29)"),
        "{stderr}"
    );
    // An index at or past the count is reported.
    let output = poolfetch()
        .arg("merge")
        .args(&shards)
        .args(["--expect", "25"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("at or past --expect 25: 5 (25, 26"),
        "{stderr}"
    );
    let twice = [
        shards[0].clone(),
        shards[0].clone(),
        shards[1].clone(),
        shards[2].clone(),
    ];
    let output = merge(&twice, &dir.path().join("twice.jsonl"));
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("duplicate indices"));
    assert_eq!(read_records(&dir.path().join("twice.jsonl")).len(), 30);
}

#[test]
fn merge_sorts_unordered_files_and_leaves_out_a_torn_last_line() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let list = list(dir.path(), &server);
    let completion = dir.path().join("completion.jsonl");
    poolfetch()
        .args(["fetch", "-q", "-p", "8", "--order", "completion", "-o"])
        .arg(&completion)
        .arg(&list)
        .status()
        .unwrap();
    let mut lines: Vec<String> = std::fs::read_to_string(&completion)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort_by_key(|l| std::cmp::Reverse(serde_json::from_str::<Record>(l).unwrap().index));
    std::fs::write(&completion, lines.join("\n") + "\n").unwrap();
    // Any order is taken (it used to be refused: such an output could never be completed).
    let sorted = dir.path().join("x.jsonl");
    let output = merge(&[completion], &sorted);
    assert_eq!(output.status.code(), Some(0));
    let indices: Vec<u64> = read_records(&sorted).iter().map(|r| r.index).collect();
    assert_eq!(indices, (0..30).collect::<Vec<_>>());

    // A run killed mid-line: the cut line is reported and left out, the rest is kept.
    let killed = dir.path().join("killed.jsonl");
    poolfetch()
        .args(["fetch", "-q", "-o"])
        .arg(&killed)
        .arg(&list)
        .status()
        .unwrap();
    let text = std::fs::read_to_string(&killed).unwrap();
    std::fs::write(&killed, &text[..text.len() - 40]).unwrap();
    let merged = dir.path().join("merged.jsonl");
    let output = merge(&[killed], &merged);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cut off"), "{stderr}");
    assert_eq!(read_records(&merged).len(), 29);
}

#[test]
fn shards_under_gnu_parallel_merge_to_the_unsharded_run() {
    if Command::new("parallel").arg("--version").output().is_err() {
        // .ci/run installs it and sets POOLFETCH_REQUIRE_PEERS, so CI never skips this.
        assert!(
            std::env::var_os("POOLFETCH_REQUIRE_PEERS").is_none(),
            "GNU parallel is required here (apt install parallel)"
        );
        common::skipped("GNU parallel is not installed (apt install parallel)");
        return;
    }
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let list = list(dir.path(), &server);
    let bin = assert_cmd::cargo::cargo_bin("poolfetch");
    let status = Command::new("parallel")
        .args(["--will-cite", "-j", "3"])
        .arg(format!(
            "{} fetch -q -p 2 --shard {{}}/3 -o {}/part{{}}.jsonl {}",
            bin.display(),
            dir.path().display(),
            list.display()
        ))
        .args([":::", "0", "1", "2"])
        .status()
        .unwrap();
    // parallel exits with the number of failed jobs: shard 1 holds every 404.
    assert_eq!(status.code(), Some(1));
    let parts: Vec<PathBuf> = (0..3)
        .map(|k| dir.path().join(format!("part{k}.jsonl")))
        .collect();
    let merged = dir.path().join("merged.jsonl");
    assert_eq!(merge(&parts, &merged).status.code(), Some(0));
    let whole = dir.path().join("whole.jsonl");
    poolfetch()
        .args(["fetch", "-q", "-o"])
        .arg(&whole)
        .arg(&list)
        .status()
        .unwrap();
    assert_eq!(
        essence(&read_records(&merged)),
        essence(&read_records(&whole))
    );
}
