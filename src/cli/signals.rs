//! SIGINT, SIGTERM and SIGHUP — Ctrl-C, and what `timeout`, systemd, Kubernetes and a closing
//! terminal send — all stop a run the same way: the first cancels it (dispatch stops, requests
//! in flight get a short grace, every input read gets a record, part files are removed), and
//! the process then exits with 128 + that signal. A second signal exits at once, after the line
//! being written.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::progress::Progress;
use poolfetch::CancelToken;
use poolfetch::job::FlushHandle;

/// Which signal stopped the run, if any.
pub(super) struct Received(Arc<AtomicI32>);

impl Received {
    /// The first signal received, if any.
    pub(super) fn received(&self) -> Option<i32> {
        Some(self.0.load(Ordering::SeqCst)).filter(|n| *n != 0)
    }
}

/// Handle the three signals on a thread of their own (no work in a signal handler).
/// Messages go above `bar`, which is cleared before a second signal exits.
pub(super) fn install(cancel: &CancelToken, records: FlushHandle, bar: Arc<Progress>) -> Received {
    let first = Arc::new(AtomicI32::new(0));
    let received = Received(Arc::clone(&first));
    let mut signals = match Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(signals) => signals,
        Err(e) => {
            eprintln!("poolfetch: warning: signals will not stop the run cleanly: {e}");
            return received;
        }
    };
    let cancel = cancel.clone();
    let spawned = std::thread::Builder::new()
        .name("poolfetch-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if first
                    .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
                    .is_err()
                {
                    records.flush();
                    bar.finish();
                    std::process::exit(128 + first.load(Ordering::SeqCst));
                }
                cancel.cancel();
                bar.say(&format!(
                    "poolfetch: {}; finishing in-flight requests for up to {} s (again to quit)",
                    name(signal),
                    poolfetch::CANCEL_GRACE.as_secs()
                ));
            }
        });
    if let Err(e) = spawned {
        eprintln!("poolfetch: warning: signals will not stop the run cleanly: {e}");
    }
    received
}

fn name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "interrupted",
        SIGTERM => "terminated (SIGTERM)",
        SIGHUP => "hung up (SIGHUP)",
        _ => "signalled",
    }
}
