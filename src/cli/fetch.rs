//! `poolfetch fetch`: flags to a [`Config`] and a [`JobSpec`]; the job's report to the
//! summary and an exit code. The run itself is the library's [`Job`].

use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::parse::{
    parse_duration, parse_form_field, parse_header, parse_method, parse_pin, parse_range_arg,
    parse_rate, parse_size,
};
use super::progress::{self, BarChoice, Progress};
use super::signals;
use super::values::named;
use super::{CliError, EXIT_FAILED, EXIT_OK, limits, usage};
use poolfetch::Body;
use poolfetch::CancelToken;
use poolfetch::Fetcher;
use poolfetch::job::{Inputs, Job, JobOutput, JobProgress, JobSpec};
use poolfetch::{BodyMode, EngineKind, Order};
use poolfetch::{Config, DEFAULT_POOL, HttpVersion, RetryPolicy, Shard};
use poolfetch::{InputFormat, RequestTemplate};

/// Flags of `poolfetch fetch`.
#[derive(Debug, Args)]
pub(super) struct FetchArgs {
    /// URLs to fetch (anything with a scheme, `https://…`), and list files ('-' for stdin):
    /// a URL or 'METHOD URL [BODY]' per line, or a JSON request per line (--input-format);
    /// stdin when none is given and no --url or --template. The URLs come first, in the
    /// order given, then the template's, then the files'.
    #[arg(value_name = "URL|FILE")]
    files: Vec<PathBuf>,
    /// How list files are read: lines ('URL' or 'METHOD URL [BODY]'), jsonl (one request
    /// object per line: url, method, headers, json|data|form|body_file, timeout, meta) or
    /// auto (jsonl when the first line starts with '{').
    #[arg(long, value_name = "FORMAT", default_value = "auto",
        value_parser = named::<InputFormat>(InputFormat::NAMES))]
    input_format: InputFormat,
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
    /// Order of the records: input (gather: a record leaves once every lower index has
    /// left) or completion (as_completed: as soon as it is done).
    #[arg(long, default_value = "input", value_parser = named::<Order>(Order::NAMES))]
    order: Order,
    /// Dispatch N, wait for all N, then the next N (gather per batch).
    #[arg(long, value_name = "N")]
    batch_size: Option<usize>,
    /// How far dispatch may run ahead of the oldest unfinished request [default: 4 × pool].
    #[arg(long, value_name = "N")]
    window: Option<usize>,
    /// Engine that runs the requests: threads (blocking ureq calls on a rayon pool of
    /// --pool threads) or async (hyper on tokio, at most --pool at once; 0: no limit).
    #[arg(long, default_value = "threads", value_parser = named::<EngineKind>(EngineKind::NAMES))]
    engine: EngineKind,
    /// Offer HTTP/2 by ALPN over TLS, HTTP/1.1 when the server does not take it (async
    /// engine); the pool's requests share one connection per host.
    #[arg(long, conflicts_with = "http2_prior_knowledge")]
    http2: bool,
    /// Speak HTTP/2 without asking first: h2c on plain http:// (async engine).
    #[arg(long)]
    http2_prior_knowledge: bool,
    /// Deadline for connecting, for the response head and for each body read (e.g. 10s, 250ms).
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_duration)]
    timeout: Duration,
    /// Deadline for a whole request, first byte sent to last byte read, per attempt (curl's
    /// name); past it the record is a `timeout`.
    #[arg(short = 'm', long, value_name = "DUR", value_parser = parse_duration)]
    max_time: Option<Duration>,
    /// Deadline for the TCP connect alone (curl's name) [default: --timeout]. A duration takes
    /// bare seconds (5, 0.5) or a unit (250ms, 10s).
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    connect_timeout: Option<Duration>,
    /// Ask for gzip, deflate and br (curl's name) and decode them; `bytes` counts what came
    /// over the wire, `decoded_bytes` the body. Without it only gzip is asked for.
    #[arg(long)]
    compressed: bool,
    /// What each record keeps of the body: auto (parsed JSON when the response says JSON
    /// and parses, text otherwise), json (parsed, or text when it does not parse), text
    /// (invalid UTF-8 replaced), base64 (every byte, as a base64 string) or none (drained
    /// and counted).
    #[arg(long, default_value = "auto", value_parser = named::<BodyMode>(BodyMode::NAMES))]
    body: BodyMode,
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
    /// Raw body for every plain URL (or @FILE, whose bytes are sent as they are, as curl's
    /// --data-binary), with curl -d's form content type.
    #[arg(short = 'd', long, alias = "data-binary", value_name = "BODY", conflicts_with_all = ["json", "form"])]
    data: Option<String>,
    /// A form field for every plain URL, urlencoded as curl does it (repeatable, joined with
    /// '&' after -d): CONTENT, =CONTENT, NAME=CONTENT, @FILE or NAME@FILE.
    #[arg(long, value_name = "DATA", conflicts_with_all = ["json", "form"])]
    data_urlencode: Vec<String>,
    /// Log in with Basic auth as USER:PASSWORD on every request (curl's -u); the password is
    /// never written to a record.
    #[arg(short = 'u', long, value_name = "USER:PASSWORD")]
    user: Option<String>,
    /// The User-Agent header (curl's -A) [default: poolfetch/VERSION].
    #[arg(short = 'A', long, value_name = "NAME")]
    user_agent: Option<String>,
    /// Cookies sent with every request, 'name=value; name2=value2' (curl's -b, as a string).
    #[arg(short = 'b', long, value_name = "DATA")]
    cookie: Option<String>,
    /// Follow redirects (curl's -L): what poolfetch does anyway, up to --max-redirects.
    #[arg(short = 'L', long = "location")]
    _location: bool,
    /// Put the response's header fields in each record, as [name, value] pairs in the order
    /// received (curl's -i, --include).
    #[arg(short = 'i', long, alias = "include")]
    include_headers: bool,
    /// Put only this response header field in each record (repeatable, any case).
    #[arg(long, value_name = "NAME")]
    header_field: Vec<String>,
    /// Header sent with every request, 'Name: value' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "'K: V'", value_parser = parse_header)]
    headers: Vec<(String, String)>,
    /// Retry transient failures (connect, timeout, reset, 429, 5xx) up to N times (curl's
    /// name --retry works too).
    #[arg(long, alias = "retry", value_name = "N", default_value_t = 0)]
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
    /// At most N requests per second, minute or hour in all, evenly spaced with no burst: the
    /// k-th starts no sooner than (k-1)/rate (e.g. 50, 50/s, 30/m = one every 2 s, 100/h).
    #[arg(long, value_name = "N/s", value_parser = parse_rate)]
    rate: Option<poolfetch::Rate>,
    /// At most N requests per second, minute or hour to any one host, evenly spaced (as
    /// --rate, per host:port).
    #[arg(long, value_name = "N/s", value_parser = parse_rate)]
    rate_per_host: Option<poolfetch::Rate>,
    /// At most N requests in flight to any one host (a waiting request holds its worker).
    #[arg(long, value_name = "N")]
    per_host: Option<usize>,
    /// Connect to ADDR for HOST:PORT instead of looking HOST up (curl's): TLS still checks
    /// the certificate for HOST. Repeatable; ADDR may be a list, 'a,b'.
    #[arg(long, value_name = "HOST:PORT:ADDR", value_parser = parse_pin)]
    resolve: Vec<poolfetch::Pin>,
    /// Show this client certificate (PEM, leaf first; the key may be in it) to servers that
    /// ask for one (curl's -E, --cert).
    #[arg(short = 'E', long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// The client certificate's private key (PEM), if it is not in --cert's file.
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// Also trust the CA certificates in this PEM file (besides the built-in roots).
    #[arg(long, value_name = "FILE")]
    cacert: Option<PathBuf>,
    /// Do not verify TLS certificates (the summary says so). Never the default.
    #[arg(short = 'k', long)]
    insecure: bool,
    /// Send every request through this proxy (http, https, socks5, socks5h) [default: the environment's
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
    /// Write records to FILE instead of stdout (curl's -o writes a body; here each body is
    /// in its record, or a file of --output-dir).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Also write the summary as JSON to FILE once the run ends: counts that add up, statuses,
    /// errors, latency percentiles, bytes, connections, wall time, engine and pool.
    #[arg(long, value_name = "FILE")]
    summary_json: Option<PathBuf>,
    /// Continue an interrupted run that wrote -o FILE (killed in any way): fetch only the
    /// inputs without a final record in FILE; FILE then holds one record per input, in order.
    #[arg(long, requires = "output")]
    resume: bool,
    /// With --resume, also fetch again the inputs whose record is not ok.
    #[arg(long, requires = "resume")]
    retry_failed: bool,
    /// No progress bar and no summary on stderr (-s, --silent: curl's names).
    #[arg(short, long, short_alias = 's', alias = "silent")]
    quiet: bool,
    /// Draw the progress bar even when records go to a pipe (whose reader may print to the
    /// same terminal). By default it is drawn when records go to a file.
    #[arg(long, overrides_with = "no_progress")]
    progress: bool,
    /// Never draw the progress bar (the summary is still printed).
    #[arg(long)]
    no_progress: bool,
}

impl FetchArgs {
    /// The fetcher's settings.
    fn config(&self) -> Config {
        // Field by field: `Config` is `#[non_exhaustive]`, so a client starts from the defaults.
        let mut config = Config::default();
        config.pool = self.pool;
        config.timeout = self.timeout;
        config.max_time = self.max_time;
        config.connect_timeout = self.connect_timeout;
        config.compressed = self.compressed;
        config.body = self.body;
        config.max_body = self.max_body;
        config.output_dir = self.output_dir.clone();
        config.continue_parts = self.continue_parts;
        config.headers = self.all_headers();
        config.engine = self.engine;
        config.http = match (self.http2, self.http2_prior_knowledge) {
            (_, true) => HttpVersion::Http2PriorKnowledge,
            (true, false) => HttpVersion::Http2,
            (false, false) => HttpVersion::Http1,
        };
        config.retry = RetryPolicy {
            retries: self.retries,
            backoff: self.retry_backoff,
            max_wait: self.retry_max_wait,
            all_methods: self.retry_all_methods,
        };
        config.max_redirects = self.max_redirects;
        config.cacert = self.cacert.clone();
        config.resolve = self.resolve.clone();
        config.client_cert = self.cert.clone();
        config.client_key = self.key.clone();
        config.insecure = self.insecure;
        config.rate = self.rate;
        config.per_host = self.per_host;
        config.rate_per_host = self.rate_per_host;
        config.include_headers = self.include_headers;
        config.header_fields = self.header_field.clone();
        config.proxy = self.proxy.clone();
        config.no_proxy = self.noproxy.clone();
        config
    }

    /// The headers for every request: those curl's `-u`, `-A` and `-b` make, unless a `-H`
    /// names the same header (it wins), then every `-H`.
    fn all_headers(&self) -> Vec<(String, String)> {
        let mut headers = Vec::new();
        if let Some(user) = &self.user {
            let value = poolfetch::basic_authorization(user);
            headers.push(("Authorization".to_string(), value));
        }
        if let Some(agent) = &self.user_agent {
            headers.push(("User-Agent".to_string(), agent.clone()));
        }
        if let Some(cookie) = &self.cookie {
            headers.push(("Cookie".to_string(), cookie.clone()));
        }
        headers.retain(|(name, _): &(String, String)| {
            !self
                .headers
                .iter()
                .any(|(given, _)| given.eq_ignore_ascii_case(name))
        });
        headers.extend(self.headers.iter().cloned());
        headers
    }

    /// The job: inputs (stdin when none is given), output, resume; a bad `--json`/`--data`
    /// is a usage error.
    fn job_spec(self, cancel: &CancelToken) -> Result<JobSpec, String> {
        let data = data_of(self.data, &self.data_urlencode)?;
        let request = request_template(self.method, self.json, &self.form, data)?;
        // An argument with a scheme is a URL (as curl, xh and oha take them); any other is a
        // list file.
        let (urls, files): (Vec<PathBuf>, Vec<PathBuf>) =
            self.files.into_iter().partition(|arg| is_url(arg));
        let mut all_urls: Vec<String> = urls
            .into_iter()
            .map(|url| url.to_string_lossy().into_owned())
            .collect();
        all_urls.extend(self.urls);
        let stdin_default = files.is_empty() && all_urls.is_empty() && self.template.is_none();
        if stdin_default && !self.quiet && std::io::stdin().is_terminal() {
            // Not a silent wait: say what is read, and how to end it.
            eprintln!(
                "poolfetch: reading URLs from stdin, one per line; Ctrl-D ends the list \
                 (or give URLs or a file: poolfetch fetch --help)"
            );
        }
        let inputs = Inputs {
            urls: all_urls,
            template: self.template.zip(self.range),
            files: if stdin_default {
                vec![PathBuf::from("-")]
            } else {
                files
            },
            request,
            format: self.input_format,
            ..Inputs::default()
        };
        let output = match self.output {
            Some(path) => JobOutput::File(path),
            None => JobOutput::Writer(Box::new(io::stdout())),
        };
        let mut spec = JobSpec::new(inputs, output)
            .resume(self.resume)
            .order(self.order)
            .shard(self.shard);
        spec.window = self.window;
        spec.batch_size = self.batch_size;
        spec.retry_failed = self.retry_failed;
        spec.cancel = cancel.clone();
        Ok(spec)
    }
}

/// `poolfetch fetch`: the exit code of a run that ran; an error for one that could not.
pub(super) fn fetch(args: FetchArgs) -> Result<i32, CliError> {
    let (quiet, to_stdout) = (args.quiet, args.output.is_none());
    if let (Some(summary), Some(output)) = (&args.summary_json, &args.output)
        && (summary == output || same_file(summary, output))
    {
        return Err(usage(format!(
            "--summary-json {} is the -o file: give it a file of its own",
            summary.display()
        )));
    }
    // Opened before any request, so a path that cannot take it is a usage error now; written
    // once the run ends.
    let summary_json = match &args.summary_json {
        Some(path) => Some((path.clone(), super::Output::create(path)?)),
        None => None,
    };
    let bar = match (args.quiet || args.no_progress, args.progress) {
        (true, _) => BarChoice::Never,
        (false, true) => BarChoice::Always,
        (false, false) => BarChoice::Auto,
    };
    // Never dropped: the process exits when this returns, and waking thousands of idle
    // workers one by one only for the kernel to end them anyway took 30 ms at a pool of 5,000.
    let fetcher = std::mem::ManuallyDrop::new(
        Fetcher::new(args.config()).map_err(|e| usage(super::words::config(&e)))?,
    );
    let cancel = CancelToken::new();
    let mut spec = args.job_spec(&cancel).map_err(usage)?;
    let progress = Arc::new(Progress::new(bar, to_stdout));
    if progress.is_visible() {
        let bar = Arc::clone(&progress);
        spec.progress = Some(Arc::new(move |now: &JobProgress| bar.update(now)));
    }
    let job = Job::new(&fetcher, spec)?;
    limits::raise_open_files(fetcher.config());
    let signal = signals::install(&cancel, job.flush_handle(), Arc::clone(&progress));
    let report = job.run();
    progress.finish();
    let report = report?;
    if !quiet {
        let trust = fetcher.trust_store();
        eprintln!("{}", progress::summary(&report, fetcher.config(), trust));
    }
    if let Some((path, out)) = summary_json {
        write_summary(out, &path, &report.summary(fetcher.config()))?;
    }
    if let Some(number) = signal.received() {
        return Ok(128 + number);
    }
    if let Some(e) = report.input_error {
        return Err(usage(format!(
            "{e} (records for the lines before it were written)"
        )));
    }
    Ok(if report.all_ok() {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}

/// Whether two existing paths are one file.
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

/// Write `summary` whole into `out` (a new version of `path`, renamed over it when done).
fn write_summary(
    mut out: super::Output,
    path: &std::path::Path,
    summary: &poolfetch::Summary,
) -> Result<(), CliError> {
    use std::io::Write;
    serde_json::to_writer_pretty(&mut out, summary)
        .map_err(io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .map_err(|source| poolfetch::ReplaceError::Write {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(out.finish()?)
}

/// The method and body for plain URLs, from `-X`, `--json`, `--form` and `--data` (already
/// read, with any `--data-urlencode` joined).
pub(super) fn request_template(
    method: Option<String>,
    json: Option<String>,
    form: &[(String, String)],
    data: Option<Vec<u8>>,
) -> Result<RequestTemplate, String> {
    let body = if let Some(json) = json {
        let text = String::from_utf8(read_at_file(&json)?)
            .map_err(|_| "--json is not UTF-8".to_string())?;
        Some(Body::json(&text).map_err(|e| format!("--json: {e}"))?)
    } else if !form.is_empty() {
        Some(Body::form(
            form.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ))
    } else {
        data.map(Body::data)
    };
    Ok(RequestTemplate {
        method,
        body: body.map(Arc::new),
    })
}

/// `-d` (its `@FILE` read) and every `--data-urlencode`, joined with `&` as curl joins them
/// (`None`: neither).
fn data_of(data: Option<String>, urlencode: &[String]) -> Result<Option<Vec<u8>>, String> {
    let mut parts: Vec<Vec<u8>> = Vec::new();
    if let Some(data) = data {
        parts.push(read_at_file(&data)?);
    }
    for item in urlencode {
        parts.push(urlencoded(item)?.into_bytes());
    }
    Ok((!parts.is_empty()).then(|| parts.join(&b'&')))
}

/// One `--data-urlencode` item, as curl reads it: `CONTENT` and `=CONTENT` encode CONTENT;
/// `NAME=CONTENT` encodes CONTENT after `NAME=`; `@FILE` encodes the file; `NAME@FILE` the
/// file after `NAME=`.
fn urlencoded(item: &str) -> Result<String, String> {
    let encode = |bytes: &[u8]| -> String { form_urlencoded::byte_serialize(bytes).collect() };
    let name_end = item.find(['=', '@']);
    match name_end.map(|at| (&item[..at], &item[at..at + 1], &item[at + 1..])) {
        Some(("", "=", content)) => Ok(encode(content.as_bytes())),
        Some((name, "=", content)) => Ok(format!("{name}={}", encode(content.as_bytes()))),
        Some((name, _, path)) => {
            let bytes = std::fs::read(path)
                .map_err(|e| format!("--data-urlencode: cannot read {path}: {e}"))?;
            Ok(match name {
                "" => encode(&bytes),
                name => format!("{name}={}", encode(&bytes)),
            })
        }
        None => Ok(encode(item.as_bytes())),
    }
}

/// `@FILE` is the file's bytes (read now, so a missing file is a usage error); anything else is
/// the text itself.
pub(super) fn read_at_file(value: &str) -> Result<Vec<u8>, String> {
    match value.strip_prefix('@') {
        Some(path) => std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}")),
        None => Ok(value.as_bytes().to_vec()),
    }
}

/// Whether a positional argument is a URL: `scheme://…` with a scheme of letters, digits,
/// `+`, `-` or `.` (RFC 3986), as curl reads one; a path never has `://` after such a word.
fn is_url(arg: &std::path::Path) -> bool {
    let text = arg.to_string_lossy();
    text.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

/// `--shard K/N`: 0 <= K < N.
fn parse_shard(text: &str) -> Result<Shard, String> {
    let bad = || format!("invalid shard {text:?}: expected K/N with 0 <= K < N, e.g. 0/3");
    let (index, count) = text.split_once('/').ok_or_else(bad)?;
    let index: u64 = index.trim().parse().map_err(|_| bad())?;
    let count: u64 = count.trim().parse().map_err(|_| bad())?;
    Shard::new(index, count).map_err(|_| bad())
}
