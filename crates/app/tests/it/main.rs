//! One integration-test binary for the `gradsheet` command: each module tests a group of
//! subcommands end to end, through the helpers of `common`.

mod common;

mod bench_cli;
mod book_cli;
mod book_explain;
mod book_solver;
mod cli;
mod diagnose;
mod files;
mod formula_cli;
mod graddesc_cli;
mod import;
mod lab_cli;
mod lab_workbooks_cli;
mod net_cli;
mod serve_book;
mod terminal;
