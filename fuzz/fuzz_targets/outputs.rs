//! Fuzz what reads earlier outputs: arbitrary bytes as the FILE of `--resume` must end in a
//! clean refusal that leaves FILE as it was, or in a FILE that — once the inputs it calls
//! missing are fetched — holds exactly one record per input, each with its own input's URL.
//! `merge` of the same bytes must refuse, or write records in strictly ascending index order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolfetch::fuzzing::{compact, compact_unchecked, merge};

/// The inputs every case is checked against.
const INPUTS: u64 = 8;

fn url(index: u64) -> String {
    format!("http://h/{index}")
}

/// A record of what a run fetched for input `index`.
fn fetched(index: u64) -> String {
    format!(
        r#"{{"index":{index},"url":"{}","method":"GET","ok":true,"status":200,"bytes":0,"attempts":1,"worker":0,"queued_ms":0.0,"started_ms":0.0,"finished_ms":1.0,"body":null,"file":null,"error":null}}"#,
        url(index)
    )
}

/// (index, url) of every line of `text`, which must all be records.
fn records(text: &str) -> Vec<(u64, String)> {
    text.lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            let index = value["index"].as_u64().expect("an index");
            (index, value["url"].as_str().expect("a url").to_string())
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, file)) = data.split_first() else {
        return;
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("out.jsonl");
    std::fs::write(&path, file).expect("FILE written");
    let urls: Vec<String> = (0..INPUTS).map(url).collect();

    match merge(&[path.clone()]) {
        Ok(merged) => {
            let text = String::from_utf8(merged).expect("merge writes the lines it read");
            let indices: Vec<u64> = records(&text).into_iter().map(|(i, _)| i).collect();
            assert!(indices.windows(2).all(|w| w[0] < w[1]), "{indices:?}");
        }
        Err(_) => {}
    }

    match compact(&path, &urls, flags & 1 == 1) {
        Err(_) => assert_eq!(std::fs::read(&path).expect("FILE"), file, "a refusal leaves FILE"),
        Ok(done) => {
            let text = std::fs::read_to_string(&path).expect("FILE is text");
            let kept = records(&text);
            for window in kept.windows(2) {
                assert!(window[0].0 < window[1].0, "one record per index, in order");
            }
            for (index, url) in &kept {
                assert_eq!(url, &urls[*index as usize], "index {index} has its own URL");
            }
            // The run: every input not done gets a record, appended.
            let mut appended = text;
            for index in (0..INPUTS).filter(|i| !done.contains(i)) {
                appended.push_str(&fetched(index));
                appended.push('\n');
            }
            std::fs::write(&path, &appended).expect("FILE appended");
            compact_unchecked(&path).expect("the final compaction");
            let last = records(&std::fs::read_to_string(&path).expect("FILE"));
            let indices: Vec<u64> = last.iter().map(|(i, _)| *i).collect();
            assert_eq!(indices, (0..INPUTS).collect::<Vec<_>>(), "one record per input");
            for (index, url) in &last {
                assert_eq!(url, &urls[*index as usize]);
            }
        }
    }
});
