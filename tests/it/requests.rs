//! Requests as data (JSON Lines lists: each line its own method, headers, body, time limit
//! and `meta`) and response headers in records, through the binary against `/echo`.

use crate::common;

use common::{assert_exit, kind, per_engine, read_records, records, server};
use poolfetch::{EngineKind, ErrorKind};
use serde_json::{Value, json};

fn poolfetch() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("poolfetch").unwrap()
}

/// What `/echo` saw of a record's request.
fn echoed(record: &poolfetch::Record) -> &Value {
    record.body.as_ref().expect("an echo body")
}

per_engine!(each_json_line_sends_its_own_method_headers_and_body);

fn each_json_line_sends_its_own_method_headers_and_body(engine: EngineKind) {
    let server = server();
    let echo = server.url("/echo");
    let dir = tempfile::tempdir().unwrap();
    let upload = dir.path().join("upload.bin");
    std::fs::write(&upload, b"\x00\x01raw bytes").unwrap();
    let lines = [
        json!({"url": echo, "method": "PUT", "json": {"n": 123456789012345678901234567890u128}, "headers": {"X-Trace": "t-1"}, "meta": {"id": 17, "tags": ["a"]}}),
        json!({"url": echo, "form": [["a", "1"], ["a", "2 3"]], "headers": [["X-Twice", "1"], ["X-Twice", "2"]]}),
        json!({"url": echo, "method": "patch", "data": "k=v", "meta": "plain text"}),
        json!({"url": echo, "body_file": upload}),
        json!({"url": echo, "headers": {"User-Agent": "mine/1"}}),
        json!({"url": server.url("/delay/3000"), "timeout": 0.3, "meta": 5}),
    ];
    let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
    let output = poolfetch()
        .args([
            "fetch",
            "-q",
            "--engine",
            engine.name(),
            "-H",
            "User-Agent: run-wide",
        ])
        .write_stdin(text)
        .output()
        .unwrap();
    assert_exit(&output, 1);
    let records = records(&output.stdout);
    assert_eq!(records.len(), 6);
    let put = echoed(&records[0]);
    assert_eq!(put["method"], "PUT");
    assert_eq!(put["headers"]["x-trace"], "t-1");
    assert_eq!(put["headers"]["user-agent"], "run-wide");
    assert_eq!(put["data"], r#"{"n":123456789012345678901234567890}"#);
    assert_eq!(records[0].meta, Some(json!({"id": 17, "tags": ["a"]})));
    let form = echoed(&records[1]);
    assert_eq!(form["method"], "POST");
    assert_eq!(form["data"], "a=1&a=2+3");
    assert_eq!(
        form["headers"]["x-twice"], "1, 2",
        "both fields of a repeated name"
    );
    assert_eq!(records[1].meta, None);
    let patch = echoed(&records[2]);
    assert_eq!(
        (patch["method"].as_str(), patch["data"].as_str()),
        (Some("PATCH"), Some("k=v"))
    );
    assert_eq!(records[2].meta, Some(json!("plain text")));
    let file = echoed(&records[3]);
    assert_eq!(file["bytes"], 11);
    assert_eq!(
        file["content_type"],
        Value::Null,
        "a body_file is sent without a type"
    );
    assert_eq!(
        echoed(&records[4])["headers"]["user-agent"],
        "mine/1",
        "a line's header wins"
    );
    assert_eq!(
        kind(&records[5]),
        Some(ErrorKind::Timeout),
        "{:?}",
        records[5].error
    );
    assert_eq!(records[5].meta, Some(json!(5)));
    assert!(records[..5].iter().all(|r| r.ok));
}

#[test]
fn a_bad_line_is_one_invalid_request_record_with_its_line_number() {
    let server = server();
    let echo = server.url("/echo");
    let text = format!(
        "# requests\n{}\n\n{}\nnot json\n{}\n{}\n",
        json!({"url": echo}),
        json!({"url": echo, "mehtod": "GET"}),
        json!({"url": echo, "method": "GE T"}),
        json!({"url": echo, "json": 1, "data": "x"}),
    );
    let output = poolfetch()
        .args(["fetch", "-q"])
        .write_stdin(text)
        .output()
        .unwrap();
    assert_exit(&output, 1);
    let records = records(&output.stdout);
    assert_eq!(records.len(), 5, "one record per line");
    assert!(records[0].ok);
    let messages: Vec<String> = records[1..]
        .iter()
        .map(|r| {
            assert_eq!(kind(r), Some(ErrorKind::InvalidRequest), "{r:?}");
            assert_eq!(r.attempts, 0, "never sent");
            r.error.as_ref().unwrap().message.clone()
        })
        .collect();
    assert!(
        messages[0].starts_with("line 4: ") && messages[0].contains("`mehtod`"),
        "{messages:?}"
    );
    assert_eq!(records[1].url, echo, "the URL of a line that names one");
    assert!(
        messages[1].starts_with("line 5: not a JSON object"),
        "{messages:?}"
    );
    assert!(messages[2].starts_with("line 6: ") && messages[2].contains("not an HTTP method"));
    assert!(messages[3].starts_with("line 7: ") && messages[3].contains("not two"));
    let stats: Value = serde_json::from_str(&text_of(&server.url("/stats"))).unwrap();
    assert_eq!(
        stats["requests"], 1,
        "only the good line reached the server"
    );
}

/// The body of a GET of `url`, fetched with the binary itself.
fn text_of(url: &str) -> String {
    let output = poolfetch()
        .args(["fetch", "-q", "--body", "text", url])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let record = &records(&output.stdout)[0];
    record.body.as_ref().unwrap().as_str().unwrap().to_string()
}

#[test]
fn input_format_forces_how_lines_are_read() {
    let server = server();
    // A plain list whose first line is a URL: read as lines, so a JSON line later is one
    // bad URL; forced to jsonl, the URL line is the bad one.
    let text = format!(
        "{}\n{}\n",
        server.url("/todos/1"),
        json!({"url": server.url("/todos/2")})
    );
    let run = |format: &str| {
        let output = poolfetch()
            .args(["fetch", "-q", "--body", "none", "--input-format", format])
            .write_stdin(text.clone())
            .output()
            .unwrap();
        assert_exit(&output, 1);
        records(&output.stdout)
            .iter()
            .map(|r| r.error.as_ref().map(|e| e.kind))
            .collect::<Vec<_>>()
    };
    assert_eq!(run("auto"), [None, Some(ErrorKind::InvalidUrl)]);
    assert_eq!(run("lines"), [None, Some(ErrorKind::InvalidUrl)]);
    assert_eq!(run("jsonl"), [Some(ErrorKind::InvalidRequest), None]);
    let output = poolfetch()
        .args(["fetch", "--input-format", "yaml", "x"])
        .output()
        .unwrap();
    assert_exit(&output, 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("auto, lines, jsonl"), "{stderr}");
}

#[test]
fn a_json_list_resumes_and_an_edited_one_is_refused() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("requests.jsonl");
    let out = dir.path().join("out.jsonl");
    let lines = |second_id: u32| {
        format!(
            "{}\n{}\n{}\n",
            json!({"url": server.url("/todos/1"), "meta": {"id": 1}}),
            json!({"url": server.url("/todos/2"), "meta": {"id": second_id}}),
            json!({"url": server.url("/echo"), "method": "DELETE", "meta": {"id": 3}}),
        )
    };
    std::fs::write(&list, lines(2)).unwrap();
    // A first run that stopped after the first record.
    let first = poolfetch()
        .args(["fetch", "-q", "--shard", "0/3", "-o"])
        .arg(&out)
        .arg(&list)
        .output()
        .unwrap();
    assert_exit(&first, 0);
    let resumed = poolfetch()
        .args(["fetch", "-q", "--resume", "-o"])
        .arg(&out)
        .arg(&list)
        .output()
        .unwrap();
    assert_exit(&resumed, 0);
    let records = read_records(&out);
    let ids: Vec<Value> = records
        .iter()
        .map(|r| r.meta.clone().unwrap()["id"].clone())
        .collect();
    assert_eq!(ids, [json!(1), json!(2), json!(3)]);
    assert_eq!(records[2].method, "DELETE");
    // The same URLs with another id at line 2: not the same inputs.
    std::fs::write(&list, lines(9)).unwrap();
    let before = std::fs::read(&out).unwrap();
    let refused = poolfetch()
        .args(["fetch", "-q", "--resume", "-o"])
        .arg(&out)
        .arg(&list)
        .output()
        .unwrap();
    assert_exit(&refused, 2);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(r#"meta {"id":2}"#) && stderr.contains(r#"meta {"id":9}"#),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), before, "left as it was");
}

per_engine!(records_carry_response_headers_as_received);

fn records_carry_response_headers_as_received(engine: EngineKind) {
    let server = server();
    let url = server.url("/response-headers?Set-Cookie=a%3D1&X-One=1&Set-Cookie=b%3D2");
    let run = |flags: &[&str]| {
        let output = poolfetch()
            .args(["fetch", "-q", "--body", "none", "--engine", engine.name()])
            .args(flags)
            .arg(&url)
            .output()
            .unwrap();
        assert_exit(&output, 0);
        records(&output.stdout).remove(0).headers
    };
    let pair = |name: &str, value: &str| (name.to_string(), value.to_string());
    let all = run(&["--include-headers"]).expect("headers with --include-headers");
    let kept: Vec<_> = all
        .iter()
        .filter(|(name, _)| name == "set-cookie" || name == "x-one")
        .cloned()
        .collect();
    assert_eq!(
        kept,
        [
            pair("set-cookie", "a=1"),
            pair("set-cookie", "b=2"),
            pair("x-one", "1")
        ],
        "repeated names kept, in order"
    );
    assert!(
        all.iter().any(|(name, _)| name == "content-type"),
        "{all:?}"
    );
    // -i is --include-headers (the `date` field may have turned a second between the runs).
    let without_date = |headers: Vec<(String, String)>| {
        headers
            .into_iter()
            .filter(|(name, _)| name != "date")
            .collect::<Vec<_>>()
    };
    assert_eq!(run(&["-i"]).map(without_date), Some(without_date(all)));
    assert_eq!(
        run(&["--header-field", "SET-COOKIE"]),
        Some(vec![pair("set-cookie", "a=1"), pair("set-cookie", "b=2")])
    );
    assert_eq!(run(&[]), None, "no headers unless asked");
    let output = poolfetch()
        .args(["fetch", "--header-field", "bad name"])
        .arg(&url)
        .output()
        .unwrap();
    assert_exit(&output, 2);
}

per_engine!(a_word_before_a_url_is_its_method);

/// In a plain list, `get URL` is a GET, `GE"T URL` an `invalid_request` naming its line, and
/// a method outside the standard nine (`GETT`) goes out on the async engine and is refused
/// up front, never sent, on the thread engine (ureq sends only those).
fn a_word_before_a_url_is_its_method(engine: EngineKind) {
    let server = server();
    let url = server.url("/echo");
    let text = format!("get {url}\nGE\"T {url}\nGETT {url}\n");
    let output = poolfetch()
        .args(["fetch", "-q", "--engine", engine.name()])
        .write_stdin(text)
        .output()
        .unwrap();
    assert_exit(&output, 1);
    let records = records(&output.stdout);
    assert_eq!(echoed(&records[0])["method"], "GET");
    assert_eq!(kind(&records[1]), Some(ErrorKind::InvalidRequest));
    assert_eq!(records[1].method, "GE\"T");
    assert!(
        records[1]
            .error
            .as_ref()
            .unwrap()
            .message
            .starts_with("line 2: ")
    );
    match engine {
        EngineKind::Threads => {
            assert_eq!(kind(&records[2]), Some(ErrorKind::InvalidRequest));
            assert_eq!(records[2].attempts, 0, "never sent");
            assert!(
                records[2]
                    .error
                    .as_ref()
                    .unwrap()
                    .message
                    .contains("--engine async")
            );
        }
        _ => assert_eq!(echoed(&records[2])["method"], "GETT"),
    }
}

per_engine!(a_content_type_of_the_users_replaces_the_bodys);

/// `-H 'Content-Type: …'` (or a JSON line's own) with a JSON body is sent as the only
/// Content-Type on both engines (the thread engine sent both, joined).
fn a_content_type_of_the_users_replaces_the_bodys(engine: EngineKind) {
    let server = server();
    let echo = server.url("/echo");
    let line = json!({"url": echo, "json": {"a": 1}, "headers": {"content-type": "application/merge-patch+json"}});
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("one.jsonl");
    std::fs::write(&list, format!("{line}\n")).unwrap();
    let output = poolfetch()
        .args(["fetch", "-q", "--engine", engine.name()])
        .args(["-H", "Content-Type: application/vnd.api+json"])
        .args(["--json", r#"{"b": 2}"#, "--url", &echo])
        .arg(&list)
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let records = records(&output.stdout);
    assert_eq!(
        echoed(&records[0])["headers"]["content-type"],
        "application/vnd.api+json"
    );
    assert_eq!(
        echoed(&records[1])["headers"]["content-type"],
        "application/merge-patch+json"
    );
}
