//! One integration-test binary for the reports: charts drawn as SVG and PNG, and the
//! exported workbooks recalculated by LibreOffice (through the harness of `soffice`).

mod soffice;

mod book_libreoffice;
mod charts;
mod concepts_libreoffice;
mod labs_charts;
mod labs_libreoffice;
mod libreoffice;
mod net_libreoffice;

/// Gives the labs course22's numbers (which gradsheet does not ship:
/// `gradsheet_labs::material`) from the shared folder, once; whether they are there (after
/// a loud skip, a failure in CI, when they are not).
pub fn course22() -> bool {
    static THERE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *THERE.get_or_init(|| {
        gradsheet_testkit::course22().is_some_and(|dir| {
            use gradsheet_report::labs::gradsheet_labs::material::{install, Material};
            install(Material::from_folder(|rel| {
                std::fs::read(dir.join(rel)).ok()
            }));
            true
        })
    })
}
