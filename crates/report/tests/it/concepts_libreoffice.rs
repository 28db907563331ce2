//! The concept labs' xlsx exports recalculate to the labs' numbers.
//!
//! As in `labs_libreoffice.rs`: each workbook is written with the labs' values cached
//! (the reference) and with 0 cached for every formula; LibreOffice opens the second with
//! a forced recalculation and saves it, and every formula cell must then equal the lab's
//! value within 1e-12·max(1, |v|). All the workbooks go through one `soffice` start.
//! Without `soffice` the test is skipped with a notice, unless CI is set.

use crate::soffice::{check_book, recalculate, soffice};
use gradsheet_report::concepts::{self, gradsheet_concepts};
use gradsheet_report::labs::Book;

/// Every concept lab at its defaults, then at settings that take other branches (other
/// activations and initialisations, a kernel smaller than the stride, one hidden layer).
fn books() -> Vec<Book> {
    let defaults = concepts::NAMES.iter().map(|n| (*n, &[][..]));
    let others: [(&str, &[&str]); 5] = [
        ("focal", &["gammas=0,0.5,3", "alpha=0.25"]),
        ("upsampling", &["kernel=1", "stride=3"]),
        (
            "gradients",
            &["activation=tanh", "init=orthogonal", "gain=1.5"],
        ),
        (
            "gradients",
            &["activation=sigmoid", "init=kaiming", "depth=3"],
        ),
        ("dropout", &["p=0.2", "layers=1", "hidden=5", "train=6"]),
    ];
    defaults
        .chain(others)
        .map(|(name, settings)| {
            let lab = gradsheet_concepts::find(name).unwrap();
            let params = gradsheet_concepts::Params::parse(lab.params, settings).unwrap();
            concepts::workbook(name, &params, None).unwrap()
        })
        .collect()
}

#[test]
fn concept_workbooks_recalculate_to_the_labs_values() {
    let books = books();
    let mut recalc_in = Vec::new();
    for (i, b) in books.iter().enumerate() {
        // The reference (values cached) must write too.
        b.to_xlsx(false).unwrap();
        recalc_in.push((format!("{i}-{}", b.lab), b.to_xlsx(true).unwrap()));
    }
    let Some(bin) = soffice() else { return };
    let saved = recalculate(&bin, &recalc_in);
    let mut failures = Vec::new();
    for ((b, bytes), (file, _)) in books.iter().zip(&saved).zip(&recalc_in) {
        let checked = check_book(file, b, bytes, &mut failures);
        assert!(checked > 50, "{file}: only {checked} formulas checked");
        eprintln!("{file}: {checked} formula cells recalculated by LibreOffice match the lab");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
