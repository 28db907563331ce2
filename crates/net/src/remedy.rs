//! Each finding's remedy, tried rather than merely suggested: the same run (data, seed,
//! initial scheme, optimizer, epochs) with one setting changed, and its outcome beside
//! the original's, so that "leaky_relu keeps the units alive" is a measured sentence.
//!
//! Runs go through the interpreter ([`gradsheet_train::Trainer::run`]), which the native
//! path equals bit for bit; a run larger than the budget the caller gives is not re-run.

use gradsheet_engine::{parse, Expr, Op, Unary};
use gradsheet_train::{Hooks, Record, Stop, TrainConfig};

use crate::cells::Cell;
use crate::data::Split;
use crate::explain::{activation_of, explain, Explanation};
use crate::init::{initial, Scheme};
use crate::network::{Network, Reg};
use crate::spec::{Activation, Loss};

/// Everything a run is made of, to run it again with one setting changed.
#[derive(Clone, Debug)]
pub struct RunSetup {
    /// The network's cells.
    pub cells: Vec<Cell>,
    /// Its loss.
    pub loss: Loss,
    /// Its regularisation.
    pub reg: Reg,
    /// The initial weights' scheme.
    pub scheme: Scheme,
    /// The seed of the initial weights.
    pub seed: u64,
    /// The optimizer, epochs, batch and shuffle.
    pub cfg: TrainConfig,
}

/// How a run ended, as far as a remedy is judged.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Whether it stopped on a non-finite or exploding error.
    pub diverged: bool,
    /// Test accuracy (train accuracy without test rows), for classes.
    pub accuracy: Option<f64>,
    /// Test loss (train loss without test rows).
    pub loss: f64,
    /// ReLU units off on every training row.
    pub dead: usize,
}

/// One remedy and what it did.
#[derive(Clone, Debug, PartialEq)]
pub struct Tried {
    /// The finding it answers (an index into [`Explanation::findings`]).
    pub finding: usize,
    /// The change, as the command line writes it (`--lr 0.003`, `--activation leaky_relu`,
    /// `--init-scheme he`).
    pub change: String,
    /// The run with the change.
    pub outcome: Outcome,
    /// Whether it is better than the original run on what the finding is about.
    pub helps: bool,
    /// The comparison in words.
    pub words: String,
}

/// A change to try.
#[derive(Clone, Debug, PartialEq)]
enum Change {
    /// Every hidden unit's activation replaced.
    Activation(Activation),
    /// Another initial scheme.
    Init(Scheme),
    /// The learning rate times a factor.
    Lr(f64),
}

/// `cell`'s formula with its activation replaced by `to` (the argument kept).
fn reactivate(cell: &Cell, to: Activation) -> Option<Cell> {
    let inner: Expr = match (&cell.formula, activation_of(&cell.formula)) {
        (
            Expr::Apply(Op::Unary(Unary::Relu | Unary::Tanh | Unary::Sigmoid | Unary::Softplus), a),
            _,
        ) => a[0].clone(),
        (Expr::Apply(_, a), "relu" | "leaky_relu") => a[0].clone(),
        (f, "linear") => f.clone(),
        _ => return None,
    };
    let formula = parse(&to.apply(&format!("({inner})"))).ok()?;
    Some(Cell {
        formula,
        ..cell.clone()
    })
}

/// Whether a cell is a hidden unit (`h2_3`).
fn hidden(name: &str) -> bool {
    name.strip_prefix('h')
        .and_then(|r| r.split_once('_'))
        .is_some_and(|(l, j)| l.parse::<usize>().is_ok() && j.parse::<usize>().is_ok())
}

/// Runs `setup` on `split` and measures it.
///
/// # Errors
///
/// The network's, when the changed cells do not compile.
pub fn run(setup: &RunSetup, split: &Split) -> Result<Outcome, crate::NetError> {
    let net = Network::new(setup.cells.clone(), setup.loss, setup.reg, &split.train)?;
    let init = initial(net.params(), setup.scheme, setup.seed);
    let cfg = TrainConfig {
        record: Record::Final,
        ..setup.cfg.clone()
    };
    let (params, diverged) = match net.trainer.run(&init, &cfg, &mut Hooks::none()) {
        Ok(t) => (
            t.final_params.clone(),
            matches!(t.stop, Stop::Diverged { .. }),
        ),
        Err(_) => (init, true),
    };
    outcome_of(&net, &params, split, diverged)
}

/// The outcome of a run of `net` that ended at `params` (`diverged` if it stopped so).
///
/// # Errors
///
/// [`crate::NetError::Data`] when the split lacks a column the network reads.
pub fn outcome_of(
    net: &Network,
    params: &[f64],
    split: &Split,
    diverged: bool,
) -> Result<Outcome, crate::NetError> {
    let on = if split.test.is_empty() {
        &split.train
    } else {
        &split.test
    };
    let m = net.metrics(params, on)?;
    let ex = explain(net, params, &split.train, &[]);
    Ok(Outcome {
        diverged: diverged || !m.loss.is_finite(),
        accuracy: m.accuracy,
        loss: m.loss,
        dead: ex.layers.iter().map(|u| u.dead().len()).sum(),
    })
}

/// Tries a remedy for each finding of `ex` (and for a diverged run) whose run fits within
/// `budget` steps, and judges each against `before`, the original run's outcome.
pub fn try_remedies(
    setup: &RunSetup,
    split: &Split,
    ex: &Explanation,
    before: &Outcome,
    budget: usize,
) -> Vec<Tried> {
    let steps = setup.cfg.epochs.saturating_mul(split.train.len());
    if steps > budget {
        return Vec::new();
    }
    let mut plans: Vec<(usize, Change)> = Vec::new();
    for (i, f) in ex.findings.iter().enumerate() {
        if f.contains("ReLU units are dead") {
            plans.push((i, Change::Activation(Activation::LeakyRelu)));
            plans.push((i, Change::Init(Scheme::He)));
            plans.push((i, Change::Lr(0.1)));
        } else if f.contains("are linear") {
            plans.push((i, Change::Activation(Activation::Tanh)));
        } else if f.starts_with("vanishing gradients from epoch") {
            plans.push((i, Change::Lr(0.1)));
        } else if f.starts_with("vanishing gradients") {
            plans.push((i, Change::Activation(Activation::Tanh)));
        } else if f.starts_with("exploding gradients")
            || f.contains("diverged")
            || f.contains("the steps overshoot")
        {
            plans.push((i, Change::Lr(0.1)));
        }
    }
    if before.diverged && !plans.iter().any(|p| p.1 == Change::Lr(0.1)) {
        plans.push((usize::MAX, Change::Lr(0.1)));
    }
    // Each change once, with the first finding it answers.
    let mut seen: Vec<Change> = Vec::new();
    plans.retain(|(_, c)| {
        let new = !seen.contains(c);
        seen.push(c.clone());
        new
    });
    let mut out = Vec::new();
    for (finding, change) in plans {
        let mut s = setup.clone();
        let words = match &change {
            Change::Activation(a) => {
                let mut changed = false;
                for c in &mut s.cells {
                    if hidden(&c.name) && activation_of(&c.formula) != a.name() {
                        if let Some(n) = reactivate(c, *a) {
                            *c = n;
                            changed = true;
                        }
                    }
                }
                if !changed {
                    continue;
                }
                format!("--activation {}", a.name())
            }
            Change::Init(sc) => {
                if s.scheme == *sc {
                    continue;
                }
                s.scheme = *sc;
                format!("--init-scheme {}", sc.name())
            }
            Change::Lr(f) => {
                let lr = s.cfg.optimizer.lr() * f;
                s.cfg.optimizer.set_lr(lr);
                format!("--lr {}", gradsheet_engine::format_number(lr))
            }
        };
        let Ok(outcome) = run(&s, split) else {
            continue;
        };
        let (helps, verdict) = judge(before, &outcome, &change);
        out.push(Tried {
            finding,
            change: words.clone(),
            helps,
            words: format!("{words}: {verdict}"),
            outcome,
        });
    }
    out
}

/// Whether `after` is better than `before` on what `change` addresses, in words.
fn judge(before: &Outcome, after: &Outcome, change: &Change) -> (bool, String) {
    let acc = |o: &Outcome| {
        o.accuracy
            .map_or(String::new(), |a| format!(", accuracy {a:.3}"))
    };
    let said = |o: &Outcome| {
        if o.diverged {
            "diverged".to_string()
        } else {
            format!(
                "loss {}{}",
                gradsheet_engine::format_number(round4(o.loss)),
                acc(o)
            )
        }
    };
    let better_fit = !after.diverged
        && (before.diverged
            || after.loss < before.loss * 0.9
            || matches!((before.accuracy, after.accuracy), (Some(b), Some(a)) if a >= b + 0.02));
    let worse_fit = after.diverged
        || (!before.diverged && after.loss > before.loss * 1.1)
        || matches!((before.accuracy, after.accuracy), (Some(b), Some(a)) if a < b - 0.02);
    // Fewer dead units count only if the network fits no worse: units alive in a network
    // that no longer learns help nobody.
    let helps = better_fit || (before.dead > 0 && after.dead < before.dead && !worse_fit);
    let _ = change;
    let dead = if before.dead > 0 || after.dead > 0 {
        format!(", dead units {} → {}", before.dead, after.dead)
    } else {
        String::new()
    };
    (
        helps,
        format!(
            "{} (re-run: {} → {}{dead})",
            if helps { "helps" } else { "does not help" },
            said(before),
            said(after)
        ),
    )
}

fn round4(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let p = 10f64.powi(3 - v.abs().log10().floor() as i32);
    (v * p).round() / p
}
