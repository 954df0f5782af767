//! Where URLs come from: files, stdin, `--url`, and `--template` + `--range`; line-level checks.
//! A list is plain lines (`URL` or `METHOD URL [BODY]`) or JSON Lines, one request object per
//! line ([`json`]).
//!
//! Lists are read on an input thread of their own into a bounded queue, a line at a time and
//! never more than [`MAX_LINE`] of it, so a list of a million URLs (or `/dev/zero`) is never
//! held in memory and never stalls dispatch. Nothing here touches the network.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::Receiver;
use thiserror::Error;

use crate::cancel::CancelToken;
use crate::config::named;
use crate::record::{ErrorKind, FetchError};
use crate::request::{Body, Request};

mod json;
pub use json::json_request;

/// How the lines of a list are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputFormat {
    /// JSON Lines when the first line that is not blank or a `#` comment starts with `{`,
    /// plain lines otherwise.
    #[default]
    Auto,
    /// `URL` or `METHOD URL [BODY]` per line.
    Lines,
    /// One JSON request object per line (see [`json_request`]).
    Jsonl,
}

named!(InputFormat, "input format", { Auto => "auto", Lines => "lines", Jsonl => "jsonl" });

/// A problem with the inputs themselves, reported before (or instead of) fetching.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum InputError {
    /// A template's range is not `A..B` with `A <= B`.
    #[error("invalid range {0:?}: expected A..B with A <= B, e.g. 1..199")]
    BadRange(String),
    /// A URL template has no `{}` to replace.
    #[error("the template {0:?} has no '{{}}' placeholder")]
    NoPlaceholder(String),
    /// An input file could not be opened.
    #[error("cannot read {path}: {source}")]
    Open {
        /// The file named on the command line.
        path: PathBuf,
        /// Why it failed.
        source: io::Error,
    },
    /// Reading an input failed part-way, or it is not a text list of URLs.
    #[error("cannot read {input}: {source}")]
    Read {
        /// The file (or `stdin`).
        input: String,
        /// Why.
        source: io::Error,
    },
}

/// Parse `A..B` (or `A..=B`), both inclusive, into a range of numbers for a URL template.
pub fn parse_range(text: &str) -> Result<RangeInclusive<u64>, InputError> {
    let bad = || InputError::BadRange(text.to_string());
    let (start, end) = text.split_once("..").ok_or_else(bad)?;
    let end = end.strip_prefix('=').unwrap_or(end);
    let start: u64 = start.trim().parse().map_err(|_| bad())?;
    let end: u64 = end.trim().parse().map_err(|_| bad())?;
    if start > end {
        return Err(bad());
    }
    Ok(start..=end)
}

/// The URLs `template` makes with `{}` replaced by each number of `range`, lazily.
pub fn expand_template(
    template: &str,
    range: RangeInclusive<u64>,
) -> Result<impl Iterator<Item = String> + use<>, InputError> {
    if !template.contains("{}") {
        return Err(InputError::NoPlaceholder(template.to_string()));
    }
    let template = template.to_string();
    Ok(range.map(move |n| template.replace("{}", &n.to_string())))
}

/// Longest URL line taken as it is; a longer one is an `invalid_url` record that shows only
/// its start (no browser or server takes URLs this long).
pub const MAX_LINE: usize = 64 * 1024;
/// No newline within this many bytes means the input is not a list of URLs: reading stops.
pub const MAX_SCAN: usize = 1024 * 1024;
/// How much of a too-long line its record shows.
const SHOWN: usize = 80;
/// Requests read ahead of dispatch (the input thread waits when the queue is full).
const QUEUE: usize = 1024;
/// Requests handed over at once from a file or a range: the run takes them one by one, and
/// the input thread wakes once per chunk instead of once per request.
const CHUNK: usize = 64;

/// One opened input: a file named on the command line, or stdin.
pub struct Source {
    /// How errors name it (`stdin` for `-`).
    name: String,
    reader: Box<dyn BufRead + Send>,
    /// A regular file (read to the end even after a cancel), not a pipe, FIFO or terminal.
    regular: bool,
    /// Device and inode, to refuse `-o` onto an input.
    id: Option<FileId>,
}

impl Source {
    /// A regular file (its lines can be counted up front), not a pipe or terminal.
    pub fn is_regular(&self) -> bool {
        self.regular
    }

    /// How errors name this input.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its device and inode (stdin's too), to refuse `-o` onto an input.
    pub fn id(&self) -> Option<FileId> {
        self.id
    }
}

/// A file's device and inode: what makes two paths (or stdin and a path) the same file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId(u64, u64);

impl FileId {
    fn of_meta(meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        FileId(meta.dev(), meta.ino())
    }

    /// The identity of the existing file at `path` (links followed).
    pub fn of(path: &Path) -> Option<Self> {
        std::fs::metadata(path)
            .ok()
            .map(|meta| Self::of_meta(&meta))
    }
}

/// The input (by name) that `output` is the same file as, if any: the one check behind
/// writing a job's records and a merge's output.
pub(crate) fn same_file(
    output: &Path,
    inputs: impl IntoIterator<Item = (String, Option<FileId>)>,
) -> Option<(String, FileId)> {
    let target = FileId::of(output)?;
    inputs
        .into_iter()
        .find(|(_, id)| *id == Some(target))
        .map(|(name, _)| (name, target))
}

/// Open every named file now, so an unreadable one (or a directory) is a usage error before
/// any request. `-` means stdin.
pub fn open_all(paths: &[PathBuf]) -> Result<Vec<Source>, InputError> {
    paths.iter().map(|path| open(path)).collect()
}

fn open(path: &Path) -> Result<Source, InputError> {
    let failed = |source| InputError::Open {
        path: path.to_path_buf(),
        source,
    };
    let (name, file) = if path.as_os_str() == "-" {
        use std::os::fd::AsFd;
        let fd = io::stdin().as_fd().try_clone_to_owned().map_err(failed)?;
        ("stdin".to_string(), File::from(fd))
    } else {
        (
            path.display().to_string(),
            File::open(path).map_err(failed)?,
        )
    };
    let meta = file.metadata().map_err(failed)?;
    // Opening a directory succeeds on Linux and fails only at the first read, after other
    // inputs were fetched: refuse it now, before any request.
    if meta.is_dir() {
        return Err(failed(io::Error::new(
            io::ErrorKind::IsADirectory,
            "is a directory",
        )));
    }
    Ok(Source {
        name,
        reader: Box::new(BufReader::with_capacity(64 * 1024, file)),
        regular: meta.is_file(),
        id: Some(FileId::of_meta(&meta)),
    })
}

/// One line of a URL list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A URL line, trimmed (invalid UTF-8 replaced, so it still gets an `invalid_url` record).
    Url(String),
    /// A line longer than [`MAX_LINE`]: only its start is kept.
    TooLong {
        /// The first bytes, as text.
        start: String,
        /// Its whole length.
        bytes: usize,
    },
}

/// The URL lines of `reader`: trimmed, blank lines and `#` comments skipped, a UTF-8 BOM at
/// the start ignored. Memory stays bounded whatever the input: a line is never held past
/// [`MAX_LINE`]; a NUL byte, or no newline within [`MAX_SCAN`], is an `InvalidData` error
/// (the input is not a text list of URLs), and the last item: after an error the iterator
/// ends, so `.flatten()` over it cannot spin on the same error.
pub fn url_lines<R: BufRead>(reader: R) -> UrlLines<R> {
    UrlLines {
        reader,
        line: Vec::new(),
        first: true,
        failed: false,
        number: 0,
    }
}

/// Iterator over the URL lines of a reader; see [`url_lines`].
pub struct UrlLines<R> {
    reader: R,
    line: Vec<u8>,
    first: bool,
    /// An error was returned: nothing more follows.
    failed: bool,
    /// Lines read so far, blank ones and comments included.
    number: u64,
}

impl<R: BufRead> UrlLines<R> {
    /// The line number (from 1, as an editor counts) of the line last returned.
    pub fn line_number(&self) -> u64 {
        self.number
    }

    /// Read one raw line into `self.line` (at most `MAX_LINE + 1` bytes kept); its length.
    fn read_line(&mut self) -> io::Result<usize> {
        self.line.clear();
        let mut total = 0;
        loop {
            let buffer = match self.reader.fill_buf() {
                Ok(buffer) => buffer,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buffer.is_empty() {
                return Ok(total);
            }
            let (chunk, ends) = match buffer.iter().position(|b| *b == b'\n') {
                Some(at) => (&buffer[..=at], true),
                None => (buffer, false),
            };
            if chunk.contains(&0) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "a NUL byte: this is not a text list of URLs",
                ));
            }
            let room = (MAX_LINE + 1).saturating_sub(self.line.len());
            self.line.extend_from_slice(&chunk[..chunk.len().min(room)]);
            let used = chunk.len();
            total += used;
            self.reader.consume(used);
            if ends {
                return Ok(total);
            }
            if total > MAX_SCAN {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "no newline within 1 MiB: this is not a text list of URLs",
                ));
            }
        }
    }
}

impl<R: BufRead> Iterator for UrlLines<R> {
    type Item = io::Result<Line>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            let total = match self.read_line() {
                Ok(0) => return None,
                Ok(total) => {
                    self.number += 1;
                    total
                }
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            };
            let mut raw = self.line.as_slice();
            if std::mem::take(&mut self.first) {
                raw = raw.strip_prefix(b"\xef\xbb\xbf").unwrap_or(raw);
            }
            let text = String::from_utf8_lossy(raw);
            let text = text.trim();
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            if total > MAX_LINE {
                let start: String = text.chars().take(SHOWN).collect();
                return Some(Ok(Line::TooLong {
                    start,
                    bytes: total,
                }));
            }
            return Some(Ok(Line::Url(text.to_string())));
        }
    }
}

/// How many records the URL lines of `paths` will make, counted by reading them once (for a
/// progress bar's total); `None` if one cannot be read to the end.
pub fn count_url_lines(paths: &[PathBuf]) -> Option<u64> {
    let mut count = 0;
    for path in paths {
        let file = File::open(path).ok()?;
        for line in url_lines(BufReader::with_capacity(256 * 1024, file)) {
            line.ok()?;
            count += 1;
        }
    }
    Some(count)
}

/// The request of a line that is too long to be a URL: never sent, `invalid_url`.
fn too_long(start: String, bytes: usize) -> Request {
    let shown = format!("{start}…");
    let error = FetchError::new(
        ErrorKind::InvalidUrl,
        format!(
            "input line of {bytes} bytes is longer than {} KiB; only its start is shown",
            MAX_LINE / 1024
        ),
    );
    Request::rejected(shown, error)
}

impl Line {
    /// The request of this plain line: `Url` lines parsed with `template`, too-long ones
    /// refused.
    pub fn into_request(self, template: &RequestTemplate) -> Request {
        match self {
            Line::Url(text) => parse_line(&text, template),
            Line::TooLong { start, bytes } => too_long(start, bytes),
        }
    }
}

/// The requests of one list, line by line, in its format (decided at its first line with
/// [`InputFormat::Auto`]).
pub struct Requests<R> {
    lines: UrlLines<R>,
    template: RequestTemplate,
    format: InputFormat,
}

impl<R: BufRead> Requests<R> {
    /// The requests of `reader`'s lines.
    pub fn new(reader: R, template: RequestTemplate, format: InputFormat) -> Self {
        Requests {
            lines: url_lines(reader),
            template,
            format,
        }
    }
}

impl<R: BufRead> Iterator for Requests<R> {
    type Item = io::Result<Request>;

    fn next(&mut self) -> Option<io::Result<Request>> {
        let line = match self.lines.next()? {
            Ok(line) => line,
            Err(e) => return Some(Err(e)),
        };
        if self.format == InputFormat::Auto {
            let json = matches!(&line, Line::Url(text) if text.starts_with('{'));
            self.format = if json {
                InputFormat::Jsonl
            } else {
                InputFormat::Lines
            };
        }
        Some(Ok(match (line, self.format) {
            (Line::Url(text), InputFormat::Jsonl) => {
                let at = format_args!("line {}", self.lines.line_number());
                json_request(&text, &self.template, at)
            }
            (line, _) => {
                let mut request = line.into_request(&self.template);
                if let Some(error) = request
                    .rejected
                    .as_mut()
                    .filter(|e| e.kind == ErrorKind::InvalidRequest)
                {
                    error.message = format!("line {}: {}", self.lines.line_number(), error.message);
                }
                request
            }
        }))
    }
}

/// The requests of `source`, until the first line that cannot be read.
pub fn requests_of(
    source: Source,
    template: RequestTemplate,
    format: InputFormat,
) -> impl Iterator<Item = Request> {
    Requests::new(source.reader, template, format).map_while(Result::ok)
}

/// Requests arriving from an input thread.
pub struct Feed {
    /// The bounded queue the input thread fills, in chunks (never empty).
    pub requests: Receiver<Vec<Request>>,
    /// Where the input thread leaves the error that stopped it, if any.
    pub error: Arc<Mutex<Option<InputError>>>,
    /// Some input is a pipe, FIFO or terminal: after a cancel, stop taking lines.
    pub stop_on_cancel: bool,
    /// Inputs read so far (queued as requests).
    pub read: Arc<AtomicU64>,
    /// Reading stopped at a cancel before the inputs ended: the rest was never read.
    pub stopped: Arc<AtomicBool>,
}

/// Read `first` and then every source's lines on a thread of its own into a bounded queue,
/// so dispatch never waits on input: records leave as soon as they are done, and a cancel
/// is seen at once however the input stalls. After a cancel, `first` (`--url`s and a
/// `--range`, which may hold billions), pipes and terminals are not read further: what was not
/// read gets no record, and [`Feed::stopped`] says so. Regular files are read to the end.
pub fn feed(
    first: impl Iterator<Item = Request> + Send + 'static,
    sources: Vec<Source>,
    (template, format): (RequestTemplate, InputFormat),
    cancel: CancelToken,
) -> Result<Feed, InputError> {
    let (tx, requests) = crossbeam_channel::bounded(QUEUE / CHUNK);
    let error = Arc::new(Mutex::new(None));
    let stop_on_cancel = sources.iter().any(|s| !s.regular);
    let slot = Arc::clone(&error);
    let (read, stopped) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let (counted, stop) = (Arc::clone(&read), Arc::clone(&stopped));
    let mut queue = Chunks {
        tx,
        chunk: Vec::new(),
        counted,
    };
    let stopped_by = move |cancel: &CancelToken| {
        let cancelled = cancel.is_cancelled();
        if cancelled {
            stop.store(true, Ordering::Relaxed);
        }
        cancelled
    };
    std::thread::Builder::new()
        .name("poolfetch-input".into())
        .spawn(move || {
            for request in first {
                if stopped_by(&cancel) || !queue.push(request, false) {
                    return;
                }
            }
            for source in sources {
                let stops = !source.regular;
                for request in Requests::new(source.reader, template.clone(), format) {
                    if stops && stopped_by(&cancel) {
                        return;
                    }
                    let request = match request {
                        Ok(request) => request,
                        Err(e) => {
                            if let Ok(mut slot) = slot.lock() {
                                *slot = Some(InputError::Read {
                                    input: source.name,
                                    source: e,
                                });
                            }
                            return;
                        }
                    };
                    // A line from a pipe or terminal goes at once: the next may be long
                    // coming.
                    if !queue.push(request, stops) {
                        return;
                    }
                }
            }
        })
        .map_err(|e| InputError::Read {
            input: "the input thread".into(),
            source: e,
        })?;
    Ok(Feed {
        requests,
        error,
        stop_on_cancel,
        read,
        stopped,
    })
}

/// The input thread's side of the queue: requests handed over in chunks of [`CHUNK`], or
/// one by one when eager; what is held goes when it is dropped (every way the thread ends).
struct Chunks {
    tx: crossbeam_channel::Sender<Vec<Request>>,
    chunk: Vec<Request>,
    /// Requests handed over so far.
    counted: Arc<AtomicU64>,
}

impl Chunks {
    /// Queue `request`, handing the chunk over when full or `eager`; false once the run
    /// stopped listening.
    fn push(&mut self, request: Request, eager: bool) -> bool {
        self.chunk.push(request);
        if eager || self.chunk.len() >= CHUNK {
            return self.flush();
        }
        true
    }

    fn flush(&mut self) -> bool {
        if self.chunk.is_empty() {
            return true;
        }
        let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
        self.counted
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        self.tx.send(chunk).is_ok()
    }
}

impl Drop for Chunks {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Method and body applied to every plain URL line (from `-X`, `--json`, `--form`, `--data`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestTemplate {
    /// Method; `None` means GET, or POST when there is a body.
    pub method: Option<String>,
    /// Body shared by every request.
    pub body: Option<Arc<Body>>,
}

impl RequestTemplate {
    /// The request for a plain `url` line.
    pub fn request(&self, url: String) -> Request {
        let method = match (&self.method, &self.body) {
            (Some(method), _) => method.clone(),
            (None, Some(_)) => "POST".to_string(),
            (None, None) => "GET".to_string(),
        };
        let mut request = Request::new(method, url);
        request.body = self.body.clone();
        request
    }
}

/// Turn one input line into a request: `URL`, or `METHOD URL`, or `METHOD URL BODY` (the body
/// is the rest of the line: JSON when it starts with `{` or `[`, form data otherwise).
/// Plain URL lines take the method and body of `template` (`-X`, `--json`, `--form`, `--data`).
pub fn parse_line(line: &str, template: &RequestTemplate) -> Request {
    let line = line.trim();
    if let Some((first, rest)) = line.split_once(char::is_whitespace) {
        let is_method =
            !first.is_empty() && first.len() <= 16 && first.bytes().all(|b| b.is_ascii_uppercase());
        let rest = rest.trim_start();
        let (url, body) = match rest.split_once(char::is_whitespace) {
            Some((url, body)) if !body.trim().is_empty() => (url, Some(body.trim())),
            Some((url, _)) => (url, None),
            None => (rest, None),
        };
        // A word before a URL is meant as a method: `get` is GET, `GE"T` is no method.
        let method = match (is_method, url.contains("://")) {
            (true, _) => Some(first.to_string()),
            (false, true) => match crate::request::check_method(first) {
                Ok(method) => Some(method),
                Err(why) => {
                    let error = FetchError::new(ErrorKind::InvalidRequest, why);
                    let mut refused = Request::rejected(url.to_string(), error);
                    // The record says what was asked.
                    refused.method = first.to_string();
                    return refused;
                }
            },
            (false, false) => None,
        };
        if let Some(method) = method.filter(|_| !rest.is_empty()) {
            let mut request = Request::new(method, url);
            request.body = match body {
                Some(text) => Some(Arc::new(body_from_line(text))),
                None => template.body.clone(),
            };
            return request;
        }
    }
    template.request(line.to_string())
}

/// A body from the text after the URL on a URL-file line: JSON when it starts with `{` or
/// `[`, otherwise sent as form data, as `curl -d` would.
fn body_from_line(text: &str) -> Body {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        Body {
            content_type: Some("application/json".into()),
            bytes: text.as_bytes().to_vec(),
        }
    } else {
        Body::data(text.as_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_inclusive_and_checked() {
        assert_eq!(parse_range("1..199").unwrap(), 1..=199);
        assert_eq!(parse_range("3..=3").unwrap(), 3..=3);
        for bad in ["", "5", "9..1", "a..b", "1...", "-1..3"] {
            assert!(parse_range(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn template_expansion_replaces_every_placeholder() {
        let urls: Vec<String> = expand_template("http://h/{}/x{}", 1..=3).unwrap().collect();
        assert_eq!(urls, ["http://h/1/x1", "http://h/2/x2", "http://h/3/x3"]);
        assert!(expand_template("http://h/", 1..=2).is_err());
    }

    #[test]
    fn blank_lines_and_comments_are_skipped() {
        let text = b"# header\nhttp://a/1\n\n   \n  http://a/2  \n#x\r\nhttp://a/3\r\n\xff\n";
        let lines: Vec<Line> = url_lines(&text[..]).map(Result::unwrap).collect();
        let lines: Vec<&str> = lines
            .iter()
            .map(|line| match line {
                Line::Url(text) => text.as_str(),
                Line::TooLong { .. } => "too long",
            })
            .collect();
        assert_eq!(
            lines,
            ["http://a/1", "http://a/2", "http://a/3", "\u{fffd}"]
        );
    }

    #[test]
    fn line_bodies_and_templates_pick_content_type_and_method() {
        assert_eq!(
            body_from_line(" {\"a\":1}").content_type.as_deref(),
            Some("application/json")
        );
        assert_eq!(
            body_from_line("a=1").content_type.as_deref(),
            Some("application/x-www-form-urlencoded")
        );
        let template = RequestTemplate {
            method: None,
            body: Some(Arc::new(Body::form([("a", "1")]))),
        };
        assert_eq!(template.request("http://h/".into()).method, "POST");
        assert_eq!(
            RequestTemplate::default()
                .request("http://h/".into())
                .method,
            "GET"
        );
    }

    #[test]
    fn lines_may_carry_a_method_and_a_body() {
        let template = RequestTemplate::default();
        let get = parse_line("http://h/a", &template);
        assert_eq!(
            (get.method.as_str(), get.url.as_str(), get.body.is_none()),
            ("GET", "http://h/a", true)
        );
        let post = parse_line("POST http://h/post {\"a\": 1}", &template);
        assert_eq!(post.method, "POST");
        assert_eq!(post.url, "http://h/post");
        let body = post.body.unwrap();
        assert_eq!(body.bytes, b"{\"a\": 1}");
        assert_eq!(body.content_type.as_deref(), Some("application/json"));
        let form = parse_line("PUT  http://h/x  a=1&b=2 ", &template);
        assert_eq!(form.body.unwrap().bytes, b"a=1&b=2");
        let delete = parse_line("DELETE http://h/x", &template);
        assert_eq!(
            (delete.method.as_str(), delete.body.is_none()),
            ("DELETE", true)
        );
        // A lower-case method before a URL is that method; a word that is no method makes
        // an invalid request; a URL with a space in it stays one (invalid) URL.
        assert_eq!(parse_line("post http://h/", &template).method, "POST");
        let bad = parse_line("GE\"T http://h/", &template);
        assert_eq!(
            bad.rejected.map(|e| e.kind),
            Some(ErrorKind::InvalidRequest)
        );
        assert_eq!(bad.url, "http://h/");
        assert_eq!(parse_line("http://h/a b", &template).url, "http://h/a b");
    }

    #[test]
    fn long_lines_are_cut_and_binary_input_stops() {
        let long = format!("http://h/{}\nhttp://h/ok\n", "a".repeat(MAX_LINE + 10));
        let lines: Vec<Line> = url_lines(long.as_bytes()).map(Result::unwrap).collect();
        match &lines[0] {
            Line::TooLong { start, bytes } => {
                assert_eq!(start.chars().count(), SHOWN);
                assert_eq!(*bytes, MAX_LINE + 20);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(lines[1], Line::Url("http://h/ok".into()));
        let nul = b"http://h/1\n\0\0\0";
        let mut read = url_lines(&nul[..]);
        assert_eq!(
            read.next().unwrap().unwrap(),
            Line::Url("http://h/1".into())
        );
        let error = read.next().unwrap().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(read.next().is_none(), "an error ends the lines");
        let endless = vec![b'x'; MAX_SCAN + 100];
        let error = url_lines(&endless[..]).next().unwrap().unwrap_err();
        assert!(error.to_string().contains("no newline"), "{error}");
        let bom = b"\xef\xbb\xbfhttp://h/bom\r\n";
        let lines: Vec<Line> = url_lines(&bom[..]).map(Result::unwrap).collect();
        assert_eq!(lines, [Line::Url("http://h/bom".into())]);
    }
}
