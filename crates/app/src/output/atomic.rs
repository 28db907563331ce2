//! Files written atomically: a run that is interrupted never leaves half a file.
//!
//! What a path names decides how it is written:
//!
//! - a regular file, or a path that does not exist yet: the bytes go to a temporary file
//!   beside it, which replaces it at the end (a rename, atomic within one file system) and
//!   takes its permissions;
//! - a symbolic link: the same, at the file the link points to, so the link stays a link;
//! - anything else (a device such as `/dev/full` or `/dev/null`, a pipe, a terminal) and a
//!   name of an open file descriptor (`/dev/stdout`, `/dev/fd/N`, `/proc/self/fd/N`): the
//!   bytes are written through to it, appended, never renamed over it.
//!
//! The temporary file is `.NAME.gradsheet-PID.tmp` beside the target (and a streamed
//! output's scratch parts `.NAME.gradsheet-PID.PART`, see `export.rs`). It is removed when
//! writing fails or is abandoned; only a process killed outright (SIGKILL, a power cut)
//! leaves one, and the next write of the same target removes those whose process is gone.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Draws `chart` into `path` (atomically): PNG when the name ends in `.png`, SVG
/// otherwise. `what` names the chart in an error.
pub fn write_chart(path: &Path, chart: &gradsheet_report::chart::Chart, what: &str) -> Result<()> {
    use gradsheet_report::chart::{render, Format};
    let png = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    let format = if png { Format::Png } else { Format::Svg };
    let bytes =
        render(chart, format).map_err(|e| anyhow::anyhow!("cannot draw the {what}: {e}"))?;
    write_atomic(path, &bytes)
}

/// Writes `bytes` to `path` atomically (see the module's rules), so that an interrupted
/// run never leaves half a file.
///
/// # Errors
///
/// The file cannot be created, written (a full disk, `/dev/full`) or renamed; the error
/// names the path.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// As [`write_atomic`], with the content written by `fill` as it goes (through a
/// buffer): for outputs too large to hold in memory twice, such as a fine grid as CSV.
///
/// # Errors
///
/// As [`write_atomic`], or `fill`'s error.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let mut f = AtomicFile::create(path)?;
    fill(&mut f).with_context(|| format!("cannot write {}", path.display()))?;
    f.commit()
}

/// A file being written by the module's rules: [`Write`] into it, then
/// [`commit`](AtomicFile::commit). Dropped without a commit, it leaves the target as it
/// was and removes its temporary file; for streaming outputs, whose bytes come as a run
/// goes.
///
/// # Examples
///
/// ```ignore
/// let mut f = AtomicFile::create(Path::new("steps.csv"))?;
/// writeln!(f, "step,a,b")?;
/// f.commit()?; // steps.csv now holds the line, whole
/// ```
pub struct AtomicFile {
    /// The path as given, for messages.
    shown: PathBuf,
    out: Option<BufWriter<File>>,
    /// The temporary file and the file it replaces; `None` when written through.
    rename: Option<(PathBuf, PathBuf)>,
}

impl AtomicFile {
    /// Opens `path` for writing by the module's rules, removing the temporary files that
    /// killed writers of the same target left.
    ///
    /// # Errors
    ///
    /// The path is a directory, has a loop of links, or cannot be created; the error
    /// names it.
    pub fn create(path: &Path) -> Result<AtomicFile> {
        let cannot = || format!("cannot write {}", path.display());
        let (out, rename) = match destination(path).with_context(cannot)? {
            Destination::Through => {
                let f = OpenOptions::new()
                    .append(true)
                    .open(path)
                    .with_context(cannot)?;
                (f, None)
            }
            Destination::Replace(dest) => {
                remove_stale(&dest);
                let tmp = temp_path(&dest, std::process::id());
                // A leftover of this very pid (reused since) is stale too; create_new then
                // refuses to follow anything planted at the temporary name.
                let _ = std::fs::remove_file(&tmp);
                let f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&tmp)
                    .with_context(|| format!("cannot create {}", tmp.display()))?;
                if let Ok(m) = std::fs::metadata(&dest) {
                    let _ = f.set_permissions(m.permissions());
                }
                (f, Some((tmp, dest)))
            }
        };
        Ok(AtomicFile {
            shown: path.to_path_buf(),
            out: Some(BufWriter::new(out)),
            rename,
        })
    }

    /// Finishes the file: flushes it and, unless written through, puts it in place of
    /// the target.
    ///
    /// # Errors
    ///
    /// A write that fails at the flush (a full disk, `/dev/full`), or a rename that
    /// fails; the temporary file is removed either way.
    pub fn commit(mut self) -> Result<()> {
        let cannot = || format!("cannot write {}", self.shown.display());
        let out = self.out.take().expect("committed once, by value");
        let f = out
            .into_inner()
            .map_err(|e| anyhow::Error::new(e.into_error()))
            .with_context(cannot)?;
        match self.rename.take() {
            None => Ok(()),
            Some((tmp, dest)) => {
                let done = f
                    .sync_all()
                    .and_then(|()| std::fs::rename(&tmp, &dest))
                    .with_context(cannot);
                if done.is_err() {
                    let _ = std::fs::remove_file(&tmp);
                }
                done
            }
        }
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.as_mut().expect("open until committed").write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.as_mut().expect("open until committed").flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if let Some((tmp, _)) = self.rename.take() {
            // Not committed: the target keeps what it held.
            drop(self.out.take());
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// How a path is written.
#[derive(Debug, PartialEq)]
enum Destination {
    /// Written through, as given: a device, a pipe, a terminal, an open descriptor.
    Through,
    /// Replaced by a rename: this regular file (the path, or where its links lead).
    Replace(PathBuf),
}

/// Follows `path`'s links to what it names.
fn destination(path: &Path) -> std::io::Result<Destination> {
    use std::io::{Error, ErrorKind};
    let mut p = path.to_path_buf();
    // Linux's own limit on links followed in one lookup.
    for _ in 0..40 {
        if names_a_descriptor(&p) {
            return Ok(Destination::Through);
        }
        let meta = match std::fs::symlink_metadata(&p) {
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Destination::Replace(p)),
            Err(e) => return Err(e),
            Ok(m) => m,
        };
        if meta.file_type().is_symlink() {
            let to = std::fs::read_link(&p)?;
            p = match p.parent() {
                Some(dir) if to.is_relative() => dir.join(to),
                _ => to,
            };
        } else if meta.is_file() {
            return Ok(Destination::Replace(p));
        } else if meta.is_dir() {
            return Err(Error::other(format!("{} is a directory", p.display())));
        } else {
            return Ok(Destination::Through);
        }
    }
    Err(Error::other("too many levels of symbolic links"))
}

/// Whether `p` names an open file descriptor (`/dev/stdout` leads here) rather than a
/// file: writing must go through the descriptor, whatever it is open on.
fn names_a_descriptor(p: &Path) -> bool {
    [
        "/dev/fd",
        "/dev/stdin",
        "/dev/stdout",
        "/dev/stderr",
        "/proc",
    ]
    .iter()
    .any(|d| p.starts_with(d))
}

/// The temporary file of writer `pid` beside `dest`.
fn temp_path(dest: &Path, pid: u32) -> PathBuf {
    dest.with_file_name(format!(".{}.gradsheet-{pid}.tmp", file_name(dest)))
}

fn file_name(dest: &Path) -> String {
    dest.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Removes the temporary files of `dest` whose writer is gone: killed before it could
/// clean up. Those of live writers (another gradsheet writing the same file) stay.
fn remove_stale(dest: &Path) {
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let prefix = format!(".{}.gradsheet-", file_name(dest));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            // `.tmp`, or the part of a streamed output kept beside it (`.epochs`, `.xlsx`).
            .and_then(|n| n.split_once('.'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !alive(pid, &e.path()) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Whether process `pid` may still be writing `tmp`: per /proc where there is one, else
/// whether the file changed in the last day.
fn alive(pid: u32, tmp: &Path) -> bool {
    if Path::new("/proc/self").exists() {
        return Path::new("/proc").join(pid.to_string()).exists();
    }
    std::fs::metadata(tmp)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_none_or(|age| age.as_secs() < 24 * 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temps(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".gradsheet-"))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_file_is_replaced_whole_and_keeps_its_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.csv");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&p, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
        assert!(temps(dir.path()).is_empty());
    }

    #[test]
    fn a_symlink_stays_a_link_and_its_target_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("sub/real.csv");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(&real, "old").unwrap();
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink("sub/real.csv", &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
        // A dangling link: its target is created.
        let dangling = dir.path().join("d.csv");
        std::os::unix::fs::symlink("sub/made.csv", &dangling).unwrap();
        write_atomic(&dangling, b"made").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("sub/made.csv")).unwrap(),
            "made"
        );
        assert!(temps(dir.path()).is_empty() && temps(&dir.path().join("sub")).is_empty());
    }

    #[test]
    fn a_pipe_is_written_through_and_stays_a_pipe() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
        };
        write_atomic(&fifo, b"through the pipe").unwrap();
        // Checked before joining: a pipe renamed over would leave the reader waiting.
        let t = std::fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(t.is_fifo());
        assert_eq!(reader.join().unwrap(), "through the pipe");
        assert!(temps(dir.path()).is_empty());
    }

    #[test]
    fn a_full_device_is_an_error_and_stays_a_device() {
        use std::os::unix::fs::FileTypeExt;
        // Through a link in a scratch folder, so that no mistake can touch /dev/full.
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("full.csv");
        std::os::unix::fs::symlink("/dev/full", &link).unwrap();
        let e = write_atomic(&link, &[b'x'; 100_000]).unwrap_err();
        let msg = format!("{e:#}");
        assert!(msg.contains("No space left on device"), "{msg}");
        assert!(std::fs::metadata("/dev/full")
            .unwrap()
            .file_type()
            .is_char_device());
        assert!(temps(dir.path()).is_empty());
    }

    #[test]
    fn descriptors_are_written_through() {
        assert_eq!(
            destination(Path::new("/dev/stdout")).unwrap(),
            Destination::Through
        );
        assert_eq!(
            destination(Path::new("/proc/self/fd/1")).unwrap(),
            Destination::Through
        );
        assert_eq!(
            destination(Path::new("/dev/null")).unwrap(),
            Destination::Through
        );
    }

    #[test]
    fn failures_leave_no_temporary_file_and_stale_ones_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.csv");
        // A failing writer: the target is untouched, the temporary file gone.
        std::fs::write(&p, "kept").unwrap();
        let e = write_atomic_with(&p, |_| Err(std::io::Error::other("disk on fire")));
        assert!(format!("{:#}", e.unwrap_err()).contains("disk on fire"));
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "kept");
        assert!(temps(dir.path()).is_empty());
        // An abandoned file (dropped without commit), likewise.
        let mut f = AtomicFile::create(&p).unwrap();
        f.write_all(b"half").unwrap();
        assert_eq!(temps(dir.path()).len(), 1);
        drop(f);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "kept");
        assert!(temps(dir.path()).is_empty());
        // A directory is refused by name.
        let e = write_atomic(dir.path(), b"x").unwrap_err();
        assert!(format!("{e:#}").contains("is a directory"), "{e:#}");
        // What a killed writer left (its pid gone) is removed by the next write; a live
        // writer's file stays.
        let dead = temp_path(&p, u32::MAX - 1);
        let live = temp_path(&p, 1); // init never goes away
        std::fs::write(&dead, "stale").unwrap();
        std::fs::write(&live, "busy").unwrap();
        write_atomic(&p, b"fresh").unwrap();
        assert_eq!(temps(dir.path()), [".out.csv.gradsheet-1.tmp"]);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "fresh");
    }
}
