//! The LibreOffice harness shared by the recalculation tests: a temporary profile that
//! forces a full recalculation on load (so cached values cannot hide a wrong formula), and
//! one `soffice` start for many workbooks (each start costs seconds).

use std::path::{Path, PathBuf};
use std::process::Command;

use calamine::Data;

/// The LibreOffice binary, or `None` when it is missing: the test then skips loudly, or
/// fails in CI ([`gradsheet_testkit::tool`]).
pub fn soffice() -> Option<PathBuf> {
    gradsheet_testkit::tool(
        &["soffice", "libreoffice"],
        "apt-get install libreoffice-calc, or run .ci/run as root",
    )
}

/// A LibreOffice user profile that recalculates every xlsx (and ods) file on load.
fn write_profile(dir: &Path) {
    let user = dir.join("user");
    std::fs::create_dir_all(&user).unwrap();
    let xcu = r#"<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"#;
    std::fs::write(user.join("registrymodifications.xcu"), xcu).unwrap();
}

/// Recalculates every workbook in one LibreOffice run; returns the saved bytes in order.
pub fn recalculate<N: AsRef<str>, B: AsRef<[u8]>>(bin: &Path, books: &[(N, B)]) -> Vec<Vec<u8>> {
    let tmp = tempfile::tempdir().unwrap();
    let (inp, out, profile) = (
        tmp.path().join("in"),
        tmp.path().join("out"),
        tmp.path().join("profile"),
    );
    std::fs::create_dir_all(&inp).unwrap();
    write_profile(&profile);
    let mut cmd = Command::new(bin);
    cmd.arg(format!(
        "-env:UserInstallation=file://{}",
        profile.display()
    ))
    .args([
        "--headless",
        "--norestore",
        "--convert-to",
        "xlsx:Calc MS Excel 2007 XML",
        "--outdir",
    ])
    .arg(&out);
    for (name, bytes) in books {
        let p = inp.join(format!("{}.xlsx", name.as_ref()));
        std::fs::write(&p, bytes.as_ref()).unwrap();
        cmd.arg(p);
    }
    let o = cmd.output().expect("cannot run soffice");
    assert!(
        o.status.success(),
        "soffice failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    books
        .iter()
        .map(|(name, _)| {
            let name = name.as_ref();
            std::fs::read(out.join(format!("{name}.xlsx"))).unwrap_or_else(|e| {
                panic!(
                    "soffice wrote no {name}.xlsx ({e}): {}",
                    String::from_utf8_lossy(&o.stdout)
                )
            })
        })
        .collect()
}

/// A cell's number (booleans as 1 and 0, as in Excel's arithmetic).
pub fn number(d: &Data) -> Option<f64> {
    match d {
        Data::Float(v) => Some(*v),
        Data::Int(v) => Some(*v as f64),
        Data::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// Compares every formula cell of `book` with the workbook LibreOffice recalculated
/// (`bytes`, saved from the copy named `file`), within 1e-12·max(1, |v|); a line per
/// mismatch goes to `failures` (the first 50). Returns how many cells were compared.
pub fn check_book(
    file: &str,
    book: &gradsheet_report::labs::Book,
    bytes: &[u8],
    failures: &mut Vec<String>,
) -> usize {
    use calamine::{open_workbook_from_rs, Reader, Xlsx};
    let mut wb: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let mut checked = 0;
    for s in &book.sheets {
        let range = wb.worksheet_range(&s.name).unwrap();
        for (r, c, f, want) in book
            .formulas()
            .filter(|x| x.0 == s.name)
            .map(|x| (x.1, x.2, x.3, x.4))
        {
            let got = range.get_value((r, c as u32)).and_then(number);
            let ok = got.is_some_and(|g| (g - want).abs() <= 1e-12 * want.abs().max(1.0));
            if !ok && failures.len() < 50 {
                failures.push(format!(
                    "{file} {}!R{}C{} {f}: LibreOffice {got:?}, lab {want}",
                    s.name,
                    r + 1,
                    c + 1
                ));
            }
            checked += 1;
        }
    }
    checked
}
