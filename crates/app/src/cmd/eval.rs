//! `gradsheet eval "<formula>" x=3 a=1 ...`

use anyhow::Result;
use gradsheet_engine::parse;

use super::common::parse_assignments;
use super::{formula_error, usage};

/// Evaluate a formula at given values.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The formula, e.g. "c*MAX(a*x+b,0)+d".
    #[arg(allow_hyphen_values = true)]
    pub formula: String,
    /// Values of the names, e.g. x=3 a=1.
    #[arg(value_name = "NAME=VALUE")]
    pub values: Vec<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(a: Args) -> Result<()> {
    let e = parse(&a.formula).map_err(|e| formula_error("formula", &e))?;
    let vals = parse_assignments(&a.values, "value")?;
    let missing: Vec<String> = e
        .names()
        .into_iter()
        .filter(|n| !vals.iter().any(|(k, _)| k == n))
        .collect();
    if !missing.is_empty() {
        let example = missing
            .iter()
            .map(|m| format!("{m}=1"))
            .collect::<Vec<_>>()
            .join(" ");
        return Err(usage(format!(
            "the formula uses {} without a value; give {}, e.g. {example}",
            missing.join(", "),
            if missing.len() == 1 { "it" } else { "them" }
        )));
    }
    let env = |n: &str| vals.iter().find(|(k, _)| k == n).map(|(_, v)| *v);
    let v = e.eval(&env).map_err(usage)?;
    if a.json {
        let out = serde_json::json!({
            "formula": e.to_string(),
            "excel": e.to_excel(),
            "math": e.to_math(),
            "value": crate::cmd::diff::json_num(v),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("{}", gradsheet_engine::format_number(v));
    }
    Ok(())
}
