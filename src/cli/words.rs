//! The command line's words for the library's errors: the library names settings, never a
//! flag (a Python user never typed `--pool`); here each error names the flag the user typed.

use poolfetch::bench::BenchError;
use poolfetch::job::JobError;
use poolfetch::{ConfigError, InputError};

/// A settings error, as the command line says it.
pub fn config(error: &ConfigError) -> String {
    match error {
        ConfigError::ZeroPool => {
            "--pool must be at least 1 (--pool 0, no limit, needs --engine async)".into()
        }
        ConfigError::ZeroWindow => "--window must be at least 1".into(),
        ConfigError::ZeroBatch => "--batch-size must be at least 1".into(),
        ConfigError::ZeroTimeout => "--timeout and --max-time must be more than 0".into(),
        ConfigError::CaFile { path, why } => format!("--cacert {}: {why}", path.display()),
        ConfigError::OutputDir { path, reason } => {
            format!("cannot create --output-dir {}: {reason}", path.display())
        }
        ConfigError::BadShard => "--shard K/N needs 0 <= K < N".into(),
        ConfigError::ClientCert { path, why } => format!("--cert/--key {}: {why}", path.display()),
        ConfigError::KeyWithoutCert => "--key needs --cert (the certificate it goes with)".into(),
        ConfigError::Http2NeedsAsync => "--http2 and --http2-prior-knowledge need --engine async \
                                         (the thread engine speaks HTTP/1.1 only)"
            .into(),
        other => other.to_string(),
    }
}

/// An inputs error, as the command line says it.
pub fn input(error: &InputError) -> String {
    match error {
        InputError::BadRange(range) => {
            format!("invalid --range {range:?}: expected A..B with A <= B, e.g. 1..199")
        }
        InputError::NoPlaceholder(template) => {
            format!("--template {template:?} has no '{{}}' placeholder")
        }
        InputError::Open { path, source } if source.kind() == std::io::ErrorKind::NotFound => {
            // A missing "file" that looks like a host name was meant as a URL.
            let text = path.to_string_lossy();
            let host_like = !text.contains('/')
                && text.contains('.')
                && !text.ends_with(".txt")
                && text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c));
            if host_like {
                format!("cannot read {text}: no such file (did you mean https://{text}/ ?)")
            } else {
                error.to_string()
            }
        }
        other => other.to_string(),
    }
}

/// A job's refusal, as the command line says it.
pub fn job(error: &JobError) -> String {
    match error {
        JobError::OutputIsAnInput { output, input } => format!(
            "-o {}: that is an input ({input}); refusing to overwrite it",
            output.display()
        ),
        JobError::RetryFailedNeedsResume => "--retry-failed needs --resume".into(),
        JobError::ResumeNeedsFile => "--resume needs -o FILE (the output to resume)".into(),
        JobError::ResumeNeedsInputOrder => {
            "--resume keeps records in input order: drop --order completion".into()
        }
        JobError::ResumeNeedsFiles { input } if input == "stdin" => {
            "--resume reads the inputs twice: give files, --url or --template, not stdin".into()
        }
        JobError::ResumeNeedsFiles { input } => format!(
            "--resume reads the inputs twice, and {input} cannot be; save the list to a file \
             first (e.g. cmd > list.txt) and give that"
        ),
        JobError::Input(error) => self::input(error),
        JobError::Settings(error) => config(error),
        other => other.to_string(),
    }
}

/// A bench plan's refusal, as the command line says it.
pub fn bench(error: &BenchError) -> String {
    match error {
        BenchError::Config(error) => config(error),
        BenchError::NoRequests => "--requests must be at least 1".into(),
        BenchError::NoRuns => "--runs must be at least 1".into(),
        BenchError::NothingToRun => "nothing to run: --pools and --engine need a value".into(),
        other => other.to_string(),
    }
}

/// `n` and `noun`, plural unless `n` is 1: `1 request`, `2 requests`, `0 requests`.
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    match n.into() {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

/// What poolfetch does for a curl flag it does not take, or `None` for a flag curl does not
/// have either: said instead of clap's nearest-name suggestion, which for curl's names points
/// at a flag that does something else (`--retry-all-errors` is not `--retry-all-methods`).
pub fn curl_flag(flag: &str) -> Option<&'static str> {
    let flag = flag.split_once('=').map_or(flag, |(name, _)| name);
    Some(match flag {
        "--retry-all-errors" => {
            "--retries N retries what may pass (connect, timeout, reset, 429, 5xx); a 4xx or a \
             TLS error is final. --retry-all-methods also retries POST and PATCH"
        }
        "-Z" | "--parallel" | "--parallel-immediate" => {
            "poolfetch is parallel already: -p/--pool N requests at once"
        }
        "--parallel-max" => "-p/--pool N sets how many requests run at once",
        "-O" | "--remote-name" | "--remote-name-all" => {
            "--output-dir DIR saves each body to a file of its own (the record names it)"
        }
        "-w" | "--write-out" => {
            "every record already holds the status, sizes and timings: pick them with jq"
        }
        "-f" | "--fail" | "--fail-with-body" => {
            "a status of 400 or more is already a failed record (exit code 1)"
        }
        "-I" | "--head" => "-X HEAD",
        "-T" | "--upload-file" => "-X PUT --data @FILE",
        "-F" => "multipart forms are not sent; --form K=V sends an urlencoded form",
        "--limit-rate" => "there is no byte-rate cap; --rate N/s caps requests",
        "--retry-delay" => "--retry-backoff DUR (exponential, with jitter)",
        "--retry-max-time" => "--retry-max-wait DUR",
        "--retry-connrefused" => "--retries N retries a refused connection already",
        "-D" | "--dump-header" => "-i/--include-headers puts the response header in each record",
        "-v" | "--verbose" | "--trace" | "--trace-ascii" => {
            "each record carries the status, timings and error; -i adds the response header"
        }
        "-G" | "--get" => "put the query in the URL (--template 'https://host/?q={}' --range A..B)",
        "-U" | "--proxy-user" => "give the proxy's user:password@ in the -x URL",
        "-e" | "--referer" => "-H 'Referer: URL'",
        "-c" | "--cookie-jar" => "there is no cookie jar; -i shows each Set-Cookie",
        "--capath" => "SSL_CERT_DIR=DIR poolfetch …",
        "--max-filesize" => "--max-body SIZE",
        "--http1.1" => "HTTP/1.1 is the default",
        "--url-query" => "put the query in the URL",
        _ => return None,
    })
}
