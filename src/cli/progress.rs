//! The progress bar of `fetch` on stderr: done / total, ok / failed, rate, and bytes with
//! `--output-dir`. Drawn only when stderr is a terminal and `--quiet` is not given.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::record::Record;

/// The bar of `poolfetch bench` on stderr (indicatif hides it when stderr is not a terminal).
pub fn bench_bar() -> ProgressBar {
    ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "{spinner} {msg:28} [{bar:30}] {pos}/{len} requests {elapsed}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    )
}

/// Live counters of a run, drawn as a bar (or not at all).
pub struct Progress {
    bar: ProgressBar,
    ok: u64,
    failed: u64,
    bytes: u64,
    show_bytes: bool,
}

impl Progress {
    /// A bar for `total` inputs (a spinner when unknown); hidden when `quiet` or stderr is not
    /// a terminal. `show_bytes` adds bytes and throughput (for downloads).
    pub fn new(total: Option<u64>, quiet: bool, show_bytes: bool) -> Self {
        let visible = !quiet && std::io::stderr().is_terminal();
        let target = if visible {
            ProgressDrawTarget::stderr_with_hz(10)
        } else {
            ProgressDrawTarget::hidden()
        };
        let template = match total {
            Some(_) => "{bar:30} {pos}/{len} {msg} {per_sec} {elapsed}",
            None => "{spinner} {pos} done {msg} {per_sec} {elapsed}",
        };
        let bar = ProgressBar::with_draw_target(total, target).with_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Progress {
            bar,
            ok: 0,
            failed: 0,
            bytes: 0,
            show_bytes,
        }
    }

    /// Count one finished record.
    pub fn record(&mut self, record: &Record) {
        if record.ok {
            self.ok += 1;
        } else {
            self.failed += 1;
        }
        self.bytes += record.bytes;
        self.bar.inc(1);
        if self.bar.is_hidden() {
            return;
        }
        let mut message = format!("· {} ok · {} failed ·", self.ok, self.failed);
        if self.show_bytes {
            let secs = self.bar.elapsed().as_secs_f64().max(1e-3);
            let mib = self.bytes as f64 / (1024.0 * 1024.0);
            message.push_str(&format!(" {mib:.1} MiB at {:.1} MiB/s ·", mib / secs));
        }
        self.bar.set_message(message);
    }

    /// Remove the bar before the summary line is printed.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
