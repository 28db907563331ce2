//! What an output path names decides how it is written (src/output/atomic.rs): a device
//! or a descriptor is written through, a link's target is replaced, and a write error is
//! an error.

use std::path::Path;
use std::process::Output;

use crate::common::{gradsheet, stderr, stdout};

/// One quiet epoch of a*x+b with its step trace written as CSV to `path`.
fn train_csv(path: &Path) -> Output {
    gradsheet(&[
        "train",
        "a*x+b",
        "--epochs",
        "1",
        "--quiet",
        "--csv",
        path.to_str().unwrap(),
    ])
}

/// `--csv /dev/stdout` writes the CSV to standard output (a pipe here), and a CSV to a
/// full device fails with the system's reason and exit code 1, the device untouched.
#[test]
fn devices_and_descriptors_are_written_through() {
    use std::os::unix::fs::FileTypeExt;
    let o = train_csv(Path::new("/dev/stdout"));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.lines().any(|l| l.starts_with("step,")), "{out}");

    // Through a link in a scratch folder, so that no mistake can touch /dev/full itself.
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full.csv");
    std::os::unix::fs::symlink("/dev/full", &full).unwrap();
    let o = train_csv(&full);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(std::fs::symlink_metadata(&full)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::metadata("/dev/full")
        .unwrap()
        .file_type()
        .is_char_device());
}

/// A symlinked output stays a link; the file it points to gets the CSV.
#[test]
fn a_linked_output_writes_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.csv");
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let o = train_csv(&link);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let text = std::fs::read_to_string(&real).unwrap();
    assert!(text.starts_with("step,"), "{text}");
}
