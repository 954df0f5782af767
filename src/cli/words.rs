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
