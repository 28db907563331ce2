//! The `gradsheet` binary: the only crate that does IO (files, terminal, HTTP). It parses
//! the command line, calls the pure crates, and prints or writes their results.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod output;

/// gradsheet: every number of a training run, laid out like a spreadsheet row.
///
/// With no command, starts the web app (the same as `gradsheet serve`).
#[derive(Parser, Debug)]
#[command(name = "gradsheet", version, about, long_about = None, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

const EXAMPLES: &str = "Examples:
  gradsheet                                   start the web app on http://127.0.0.1:8080
  gradsheet eval \"c*MAX(a*x+b,0)+d\" x=3 a=1 b=1 c=1 d=1
  gradsheet diff \"c*(a*x+b)+d\"                 derivatives of the squared error
  gradsheet check \"c*(a*x+b)+d\" --derivative a=\"((((a+0.01)*x+b)*c+d-y)^2-((a*x+b)*c+d-y)^2)/0.01\"
  gradsheet train \"a*x+b\" --optimizer momentum --lr 1e-4 --epochs 5";

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
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version to stdout with success; usage errors get code 2.
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        None => Err(anyhow::anyhow!("the web app is not built yet; try `gradsheet --help`")),
        Some(Command::Eval(a)) => cmd::eval::run(a),
        Some(Command::Diff(a)) => cmd::diff::run(a),
        Some(Command::Check(a)) => cmd::check::run(a),
        Some(Command::Train(a)) => cmd::train::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(usage) = e.downcast_ref::<cmd::UsageError>() {
                eprintln!("error: {usage}");
                return ExitCode::from(2);
            }
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
