//! README's examples run as written: every shell block from "Try it on the embedded server" to
//! "Records" is run by bash, in order, in an empty directory, with this build's `poolfetch` on
//! the PATH. Each command may end 0 or 1 (a record not ok is an answer); a usage error, a
//! write error, a crash or a hang fails the test.

use crate::common;

use std::process::Command;
use std::time::Duration;

#[test]
fn the_readme_examples_run_as_written() {
    if Command::new("jq").arg("--version").output().is_err() {
        let required = std::env::var_os("POOLFETCH_REQUIRE_PEERS").is_some();
        assert!(!required, "jq (in README's examples) is not installed");
        return common::skipped("jq (in README's examples) is not installed");
    }
    let readme = std::fs::read_to_string("README.md").expect("README.md");
    let start = readme
        .find("## Try it on the embedded server")
        .expect("the Try it section");
    let end = readme.find("## Records").expect("the Records section");
    let mut script = String::from(
        "trap 'kill $(jobs -p) 2>/dev/null' EXIT\n\
         trap 'rc=$?; if [ $rc -gt 1 ]; then echo \"exit $rc: $BASH_COMMAND\" >&2; exit 99; fi' ERR\n",
    );
    let mut blocks = 0;
    let mut rest = &readme[start..end];
    while let Some(open) = rest.find("```sh\n") {
        let body = &rest[open + 6..];
        let close = body.find("```").expect("a closed block");
        script.push_str(&body[..close]);
        blocks += 1;
        rest = &body[close + 3..];
    }
    assert!(blocks >= 6, "{blocks} blocks");
    let dir = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("poolfetch");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .env("PATH", path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read on the side, so a chatty script never stalls on a full pipe.
    let stderr = common::read_in_background(child.stderr.take().unwrap());
    let (code, _) = common::wait_bounded(&mut child, Duration::from_secs(120));
    let stderr = stderr.join().unwrap();
    assert_eq!(code, 0, "{stderr}");
    let merged = std::fs::read_to_string(dir.path().join("all.jsonl")).unwrap();
    assert_eq!(merged.lines().count(), 50, "the shards merge into one list");
    assert!(dir.path().join("h2.jsonl").exists());
}
