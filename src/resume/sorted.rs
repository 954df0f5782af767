//! The lines of record files in (index, file, line) order, whatever order they were written
//! in, with bounded memory and a bounded number of open files.
//!
//! An output is usually a few stretches each in input order (a run, a resume appended after
//! it): those are merged straight from the files, one open file and one line each. An output
//! written with `--order completion`, or a thousand shard files, has too many stretches for
//! that (48,265 after 1.2 s of 200k inputs): then the lines are sorted in chunks of
//! [`CHUNK_BYTES`] into unnamed temporary files, merged [`FAN_IN`] at a time — an external
//! merge sort. Written by hand because no well-kept crate sorts lines by a key this way
//! with a byte budget (`extsort` keeps no file/line tie-break; `external_sort` pulls in
//! serde for every entry and has not been released for years).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::ResumeError;

/// Most runs merged at once: the open files a merge holds.
pub(super) const FAN_IN: usize = 32;
/// Line bytes sorted in memory at once when the input has too many runs.
pub(super) const CHUNK_BYTES: usize = 32 << 20;

/// One record line and where it came from.
#[derive(Debug)]
pub(super) struct Entry {
    /// The record's index.
    pub index: u64,
    /// Which file (its place in the list).
    pub source: u32,
    /// 1-based line number in that file.
    pub line_number: u64,
    /// The line, without its newline.
    pub line: Vec<u8>,
}

/// Sort key of an entry: index, then file, then line.
type Key = (u64, u32, u64);

impl Entry {
    fn key(&self) -> Key {
        (self.index, self.source, self.line_number)
    }
}

#[derive(serde::Deserialize)]
struct IndexOnly {
    index: u64,
}

/// A stretch of a file whose indices never go down: `[start, end)` in bytes.
#[derive(Debug, Clone, Copy)]
struct Stretch {
    source: u32,
    start: u64,
    end: u64,
    /// Line number of the line before `start`.
    lines_before: u64,
}

/// What reading the files found besides the records.
#[derive(Debug, Default)]
pub(super) struct Scan {
    /// Files whose last line was cut off (a killed run): the line is left out.
    pub torn: Vec<PathBuf>,
}

/// Every record line of `paths` in (index, file, line) order. Temporary files, if needed,
/// are made in `spill_dir` and vanish when the result is dropped (or the process killed).
pub(super) fn sorted(paths: &[PathBuf], spill_dir: &Path) -> Result<(Merger, Scan), ResumeError> {
    let mut scan = Scan::default();
    let mut stretches = Vec::new();
    let mut many = false;
    for (source, path) in paths.iter().enumerate() {
        let source = u32::try_from(source).map_err(|_| ResumeError::Io {
            path: path.clone(),
            source: io::Error::other("more than 4 billion files"),
        })?;
        let mut found = Vec::new();
        let count = scan_file(path, source, &mut found, &mut scan)?;
        many |= count > FAN_IN;
        if !many {
            stretches.extend(found);
            many = stretches.len() > FAN_IN;
        }
    }
    let runs = if many {
        spill_all(paths, spill_dir, CHUNK_BYTES)?
    } else {
        stretches
            .into_iter()
            .map(|stretch| Run::stretch(&paths[stretch.source as usize], stretch))
            .collect::<Result<_, _>>()?
    };
    Ok((Merger::new(runs)?, scan))
}

/// Check every line of `path` is a record with an index (a cut-off last line aside) and find
/// its ascending stretches (kept while there are at most [`FAN_IN`]); their count.
fn scan_file(
    path: &Path,
    source: u32,
    found: &mut Vec<Stretch>,
    scan: &mut Scan,
) -> Result<usize, ResumeError> {
    let mut lines = Lines::open(path)?;
    let (mut start, mut lines_before, mut previous) = (0u64, 0u64, None::<u64>);
    let mut count = 0usize;
    let mut push = |stretch: Stretch, found: &mut Vec<Stretch>| {
        count += 1;
        if found.len() <= FAN_IN {
            found.push(stretch);
        }
    };
    while let Some(line) = lines.next_line()? {
        let Some(index) = line.index(path)? else {
            if line.torn {
                scan.torn.push(path.to_path_buf());
            }
            continue;
        };
        if previous.is_some_and(|p| index < p) {
            push(
                Stretch {
                    source,
                    start,
                    end: line.offset,
                    lines_before,
                },
                found,
            );
            start = line.offset;
            lines_before = line.number - 1;
        }
        previous = Some(index);
    }
    let end = lines.kept_end;
    if end > start {
        push(
            Stretch {
                source,
                start,
                end,
                lines_before,
            },
            found,
        );
    }
    Ok(count)
}

/// One raw line of a file.
struct Line<'a> {
    bytes: &'a [u8],
    /// 1-based.
    number: u64,
    /// Byte offset of its start.
    offset: u64,
    /// The last line, without a newline.
    torn: bool,
}

impl Line<'_> {
    /// The record's index; `None` for a blank line or a cut-off last line that is no record.
    /// A complete line is only looked at for its index here (every kept line is parsed whole
    /// as a record later, once); a cut-off last line is kept only if it is a whole record.
    fn index(&self, path: &Path) -> Result<Option<u64>, ResumeError> {
        if self.bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        if self.torn {
            return Ok(whole_record_index(self.bytes));
        }
        if let Some(index) = quick_index(self.bytes) {
            return Ok(Some(index));
        }
        match serde_json::from_slice::<IndexOnly>(self.bytes) {
            Ok(IndexOnly { index }) => Ok(Some(index)),
            Err(e) => Err(ResumeError::NotARecord {
                path: path.to_path_buf(),
                line: self.number,
                why: e.to_string(),
            }),
        }
    }
}

/// The index of a line as poolfetch writes it, `{"index":N,…`, without parsing the rest (a
/// line can hold a 10 MiB body); `None` for any other shape, which then gets a real parse.
fn quick_index(line: &[u8]) -> Option<u64> {
    let rest = line.strip_prefix(b"{\"index\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let after = rest.get(digits)?;
    if digits == 0 || digits > 20 || !matches!(after, b',' | b'}') {
        return None;
    }
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

/// The index of `line` if it is a whole record (for a last line cut off without a newline).
fn whole_record_index(line: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(line).ok()?;
    serde_json::from_str::<crate::Record>(text)
        .ok()
        .map(|record| record.index)
}

/// A file's lines, one buffer reused.
struct Lines {
    path: Arc<Path>,
    reader: BufReader<File>,
    buffer: Vec<u8>,
    number: u64,
    offset: u64,
    /// Where the lines worth keeping end (before a cut-off last line that is no record).
    kept_end: u64,
}

impl Lines {
    fn open(path: &Path) -> Result<Self, ResumeError> {
        let file = File::open(path).map_err(|source| ResumeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Lines {
            path: Arc::from(path),
            reader: BufReader::with_capacity(256 * 1024, file),
            buffer: Vec::new(),
            number: 0,
            offset: 0,
            kept_end: 0,
        })
    }

    fn next_line(&mut self) -> Result<Option<Line<'_>>, ResumeError> {
        self.buffer.clear();
        let read = self
            .reader
            .read_until(b'\n', &mut self.buffer)
            .map_err(|source| ResumeError::Io {
                path: self.path.to_path_buf(),
                source,
            })? as u64;
        if read == 0 {
            return Ok(None);
        }
        self.number += 1;
        let offset = self.offset;
        self.offset += read;
        let torn = self.buffer.last() != Some(&b'\n');
        let bytes = if torn {
            // Kept only if it is a whole record after all.
            if whole_record_index(&self.buffer).is_some() {
                self.kept_end = self.offset;
            }
            &self.buffer[..]
        } else {
            self.kept_end = self.offset;
            &self.buffer[..self.buffer.len() - 1]
        };
        Ok(Some(Line {
            bytes,
            number: self.number,
            offset,
            torn,
        }))
    }
}

/// A sorted source of entries: a stretch of an input file, or a temporary file of entries.
enum Run {
    Stretch { lines: Lines, source: u32, end: u64 },
    Spilled(BufReader<File>),
}

impl Run {
    fn stretch(path: &Path, stretch: Stretch) -> Result<Self, ResumeError> {
        let mut lines = Lines::open(path)?;
        lines
            .reader
            .seek(SeekFrom::Start(stretch.start))
            .map_err(|source| ResumeError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        lines.offset = stretch.start;
        lines.number = stretch.lines_before;
        Ok(Run::Stretch {
            lines,
            source: stretch.source,
            end: stretch.end,
        })
    }

    fn next(&mut self) -> Result<Option<Entry>, ResumeError> {
        match self {
            Run::Stretch { lines, source, end } => loop {
                if lines.offset >= *end {
                    return Ok(None);
                }
                let path = Arc::clone(&lines.path);
                let Some(line) = lines.next_line()? else {
                    return Ok(None);
                };
                if let Some(index) = line.index(&path)? {
                    let bytes = line.bytes.to_vec();
                    return Ok(Some(Entry {
                        index,
                        source: *source,
                        line_number: line.number,
                        line: bytes,
                    }));
                }
            },
            Run::Spilled(reader) => read_entry(reader).map_err(spill_error),
        }
    }
}

fn spill_error(source: io::Error) -> ResumeError {
    ResumeError::Write {
        path: PathBuf::from("a temporary file"),
        source,
    }
}

/// Entries in a temporary file: index, source, line number, length, then the line.
fn write_entry(out: &mut impl Write, entry: &Entry) -> io::Result<()> {
    let length = u32::try_from(entry.line.len()).map_err(|_| io::Error::other("line > 4 GiB"))?;
    out.write_all(&entry.index.to_le_bytes())?;
    out.write_all(&entry.source.to_le_bytes())?;
    out.write_all(&entry.line_number.to_le_bytes())?;
    out.write_all(&length.to_le_bytes())?;
    out.write_all(&entry.line)
}

fn read_entry(reader: &mut impl Read) -> io::Result<Option<Entry>> {
    let mut head = [0u8; 24];
    match reader.read_exact(&mut head[..1]) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    reader.read_exact(&mut head[1..])?;
    let field = |range: std::ops::Range<usize>| head[range].to_vec();
    let index = u64::from_le_bytes(field(0..8).try_into().unwrap_or_default());
    let source = u32::from_le_bytes(field(8..12).try_into().unwrap_or_default());
    let line_number = u64::from_le_bytes(field(12..20).try_into().unwrap_or_default());
    let length = u32::from_le_bytes(field(20..24).try_into().unwrap_or_default());
    let mut line = vec![0u8; length as usize];
    reader.read_exact(&mut line)?;
    Ok(Some(Entry {
        index,
        source,
        line_number,
        line,
    }))
}

/// Sort every record line of `paths` into temporary runs of `chunk_bytes`, merged [`FAN_IN`]
/// at a time as they pile up (so at most about `FAN_IN` files per level of merging are open,
/// a few levels for any size), and hand back at most [`FAN_IN`] runs.
fn spill_all(paths: &[PathBuf], dir: &Path, chunk_bytes: usize) -> Result<Vec<Run>, ResumeError> {
    let mut levels: Vec<Vec<File>> = Vec::new();
    let mut chunk: Vec<Entry> = Vec::new();
    let mut bytes = 0usize;
    for (source, path) in paths.iter().enumerate() {
        let mut lines = Lines::open(path)?;
        while let Some(line) = lines.next_line()? {
            let Some(index) = line.index(path)? else {
                continue;
            };
            bytes += line.bytes.len() + std::mem::size_of::<Entry>();
            chunk.push(Entry {
                index,
                source: source as u32,
                line_number: line.number,
                line: line.bytes.to_vec(),
            });
            if bytes >= chunk_bytes {
                let run = spill(&mut chunk, dir)?;
                pile(&mut levels, 0, run, dir)?;
                bytes = 0;
            }
        }
    }
    if !chunk.is_empty() {
        let run = spill(&mut chunk, dir)?;
        pile(&mut levels, 0, run, dir)?;
    }
    let mut runs: Vec<File> = levels.into_iter().flatten().collect();
    while runs.len() > FAN_IN {
        let group: Vec<File> = runs.drain(..FAN_IN).collect();
        runs.push(merge_files(group, dir)?);
    }
    runs.into_iter().map(spilled_run).collect()
}

/// Add a sorted temporary run at `level`; a level that reaches [`FAN_IN`] runs is merged
/// into one run of the next level.
fn pile(
    levels: &mut Vec<Vec<File>>,
    level: usize,
    run: File,
    dir: &Path,
) -> Result<(), ResumeError> {
    if levels.len() <= level {
        levels.resize_with(level + 1, Vec::new);
    }
    levels[level].push(run);
    if levels[level].len() >= FAN_IN {
        let group = std::mem::take(&mut levels[level]);
        let merged = merge_files(group, dir)?;
        pile(levels, level + 1, merged, dir)?;
    }
    Ok(())
}

/// Merge sorted temporary runs into one.
fn merge_files(group: Vec<File>, dir: &Path) -> Result<File, ResumeError> {
    let runs = group
        .into_iter()
        .map(spilled_run)
        .collect::<Result<_, _>>()?;
    let mut merger = Merger::new(runs)?;
    let file = tempfile::tempfile_in(dir).map_err(spill_error)?;
    let mut out = BufWriter::with_capacity(256 * 1024, file);
    while let Some(entry) = merger.next_entry()? {
        write_entry(&mut out, &entry).map_err(spill_error)?;
    }
    out.into_inner().map_err(|e| spill_error(e.into_error()))
}

fn spilled_run(mut file: File) -> Result<Run, ResumeError> {
    file.rewind().map_err(spill_error)?;
    Ok(Run::Spilled(BufReader::with_capacity(64 * 1024, file)))
}

fn spill(chunk: &mut Vec<Entry>, dir: &Path) -> Result<File, ResumeError> {
    chunk.sort_unstable_by_key(Entry::key);
    let file = tempfile::tempfile_in(dir).map_err(spill_error)?;
    let mut out = BufWriter::with_capacity(256 * 1024, file);
    for entry in chunk.drain(..) {
        write_entry(&mut out, &entry).map_err(spill_error)?;
    }
    out.into_inner().map_err(|e| spill_error(e.into_error()))
}

/// A k-way merge of sorted runs: one entry per run in memory.
pub(super) struct Merger {
    runs: Vec<Run>,
    heads: Vec<Option<Entry>>,
    /// (key of each run's head, run), smallest first.
    heap: BinaryHeap<Reverse<(Key, usize)>>,
}

impl Merger {
    fn new(mut runs: Vec<Run>) -> Result<Self, ResumeError> {
        let mut heads = Vec::with_capacity(runs.len());
        let mut heap = BinaryHeap::with_capacity(runs.len());
        for (slot, run) in runs.iter_mut().enumerate() {
            let head = run.next()?;
            if let Some(entry) = &head {
                heap.push(Reverse((entry.key(), slot)));
            }
            heads.push(head);
        }
        Ok(Merger { runs, heads, heap })
    }

    /// The next entry in (index, file, line) order.
    pub(super) fn next_entry(&mut self) -> Result<Option<Entry>, ResumeError> {
        let Some(Reverse((_, slot))) = self.heap.pop() else {
            return Ok(None);
        };
        let entry = self.heads[slot].take();
        let next = self.runs[slot].next()?;
        if let Some(next) = &next {
            self.heap.push(Reverse((next.key(), slot)));
        }
        self.heads[slot] = next;
        Ok(entry)
    }

    /// Every entry with the smallest index left, in file and line order.
    pub(super) fn next_group(&mut self) -> Result<Option<Vec<Entry>>, ResumeError> {
        let Some(first) = self.next_entry()? else {
            return Ok(None);
        };
        let index = first.index;
        let mut group = vec![first];
        while self
            .heap
            .peek()
            .is_some_and(|Reverse(((next, _, _), _))| *next == index)
        {
            if let Some(entry) = self.next_entry()? {
                group.push(entry);
            }
        }
        Ok(Some(group))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(mut merger: Merger) -> Vec<(u64, u32, u64)> {
        let mut keys = Vec::new();
        while let Some(entry) = merger.next_entry().unwrap() {
            assert_eq!(
                entry.line,
                format!("{{\"index\":{}}}", entry.index).into_bytes(),
                "the line comes back whole"
            );
            keys.push(entry.key());
        }
        keys
    }

    #[test]
    fn any_order_comes_back_sorted_by_index_then_file_then_line() {
        let dir = tempfile::tempdir().unwrap();
        // 3,000 lines in a scrambled order, over two files, with duplicates and a torn tail.
        let order = |i: u64| (i * 7919) % 3000;
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        let text = |range: std::ops::Range<u64>| -> String {
            range
                .map(|i| format!("{{\"index\":{}}}\n\n", order(i)))
                .collect()
        };
        std::fs::write(&a, text(0..2000) + "{\"index\":1").unwrap();
        std::fs::write(&b, text(1500..3000)).unwrap();
        let paths = [a, b];
        let mut expected: Vec<(u64, u32, u64)> = (0..2000)
            .map(|i| (order(i), 0, 2 * i + 1))
            .chain((1500..3000).map(|i| (order(i), 1, 2 * (i - 1500) + 1)))
            .collect();
        expected.sort_unstable();
        // Through `sorted` (one chunk), and with chunks so small that the runs are merged
        // FAN_IN at a time over several levels.
        let (merger, scan) = sorted(&paths, dir.path()).unwrap();
        assert_eq!(scan.torn, [paths[0].clone()]);
        assert_eq!(entries(merger), expected);
        let runs = spill_all(&paths, dir.path(), 64).unwrap();
        assert!(runs.len() <= FAN_IN);
        assert_eq!(entries(Merger::new(runs).unwrap()), expected);
        // A few ascending stretches are read straight from the file.
        let c = dir.path().join("c");
        std::fs::write(
            &c,
            "{\"index\":2}\n{\"index\":5}\n{\"index\":1}\n{\"index\":3}\n",
        )
        .unwrap();
        let (merger, _) = sorted(&[c], dir.path()).unwrap();
        assert_eq!(
            entries(merger),
            [(1, 0, 3), (2, 0, 1), (3, 0, 4), (5, 0, 2)]
        );
    }

    #[test]
    fn a_line_that_is_no_record_is_refused_with_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, "{\"index\":0}\nnonsense\n{\"index\":1}\n").unwrap();
        match sorted(&[a], dir.path()) {
            Err(ResumeError::NotARecord { line, .. }) => assert_eq!(line, 2),
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
}
