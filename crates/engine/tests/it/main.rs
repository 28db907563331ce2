//! The engine's integration tests, one binary: parsing, printing, derivatives three ways,
//! errors, the tape, and derivative checks.

mod bounded;
mod cases;
mod checks;
mod errors;
mod kinks;
mod parse;
mod props;
mod simplify;
