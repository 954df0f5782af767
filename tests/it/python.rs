//! The Python package (`python/`), built and tested from `cargo test`: its wheel is built
//! with maturin into a virtual environment under `target/`, and pytest runs
//! `python/tests` against it. Needs python3 with venv and pip, and PyPI for maturin and
//! pytest the first time; without them the test says "skipped", unless
//! POOLFETCH_REQUIRE_PEERS is set (CI), when it fails.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Run `command` to its end (bounded), failing with its output if it fails.
fn run(what: &str, command: &mut Command, limit: Duration) -> Result<(), String> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{what}: {e}"))?;
    let out = child.stdout.take().map(common::read_in_background);
    let err = child.stderr.take().map(common::read_in_background);
    let (code, _) = common::wait_bounded(&mut child, limit);
    let text = |reader: Option<std::thread::JoinHandle<String>>| {
        reader.and_then(|r| r.join().ok()).unwrap_or_default()
    };
    let (out, err) = (text(out), text(err));
    if code == 0 {
        Ok(())
    } else {
        Err(format!("{what} ended with {code}:\n{out}\n{err}"))
    }
}

/// A virtual environment with maturin and pytest, made once under `target/`.
fn environment(root: &Path) -> Result<PathBuf, String> {
    let venv = root.join("target/python-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        run(
            "python3 -m venv",
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            Duration::from_secs(120),
        )?;
    }
    let has = |module: &str| {
        Command::new(&python)
            .args(["-c", &format!("import {module}")])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !has("maturin") || !has("pytest") {
        run(
            "pip install maturin pytest",
            Command::new(&python).args([
                "-m",
                "pip",
                "install",
                "-q",
                "maturin>=1.7,<2",
                "pytest>=7",
            ]),
            Duration::from_secs(300),
        )?;
    }
    Ok(python)
}

#[test]
fn the_python_package_builds_and_its_tests_pass() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let required = std::env::var_os("POOLFETCH_REQUIRE_PEERS").is_some();
    let python = match environment(&root) {
        Ok(python) => python,
        Err(why) if !required => {
            common::skipped(&format!(
                "no Python environment to build the package in ({why})"
            ));
            return;
        }
        Err(why) => panic!("{why}"),
    };
    let wheels = root.join("target/python-wheels");
    let _ = std::fs::remove_dir_all(&wheels);
    run(
        "maturin build",
        Command::new(&python)
            // The dev profile: the pytest suite asserts invariants, not speed, and a cold
            // release build of the binding took 4 to 5 minutes of a 2-core machine (dev: 47 s).
            .args(["-m", "maturin", "build", "--locked", "--out"])
            .arg(&wheels)
            .arg("--manifest-path")
            .arg(root.join("python/Cargo.toml"))
            .env("CARGO_TARGET_DIR", root.join("target/python")),
        Duration::from_secs(1200),
    )
    .unwrap();
    let wheel = std::fs::read_dir(&wheels)
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|e| e == "whl"))
        .expect("a wheel");
    run(
        "pip install the wheel",
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "-q",
                "--force-reinstall",
                "--no-deps",
            ])
            .arg(&wheel),
        Duration::from_secs(120),
    )
    .unwrap();
    run(
        "pytest",
        Command::new(&python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(root.join("python/tests"))
            // The tests import the installed wheel, not the sources.
            .current_dir(root.join("target"))
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost"),
        Duration::from_secs(600),
    )
    .unwrap();
}
