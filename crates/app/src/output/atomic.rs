//! Files written atomically: a run that is interrupted never leaves half a file.

use std::fs::File;
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

/// Writes `bytes` to `path` atomically: to a temporary file beside it, then renamed, so
/// that an interrupted run never leaves half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// As [`write_atomic`], with the content written by `fill` as it goes (through a
/// buffer): for outputs too large to hold in memory twice, such as a fine grid as CSV.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let mut f = AtomicFile::create(path, "")?;
    // On an error the temporary file is removed as `f` is dropped.
    fill(f.writer()).with_context(|| format!("cannot write {}", path.display()))?;
    f.commit()
}

/// A file written through a temporary file beside it (`.NAME.tmp-PID`), renamed over
/// `path` by [`AtomicFile::commit`]; dropped without a commit, the temporary file is
/// removed.
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    w: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Opens the temporary file of `path`, `tag` telling apart several for one path.
    ///
    /// # Errors
    ///
    /// If the temporary file cannot be created (a missing folder, no permission).
    pub fn create(path: &Path, tag: &str) -> Result<AtomicFile> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}{tag}.tmp-{}", std::process::id()));
        let f = File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            tmp,
            w: Some(BufWriter::with_capacity(1 << 16, f)),
        })
    }

    /// The path it will have once committed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What was written so far, to read from the start (a side file's content, copied
    /// into another before it is dropped).
    ///
    /// # Errors
    ///
    /// If the buffer cannot be written out or the file reopened.
    pub fn contents(&mut self) -> std::io::Result<File> {
        self.writer().flush()?;
        File::open(&self.tmp)
    }

    /// The writer.
    pub fn writer(&mut self) -> &mut BufWriter<File> {
        self.w
            .as_mut()
            .expect("a file is written until it is committed")
    }

    /// Flushes the file and renames it over the path asked for.
    ///
    /// # Errors
    ///
    /// If writing or renaming fails (the temporary file is then removed).
    pub fn commit(mut self) -> Result<()> {
        let w = self.w.take().expect("committed once");
        let f = w
            .into_inner()
            .map_err(|e| anyhow::anyhow!("cannot write {}: {}", self.path.display(), e.error()))?;
        f.sync_all().ok();
        drop(f);
        std::fs::rename(&self.tmp, &self.path).map_err(|e| {
            let _ = std::fs::remove_file(&self.tmp);
            anyhow::Error::new(e).context(format!("cannot write {}", self.path.display()))
        })
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.w.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
