//! Where URLs come from: files, stdin, `--url`, and `--template` + `--range`; line-level checks.
//!
//! Everything here is lazy, so a list of a million URLs is read as it is dispatched and never
//! held whole in memory. Nothing here touches the network.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use thiserror::Error;

use std::sync::Arc;

use crate::request::{Body, Request};

/// A problem with the inputs themselves, reported before (or instead of) fetching.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum InputError {
    /// `--range` is not `A..B` with `A <= B`.
    #[error("invalid --range {0:?}: expected A..B with A <= B, e.g. 1..199")]
    BadRange(String),
    /// `--template` has no `{}` to replace.
    #[error("--template {0:?} has no '{{}}' placeholder")]
    NoPlaceholder(String),
    /// An input file could not be opened.
    #[error("cannot read {path}: {source}")]
    Open {
        /// The file named on the command line.
        path: PathBuf,
        /// Why it failed.
        source: io::Error,
    },
    /// Reading an input failed part-way.
    #[error("reading input failed: {0}")]
    Read(io::Error),
}

/// Parse `A..B` (or `A..=B`), both inclusive, into a range.
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

/// Open every named file now, so an unreadable one is a usage error before any request.
/// `-` means stdin.
pub fn open_all(paths: &[PathBuf]) -> Result<Vec<Box<dyn BufRead>>, InputError> {
    paths.iter().map(|path| open(path)).collect()
}

fn open(path: &Path) -> Result<Box<dyn BufRead>, InputError> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(BufReader::new(io::stdin())));
    }
    let failed = |source| InputError::Open {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(failed)?;
    // Opening a directory succeeds on Linux and fails only at the first read, after other
    // inputs were fetched: refuse it now, before any request.
    if file.metadata().map_err(failed)?.is_dir() {
        return Err(failed(io::Error::new(
            io::ErrorKind::IsADirectory,
            "is a directory",
        )));
    }
    Ok(Box::new(BufReader::new(file)))
}

/// The URL lines of `reader`: trimmed, blank lines and `#` comments skipped.
/// Invalid UTF-8 is replaced, so such a line still gets a record (`invalid_url`).
pub fn url_lines<R: BufRead>(reader: R) -> UrlLines<R> {
    UrlLines {
        reader,
        line: Vec::new(),
    }
}

/// Iterator over the URL lines of a reader; see [`url_lines`].
pub struct UrlLines<R> {
    reader: R,
    line: Vec<u8>,
}

impl<R: BufRead> Iterator for UrlLines<R> {
    type Item = io::Result<String>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.line.clear();
            match self.reader.read_until(b'\n', &mut self.line) {
                Ok(0) => return None,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&self.line);
                    let text = text.trim();
                    if text.is_empty() || text.starts_with('#') {
                        continue;
                    }
                    return Some(Ok(text.to_string()));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Some(Err(e)),
            }
        }
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
        Request {
            method,
            url,
            body: self.body.clone(),
        }
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
        if is_method && !rest.is_empty() {
            let (url, body) = match rest.split_once(char::is_whitespace) {
                Some((url, body)) if !body.trim().is_empty() => (url, Some(body.trim())),
                Some((url, _)) => (url, None),
                None => (rest, None),
            };
            return Request {
                method: first.to_string(),
                url: url.to_string(),
                body: match body {
                    Some(text) => Some(Arc::new(body_from_line(text))),
                    None => template.body.clone(),
                },
            };
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

/// Where a lazily read input left its error, to report after the run.
#[derive(Debug, Clone, Default)]
pub struct ErrorSlot(Rc<RefCell<Option<io::Error>>>);

impl ErrorSlot {
    /// The read error that ended the input early, if any.
    pub fn take(&self) -> Option<InputError> {
        self.0.borrow_mut().take().map(InputError::Read)
    }
}

/// Yield lines until the first read error, which is kept in the returned slot.
pub fn until_error<I>(lines: I) -> (impl Iterator<Item = String>, ErrorSlot)
where
    I: Iterator<Item = io::Result<String>>,
{
    let slot = ErrorSlot::default();
    let keep = slot.clone();
    let iter = lines.map_while(move |line| match line {
        Ok(line) => Some(line),
        Err(e) => {
            *keep.0.borrow_mut() = Some(e);
            None
        }
    });
    (iter, slot)
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
        let lines: Vec<String> = url_lines(&text[..]).map(Result::unwrap).collect();
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
        // Not a method: lower case, or a URL with a space in it stays one (invalid) URL.
        assert_eq!(parse_line("post http://h/", &template).method, "GET");
        assert_eq!(parse_line("http://h/a b", &template).url, "http://h/a b");
    }

    #[test]
    fn a_read_error_stops_the_input_and_is_kept() {
        let lines = vec![
            Ok("http://a/1".to_string()),
            Err(io::Error::other("disk")),
            Ok("http://a/2".to_string()),
        ];
        let (iter, slot) = until_error(lines.into_iter());
        assert_eq!(iter.collect::<Vec<_>>(), ["http://a/1"]);
        assert!(slot.take().is_some());
    }
}
