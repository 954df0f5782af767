//! The open-file limit: every request in flight holds a socket (and a part file with
//! `--output-dir`), so the soft `RLIMIT_NOFILE` is raised to the hard limit at start, as
//! servers do, and a pool that would still not fit gets one warning instead of a run of
//! "Too many open files" records.

use crate::config::Config;

/// Descriptors poolfetch needs besides one per request (stdio, the runtime, the input…).
const MARGIN: u64 = 64;

/// Raise the soft limit to the hard one; warn once if `config` still needs more descriptors
/// than that (even with `--quiet`: it predicts failures).
pub(super) fn raise_open_files(config: &Config) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid resource and a pointer to a local struct.
    let soft = unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = limit.rlim_max;
            }
        }
        limit.rlim_cur
    };
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
