//! The `poolfetch` binary, driven as a user would, against the in-process server.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Command as StdCommand, Stdio};

use assert_cmd::Command;
use common::{assert_exit, closed_port, records, server};

fn poolfetch() -> Command {
    Command::cargo_bin("poolfetch").unwrap()
}

#[test]
fn stdin_urls_skip_comments_and_blank_lines() {
    let server = server();
    let input = format!(
        "# todos\n{}\n\n   \n# more\n{}\n{}\n",
        server.url("/todos/1"),
        server.url("/todos/2"),
        server.url("/todos/3")
    );
    let output = poolfetch()
        .args(["fetch", "-p", "2"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let records = records(&output.stdout);
    assert_eq!(records.len(), 3);
    for (i, record) in records.iter().enumerate() {
        assert_eq!(record.index, i as u64);
        assert!(record.url.ends_with(&format!("/todos/{}", i + 1)));
        assert_eq!(record.body.as_ref().unwrap()["id"], i as u64 + 1);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("3 requests, 3 ok, 0 failed"), "{stderr}");
}

#[test]
fn template_and_range_expand_inclusively_after_inline_urls() {
    let server = server();
    let template = server.url("/todos/{}");
    let output = poolfetch()
        .args(["fetch", "--body", "none", "--url"])
        .arg(server.url("/status/204"))
        .args(["--template", &template, "--range", "5..9"])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let records = records(&output.stdout);
    let urls: Vec<&str> = records.iter().map(|r| r.url.as_str()).collect();
    let mut expected = vec![server.url("/status/204")];
    expected.extend((5..=9).map(|i| server.url(&format!("/todos/{i}"))));
    assert_eq!(urls, expected);
    assert!(
        records
            .iter()
            .all(|r| r.body.is_none() && r.bytes > 0 || r.status == Some(204))
    );
}

#[test]
fn a_failing_input_gives_exit_code_one_and_still_a_record() {
    let server = server();
    let input = format!(
        "{}\nnot a url\nhttp://127.0.0.1:{}/\n{}\n",
        server.url("/todos/1"),
        closed_port(),
        server.url("/status/500")
    );
    let output = poolfetch()
        .arg("fetch")
        .write_stdin(input)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let records = records(&output.stdout);
    let kinds: Vec<Option<&str>> = records
        .iter()
        .map(|r| r.error.as_ref().map(|e| e.kind.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [None, Some("invalid_url"), Some("connect"), Some("status")]
    );
}

#[test]
fn the_async_engine_gives_the_same_records() {
    let server = server();
    let input = format!(
        "{}\nnot a url\n{}\n",
        server.url("/todos/4"),
        server.url("/status/404")
    );
    let run = |engine: &str| {
        let output = poolfetch()
            .args(["fetch", "--engine", engine, "-p", "2"])
            .write_stdin(input.clone())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1));
        records(&output.stdout)
    };
    let (threads, asynchronous) = (run("threads"), run("async"));
    assert_eq!(threads.len(), 3);
    for (a, b) in threads.iter().zip(&asynchronous) {
        assert_eq!(
            (a.index, &a.url, a.ok, a.status, a.bytes),
            (b.index, &b.url, b.ok, b.status, b.bytes)
        );
        assert_eq!(a.body, b.body);
        assert_eq!(
            a.error.as_ref().map(|e| e.kind),
            b.error.as_ref().map(|e| e.kind)
        );
    }
}

#[test]
fn files_and_output_file_work_together() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("urls.txt");
    std::fs::write(
        &list,
        format!("{}\n{}\n", server.url("/todos/7"), server.url("/todos/8")),
    )
    .unwrap();
    let out = dir.path().join("out.jsonl");
    let output = poolfetch()
        .args(["fetch", "-q", "--order", "completion", "-o"])
        .arg(&out)
        .arg(&list)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(output.stdout.is_empty(), "records go to -o, not stdout");
    assert!(output.stderr.is_empty(), "-q silences the summary");
    let records = records(&std::fs::read(&out).unwrap());
    let mut seen: Vec<u64> = records.iter().map(|r| r.index).collect();
    seen.sort();
    assert_eq!(seen, [0, 1]);
}

#[test]
fn usage_errors_are_one_line_and_exit_two_before_any_request() {
    let server = server();
    let url = server.url("/todos/1");
    let cases: Vec<Vec<String>> = vec![
        vec!["--pool".into(), "zero".into(), "--url".into(), url.clone()],
        vec!["--pool".into(), "0".into(), "--url".into(), url.clone()],
        vec![
            "--engine".into(),
            "fibers".into(),
            "--url".into(),
            url.clone(),
        ],
        vec![
            "--timeout".into(),
            "soon".into(),
            "--url".into(),
            url.clone(),
        ],
        vec![
            "--template".into(),
            url.clone(),
            "--range".into(),
            "1..3".into(),
        ],
        vec![
            "--template".into(),
            format!("{url}{{}}"),
            "--range".into(),
            "9..1".into(),
        ],
        vec!["--template".into(), format!("{url}{{}}")],
        vec!["/no/such/file.txt".into()],
        vec![
            "--max-body".into(),
            "lots".into(),
            "--url".into(),
            url.clone(),
        ],
        vec!["-H".into(), "NoColon".into(), "--url".into(), url.clone()],
        vec!["--bogus".into()],
        vec![
            "--json".into(),
            "{broken".into(),
            "--url".into(),
            url.clone(),
        ],
        vec![
            "--json".into(),
            "@/no/such/body.json".into(),
            "--url".into(),
            url.clone(),
        ],
        vec![
            "--json".into(),
            "{}".into(),
            "--form".into(),
            "a=b".into(),
            "--url".into(),
            url.clone(),
        ],
        vec![
            "--form".into(),
            "novalue".into(),
            "--url".into(),
            url.clone(),
        ],
        vec!["-X".into(), "G E T".into(), "--url".into(), url.clone()],
    ];
    // A directory after a good URL file, and an --output-dir that cannot be created: found
    // before the good file's URL is fetched.
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("urls.txt");
    std::fs::write(&list, format!("{url}\n")).unwrap();
    let path = |p: &std::path::Path| p.display().to_string();
    let mut cases = cases;
    cases.push(vec![path(&list), path(dir.path())]);
    cases.push(vec![path(&list), "--output-dir".into(), path(&list)]);
    for args in cases {
        let output = poolfetch().arg("fetch").args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        // poolfetch's own usage errors are one line; clap's keep their whole message (the
        // usage, a "similar argument" tip, the possible values).
        if stderr.starts_with("poolfetch: ") {
            assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr:?}");
        } else {
            assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        }
        assert!(output.stdout.is_empty(), "{args:?}");
    }
    assert_eq!(server.stats().requests, 0, "no usage error sent a request");
}

#[test]
fn serve_announces_its_address_on_the_first_line() {
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("poolfetch"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect(&line)
        .to_string();
    let answer = ureq::get(&format!("{url}/todos/3")).call();
    let _ = child.kill();
    let _ = child.wait();
    let body = answer.unwrap().into_body().read_to_string().unwrap();
    assert!(body.contains("\"id\":3"), "{body}");
}

#[test]
fn request_flags_and_per_line_forms_send_the_right_bytes() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let payload = dir.path().join("payload.json");
    std::fs::write(&payload, r#"{"from":"file"}"#).unwrap();
    let echo = |args: &[&str], stdin: String| {
        let output = poolfetch()
            .arg("fetch")
            .args(args)
            .write_stdin(stdin)
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        records(&output.stdout)
            .into_iter()
            .map(|r| (r.method, r.body.expect("echo")))
            .collect::<Vec<_>>()
    };
    let url = server.url("/post");
    let got = echo(
        &["--form", "a=1", "--form", "b=two words", "--url", &url],
        String::new(),
    );
    assert_eq!(got[0].0, "POST", "a body makes the default method POST");
    assert_eq!(got[0].1["data"], "a=1&b=two+words");
    let at_file = format!("@{}", payload.display());
    let got = echo(
        &["-X", "put", "--json", &at_file, "--url", &url],
        String::new(),
    );
    assert_eq!(got[0].0, "PUT");
    assert_eq!(got[0].1["json"]["from"], "file");
    assert_eq!(got[0].1["content_type"], "application/json");
    let got = echo(&["--data", "x=1&y=2", "--url", &url], String::new());
    assert_eq!(got[0].1["form"]["y"], "2");
    let todo = server.url("/todos/1");
    let lines = format!("POST {url} {{\"line\":1}}\nPATCH {url} k=v\nDELETE {url}\n{todo}\n");
    let got = echo(&["--body", "json"], lines);
    let methods: Vec<&str> = got.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(methods, ["POST", "PATCH", "DELETE", "GET"]);
    assert_eq!(got[0].1["json"]["line"], 1);
    assert_eq!(got[1].1["form"]["k"], "v");
    assert_eq!(got[2].1["bytes"], 0);
    assert_eq!(got[3].1["id"], 1);
}

#[test]
fn output_dir_saves_each_body_and_names_it_in_the_record() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("downloads");
    let output = poolfetch()
        .args(["fetch", "-q", "--output-dir"])
        .arg(&out)
        .args([
            "--url",
            &server.url("/bytes/70000"),
            "--url",
            &server.url("/todos/5"),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let records = records(&output.stdout);
    let first = records[0].file.as_ref().expect("file");
    assert!(first.ends_with("000000-70000"), "{first}");
    assert_eq!(std::fs::metadata(first).unwrap().len(), 70_000);
    let todo = std::fs::read_to_string(records[1].file.as_ref().unwrap()).unwrap();
    assert!(todo.contains("\"id\":5"));
    assert!(records.iter().all(|r| r.body.is_none()));
}

#[test]
fn clap_messages_are_whole_and_help_is_there_without_a_subcommand() {
    let output = poolfetch().output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for subcommand in ["fetch", "bench", "serve", "completions", "man"] {
        assert!(
            stderr.contains(subcommand),
            "{subcommand} missing from {stderr}"
        );
    }
    let hint = poolfetch().args(["fetch", "--pol", "5"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&hint.stderr);
    assert!(
        stderr.contains("similar argument exists: '--pool'"),
        "{stderr}"
    );
    let values = poolfetch()
        .args(["fetch", "--order", "random"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&values.stderr);
    assert!(stderr.contains("input, completion"), "{stderr}");
    let missing = poolfetch()
        .args(["fetch", "--template", "x{}"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("--range"), "{stderr}");
    let help = poolfetch().args(["serve", "--help"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&help.stdout);
    for route in [
        "GET  /bytes/N ",
        "GET  /drip/N/MS ",
        "/stats",
        "/keep-alive-then-close",
    ] {
        assert!(
            stdout.contains(route),
            "{route} missing from serve --help: {stdout}"
        );
    }
}

#[test]
fn every_help_line_fits_80_columns() {
    for command in [
        "",
        "fetch",
        "bench",
        "serve",
        "merge",
        "plot",
        "completions",
        "man",
    ] {
        for flag in ["-h", "--help"] {
            let output = poolfetch()
                .args([command, flag].iter().filter(|a| !a.is_empty()))
                // A wide terminal: the help still keeps to 80 columns.
                .env("COLUMNS", "200")
                .output()
                .unwrap();
            assert_eq!(output.status.code(), Some(0), "{command} {flag}");
            let text = String::from_utf8_lossy(&output.stdout);
            let long: Vec<&str> = text.lines().filter(|l| l.chars().count() > 80).collect();
            assert!(long.is_empty(), "{command} {flag}: {long:#?}");
        }
    }
}

#[test]
fn completions_and_the_manual_page_are_generated() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let output = poolfetch().args(["completions", shell]).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{shell}");
        let script = String::from_utf8_lossy(&output.stdout);
        assert!(
            script.contains("poolfetch") && script.contains("pool"),
            "{shell}"
        );
    }
    let man = poolfetch().arg("man").output().unwrap();
    assert_eq!(man.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&man.stdout).contains(".TH poolfetch 1"));
}

/// `man --dir` writes a page per subcommand, and each documents every long option its
/// `--help` lists.
#[test]
fn every_subcommand_has_a_manual_page_with_every_option() {
    let dir = tempfile::tempdir().unwrap();
    let written = poolfetch()
        .args(["man", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(written.status.code(), Some(0), "{written:?}");
    let page = |name: &str| {
        std::fs::read_to_string(dir.path().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .replace("\\-", "-")
    };
    assert!(page("poolfetch.1").contains("poolfetch-fetch"));
    // The fetch page says what a user needs beyond the options: exit codes, every record
    // field (the schema's), every error kind, and examples.
    let fetch = page("poolfetch-fetch.1");
    for section in ["EXIT STATUS", "RECORDS", "EXAMPLES"] {
        assert!(
            fetch.contains(&format!(".SH \"{section}\""))
                || fetch.contains(&format!(".SH {section}")),
            "{section}"
        );
    }
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("docs/record.schema.json").unwrap()).unwrap();
    for field in schema["properties"].as_object().unwrap().keys() {
        assert!(
            fetch.contains(field.as_str()),
            "poolfetch-fetch.1 lacks the field {field}"
        );
    }
    let kinds = &schema["properties"]["error"]["oneOf"][1]["properties"]["kind"]["enum"];
    for kind in kinds.as_array().unwrap() {
        assert!(
            fetch.contains(kind.as_str().unwrap()),
            "poolfetch-fetch.1 lacks {kind}"
        );
    }
    assert!(page("poolfetch.1").contains("EXIT STATUS"));
    for subcommand in [
        "fetch",
        "bench",
        "serve",
        "plot",
        "merge",
        "completions",
        "man",
    ] {
        let text = page(&format!("poolfetch-{subcommand}.1"));
        let help = poolfetch().args([subcommand, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&help.stdout).to_string();
        let options: Vec<&str> = help
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|word| word.starts_with("--") && word.len() > 2)
            .collect();
        assert!(options.len() >= 2, "{subcommand}: {options:?}");
        for option in options {
            assert!(
                text.contains(option),
                "poolfetch-{subcommand}.1 lacks {option}"
            );
        }
    }
}

/// Run `poolfetch ARGS` under a pseudo-terminal (`script`), as a user at a terminal would.
fn on_a_terminal(args: &str) -> String {
    let bin = assert_cmd::cargo::cargo_bin("poolfetch");
    let output = StdCommand::new("script")
        .args(["-qec", &format!("{} {args}", bin.display()), "/dev/null"])
        .output()
        .expect("script(1) from util-linux");
    String::from_utf8_lossy(&output.stdout).replace('\r', "\n")
}

#[test]
fn the_bar_shows_at_once_and_never_between_records_on_the_same_terminal() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("urls.txt");
    let urls: Vec<String> = (0..6)
        .map(|i| server.url(&format!("/delay/1200?n={i}")))
        .collect();
    std::fs::write(&list, urls.join("\n")).unwrap();
    let out = dir.path().join("out.jsonl");
    let screen = on_a_terminal(&format!(
        "fetch -p 3 {} -o {}",
        list.display(),
        out.display()
    ));
    // Before any request is done, the bar is there, with the total counted from the file.
    assert!(
        screen
            .lines()
            .any(|l| l.contains("0/6") && l.contains("3 in flight")),
        "{screen}"
    );
    assert!(screen.contains("6 requests, 6 ok, 0 failed"), "{screen}");
    assert!(screen.contains("status     200 ×6"), "{screen}");
    assert!(screen.contains("latency    p50"), "{screen}");
    // Records on the terminal itself: no bar frames among them.
    let screen = on_a_terminal(&format!("fetch -p 3 --url {}", server.url("/todos/1")));
    assert!(!screen.contains("in flight"), "{screen}");
    assert!(screen.contains("\"index\":0"), "{screen}");
    // Records to a pipe whose reader prints to the same terminal (`| jq`): no bar by default,
    // and --progress draws it anyway.
    let slow = server.url("/delay/400");
    let piped = |flag: &str| {
        let bin = assert_cmd::cargo::cargo_bin("poolfetch");
        let output = StdCommand::new("script")
            .args([
                "-qec",
                &format!(
                    "{} fetch {flag} -p 1 --url {slow} --url {slow} | cat",
                    bin.display()
                ),
                "/dev/null",
            ])
            .output()
            .expect("script(1) from util-linux");
        String::from_utf8_lossy(&output.stdout).replace('\r', "\n")
    };
    let screen = piped("");
    assert!(!screen.contains("in flight"), "{screen}");
    assert!(screen.contains("\"index\":1"), "{screen}");
    assert!(piped("--progress").contains("in flight"));
}

/// URLs are taken as arguments, as curl, xh and oha take them: anything with a scheme is a
/// URL, anything else a list file; the URLs come first, in the order given. A missing "file"
/// that looks like a host name gets a hint, and nothing is sent.
#[test]
fn urls_are_taken_as_arguments_beside_list_files() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list.txt");
    std::fs::write(&list, format!("{}\n", server.url("/todos/3"))).unwrap();
    let output = poolfetch()
        .args(["fetch", "-q", "--body", "none"])
        .arg(server.url("/todos/1"))
        .arg(&list)
        .arg(server.url("/todos/2"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let urls: Vec<String> = common::records(&output.stdout)
        .into_iter()
        .map(|r| r.url)
        .collect();
    assert_eq!(
        urls,
        [
            server.url("/todos/1"),
            server.url("/todos/2"),
            server.url("/todos/3")
        ]
    );
    server.reset_stats();
    let output = poolfetch()
        .args(["fetch", "example.invalid"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("did you mean https://example.invalid/"),
        "{stderr}"
    );
    assert_eq!(server.stats().requests, 0);
}

/// curl's names work as a curl user types them: `-s`, `-u`, `-A`, `-b`, `-L`, `-m`,
/// `--retry`, `-d`; a `-H` of the same header wins over the one a flag makes.
#[test]
fn curls_flag_names_are_taken() {
    let server = server();
    for engine in ["threads", "async"] {
        let output = poolfetch()
            .args([
                "fetch",
                "-s",
                "--engine",
                engine,
                "-u",
                "al:pw",
                "-A",
                "curlish/1",
            ])
            .args([
                "-b", "a=1; b=2", "-L", "-m", "5", "--retry", "1", "-d", "x=1",
            ])
            .arg(server.url("/echo"))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{engine}: {output:?}");
        assert!(output.stderr.is_empty(), "-s is silent: {output:?}");
        let record = common::records(&output.stdout).remove(0);
        let echo = record.body.expect("the echo");
        assert_eq!(echo["method"], "POST", "{engine}");
        assert_eq!(echo["data"], "x=1", "{engine}");
        let headers = &echo["headers"];
        assert_eq!(headers["authorization"], "Basic YWw6cHc=", "{engine}");
        assert_eq!(headers["user-agent"], "curlish/1", "{engine}");
        assert_eq!(headers["cookie"], "a=1; b=2", "{engine}");
        let own = poolfetch()
            .args([
                "fetch",
                "-s",
                "--engine",
                engine,
                "-A",
                "a",
                "-H",
                "User-Agent: b",
            ])
            .arg(server.url("/echo"))
            .output()
            .unwrap();
        let echo = common::records(&own.stdout)
            .remove(0)
            .body
            .expect("the echo");
        assert_eq!(echo["headers"]["user-agent"], "b", "{engine}");
    }
}

#[test]
fn curls_data_urlencode_resolve_and_advice() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("note.txt");
    std::fs::write(&file, "a b&c\n").unwrap();
    let at_file = format!("@{}", file.display());
    let named_file = format!("n@{}", file.display());
    let port = server
        .url("/")
        .split(':')
        .nth(2)
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    for engine in ["threads", "async"] {
        // -d first, then each --data-urlencode form, joined with '&': the bytes curl 7.88
        // sends for the same flags.
        let output = poolfetch()
            .args(["fetch", "-s", "--engine", engine, "--data-binary", "x=1"])
            .args(["--data-urlencode", "a b", "--data-urlencode", "c=d=e"])
            .args(["--data-urlencode", "=e f", "--data-urlencode", &at_file])
            .args(["--data-urlencode", &named_file])
            // A name only --resolve knows, to this machine.
            .args([
                "--resolve",
                &format!("api.poolfetch.invalid:{port}:127.0.0.1"),
            ])
            .arg(format!("http://api.poolfetch.invalid:{port}/echo"))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{engine}: {output:?}");
        let echo = common::records(&output.stdout)
            .remove(0)
            .body
            .expect("the echo");
        assert_eq!(
            echo["data"], "x=1&a+b&c=d%3De&e+f&a+b%26c%0A&n=a+b%26c%0A",
            "{engine}"
        );
        assert_eq!(
            echo["headers"]["host"],
            format!("api.poolfetch.invalid:{port}"),
            "{engine}"
        );
    }
    // curl's flags poolfetch does not take say what does it here, not a nearby name.
    for (flag, says) in [
        ("--retry-all-errors", "--retries N"),
        ("-Z", "-p/--pool"),
        ("--write-out=%{http_code}", "jq"),
        ("-O", "--output-dir"),
    ] {
        let output = poolfetch()
            .args(["fetch", flag])
            .arg(server.url("/"))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{flag}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(says) && !stderr.contains("similar"),
            "{flag}: {stderr}"
        );
    }
    let output = poolfetch()
        .args(["fetch", "--template", "http://h/{}", "--range", "0-499"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("Range: bytes=0-499"));
}

#[test]
fn the_summary_json_counts_what_the_records_say() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let (out, summary) = (
        dir.path().join("out.jsonl"),
        dir.path().join("summary.json"),
    );
    let urls = [
        server.url("/todos/1"),
        server.url("/status/503"),
        server.url("/status/404"),
        "not a url".to_string(),
        format!("http://127.0.0.1:{}/", closed_port()),
        server.url("/todos/2"),
    ];
    let output = poolfetch()
        .args(["fetch", "-q", "-p", "3", "--body", "none", "-o"])
        .arg(&out)
        .arg("--summary-json")
        .arg(&summary)
        .args(urls.iter().flat_map(|u| ["--url", u.as_str()]))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let records = common::read_records(&out);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let count = |keep: &dyn Fn(&poolfetch::Record) -> bool| {
        records.iter().filter(|r| keep(r)).count() as u64
    };
    assert_eq!(json["records"], records.len() as u64);
    assert_eq!(json["ok"], count(&|r| r.ok));
    assert_eq!(json["failed"], count(&|r| !r.ok));
    assert_eq!(json["responses"], count(&|r| r.status.is_some()));
    let sum = |field: &str| -> u64 {
        json[field]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum()
    };
    assert_eq!(sum("statuses"), json["responses"].as_u64().unwrap());
    assert_eq!(sum("errors"), json["failed"].as_u64().unwrap());
    assert_eq!(json["statuses"]["503"], 1);
    assert_eq!(json["errors"]["invalid_url"], 1);
    assert_eq!(json["errors"]["connect"], 1);
    let parts = ["ok", "failed", "interrupted", "never_sent"].map(|f| json[f].as_u64().unwrap());
    assert_eq!(parts.iter().sum::<u64>(), json["records"].as_u64().unwrap());
    assert_eq!(
        (json["engine"].as_str(), json["pool"].as_u64()),
        (Some("threads"), Some(3))
    );
    assert_eq!(json["all_ok"], false);
    assert!(
        json["latency_ms"]["p50"].as_f64().unwrap() <= json["latency_ms"]["max"].as_f64().unwrap()
    );
    let received: u64 = records.iter().map(|r| r.bytes).sum();
    assert_eq!(json["bytes_received"], received);
    // The summary onto the records is refused before any request.
    let refused = poolfetch()
        .args(["fetch", "-q", "-o"])
        .arg(&out)
        .arg("--summary-json")
        .arg(&out)
        .arg(server.url("/todos/1"))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let into_dir = poolfetch()
        .args(["fetch", "-q", "--summary-json"])
        .arg(dir.path())
        .arg(server.url("/todos/1"))
        .output()
        .unwrap();
    assert_eq!(into_dir.status.code(), Some(2));
    assert!(into_dir.stdout.is_empty(), "nothing was fetched");
}

#[test]
fn a_bare_fetch_on_a_terminal_says_it_reads_stdin() {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    use std::io::Write;
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    let terminal = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().unwrap())
        .unwrap();
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("poolfetch"))
        .arg("fetch")
        .stdin(terminal)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = common::read_in_background(child.stderr.take().unwrap());
    // Ctrl-D at the start of a line: the terminal ends the list there, empty (the terminal
    // holds it until poolfetch reads).
    let mut master = std::fs::File::from(master);
    master.write_all(b"\x04").unwrap();
    let (code, _) = common::wait_bounded(&mut child, std::time::Duration::from_secs(30));
    // Open until poolfetch is done: a terminal whose other side is closed reads as an error.
    drop(master);
    assert_eq!(code, 0);
    let stderr = stderr.join().unwrap();
    assert!(
        stderr.contains("reading URLs from stdin") && stderr.contains("Ctrl-D"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing to fetch"), "{stderr}");
}
