//! What `fetch` shows on stderr: a live bar while it runs, and oha-style figures at the end.
//!
//! The bar is drawn at once and ticks on its own (elapsed time, requests in flight, bytes as
//! they arrive), not only when a request finishes. By default it is drawn only when stderr is
//! a terminal and records go to a file (`-o`, or stdout redirected to a regular file): when
//! they go to a pipe, the reader (`| jq`) may print to the same terminal and its lines would
//! land between the bar's frames. `--progress` draws it anyway, `--no-progress` never.
//! Messages while it is drawn (a signal) are printed above it, and it is cleared on every
//! exit.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::words::count;
use poolfetch::Config;
use poolfetch::job::{JobProgress, JobReport};

/// The bar of `poolfetch bench` on stderr (indicatif hides it when stderr is not a terminal).
pub fn bench_bar() -> ProgressBar {
    ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{spinner} [{bar:20}] {pos}/{len} {elapsed} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    )
}

/// The live bar, or nothing.
pub struct Progress {
    bar: ProgressBar,
}

// The message last and `wide_msg`: it is cut to what the terminal's width leaves, so a line
// never wraps (a wrapped line is redrawn as two, and the bar scrolls).
const BAR: &str = "{spinner} [{bar:20}] {pos}/{len} {elapsed} {wide_msg}";
const COUNTER: &str = "{spinner} {pos} done {elapsed} {wide_msg}";

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// Whether to draw the bar: `--progress` / `--no-progress`, or the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarChoice {
    /// Drawn when stderr is a terminal and records go to a file.
    Auto,
    /// Drawn whenever stderr is a terminal.
    Always,
    Never,
}

impl BarChoice {
    /// Whether the bar is drawn: only on a terminal, and by default only when records go to
    /// a file (a pipe's reader may print to the same terminal).
    fn draws(self, stderr_is_terminal: bool, records_to_file: bool) -> bool {
        stderr_is_terminal
            && match self {
                BarChoice::Never => false,
                BarChoice::Always => true,
                BarChoice::Auto => records_to_file,
            }
    }
}

impl Progress {
    /// A counter, which becomes a bar once the job knows its total; drawn as `choice` says.
    pub fn new(choice: BarChoice, records_to_stdout: bool) -> Self {
        let records_to_file = !records_to_stdout || stdout_is_a_regular_file();
        let visible = choice.draws(std::io::stderr().is_terminal(), records_to_file);
        let target = if visible {
            ProgressDrawTarget::stderr_with_hz(10)
        } else {
            ProgressDrawTarget::hidden()
        };
        Self::drawn_on(target, visible)
    }

    /// A counter drawn on `target`.
    fn drawn_on(target: ProgressDrawTarget, visible: bool) -> Self {
        let bar = ProgressBar::with_draw_target(None, target).with_style(style(COUNTER));
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

    /// Redraw with what the job reports now.
    pub fn update(&self, now: &JobProgress) {
        if !self.is_visible() {
            return;
        }
        if let Some(total) = now.total
            && self.bar.length() != Some(total)
        {
            self.bar.set_length(total);
            self.bar.set_style(style(BAR));
        }
        self.bar.set_position(now.done);
        let secs = self.bar.elapsed().as_secs_f64();
        // The average over the whole run: a per-second estimate swings wildly when requests
        // finish in waves.
        let rate = if secs > 0.0 {
            now.done as f64 / secs
        } else {
            0.0
        };
        let mut message = format!(
            "· {} in flight · {} ok · {} failed",
            now.live.in_flight, now.ok, now.failed
        );
        if now.interrupted > 0 {
            message.push_str(&format!(" · {} interrupted", now.interrupted));
        }
        if now.cancelled > 0 {
            message.push_str(&format!(" · {} never sent", now.cancelled));
        }
        message.push_str(&format!(" · {rate:.1}/s"));
        let bytes = now.live.bytes;
        if bytes > 0 {
            message.push_str(&format!(
                " · {} at {}/s",
                size(bytes),
                size((bytes as f64 / secs.max(1e-3)) as u64)
            ));
        }
        if let Some(total) = now.total
            && rate > 0.0
            && now.done < total
        {
            let eta = (total - now.done) as f64 / rate;
            message.push_str(&format!(" · ETA {}", clock(eta)));
        }
        message.push_str(" ·");
        self.bar.set_message(message);
    }

    /// Print `line` on stderr above the bar (it is redrawn below).
    pub fn say(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    /// Remove the bar (before the summary, or an exit).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn stdout_is_a_regular_file() -> bool {
    use std::os::fd::AsFd;
    std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|file| file.metadata())
        .is_ok_and(|meta| meta.is_file())
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

/// The lines printed on stderr after a run: the counts (which add up to the records), then
/// the status histogram, error kinds, latency percentiles of what finished, bytes and
/// connections, as oha prints them. The rate is over the requests sent.
pub fn summary(report: &JobReport, config: &Config, trust_store: Option<String>) -> String {
    let mut out = headline(report, config);
    out.push_str(&details(report, config, trust_store));
    out
}

/// The first line: counts, wall time, rate, engine and pool.
fn headline(report: &JobReport, config: &Config) -> String {
    let tally = &report.tally;
    let secs = report.wall.as_secs_f64();
    let rate = if secs > 0.0 {
        tally.sent() as f64 / secs
    } else {
        0.0
    };
    let pool = match config.pool {
        0 => "unbounded".to_string(),
        pool => format!("pool {pool}"),
    };
    let mut out = if tally.done == 0 {
        // A resume with nothing left, or an empty list: no rate of nothing.
        "poolfetch: nothing to fetch (0 requests)".to_string()
    } else if tally.cancelled + tally.interrupted == 0 {
        format!(
            "poolfetch: {}, {} ok, {} failed in {secs:.2} s ({rate:.1} req/s, {} {pool})",
            count(tally.done, "request"),
            tally.ok,
            tally.failed(),
            config.engine.name()
        )
    } else {
        format!(
            "poolfetch: {}: {} sent ({} ok, {} failed, {} interrupted), {} never sent; \
             in {secs:.2} s ({rate:.1} sent/s, {} {pool})",
            count(tally.done, "record"),
            tally.sent(),
            tally.ok,
            tally.failed(),
            tally.interrupted,
            tally.cancelled,
            config.engine.name()
        )
    };
    if config.insecure {
        out.push_str("; TLS certificates NOT verified (--insecure)");
    }
    out
}

/// The lines under it: statuses, errors, latency, bytes and connections, and what else the
/// run has to say (the trust store after `tls` errors, inputs never read, the output file).
fn details(report: &JobReport, config: &Config, trust_store: Option<String>) -> String {
    let (tally, live) = (&report.tally, report.live);
    let mut out = String::new();
    let join = |items: Vec<String>| items.join(" · ");
    if !tally.statuses.is_empty() {
        let statuses = tally.statuses.iter().map(|(s, n)| format!("{s} ×{n}"));
        out.push_str(&format!("\n  status     {}", join(statuses.collect())));
    }
    if !tally.errors.is_empty() {
        let errors = tally.errors.iter().map(|(k, n)| format!("{k} ×{n}"));
        out.push_str(&format!("\n  errors     {}", join(errors.collect())));
    }
    if let (Some(p50), Some(p90), Some(p99), Some(max)) = (
        tally.latency_ms(0.5),
        tally.latency_ms(0.9),
        tally.latency_ms(0.99),
        tally.max_latency_ms(),
    ) {
        out.push_str(&format!(
            "\n  latency    p50 {p50:.1} ms · p90 {p90:.1} ms · p99 {p99:.1} ms · max {max:.1} ms"
        ));
    }
    if tally.done > 0 {
        out.push_str(&format!("\n  received   {}", size(live.bytes)));
    }
    if let (Some(opened), true) = (live.connections, tally.done > 0) {
        let reused = tally.responses.saturating_sub(opened);
        out.push_str(&format!(
            " · connections {opened} opened, {} on reused ones",
            count(reused, "response")
        ));
    }
    if tally.errors.contains_key("tls") && !config.insecure {
        // Which CAs the `tls` failures were checked against: the first thing to know behind a
        // company's inspecting proxy.
        if let Some(trust) = trust_store {
            out.push_str(&format!(
                "\npoolfetch: certificates were checked against {trust}"
            ));
        }
    }
    if let Some((read, unread)) = report.never_read {
        let unread = match unread {
            Some(unread) => count(unread, "input"),
            None => "the rest of the inputs".to_string(),
        };
        out.push_str(&format!(
            "\npoolfetch: stopped reading at the cancel after {}: {unread} never read (no record)",
            count(read, "input")
        ));
    }
    if let Some(file) = report.file {
        out.push_str(&format!(
            "\npoolfetch: the output holds {}, {} not ok",
            count(file.records, "record"),
            file.not_ok
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_is_drawn_by_default_only_when_records_go_to_a_file() {
        use BarChoice::*;
        assert!(Auto.draws(true, true));
        assert!(
            !Auto.draws(true, false),
            "records to a pipe or the terminal"
        );
        assert!(Always.draws(true, false));
        assert!(!Always.draws(false, true), "stderr is not a terminal");
        assert!(!Never.draws(true, true));
    }

    #[test]
    fn the_bar_fits_the_terminals_width_and_never_wraps() {
        use indicatif::InMemoryTerm;
        for columns in [80, 60] {
            let term = InMemoryTerm::new(8, columns);
            let target = ProgressDrawTarget::term_like(Box::new(term.clone()));
            let progress = Progress::drawn_on(target, true);
            // Every field at its widest: the message alone is longer than the terminal.
            let mut now = JobProgress::default();
            now.done = 1_234_567;
            now.ok = 1_234_000;
            now.failed = 567;
            now.interrupted = 12;
            now.cancelled = 3_000;
            now.total = Some(99_999_999);
            now.live.in_flight = 5_000;
            now.live.bytes = 123_456_789_012;
            progress.update(&now);
            progress.bar.tick();
            let screen = term.contents();
            let drawn: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
            assert_eq!(drawn.len(), 1, "one line at {columns} columns: {screen:?}");
            assert!(
                drawn[0].chars().count() <= usize::from(columns),
                "{screen:?}"
            );
            assert!(drawn[0].contains("1234567/99999999"), "{screen:?}");
            progress.finish();
        }
    }

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
