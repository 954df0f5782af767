//! The run: dispatch with the bounded in-flight window and batches, the [`Ticket`] each engine
//! runs, the [`Engine`] seam, cancellation, and the `crossbeam-channel` that carries finished
//! records back to the one collector.
//!
//! The collector is the caller's thread (it drives [`Run`] as an iterator); it never runs
//! inside the pool, because receiving there would take a worker and could deadlock.

use std::iter::Fuse;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use crate::cancel::CancelToken;
use crate::config::Config;
use crate::fetch::Outcome;
use crate::order::Orderer;
use crate::record::{ErrorKind, FetchError, Record};
use crate::request::{Request, redact_message};

/// What every job of one run shares: the clock's zero and the cancel flag.
#[derive(Debug)]
pub(crate) struct RunContext {
    epoch: Instant,
    cancel: CancelToken,
}

impl RunContext {
    /// Milliseconds from the start of the run to `at`.
    fn ms(&self, at: Instant) -> f64 {
        // Rounded to the microsecond: finer digits are noise and bloat every record.
        let micros = at.saturating_duration_since(self.epoch).as_micros();
        micros as f64 / 1000.0
    }
}

/// One dispatched request. Whoever runs it calls [`finish`](Ticket::finish) or
/// [`cancelled`](Ticket::cancelled); a ticket dropped without either still sends a record (an
/// `internal` one), so a lost ticket can neither hang the run nor lose an input.
#[derive(Debug)]
pub(crate) struct Ticket {
    /// Position among the inputs.
    pub index: u64,
    /// What to send.
    pub request: Request,
    /// When it was dispatched, in ms since the run started.
    queued_ms: f64,
    ctx: Arc<RunContext>,
    /// Taken by the one record this ticket sends.
    done: Option<Sender<Record>>,
}

impl Ticket {
    /// True when the run was cancelled before this ticket started.
    pub fn is_cancelled(&self) -> bool {
        self.ctx.cancel.is_cancelled()
    }

    /// The run's cancel flag (a retry is not attempted once it is set).
    pub fn cancel_token(&self) -> &CancelToken {
        &self.ctx.cancel
    }

    /// Send the record for a finished request.
    pub fn finish(mut self, outcome: Outcome, worker: Option<usize>, started: Instant) {
        self.send(outcome, worker, started);
    }

    /// Send a `cancelled` record: the request was never sent.
    pub fn cancelled(mut self) {
        self.send(Outcome::cancelled(0), None, Instant::now());
    }

    fn send(&mut self, outcome: Outcome, worker: Option<usize>, started: Instant) {
        let Some(done) = self.done.take() else { return };
        let finished = Instant::now();
        let ok = outcome.error.is_none() && outcome.status.is_some_and(|s| s < 400);
        let error = outcome.error.map(|mut e| {
            e.message = redact_message(&e.message, &self.request.url);
            e
        });
        let record = Record {
            index: self.index,
            url: self.request.display_url(),
            method: self.request.method.clone(),
            ok,
            status: outcome.status,
            bytes: outcome.bytes,
            attempts: outcome.attempts,
            worker,
            queued_ms: self.queued_ms,
            started_ms: self.ctx.ms(started),
            finished_ms: self.ctx.ms(finished),
            body: outcome.body,
            body_lossy: outcome.lossy,
            file: outcome.file,
            error,
        };
        // The collector holds the receiver for the whole run; if the caller dropped the
        // run early nobody wants this record, so a send error is not a loss.
        let _ = done.send(record);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.done.is_some() {
            let error = FetchError::new(
                ErrorKind::Internal,
                "the engine dropped this request without a result",
            );
            self.send(Outcome::failed(0, error), None, Instant::now());
        }
    }
}

/// Something that runs tickets with bounded concurrency: the thread pool, or the async engine.
pub(crate) trait Engine: Send + Sync {
    /// Start `ticket`; it must end in exactly one record on the ticket's channel.
    fn start(&self, ticket: Ticket);
}

/// A run in progress: an iterator that dispatches lazily and yields records as they may
/// leave (input or completion order). Dropping it stops dispatch.
pub struct Run<'a, I: Iterator> {
    engine: &'a dyn Engine,
    requests: Fuse<I>,
    ctx: Arc<RunContext>,
    done_tx: Sender<Record>,
    done_rx: Receiver<Record>,
    orderer: Orderer,
    window: usize,
    batch_size: Option<usize>,
    dispatched_in_batch: usize,
    next_index: u64,
    outstanding: usize,
    max_held: usize,
}

impl<'a, I> Run<'a, I>
where
    I: Iterator,
    I::Item: Into<Request>,
{
    /// Start a run of `requests` on `engine` with `config`'s order, window and batches.
    pub(crate) fn new(engine: &'a dyn Engine, requests: I, config: &Config) -> Self {
        let (done_tx, done_rx) = crossbeam_channel::unbounded();
        Run {
            engine,
            requests: requests.fuse(),
            ctx: Arc::new(RunContext {
                epoch: Instant::now(),
                cancel: CancelToken::new(),
            }),
            done_tx,
            done_rx,
            orderer: Orderer::new(config.order),
            window: config.window(),
            batch_size: config.batch_size,
            dispatched_in_batch: 0,
            next_index: 0,
            outstanding: 0,
            max_held: 0,
        }
    }

    /// Use `token` to cancel this run (call before the first record is taken).
    pub fn with_cancel(mut self, token: CancelToken) -> Self {
        self.ctx = Arc::new(RunContext {
            epoch: self.ctx.epoch,
            cancel: token,
        });
        self
    }

    /// The most records the reorder buffer ever held at once (bounded by the window).
    pub fn max_held(&self) -> usize {
        self.max_held
    }

    /// Whether the window and the batch allow one more dispatch now.
    fn may_dispatch(&mut self) -> bool {
        let within_window = match self.orderer.next_to_emit() {
            Some(oldest) => self.next_index < oldest.saturating_add(self.window as u64),
            None => self.outstanding < self.window,
        };
        if !within_window {
            return false;
        }
        match self.batch_size {
            None => true,
            Some(size) => {
                if self.dispatched_in_batch == size && self.outstanding == 0 {
                    self.dispatched_in_batch = 0;
                }
                self.dispatched_in_batch < size
            }
        }
    }

    fn dispatch(&mut self) {
        while self.may_dispatch() {
            let Some(request) = self.requests.next() else {
                return;
            };
            let ticket = Ticket {
                index: self.next_index,
                request: request.into(),
                queued_ms: self.ctx.ms(Instant::now()),
                ctx: Arc::clone(&self.ctx),
                done: Some(self.done_tx.clone()),
            };
            self.next_index += 1;
            self.outstanding += 1;
            self.dispatched_in_batch += 1;
            if self.ctx.cancel.is_cancelled() {
                ticket.cancelled();
            } else {
                self.engine.start(ticket);
            }
        }
    }
}

impl<I> Iterator for Run<'_, I>
where
    I: Iterator,
    I::Item: Into<Request>,
{
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        loop {
            if let Some(record) = self.orderer.pop() {
                return Some(record);
            }
            self.dispatch();
            if self.outstanding == 0 {
                return None;
            }
            // Every ticket sends one record, even when dropped, and the run holds a sender
            // itself, so this waits for the next record and never sees a closed channel.
            let Ok(record) = self.done_rx.recv() else {
                return None;
            };
            self.outstanding -= 1;
            self.orderer.push(record);
            self.max_held = self.max_held.max(self.orderer.held());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::ErrorKind;

    /// An engine with a bug: it loses every other ticket.
    struct Leaky;

    impl Engine for Leaky {
        fn start(&self, ticket: Ticket) {
            if ticket.index.is_multiple_of(2) {
                ticket.finish(Outcome::default(), None, Instant::now());
            } else {
                drop(ticket);
            }
        }
    }

    #[test]
    fn a_lost_ticket_still_yields_one_record_and_never_hangs_the_run() {
        let urls = (0..6).map(|i| format!("http://127.0.0.1:9/{i}"));
        let records: Vec<Record> = Run::new(&Leaky, urls, &Config::default()).collect();
        assert_eq!(
            records.iter().map(|r| r.index).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4, 5]
        );
        for record in records.iter().skip(1).step_by(2) {
            let error = record.error.as_ref().unwrap();
            assert_eq!(error.kind, ErrorKind::Internal, "{record:?}");
        }
    }
}
