//! `poolfetch fetch`: flags to a `Config` and lazily read requests, the run with its progress
//! bar, Ctrl-C handling and JSON Lines output, and the summary line.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;

use super::parse::{
    parse_duration, parse_form_field, parse_header, parse_method, parse_range_arg, parse_rate,
    parse_size,
};
use super::progress::{self, Progress, Tally};
use super::signals;
use super::values::{BodyArg, EngineArg, OrderArg};
use super::{EXIT_FAILED, EXIT_OK, EXIT_WRITE, limits, usage_error};
use crate::Fetcher;
use crate::cancel::CancelToken;
use crate::config::RetryPolicy;
use crate::config::{Config, DEFAULT_POOL, Shard};
use crate::input::RequestTemplate;
use crate::input::{self, InputError};
use crate::record::JsonLinesWriter;
use crate::request::{Body, Request};
use crate::resume::IndexSet;

/// Flags of `poolfetch fetch`.
#[derive(Debug, Args)]
pub(super) struct FetchArgs {
    /// Files with one URL per line ('-' for stdin); stdin when no FILE, --url or --template.
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    /// A URL to fetch (repeatable); comes before the template's and the files' URLs.
    #[arg(long = "url", value_name = "URL")]
    urls: Vec<String>,
    /// URL with '{}' replaced by every number of --range, e.g. http://host/todos/{}.
    #[arg(long, value_name = "T", requires = "range")]
    template: Option<String>,
    /// Inclusive range for --template, e.g. 1..199.
    #[arg(long, value_name = "A..B", requires = "template", value_parser = parse_range_arg)]
    range: Option<std::ops::RangeInclusive<u64>>,
    /// Worker threads, which is also the most requests in flight (async engine: 0 = no limit).
    #[arg(short, long, value_name = "N", default_value_t = DEFAULT_POOL)]
    pool: usize,
    /// Order of the records.
    #[arg(long, value_enum, default_value_t = OrderArg::Input)]
    order: OrderArg,
    /// Dispatch N, wait for all N, then the next N (gather per batch).
    #[arg(long, value_name = "N")]
    batch_size: Option<usize>,
    /// How far dispatch may run ahead of the oldest unfinished request [default: 4 × pool].
    #[arg(long, value_name = "N")]
    window: Option<usize>,
    /// Engine that runs the requests.
    #[arg(long, value_enum, default_value_t = EngineArg::Threads)]
    engine: EngineArg,
    /// Deadline for connecting, for the response head and for each body read (e.g. 10s, 250ms).
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_duration)]
    timeout: Duration,
    /// Deadline for a whole request, first byte sent to last byte read, per attempt (curl's
    /// name); past it the record is a `timeout`.
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    max_time: Option<Duration>,
    /// What each record keeps of the body.
    #[arg(long, value_enum, default_value_t = BodyArg::Auto)]
    body: BodyArg,
    /// Largest body kept (e.g. 512KiB, 10MiB); larger ones are `too_large` [default: 10MiB
    /// in records, no cap for --output-dir files].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_body: Option<u64>,
    /// Stream each body to a file in DIR (named NNNNNN-lastsegment); the record names it.
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Continue .part files an earlier (killed) run left in --output-dir, with Range requests
    /// guarded by If-Range; a server that ignores them restarts the file.
    #[arg(long = "continue", requires = "output_dir")]
    continue_parts: bool,
    /// HTTP method for every plain URL [default: GET, or POST with a body].
    #[arg(short = 'X', long, value_name = "M", value_parser = parse_method)]
    method: Option<String>,
    /// JSON body for every plain URL (or @FILE); sets Content-Type: application/json.
    #[arg(long, value_name = "BODY", group = "payload")]
    json: Option<String>,
    /// Urlencoded form field K=V for every plain URL (repeatable).
    #[arg(long, value_name = "K=V", group = "payload", value_parser = parse_form_field)]
    form: Vec<(String, String)>,
    /// Raw body for every plain URL (or @FILE), sent as form data like curl -d.
    #[arg(long, value_name = "BODY", group = "payload")]
    data: Option<String>,
    /// Header sent with every request, 'Name: value' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "'K: V'", value_parser = parse_header)]
    headers: Vec<(String, String)>,
    /// Retry transient failures (connect, timeout, reset, 429, 5xx) up to N times.
    #[arg(long, value_name = "N", default_value_t = 0)]
    retries: u32,
    /// Base of the exponential backoff with full jitter between retries.
    #[arg(long, value_name = "DUR", default_value = "100ms", value_parser = parse_duration)]
    retry_backoff: Duration,
    /// Longest wait before a retry, for backoff and Retry-After alike.
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_duration)]
    retry_max_wait: Duration,
    /// Retry POST and PATCH too (not idempotent: the server may act twice).
    #[arg(long)]
    retry_all_methods: bool,
    /// Redirects to follow; more (or a loop) is a `redirect` error. 0 returns the 3xx itself.
    #[arg(long, value_name = "N", default_value_t = 10)]
    max_redirects: u32,
    /// At most N requests per second in all, evenly spaced (e.g. 50, 50/s, 600/m).
    #[arg(long, value_name = "N/s", value_parser = parse_rate)]
    rate: Option<std::num::NonZeroU32>,
    /// At most N requests in flight to any one host (a waiting request holds its worker).
    #[arg(long, value_name = "N")]
    per_host: Option<usize>,
    /// Also trust the CA certificates in this PEM file (besides the built-in roots).
    #[arg(long, value_name = "FILE")]
    cacert: Option<PathBuf>,
    /// Do not verify TLS certificates (the summary says so). Never the default.
    #[arg(short = 'k', long)]
    insecure: bool,
    /// Send every request through this http(s) proxy [default: the environment's
    /// http_proxy / https_proxy / all_proxy, as curl].
    #[arg(short = 'x', long, value_name = "URL")]
    proxy: Option<String>,
    /// Hosts and domains never proxied, comma-separated; '*' for none [default: no_proxy].
    #[arg(long, value_name = "LIST")]
    noproxy: Option<String>,
    /// Fetch only the inputs whose index ≡ K (mod N), keeping their global indices: N
    /// machines split one list with no coordination (then `poolfetch merge`).
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    shard: Option<Shard>,
    /// Write records to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Continue an interrupted run that wrote -o FILE (killed in any way): fetch only the
    /// inputs without a final record in FILE; FILE then holds one record per input, in order.
    #[arg(long, requires = "output")]
    resume: bool,
    /// With --resume, also fetch again the inputs whose record is not ok.
    #[arg(long, requires = "resume")]
    retry_failed: bool,
    /// No progress bar and no summary line on stderr.
    #[arg(short, long)]
    quiet: bool,
}

pub(super) fn fetch(args: FetchArgs) -> i32 {
    let config = Config {
        pool: args.pool,
        window: args.window,
        order: args.order.into(),
        batch_size: args.batch_size,
        timeout: args.timeout,
        max_time: args.max_time,
        body: args.body.into(),
        max_body: args.max_body,
        output_dir: args.output_dir.clone(),
        continue_parts: args.continue_parts,
        headers: args.headers,
        engine: args.engine.into(),
        retry: RetryPolicy {
            retries: args.retries,
            backoff: args.retry_backoff,
            max_wait: args.retry_max_wait,
            all_methods: args.retry_all_methods,
        },
        max_redirects: args.max_redirects,
        cacert: args.cacert,
        insecure: args.insecure,
        rate: args.rate,
        per_host: args.per_host,
        proxy: args.proxy,
        no_proxy: args.noproxy,
        shard: args.shard,
    };
    if let Err(e) = config.validate() {
        return usage_error(e);
    }
    let template = match request_template(args.method, args.json, &args.form, args.data) {
        Ok(template) => template,
        Err(e) => return usage_error(e),
    };
    let shard = args.shard;
    let total = match (&args.range, args.files.is_empty()) {
        (Some(range), true) => Some(args.urls.len() as u64 + (range.end() - range.start() + 1)),
        (None, true) if !args.urls.is_empty() => Some(args.urls.len() as u64),
        _ => None,
    }
    .map(|total| shard.map_or(total, |s| s.size_of(total)));
    let stdin_default = args.files.is_empty() && args.urls.is_empty() && args.template.is_none();
    let files_given = !args.files.is_empty() || stdin_default;
    let files = if stdin_default {
        vec![PathBuf::from("-")]
    } else {
        args.files
    };
    let sources = match input::open_all(&files) {
        Ok(sources) => sources,
        Err(e) => return usage_error(e),
    };
    // Regular files can be counted up front (in the background) for the bar's total.
    let counted_files =
        (!stdin_default && sources.iter().all(input::Source::is_regular)).then(|| files.clone());
    let inline_count = args.urls.len() as u64
        + args
            .range
            .as_ref()
            .map_or(0, |range| range.end() - range.start() + 1);
    if let Some(path) = &args.output
        && let Some(source) = sources.iter().find(|source| source.is(path))
    {
        return usage_error(format!(
            "-o {}: that is an input ({}); refusing to overwrite it",
            path.display(),
            source.name()
        ));
    }
    if args.resume {
        if matches!(args.order, OrderArg::Completion) {
            return usage_error("--resume keeps records in input order: drop --order completion");
        }
        if stdin_default || files.iter().any(|f| f.as_os_str() == "-") {
            return usage_error(
                "--resume reads the inputs twice: give files, --url or --template, not stdin",
            );
        }
        // A pipe, FIFO or terminal cannot be read a second time.
        if let Some(source) = sources.iter().find(|source| !source.is_regular()) {
            return usage_error(format!(
                "--resume reads the inputs twice, and {} is not a regular file (a pipe or FIFO); save the list to a file first (e.g. cmd > list.txt) and give that",
                source.name()
            ));
        }
    }
    let first = match first_requests(
        args.urls.clone(),
        args.template.clone(),
        args.range.clone(),
        &template,
    ) {
        Ok(first) => first,
        Err(e) => return usage_error(e),
    };
    // Every setting is checked (proxies included) before FILE is touched.
    // Never dropped: the process exits when this returns, and waking thousands of idle
    // workers one by one only for the kernel to end them anyway took 30 ms at a pool of 5,000.
    let fetcher = match Fetcher::new(config) {
        Ok(fetcher) => std::mem::ManuallyDrop::new(fetcher),
        Err(e) => return usage_error(e),
    };
    // --resume: compact the earlier output (checking it against the inputs) before anything
    // is sent, and learn which inputs are done.
    let done = match (&args.output, args.resume) {
        (Some(path), true) if path.exists() => {
            let again = first_requests(args.urls, args.template, args.range, &template)
                .and_then(|first| Ok((first, input::open_all(&files)?)));
            let (again, sources) = match again {
                Ok(parts) => parts,
                Err(e) => return usage_error(e),
            };
            let lines = sources.into_iter().flat_map(|source| {
                let template = template.clone();
                input::lines_of(source).map(move |line| line.into_request(&template))
            });
            let mut inputs = again.chain(lines);
            match crate::resume::compact(path, Some(&mut inputs), args.retry_failed) {
                Ok(compacted) => Some(compacted.done),
                Err(e) => return resume_error(&e),
            }
        }
        (Some(_), true) => Some(IndexSet::default()),
        (None, true) => return usage_error("--resume needs -o FILE (the output to resume)"),
        _ => None,
    };
    limits::raise_open_files(fetcher.config());
    let out: Box<dyn Write + Send> = match &args.output {
        // A resumed output is appended to, then compacted again at the end.
        Some(path) if done.is_some() => {
            match File::options().append(true).create(true).open(path) {
                Ok(file) => Box::new(BufWriter::with_capacity(64 * 1024, file)),
                Err(e) => return usage_error(format!("cannot write {}: {e}", path.display())),
            }
        }
        Some(path) => match File::create(path) {
            Ok(file) => Box::new(BufWriter::with_capacity(64 * 1024, file)),
            Err(e) => return usage_error(format!("cannot write {}: {e}", path.display())),
        },
        None => Box::new(BufWriter::with_capacity(64 * 1024, io::stdout())),
    };
    let cancel = CancelToken::new();
    // Shared with the signal handler, so a hard exit waits for the line being written.
    let writer = Arc::new(Mutex::new(JsonLinesWriter::new(out)));
    let signal = signals::install(&cancel, &writer);
    let feed = match input::feed(first, sources, template, cancel.clone()) {
        Ok(feed) => feed,
        Err(e) => return usage_error(e),
    };

    let started = Instant::now();
    let progress = Progress::new(total, args.quiet, args.output.is_none());
    let already = done.as_ref().map_or(0, IndexSet::len);
    let expected = total.and_then(|n| usize::try_from(n.saturating_sub(already)).ok());
    let tally = Mutex::new(Tally::default());
    let finished = AtomicBool::new(false);
    let options = crate::RunOptions {
        cancel: cancel.clone(),
        skip: done.clone(),
        expected,
    };
    let mut run = fetcher.stream_queue(feed.requests, feed.stop_on_cancel, options);
    let outcome = std::thread::scope(|scope| {
        if progress.is_visible() {
            // Lines of regular files are counted in the background for the total and ETA.
            if total.is_none() && counted_files.is_some() {
                let (progress, inline) = (&progress, inline_count);
                scope.spawn(move || {
                    if let Some(lines) = counted_files.as_deref().and_then(input::count_url_lines) {
                        let all = inline + lines;
                        progress.set_total(shard.map_or(all, |s| s.size_of(all)));
                    }
                });
            }
            // Elapsed time, requests in flight and bytes move while no request finishes.
            let (progress, tally, finished, fetcher) = (&progress, &tally, &finished, &fetcher);
            scope.spawn(move || {
                while !finished.load(Ordering::Relaxed) {
                    if let Ok(tally) = tally.lock() {
                        progress.update(&tally, fetcher.live());
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
        }
        // Records are buffered and flushed when none is ready, and at least every
        // FLUSH_EVERY: one write per burst instead of one per record, and a pipe still sees
        // them promptly.
        let mut flushed = Instant::now();
        let mut outcome = Ok(());
        while let Some(record) = run.next() {
            if let Ok(mut tally) = tally.lock() {
                tally.add(&record);
            }
            let written = match writer.lock() {
                Ok(mut writer) => writer.write(&record).and_then(|()| {
                    if !run.has_ready() || flushed.elapsed() >= FLUSH_EVERY {
                        flushed = Instant::now();
                        writer.flush()
                    } else {
                        Ok(())
                    }
                }),
                Err(_) => Err(io::Error::other("the output lock was poisoned")),
            };
            if let Err(e) = written {
                outcome = Err(e);
                break;
            }
        }
        if outcome.is_ok()
            && let Ok(mut writer) = writer.lock()
        {
            outcome = writer.flush();
        }
        finished.store(true, Ordering::Relaxed);
        outcome
    });
    let wall = started.elapsed();
    progress.finish();
    if let Err(e) = outcome {
        // A closed pipe (`| head`) is the reader's choice: stop quietly.
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("poolfetch: cannot write records: {e}");
        }
        return EXIT_WRITE;
    }
    let tally = tally.into_inner().unwrap_or_default();
    if !args.quiet {
        eprintln!(
            "{}",
            progress::summary(&tally, wall, fetcher.config(), fetcher.live())
        );
        if feed.stopped.load(Ordering::Relaxed) {
            let read = feed.read.load(Ordering::Relaxed);
            // Every input counts here, other shards' too: compare with all of them.
            let unread = if files_given {
                "the rest of the inputs".to_string()
            } else {
                format!("{} inputs", inline_count.saturating_sub(read))
            };
            eprintln!(
                "poolfetch: stopped reading at the cancel after {read} inputs: {unread} never read (no record)"
            );
        }
    }
    // One run of records in input order again: the earlier ones and this run's, merged. The
    // exit status then describes FILE, not only what this run fetched.
    let mut failed = tally.ok < tally.done;
    if let (Some(path), Some(_)) = (&args.output, &done) {
        match crate::resume::compact(path, None, args.retry_failed) {
            Ok(compacted) => {
                failed = compacted.not_ok > 0;
                if !args.quiet {
                    eprintln!(
                        "poolfetch: {} holds {} records, {} not ok",
                        path.display(),
                        compacted.records,
                        compacted.not_ok
                    );
                }
            }
            Err(e) => {
                eprintln!("poolfetch: cannot compact {}: {e}", path.display());
                return EXIT_WRITE;
            }
        }
    }
    if let Some(number) = signal.received() {
        return 128 + number;
    }
    let input_error = feed.error.lock().ok().and_then(|mut slot| slot.take());
    if let Some(e) = input_error {
        return usage_error(format!(
            "{e} (records for the lines before it were written)"
        ));
    }
    if failed { EXIT_FAILED } else { EXIT_OK }
}

/// The exit for a `--resume` that cannot start: 3 when writing failed, 2 otherwise.
fn resume_error(error: &crate::resume::ResumeError) -> i32 {
    if error.is_write_error() {
        eprintln!("poolfetch: {error}");
        EXIT_WRITE
    } else {
        usage_error(error)
    }
}

/// The longest records wait in the output buffer while more keep coming.
const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// The requests before the files' lines: `--url`s, then the template's, lazily. Plain URLs
/// take `template`'s method and body.
fn first_requests(
    inline: Vec<String>,
    url_template: Option<String>,
    range: Option<std::ops::RangeInclusive<u64>>,
    template: &RequestTemplate,
) -> Result<impl Iterator<Item = Request> + Send + 'static, InputError> {
    let expanded: Box<dyn Iterator<Item = String> + Send> = match (url_template, range) {
        (Some(url_template), Some(range)) => {
            Box::new(input::expand_template(&url_template, range)?)
        }
        _ => Box::new(std::iter::empty()),
    };
    let plain = template.clone();
    Ok(inline
        .into_iter()
        .chain(expanded)
        .map(move |url| plain.request(url)))
}

/// The method and body for plain URLs, from `-X`, `--json`, `--form` and `--data`.
pub(super) fn request_template(
    method: Option<String>,
    json: Option<String>,
    form: &[(String, String)],
    data: Option<String>,
) -> Result<RequestTemplate, String> {
    let body = if let Some(json) = json {
        let text = String::from_utf8(read_at_file(&json)?)
            .map_err(|_| "--json is not UTF-8".to_string())?;
        Some(Body::json(&text).map_err(|e| format!("--json: {e}"))?)
    } else if !form.is_empty() {
        Some(Body::form(
            form.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ))
    } else if let Some(data) = data {
        Some(Body::data(read_at_file(&data)?))
    } else {
        None
    };
    Ok(RequestTemplate {
        method,
        body: body.map(Arc::new),
    })
}

/// `@FILE` is the file's bytes (read now, so a missing file is a usage error); anything else is
/// the text itself.
fn read_at_file(value: &str) -> Result<Vec<u8>, String> {
    match value.strip_prefix('@') {
        Some(path) => std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}")),
        None => Ok(value.as_bytes().to_vec()),
    }
}

/// `--shard K/N`: 0 <= K < N.
fn parse_shard(text: &str) -> Result<Shard, String> {
    let bad = || format!("invalid shard {text:?}: expected K/N with 0 <= K < N, e.g. 0/3");
    let (index, count) = text.split_once('/').ok_or_else(bad)?;
    let index: u64 = index.trim().parse().map_err(|_| bad())?;
    let count: u64 = count.trim().parse().map_err(|_| bad())?;
    if count == 0 || index >= count {
        return Err(bad());
    }
    Ok(Shard { index, count })
}
