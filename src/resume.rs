//! Earlier outputs: `poolfetch merge` joins shard outputs (each in input order) into one file
//! in input order — a streaming k-way merge that holds one line per file, whatever the sizes —
//! and reports indices that are missing or duplicated.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::record::Record;

/// What a merge found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MergeReport {
    /// Records written.
    pub written: u64,
    /// Indices met more than once (the first record is kept), the first few.
    pub duplicates: Vec<u64>,
    /// How many duplicates in all.
    pub duplicate_count: u64,
    /// Indices absent between 0 and the highest one, the first few.
    pub missing: Vec<u64>,
    /// How many missing in all.
    pub missing_count: u64,
    /// Files whose last line was cut off (a killed run): the line is left out.
    pub torn: Vec<PathBuf>,
}

/// How many examples of missing or duplicate indices a report keeps.
const EXAMPLES: usize = 10;

/// One input file, read a record at a time.
struct Cursor {
    path: PathBuf,
    lines: std::io::Lines<BufReader<File>>,
    line: u64,
    previous: Option<u64>,
    /// The raw line of the next record, with its index.
    head: Option<(u64, String)>,
    /// The file does not end with a newline (its last line may be torn).
    ends_cut: bool,
}

impl Cursor {
    fn open(path: &Path) -> Result<Self, ResumeError> {
        let io_error = |source| ResumeError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = File::open(path).map_err(io_error)?;
        let ends_cut = {
            use std::io::{Read, Seek, SeekFrom};
            let size = file.metadata().map_err(io_error)?.len();
            let mut last = [0u8; 1];
            size > 0
                && file.seek(SeekFrom::End(-1)).is_ok()
                && file.read_exact(&mut last).is_ok()
                && last[0] != b'\n'
        };
        {
            use std::io::Seek;
            file.rewind().map_err(io_error)?;
        }
        Ok(Cursor {
            path: path.to_path_buf(),
            lines: BufReader::with_capacity(256 * 1024, file).lines(),
            line: 0,
            previous: None,
            head: None,
            ends_cut,
        })
    }

    /// Read the next record into `head`; a torn last line is noted in `report` and skipped.
    fn advance(&mut self, report: &mut MergeReport) -> Result<(), ResumeError> {
        self.head = None;
        loop {
            let Some(line) = self.lines.next() else {
                return Ok(());
            };
            self.line += 1;
            let line = line.map_err(|source| ResumeError::Io {
                path: self.path.clone(),
                source,
            })?;
            if line.trim().is_empty() {
                continue;
            }
            let record: Record = match serde_json::from_str(&line) {
                Ok(record) => record,
                Err(e) => {
                    // Only the very last line of a file that ends without a newline can be
                    // the torn tail of a killed run; anything else is not a record file.
                    if self.ends_cut && self.lines.next().is_none() {
                        report.torn.push(self.path.clone());
                        return Ok(());
                    }
                    return Err(ResumeError::NotARecord {
                        path: self.path.clone(),
                        line: self.line,
                        why: e.to_string(),
                    });
                }
            };
            if let Some(previous) = self.previous
                && record.index < previous
            {
                return Err(ResumeError::OutOfOrder {
                    path: self.path.clone(),
                    line: self.line,
                    index: record.index,
                    previous,
                });
            }
            self.previous = Some(record.index);
            self.head = Some((record.index, line));
            return Ok(());
        }
    }
}

/// Merge `inputs` (each in input order) into `out` in input order.
pub fn merge(inputs: &[PathBuf], out: &mut impl Write) -> Result<MergeReport, ResumeError> {
    let mut report = MergeReport::default();
    let mut cursors = inputs
        .iter()
        .map(|path| Cursor::open(path))
        .collect::<Result<Vec<_>, _>>()?;
    let mut heap = BinaryHeap::new();
    for (slot, cursor) in cursors.iter_mut().enumerate() {
        cursor.advance(&mut report)?;
        if let Some((index, _)) = &cursor.head {
            heap.push(Reverse((*index, slot)));
        }
    }
    let write_error = |source| ResumeError::Io {
        path: PathBuf::from("the output"),
        source,
    };
    let mut expected = 0u64;
    let mut last: Option<u64> = None;
    while let Some(Reverse((index, slot))) = heap.pop() {
        let cursor = &mut cursors[slot];
        let Some((_, line)) = cursor.head.take() else {
            continue;
        };
        if last == Some(index) {
            report.duplicate_count += 1;
            if report.duplicates.len() < EXAMPLES {
                report.duplicates.push(index);
            }
        } else {
            if index > expected {
                report.missing_count += index - expected;
                let room = EXAMPLES.saturating_sub(report.missing.len()) as u64;
                report
                    .missing
                    .extend(expected..expected + (index - expected).min(room));
            }
            out.write_all(line.as_bytes()).map_err(write_error)?;
            out.write_all(b"\n").map_err(write_error)?;
            report.written += 1;
            expected = index + 1;
            last = Some(index);
        }
        cursor.advance(&mut report)?;
        if let Some((next, _)) = &cursor.head {
            heap.push(Reverse((*next, slot)));
        }
    }
    out.flush().map_err(write_error)?;
    Ok(report)
}

/// Why a merge or a `--resume` cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    /// A file's indices go backwards: it was not written in input order.
    #[error(
        "{path} line {line}: index {index} after {previous}; merge needs outputs in input order"
    )]
    OutOfOrder {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The index found.
        index: u64,
        /// The index before it.
        previous: u64,
    },
    /// Reading the earlier output or writing its compacted form failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A line in the middle of the earlier output is not a record.
    #[error("{path} line {line}: not a poolfetch record: {why}")]
    NotARecord {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The parser's complaint.
        why: String,
    },
    /// The inputs are not the ones the earlier output was made from.
    #[error(
        "{path} has input {index} as {found}, but the inputs give {expected}: not the same inputs; {path} is left as it was"
    )]
    Mismatch {
        /// The earlier output.
        path: PathBuf,
        /// The index that differs.
        index: u64,
        /// The URL in the earlier output.
        found: String,
        /// The URL the inputs give (or that they end before it).
        expected: String,
    },
}

/// What an earlier output holds, once compacted.
#[derive(Debug, Default)]
pub struct Compacted {
    /// Inputs with a final record: not to be fetched again.
    pub done: crate::run::IndexSet,
    /// Records kept (one per index).
    pub records: u64,
}

/// A record is final (its input is not fetched again) unless it was cancelled — never sent, or
/// interrupted — or, with `retry_failed`, unless it is not ok.
fn is_final(record: &Record, retry_failed: bool) -> bool {
    let cancelled = record
        .error
        .as_ref()
        .is_some_and(|e| e.kind == crate::ErrorKind::Cancelled);
    !cancelled && (record.ok || !retry_failed)
}

#[derive(serde::Deserialize)]
struct IndexOnly {
    index: u64,
}

/// Rewrite `path` as one run in input order holding, for every index, its best record — the
/// first final one, else the latest — and return which inputs are done. The output of any run
/// (even one killed mid-line, or a resume killed part-way, which appended a second run of
/// records) is a few runs each in input order; they are merged in one pass, one line per run in
/// memory. With `inputs`, every record's URL is checked against the input at its index first.
/// The result is written beside `path` and renamed over it, so a kill at any moment leaves
/// either the old file or the new one, and a mismatch leaves the old one untouched.
pub fn compact(
    path: &Path,
    mut inputs: Option<&mut dyn Iterator<Item = crate::Request>>,
    retry_failed: bool,
) -> Result<Compacted, ResumeError> {
    use std::io::{Read, Seek, SeekFrom};
    let io_error = |source| ResumeError::Io {
        path: path.to_path_buf(),
        source,
    };
    // Pass 1: where each run of ascending indices starts (complete lines only).
    let mut segments: Vec<(u64, u64)> = Vec::new();
    {
        let file = File::open(path).map_err(io_error)?;
        let mut reader = BufReader::with_capacity(256 * 1024, file);
        let (mut offset, mut start, mut previous) = (0u64, 0u64, None::<u64>);
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = reader.read_until(b'\n', &mut line).map_err(io_error)? as u64;
            if read == 0 || line.last() != Some(&b'\n') {
                break; // the end, or a torn last line
            }
            if let Ok(IndexOnly { index }) = serde_json::from_slice::<IndexOnly>(&line) {
                if previous.is_some_and(|p| index <= p) {
                    segments.push((start, offset));
                    start = offset;
                }
                previous = Some(index);
            }
            offset += read;
        }
        if offset > start {
            segments.push((start, offset));
        }
    }
    // Pass 2: merge the runs, keep the best record per index, check URLs, write it out.
    let name = path
        .file_name()
        .map_or_else(|| "records".into(), |n| n.to_string_lossy().into_owned());
    let temp = path.with_file_name(format!(".{name}.resume-tmp"));
    let temp_error = |source| ResumeError::Io {
        path: temp.clone(),
        source,
    };
    let mut out =
        io::BufWriter::with_capacity(256 * 1024, File::create(&temp).map_err(temp_error)?);
    let mut cursors = Vec::new();
    for (start, end) in &segments {
        let mut file = File::open(path).map_err(io_error)?;
        file.seek(SeekFrom::Start(*start)).map_err(io_error)?;
        cursors.push(BufReader::new(file.take(end - start)).lines());
    }
    let mut heads: Vec<Option<(Record, String)>> = Vec::with_capacity(cursors.len());
    let mut line_number = 0u64;
    let mut next_head = |cursor: &mut std::io::Lines<BufReader<std::io::Take<File>>>| {
        loop {
            let Some(line) = cursor.next() else {
                return Ok(None);
            };
            let line = line.map_err(io_error)?;
            line_number += 1;
            if line.trim().is_empty() {
                continue;
            }
            let record: Record =
                serde_json::from_str(&line).map_err(|e| ResumeError::NotARecord {
                    path: path.to_path_buf(),
                    line: line_number,
                    why: e.to_string(),
                })?;
            return Ok(Some((record, line)));
        }
    };
    for cursor in &mut cursors {
        heads.push(next_head(cursor)?);
    }
    let mut heap: BinaryHeap<Reverse<(u64, usize)>> = heads
        .iter()
        .enumerate()
        .filter_map(|(slot, head)| head.as_ref().map(|(r, _)| Reverse((r.index, slot))))
        .collect();
    let mut compacted = Compacted::default();
    let mut position = 0u64;
    let mut abort = None;
    while let Some(Reverse((index, _))) = heap.peek().copied() {
        // Every record for this index, in run order.
        let mut candidates = Vec::new();
        while let Some(Reverse((i, slot))) = heap.peek().copied() {
            if i != index {
                break;
            }
            heap.pop();
            if let Some(head) = heads[slot].take() {
                candidates.push(head);
            }
            heads[slot] = next_head(&mut cursors[slot])?;
            if let Some((record, _)) = &heads[slot] {
                heap.push(Reverse((record.index, slot)));
            }
        }
        let best = match candidates
            .iter()
            .position(|(r, _)| is_final(r, retry_failed))
        {
            Some(first_final) => candidates.swap_remove(first_final),
            None => match candidates.pop() {
                Some(latest) => latest,
                None => continue,
            },
        };
        if let Some(inputs) = inputs.as_deref_mut() {
            let mut expected = None;
            while position <= index {
                expected = inputs.next();
                position += 1;
                if expected.is_none() {
                    break;
                }
            }
            let expected = expected.map(|r| r.display_url());
            if expected.as_deref() != Some(best.0.url.as_str()) {
                abort = Some(ResumeError::Mismatch {
                    path: path.to_path_buf(),
                    index,
                    found: best.0.url.clone(),
                    expected: expected
                        .unwrap_or_else(|| "no input at all (the list is shorter)".into()),
                });
                break;
            }
        }
        if is_final(&best.0, retry_failed) {
            compacted.done.insert(index);
        }
        out.write_all(best.1.as_bytes()).map_err(temp_error)?;
        out.write_all(b"\n").map_err(temp_error)?;
        compacted.records += 1;
    }
    if let Some(error) = abort {
        drop(out);
        let _ = std::fs::remove_file(&temp);
        return Err(error);
    }
    let file = out.into_inner().map_err(|e| temp_error(e.into_error()))?;
    file.sync_all().map_err(temp_error)?;
    drop(file);
    std::fs::rename(&temp, path).map_err(io_error)?;
    Ok(compacted)
}
