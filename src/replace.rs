//! The one way poolfetch replaces a file it rewrites — `--resume` compaction, `merge -o`,
//! `plot -o`: the new version is written to a fresh file beside FILE (created with `O_EXCL`
//! under a random name, so nothing planted there is written through), synced, given FILE's
//! mode and owner, and renamed over FILE only when complete. A kill at any moment leaves
//! either the old FILE or the new one; a failure leaves the old one and no temporary file.
//!
//! What a rename cannot replace faithfully is refused instead: a FILE that is not a regular
//! file (`/dev/null`, a FIFO: renaming over them would change what they are), one with other
//! hard links (they would keep the old version), one whose owner could not be kept. A
//! symbolic link is followed: its target is replaced and the link stays. `merge -o` and
//! `plot -o` may also write straight into a device or FIFO ([`Output`]); `--resume` may not,
//! since it must read FILE back.

use std::fs::{File, Metadata};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// How a new version's temporary name ends (`.FILE.XXXXXX.poolfetch-tmp`).
const TEMP_SUFFIX: &str = ".poolfetch-tmp";

/// Take an exclusive `flock` on `file`; with `try_only`, give up at once if another holds it.
/// True when taken.
fn lock(file: &File, try_only: bool) -> bool {
    use std::os::fd::AsRawFd;
    let mode = if try_only {
        libc::LOCK_EX | libc::LOCK_NB
    } else {
        libc::LOCK_EX
    };
    // SAFETY: flock(2) on a file descriptor this function's caller owns.
    unsafe { libc::flock(file.as_raw_fd(), mode) == 0 }
}

/// Remove what a killed run left of an earlier new version of `name` in `dir`: names only
/// poolfetch makes (`.NAME.` + 6 random characters + `.poolfetch-tmp`), regular files (a link
/// is not followed), and only those no live process holds (their writer keeps a lock).
fn remove_leftovers(dir: &Path, name: &str) {
    use std::os::unix::fs::OpenOptionsExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{name}.");
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(text) = file_name.to_str() else {
            continue;
        };
        let Some(middle) = text
            .strip_prefix(prefix.as_str())
            .and_then(|rest| rest.strip_suffix(TEMP_SUFFIX))
        else {
            continue;
        };
        if middle.len() != 6 || !middle.bytes().all(|b| b.is_ascii_alphanumeric()) {
            continue;
        }
        let path = entry.path();
        let Ok(file) = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
        else {
            continue;
        };
        if file.metadata().is_ok_and(|m| m.is_file()) && lock(&file, true) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Why FILE cannot be replaced, or writing its new version failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplaceError {
    /// Replacing FILE would change what it is, or it may not be written: refused before
    /// anything was written.
    #[error("{path}: {why}")]
    Refused {
        /// The file named.
        path: PathBuf,
        /// Why, and what to do instead.
        why: String,
    },
    /// Writing the new version failed (a full disk, say); FILE is as it was.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file being replaced.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// A new version of a file, written beside it and renamed over it by [`commit`](Self::commit).
/// Dropped uncommitted, it is removed and FILE is untouched.
pub struct Replacement {
    out: BufWriter<tempfile::NamedTempFile>,
    /// The file replaced (a symbolic link's target).
    target: PathBuf,
    /// The path as the user gave it, for messages.
    named: PathBuf,
}

impl Replacement {
    /// Check that `path` may be replaced and open its new version.
    pub fn begin(path: &Path) -> Result<Self, ReplaceError> {
        let refused = |why: String| ReplaceError::Refused {
            path: path.to_path_buf(),
            why,
        };
        let target = resolve(path).map_err(&refused)?;
        let existing = match std::fs::metadata(&target) {
            Ok(meta) => Some(meta),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(refused(e.to_string())),
        };
        if let Some(meta) = &existing {
            check_replaceable(&target, meta).map_err(&refused)?;
        }
        let dir = match target.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let name = target
            .file_name()
            .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
        let write_error = |source| ReplaceError::Write {
            path: path.to_path_buf(),
            source,
        };
        remove_leftovers(dir, &name);
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(TEMP_SUFFIX)
            .permissions(std::fs::Permissions::from_mode(0o666))
            .tempfile_in(dir)
            .map_err(write_error)?;
        // Held until the file is renamed or removed: a later run knows it is not a leftover.
        lock(temp.as_file(), false);
        if let Some(meta) = &existing {
            keep_owner_and_mode(temp.as_file(), meta).map_err(|e| {
                refused(format!(
                    "cannot give a new version its owner {}:{} ({e}); run as its owner, or copy it first",
                    meta.uid(),
                    meta.gid()
                ))
            })?;
        }
        Ok(Replacement {
            out: BufWriter::with_capacity(256 * 1024, temp),
            target,
            named: path.to_path_buf(),
        })
    }

    /// Write the new version, flush it to disk and rename it over FILE.
    pub fn commit(self) -> Result<(), ReplaceError> {
        let named = self.named;
        let write_error = |source| ReplaceError::Write {
            path: named.clone(),
            source,
        };
        let temp = self
            .out
            .into_inner()
            .map_err(|e| write_error(e.into_error()))?;
        temp.as_file().sync_all().map_err(write_error)?;
        temp.persist(&self.target)
            .map_err(|e| write_error(e.error))?;
        // The rename itself is durable once the directory is synced.
        if let Some(dir) = self.target.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(dir) = File::open(dir)
        {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

impl Write for Replacement {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.out.write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Where `path` really is: itself, or the target of the symbolic link it is.
fn resolve(path: &Path) -> Result<PathBuf, String> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => std::fs::canonicalize(path)
            .map_err(|e| format!("a symbolic link whose target cannot be reached ({e})")),
        _ => Ok(path.to_path_buf()),
    }
}

/// A regular file with no other hard link that this process may write.
fn check_replaceable(target: &Path, meta: &Metadata) -> Result<(), String> {
    if !meta.is_file() {
        return Err(format!(
            "is {}, not a regular file; give a file to write instead",
            kind_of(meta)
        ));
    }
    if meta.nlink() > 1 {
        return Err(format!(
            "has {} hard links, which would keep the old version; copy it (cp FILE NEW) and use the copy",
            meta.nlink()
        ));
    }
    // Read-only stays read-only: what a plain `-o` refuses, a replacement refuses too.
    std::fs::OpenOptions::new()
        .append(true)
        .open(target)
        .map(drop)
        .map_err(|e| format!("cannot write it: {e}"))
}

fn keep_owner_and_mode(temp: &File, meta: &Metadata) -> io::Result<()> {
    let mine = temp.metadata()?;
    if (mine.uid(), mine.gid()) != (meta.uid(), meta.gid()) {
        std::os::unix::fs::fchown(temp, Some(meta.uid()), Some(meta.gid()))?;
    }
    temp.set_permissions(meta.permissions())
}

/// "a character device", "a FIFO", … for messages.
pub fn kind_of(meta: &Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    if kind.is_dir() {
        "a directory"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else {
        "a regular file"
    }
}

/// A file written whole or not at all (a merge's output, a picture): a new version of a
/// regular (or new) file, or straight into a device or FIFO (`/dev/stdout`, a pipe), which
/// cannot be replaced.
pub enum Output {
    /// A file replaced when complete.
    Replace(Replacement),
    /// A device or FIFO written in place.
    Stream(BufWriter<File>, PathBuf),
}

impl Output {
    /// Open `path` for a whole new content.
    pub fn create(path: &Path) -> Result<Self, ReplaceError> {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => Err(ReplaceError::Refused {
                path: path.to_path_buf(),
                why: "is a directory; give a file name".into(),
            }),
            Ok(meta) if !meta.is_file() => {
                let file =
                    std::fs::OpenOptions::new()
                        .write(true)
                        .open(path)
                        .map_err(|source| ReplaceError::Write {
                            path: path.to_path_buf(),
                            source,
                        })?;
                Ok(Output::Stream(
                    BufWriter::with_capacity(256 * 1024, file),
                    path.to_path_buf(),
                ))
            }
            _ => Replacement::begin(path).map(Output::Replace),
        }
    }

    /// Everything is written: flush it, and replace the file.
    pub fn finish(self) -> Result<(), ReplaceError> {
        match self {
            Output::Replace(replacement) => replacement.commit(),
            Output::Stream(mut out, path) => out
                .flush()
                .and_then(|()| out.get_ref().sync_data().or(Ok(())))
                .map_err(|source| ReplaceError::Write { path, source }),
        }
    }
}

impl Write for Output {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Output::Replace(out) => out.write(bytes),
            Output::Stream(out, _) => out.write(bytes),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Replace(out) => out.flush(),
            Output::Stream(out, _) => out.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_replacement_keeps_the_mode_and_the_link_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.jsonl");
        std::fs::write(&real, "old\n").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.path().join("link.jsonl");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let mut new = Replacement::begin(&link).unwrap();
        new.write_all(b"new\n").unwrap();
        new.commit().unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new\n");
        let mode = std::fs::metadata(&real).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 2, "no temporary file stays");
        // Dropped uncommitted: the old file stays, the temporary goes.
        let mut abandoned = Replacement::begin(&real).unwrap();
        abandoned.write_all(b"half").unwrap();
        drop(abandoned);
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn devices_fifos_and_hard_links_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for refused in [Path::new("/dev/null"), dir.path()] {
            assert!(
                matches!(
                    Replacement::begin(refused),
                    Err(ReplaceError::Refused { .. })
                ),
                "{refused:?}"
            );
        }
        let file = dir.path().join("a");
        std::fs::write(&file, "x").unwrap();
        std::fs::hard_link(&file, dir.path().join("b")).unwrap();
        let error = Replacement::begin(&file).err().unwrap().to_string();
        assert!(error.contains("hard links"), "{error}");
    }
}
