//! What `fetch` shows on stderr: a live bar while it runs, and oha-style figures at the end.
//!
//! The bar is drawn at once and ticks on its own (elapsed time, requests in flight, bytes as
//! they arrive), not only when a request finishes. It is drawn only when stderr is a terminal
//! that records are not also written to, so frames never land between JSON lines.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::LiveCounts;
use crate::config::Config;
use crate::record::{ErrorKind, Record};

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

/// Everything counted about a run's records, for the bar and the summary.
#[derive(Debug)]
pub struct Tally {
    /// Records written.
    pub done: u64,
    /// Records that were ok.
    pub ok: u64,
    /// Records of requests never sent (a cancel).
    pub cancelled: u64,
    /// Responses received (records with a status).
    pub responses: u64,
    statuses: BTreeMap<u16, u64>,
    errors: BTreeMap<&'static str, u64>,
    /// Microseconds from start to finish of each request that was sent.
    latency_us: Histogram<u64>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            done: 0,
            ok: 0,
            cancelled: 0,
            responses: 0,
            statuses: BTreeMap::new(),
            errors: BTreeMap::new(),
            // 3 significant digits, auto-resizing: a few KiB whatever the run's length.
            latency_us: Histogram::new(3).unwrap_or_else(|_| Histogram::new(2).expect("2 digits")),
        }
    }
}

impl Tally {
    /// Count one record.
    pub fn add(&mut self, record: &Record) {
        self.done += 1;
        self.ok += u64::from(record.ok);
        if let Some(status) = record.status {
            self.responses += 1;
            *self.statuses.entry(status).or_default() += 1;
        }
        if let Some(error) = &record.error {
            if error.kind == ErrorKind::Cancelled && record.attempts == 0 {
                self.cancelled += 1;
            }
            *self.errors.entry(error.kind.as_str()).or_default() += 1;
        }
        if record.attempts > 0 {
            let micros = ((record.finished_ms - record.started_ms).max(0.0) * 1000.0) as u64;
            let _ = self.latency_us.record(micros.max(1));
        }
    }

    /// Records that were sent and are not ok.
    pub fn failed(&self) -> u64 {
        self.done - self.ok - self.cancelled
    }
}

/// The live bar, or nothing.
pub struct Progress {
    bar: ProgressBar,
}

const BAR: &str = "{spinner} [{bar:25}] {pos}/{len} {msg} {elapsed}";
const COUNTER: &str = "{spinner} {pos} done {msg} {elapsed}";

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl Progress {
    /// A bar for `total` inputs (a counter while the total is unknown). Drawn when stderr is a
    /// terminal, not `quiet`, and records do not go to that same terminal.
    pub fn new(total: Option<u64>, quiet: bool, records_to_stdout: bool) -> Self {
        let records_on_terminal = records_to_stdout && std::io::stdout().is_terminal();
        let visible = !quiet && std::io::stderr().is_terminal() && !records_on_terminal;
        let target = if visible {
            ProgressDrawTarget::stderr_with_hz(10)
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(total, target)
            .with_style(style(if total.is_some() { BAR } else { COUNTER }));
        if visible {
            // Drawn now and redrawn by itself: a long first request is not a blank screen.
            bar.enable_steady_tick(Duration::from_millis(100));
        }
        Progress { bar }
    }

    /// Whether anything is drawn (so callers may skip work for it).
    pub fn is_visible(&self) -> bool {
        !self.bar.is_hidden()
    }

    /// The total became known (lines counted in the background).
    pub fn set_total(&self, total: u64) {
        self.bar.set_length(total);
        self.bar.set_style(style(BAR));
    }

    /// Redraw with the tally so far and what is in flight now.
    pub fn update(&self, tally: &Tally, live: LiveCounts) {
        if !self.is_visible() {
            return;
        }
        self.bar.set_position(tally.done);
        let secs = self.bar.elapsed().as_secs_f64();
        // The average over the whole run: a per-second estimate swings wildly when requests
        // finish in waves.
        let rate = if secs > 0.0 {
            tally.done as f64 / secs
        } else {
            0.0
        };
        let mut message = format!(
            "· {} in flight · {} ok · {} failed",
            live.in_flight,
            tally.ok,
            tally.failed()
        );
        if tally.cancelled > 0 {
            message.push_str(&format!(" · {} cancelled", tally.cancelled));
        }
        message.push_str(&format!(" · {rate:.1}/s"));
        if live.bytes > 0 {
            message.push_str(&format!(
                " · {} at {}/s",
                size(live.bytes),
                size((live.bytes as f64 / secs.max(1e-3)) as u64)
            ));
        }
        if let Some(total) = self.bar.length()
            && rate > 0.0
            && tally.done < total
        {
            let eta = (total - tally.done) as f64 / rate;
            message.push_str(&format!(" · ETA {}", clock(eta)));
        }
        message.push_str(" ·");
        self.bar.set_message(message);
    }

    /// Remove the bar before the summary is printed.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Bytes for people: `812 B`, `3.4 KiB`, `1.2 GiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn clock(secs: f64) -> String {
    let secs = secs.round() as u64;
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

/// The lines printed on stderr after a run: the counts (cancelled apart), then the status
/// histogram, error kinds, latency percentiles, bytes and connections, as oha prints them.
pub fn summary(tally: &Tally, wall: Duration, config: &Config, live: LiveCounts) -> String {
    let secs = wall.as_secs_f64();
    let rate = if secs > 0.0 {
        tally.done as f64 / secs
    } else {
        0.0
    };
    let pool = match config.pool {
        0 => "unbounded".to_string(),
        pool => format!("pool {pool}"),
    };
    let mut out = format!(
        "poolfetch: {} requests, {} ok, {} failed",
        tally.done,
        tally.ok,
        tally.failed()
    );
    if tally.cancelled > 0 {
        out.push_str(&format!(", {} cancelled (never sent)", tally.cancelled));
    }
    out.push_str(&format!(
        " in {secs:.2} s ({rate:.1} req/s, {} {pool})",
        config.engine.name()
    ));
    if config.insecure {
        out.push_str("; TLS certificates NOT verified (--insecure)");
    }
    let join = |items: Vec<String>| items.join(" · ");
    if !tally.statuses.is_empty() {
        let statuses = tally.statuses.iter().map(|(s, n)| format!("{s} ×{n}"));
        out.push_str(&format!("\n  status     {}", join(statuses.collect())));
    }
    if !tally.errors.is_empty() {
        let errors = tally.errors.iter().map(|(k, n)| format!("{k} ×{n}"));
        out.push_str(&format!("\n  errors     {}", join(errors.collect())));
    }
    if !tally.latency_us.is_empty() {
        let ms = |q: f64| tally.latency_us.value_at_quantile(q) as f64 / 1000.0;
        out.push_str(&format!(
            "\n  latency    p50 {:.1} ms · p90 {:.1} ms · p99 {:.1} ms · max {:.1} ms",
            ms(0.5),
            ms(0.9),
            ms(0.99),
            tally.latency_us.max() as f64 / 1000.0
        ));
    }
    out.push_str(&format!("\n  received   {}", size(live.bytes)));
    if let Some(opened) = live.connections {
        let reused = tally.responses.saturating_sub(opened);
        out.push_str(&format!(
            " · connections {opened} opened, {reused} responses on reused ones"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_clocks_read_well() {
        assert_eq!(size(812), "812 B");
        assert_eq!(size(3 * 1024 + 400), "3.4 KiB");
        assert_eq!(size(5 << 30), "5.0 GiB");
        assert_eq!(clock(42.4), "42s");
        assert_eq!(clock(125.0), "2m05s");
        assert_eq!(clock(7300.0), "2h01m");
    }
}
