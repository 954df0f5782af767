//! The sections the manual pages add to clap's: exit status, the record's fields and
//! examples (clap renders options; what a page owes a user beyond them is written here).

use clap_mangen::roff::{Roff, bold, roman};

/// `(code, meaning)`: the exit codes of `fetch` (and of the tool).
const EXIT_STATUS: [(&str, &str); 5] = [
    ("0", "every record ok"),
    ("1", "some record not ok (its error says why)"),
    (
        "2",
        "a usage or input error, said in one line before any request",
    ),
    (
        "3",
        "records could not be written (a full disk, a closed pipe)",
    ),
    (
        "128 + N",
        "stopped by signal N (130 Ctrl-C, 143 SIGTERM): every input read has a record",
    ),
];

/// `(field, meaning)`: a record's fields (docs/record.schema.json is the schema).
const FIELDS: [(&str, &str); 16] = [
    ("index", "position among the inputs, from 0"),
    ("url, method", "what was asked, user:password@ redacted"),
    ("ok", "a status below 400 and no transport error"),
    (
        "status, http_version",
        "what answered; null when nothing did",
    ),
    (
        "final_url, content_type, remote_addr",
        "after redirects; the ip:port",
    ),
    ("bytes", "body bytes as they came over the wire"),
    (
        "content_encoding, decoded_bytes",
        "only when a body was decoded",
    ),
    ("attempts", "requests sent; 0 when never sent"),
    ("worker", "the pool thread or task that ran it"),
    (
        "queued_ms, started_ms, finished_ms",
        "ms since the run started",
    ),
    ("started_at", "the start, RFC 3339 UTC"),
    (
        "dns_ms, connect_ms, tls_ms, ttfb_ms",
        "phases, ms since started_ms",
    ),
    (
        "body, body_lossy",
        "parsed JSON, text, base64 or null (--body)",
    ),
    ("file, resumed_from", "with --output-dir and --continue"),
    ("headers, meta", "with -i; a JSON request's own meta"),
    (
        "error",
        "{kind, message}: kind is invalid_url, invalid_request, dns, connect, timeout, tls, \
         status, protocol, redirect, io, too_large, cancelled or internal",
    ),
];

/// `(what, command)` examples of `fetch`.
const FETCH_EXAMPLES: [(&str, &str); 6] = [
    (
        "Fetch two URLs, records on stdout",
        "poolfetch fetch https://example.com/a https://example.com/b",
    ),
    (
        "A list, 20 at a time, records to a file",
        "poolfetch fetch -p 20 -o records.jsonl urls.txt",
    ),
    (
        "Continue a run that was killed",
        "poolfetch fetch -p 20 -o records.jsonl --resume urls.txt",
    ),
    (
        "Requests as data: a JSON object per line",
        "echo '{\"url\": \"https://example.com/x\", \"method\": \"PUT\", \"json\": {\"a\": 1}, \"meta\": {\"id\": 7}}' | poolfetch fetch",
    ),
    (
        "Only the failures",
        "poolfetch fetch urls.txt | jq -c 'select(.ok | not) | {index, url, error}'",
    ),
    (
        "A summary for a script",
        "poolfetch fetch -q --summary-json summary.json -o records.jsonl urls.txt",
    ),
];

/// `(what, command)` examples of the tool.
const TOOL_EXAMPLES: [(&str, &str); 3] = [
    (
        "The stepwise curve on the embedded server",
        "poolfetch bench",
    ),
    (
        "Fetch a list of URLs",
        "poolfetch fetch -p 20 -o records.jsonl urls.txt",
    ),
    (
        "Draw a run's waves",
        "poolfetch plot records.jsonl -o curve.svg",
    ),
];

/// The sections added to the page of `name` (`poolfetch`, `poolfetch-fetch`, …), as roff.
pub fn extra_sections(name: &str) -> Vec<u8> {
    let mut roff = Roff::new();
    let examples: &[(&str, &str)] = match name {
        "poolfetch" => &TOOL_EXAMPLES,
        "poolfetch-fetch" => &FETCH_EXAMPLES,
        _ => &[],
    };
    if matches!(name, "poolfetch" | "poolfetch-fetch") {
        roff.control("SH", ["EXIT STATUS"]);
        for (code, meaning) in EXIT_STATUS {
            roff.control("TP", [])
                .text([bold(code)])
                .text([roman(meaning)]);
        }
    }
    if name == "poolfetch-fetch" {
        roff.control("SH", ["RECORDS"]);
        roff.text([roman(
            "One JSON object per line, one per input, whatever happens. Its fields:",
        )]);
        for (field, meaning) in FIELDS {
            roff.control("TP", [])
                .text([bold(field)])
                .text([roman(meaning)]);
        }
    }
    if !examples.is_empty() {
        roff.control("SH", ["EXAMPLES"]);
        for (what, command) in examples {
            roff.control("TP", [])
                .text([roman(*what)])
                .text([bold(*command)]);
        }
    }
    roff.to_roff().into_bytes()
}
