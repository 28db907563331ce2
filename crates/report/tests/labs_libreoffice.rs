//! The workbook labs' xlsx exports recalculate to the labs' numbers.
//!
//! As in `libreoffice.rs`: each workbook is written with the labs' values cached (the
//! reference) and with 0 cached for every formula; LibreOffice opens the second with a
//! forced recalculation (a temporary profile) and saves it, and every formula cell must
//! then equal the lab's value within 1e-12·max(1, |v|). All workbooks go through one
//! `soffice` start. Without `soffice` the test is skipped with a notice, unless CI is set.

use std::path::Path;
use std::process::Command;

use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use gradsheet_report::labs::{self, gradsheet_labs::collab::Version, Book};

fn books() -> Vec<Book> {
    vec![
        labs::entropy(Version::CourseV3),
        labs::entropy(Version::Courses),
        labs::entropy(Version::Course22),
        labs::mom_bias(),
        labs::layers(),
        labs::broadcasting(),
        labs::style_loss(),
        labs::emb_sizing(),
        labs::conv(Version::CourseV3).unwrap(),
        labs::conv(Version::Course22).unwrap(),
        labs::collab(Version::CourseV3),
        labs::collab(Version::Courses),
        labs::collab(Version::Course22),
        labs::titanic().unwrap(),
        labs::emb_results(),
    ]
}

fn soffice() -> Option<&'static str> {
    let found = Command::new("soffice")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if found {
        return Some("soffice");
    }
    let ci = std::env::var("CI")
        .map(|v| !v.is_empty() && v != "false" && v != "0")
        .unwrap_or(false);
    assert!(
        !ci,
        "soffice (LibreOffice) is required in CI: install libreoffice-calc"
    );
    eprintln!("notice: soffice not found; skipping the labs' LibreOffice recalculation test");
    None
}

/// A LibreOffice user profile that recalculates every xlsx file on load.
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
fn recalculate(bin: &str, books: &[(String, Vec<u8>)]) -> Vec<Vec<u8>> {
    let tmp = tempfile::tempdir().unwrap();
    let (inp, out, profile) = (
        tmp.path().join("in"),
        tmp.path().join("out"),
        tmp.path().join("profile"),
    );
    std::fs::create_dir_all(&inp).unwrap();
    write_profile(&profile);
    let mut files = Vec::new();
    for (name, bytes) in books {
        let p = inp.join(format!("{name}.xlsx"));
        std::fs::write(&p, bytes).unwrap();
        files.push(p);
    }
    let status = Command::new(bin)
        .arg(format!(
            "-env:UserInstallation=file://{}",
            profile.display()
        ))
        .args([
            "--headless",
            "--norestore",
            "--convert-to",
            "xlsx",
            "--outdir",
        ])
        .arg(&out)
        .args(&files)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "soffice failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    books
        .iter()
        .map(|(name, _)| {
            std::fs::read(out.join(format!("{name}.xlsx")))
                .unwrap_or_else(|e| panic!("soffice wrote no {name}.xlsx: {e}"))
        })
        .collect()
}

fn number(d: Option<&Data>) -> Option<f64> {
    match d? {
        Data::Float(f) => Some(*f),
        Data::Int(i) => Some(*i as f64),
        Data::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

#[test]
fn lab_workbooks_recalculate_to_the_labs_values() {
    let books = books();
    let mut recalc_in = Vec::new();
    for (i, b) in books.iter().enumerate() {
        // The reference (values cached) must write too.
        labs::to_xlsx(b, false).unwrap();
        recalc_in.push((format!("{i}-{}", b.lab), labs::to_xlsx(b, true).unwrap()));
    }
    let Some(bin) = soffice() else { return };
    let saved = recalculate(bin, &recalc_in);
    let mut checked = 0;
    let mut failures = Vec::new();
    for ((b, bytes), (file, _)) in books.iter().zip(&saved).zip(&recalc_in) {
        let mut wb: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(bytes.clone())).unwrap();
        for s in &b.sheets {
            let range = wb.worksheet_range(&s.name).unwrap();
            for (r, c, f, want) in b
                .formulas()
                .filter(|x| x.0 == s.name)
                .map(|x| (x.1, x.2, x.3, x.4))
            {
                let got = number(range.get_value((r, c as u32)));
                let ok = got.is_some_and(|g| (g - want).abs() <= 1e-12 * want.abs().max(1.0));
                if !ok {
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
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked > 300, "only {checked} formulas checked");
    eprintln!("{checked} formula cells recalculated by LibreOffice match the labs");
}
