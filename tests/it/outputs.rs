//! Nothing silently wrong: `--resume`, `merge` and `plot` under hostile conditions keep the
//! first promise — one true record per input, files that are what their record says — or
//! refuse before any request with one line and exit 2 (3 when writing fails).

use crate::common;

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{assert_exit, poolfetch, read_records, server};
use poolfetch::server::Server;
use serde_json::Value;

/// A list of `n` URLs of `/todos/I` (I cycling through 1..=200, `?n=` keeps them apart).
fn todo_list(dir: &Path, server: &Server, n: usize) -> (PathBuf, Vec<String>) {
    let urls: Vec<String> = (0..n)
        .map(|i| server.url(&format!("/todos/{}?n={i}", i % 200 + 1)))
        .collect();
    let path = dir.join("list.txt");
    std::fs::write(&path, urls.join("\n") + "\n").unwrap();
    (path, urls)
}

/// `poolfetch fetch -q -p 8 -o OUT ARGS…`.
fn fetch(out: &Path, args: &[&str]) -> Output {
    poolfetch()
        .args(["fetch", "-q", "-p", "8", "-o"])
        .arg(out)
        .args(args)
        .output()
        .unwrap()
}

/// Exactly one record per input, in input order, each with its own input's URL.
#[track_caller]
fn assert_one_true_record_per_input(out: &Path, urls: &[String]) {
    let records = read_records(out);
    let indices: Vec<u64> = records.iter().map(|r| r.index).collect();
    assert_eq!(indices, (0..urls.len() as u64).collect::<Vec<_>>());
    for (record, url) in records.iter().zip(urls) {
        assert_eq!(&record.url, url, "index {}", record.index);
    }
}

/// The JSON lines of a file.
fn json_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn write_lines(path: &Path, lines: &[Value]) {
    let text: String = lines.iter().map(|v| format!("{v}\n")).collect();
    std::fs::write(path, text).unwrap();
}

/// Temporary files a replacement might have left beside `file`.
fn leftovers(file: &Path) -> Vec<String> {
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!(".{name}.")))
        .collect()
}

/// Run `script` under `sh` in a private mount namespace as root (so it may mount a tmpfs on
/// /dev and make device nodes without touching the machine's), with `$POOLFETCH` the binary.
/// `None` when that is not possible here (not root, or no unshare).
fn in_private_mounts(script: &str, server_args: &[&str]) -> Option<Output> {
    if !common::is_root() {
        return None;
    }
    let usable = Command::new("unshare")
        .args(["--mount", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !usable {
        return None;
    }
    let output = Command::new("unshare")
        .args(["--mount", "sh", "-c", script, "sh"])
        .args(server_args)
        .env("POOLFETCH", assert_cmd::cargo::cargo_bin("poolfetch"))
        .output()
        .unwrap();
    Some(output)
}

// 1 ─ inputs that cannot be read twice.

#[test]
fn a_resume_refuses_inputs_that_cannot_be_read_twice() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let (list, _) = todo_list(dir.path(), &server, 50);
    let out = dir.path().join("out.jsonl");
    let mut interrupted = fetch(&out, &[list.to_str().unwrap()]);
    assert_exit(&interrupted, 0);
    // Keep 20 records, as a killed run would.
    let kept: Vec<Value> = json_lines(&out).into_iter().take(20).collect();
    write_lines(&out, &kept);
    let before = std::fs::read(&out).unwrap();
    server.reset_stats();
    // A piped /dev/stdin (what `<(cat list)` also is).
    let mut child = poolfetch()
        .args(["fetch", "-q", "--resume", "-o"])
        .arg(&out)
        .arg("/dev/stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let text = std::fs::read(&list).unwrap();
    let _ = child.stdin.take().unwrap().write_all(&text);
    interrupted = child.wait_with_output().unwrap();
    assert_exit(&interrupted, 2);
    let stderr = String::from_utf8_lossy(&interrupted.stderr);
    assert!(stderr.contains("not a regular file"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // A FIFO.
    let fifo = dir.path().join("fifo");
    common::mkfifo(&fifo);
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            if let Ok(mut pipe) = std::fs::OpenOptions::new().write(true).open(fifo) {
                let _ = pipe.write_all(&text);
            }
        })
    };
    let output = poolfetch()
        .args(["fetch", "-q", "--resume", "-o"])
        .arg(&out)
        .arg(&fifo)
        .output()
        .unwrap();
    writer.join().unwrap();
    assert_exit(&output, 2);
    assert_eq!(server.stats().requests, 0, "nothing was sent");
    assert_eq!(std::fs::read(&out).unwrap(), before, "FILE untouched");
}

// 2 ─ an output in completion order, and a thousand shards, under a low open-file limit.

/// `poolfetch ARGS…` with the open-file limit (soft and hard) at 64.
fn with_64_open_files(args: &[&str]) -> Output {
    Command::new("bash")
        .args(["-c", "ulimit -n 64 && exec \"$0\" \"$@\""])
        .arg(assert_cmd::cargo::cargo_bin("poolfetch"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn an_output_in_any_order_is_resumed_with_few_files_open() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let (list, urls) = todo_list(dir.path(), &server, 3000);
    let out = dir.path().join("out.jsonl");
    assert_exit(&fetch(&out, &[list.to_str().unwrap()]), 0);
    // As an interrupted `--order completion` run leaves it, only scrambled far worse: 2,000
    // of the records, every one a run of its own (descending), a few of them cancelled.
    let mut lines = json_lines(&out);
    lines.retain(|v| v["index"].as_u64().unwrap() % 3 != 1);
    lines.reverse();
    for line in lines.iter_mut().step_by(97) {
        line["ok"] = Value::Bool(false);
        line["error"] = serde_json::json!({"kind": "cancelled", "message": "cancelled"});
    }
    let cancelled = lines.iter().filter(|v| v["ok"] == false).count() as u64;
    write_lines(&out, &lines);
    server.reset_stats();
    let output = with_64_open_files(&[
        "fetch",
        "-q",
        "-p",
        "8",
        "--resume",
        "-o",
        out.to_str().unwrap(),
        list.to_str().unwrap(),
    ]);
    assert_exit(&output, 0);
    assert_one_true_record_per_input(&out, &urls);
    assert!(read_records(&out).iter().all(|r| r.ok));
    assert_eq!(
        server.stats().requests,
        1000 + cancelled,
        "only what was missing"
    );
}

#[test]
fn a_thousand_shards_merge_with_few_files_open() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("one.jsonl");
    assert_exit(&fetch(&out, &["--url", &server.url("/todos/1")]), 0);
    let template = json_lines(&out).remove(0);
    let shards: Vec<String> = (0..1100u64)
        .map(|k| {
            let mut record = template.clone();
            record["index"] = k.into();
            let path = dir.path().join(format!("shard{k}.jsonl"));
            write_lines(&path, &[record]);
            path.to_str().unwrap().to_string()
        })
        .collect();
    let merged = dir.path().join("merged.jsonl");
    let mut args = vec!["merge", "-o", merged.to_str().unwrap()];
    args.extend(shards.iter().map(String::as_str));
    let output = with_64_open_files(&args);
    assert_exit(&output, 0);
    let indices: Vec<u64> = read_records(&merged).iter().map(|r| r.index).collect();
    assert_eq!(indices, (0..1100).collect::<Vec<_>>());
}

// 3 ─ FILE is a device or a link to a pipe.

#[test]
fn a_resume_onto_a_fifo_or_a_link_to_a_pipe_is_refused() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    common::mkfifo(&fifo);
    let url = server.url("/todos/1");
    let output = fetch(&fifo, &["--resume", "--url", &url]);
    assert_exit(&output, 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("FIFO, not a regular file"), "{stderr}");
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    // A link to a pipe, as /dev/stdout is when stdout is piped.
    let link = dir.path().join("stdout");
    std::os::unix::fs::symlink("/proc/self/fd/1", &link).unwrap();
    let output = fetch(&link, &["--resume", "--url", &url]);
    assert_exit(&output, 2);
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(server.stats().requests, 0);
}

use std::os::unix::fs::FileTypeExt;

#[test]
fn a_resume_onto_dev_null_is_refused_and_dev_null_stays() {
    let server = server();
    let url = server.url("/todos/1");
    let script = "mount -t tmpfs none /dev && mknod -m 666 /dev/null c 1 3 \
                  && ln -s /proc/self/fd/1 /dev/stdout \
                  && \"$POOLFETCH\" fetch -q --resume -o /dev/null --url \"$1\"; a=$?; \
                  \"$POOLFETCH\" fetch -q --resume -o /dev/stdout --url \"$1\" | cat; \
                  test -c /dev/null && test -L /dev/stdout && echo \"kept $a\"";
    let output = match in_private_mounts(script, &[&url]) {
        Some(output) => output,
        None => {
            if common::is_root() {
                common::skipped("root without a private mount namespace (unshare --mount)");
                return;
            }
            // Not root: nothing can be renamed over /dev/null, so run it for real.
            let output = poolfetch()
                .args(["fetch", "-q", "--resume", "-o", "/dev/null", "--url", &url])
                .output()
                .unwrap();
            assert_exit(&output, 2);
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("kept 2"), "{stdout} {output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("character device"), "{stderr}");
    assert_eq!(server.stats().requests, 0);
}

// 5 ─ a link planted where the temporary file used to be.

#[test]
fn a_link_planted_beside_file_is_never_written_through() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let (list, urls) = todo_list(dir.path(), &server, 30);
    let out = dir.path().join("out.jsonl");
    assert_exit(&fetch(&out, &[list.to_str().unwrap()]), 0);
    let kept: Vec<Value> = json_lines(&out).into_iter().take(10).collect();
    write_lines(&out, &kept);
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "precious\n").unwrap();
    std::os::unix::fs::symlink(&victim, dir.path().join(".out.jsonl.resume-tmp")).unwrap();
    let output = fetch(&out, &["--resume", list.to_str().unwrap()]);
    assert_exit(&output, 0);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert_one_true_record_per_input(&out, &urls);
    assert_eq!(
        leftovers(&out),
        [".out.jsonl.resume-tmp"],
        "only the planted link"
    );
}

// 7 ─ mode, links and read-only files.

#[test]
fn a_resume_keeps_what_file_is() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let (list, urls) = todo_list(dir.path(), &server, 30);
    let list = list.to_str().unwrap();
    let half = |out: &Path| {
        assert_exit(&fetch(out, &[list]), 0);
        let kept: Vec<Value> = json_lines(out).into_iter().take(10).collect();
        write_lines(out, &kept);
    };
    // Mode 0600 stays 0600.
    let private = dir.path().join("private.jsonl");
    half(&private);
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_exit(&fetch(&private, &["--resume", list]), 0);
    assert_eq!(std::fs::metadata(&private).unwrap().mode() & 0o777, 0o600);
    assert_one_true_record_per_input(&private, &urls);
    // A link stays a link; its target gets every record.
    let target = dir.path().join("target.jsonl");
    half(&target);
    let link = dir.path().join("link.jsonl");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    assert_exit(&fetch(&link, &["--resume", list]), 0);
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_one_true_record_per_input(&target, &urls);
    // A hard link is refused: replacing FILE would leave the other name with the old records.
    let linked = dir.path().join("linked.jsonl");
    half(&linked);
    std::fs::hard_link(&linked, dir.path().join("other-name.jsonl")).unwrap();
    let before = std::fs::read(&linked).unwrap();
    let output = fetch(&linked, &["--resume", list]);
    assert_exit(&output, 2);
    assert!(String::from_utf8_lossy(&output.stderr).contains("hard links"));
    assert_eq!(std::fs::read(&linked).unwrap(), before);
    // Read-only: refused as a plain -o refuses it (root may write anything, as with -o).
    let read_only = dir.path().join("read-only.jsonl");
    half(&read_only);
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o400)).unwrap();
    let output = fetch(&read_only, &["--resume", list]);
    if common::is_root() {
        assert_exit(&output, 0);
        assert_eq!(std::fs::metadata(&read_only).unwrap().mode() & 0o777, 0o400);
    } else {
        assert_exit(&output, 2);
        assert_eq!(read_records(&read_only).len(), 10);
    }
    for file in [&private, &target, &linked, &read_only] {
        assert!(
            leftovers(file).is_empty(),
            "{file:?}: {:?}",
            leftovers(file)
        );
    }
}

// 9 ─ the exit status describes FILE; a successful retry is never thrown away.

#[test]
fn a_plain_resume_keeps_successful_retries_and_its_exit_status_describes_file() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let (list, urls) = todo_list(dir.path(), &server, 40);
    let list = list.to_str().unwrap();
    let out = dir.path().join("out.jsonl");
    assert_exit(&fetch(&out, &[list]), 0);
    let good = json_lines(&out);
    // The first run: every record failed (a 503 each).
    let failed: Vec<Value> = good
        .iter()
        .map(|v| {
            let mut v = v.clone();
            v["ok"] = false.into();
            v["status"] = 503.into();
            v["body"] = Value::Null;
            v["error"] = serde_json::json!({"kind": "status", "message": "HTTP 503"});
            v
        })
        .collect();
    // Then `--resume --retry-failed`, killed before its compaction: 25 retries succeeded.
    let mut lines = failed.clone();
    lines.extend(good.iter().take(25).cloned());
    write_lines(&out, &lines);
    server.reset_stats();
    let output = fetch(&out, &["--resume", list]);
    assert_exit(&output, 1); // FILE still holds 15 failures (this run fetched nothing)
    assert_eq!(server.stats().requests, 0);
    assert_one_true_record_per_input(&out, &urls);
    let ok = read_records(&out).iter().filter(|r| r.ok).count();
    assert_eq!(ok, 25, "the successful retries are kept");
    let output = fetch(&out, &["--resume", "--retry-failed", list]);
    assert_exit(&output, 0);
    assert_eq!(server.stats().requests, 15);
    assert!(read_records(&out).iter().all(|r| r.ok));
}

// Loose ends.

#[test]
fn a_resume_with_nothing_left_says_so_without_a_rate() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let (list, _) = todo_list(dir.path(), &server, 5);
    let out = dir.path().join("out.jsonl");
    assert_exit(&fetch(&out, &[list.to_str().unwrap()]), 0);
    let again = poolfetch()
        .args(["fetch", "--resume", "-o"])
        .arg(&out)
        .arg(&list)
        .output()
        .unwrap();
    assert_exit(&again, 0);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("nothing to fetch (0 requests)"), "{stderr}");
    assert!(
        !stderr.contains("req/s") && !stderr.contains("received"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the output holds 5 records, 0 not ok"),
        "{stderr}"
    );
}

#[test]
fn a_failed_resume_leaves_no_temporary_file() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let (list, _) = todo_list(dir.path(), &server, 20);
    let out = dir.path().join("out.jsonl");
    assert_exit(&fetch(&out, &[list.to_str().unwrap()]), 0);
    let output = fetch(&out, &["--resume", "--url", &server.url("/todos/999")]);
    assert_exit(&output, 2);
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
}

#[test]
fn a_full_disk_at_resume_start_exits_3_and_leaves_file() {
    let server = server();
    let url = server.url("/todos/1");
    // A 160 KiB tmpfs holding a cut-off output, then filled to the last byte: the compacted
    // copy cannot be written.
    let script = "dir=$(mktemp -d) && mount -t tmpfs -o size=160k none \"$dir\" \
                  && \"$POOLFETCH\" fetch -q -o \"$dir/out.jsonl\" --template \"$1{}\" --range 1..100 \
                  && head -c 20000 \"$dir/out.jsonl\" > \"$dir/cut\" && mv \"$dir/cut\" \"$dir/out.jsonl\" \
                  && sum1=$(md5sum < \"$dir/out.jsonl\") \
                  && { head -c 400000 /dev/zero > \"$dir/filler\" 2>/dev/null; true; } \
                  && \"$POOLFETCH\" fetch -q --resume -o \"$dir/out.jsonl\" --template \"$1{}\" --range 1..100; \
                  a=$?; test \"$(md5sum < \"$dir/out.jsonl\")\" = \"$sum1\" && echo \"kept $a\"; \
                  ls -a \"$dir\"";
    let template = url.replace("/todos/1", "/todos/1?n=");
    let Some(output) = in_private_mounts(script, &[&template]) else {
        common::skipped("needs root and a private mount namespace to fill a small disk");
        return;
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("kept 3"),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!stdout.contains("poolfetch-tmp"), "{stdout}");
}

#[test]
fn merge_replaces_its_output_only_when_complete_and_says_when_writing_failed() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let (list, _) = todo_list(dir.path(), &server, 20);
    let good = dir.path().join("good.jsonl");
    assert_exit(&fetch(&good, &[list.to_str().unwrap()]), 0);
    let corrupt = dir.path().join("corrupt.jsonl");
    std::fs::write(&corrupt, "{\"index\": 3}\nnot json\n").unwrap();
    let existing = dir.path().join("existing.jsonl");
    std::fs::write(&existing, "keep me\n").unwrap();
    let output = poolfetch()
        .args(["merge", "-o"])
        .arg(&existing)
        .arg(&good)
        .arg(&corrupt)
        .output()
        .unwrap();
    assert_exit(&output, 2);
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me\n");
    assert!(leftovers(&existing).is_empty());
    let output = poolfetch()
        .args(["merge", "-o", "/dev/full"])
        .arg(&good)
        .output()
        .unwrap();
    assert_exit(&output, 3);
}

#[test]
fn plot_says_when_writing_failed_and_never_overwrites_its_records() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let (list, _) = todo_list(dir.path(), &server, 20);
    let records = dir.path().join("r.jsonl");
    assert_exit(&fetch(&records, &[list.to_str().unwrap()]), 0);
    let before = std::fs::read(&records).unwrap();
    let output = poolfetch()
        .args(["plot"])
        .arg(&records)
        .args(["-o", "/dev/full"])
        .output()
        .unwrap();
    assert_exit(&output, 3);
    assert!(!String::from_utf8_lossy(&output.stderr).contains("written"));
    let output = poolfetch()
        .args(["plot"])
        .arg(&records)
        .arg("-o")
        .arg(&records)
        .output()
        .unwrap();
    assert_exit(&output, 2);
    assert_eq!(std::fs::read(&records).unwrap(), before);
}

// The invariant they share: any sequence of runs, kills and resumes ends with one true record
// per input, and every file a record names is the body the server meant.

#[test]
fn kills_and_resumes_in_any_order_end_in_true_records_and_true_files() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let sizes: Vec<u64> = (0..40).map(|i| 1000 + i * 37_000).collect();
    let urls: Vec<String> = sizes
        .iter()
        .map(|n| server.url(&format!("/bytes/{n}")))
        .collect();
    let list = dir.path().join("list.txt");
    std::fs::write(&list, urls.join("\n") + "\n").unwrap();
    let out = dir.path().join("out.jsonl");
    let files = dir.path().join("files");
    let run = |extra: &[&str]| {
        let mut command = poolfetch();
        command
            .args([
                "fetch",
                "-q",
                "-p",
                "3",
                "--rate",
                "40",
                "--continue",
                "--output-dir",
            ])
            .arg(&files)
            .arg("-o")
            .arg(&out)
            .args(extra)
            .arg(&list)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    };
    let lines = |path: &Path| std::fs::read_to_string(path).map_or(0, |t| t.lines().count());
    // Kill with SIGKILL, SIGTERM and SIGINT after ever more records, resuming each time.
    for (step, signal) in [libc::SIGKILL, libc::SIGTERM, libc::SIGKILL, libc::SIGINT]
        .into_iter()
        .enumerate()
    {
        let extra: &[&str] = if step == 0 { &[] } else { &["--resume"] };
        let mut child = run(extra).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while lines(&out) < 5 + step * 8 {
            if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        common::signal(&child, signal);
        common::wait_bounded(&mut child, Duration::from_secs(30));
    }
    let status = run(&["--resume"]).status().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_one_true_record_per_input(&out, &urls);
    for (record, n) in read_records(&out).iter().zip(&sizes) {
        assert!(record.ok, "{record:?}");
        let file = PathBuf::from(record.file.as_ref().expect("a file"));
        let bytes = std::fs::read(&file).unwrap();
        let meant: Vec<u8> = (0..*n).map(|o| b'a' + (o % 65_536 % 26) as u8).collect();
        assert!(bytes == meant, "{file:?} is not the body");
    }
}
