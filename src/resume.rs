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

/// Why a merge could not be done.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// An input could not be read, or the output written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A line in the middle of a file is not a record.
    #[error("{path} line {line}: not a poolfetch record: {why}")]
    NotARecord {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The parser's complaint.
        why: String,
    },
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
    fn open(path: &Path) -> Result<Self, MergeError> {
        let io_error = |source| MergeError::Io {
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
    fn advance(&mut self, report: &mut MergeReport) -> Result<(), MergeError> {
        self.head = None;
        loop {
            let Some(line) = self.lines.next() else {
                return Ok(());
            };
            self.line += 1;
            let line = line.map_err(|source| MergeError::Io {
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
                    return Err(MergeError::NotARecord {
                        path: self.path.clone(),
                        line: self.line,
                        why: e.to_string(),
                    });
                }
            };
            if let Some(previous) = self.previous
                && record.index < previous
            {
                return Err(MergeError::OutOfOrder {
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
pub fn merge(inputs: &[PathBuf], out: &mut impl Write) -> Result<MergeReport, MergeError> {
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
    let write_error = |source| MergeError::Io {
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
