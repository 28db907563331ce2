//! `gradsheet diff "<model>" [--loss ...] [--wrt a,b]`

use anyhow::Result;
use gradsheet_engine::diff::shown_derivative;
use gradsheet_engine::{Dataset, Model, PRED};

use super::common::ModelArgs;
use super::usage;

/// Print the derivatives of the per-row error, as Excel formulas and in mathematics.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Differentiate with respect to these names only (default: every parameter).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub wrt: Vec<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A number for JSON: finite numbers as numbers, NaN and infinities as strings.
pub fn json_num(v: f64) -> serde_json::Value {
    if v.is_finite() {
        serde_json::json!(v)
    } else {
        serde_json::json!(gradsheet_engine::format_number(v))
    }
}

/// Which names to differentiate by: `--wrt` checked against the model, or every parameter.
pub fn wrt_names(model: &Model, wrt: &[String]) -> Result<Vec<String>> {
    if wrt.is_empty() {
        return Ok(model.params.clone());
    }
    for w in wrt {
        if model.role(w).is_none() {
            return Err(usage(format!(
                "--wrt {w}: the model does not use {w} (its names are {})",
                model.var_names().join(", ")
            )));
        }
    }
    Ok(wrt.to_vec())
}

/// Runs the command.
pub fn run(a: Args) -> Result<()> {
    let data: Dataset = a.model.dataset()?;
    let model = a.model.model(&data)?;
    let names = wrt_names(&model, &a.wrt)?;
    let loss_d = model.loss_derivative();
    if a.json {
        let ds: Vec<_> = names
            .iter()
            .map(|n| match shown_derivative(&model.error, n) {
                Ok(d) => {
                    let dp = shown_derivative(&model.prediction, n);
                    serde_json::json!({
                        "wrt": n,
                        "formula": d.to_string(),
                        "excel": format!("={}", d.to_excel()),
                        "math": d.to_math(),
                        "prediction_derivative": dp.map(|d| d.to_string()).ok(),
                    })
                }
                Err(e) => serde_json::json!({
                    "wrt": n,
                    "formula": null,
                    "excel": null,
                    "math": null,
                    "prediction_derivative": null,
                    "too_large": e.to_string(),
                }),
            })
            .collect();
        let out = serde_json::json!({
            "model": model.prediction.to_string(),
            "loss": model.loss.to_string(),
            "error": model.error.to_string(),
            "parameters": model.params,
            "data_columns": model.columns,
            "constants": model.constants.iter().map(|(n, v)| serde_json::json!({"name": n, "value": v})).collect::<Vec<_>>(),
            "loss_derivative": loss_d.to_string(),
            "derivatives": ds,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("model       pred = {}", model.prediction);
    println!("loss        e = {}", model.loss);
    println!("error       e = {}", model.error);
    println!("            e = {}", model.error.to_math());
    println!("parameters  {}", model.params.join(", "));
    if !model.columns.is_empty() {
        println!("data        {}", model.columns.join(", "));
    }
    for (n, v) in &model.constants {
        println!("constant    {n} = {}", gradsheet_engine::format_number(*v));
    }
    println!();
    println!(
        "chain rule: ∂e/∂p = ∂e/∂{PRED} · ∂{PRED}/∂p, with ∂e/∂{PRED} = {}",
        loss_d.to_math()
    );
    for n in &names {
        println!();
        println!("∂e/∂{n}");
        // A derivative past a spreadsheet formula's length is said to be so, not printed
        // as text nobody can read or paste (training computes it on the tape all the same).
        let d = match shown_derivative(&model.error, n) {
            Ok(d) => d,
            Err(e) => {
                println!("  {e}");
                continue;
            }
        };
        println!("  Excel  ={}", d.to_excel());
        println!("  math   {}", d.to_math());
        if model.params.contains(n) {
            match shown_derivative(&model.prediction, n) {
                Ok(dp) => println!("  where  ∂{PRED}/∂{n} = {}", dp.to_math()),
                Err(e) => println!("  where  ∂{PRED}/∂{n} is {e}"),
            }
        }
    }
    Ok(())
}
