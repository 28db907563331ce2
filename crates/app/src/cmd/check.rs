//! `gradsheet check "<model>" [--derivative p="<formula>" ...]`

use anyhow::Result;
use gradsheet_engine::gradcheck::{Gap, GradientChecker, GradientRow};
use gradsheet_engine::{check_derivative, parse, CheckOptions, DerivativeCheck, Finding};

use super::common::ModelArgs;
use super::diff::json_num;
use super::{formula_error, usage};
use crate::output::{cell, table};

/// Check derivatives: typed formulas against the exact ones, and a gradient check
/// (symbolic vs automatic vs central differences) over the data.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArgs,
    /// A formula you believe is ∂e/∂p, e.g. a="2*(a*x+b-y)*x" (repeatable).
    #[arg(long = "derivative", value_name = "P=FORMULA")]
    pub derivatives: Vec<String>,
    /// Step of the central differences in the gradient check.
    #[arg(long, default_value_t = 1e-5)]
    pub h: f64,
    /// Seed of the random points.
    #[arg(long = "check-seed", default_value_t = 7)]
    pub check_seed: u64,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(a: Args) -> Result<()> {
    if !(a.h.is_finite() && a.h > 0.0) {
        return Err(usage(format!("--h {} must be a number > 0", a.h)));
    }
    let data = a.model.dataset()?;
    let model = a.model.model(&data)?;
    let params = a.model.init(&model)?;
    let mut checks = Vec::new();
    for d in &a.derivatives {
        let Some((p, f)) = d.split_once('=') else {
            return Err(usage(format!(
                "--derivative '{d}' must look like p=\"formula\""
            )));
        };
        let p = p.trim();
        let claimed = parse(f).map_err(|e| formula_error(&format!("derivative for {p}"), &e))?;
        let opts = CheckOptions {
            seed: a.check_seed,
            ..CheckOptions::default()
        };
        let c = check_derivative(&model, &data, &params, p, &claimed, &opts).map_err(usage)?;
        checks.push(c);
    }
    let grad = gradient_check(&model, &data, &params, a.h)?;
    if a.json {
        let out = serde_json::json!({
            "model": model.prediction.to_string(),
            "error": model.error.to_string(),
            "parameters": model.params,
            "at": model.params.iter().zip(&params).map(|(n, v)| serde_json::json!({"name": n, "value": v})).collect::<Vec<_>>(),
            "derivative_checks": checks.iter().map(check_json).collect::<Vec<_>>(),
            "gradient_check": grad.json(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("error  e = {}", model.error);
    let at: Vec<String> = model
        .params
        .iter()
        .zip(&params)
        .map(|(n, v)| format!("{n} = {}", cell(*v, 6)))
        .collect();
    println!("at     {}", at.join(", "));
    for c in &checks {
        println!();
        print_check(c, &model.columns);
    }
    println!();
    grad.print(&model.params);
    Ok(())
}

fn check_json(c: &DerivativeCheck) -> serde_json::Value {
    let finding = match &c.finding {
        Finding::Exact => serde_json::json!({"kind": "exact"}),
        Finding::FiniteDifference { scheme, h, error } => serde_json::json!({
            "kind": "finite_difference", "scheme": scheme.name(), "h": h, "error": error.to_string(),
            "error_math": error.to_math(),
        }),
        Finding::Scaled(k) => serde_json::json!({"kind": "scaled", "factor": k}),
        Finding::OtherName(n) => serde_json::json!({"kind": "other_name", "name": n}),
        Finding::PredictionOnly => serde_json::json!({"kind": "prediction_only"}),
        Finding::Unknown => serde_json::json!({"kind": "unknown"}),
    };
    serde_json::json!({
        "param": c.param,
        "claimed": c.claimed.to_string(),
        "exact": c.exact.to_string(),
        "exact_excel": format!("={}", c.exact.to_excel()),
        "exact_math": c.exact.to_math(),
        "finding": finding,
        "summary": c.summary(),
        "rows": c.rows.iter().map(|r| serde_json::json!({
            "row": r.row.map(|x| x + 1),
            "claimed": json_num(r.claimed),
            "exact": json_num(r.exact),
            "diff": json_num(r.diff()),
            "predicted_error": r.predicted_error.map(json_num),
        })).collect::<Vec<_>>(),
        "random_points_agree": c.random.iter().all(|r| (r.claimed - r.exact).abs() <= 1e-9 * r.exact.abs().max(1.0)),
    })
}

fn print_check(c: &DerivativeCheck, columns: &[String]) {
    let verdict = if c.is_exact() { "right" } else { "not exact" };
    println!("∂e/∂{}: {verdict}", c.param);
    println!("  {}", c.summary());
    println!("  typed  {}", c.claimed);
    println!("  exact  ={}", c.exact.to_excel());
    println!("         {}", c.exact.to_math());
    let mut headers: Vec<String> = vec!["row".into()];
    headers.extend(columns.iter().cloned());
    headers.extend(["typed".into(), "exact".into(), "typed-exact".into()]);
    let has_pred = c.rows.iter().any(|r| r.predicted_error.is_some());
    if has_pred {
        headers.push("predicted".into());
    }
    let rows: Vec<Vec<String>> = c
        .rows
        .iter()
        .map(|r| {
            let mut v = vec![r.row.map(|x| (x + 1).to_string()).unwrap_or_default()];
            for col in columns {
                let val =
                    r.at.iter()
                        .find(|(n, _)| n == col)
                        .map(|(_, v)| *v)
                        .unwrap_or(f64::NAN);
                v.push(cell(val, 6));
            }
            v.push(cell(r.claimed, 8));
            v.push(cell(r.exact, 8));
            v.push(cell(r.diff(), 6));
            if has_pred {
                v.push(r.predicted_error.map(|p| cell(p, 6)).unwrap_or_default());
            }
            v
        })
        .collect();
    print!("{}", crate::cmd::indent(&table(&headers, &rows)));
    println!();
    let random_ok = c
        .random
        .iter()
        .filter(|r| (r.claimed - r.exact).abs() <= 1e-9 * r.exact.abs().max(1.0))
        .count();
    println!(
        "  at {} random parameter points the typed formula equals the exact derivative at {random_ok}",
        c.random.len()
    );
}

/// The three derivatives side by side on every row, and how far the symbolic and the
/// central difference stray from the automatic one ([`gradsheet_engine::gradcheck`]).
pub struct GradientCheck {
    /// Central-difference step.
    pub h: f64,
    /// Per row: the three derivatives per parameter.
    pub rows: Vec<GradientRow>,
    /// Per row: the data values.
    pub inputs: Vec<Vec<f64>>,
    /// Data column names.
    pub columns: Vec<String>,
    /// Symbolic against automatic.
    pub symbolic: Gap,
    /// Central difference against automatic.
    pub central: Gap,
}

/// Computes the gradient check table.
pub fn gradient_check(
    model: &gradsheet_engine::Model,
    data: &gradsheet_engine::Dataset,
    params: &[f64],
    h: f64,
) -> Result<GradientCheck> {
    let rows = data
        .project(&model.columns)
        .map_err(|c| usage(format!("the data has no column {c}")))?;
    let w = model.columns.len();
    let mut checker = GradientChecker::new(model, params, h);
    let mut out = Vec::with_capacity(data.len());
    let mut inputs = Vec::with_capacity(data.len());
    for i in 0..data.len() {
        let row = &rows[i * w..(i + 1) * w];
        out.push(checker.row(i, row));
        inputs.push(row.to_vec());
    }
    Ok(GradientCheck {
        h,
        rows: out,
        inputs,
        columns: model.columns.clone(),
        symbolic: checker.symbolic_gap().clone(),
        central: checker.central_gap().clone(),
    })
}

/// A gap as JSON: the largest relative gap (null when a side is not finite) and, then,
/// where and why.
fn gap_json(g: &Gap) -> (serde_json::Value, serde_json::Value) {
    match g {
        Gap::Finite(v) => (serde_json::json!(v), serde_json::Value::Null),
        Gap::NotFinite(n) => (
            serde_json::Value::Null,
            serde_json::json!({
                "row": n.row + 1,
                "param": n.param,
                "side": n.side.name(),
                "value": json_num(n.value),
                "why": n.why(),
            }),
        ),
    }
}

/// A gap as a line of the report.
fn gap_line(what: &str, g: &Gap, note: &str) -> String {
    match g {
        Gap::Finite(v) => format!("{what}: max relative gap {}{note}", cell(*v, 3)),
        Gap::NotFinite(n) => format!("{what}: no agreement: {}", n.sentence()),
    }
}

impl GradientCheck {
    fn json(&self) -> serde_json::Value {
        let (sym, sym_bad) = gap_json(&self.symbolic);
        let (cen, cen_bad) = gap_json(&self.central);
        serde_json::json!({
            "h": self.h,
            "max_rel_symbolic_vs_auto": sym,
            "symbolic_not_finite": sym_bad,
            "max_rel_central_vs_auto": cen,
            "central_not_finite": cen_bad,
            "rows": self.rows.iter().zip(&self.inputs).map(|(r, x)| serde_json::json!({
                "inputs": x,
                "symbolic": r.symbolic.iter().map(|v| json_num(*v)).collect::<Vec<_>>(),
                "automatic": r.automatic.iter().map(|v| json_num(*v)).collect::<Vec<_>>(),
                "central": r.central.iter().map(|v| json_num(*v)).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }

    fn print(&self, params: &[String]) {
        println!("gradient check: automatic (reverse mode) derivative of e on every row, with the");
        println!(
            "largest relative gap of the symbolic derivative and of central differences (h = {})",
            cell(self.h, 3)
        );
        let mut headers: Vec<String> = vec!["row".into()];
        headers.extend(self.columns.iter().cloned());
        headers.extend(params.iter().map(|p| format!("de/d{p}")));
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .zip(&self.inputs)
            .enumerate()
            .map(|(i, (r, x))| {
                let mut v = vec![(i + 1).to_string()];
                v.extend(x.iter().map(|x| cell(*x, 6)));
                v.extend(r.automatic.iter().map(|t| cell(*t, 8)));
                v
            })
            .collect();
        print!("{}", table(&headers, &rows));
        println!("{}", gap_line("symbolic vs automatic", &self.symbolic, ""));
        println!(
            "{}",
            gap_line(
                "central difference vs automatic",
                &self.central,
                " (truncation ≈ h²/6·∂³e/∂p³, rounding ≈ ε·|e|/h)"
            )
        );
    }
}
