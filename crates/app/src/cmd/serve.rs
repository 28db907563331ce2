//! `gradsheet serve`: placeholder until its issue lands; replaced by the engineer who owns it.

use anyhow::Result;

/// Arguments (to be defined).
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the command.
pub fn run(_a: Args) -> Result<()> {
    Err(super::usage("`gradsheet serve` is not available yet"))
}

/// `gradsheet` with no command: the web app with default settings.
pub fn run_default() -> Result<()> {
    Err(super::usage("the web app is not available yet; try `gradsheet --help`"))
}
