//! One integration-test binary for the reports: charts drawn as SVG and PNG, and the
//! exported workbooks recalculated by LibreOffice (through the harness of `soffice`).

mod soffice;

mod charts;
mod concepts_libreoffice;
mod labs_charts;
mod labs_libreoffice;
mod libreoffice;
