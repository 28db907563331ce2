//! Where the binary finds fast.ai's course22 workbooks, whose numbers gradsheet does not
//! ship (`gradsheet_labs::material`): the folder named by `GRADSHEET_COURSE22`, either a
//! clone of fastai/course22 (its `xl/*.xlsx`) or a folder of their golden grids.

use std::path::{Path, PathBuf};

use gradsheet_report::labs::gradsheet_labs::material::{self, Material};

/// The largest file read from the folder: course22's workbooks are a few MB.
const MAX_FILE: u64 = 64 << 20;

/// The environment variable naming the folder.
pub const VAR: &str = "GRADSHEET_COURSE22";

/// Hands the labs what `GRADSHEET_COURSE22` holds, when it is set. Nothing is read
/// otherwise, and a lab that needs a missing sheet says where to get it.
pub fn install() {
    let Some(dir) = std::env::var_os(VAR).filter(|d| !d.is_empty()) else {
        return;
    };
    let dir = PathBuf::from(dir);
    material::install(Material::from_folder(|rel| read(&dir.join(rel))));
}

fn read(p: &Path) -> Option<Vec<u8>> {
    let meta = std::fs::metadata(p).ok()?;
    (meta.is_file() && meta.len() <= MAX_FILE)
        .then(|| std::fs::read(p).ok())
        .flatten()
}
