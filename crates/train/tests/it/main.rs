//! gradsheet-train's integration tests, one binary: the graddesc workbooks against
//! Excel's cached values, and the optimizers' per-step tables in both conventions.

mod golden;
mod torch;
mod workbook_rules;
