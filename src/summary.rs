//! A finished job's summary as data (`--summary-json`): the counts of the stderr summary,
//! which add up, for scripts and dashboards.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::{Config, HttpVersion};
use crate::job::JobReport;

/// What a run did, counted. `ok + failed + interrupted + never_sent == records`; the
/// `statuses` add up to `responses`, the `errors` to `failed`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Summary {
    /// Records this run wrote (one per input it took).
    pub records: u64,
    /// Of them, ok (a status below 400 and no transport error).
    pub ok: u64,
    /// Sent, finished and not ok.
    pub failed: u64,
    /// Sent, and still running when a cancel's grace ran out.
    pub interrupted: u64,
    /// Never sent (a cancel came first).
    pub never_sent: u64,
    /// Records with a response (a status).
    pub responses: u64,
    /// Records by status code (`"200"`).
    pub statuses: BTreeMap<String, u64>,
    /// Records by error kind (`"timeout"`), cancels apart.
    pub errors: BTreeMap<String, u64>,
    /// Start-to-finish latency of the requests that finished, in ms; null when none did.
    pub latency_ms: Option<Latency>,
    /// Body bytes received, as they came over the wire.
    pub bytes_received: u64,
    /// TCP connections opened.
    pub connections_opened: Option<u64>,
    /// From the first dispatch to the last record, in seconds.
    pub wall_s: f64,
    /// Requests sent per second of wall time.
    pub sent_per_s: f64,
    /// `threads` or `async`.
    pub engine: &'static str,
    /// The pool size (0: no limit, on the async engine).
    pub pool: usize,
    /// The HTTP version asked for: `http1`, `http2` or `http2_prior_knowledge`.
    pub http: &'static str,
    /// TLS certificates were not verified (`--insecure`).
    pub insecure: bool,
    /// The run was cancelled (a signal).
    pub cancelled: bool,
    /// Reading the inputs stopped at the cancel: inputs read, and never read when known.
    pub stopped_reading: Option<StoppedReading>,
    /// With a resume: what the output file holds now.
    pub output: Option<OutputCounts>,
    /// Everything the run is answerable for is ok (the exit code is 0 for it).
    pub all_ok: bool,
}

/// Latency quantiles, in ms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// The longest.
    pub max: f64,
}

/// Where reading stopped at a cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StoppedReading {
    /// Inputs read (each has a record).
    pub read: u64,
    /// Inputs never read (no record), when known.
    pub never_read: Option<u64>,
}

/// What a resumed output file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OutputCounts {
    /// Records, one per input it has.
    pub records: u64,
    /// Of them, not ok.
    pub not_ok: u64,
}

impl JobReport {
    /// This report as data, with the settings it ran with.
    pub fn summary(&self, config: &Config) -> Summary {
        let tally = &self.tally;
        let wall_s = self.wall.as_secs_f64();
        let latency = |q| tally.latency_ms(q);
        Summary {
            records: tally.done,
            ok: tally.ok,
            failed: tally.failed(),
            interrupted: tally.interrupted,
            never_sent: tally.cancelled,
            responses: tally.responses,
            statuses: tally
                .statuses
                .iter()
                .map(|(status, n)| (status.to_string(), *n))
                .collect(),
            errors: tally
                .errors
                .iter()
                .map(|(kind, n)| (kind.to_string(), *n))
                .collect(),
            latency_ms: match (
                latency(0.5),
                latency(0.9),
                latency(0.99),
                tally.max_latency_ms(),
            ) {
                (Some(p50), Some(p90), Some(p99), Some(max)) => {
                    Some(Latency { p50, p90, p99, max })
                }
                _ => None,
            },
            bytes_received: self.live.bytes,
            connections_opened: self.live.connections,
            wall_s,
            sent_per_s: if wall_s > 0.0 {
                tally.sent() as f64 / wall_s
            } else {
                0.0
            },
            engine: config.engine.name(),
            pool: config.pool,
            http: match config.http {
                HttpVersion::Http1 => "http1",
                HttpVersion::Http2 => "http2",
                HttpVersion::Http2PriorKnowledge => "http2_prior_knowledge",
            },
            insecure: config.insecure,
            cancelled: self.cancelled,
            stopped_reading: self
                .never_read
                .map(|(read, never_read)| StoppedReading { read, never_read }),
            output: self.file.map(|file| OutputCounts {
                records: file.records,
                not_ok: file.not_ok,
            }),
            all_ok: self.all_ok(),
        }
    }
}
