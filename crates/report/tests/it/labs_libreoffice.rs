//! The workbook labs' xlsx exports recalculate to the labs' numbers.
//!
//! As in `libreoffice.rs`: each workbook is written with the labs' values cached (the
//! reference) and with 0 cached for every formula; LibreOffice opens the second with a
//! forced recalculation (a temporary profile) and saves it, and every formula cell must
//! then equal the lab's value within 1e-12·max(1, |v|). All workbooks go through one
//! `soffice` start. Without `soffice` the test is skipped with a notice, unless CI is set.

use crate::soffice::{check_book, recalculate, soffice};
use gradsheet_report::labs::{self, gradsheet_labs::collab::Version, Book};

fn books() -> Vec<Book> {
    let course22 = crate::course22();
    let mut books = vec![
        labs::entropy(Version::CourseV3),
        labs::entropy(Version::Courses),
        labs::entropy(Version::Course22),
        labs::mom_bias(),
        labs::layers(),
        labs::broadcasting(),
        labs::style_loss(),
        labs::emb_sizing(),
        labs::conv(Version::CourseV3).unwrap(),
        labs::collab(Version::CourseV3).unwrap(),
        labs::collab(Version::Courses).unwrap(),
        labs::emb_results(),
    ];
    if course22 {
        books.push(labs::conv(Version::Course22).unwrap());
        books.push(labs::collab(Version::Course22).unwrap());
        books.push(labs::titanic().unwrap());
    }
    books
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
    let saved = recalculate(&bin, &recalc_in);
    let mut checked = 0;
    let mut failures = Vec::new();
    for ((b, bytes), (file, _)) in books.iter().zip(&saved).zip(&recalc_in) {
        checked += check_book(file, b, bytes, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked > 300, "only {checked} formulas checked");
    eprintln!("{checked} formula cells recalculated by LibreOffice match the labs");
}
