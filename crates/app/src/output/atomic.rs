//! Files written atomically: a run that is interrupted never leaves half a file.

use std::io::Write;
use std::path::Path;

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
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let write = || -> Result<()> {
        let f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        let mut w = std::io::BufWriter::new(f);
        fill(&mut w)
            .and_then(|()| w.flush())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        let f = w
            .into_inner()
            .map_err(|e| anyhow::anyhow!("cannot write {}: {}", tmp.display(), e.error()))?;
        f.sync_all().ok();
        Ok(())
    };
    if let Err(e) = write() {
        // No half-written temporary file left behind.
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
