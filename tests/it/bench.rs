//! `poolfetch bench` end to end: table, exports that parse back, and a well-formed SVG.

use crate::common;

use assert_cmd::Command;
use common::assert_exit;
use poolfetch::bench::BenchResult;

#[derive(serde::Deserialize)]
struct Document {
    tool: String,
    results: Vec<BenchResult>,
}

/// The way hyperfine's own analysis scripts (`scripts/advanced_statistics.py`,
/// `plot_whisker.py`, `plot_parametrized.py`) read an export: `results`, each with `command`,
/// `times`, `mean`, `stddev`, `median`, `min`, `max` in seconds and `parameters` as strings.
const HYPERFINE_READER: &str = r#"
import json, statistics, sys
with open(sys.argv[1]) as f:
    results = json.load(f)["results"]
labels = [b["command"] for b in results]
assert len(set(labels)) == len(labels), labels
for b in results:
    times = b["times"]
    assert abs(statistics.mean(times) - b["mean"]) < 1e-9, b["mean"]
    assert abs(statistics.median(times) - b["median"]) < 1e-9, b["median"]
    assert (min(times), max(times)) == (b["min"], b["max"])
    assert abs(statistics.stdev(times) - b["stddev"]) < 1e-9, b["stddev"]
    assert b["exit_codes"] == [0] * len(times), b["exit_codes"]
    pool = float(b["parameters"]["pool"])
    assert b["parameters"]["engine"] in ("threads", "async")
    print(b["command"], pool, b["mean"])
"#;

/// `path` read by [`HYPERFINE_READER`] with python3 (skipped without one).
fn hyperfine_reads(path: &std::path::Path) {
    let Ok(output) = std::process::Command::new("python3")
        .args(["-c", HYPERFINE_READER])
        .arg(path)
        .output()
    else {
        return common::skipped("no python3 to read the export as hyperfine's scripts do");
    };
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 4);
}

#[test]
fn bench_runs_end_to_end_with_every_export() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let output = Command::cargo_bin("poolfetch")
        .unwrap()
        .args([
            "bench",
            "--requests",
            "10",
            "--latency",
            "10ms",
            "--pools",
            "1,2",
            "--runs",
            "2",
        ])
        .args(["--engine", "threads", "--batch-size", "3", "--plot"])
        .arg(path("plot.svg"))
        .arg("--export-json")
        .arg(path("bench.json"))
        .arg("--export-csv")
        .arg(path("bench.csv"))
        .arg("--export-markdown")
        .arg(path("bench.md"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_exit(&output, 0);
    let setups = ["threads 1", "threads 1 b3", "threads 2", "threads 2 b3"];
    for setup in setups {
        assert!(
            stdout.lines().any(|l| l.starts_with(setup)),
            "{setup} missing from\n{stdout}"
        );
    }
    assert!(
        stdout.contains("faster than") || stdout.contains("about as fast as"),
        "{stdout}"
    );
    assert!(stdout.lines().all(|l| l.chars().count() <= 100), "{stdout}");
    assert!(stdout.contains("Pool size"), "{stdout}");

    let document: Document =
        serde_json::from_slice(&std::fs::read(path("bench.json")).unwrap()).unwrap();
    assert_eq!(document.tool, "poolfetch");
    assert_eq!(document.results.len(), 4);
    for result in &document.results {
        assert_eq!(result.runs.len(), 2);
        let ideal = result
            .ideal_ms
            .expect("the embedded server's latency is known");
        for run in &result.runs {
            assert_eq!(run.finished_ms.len(), 10);
            assert_eq!(run.ok, 10);
            // A lower bound only: no run can beat ceil(N / pool) waves of 10 ms.
            assert!(
                run.wall_ms >= ideal,
                "{} ms < ideal {ideal} ms",
                run.wall_ms
            );
            assert_eq!(run.connections, Some(result.setup.pool as u64));
        }
    }
    assert_eq!(document.results[0].ideal_ms, Some(100.0));
    assert_eq!(document.results[2].ideal_ms, Some(50.0));

    let csv = std::fs::read_to_string(path("bench.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().unwrap().clone();
    // The client's CPU per request: the engine's threads and the collector, measured (Linux).
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path("bench.json")).unwrap()).unwrap();
    for result in json["results"].as_array().unwrap() {
        let cpu = result["cpu_us_per_request"].as_f64();
        assert!(cpu.is_some_and(|us| us > 0.0), "{cpu:?}");
    }
    for column in [
        "p50_ms",
        "p90_ms",
        "p99_ms",
        "req_per_s",
        "cpu_us_per_request",
    ] {
        assert!(
            headers.iter().any(|h| h == column),
            "{column} in {headers:?}"
        );
    }
    assert_eq!(reader.records().count(), 4 * 2, "one row per timed run");
    let wall = csv.lines().nth(1).unwrap().split(',').nth(6).unwrap();
    assert!(
        wall.split('.').nth(1).is_none_or(|d| d.len() <= 3),
        "rounded: {wall}"
    );

    hyperfine_reads(&path("bench.json"));

    let markdown = std::fs::read_to_string(path("bench.md")).unwrap();
    assert_eq!(markdown.lines().count(), 2 + 4);
    assert!(
        markdown.starts_with("| Command | Mean [ms] | Min [ms] | Max [ms] | Relative |"),
        "hyperfine's columns first: {markdown}"
    );
    assert!(
        markdown
            .lines()
            .all(|l| l.starts_with('|') && l.ends_with('|'))
    );

    let svg = std::fs::read_to_string(path("plot.svg")).unwrap();
    let tree = roxmltree::Document::parse(&svg).expect("the plot is well-formed XML");
    assert_eq!(tree.root_element().tag_name().name(), "svg");
    assert!(
        svg.contains("pool 2") && svg.contains("gather per batch of 3"),
        "pools and batches in the legend"
    );
    assert!(
        svg.contains("finish time by index"),
        "the finish-time panel"
    );
    assert_readable_at_880_px(&svg);
    assert!(
        svg.contains("10 requests of 10ms"),
        "a title naming the workload"
    );
    assert!(svg.contains("ideal"));
}

/// Every text of the plot is at least 11 px when the SVG is shown 880 px wide, and the
/// finish-time axis is linear: its tick values are evenly spaced.
fn assert_readable_at_880_px(svg: &str) {
    let tree = roxmltree::Document::parse(svg).unwrap();
    let width: f64 = tree
        .root_element()
        .attribute("width")
        .unwrap()
        .parse()
        .unwrap();
    let mut sizes = Vec::new();
    let mut seconds = Vec::new();
    for text in tree.descendants().filter(|n| n.has_tag_name("text")) {
        let size: f64 = text
            .attribute("font-size")
            .expect("every text has a size")
            .trim_end_matches("px")
            .parse()
            .unwrap();
        sizes.push(size);
        let content = text.text().unwrap_or("").trim();
        if let Some(ms) = content
            .strip_suffix(" ms")
            .and_then(|v| v.parse::<f64>().ok())
        {
            seconds.push(ms / 1000.0);
        } else if let Some(s) = content
            .strip_suffix(" s")
            .and_then(|v| v.parse::<f64>().ok())
        {
            seconds.push(s);
        }
    }
    let smallest = sizes.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(
        smallest * 880.0 / width >= 11.0,
        "a {smallest} px text in a {width} px plot is {:.1} px at 880",
        smallest * 880.0 / width
    );
    seconds.sort_by(f64::total_cmp);
    seconds.dedup();
    assert!(seconds.len() >= 3, "time ticks: {seconds:?}");
    let step = seconds[1] - seconds[0];
    for pair in seconds.windows(2) {
        assert!(
            ((pair[1] - pair[0]) - step).abs() < step * 0.01,
            "time ticks not evenly spaced (a log axis?): {seconds:?}"
        );
    }
}

/// `plot` streams its input into a bounded picture: 50,000 records, or one record with an
/// absurd index, give a small file (it used to allocate a point per index: 4.7 GB and an
/// 815 MB SVG for index 100,000,000).
#[test]
fn plot_memory_and_size_do_not_grow_with_records_or_indices() {
    let dir = tempfile::tempdir().unwrap();
    let record = |index: u64, finished: f64| {
        format!(
            r#"{{"index":{index},"url":"http://127.0.0.1:9/","method":"GET","ok":true,"status":200,"http_version":"HTTP/1.1","bytes":2,"attempts":1,"worker":0,"queued_ms":0.0,"started_ms":0.0,"finished_ms":{finished},"body":null,"file":null,"error":null}}"#
        )
    };
    let many: String = (0..50_000u64)
        .map(|i| record(i, (i / 5 + 1) as f64 * 50.0) + "\n")
        .collect();
    for ((name, text), waterfall) in [
        ("many", many),
        ("absurd", record(100_000_000_000_000_000, 10.0)),
        ("largest", record(u64::MAX, 10.0)),
    ]
    .into_iter()
    .flat_map(|input| [(input.clone(), false), (input, true)])
    {
        let input = dir.path().join(format!("{name}.jsonl"));
        let svg = dir.path().join(format!("{name}-{waterfall}.svg"));
        std::fs::write(&input, text).unwrap();
        let output = Command::cargo_bin("poolfetch")
            .unwrap()
            .arg("plot")
            .args(waterfall.then_some("--waterfall"))
            .arg(&input)
            .arg("-o")
            .arg(&svg)
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{name}: {output:?}");
        let size = std::fs::metadata(&svg).unwrap().len();
        assert!(size < 1 << 20, "{name}: a {size}-byte SVG");
        roxmltree::Document::parse(&std::fs::read_to_string(&svg).unwrap()).unwrap();
    }
}

#[test]
fn bad_output_paths_are_refused_before_measuring() {
    let output = Command::cargo_bin("poolfetch")
        .unwrap()
        .args(["bench", "--requests", "100000", "--latency", "1s"])
        .args(["--export-json", "/no/such/dir/bench.json"])
        .timeout(std::time::Duration::from_secs(20))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/no/such/dir/bench.json"), "{stderr}");
}

#[test]
fn plot_draws_any_fetch_output() {
    let server = poolfetch::server::Server::start(Default::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records.jsonl");
    let svg = dir.path().join("curve.svg");
    let fetched = Command::cargo_bin("poolfetch")
        .unwrap()
        .args(["fetch", "-q", "-p", "3", "-o"])
        .arg(&records)
        .args([
            "--template",
            &server.url("/delay/20?n={}"),
            "--range",
            "1..9",
        ])
        .output()
        .unwrap();
    assert_eq!(fetched.status.code(), Some(0));
    let plotted = Command::cargo_bin("poolfetch")
        .unwrap()
        .arg("plot")
        .arg(&records)
        .arg("-o")
        .arg(&svg)
        .output()
        .unwrap();
    assert_eq!(plotted.status.code(), Some(0));
    let text = std::fs::read_to_string(&svg).unwrap();
    roxmltree::Document::parse(&text).expect("well-formed SVG");
    assert!(text.contains("9 finished (9 ok)"), "{text}");
    // The waterfall: a bar per request, each at least queued-or-waiting, readable at 880 px.
    let waterfall = dir.path().join("waterfall.svg");
    let drawn = Command::cargo_bin("poolfetch")
        .unwrap()
        .args(["plot", "--waterfall"])
        .arg(&records)
        .arg("-o")
        .arg(&waterfall)
        .output()
        .unwrap();
    assert_eq!(drawn.status.code(), Some(0), "{drawn:?}");
    let text = std::fs::read_to_string(&waterfall).unwrap();
    assert_readable_at_880_px(&text);
    let tree = roxmltree::Document::parse(&text).unwrap();
    let bars = tree
        .descendants()
        .filter(|n| n.has_tag_name("rect"))
        .count();
    // 9 requests, each split into at least 2 phases (waiting, and queued or connect), plus
    // the background, the legend box and its 6 swatches.
    assert!(bars >= 9 * 2 + 8, "{bars} rects");
    let texts: Vec<&str> = tree
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(str::trim))
        .collect();
    for phase in [
        "queued",
        "dns",
        "connect",
        "tls",
        "waiting (first byte)",
        "body",
    ] {
        assert!(texts.contains(&phase), "no legend for {phase}: {texts:?}");
    }
    let not_records = Command::cargo_bin("poolfetch")
        .unwrap()
        .arg("plot")
        .arg(&svg)
        .output()
        .unwrap();
    assert_eq!(not_records.status.code(), Some(2));
}

#[test]
fn bench_compares_both_engines_in_one_table() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let output = Command::cargo_bin("poolfetch")
        .unwrap()
        .args([
            "bench",
            "--requests",
            "8",
            "--latency",
            "5ms",
            "--pools",
            "2,0",
            "--engine",
            "async",
        ])
        .arg("--no-plot")
        .arg("--export-json")
        .arg(&json)
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("async pool 2") && stdout.contains("async unbounded"),
        "{stdout}"
    );
    let document: Document = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let unbounded = &document.results[1];
    assert_eq!(
        unbounded.ideal_ms,
        Some(5.0),
        "one wave when nothing limits concurrency"
    );
    assert!(unbounded.runs[0].wall_ms >= 5.0);

    let both = Command::cargo_bin("poolfetch")
        .unwrap()
        .args([
            "bench",
            "--requests",
            "4",
            "--latency",
            "1ms",
            "--pools",
            "2",
            "--no-plot",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&both.stdout);
    assert!(
        stdout.contains("threads pool 2") && stdout.contains("async pool 2"),
        "default engines: {stdout}"
    );
}

#[test]
fn bench_rejects_a_bad_plan_with_exit_2() {
    for args in [
        vec!["bench", "--pools", "0", "--engine", "threads"],
        vec!["bench", "--requests", "0"],
        vec!["bench", "--pools", "a,b"],
    ] {
        let output = Command::cargo_bin("poolfetch")
            .unwrap()
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        // poolfetch's own plan errors are one line; clap's keep their whole message.
        if stderr.starts_with("poolfetch: ") {
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
        } else {
            assert!(stderr.starts_with("error: "), "{stderr}");
        }
    }
}

#[test]
fn bench_sends_methods_bodies_and_headers_to_one_url_without_a_placeholder() {
    let server = poolfetch::server::Server::start(Default::default()).unwrap();
    let output = Command::cargo_bin("poolfetch")
        .unwrap()
        .args([
            "bench",
            "--requests",
            "6",
            "--pools",
            "2",
            "--engine",
            "threads",
            "--runs",
            "1",
        ])
        .args([
            "--no-plot",
            "-X",
            "PUT",
            "--json",
            r#"{"a":1}"#,
            "-H",
            "X-Test: 1",
        ])
        .args(["--url", &server.url("/post")])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert!(String::from_utf8_lossy(&output.stdout).contains("threads 2"));
    assert_eq!(server.stats().requests, 6, "the same URL, six times");
}

#[test]
fn bench_runs_http2_as_a_third_contender_on_one_connection() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let output = Command::cargo_bin("poolfetch")
        .unwrap()
        .args([
            "bench",
            "--requests",
            "12",
            "--latency",
            "5ms",
            "--pools",
            "4",
        ])
        .args([
            "--engine",
            "threads,async,async-h2",
            "--no-plot",
            "--export-json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let document: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let results = document["results"].as_array().unwrap();
    let engines: Vec<&str> = results
        .iter()
        .map(|r| r["setup"]["engine"].as_str().unwrap())
        .collect();
    assert_eq!(engines, ["threads", "async", "async-h2"]);
    // HTTP/1.1 opens a connection per request in flight; HTTP/2 carries them on one.
    assert_eq!(results[1]["connections"], 4);
    assert_eq!(results[2]["connections"], 1);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("async-h2 pool 4"), "{stdout}");
}

/// A run stopped by Ctrl-C, drawn: the never-sent requests are not drawn as finishing at the
/// stop, the interrupted ones are marked apart, and the captions count what is drawn.
#[test]
fn a_stopped_runs_plot_draws_each_request_for_what_happened_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let line = |index: u64, attempts: u32, kind: Option<&str>, finished: f64| {
        serde_json::json!({
            "index": index, "url": format!("http://h/{index}"), "method": "GET",
            "ok": kind.is_none(), "status": kind.is_none().then_some(200), "bytes": 0,
            "attempts": attempts, "worker": (attempts > 0).then_some(index % 2),
            "queued_ms": 0.0, "started_ms": if attempts > 0 { finished - 100.0 } else { finished },
            "finished_ms": finished, "body": null, "file": null,
            "error": kind.map(|k| serde_json::json!({"kind": k, "message": "stopped"})),
        })
        .to_string()
            + "\n"
    };
    // 4 finished in two waves, 2 cut off at the stop (900 ms), 6 never sent.
    let mut text = String::new();
    for index in 0..4 {
        text += &line(index, 1, None, 100.0 * (1 + index / 2) as f64);
    }
    for index in 4..6 {
        text += &line(index, 1, Some("cancelled"), 900.0);
    }
    for index in 6..12 {
        text += &line(index, 0, Some("cancelled"), 900.0);
    }
    let records = dir.path().join("stopped.jsonl");
    std::fs::write(&records, text).unwrap();
    for waterfall in [false, true] {
        let svg = dir.path().join(format!("stopped-{waterfall}.svg"));
        let output = Command::cargo_bin("poolfetch")
            .unwrap()
            .arg("plot")
            .args(waterfall.then_some("--waterfall"))
            .arg(&records)
            .arg("-o")
            .arg(&svg)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        let text = std::fs::read_to_string(&svg).unwrap();
        let tree = roxmltree::Document::parse(&text).unwrap();
        let texts: String = tree
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .collect::<Vec<_>>()
            .join(" | ");
        assert!(texts.contains("12 records"), "{texts}");
        assert!(texts.contains("2 interrupted"), "{texts}");
        assert!(texts.contains("6 never sent (not drawn)"), "{texts}");
        if waterfall {
            assert!(texts.contains("6 requests, one bar each"), "{texts}");
        } else {
            assert!(
                texts.contains("4 finished (4 ok), last at 0.20 s"),
                "{texts}"
            );
            // The curve holds the 4 finished requests, not the 8 that never finished.
            let curve = tree
                .descendants()
                .filter(|n| n.has_tag_name("polyline"))
                .filter_map(|n| n.attribute("points"))
                .map(|points| points.split_whitespace().count())
                .max()
                .unwrap();
            assert_eq!(curve, 4, "{text}");
        }
    }
}
