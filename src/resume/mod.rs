//! Earlier outputs: `--resume` compaction and `poolfetch merge`, one sorted read of record
//! files ([`sorted`]) serving both. Whatever order the records were written in (input order,
//! `--order completion`, a resume appended after a run, a thousand shards), memory and open
//! files stay bounded, and the result is one record per index in input order.

mod sorted;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::record::Record;
use crate::replace::{ReplaceError, Replacement};
use sorted::Entry;

/// What a merge found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MergeReport {
    /// Records written.
    pub written: u64,
    /// Indices met more than once (the first record is kept), the first few.
    pub duplicates: Vec<u64>,
    /// How many duplicates in all.
    pub duplicate_count: u64,
    /// Indices absent between 0 and the highest one (or up to the expected count, when
    /// given), the first few.
    pub missing: Vec<u64>,
    /// How many missing in all.
    pub missing_count: u64,
    /// Files whose last line was cut off (a killed run): the line is left out.
    pub torn: Vec<PathBuf>,
    /// Indices at or past the expected count, the first few.
    pub beyond: Vec<u64>,
    /// How many in all.
    pub beyond_count: u64,
}

impl MergeReport {
    /// Count the indices from `from` up to (not including) `to` as missing.
    fn note_missing(&mut self, from: u64, to: u64) {
        if to > from {
            self.missing_count += to - from;
            let room = EXAMPLES.saturating_sub(self.missing.len()) as u64;
            self.missing.extend(from..from + (to - from).min(room));
        }
    }
}

/// How many examples of missing or duplicate indices a report keeps.
const EXAMPLES: usize = 10;

/// Why a merge or a `--resume` cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    /// Reading an earlier output failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Writing the result failed (a full disk, say); nothing was replaced.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file written.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The output file may not be replaced (not a regular file, hard links, read-only…).
    #[error(transparent)]
    Refused(ReplaceError),
    /// A line in the middle of an earlier output is not a record.
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
        /// The method, URL (and meta) in the earlier output.
        found: String,
        /// The method, URL (and meta) the inputs give (or that they end before it).
        expected: String,
    },
}

impl ResumeError {
    /// Whether writing failed (exit 3), rather than the inputs or the file being wrong (2).
    pub fn is_write_error(&self) -> bool {
        matches!(
            self,
            ResumeError::Write { .. } | ResumeError::Refused(ReplaceError::Write { .. })
        )
    }
}

impl From<ReplaceError> for ResumeError {
    fn from(error: ReplaceError) -> Self {
        ResumeError::Refused(error)
    }
}

/// The full record of an entry, or why its line is not one. The whole line must be UTF-8:
/// serde_json does not look inside the strings of fields it skips, so a record with invalid
/// bytes in an unknown field would otherwise pass (found by the `outputs` fuzz target).
fn record_of(entry: &Entry, paths: &[PathBuf]) -> Result<Record, ResumeError> {
    let not_a_record = |why: String| ResumeError::NotARecord {
        path: paths[entry.source as usize].clone(),
        line: entry.line_number,
        why,
    };
    let text = std::str::from_utf8(&entry.line).map_err(|e| not_a_record(e.to_string()))?;
    serde_json::from_str(text).map_err(|e| not_a_record(e.to_string()))
}

/// Where temporary sort files go: beside the output, else beside the first input.
fn spill_dir(near: &Path) -> PathBuf {
    match near.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Merge the records of `inputs` — shard outputs, or any record files, in any order — into
/// `out` in input order, the first record of each index kept (`poolfetch merge`). Memory and
/// open files stay bounded; temporary sort files, if needed (unnamed: they vanish with the
/// process), go beside `spill_near` (else into `$TMPDIR`).
///
/// With `expect` (how many inputs the run had), the indices missing past the highest one
/// read are counted too (a left-out last shard's), and an index at or past it is reported.
pub fn merge(
    inputs: &[PathBuf],
    spill_near: Option<&Path>,
    expect: Option<u64>,
    out: &mut impl Write,
) -> Result<MergeReport, ResumeError> {
    // Beside the output file, else in the temporary directory ($TMPDIR): never beside an
    // input, whose directory may not be writable.
    let dir = spill_near.map_or_else(std::env::temp_dir, spill_dir);
    let (mut merger, scan) = sorted::sorted(inputs, &dir)?;
    let mut report = MergeReport {
        torn: scan.torn,
        ..MergeReport::default()
    };
    let write_error = |source| ResumeError::Write {
        path: PathBuf::from("the output"),
        source,
    };
    let mut expected = 0u64;
    while let Some(group) = merger.next_group()? {
        for entry in &group {
            record_of(entry, inputs)?;
        }
        let index = group[0].index;
        let extra = group.len() as u64 - 1;
        if extra > 0 {
            report.duplicate_count += extra;
            if report.duplicates.len() < EXAMPLES {
                report.duplicates.push(index);
            }
        }
        report.note_missing(expected, index);
        if expect.is_some_and(|total| index >= total) {
            report.beyond_count += 1;
            if report.beyond.len() < EXAMPLES {
                report.beyond.push(index);
            }
        }
        out.write_all(&group[0].line).map_err(write_error)?;
        out.write_all(b"\n").map_err(write_error)?;
        report.written += 1;
        expected = index.saturating_add(1);
    }
    if let Some(total) = expect {
        report.note_missing(expected, total);
    }
    out.flush().map_err(write_error)?;
    Ok(report)
}

/// [`merge`] into the file `output`, written whole or not at all (a failure or a corrupt
/// input leaves an existing file as it was), and refused when `output` is one of `inputs`.
pub fn merge_to_file(
    inputs: &[PathBuf],
    output: &Path,
    expect: Option<u64>,
) -> Result<MergeReport, ResumeError> {
    let named = inputs
        .iter()
        .map(|f| (f.display().to_string(), crate::input::FileId::of(f)));
    if let Some((name, _)) = crate::input::same_file(output, named) {
        return Err(ResumeError::Refused(ReplaceError::Refused {
            path: output.to_path_buf(),
            why: format!("that is an input ({name}); refusing to overwrite it"),
        }));
    }
    let mut file = crate::replace::Output::create(output)?;
    let report = merge(inputs, Some(output), expect, &mut file)?;
    file.finish()?;
    Ok(report)
}

/// A set of input indices in one bit each (100 million inputs: 12.5 MB): the inputs an
/// earlier output already has, which a resumed run skips.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexSet(Vec<u64>);

impl IndexSet {
    /// Add `index`.
    pub fn insert(&mut self, index: u64) {
        let (word, bit) = ((index / 64) as usize, index % 64);
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        self.0[word] |= 1 << bit;
    }

    /// Whether `index` is in the set.
    pub fn contains(&self, index: u64) -> bool {
        let (word, bit) = ((index / 64) as usize, index % 64);
        self.0.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }

    /// How many indices are in the set.
    pub fn len(&self) -> u64 {
        self.0.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
}

/// What an earlier output holds, once compacted.
#[derive(Debug, Default)]
pub struct Compacted {
    /// Inputs with a final record: not to be fetched again.
    pub done: IndexSet,
    /// Records kept (one per index).
    pub records: u64,
    /// Records kept that are not ok.
    pub not_ok: u64,
}

fn is_cancelled(record: &Record) -> bool {
    record
        .error
        .as_ref()
        .is_some_and(|e| e.kind == crate::ErrorKind::Cancelled)
}

/// A record is final (its input is not fetched again) unless it was cancelled — never sent, or
/// interrupted — or, with `retry_failed`, unless it is not ok.
fn is_final(record: &Record, retry_failed: bool) -> bool {
    !is_cancelled(record) && (record.ok || !retry_failed)
}

/// The record an index keeps from its candidates (in the order they were written): the first
/// ok one; else the latest one that was answered or failed for good; else the latest. So a
/// retry that succeeded is never lost to the failure it retried, whatever flags the next
/// resume runs with.
fn best(candidates: Vec<(Entry, Record)>) -> Option<(Entry, Record)> {
    let rank = |record: &Record| match (record.ok, is_cancelled(record)) {
        (true, _) => 2,
        (false, false) => 1,
        (false, true) => 0,
    };
    let top = candidates.iter().map(|(_, r)| rank(r)).max()?;
    let mut chosen = candidates.into_iter().filter(|(_, r)| rank(r) == top);
    if top == 2 {
        chosen.next()
    } else {
        chosen.next_back()
    }
}

/// Rewrite `path` as one run in input order holding, for every index, its best record (see
/// [`best`]), and return which inputs are done. Any order of records is taken (a killed run,
/// a resume appended after it, `--order completion`). With `inputs`, every record's URL is
/// checked against the input at its index first. The result replaces `path` only when
/// complete ([`Replacement`]): a kill at any moment leaves the old file or the new one, and a
/// mismatch leaves the old one untouched.
pub fn compact(
    path: &Path,
    mut inputs: Option<&mut dyn Iterator<Item = crate::Request>>,
    retry_failed: bool,
) -> Result<Compacted, ResumeError> {
    let mut out = Replacement::begin(path)?;
    let paths = [path.to_path_buf()];
    let (mut merger, _) = sorted::sorted(&paths, &spill_dir(path))?;
    let mut compacted = Compacted::default();
    let mut position = 0u64;
    let write_error = |source| ResumeError::Write {
        path: path.to_path_buf(),
        source,
    };
    while let Some(group) = merger.next_group()? {
        let index = group[0].index;
        let candidates = group
            .into_iter()
            .map(|entry| record_of(&entry, &paths).map(|record| (entry, record)))
            .collect::<Result<Vec<_>, _>>()?;
        let Some((entry, record)) = best(candidates) else {
            continue;
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
            // The input at this index is the one the record is of: the same URL, method and
            // meta (a JSON request's id), so an edited list is refused, not mixed.
            let shown = |method: &str, url: &str, meta: Option<&serde_json::Value>| match meta {
                Some(meta) => format!("{method} {url} meta {meta}"),
                None => format!("{method} {url}"),
            };
            let expected = expected.map(|r| shown(&r.method, &r.display_url(), r.meta.as_ref()));
            let found = shown(&record.method, &record.url, record.meta.as_ref());
            if expected.as_deref() != Some(found.as_str()) {
                return Err(ResumeError::Mismatch {
                    path: path.to_path_buf(),
                    index,
                    found,
                    expected: expected
                        .unwrap_or_else(|| "no input at all (the list is shorter)".into()),
                });
            }
        }
        if is_final(&record, retry_failed) {
            compacted.done.insert(index);
        }
        compacted.not_ok += u64::from(!record.ok);
        out.write_all(&entry.line).map_err(write_error)?;
        out.write_all(b"\n").map_err(write_error)?;
        compacted.records += 1;
    }
    out.commit()?;
    Ok(compacted)
}
