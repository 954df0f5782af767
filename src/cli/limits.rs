//! The open-file limit: every request in flight holds a socket (and a part file with
//! `--output-dir`), so the soft `RLIMIT_NOFILE` is raised to the hard limit at start, as
//! servers do, and a pool that would still not fit gets one warning instead of a run of
//! "Too many open files" records.

use poolfetch::Config;

/// Descriptors poolfetch needs besides one per request (stdio, the runtime, the input…).
const MARGIN: u64 = 64;

/// Raise the soft limit to the hard one; warn once if `config` still needs more descriptors
/// than that (even with `--quiet`: it predicts failures).
pub(super) fn raise_open_files(config: &Config) {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let Some(mut soft) = limit.current else {
        return; // unlimited
    };
    if let Some(hard) = limit.maximum.filter(|hard| soft < *hard) {
        let raised = rustix::process::Rlimit {
            current: Some(hard),
            maximum: Some(hard),
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            soft = hard;
        }
    }
    let per_request = if config.output_dir.is_some() { 2 } else { 1 };
    let in_flight = match config.pool {
        0 => return, // unbounded: nothing to compare with
        pool => pool as u64,
    };
    let needed = in_flight.saturating_mul(per_request).saturating_add(MARGIN);
    if needed > soft {
        eprintln!(
            "poolfetch: warning: --pool {in_flight} needs about {needed} open files but the limit \
             is {soft} (ulimit -n); requests past it fail with \"Too many open files\""
        );
    }
}
