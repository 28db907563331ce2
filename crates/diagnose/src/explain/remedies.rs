//! Remedies, each verified by a re-run over the verification horizon, tried in order of
//! how little they change: the learning rate, the scale of the inputs, the initial
//! values, the optimizer.

use gradsheet_engine::Dataset;
use gradsheet_train::{Optimizer, TrainConfig, TrainError, Trainer};

use super::{Divergence, Remedy, RemedyKind};
use crate::collapse::linear_form;
use crate::fmt::{ceil_sig, floor_sig};
use crate::sweep::{judge, Class, Verdict};

/// Re-runs one configuration from some initial values.
struct Rerun<'a> {
    trainer: &'a Trainer,
    vcfg: &'a TrainConfig,
}

impl Rerun<'_> {
    /// The verdict of the re-run, when it converges.
    fn converges(&self, cfg: &TrainConfig, init: &[f64]) -> Result<Option<Verdict>, TrainError> {
        let v = judge(self.trainer, init, cfg)?;
        Ok((v.class == Class::Converged).then_some(v))
    }

    /// The verification run with another learning rate.
    fn with_lr(&self, lr: f64) -> TrainConfig {
        let mut c = self.vcfg.clone();
        c.optimizer.set_lr(lr);
        c
    }

    fn remedy(&self, kind: RemedyKind, verdict: Verdict) -> Remedy {
        Remedy {
            kind,
            verdict,
            epochs: self.vcfg.epochs,
            text: String::new(),
        }
    }
}

/// Every remedy that converges, in the order tried. `vcfg` is the run over the
/// verification horizon; `div` its divergence, whose steep direction names the
/// parameters worth starting smaller.
pub(super) fn find(
    trainer: &Trainer,
    init: &[f64],
    vcfg: &TrainConfig,
    div: Option<&Divergence>,
) -> Result<Vec<Remedy>, TrainError> {
    let r = Rerun { trainer, vcfg };
    let mut out = Vec::new();
    out.extend(learning_rate(&r, init)?);
    out.extend(rescale_inputs(&r, init)?);
    out.extend(smaller_start(&r, init, div)?);
    out.extend(adaptive_optimizer(&r, init)?);
    Ok(out)
}

/// The largest learning rate that converges: halve until one does, then bisect
/// (geometrically) between it and the smallest failing one. The proposal is rounded down
/// to two significant digits and re-run; the failing rate the text names is rounded up
/// to the fewest digits whose re-run still fails.
fn learning_rate(r: &Rerun, init: &[f64]) -> Result<Option<Remedy>, TrainError> {
    let lr0 = r.vcfg.optimizer.lr();
    if lr0 <= 0.0 {
        return Ok(None);
    }
    let mut hi = lr0;
    let mut lo = None;
    for _ in 0..40 {
        let cand = hi / 2.0;
        if r.converges(&r.with_lr(cand), init)?.is_some() {
            lo = Some(cand);
            break;
        }
        hi = cand;
    }
    let Some(mut lo) = lo else { return Ok(None) };
    for _ in 0..14 {
        let mid = (lo * hi).sqrt();
        if r.converges(&r.with_lr(mid), init)?.is_some() {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let mut proposal = floor_sig(lo, 2);
    let verdict = match r.converges(&r.with_lr(proposal), init)? {
        Some(v) => Some(v),
        None => {
            proposal = lo;
            r.converges(&r.with_lr(lo), init)?
        }
    };
    let Some(v) = verdict else { return Ok(None) };
    let fails_shown = shortest_failing(r, init, hi)?;
    let kind = RemedyKind::LearningRate {
        lr: proposal,
        converges: lo,
        fails: hi,
        fails_shown,
    };
    Ok(Some(r.remedy(kind, v)))
}

/// `fails` rounded up to the fewest significant digits (three or more) whose re-run does
/// not converge; `fails` itself, which bisection ran, when no shorter one is verified.
fn shortest_failing(r: &Rerun, init: &[f64], fails: f64) -> Result<f64, TrainError> {
    let mut tried = f64::NAN;
    for digits in 3..=16 {
        let c = ceil_sig(fails, digits);
        if c == tried || c == fails {
            continue;
        }
        tried = c;
        if r.converges(&r.with_lr(c), init)?.is_none() {
            return Ok(c);
        }
    }
    Ok(fails)
}

/// Divide the input columns (those the prediction reads) by the smallest factor that
/// makes the same run converge.
fn rescale_inputs(r: &Rerun, init: &[f64]) -> Result<Option<Remedy>, TrainError> {
    let (trainer, model) = (r.trainer, &r.trainer.model);
    let inputs: Vec<usize> = (0..model.columns.len())
        .filter(|&j| model.prediction.mentions(&model.columns[j]))
        .collect();
    if inputs.is_empty() {
        return Ok(None);
    }
    let max_abs = (0..trainer.n_rows)
        .flat_map(|row| inputs.iter().map(move |&j| trainer.row(row)[j].abs()))
        .fold(0.0, f64::max);
    let mut factors: Vec<f64> = [2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 1000.0]
        .into_iter()
        .filter(|f| *f <= 10.0 * max_abs)
        .collect();
    if max_abs > 1.0 && !factors.contains(&max_abs) {
        factors.push(max_abs);
        factors.sort_by(f64::total_cmp);
    }
    let w = model.columns.len();
    for f in factors {
        let mut rows = trainer.rows.clone();
        for row in rows.chunks_mut(w) {
            for &j in &inputs {
                row[j] /= f;
            }
        }
        let t = Trainer::new(model, &Dataset::new(model.columns.clone(), rows))?;
        let v = judge(&t, init, r.vcfg)?;
        if v.class == Class::Converged {
            let effective = linear_form(model, &model.prediction).map(|l| {
                let (s, b) = l.values(model, &v.final_params);
                (s.iter().map(|s| s / f).collect::<Vec<_>>(), b)
            });
            let kind = RemedyKind::RescaleInputs {
                columns: inputs.iter().map(|&j| model.columns[j].clone()).collect(),
                factor: f,
                effective,
            };
            return Ok(Some(r.remedy(kind, v)));
        }
    }
    Ok(None)
}

/// Other initial values: first only the parameters that drive the instability (the
/// dominant ones of its steep direction), then all, scaled down.
fn smaller_start(
    r: &Rerun,
    init: &[f64],
    div: Option<&Divergence>,
) -> Result<Option<Remedy>, TrainError> {
    let drivers: Vec<usize> = div
        .and_then(|d| d.onset.as_ref().or(d.first_unstable.as_ref()))
        .map(|c| dominant(&c.direction))
        .unwrap_or_default();
    for only_drivers in [true, false] {
        if only_drivers && drivers.is_empty() {
            continue;
        }
        for s in [0.5, 0.2, 0.1, 0.05, 0.02, 0.01] {
            let p: Vec<f64> = init
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    if !only_drivers || drivers.contains(&i) {
                        v * s
                    } else {
                        *v
                    }
                })
                .collect();
            if let Some(v) = r.converges(r.vcfg, &p)? {
                let values = r.trainer.model.params.iter().cloned().zip(p).collect();
                return Ok(Some(r.remedy(RemedyKind::Init { values }, v)));
            }
        }
    }
    Ok(None)
}

/// An adaptive optimizer: torch.optim.Adam at the learning rate with the lowest final
/// error among a few that converge.
fn adaptive_optimizer(r: &Rerun, init: &[f64]) -> Result<Option<Remedy>, TrainError> {
    let mut best: Option<(f64, Verdict)> = None;
    for lr in [0.001, 0.003, 0.01, 0.03, 0.1, 0.3] {
        let mut c = r.vcfg.clone();
        c.optimizer = Optimizer::torch_adam(lr);
        if let Some(v) = r.converges(&c, init)? {
            if best
                .as_ref()
                .is_none_or(|(_, b)| v.final_error < b.final_error)
            {
                best = Some((lr, v));
            }
        }
    }
    Ok(best.map(|(lr, v)| {
        let kind = RemedyKind::Optimizer {
            optimizer: Optimizer::torch_adam(lr).to_string(),
            lr,
        };
        r.remedy(kind, v)
    }))
}

/// The parameters that make up most of a unit direction (|component| ≥ 0.3), largest first.
pub(super) fn dominant(dir: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..dir.len()).filter(|&i| dir[i].abs() >= 0.3).collect();
    idx.sort_by(|&a, &b| dir[b].abs().total_cmp(&dir[a].abs()));
    idx
}
