//! Output files written whole or not at all (ground level): data go to a temporary file beside
//! the target, with a name no user file has (created exclusively, never overwritten), and are
//! renamed into place when complete. A write that fails, is cancelled or is dropped removes
//! its temporary file. Also: checks that an output can be written, before long work starts,
//! and that it is not one of the call's inputs.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// A file being written; see the module's documentation.
pub struct AtomicFile {
    target: PathBuf,
    tmp: PathBuf,
    out: Option<BufWriter<File>>,
}

/// Distinguishes the temporary files of one process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

impl AtomicFile {
    /// Starts writing `target` (nothing is visible under its name until [`AtomicFile::commit`]).
    pub fn create(target: &Path) -> Result<AtomicFile> {
        let dir = parent(target);
        let name = target
            .file_name()
            .ok_or_else(|| {
                Error::invalid(format!(
                    "cannot write {}: it names no file",
                    target.display()
                ))
            })?
            .to_string_lossy()
            .into_owned();
        for _ in 0..100 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let tmp = dir.join(format!(
                ".{name}.synthvol-{}-{n}.partial",
                std::process::id()
            ));
            match OpenOptions::new().write(true).create_new(true).open(&tmp) {
                Ok(f) => {
                    return Ok(AtomicFile {
                        target: target.to_path_buf(),
                        tmp,
                        out: Some(BufWriter::with_capacity(1 << 20, f)),
                    })
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io(format!("cannot write {}", target.display()), e)),
            }
        }
        Err(Error::invalid(format!(
            "cannot find a free temporary name beside {}",
            target.display()
        )))
    }

    /// The buffered writer of the temporary file.
    pub fn writer(&mut self) -> &mut BufWriter<File> {
        self.out.as_mut().expect("present until commit")
    }

    /// Flushes the data and renames the temporary file to the target.
    pub fn commit(mut self) -> Result<()> {
        let out = self.out.take().expect("present until commit");
        let file = out
            .into_inner()
            .map_err(|e| Error::io(self.target.display(), e.into_error()))?;
        file.sync_all()
            .map_err(|e| Error::io(self.target.display(), e))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.target)
            .map_err(|e| Error::io(self.target.display(), e))?;
        self.tmp = PathBuf::new();
        Ok(())
    }

    /// The temporary file's path (for tests and messages).
    pub fn temporary_path(&self) -> &Path {
        &self.tmp
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            drop(self.out.take());
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `path` whole or not at all.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.writer()
        .write_all(bytes)
        .map_err(|e| Error::io(path.display(), e))?;
    f.commit()
}

fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Fails early, before long work, when `path` cannot be written: its folder is missing, it is
/// a folder, or the folder does not let a file be created (read-only, no permission).
pub fn check_writable(path: &Path) -> Result<()> {
    let dir = parent(path);
    if !dir.is_dir() {
        return Err(Error::invalid(format!(
            "cannot write {}: folder {} does not exist",
            path.display(),
            dir.display()
        )));
    }
    if path.is_dir() {
        return Err(Error::invalid(format!(
            "cannot write {}: it is a folder",
            path.display()
        )));
    }
    // Creating (and dropping) a temporary file is the only reliable test.
    AtomicFile::create(path).map(drop).map_err(|e| {
        Error::new(
            e.kind,
            format!("cannot write {}: {}", path.display(), e.message),
        )
    })
}

/// Bytes free for an unprivileged writer in the folder that holds `path` (None where it cannot
/// be read).
pub fn free_space(path: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let dir = std::ffi::CString::new(parent(path).as_os_str().as_bytes()).ok()?;
        // SAFETY: statvfs fills the struct for a NUL-terminated path.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(dir.as_ptr(), &mut st) } != 0 {
            return None;
        }
        Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Refuses to go on writing `path` when `rows_left` more rows at the `bytes_per_row` seen so
/// far would not fit in the space its folder has left.
pub fn check_space(path: &Path, bytes_per_row: f64, rows_left: u64) -> Result<()> {
    let need = bytes_per_row * rows_left as f64;
    if let Some(free) = free_space(path) {
        if need > free as f64 {
            return Err(Error::resources(format!(
                "{} would need about {:.1} GiB more ({rows_left} rows at {bytes_per_row:.0} bytes each), but its folder has {:.1} GiB free; write fewer rows per file (--shard I/K or --start/--count), compress (.csv.gz), or free space",
                path.display(),
                need / (1u64 << 30) as f64,
                free as f64 / (1u64 << 30) as f64
            )));
        }
    }
    Ok(())
}

/// Refuses an output that is one of the call's inputs (the same file, by device and inode,
/// whatever the spelling of the paths): writing it would destroy the input.
pub fn check_not_input(out: &Path, inputs: &[(&str, &Path)]) -> Result<()> {
    for (what, input) in inputs {
        if same_file(out, input) {
            return Err(Error::invalid(format!(
                "the output {} is the {what} file {}: writing it would destroy the input; choose another output name",
                out.display(),
                input.display()
            )));
        }
    }
    Ok(())
}

fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_write_leaves_nothing_and_a_users_partial_file_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        let users = dir.path().join("out.csv.partial");
        std::fs::write(&users, b"mine").unwrap();
        {
            let mut f = AtomicFile::create(&target).unwrap();
            f.writer().write_all(b"half").unwrap();
            assert!(f.temporary_path().exists());
        }
        assert!(!target.exists());
        assert_eq!(std::fs::read(&users).unwrap(), b"mine");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        write_atomic(&target, b"whole").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"whole");
        assert_eq!(std::fs::read(&users).unwrap(), b"mine");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn outputs_that_are_inputs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("data.csv");
        std::fs::write(&input, b"x").unwrap();
        let spelled = dir.path().join(".").join("data.csv");
        let e = check_not_input(&spelled, &[("data", &input)]).unwrap_err();
        assert!(
            e.message.contains("would destroy the input"),
            "{}",
            e.message
        );
        assert!(check_not_input(&dir.path().join("new.csv"), &[("data", &input)]).is_ok());
    }

    #[test]
    fn unwritable_outputs_are_found_before_the_work() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_writable(&dir.path().join("missing/x.csv")).is_err());
        assert!(check_writable(dir.path()).is_err());
        assert!(check_writable(&dir.path().join("x.csv")).is_ok());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
