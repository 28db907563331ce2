//! `gradsheet export`: placeholder until its issue lands; replaced by the engineer who owns it.

use anyhow::Result;

/// Arguments (to be defined).
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the command.
pub fn run(_a: Args) -> Result<()> {
    Err(super::usage("`gradsheet export` is not available yet"))
}
