//! The run: dispatch with the bounded in-flight window and batches, the [`Ticket`] each engine
//! runs, the [`Engine`] seam, cancellation, and the `crossbeam-channel` that carries finished
//! records back to the one collector.
//!
//! The collector is the caller's thread (it drives [`Run`] as an iterator); it never runs
//! inside the pool, because receiving there would take a worker and could deadlock.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use futures_util::FutureExt;

use crate::cancel::CancelToken;
use crate::config::{Config, ConfigError, Order, Shard};
use crate::fetch::{Attempts, Core, Outcome, Transport};
use crate::order::Orderer;
use crate::record::{ErrorKind, FetchError, Record};
use crate::request::{Request, redact_message};
use crate::resume::IndexSet;
use crate::sink;

/// What every job of one run shares: the clock's zero, the cancel flag, and how many
/// requests the run expects (an engine starts no more workers than that).
#[derive(Debug)]
pub(crate) struct RunContext {
    epoch: Instant,
    /// `epoch` on the wall clock.
    wall_epoch: std::time::SystemTime,
    cancel: CancelToken,
    expected: Option<usize>,
}

impl RunContext {
    /// `at` on the wall clock, RFC 3339 in UTC to the microsecond.
    fn wall(&self, at: Instant) -> String {
        let since = at.saturating_duration_since(self.epoch);
        humantime::format_rfc3339_micros(self.wall_epoch + since).to_string()
    }

    /// Milliseconds from the start of the run to `at`.
    fn ms(&self, at: Instant) -> f64 {
        self.micros(at) as f64 / 1000.0
    }

    /// Rounded to the microsecond: finer digits are noise and bloat every record.
    fn micros(&self, at: Instant) -> u128 {
        at.saturating_duration_since(self.epoch).as_micros()
    }

    /// `at` in ms since `started`, both rounded as [`ms`](Self::ms) rounds them, so a phase
    /// never reads later than `finished_ms - started_ms`.
    fn since(&self, started: Instant, at: Option<Instant>) -> Option<f64> {
        at.map(|at| self.micros(at).saturating_sub(self.micros(started)) as f64 / 1000.0)
    }
}

/// What the run sees of a ticket in flight, so that a record written when the cancel grace
/// runs out says what happened: never sent (no worker, `attempts: 0`), or sent and
/// interrupted (its worker, its real start, the attempts made).
#[derive(Debug, Default)]
pub(crate) struct TicketProgress {
    /// When the ticket started on a worker, in µs since the run started, plus one (0: not
    /// started).
    started: AtomicU64,
    /// The worker running it, plus one (0: none named).
    worker: AtomicUsize,
    /// What the fetch core counts: attempts, and when the first left the limits.
    attempts: Attempts,
}

impl TicketProgress {
    /// When the request started: its first attempt past `--rate` and `--per-host` (a wait
    /// for them is time in the queue), else when its ticket started on a worker.
    fn started(&self, ctx: &RunContext) -> Option<Instant> {
        if let Some(sent) = self.attempts.first_sent() {
            return Some(sent);
        }
        let started = self.started.load(Ordering::Relaxed);
        (started > 0).then(|| ctx.epoch + Duration::from_micros(started - 1))
    }

    fn start(&self, ctx: &RunContext, at: Instant, worker: Option<usize>) {
        let micros = at.saturating_duration_since(ctx.epoch).as_micros() as u64;
        self.started.store(micros + 1, Ordering::Relaxed);
        self.worker
            .store(worker.map_or(0, |w| w + 1), Ordering::Relaxed);
    }

    /// The attempts sent, the worker and the start, if anything was sent.
    fn sent(&self, ctx: &RunContext) -> Option<(u32, Option<usize>, Instant)> {
        let attempts = self.attempts.sent();
        let started = self.started(ctx)?;
        if attempts == 0 {
            return None;
        }
        let worker = self.worker.load(Ordering::Relaxed).checked_sub(1);
        Some((attempts, worker, started))
    }
}

/// One dispatched request. Whoever runs it calls [`finish`](Ticket::finish) or
/// [`cancelled`](Ticket::cancelled); a ticket dropped without either still sends a record (an
/// `internal` one), so a lost ticket can neither hang the run nor lose an input.
#[derive(Debug)]
pub(crate) struct Ticket {
    /// Position among the inputs.
    pub index: u64,
    /// What to send (shared with the run, which keeps it until the record arrives).
    pub request: Arc<Request>,
    /// When it was dispatched, in ms since the run started.
    queued_ms: f64,
    ctx: Arc<RunContext>,
    /// Shared with the run while the ticket is in flight.
    progress: Arc<TicketProgress>,
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

    /// How many requests this ticket's run expects at most, when known.
    pub fn run_size(&self) -> Option<usize> {
        self.ctx.expected
    }

    /// Send the record for a finished request.
    pub fn finish(mut self, outcome: Outcome, worker: Option<usize>, started: Instant) {
        self.send(outcome, worker, started);
    }

    /// Send a `cancelled` record: the request was never sent.
    pub fn cancelled(mut self) {
        self.send(Outcome::cancelled(0), None, Instant::now());
    }

    /// Run this ticket — the one envelope both engines use: a cancelled run sends nothing;
    /// otherwise the fetch core runs the request on `transport`, a panic in it becomes an
    /// `internal` record instead of a lost input, `after` runs (the async engine hands its
    /// permit back there), and the record goes out. `worker` is named only if the request
    /// was sent.
    pub(crate) async fn run<T: Transport>(
        self,
        core: &Core,
        transport: &T,
        worker: Option<usize>,
        after: impl Future<Output = ()>,
    ) {
        if self.is_cancelled() {
            return self.cancelled();
        }
        let started = Instant::now();
        self.progress.start(&self.ctx, started, worker);
        let fetch = core.fetch(
            transport,
            self.index,
            &self.request,
            self.cancel_token(),
            &self.progress.attempts,
        );
        let outcome = AssertUnwindSafe(fetch)
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| Outcome::internal(&*panic));
        after.await;
        let worker = worker.filter(|_| outcome.attempts > 0);
        let started = match outcome.attempts {
            0 => started,
            _ => self.progress.started(&self.ctx).unwrap_or(started),
        };
        self.finish(outcome, worker, started);
    }

    fn send(&mut self, outcome: Outcome, worker: Option<usize>, started: Instant) {
        let Some(done) = self.done.take() else { return };
        let record = self.record(outcome, worker, started);
        // The collector holds the receiver for the whole run; if the caller dropped the
        // run early nobody wants this record, so a send error is not a loss.
        let _ = done.send(record);
    }

    /// The record of this ticket with `outcome`.
    fn record(&self, outcome: Outcome, worker: Option<usize>, started: Instant) -> Record {
        let finished = Instant::now();
        let ok = outcome.error.is_none() && outcome.status.is_some_and(|s| s < 400);
        let error = outcome.error.map(|mut e| {
            e.message = redact_message(&e.message, &self.request.url);
            e
        });
        Record {
            index: self.index,
            url: self.request.display_url(),
            method: self.request.method.clone(),
            ok,
            status: outcome.status,
            final_url: outcome.final_url,
            content_type: outcome.content_type,
            remote_addr: outcome.remote_addr,
            http_version: outcome.http_version.map(str::to_owned),
            bytes: outcome.bytes,
            decoded_bytes: outcome.decoded.as_ref().map(|(_, bytes)| *bytes),
            content_encoding: outcome.decoded.map(|(name, _)| name),
            attempts: outcome.attempts,
            worker,
            queued_ms: self.queued_ms,
            started_ms: self.ctx.ms(started),
            started_at: self.ctx.wall(started),
            dns_ms: self.ctx.since(started, outcome.phases.dns),
            connect_ms: self.ctx.since(started, outcome.phases.connect),
            tls_ms: self.ctx.since(started, outcome.phases.tls),
            ttfb_ms: self.ctx.since(started, outcome.phases.first_byte),
            finished_ms: self.ctx.ms(finished),
            body: outcome.body,
            body_lossy: outcome.lossy,
            file: outcome.file,
            resumed_from: outcome.resumed_from,
            error,
            headers: outcome.headers,
            meta: self.request.meta.clone(),
        }
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

/// How a run goes: one small value instead of a builder to call in the right order.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RunOptions {
    /// Cancels the run: nothing more is sent, inputs not yet sent get `cancelled` records,
    /// requests in flight get a short grace (1 s) to finish and are then recorded
    /// as `cancelled` ("interrupted mid-transfer") without waiting for them.
    pub cancel: CancelToken,
    /// Inputs an earlier run already has (`--resume`): not fetched, and no record from this
    /// run. Input order only.
    pub skip: Option<IndexSet>,
    /// How many requests the run will have at most, when known (a large pool then starts no
    /// more workers than that); by default the input iterator's upper size hint.
    pub expected: Option<usize>,
    /// Output order (default input order, `gather`; or completion order, `as_completed`).
    pub order: Order,
    /// How far dispatch may run ahead of the oldest unfinished index (default `4 × pool`).
    /// It bounds the reorder buffer, so memory does not grow with the number of inputs.
    pub window: Option<usize>,
    /// Dispatch this many, wait for all of them, then the next batch (gather per batch).
    pub batch_size: Option<usize>,
    /// Fetch only the inputs of this shard, keeping their global indices, so N machines can
    /// split one list without talking to each other.
    pub shard: Option<Shard>,
}

impl RunOptions {
    /// With records in `order`.
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// With dispatch at most `window` ahead of the oldest unfinished index.
    pub fn window(mut self, window: Option<usize>) -> Self {
        self.window = window;
        self
    }

    /// Gathering per batch of `batch_size`.
    pub fn batch_size(mut self, batch_size: Option<usize>) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Only the inputs of `shard`.
    pub fn shard(mut self, shard: Option<Shard>) -> Self {
        self.shard = shard;
        self
    }

    /// Check the options before any request: a window or a batch of 0 cannot work.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.window == Some(0) {
            return Err(ConfigError::ZeroWindow);
        }
        if self.batch_size == Some(0) {
            return Err(ConfigError::ZeroBatch);
        }
        Ok(())
    }

    /// The effective in-flight window for a fetcher of `pool`: the one given, or `4 × pool`.
    /// An unbounded async pool (`pool = 0`) has an unbounded window: it is the bare `gather`
    /// of every request.
    pub fn window_for(&self, pool: usize) -> usize {
        match (self.window, pool) {
            (Some(window), _) => window.max(1),
            (None, 0) => usize::MAX,
            (None, pool) => pool.saturating_mul(4),
        }
    }

    /// Options with `cancel` as the run's cancel token.
    pub fn cancelled_by(cancel: CancelToken) -> Self {
        RunOptions {
            cancel,
            ..RunOptions::default()
        }
    }
}

/// Where a run's requests come from.
enum Source<'a> {
    /// A caller's iterator, pulled on the caller's thread (it may block).
    Iter(Box<dyn Iterator<Item = Request> + 'a>),
    /// A queue filled by an input thread (the job's URL lists): never blocks dispatch, so
    /// records leave as soon as they are done and a cancel is seen at once.
    Feed {
        /// Chunks of requests, never empty.
        requests: Receiver<Vec<Request>>,
        /// The rest of the chunk last taken.
        chunk: std::vec::IntoIter<Request>,
        /// From a pipe or terminal: on cancel, lines not yet queued get no record.
        stop_on_cancel: bool,
    },
}

/// How often a waiting run looks at the cancel flag.
const CANCEL_POLL: Duration = Duration::from_millis(200);

/// A run in progress: an iterator that dispatches lazily and yields records as they may
/// leave (input or completion order). Dropping it stops dispatch.
pub struct Run<'a> {
    engine: &'a dyn Engine,
    source: Source<'a>,
    /// The source has nothing more (or, after a cancel, nothing more will be taken).
    exhausted: bool,
    ctx: Arc<RunContext>,
    done_tx: Sender<Record>,
    done_rx: Receiver<Record>,
    orderer: Orderer,
    window: usize,
    batch_size: Option<usize>,
    dispatched_in_batch: usize,
    next_index: u64,
    /// Inputs taken from the source so far, dispatched or not (the global index of the next).
    position: u64,
    shard: Option<Shard>,
    /// Inputs an earlier run already has (`--resume`): not sent, no record.
    done: Option<IndexSet>,
    /// Dispatched and not yet recorded, with what an abandoned record needs.
    in_flight: HashMap<u64, (Arc<Request>, f64, Arc<TicketProgress>)>,
    output_dir: Option<PathBuf>,
    max_held: usize,
}

impl<'a> Run<'a> {
    /// Start a run of `requests` on `engine` with `config`'s order, window and batches.
    pub(crate) fn new<I>(
        engine: &'a dyn Engine,
        requests: I,
        config: &Config,
        mut options: RunOptions,
    ) -> Self
    where
        I: Iterator + 'a,
        I::Item: Into<Request>,
    {
        options.expected = options.expected.or(requests.size_hint().1);
        let requests = Box::new(requests.fuse().map(Into::into));
        Self::with_source(engine, Source::Iter(requests), config, options)
    }

    /// A run fed by an input thread through `requests`; see [`Source::Feed`].
    pub(crate) fn from_queue(
        engine: &'a dyn Engine,
        requests: Receiver<Vec<Request>>,
        stop_on_cancel: bool,
        config: &Config,
        options: RunOptions,
    ) -> Self {
        let source = Source::Feed {
            requests,
            chunk: Vec::new().into_iter(),
            stop_on_cancel,
        };
        Self::with_source(engine, source, config, options)
    }

    fn with_source(
        engine: &'a dyn Engine,
        source: Source<'a>,
        config: &Config,
        options: RunOptions,
    ) -> Self {
        let (done_tx, done_rx) = crossbeam_channel::unbounded();
        let window = options.window_for(config.pool);
        Run {
            engine,
            source,
            exhausted: false,
            ctx: Arc::new(RunContext {
                epoch: Instant::now(),
                wall_epoch: std::time::SystemTime::now(),
                cancel: options.cancel,
                expected: options.expected,
            }),
            done_tx,
            done_rx,
            orderer: Orderer::new(options.order, options.shard),
            window,
            batch_size: options.batch_size.filter(|n| *n > 0),
            dispatched_in_batch: 0,
            next_index: 0,
            position: 0,
            shard: options.shard,
            done: options.skip,
            in_flight: HashMap::new(),
            output_dir: config.output_dir.clone(),
            max_held: 0,
        }
    }

    /// The most records the reorder buffer ever held at once (bounded by the window).
    pub fn max_held(&self) -> usize {
        self.max_held
    }

    /// Whether the next record may already be waiting (a writer flushes when it is not).
    pub fn has_ready(&self) -> bool {
        self.orderer.ready() || !self.done_rx.is_empty()
    }

    /// Whether the window and the batch allow one more dispatch now.
    fn may_dispatch(&mut self) -> bool {
        let within_window = match self.orderer.next_to_emit() {
            Some(oldest) => self.next_index < oldest.saturating_add(self.window as u64),
            None => self.in_flight.len() < self.window,
        };
        if !within_window {
            return false;
        }
        match self.batch_size {
            None => true,
            Some(size) => {
                if self.dispatched_in_batch == size && self.in_flight.is_empty() {
                    self.dispatched_in_batch = 0;
                }
                self.dispatched_in_batch < size
            }
        }
    }

    /// The next request of this run's shard if one is ready now (a caller's iterator may
    /// block for it), with its global index.
    fn take_ready(&mut self) -> Option<(u64, Request)> {
        loop {
            let request = self.take_from_source()?;
            let position = self.position;
            self.position += 1;
            if !self.shard.is_none_or(|shard| shard.holds(position)) {
                continue;
            }
            if self
                .done
                .as_ref()
                .is_some_and(|done| done.contains(position))
            {
                // Its place passes without a record; it still counts against the window.
                self.orderer.skip(position);
                self.next_index += 1;
                continue;
            }
            return Some((position, request));
        }
    }

    fn take_from_source(&mut self) -> Option<Request> {
        if self.exhausted {
            return None;
        }
        let cancelled = self.ctx.cancel.is_cancelled();
        let next = match &mut self.source {
            Source::Iter(requests) => requests.next().ok_or(true),
            Source::Feed {
                requests,
                chunk,
                stop_on_cancel,
            } => match chunk.next() {
                Some(request) => Ok(request),
                None => match requests.try_recv() {
                    Ok(taken) => {
                        *chunk = taken.into_iter();
                        chunk.next().ok_or(false)
                    }
                    Err(TryRecvError::Empty) => Err(cancelled && *stop_on_cancel),
                    Err(TryRecvError::Disconnected) => Err(true),
                },
            },
        };
        next.map_err(|finished| self.exhausted |= finished).ok()
    }

    fn dispatch(&mut self) {
        while self.may_dispatch() {
            let Some((index, request)) = self.take_ready() else {
                return;
            };
            let ticket = Ticket {
                index,
                request: Arc::new(request),
                queued_ms: self.ctx.ms(Instant::now()),
                ctx: Arc::clone(&self.ctx),
                progress: Arc::default(),
                done: Some(self.done_tx.clone()),
            };
            self.in_flight.insert(
                ticket.index,
                (
                    Arc::clone(&ticket.request),
                    ticket.queued_ms,
                    Arc::clone(&ticket.progress),
                ),
            );
            self.next_index += 1;
            self.dispatched_in_batch += 1;
            if self.ctx.cancel.is_cancelled() {
                ticket.cancelled();
            } else {
                self.engine.start(ticket);
            }
        }
    }

    /// Wait for a finished record, a new input, or the end of the cancel grace.
    fn wait(&mut self) {
        // A feed is listened to once the chunk taken from it is used up.
        let listen_to_feed = !self.exhausted
            && self.may_dispatch()
            && matches!(&self.source, Source::Feed { chunk, .. } if chunk.len() == 0);
        let never = crossbeam_channel::never();
        let feed = match &self.source {
            Source::Feed { requests, .. } if listen_to_feed => requests.clone(),
            _ => never,
        };
        let timeout = self.ctx.cancel.grace_left().unwrap_or(CANCEL_POLL);
        if !listen_to_feed {
            // Only records to wait for: a plain receive is cheaper than a select.
            match self.done_rx.recv_timeout(timeout) {
                Ok(record) => self.accept(record),
                Err(_) => {
                    if self.ctx.cancel.past_grace() {
                        self.abandon();
                    }
                }
            }
            return;
        }
        crossbeam_channel::select! {
            recv(self.done_rx) -> record => {
                // The run holds a sender itself, so the channel never closes while it waits.
                if let Ok(record) = record {
                    self.accept(record);
                }
            }
            recv(feed) -> taken => match (taken, &mut self.source) {
                (Ok(taken), Source::Feed { chunk, .. }) => *chunk = taken.into_iter(),
                _ => self.exhausted = true,
            },
            default(timeout) => {
                if self.ctx.cancel.past_grace() {
                    self.abandon();
                }
            }
        }
    }

    /// Take a finished record, unless its request was already abandoned.
    fn accept(&mut self, record: Record) {
        if self.in_flight.remove(&record.index).is_some() {
            self.orderer.push(record);
            self.max_held = self.max_held.max(self.orderer.held());
        }
    }

    /// The grace after a cancel is over: record every request still in flight now — as
    /// interrupted if it was sent (with its worker and start), as never sent if it still
    /// waited for a worker — and remove its part file; its worker's late result is dropped.
    fn abandon(&mut self) {
        let mut indices: Vec<u64> = self.in_flight.keys().copied().collect();
        indices.sort_unstable();
        for index in indices {
            let Some((request, queued_ms, progress)) = self.in_flight.remove(&index) else {
                continue;
            };
            if let Some(dir) = &self.output_dir {
                sink::discard_part(dir, index, &request.url);
            }
            let (outcome, worker, started) = match progress.sent(&self.ctx) {
                Some((attempts, worker, started)) => (
                    Outcome::failed(attempts, FetchError::interrupted()),
                    worker,
                    started,
                ),
                None => (Outcome::cancelled(0), None, Instant::now()),
            };
            let ticket = Ticket {
                index,
                request,
                queued_ms,
                ctx: Arc::clone(&self.ctx),
                progress,
                done: None,
            };
            let record = ticket.record(outcome, worker, started);
            self.orderer.push(record);
        }
    }
}

impl Iterator for Run<'_> {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        loop {
            if let Some(record) = self.orderer.pop() {
                return Some(record);
            }
            self.dispatch();
            if self.in_flight.is_empty() && self.exhausted {
                return self.orderer.pop();
            }
            self.wait();
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
        let records: Vec<Record> =
            Run::new(&Leaky, urls, &Config::default(), RunOptions::default()).collect();
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
