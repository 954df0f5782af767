//! The command line: clap types, turning flags into a [`Config`] and inputs, and exit codes.
//!
//! Exit codes are decided here and only here: 0 all ok, 1 some record not ok, 2 usage or
//! input error (before any request is sent), 130 interrupted.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};

use crate::Fetcher;
use crate::bench::export::Exports;
use crate::bench::{self, BenchPlan, plot, report};
use std::sync::{Arc, Mutex};

use crate::client::RetryPolicy;
use crate::config::{BodyMode, Config, DEFAULT_POOL, EngineKind, Order};
use crate::input::{self, InputError};
use crate::pool::CancelToken;
use crate::progress::Progress;
use crate::record::JsonLinesWriter;
use crate::request::{Body, Request, RequestTemplate};
use crate::server::{Server, ServerConfig};

/// Every record was ok.
pub const EXIT_OK: i32 = 0;
/// At least one record was not ok.
pub const EXIT_FAILED: i32 = 1;
/// A usage or input error; nothing (more) was sent.
pub const EXIT_USAGE: i32 = 2;
/// Stopped by Ctrl-C; every input still has a record.
pub const EXIT_INTERRUPTED: i32 = 130;

/// Fetch many URLs on a fixed-size thread pool, in order, and measure it.
#[derive(Debug, Parser)]
#[command(name = "poolfetch", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fetch URLs and print one JSON record per URL (JSON Lines) on stdout.
    Fetch(FetchArgs),
    /// Measure pool sizes (and engines, and batches) on one workload: table, plot, exports.
    Bench(BenchArgs),
    /// Run the embedded test server (/todos/{id}, /delay/{ms}, /bytes/{n}, /status/{code}, POST /post, /stats).
    Serve(ServeArgs),
}

/// Flags of `poolfetch fetch`.
#[derive(Debug, Args)]
struct FetchArgs {
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
    #[arg(long, value_enum, default_value_t = Order::Input)]
    order: Order,
    /// Dispatch N, wait for all N, then the next N (gather per batch).
    #[arg(long, value_name = "N")]
    batch_size: Option<usize>,
    /// How far dispatch may run ahead of the oldest unfinished request [default: 4 × pool].
    #[arg(long, value_name = "N")]
    window: Option<usize>,
    /// Engine that runs the requests.
    #[arg(long, value_enum, default_value_t = EngineKind::Threads)]
    engine: EngineKind,
    /// Deadline for connecting, for the response head and for each body read (e.g. 10s, 250ms).
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_duration)]
    timeout: Duration,
    /// What each record keeps of the body.
    #[arg(long, value_enum, default_value_t = BodyMode::Auto)]
    body: BodyMode,
    /// Largest body kept (e.g. 512KiB, 10MiB); larger ones are `too_large` [default: 10MiB
    /// in records, no cap for --output-dir files].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_body: Option<u64>,
    /// Stream each body to a file in DIR (named NNNNNN-lastsegment); the record names it.
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
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
    /// Write records to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// No progress bar and no summary line on stderr.
    #[arg(short, long)]
    quiet: bool,
}

/// Flags of `poolfetch bench`.
#[derive(Debug, Args)]
struct BenchArgs {
    /// Requests per run (N).
    #[arg(long, value_name = "N", default_value_t = 100)]
    requests: usize,
    /// Latency per request (L): the embedded server's delay [default: 50ms]; with --url, what
    /// the target is known to take (for the ideal column).
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    latency: Option<Duration>,
    /// Pool sizes to compare, comma-separated (0 = unbounded, async engine only).
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "1,5,20"
    )]
    pools: Vec<usize>,
    /// Engines to compare, comma-separated.
    #[arg(
        long = "engine",
        value_name = "LIST",
        value_enum,
        value_delimiter = ',',
        default_value = "threads,async"
    )]
    engines: Vec<EngineKind>,
    /// Timed runs of each configuration (the table shows the median and min–max).
    #[arg(long, value_name = "R", default_value_t = 1)]
    runs: usize,
    /// Untimed runs of each configuration before the timed ones.
    #[arg(long, value_name = "W", default_value_t = 0)]
    warmup: usize,
    /// Order of records inside each run.
    #[arg(long, value_enum, default_value_t = Order::Input)]
    order: Order,
    /// Also run every pool with gather-per-batch of N, to show what batching costs.
    #[arg(long, value_name = "N")]
    batch_size: Option<usize>,
    /// Measure this URL instead of the embedded server; '{}' takes the request number 1..=N.
    #[arg(long, value_name = "TEMPLATE")]
    url: Option<String>,
    /// Per-request timeout.
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_duration)]
    timeout: Duration,
    /// Where to write the SVG plot.
    #[arg(long, value_name = "FILE.svg", default_value = "poolfetch-bench.svg")]
    plot: PathBuf,
    /// Do not write a plot.
    #[arg(long, conflicts_with = "plot")]
    no_plot: bool,
    /// Write every figure (and each request's finish time) as JSON.
    #[arg(long, value_name = "FILE")]
    export_json: Option<PathBuf>,
    /// Write one CSV row per timed run.
    #[arg(long, value_name = "FILE")]
    export_csv: Option<PathBuf>,
    /// Write the table as markdown.
    #[arg(long, value_name = "FILE")]
    export_markdown: Option<PathBuf>,
}

/// Flags of `poolfetch serve`.
#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Delay added to every response (e.g. 100ms).
    #[arg(long, value_name = "DUR", default_value = "0ms", value_parser = parse_duration)]
    latency: Duration,
}

/// Parse `std::env::args`, run the command, and return the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            if !e.use_stderr() {
                // --help and --version print to stdout and succeed.
                let _ = e.print();
                return EXIT_OK;
            }
            return usage_error(first_line(&e.to_string()));
        }
    };
    match cli.command {
        Command::Fetch(args) => fetch(args),
        Command::Bench(args) => bench(args),
        Command::Serve(args) => serve(args),
    }
}

fn first_line(message: &str) -> &str {
    let line = message
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(message);
    line.trim().trim_start_matches("error: ")
}

fn usage_error(message: impl std::fmt::Display) -> i32 {
    eprintln!("poolfetch: {message}");
    EXIT_USAGE
}

fn fetch(args: FetchArgs) -> i32 {
    let config = Config {
        pool: args.pool,
        window: args.window,
        order: args.order,
        batch_size: args.batch_size,
        timeout: args.timeout,
        body: args.body,
        max_body: args.max_body,
        output_dir: args.output_dir.clone(),
        headers: args.headers,
        engine: args.engine,
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
    };
    if let Err(e) = config.validate() {
        return usage_error(e);
    }
    let template = match request_template(args.method, args.json, &args.form, args.data) {
        Ok(template) => template,
        Err(e) => return usage_error(e),
    };
    if let Some(dir) = &args.output_dir
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        return usage_error(format!("cannot create --output-dir {}: {e}", dir.display()));
    }
    let total = match (&args.range, args.files.is_empty()) {
        (Some(range), true) => Some(args.urls.len() as u64 + (range.end() - range.start() + 1)),
        (None, true) if !args.urls.is_empty() => Some(args.urls.len() as u64),
        _ => None,
    };
    let (requests, read_error) =
        match requests(args.urls, args.template, args.range, &args.files, template) {
            Ok(parts) => parts,
            Err(e) => return usage_error(e),
        };
    let out: Box<dyn Write + Send> = match &args.output {
        Some(path) => match File::create(path) {
            Ok(file) => Box::new(BufWriter::new(file)),
            Err(e) => return usage_error(format!("cannot write {}: {e}", path.display())),
        },
        None => Box::new(BufWriter::new(io::stdout())),
    };
    let fetcher = match Fetcher::new(config) {
        Ok(fetcher) => fetcher,
        Err(e) => return usage_error(e),
    };
    let cancel = CancelToken::new();
    // Shared with the Ctrl-C handler, so a hard exit waits for the line being written.
    let writer = Arc::new(Mutex::new(JsonLinesWriter::new(out)));
    install_interrupt_handler(&cancel, &writer);

    let started = Instant::now();
    let mut progress = Progress::new(total, args.quiet, args.output_dir.is_some());
    let (mut total, mut ok) = (0u64, 0u64);
    for record in fetcher.stream(requests).with_cancel(cancel.clone()) {
        total += 1;
        ok += u64::from(record.ok);
        progress.record(&record);
        let written = match writer.lock() {
            Ok(mut writer) => writer.write(&record),
            Err(_) => Err(io::Error::other("the output lock was poisoned")),
        };
        if let Err(e) = written {
            progress.finish();
            if e.kind() != io::ErrorKind::BrokenPipe {
                eprintln!("poolfetch: cannot write records: {e}");
            }
            return EXIT_FAILED;
        }
    }
    let wall = started.elapsed();
    progress.finish();
    if !args.quiet {
        eprintln!("{}", summary_line(total, ok, wall, fetcher.config()));
    }
    if let Some(e) = read_error.take() {
        return usage_error(e);
    }
    if cancel.is_cancelled() {
        EXIT_INTERRUPTED
    } else if ok < total {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

/// The one-line summary printed on stderr after a run.
fn summary_line(total: u64, ok: u64, wall: Duration, config: &Config) -> String {
    let secs = wall.as_secs_f64();
    let rate = if secs > 0.0 { total as f64 / secs } else { 0.0 };
    let insecure = if config.insecure {
        "; TLS certificates NOT verified (--insecure)"
    } else {
        ""
    };
    format!(
        "poolfetch: {total} requests, {ok} ok, {} failed in {secs:.2} s ({rate:.1} req/s, pool {}){insecure}",
        total - ok,
        config.pool,
    )
}

/// All input requests, lazily: `--url`s, then the template's, then each file's lines (or
/// stdin). Plain URLs take `template`'s method and body; file lines may carry their own.
fn requests(
    inline: Vec<String>,
    url_template: Option<String>,
    range: Option<std::ops::RangeInclusive<u64>>,
    files: &[PathBuf],
    template: RequestTemplate,
) -> Result<(Box<dyn Iterator<Item = Request>>, input::ErrorSlot), InputError> {
    let has_template = url_template.is_some();
    let expanded: Box<dyn Iterator<Item = String>> = match (url_template, range) {
        (Some(url_template), Some(range)) => {
            Box::new(input::expand_template(&url_template, range)?)
        }
        _ => Box::new(std::iter::empty()),
    };
    let stdin_default = files.is_empty() && inline.is_empty() && !has_template;
    let readers = if stdin_default {
        input::open_all(&[PathBuf::from("-")])?
    } else {
        input::open_all(files)?
    };
    let lines = readers.into_iter().flat_map(input::url_lines);
    let (from_files, slot) = input::until_error(lines);
    let plain = template.clone();
    let requests = inline
        .into_iter()
        .chain(expanded)
        .map(move |url| plain.request(url))
        .chain(from_files.map(move |line| input::parse_line(&line, &template)));
    Ok((Box::new(requests), slot))
}

/// The method and body for plain URLs, from `-X`, `--json`, `--form` and `--data`.
fn request_template(
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

/// The record writer, shared between the collector and the Ctrl-C handler.
type SharedWriter = Arc<Mutex<JsonLinesWriter<Box<dyn Write + Send>>>>;

/// First Ctrl-C: stop dispatching and let in-flight requests end; every input still gets a
/// record. Second: exit at once, after the line being written (records are flushed line by
/// line, so everything written is whole).
fn install_interrupt_handler(cancel: &CancelToken, writer: &SharedWriter) {
    let cancel = cancel.clone();
    let writer = Arc::clone(writer);
    let result = ctrlc::set_handler(move || {
        if cancel.is_cancelled() {
            if let Ok(mut writer) = writer.lock() {
                let _ = writer.flush();
            }
            std::process::exit(EXIT_INTERRUPTED);
        }
        cancel.cancel();
        eprintln!("poolfetch: interrupted; finishing in-flight requests (Ctrl-C again to quit)");
    });
    if let Err(e) = result {
        eprintln!("poolfetch: warning: Ctrl-C will not stop the run cleanly: {e}");
    }
}

fn bench(args: BenchArgs) -> i32 {
    let plan = BenchPlan {
        requests: args.requests,
        latency: args.latency.unwrap_or(BenchPlan::default().latency),
        latency_known: args.url.is_none() || args.latency.is_some(),
        pools: args.pools,
        engines: args.engines,
        runs: args.runs,
        warmup: args.warmup,
        order: args.order,
        batch_size: args.batch_size,
        url: args.url,
        timeout: args.timeout,
    };
    if let Err(e) = plan.validate() {
        return usage_error(e);
    }
    let target = plan
        .url
        .clone()
        .unwrap_or_else(|| "the embedded server".to_string());
    eprintln!(
        "poolfetch bench: {} requests of {} against {target}, {} timed run(s) per setup",
        plan.requests,
        if plan.latency_known {
            humantime::format_duration(plan.latency).to_string()
        } else {
            "unknown latency".into()
        },
        plan.runs,
    );
    let results = match bench::run(&plan) {
        Ok(results) => results,
        Err(e) => return usage_error(e),
    };
    print!("{}", report::table(&results));
    let summary = report::relative_summary(&results);
    if !summary.is_empty() {
        println!("\n{summary}");
    }
    let exports = Exports {
        json: args.export_json,
        csv: args.export_csv,
        markdown: args.export_markdown,
    };
    if let Err(e) = exports.write(&results) {
        eprintln!("poolfetch: {e}");
        return EXIT_FAILED;
    }
    if !args.no_plot {
        match plot::write_svg(&args.plot, &results) {
            Ok(()) => eprintln!("poolfetch: plot written to {}", args.plot.display()),
            Err(e) => {
                eprintln!("poolfetch: {e}");
                return EXIT_FAILED;
            }
        }
    }
    let failed: usize = results
        .iter()
        .flat_map(|r| &r.runs)
        .map(|run| run.failed)
        .sum();
    if failed > 0 {
        eprintln!("poolfetch: warning: {failed} requests failed; the figures above include them");
        return EXIT_FAILED;
    }
    EXIT_OK
}

fn serve(args: ServeArgs) -> i32 {
    let config = ServerConfig {
        addr: args.addr,
        latency: args.latency,
        ..ServerConfig::default()
    };
    let server = match Server::start(config) {
        Ok(server) => server,
        Err(e) => return usage_error(format!("cannot listen on {}: {e}", args.addr)),
    };
    let mut stdout = io::stdout();
    let _ = writeln!(stdout, "listening on http://{}", server.addr());
    let _ = writeln!(stdout, "faults on http://{}", server.fault_addr());
    let _ = stdout.flush();
    loop {
        std::thread::park();
    }
}

/// Parse a duration such as `10s`, `250ms` or `1m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e} (try e.g. 10s or 250ms)"))
}

fn parse_range_arg(text: &str) -> Result<std::ops::RangeInclusive<u64>, String> {
    input::parse_range(text).map_err(|e| e.to_string())
}

/// Parse a byte size: `1024`, `64k`/`64KiB` (×1024), `10MB` (×1000²), `10MiB`/`10m` (×1024²)…
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size (try 512KiB or 10MiB)"))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "kb" => 1_000,
        "m" | "mib" => 1 << 20,
        "mb" => 1_000_000,
        "g" | "gib" => 1 << 30,
        "gb" => 1_000_000_000,
        _ => {
            return Err(format!(
                "{text:?} has an unknown unit (use B, KiB, MiB, GiB, KB, MB, GB)"
            ));
        }
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// `N`, `N/s` or `N/m` (rounded up to whole requests per second).
fn parse_rate(text: &str) -> Result<std::num::NonZeroU32, String> {
    let bad = || format!("{text:?} is not a rate (try 50/s or 600/m)");
    let (number, per) = text.trim().split_once('/').unwrap_or((text.trim(), "s"));
    let number: u32 = number.trim().parse().map_err(|_| bad())?;
    let per_second = match per.trim() {
        "s" | "sec" => number,
        "m" | "min" => number.div_ceil(60),
        _ => return Err(bad()),
    };
    std::num::NonZeroU32::new(per_second)
        .ok_or_else(|| format!("{text:?}: the rate must be more than 0"))
}

fn parse_method(text: &str) -> Result<String, String> {
    let method = text.trim().to_ascii_uppercase();
    if method.is_empty() || method.len() > 16 || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "{text:?} is not an HTTP method (GET, POST, PUT, …)"
        ));
    }
    Ok(method)
}

fn parse_form_field(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("form field {text:?} is not K=V"))?;
    Ok((key.to_string(), value.to_string()))
}

fn parse_header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("header {text:?} is not 'Name: value'"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("header {text:?} has no name"));
    }
    Ok((name.to_string(), value.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("64k"), Ok(65_536));
        assert_eq!(parse_size("10MiB"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("5 parsecs").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
    }

    #[test]
    fn rates_take_seconds_or_minutes() {
        assert_eq!(parse_rate("50").unwrap().get(), 50);
        assert_eq!(parse_rate("50/s").unwrap().get(), 50);
        assert_eq!(parse_rate("90/m").unwrap().get(), 2);
        for bad in ["0", "fast", "5/h", "-1/s"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn headers_need_a_name_and_a_colon() {
        assert_eq!(
            parse_header("Accept: a/b"),
            Ok(("Accept".into(), "a/b".into()))
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header(": v").is_err());
    }

    #[test]
    fn clap_errors_shrink_to_one_line() {
        let message =
            "error: invalid value 'x' for '--pool <N>'\n\nFor more information, try '--help'.\n";
        assert_eq!(first_line(message), "invalid value 'x' for '--pool <N>'");
    }
}
