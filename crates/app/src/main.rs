//! The `gradsheet` binary: the only crate that does IO (files, terminal, HTTP). It parses
//! the command line, calls the pure crates, and prints or writes their results.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

mod cmd;
mod course22;
mod error;
mod export;
mod output;
mod shown;
mod trace_io;

/// gradsheet: every number of a training run, laid out like a spreadsheet row.
///
/// With no command, starts the web app (the same as `gradsheet serve`).
#[derive(Parser, Debug)]
#[command(name = "gradsheet", version, about, long_about = None, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Print tables with every column and digit, however wide (by default they are fitted
    /// to the terminal: fewer digits, then the less essential columns, left out).
    #[arg(long, global = true)]
    wide: bool,
}

const EXAMPLES: &str = "Examples:
  gradsheet                                   start the web app on http://127.0.0.1:8080
  gradsheet eval \"c*MAX(a*x+b,0)+d\" x=3 a=1 b=1 c=1 d=1
  gradsheet diff \"c*(a*x+b)+d\"                 derivatives of the squared error
  gradsheet check \"c*(a*x+b)+d\" --derivative a=\"((((a+0.01)*x+b)*c+d-y)^2-((a*x+b)*c+d-y)^2)/0.01\"
  gradsheet train \"a*x+b\" --optimizer momentum --lr 1e-4 --epochs 5
  gradsheet surface \"a*x+b\" --x-axis a=-4..8:512 --y-axis b=-40..80:512 --plot surface.png
  gradsheet book graddesc.xlsm --grad basic!F33   the exact derivative of a cell of your workbook
  gradsheet net --dataset xor --net 2-8-8-1       a network of neurons, every neuron a named cell";

#[derive(Subcommand, Debug)]
enum Command {
    /// Evaluate a formula at given values.
    Eval(cmd::eval::Args),
    /// Print the derivatives of the per-row error (Excel syntax and mathematics).
    Diff(cmd::diff::Args),
    /// Check derivatives: typed formulas against the exact ones, and a gradient check table.
    Check(cmd::check::Args),
    /// Train a model and print its trace.
    Train(cmd::train::Args),
    /// Replay a sheet of fast.ai's graddesc workbook, as the sheet shows it.
    Graddesc(cmd::graddesc::Args),
    /// Run an experiment recipe (TOML): data, model, loss, optimizers, epochs, seed.
    Run(cmd::run::Args),
    /// Explain why a run diverges (or why its error stays high).
    Explain(cmd::explain::Args),
    /// Sweep a grid of two settings and print the stability map.
    Sweep(cmd::sweep::Args),
    /// Matrix factorisation (collaborative filtering) on a ratings file, e.g. MovieLens.
    Collab(cmd::collab::Args),
    /// The error landscape over two parameters: the mean error at every point of a grid.
    Surface(cmd::surface::Args),
    /// Export a run as xlsx (live formulas), CSV, JSON or charts.
    Export(cmd::export::Args),
    /// Start the web app (the default when no command is given).
    Serve(cmd::serve::Args),
    /// A lab: one of fast.ai's workbooks, reproduced and taken further.
    Lab(cmd::lab::Args),
    /// Benchmarks: the general engine against hand-written code.
    Bench(cmd::bench::Args),
    /// Your own workbook: recalculate every formula cell, differentiate any cell.
    Book(cmd::book::Args),
    /// A network of neurons on a 2-D dataset, every neuron a named cell.
    Net(cmd::net::Args),
}

fn main() -> ExitCode {
    // Help wraps to the terminal's width (80 in a pipe), as the rest of the output does.
    let command = Cli::command().term_width(output::term::width());
    let cli = match command
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version to stdout with success; usage errors get code 2.
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    output::term::set_wide(cli.wide);
    keep_freed_memory();
    if !matches!(cli.command, None | Some(Command::Serve(_))) {
        quiet_on_closed_pipe();
    }
    course22::install();
    let result = match cli.command {
        None => cmd::serve::run_default(),
        Some(Command::Eval(a)) => cmd::eval::run(a),
        Some(Command::Diff(a)) => cmd::diff::run(a),
        Some(Command::Check(a)) => cmd::check::run(a),
        Some(Command::Train(a)) => cmd::train::run(a),
        Some(Command::Graddesc(a)) => cmd::graddesc::run(a),
        Some(Command::Run(a)) => cmd::run::run(a),
        Some(Command::Explain(a)) => cmd::explain::run(a),
        Some(Command::Sweep(a)) => cmd::sweep::run(a),
        Some(Command::Collab(a)) => cmd::collab::run(a),
        Some(Command::Surface(a)) => cmd::surface::run(a),
        Some(Command::Export(a)) => cmd::export::run(a),
        Some(Command::Serve(a)) => cmd::serve::run(a),
        Some(Command::Lab(a)) => cmd::lab::run(a),
        Some(Command::Bench(a)) => cmd::bench::run(a),
        Some(Command::Book(a)) => cmd::book::run(a),
        Some(Command::Net(a)) => cmd::net::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(usage) = e.downcast_ref::<cmd::UsageError>() {
                eprintln!("error: {usage}");
                return ExitCode::from(2);
            }
            if let Some(stop) = e.downcast_ref::<cmd::Interrupted>() {
                eprintln!("{stop}");
                return ExitCode::from(130);
            }
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Large blocks this process frees are kept for its next ones, not handed back to the
/// system and faulted in again page by page: a lab's matrices, a map's records, one
/// request after another in the server. glibc's defaults give back any block over 128 KB
/// (raised as it goes, up to 32 MB) and the heap's top past 128 KB; here blocks under
/// 32 MB come from the heap, and its top is kept up to 1 GB. Measured: the gradients lab
/// 93–113 → 76–82 ms after the other labs in one process (`gradsheet bench --only
/// labs`). Memory held stays under the process's own peak.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` sets the allocator's thresholds, with values in their ranges;
    // it runs before this process starts any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

/// `gradsheet … | head` ends quietly when the reader stops, as every Unix filter does,
/// instead of panicking on the write that fails: the default disposition of SIGPIPE, which
/// Rust's runtime sets to "ignore". Not for the server, whose writes to a client that went
/// away must fail as errors, not end the process.
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: `signal` with a valid signal number and SIG_DFL has no preconditions; it runs
    // before this process starts any thread.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
