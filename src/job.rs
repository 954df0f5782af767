//! A whole run as the library offers it — "this list, resumable, into this file": a
//! [`JobSpec`] (inputs, output, resume, cancel token, progress callback) becomes a [`Job`],
//! whose [`run`](Job::run) gives a [`JobReport`]. The job owns what the command line used to
//! do itself: opening and checking the inputs, `--resume` compaction before and after, the
//! record writer and its flushing, and typed errors ([`JobError`]).
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use poolfetch::job::{Inputs, Job, JobOutput, JobSpec};
//! use poolfetch::server::{Server, ServerConfig};
//! use poolfetch::{Config, Fetcher};
//!
//! let server = Server::start(ServerConfig::default())?;
//! let dir = tempfile::tempdir()?;
//! let out = dir.path().join("todos.jsonl");
//! let fetcher = Fetcher::new(Config::builder().pool(4).build()?)?;
//! let inputs = Inputs {
//!     template: Some((server.url("/todos/{}"), 1..=20)),
//!     ..Inputs::default()
//! };
//! let spec = JobSpec::new(inputs, JobOutput::File(out.clone())).resume(true);
//! let report = Job::new(&fetcher, spec)?.run()?;
//! assert_eq!(report.tally.ok, 20);
//! // Run again with resume: everything is done, nothing is sent.
//! let again = JobSpec::new(Inputs { template: Some((server.url("/todos/{}"), 1..=20)), ..Inputs::default() },
//!     JobOutput::File(out.clone())).resume(true);
//! let report = Job::new(&fetcher, again)?.run()?;
//! assert_eq!((report.tally.done, report.file.map(|f| f.records)), (0, Some(20)));
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::cancel::CancelToken;
use crate::config::{ConfigError, Order, Shard};
use crate::fetcher::{Fetcher, LiveCounts};
use crate::input::{self, InputError, InputFormat, RequestTemplate, Source};
use crate::record::{ErrorKind, JsonLinesWriter, Record};
use crate::request::Request;
use crate::resume::{IndexSet, ResumeError};
use crate::run::RunOptions;

/// Where a job's URLs come from, in this order: `requests`, `urls`, then `template` with `{}`
/// replaced by every number of its range, then the lines of `files` (`-` is stdin).
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Requests given as values (a Python list of URLs and dicts), first of all.
    pub requests: Vec<Request>,
    /// Inline URLs (`--url`).
    pub urls: Vec<String>,
    /// A URL template and the inclusive range its `{}` takes (`--template`, `--range`).
    pub template: Option<(String, RangeInclusive<u64>)>,
    /// URL list files, one URL (or `METHOD URL [BODY]`, or a JSON request object) per line;
    /// `-` is stdin.
    pub files: Vec<PathBuf>,
    /// Method and body of plain URLs (`-X`, `--json`, `--form`, `--data`).
    pub request: RequestTemplate,
    /// How the files' lines are read (default: JSON Lines when the first line starts
    /// with `{`).
    pub format: InputFormat,
}

impl Inputs {
    /// How many inputs there are without reading a file: the inline ones, when there are no
    /// files.
    pub fn known_count(&self) -> Option<u64> {
        self.files.is_empty().then(|| self.inline_count())
    }

    /// The requests given, `--url`s and the template's numbers.
    fn inline_count(&self) -> u64 {
        let range = self
            .template
            .as_ref()
            .map_or(0, |(_, range)| range.end() - range.start() + 1);
        (self.requests.len() + self.urls.len()) as u64 + range
    }

    /// The requests before the files' lines, lazily.
    fn first(&self) -> Result<impl Iterator<Item = Request> + Send + 'static, InputError> {
        let expanded: Box<dyn Iterator<Item = String> + Send> = match &self.template {
            Some((template, range)) => Box::new(input::expand_template(template, range.clone())?),
            None => Box::new(std::iter::empty()),
        };
        let plain = self.request.clone();
        let urls = self.urls.clone().into_iter().chain(expanded);
        Ok(self
            .requests
            .clone()
            .into_iter()
            .chain(urls.map(move |url| plain.request(url))))
    }

    /// Every request, read again from the start (for `--resume`'s check of FILE).
    fn all_again(&self) -> Result<impl Iterator<Item = Request>, InputError> {
        let first = self.first()?;
        let sources = input::open_all(&self.files)?;
        let (template, format) = (self.request.clone(), self.format);
        Ok(first.chain(
            sources
                .into_iter()
                .flat_map(move |source| input::requests_of(source, template.clone(), format)),
        ))
    }
}

/// Where a job's records go.
pub enum JobOutput {
    /// A file (created, or continued with [`JobSpec::resume`]).
    File(PathBuf),
    /// Any writer (stdout, a pipe, memory).
    Writer(Box<dyn Write + Send>),
}

impl std::fmt::Debug for JobOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobOutput::File(path) => f.debug_tuple("File").field(path).finish(),
            JobOutput::Writer(_) => f.write_str("Writer(..)"),
        }
    }
}

/// What a job reports while it runs (to a [`JobSpec::progress`] callback).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct JobProgress {
    /// Records written so far.
    pub done: u64,
    /// Of them, ok.
    pub ok: u64,
    /// Of them, sent and not ok (interrupted ones apart).
    pub failed: u64,
    /// Of them, sent and stopped by a cancel before they finished.
    pub interrupted: u64,
    /// Of them, never sent (a cancel).
    pub cancelled: u64,
    /// All the inputs this run will fetch, once known (regular files are counted in the
    /// background).
    pub total: Option<u64>,
    /// Requests in flight and bytes received now.
    pub live: LiveCounts,
}

/// A progress callback: called after every record and about every 100 ms.
pub type ProgressFn = Arc<dyn Fn(&JobProgress) + Send + Sync>;

/// A record callback: called with each record once it is written (a binding hands them on).
pub type RecordFn = Arc<dyn Fn(&Record) + Send + Sync>;

/// A whole run: inputs, where records go, and how.
pub struct JobSpec {
    /// The URLs.
    pub inputs: Inputs,
    /// Where records go.
    pub output: JobOutput,
    /// Continue an earlier run that wrote the output file: fetch only inputs without a final
    /// record in it; it then holds one record per input, in input order.
    pub resume: bool,
    /// With `resume`, also fetch again the inputs whose record is not ok.
    pub retry_failed: bool,
    /// Stops the run (the command line cancels it on Ctrl-C).
    pub cancel: CancelToken,
    /// Told after every record and about every 100 ms.
    pub progress: Option<ProgressFn>,
    /// Given each record once it is written.
    pub on_record: Option<RecordFn>,
    /// Output order (a resumed run needs input order).
    pub order: Order,
    /// How far dispatch may run ahead of the oldest unfinished index (default `4 × pool`).
    pub window: Option<usize>,
    /// Gather per batch of this size.
    pub batch_size: Option<usize>,
    /// Fetch only the inputs of this shard, keeping their global indices.
    pub shard: Option<Shard>,
}

impl JobSpec {
    /// `inputs` into `output`, not resumed, with a fresh cancel token and no progress.
    pub fn new(inputs: Inputs, output: JobOutput) -> Self {
        JobSpec {
            inputs,
            output,
            resume: false,
            retry_failed: false,
            cancel: CancelToken::new(),
            progress: None,
            on_record: None,
            order: Order::Input,
            window: None,
            batch_size: None,
            shard: None,
        }
    }

    /// With `resume` set.
    pub fn resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// With records in `order`.
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// Only the inputs of `shard`.
    pub fn shard(mut self, shard: Option<Shard>) -> Self {
        self.shard = shard;
        self
    }
}

/// Why a job cannot run, or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// The output is one of the inputs: writing it would destroy them. Nothing was sent.
    #[error("{}: that is an input ({input}); refusing to overwrite it", output.display())]
    OutputIsAnInput {
        /// The output file.
        output: PathBuf,
        /// The input it is, as named.
        input: String,
    },
    /// The output file cannot be opened (before any request).
    #[error("cannot write {}: {source}", path.display())]
    OpenOutput {
        /// The output file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Retrying failed records needs a resumed run.
    #[error("retrying failed records needs a resumed run")]
    RetryFailedNeedsResume,
    /// A resumed run needs an output file to resume.
    #[error("a resumed run needs an output file (the records to resume)")]
    ResumeNeedsFile,
    /// A resumed run keeps records in input order.
    #[error("a resumed run keeps records in input order, not completion order")]
    ResumeNeedsInputOrder,
    /// A resumed run reads its inputs twice: `input` (stdin, a pipe, a FIFO) cannot be.
    #[error(
        "a resumed run reads its inputs twice, and {input} cannot be read twice (save the list to a file first, e.g. cmd > list.txt, and give that)"
    )]
    ResumeNeedsFiles {
        /// The input that cannot be read again.
        input: String,
    },
    /// A run setting cannot work (a window or a batch of 0).
    #[error(transparent)]
    Settings(#[from] ConfigError),
    /// The inputs cannot be read (before any request).
    #[error(transparent)]
    Input(#[from] InputError),
    /// `--resume` cannot go on: FILE or the inputs are not what it needs, or rewriting FILE
    /// failed.
    #[error(transparent)]
    Resume(#[from] ResumeError),
    /// Records could not be written (a full disk, a closed pipe).
    #[error("cannot write records: {source}")]
    Output {
        /// Why.
        source: io::Error,
    },
}

impl JobError {
    /// Whether writing failed (a full disk, a closed pipe), rather than the settings, the
    /// inputs or an earlier output being wrong.
    pub fn is_write_error(&self) -> bool {
        match self {
            JobError::Output { .. } => true,
            JobError::Resume(e) => e.is_write_error(),
            _ => false,
        }
    }

    /// A closed pipe: the reader's choice, not worth a message.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, JobError::Output { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// Everything counted about a run's records.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Records written.
    pub done: u64,
    /// Records that were ok.
    pub ok: u64,
    /// Records of requests never sent (a cancel).
    pub cancelled: u64,
    /// Records of requests sent and stopped by a cancel before they finished.
    pub interrupted: u64,
    /// Responses received (records with a status).
    pub responses: u64,
    /// Records by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Records by error kind (its wire name, `"timeout"`).
    pub errors: BTreeMap<&'static str, u64>,
    /// Microseconds from start to finish of each request that was sent.
    latency_us: Histogram<u64>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            done: 0,
            ok: 0,
            cancelled: 0,
            interrupted: 0,
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
        let mut finished = record.attempts > 0;
        if let Some(error) = &record.error {
            if error.kind == ErrorKind::Cancelled {
                // Counted in the headline: never sent, or interrupted; neither finished.
                finished = false;
                if record.attempts == 0 {
                    self.cancelled += 1;
                } else {
                    self.interrupted += 1;
                }
            } else {
                *self.errors.entry(error.kind.as_str()).or_default() += 1;
            }
        }
        if finished {
            let micros = ((record.finished_ms - record.started_ms).max(0.0) * 1000.0) as u64;
            let _ = self.latency_us.record(micros.max(1));
        }
    }

    /// Records of requests that were sent, finished, and are not ok.
    pub fn failed(&self) -> u64 {
        self.done - self.ok - self.cancelled - self.interrupted
    }

    /// Records of requests that were sent (finished or interrupted).
    pub fn sent(&self) -> u64 {
        self.done - self.cancelled
    }

    /// The latency (start to finish) at quantile `q` of the requests that finished, in ms;
    /// `None` when none did.
    pub fn latency_ms(&self, q: f64) -> Option<f64> {
        (!self.latency_us.is_empty()).then(|| self.latency_us.value_at_quantile(q) as f64 / 1000.0)
    }

    /// The longest latency, in ms.
    pub fn max_latency_ms(&self) -> Option<f64> {
        (!self.latency_us.is_empty()).then(|| self.latency_us.max() as f64 / 1000.0)
    }

    fn progress(&self, total: Option<u64>, live: LiveCounts) -> JobProgress {
        JobProgress {
            done: self.done,
            ok: self.ok,
            failed: self.failed(),
            interrupted: self.interrupted,
            cancelled: self.cancelled,
            total,
            live,
        }
    }
}

/// What the output file holds after a resumed run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileCounts {
    /// Records (one per input it has).
    pub records: u64,
    /// Of them, not ok.
    pub not_ok: u64,
}

/// What a finished job did.
#[derive(Debug)]
#[non_exhaustive]
pub struct JobReport {
    /// This run's records, counted.
    pub tally: Tally,
    /// From the first dispatch to the last record.
    pub wall: Duration,
    /// Bytes received and connections opened.
    pub live: LiveCounts,
    /// The cancel token stopped the run.
    pub cancelled: bool,
    /// Reading the inputs stopped at the cancel: how many were read, and how many were never
    /// read when that is known (`--url`/`--range` only).
    pub never_read: Option<(u64, Option<u64>)>,
    /// With `resume`: what the output file holds now.
    pub file: Option<FileCounts>,
    /// An input that could not be read part-way (the records before it were written).
    pub input_error: Option<InputError>,
}

impl JobReport {
    /// Whether everything the run is answerable for is ok: every record of the output file
    /// after a resume, else every record of this run.
    pub fn all_ok(&self) -> bool {
        match self.file {
            Some(file) => file.not_ok == 0,
            None => self.tally.ok == self.tally.done,
        }
    }
}

/// The record writer, shared with whoever must flush it on a hard exit.
type SharedWriter = Arc<Mutex<JsonLinesWriter<Box<dyn Write + Send>>>>;

/// Flushes a job's records from another thread (a second Ctrl-C exits at once, after the
/// line being written).
#[derive(Clone)]
pub struct FlushHandle(SharedWriter);

impl FlushHandle {
    /// Flush what is written so far; waits for a line being written.
    pub fn flush(&self) {
        if let Ok(mut writer) = self.0.lock() {
            let _ = writer.flush();
        }
    }
}

/// A job whose inputs are open and checked, whose earlier output (with `resume`) is
/// compacted, and whose writer is open: nothing has been sent yet.
pub struct Job<'a> {
    fetcher: &'a Fetcher,
    inputs: Inputs,
    sources: Vec<Source>,
    output: Option<PathBuf>,
    resume: bool,
    retry_failed: bool,
    cancel: CancelToken,
    progress: Option<ProgressFn>,
    on_record: Option<RecordFn>,
    done: Option<IndexSet>,
    writer: SharedWriter,
    /// The run's own settings: order, window, batch size, shard.
    shape: RunOptions,
}

/// The longest records wait in the output buffer while more keep coming.
const FLUSH_EVERY: Duration = Duration::from_millis(50);

impl<'a> Job<'a> {
    /// Check `spec` and prepare it on `fetcher`: every refusal comes here, before any request.
    pub fn new(fetcher: &'a Fetcher, spec: JobSpec) -> Result<Self, JobError> {
        let JobSpec {
            inputs,
            output,
            resume,
            retry_failed,
            cancel,
            progress,
            on_record,
            order,
            window,
            batch_size,
            shard,
        } = spec;
        let shape = RunOptions {
            order,
            window,
            batch_size,
            shard,
            ..RunOptions::default()
        };
        shape.check()?;
        let sources = input::open_all(&inputs.files)?;
        inputs.first().map(drop)?; // the template is checked now, before any request
        let path = match &output {
            JobOutput::File(path) => Some(path.clone()),
            JobOutput::Writer(_) => None,
        };
        if let Some(path) = &path {
            let named = sources.iter().map(|s| (s.name().to_string(), s.id()));
            if let Some((input, _)) = input::same_file(path, named) {
                return Err(JobError::OutputIsAnInput {
                    output: path.clone(),
                    input,
                });
            }
        }
        if retry_failed && !resume {
            return Err(JobError::RetryFailedNeedsResume);
        }
        let done = match (&path, resume) {
            (None, true) => {
                return Err(JobError::ResumeNeedsFile);
            }
            (Some(path), true) => {
                check_resumable(order, &inputs, &sources)?;
                if path.exists() {
                    let mut again = inputs.all_again()?;
                    let compacted = crate::resume::compact(path, Some(&mut again), retry_failed)?;
                    Some(compacted.done)
                } else {
                    Some(IndexSet::default())
                }
            }
            _ => None,
        };
        let out: Box<dyn Write + Send> = match output {
            // A resumed output is appended to, then compacted again at the end.
            JobOutput::File(path) => {
                let opened = if resume {
                    File::options().append(true).create(true).open(&path)
                } else {
                    File::create(&path)
                };
                let file = opened.map_err(|source| JobError::OpenOutput {
                    path: path.clone(),
                    source,
                })?;
                Box::new(BufWriter::with_capacity(64 * 1024, file))
            }
            JobOutput::Writer(writer) => Box::new(BufWriter::with_capacity(64 * 1024, writer)),
        };
        Ok(Job {
            fetcher,
            inputs,
            sources,
            output: path,
            resume,
            retry_failed,
            cancel,
            progress,
            on_record,
            done,
            writer: Arc::new(Mutex::new(JsonLinesWriter::new(out))),
            shape,
        })
    }

    /// A handle that flushes this job's records from another thread.
    pub fn flush_handle(&self) -> FlushHandle {
        FlushHandle(Arc::clone(&self.writer))
    }

    /// How many inputs this run will fetch, if known before reading any file.
    pub fn total(&self) -> Option<u64> {
        let shard = self.shape.shard;
        self.inputs
            .known_count()
            .map(|total| shard.map_or(total, |s| s.size_of(total)))
    }

    /// Fetch every input not done yet, writing each record as it may leave.
    pub fn run(self) -> Result<JobReport, JobError> {
        let total = self.total();
        let Job {
            fetcher,
            inputs,
            sources,
            output,
            resume,
            retry_failed,
            cancel,
            progress,
            on_record,
            done,
            writer,
            shape,
        } = self;
        // Regular files can be counted up front (in the background) for a progress total.
        let counted_files =
            (progress.is_some() && total.is_none() && sources.iter().all(Source::is_regular))
                .then(|| inputs.files.clone());
        let feed = input::feed(
            inputs.first()?,
            sources,
            (inputs.request.clone(), inputs.format),
            cancel.clone(),
        )?;
        let already = done.as_ref().map_or(0, IndexSet::len);
        let shard = shape.shard;
        let options = RunOptions {
            cancel: cancel.clone(),
            skip: done,
            expected: total.and_then(|n| usize::try_from(n.saturating_sub(already)).ok()),
            ..shape
        };
        let started = Instant::now();
        let run = fetcher.stream_queue(feed.requests, feed.stop_on_cancel, options);
        let watch = Watch {
            fetcher,
            progress,
            tally: Mutex::new(Tally::default()),
            total: Mutex::new(total),
            finished: AtomicBool::new(false),
        };
        let written = std::thread::scope(|scope| {
            if watch.progress.is_some() {
                let watch = &watch;
                if let Some(files) = counted_files {
                    let inline = inputs.inline_count();
                    scope.spawn(move || watch.count_lines(&files, inline, shard));
                }
                scope.spawn(move || watch.tick());
            }
            let written = write_records(run, &writer, &watch, on_record.as_deref());
            watch.finished.store(true, Ordering::Relaxed);
            written
        });
        let wall = started.elapsed();
        written.map_err(|source| JobError::Output { source })?;
        // One run of records in input order again: the earlier ones and this run's, merged.
        let file = match (&output, resume) {
            (Some(path), true) => {
                let compacted = crate::resume::compact(path, None, retry_failed)?;
                Some(FileCounts {
                    records: compacted.records,
                    not_ok: compacted.not_ok,
                })
            }
            _ => None,
        };
        let never_read = feed.stopped.load(Ordering::Relaxed).then(|| {
            let read = feed.read.load(Ordering::Relaxed);
            // Every input counts in `read`, other shards' too: compare with all of them.
            (
                read,
                inputs.known_count().map(|all| all.saturating_sub(read)),
            )
        });
        let input_error = feed.error.lock().ok().and_then(|mut slot| slot.take());
        Ok(JobReport {
            tally: watch.tally.into_inner().unwrap_or_default(),
            wall,
            live: fetcher.live(),
            cancelled: cancel.is_cancelled(),
            never_read,
            file,
            input_error,
        })
    }
}

/// What a running job counts, and who is told.
struct Watch<'a> {
    fetcher: &'a Fetcher,
    progress: Option<ProgressFn>,
    tally: Mutex<Tally>,
    /// The inputs this run fetches, once known.
    total: Mutex<Option<u64>>,
    finished: AtomicBool,
}

impl Watch<'_> {
    /// Count `record` and tell the progress callback.
    fn add(&self, record: &Record) {
        if let Ok(mut tally) = self.tally.lock() {
            tally.add(record);
        }
        self.report();
    }

    fn report(&self) {
        let Some(progress) = &self.progress else {
            return;
        };
        let total = self.total.lock().ok().and_then(|t| *t);
        if let Ok(tally) = self.tally.lock() {
            progress(&tally.progress(total, self.fetcher.live()));
        }
    }

    /// Elapsed time, requests in flight and bytes move while no request finishes.
    fn tick(&self) {
        while !self.finished.load(Ordering::Relaxed) {
            self.report();
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Count the URL lines of `files` (regular files) for the total.
    fn count_lines(&self, files: &[PathBuf], inline: u64, shard: Option<crate::Shard>) {
        if let Some(lines) = input::count_url_lines(files) {
            let all = inline + lines;
            if let Ok(mut total) = self.total.lock() {
                *total = Some(shard.map_or(all, |s| s.size_of(all)));
            }
        }
    }
}

/// Write every record of `run` as it may leave. Records are buffered and flushed when none
/// is ready, and at least every [`FLUSH_EVERY`]: one write per burst instead of one per
/// record, and a pipe still sees them promptly.
fn write_records(
    mut run: crate::Run<'_>,
    writer: &SharedWriter,
    watch: &Watch<'_>,
    on_record: Option<&(dyn Fn(&Record) + Send + Sync)>,
) -> io::Result<()> {
    let mut flushed = Instant::now();
    while let Some(record) = run.next() {
        watch.add(&record);
        let mut writer = writer
            .lock()
            .map_err(|_| io::Error::other("the output lock was poisoned"))?;
        writer.write(&record)?;
        if !run.has_ready() || flushed.elapsed() >= FLUSH_EVERY {
            flushed = Instant::now();
            writer.flush()?;
        }
        drop(writer);
        if let Some(on_record) = on_record {
            on_record(&record);
        }
    }
    writer
        .lock()
        .map_err(|_| io::Error::other("the output lock was poisoned"))?
        .flush()
}

/// A resumed run reads the inputs twice and keeps input order: refuse what cannot work.
fn check_resumable(order: Order, inputs: &Inputs, sources: &[Source]) -> Result<(), JobError> {
    if order == Order::Completion {
        return Err(JobError::ResumeNeedsInputOrder);
    }
    if inputs.files.iter().any(|f| f.as_os_str() == "-") {
        return Err(JobError::ResumeNeedsFiles {
            input: "stdin".into(),
        });
    }
    // A pipe, FIFO or terminal cannot be read a second time.
    if let Some(source) = sources.iter().find(|source| !source.is_regular()) {
        return Err(JobError::ResumeNeedsFiles {
            input: format!("{} (not a regular file: a pipe or FIFO)", source.name()),
        });
    }
    Ok(())
}
