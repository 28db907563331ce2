//! The diagnosis in words: every sentence is written here from a [`Diagnosis`]'s data,
//! with numbers to a few significant digits ([`sig`]) except where a number's digits
//! are what the sentence claims (a learning rate verified by a re-run is printed so that
//! it reads back to the value that was run).

use gradsheet_train::Stop;

use super::remedies::dominant;
use super::{
    Collapse, Diagnosis, Divergence, Remedy, RemedyKind, RowBound, UnitStory, UnitsReport,
    ZeroState, ZeroStateRule,
};
use crate::collapse::UnitHistory;
use crate::fmt::{exact, sig};
use crate::sweep::Class;

/// A section: a title and its sentences.
type Section = (String, Vec<String>);

/// Writes the remedies' sentences and the sections of `d` from its data.
pub(super) fn write(d: &mut Diagnosis) {
    let texts: Vec<String> = d.remedies.iter().map(|r| remedy(d, r)).collect();
    for (r, t) in d.remedies.iter_mut().zip(texts) {
        r.text = t;
    }
    let w = Words::new(d);
    let mut sections = vec![w.what_happened(), w.bound()];
    sections.extend(d.divergence.as_ref().map(|dv| w.where_it_starts(dv)));
    sections.extend(d.collapse.as_ref().map(|c| w.collapse(c)));
    sections.extend(d.units.as_ref().map(|u| w.units(u)));
    sections.push(w.remedies());
    d.sections = sections;
}

/// A division by a zero state, in words.
pub(super) fn zero_state(z: &ZeroState) -> String {
    let (step, name) = (z.step, &z.param);
    match z.rule {
        ZeroStateRule::Rmsprop => format!(
            "Step {step} divided {name}'s update by √s, and s (the running mean of {name}'s squared \
             gradient, which starts at 0, as the formula says) was still 0: g·lr/√0 is infinite, whatever \
             the learning rate. The workbook's Reset starts s at 10000 and runs two passes before the \
             first step (`gradsheet graddesc --sheet rmsprop` replays it); torch-rmsprop adds ε to √s."
        ),
        ZeroStateRule::Adam => format!(
            "Step {step} divided {name}'s update by √s, and s (the running mean of {name}'s squared gradient) \
             is 0: {name}'s gradient has been exactly 0 at every step so far, so the update is m·lr/√0 = 0/0, \
             not a number. No learning rate avoids this; torch-adam adds ε to √s."
        ),
    }
}

/// A remedy in one sentence with its numbers.
fn remedy(d: &Diagnosis, r: &Remedy) -> String {
    let (v, epochs, lr0) = (&r.verdict, r.epochs, sig(d.lr, 3));
    match &r.kind {
        RemedyKind::LearningRate {
            lr, fails_shown, ..
        } => format!(
            "lower the learning rate to {} (from {lr0}): the re-run converges, mean error {} → {} in {epochs} epochs; \
             {} does not converge",
            exact(*lr),
            sig(v.initial_error, 4),
            sig(v.final_error, 4),
            exact(*fails_shown)
        ),
        RemedyKind::RescaleInputs {
            columns,
            factor,
            effective,
        } => {
            let mut text = format!(
                "divide {} by {} (keep lr {lr0}): the re-run converges, mean error {} in {epochs} epochs",
                columns.join(", "),
                sig(*factor, 4),
                sig(v.final_error, 4),
            );
            if let Some((s, b)) = effective {
                let ss: Vec<String> = columns
                    .iter()
                    .zip(s)
                    .map(|(n, s)| format!("slope on {n} {}", sig(*s, 4)))
                    .collect();
                text.push_str(&format!(
                    "; in the original units the fit is {}, intercept {}",
                    ss.join(", "),
                    sig(*b, 4)
                ));
            }
            text
        }
        RemedyKind::Init { values } => {
            let changed: Vec<String> = values
                .iter()
                .zip(&d.init)
                .filter(|((_, a), b)| *a != **b)
                .map(|((n, a), _)| format!("{n} = {}", sig(*a, 3)))
                .collect();
            format!(
                "start from {} (keep lr {lr0}): the re-run converges, mean error {} → {} in {epochs} epochs",
                changed.join(", "),
                sig(v.initial_error, 4),
                sig(v.final_error, 4),
            )
        }
        RemedyKind::Optimizer { lr, .. } => format!(
            "use torch-adam with lr {} (PyTorch's other defaults; same data and start): the re-run converges, \
             mean error {} → {} in {epochs} epochs; Adam divides each step by the running size of the gradient, \
             so a steep row cannot throw the parameters far",
            sig(*lr, 3),
            sig(v.initial_error, 4),
            sig(v.final_error, 4),
        ),
    }
}

/// What every section needs: the diagnosis and its recurring phrases.
struct Words<'a> {
    d: &'a Diagnosis,
    /// The limit, as printed.
    lim: String,
    /// `lr·λ_max`, with the optimizer's factor when it is not 1.
    klr: String,
}

impl<'a> Words<'a> {
    fn new(d: &'a Diagnosis) -> Words<'a> {
        let klr = if d.k == 1.0 {
            "lr·λ_max".to_string()
        } else {
            format!("{}·lr·λ_max", sig(d.k, 3))
        };
        Words {
            d,
            lim: sig(d.limit, 3),
            klr,
        }
    }

    /// `x = 99, y = 228`.
    fn row(&self, inputs: &[f64]) -> String {
        self.d
            .columns
            .iter()
            .zip(inputs)
            .map(|(c, v)| format!("{c} = {}", sig(*v, 6)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `a = 1, b = 2`.
    fn params(&self, vals: &[f64]) -> String {
        self.d
            .params
            .iter()
            .zip(vals)
            .map(|(n, v)| format!("{n} = {}", sig(*v, 4)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The dominant parameters of a direction with their components.
    fn direction(&self, dir: &[f64]) -> String {
        dominant(dir)
            .iter()
            .map(|&i| format!("{} {}", self.d.params[i], sig(dir[i], 2)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn what_happened(&self) -> Section {
        let d = self.d;
        let mut s = vec![format!(
            "{} with {}, {} rows, {} steps taken.",
            d.model, d.optimizer, d.rows, d.steps
        )];
        match (&d.stop, &d.divergence) {
            (Stop::Diverged { .. }, Some(dv)) => {
                s.push(format!(
                    "DIVERGED at step {} (epoch {}, data row {}: {}): {}.",
                    dv.step,
                    dv.epoch,
                    dv.row + 1,
                    self.row(&dv.inputs),
                    dv.reason
                ));
                s.push(format!(
                    "The trace keeps the {} finite steps before it; step {} is recorded and marked as the first bad one.",
                    dv.finite_steps, dv.step
                ));
                s.extend(dv.cause.clone());
            }
            (Stop::Completed, _) => s.push(format!(
                "It did not diverge. Over {} epochs the mean error goes {} → {} ({}).",
                d.verify_epochs,
                sig(d.verdict.initial_error, 4),
                sig(d.verdict.final_error, 4),
                d.verdict.class.name()
            )),
            _ => {}
        }
        ("What happened".to_string(), s)
    }

    fn bound(&self) -> Section {
        let d = self.d;
        let mut s = vec![
            "Plain SGD on one row is stable only while lr·λ_max < 2, where λ_max is the largest eigenvalue of the Hessian \
             of that row's error (its curvature in the steepest direction); past it each step overshoots the row's minimum \
             and its error grows by about (lr·λ_max − 1)². Rows past the bound push the run apart and rows under it pull it \
             back: a run diverges when the steep rows win."
                .to_string(),
        ];
        if !d.bound_applies {
            s.push(format!("{} adapts its step to the gradient, so the bound below is plain SGD's at the same lr, a guide rather than a rule.", d.optimizer));
        } else if d.k != 1.0 || d.limit != 2.0 {
            s.push(format!(
                "For {} the bound is {} < {}.",
                d.optimizer, self.klr, self.lim
            ));
        }
        let past = |b: &RowBound| d.k * d.lr * b.lambda_max > d.limit;
        if let Some(worst) = d
            .at_init
            .iter()
            .max_by(|a, b| a.lambda_max.total_cmp(&b.lambda_max))
        {
            s.push(format!(
                "At the initial values ({}), {} of {} rows are past the bound; the steepest is {}: λ_max = {}; {} = {} {} {} \
                 (stable only for lr < {}).",
                self.params(&d.init),
                d.at_init.iter().filter(|b| past(b)).count(),
                d.at_init.len(),
                self.row(&worst.inputs),
                sig(worst.lambda_max, 5),
                self.klr,
                sig(d.k * d.lr * worst.lambda_max, 3),
                if past(worst) { ">" } else { "<" },
                self.lim,
                sig(worst.max_lr, 3)
            ));
        }
        ("The stability bound".to_string(), s)
    }

    fn where_it_starts(&self, dv: &Divergence) -> Section {
        let (klr, lim) = (&self.klr, &self.lim);
        let mut s = Vec::new();
        if let Some(o) = &dv.onset {
            s.push(format!(
                "From step {} on (epoch {}, data row {}: {}) every step is past the bound: λ_max = {}; {klr} = {} > {lim}. \
                 The steep direction is mostly {}.",
                o.step,
                o.epoch,
                o.row + 1,
                self.row(&o.inputs),
                sig(o.lambda_max(), 5),
                sig(o.lr_lambda, 3),
                self.direction(&o.direction)
            ));
        }
        for c in &dv.growth {
            s.push(format!(
                "step {:>4}  {}: err {}, λ_max = {}; {klr} = {}{}   ({})",
                c.step,
                self.row(&c.inputs),
                sig(c.error, 4),
                sig(c.lambda_max(), 5),
                sig(c.lr_lambda, 3),
                if c.lr_lambda > self.d.limit {
                    format!(" > {lim}")
                } else {
                    String::new()
                },
                self.params(&c.params)
            ));
        }
        s.push(match &dv.first_unstable {
            Some(f) => format!(
                "The first step past the bound was step {} ({}, {klr} = {}); {} of the {} steps before the divergence were past it.",
                f.step,
                self.row(&f.inputs),
                sig(f.lr_lambda, 3),
                dv.unstable_steps,
                dv.finite_steps
            ),
            None => "No step before it was past the bound: the run failed by a NaN or an infinite value, not by overshooting.".into(),
        });
        ("Where it starts".to_string(), s)
    }

    /// Effective slopes and intercept: `c·a = 1, c·b + d = 2`.
    fn effective(&self, c: &Collapse, (sl, t): (&[f64], f64)) -> String {
        let lin = &c.linear;
        let v: Vec<String> = lin
            .slopes
            .iter()
            .zip(sl)
            .map(|(e, v)| format!("{} = {}", e.to_math(), sig(*v, 4)))
            .collect();
        format!(
            "{}, {} = {}",
            v.join(", "),
            lin.intercept.to_math(),
            sig(t, 4)
        )
    }

    /// The steps whose effective parameters are shown: the growth of a divergence, else
    /// a quarter, half and all of the way.
    fn collapse_steps(&self, c: &Collapse) -> Vec<usize> {
        match &self.d.divergence {
            Some(dv) => {
                let mut v: Vec<usize> = dv.growth.iter().map(|g| g.step).collect();
                v.dedup();
                v
            }
            None => {
                let n = c.along.len();
                [n / 4, n / 2, n.saturating_sub(1)]
                    .into_iter()
                    .filter(|&i| i < n)
                    .map(|i| c.along[i].0)
                    .collect()
            }
        }
    }

    fn collapse(&self, c: &Collapse) -> Section {
        let (d, lin) = (self.d, &c.linear);
        let slopes: Vec<String> = lin
            .inputs
            .iter()
            .zip(&lin.slopes)
            .map(|(x, e)| format!("({})·{x}", e.to_math()))
            .collect();
        let mut s = vec![format!(
            "{}{} is {} + ({}): the {} parameters {} only ever act through {} numbers, the effective {}.",
            if c.while_units_on { "While every unit is on, " } else { "" },
            d.model,
            slopes.join(" + "),
            lin.intercept.to_math(),
            d.params.len(),
            d.params.join(", "),
            lin.inputs.len() + 1,
            if lin.inputs.len() == 1 { "slope and intercept" } else { "slopes and intercept" }
        )];
        s.push(format!(
            "At the start: {}.",
            self.effective(c, (&c.at_init.0, c.at_init.1))
        ));
        for st in self.collapse_steps(c) {
            if let Some((_, sl, t)) = c.along.iter().find(|(k, _, _)| *k == st) {
                s.push(format!("before step {st}: {}", self.effective(c, (sl, *t))));
            }
        }
        let curv: Vec<String> = lin
            .curvature
            .iter()
            .map(|(p, e)| format!("∂²e/∂{p}² = {}", e.to_math()))
            .collect();
        s.push(format!(
            "The extra parameters multiply each other in the gradient, so the curvature grows with them: {}. \
             In the simple model {} the curvature along the slope is just 2·x² (for a squared error).",
            curv.join(", "),
            lin.simple_formula()
        ));
        if let Some(f) = &c.at_fit {
            s.push(format!(
                "At a fit (where the best remedy below ends, mean error {}: {}; effective {}), the row {} has λ_max = {} in \
                 this model but {} in {} at the same effective parameters: the reparametrised model tolerates lr < {}, the \
                 simple one lr < {}.",
                sig(f.error, 4),
                self.params(&f.params),
                self.effective(c, (&f.effective.0, f.effective.1)),
                self.row(&f.inputs),
                sig(f.lambda_model, 5),
                sig(f.lambda_simple, 5),
                lin.simple_formula(),
                sig(d.limit / (d.k * f.lambda_model), 3),
                sig(d.limit / (d.k * f.lambda_simple), 3)
            ));
        }
        ("The collapse".to_string(), s)
    }

    /// One unit: where it is on, when and how it died.
    fn unit(&self, h: &UnitHistory, story: &UnitStory, s: &mut Vec<String>) {
        let n = h.on_at_init.len();
        let on0 = h.on_at_init.iter().filter(|b| **b).count();
        s.push(format!("Unit {} is on where {} ≥ 0 (the engine's tie rule); at the start it is on for {} of {} rows.", h.unit, h.arg, on0, n));
        for span in &story.first_epoch {
            s.push(format!(
                "epoch 1, steps {}–{}: on for {} of {} rows",
                span.from, span.to, span.rows_on, n
            ));
        }
        let Some(dead) = h.dead_from else {
            let offs = h.first_off.iter().filter(|f| f.is_some()).count();
            s.push(format!(
                "It never dies for good; {offs} of {n} rows saw it off at some step."
            ));
            return;
        };
        let mut line =
            format!("From step {dead} on the unit is off on every row, to the end of the run");
        if let Some(k) = &story.killed_by {
            line.push_str(&format!(
                ": step {} ({}) moved the parameters from {} to {}",
                k.step,
                self.row(&k.inputs),
                self.params(&k.before),
                self.params(&k.after)
            ));
            line.push_str(&if k.in_growth {
                format!(
                    " (a step past the bound: {} = {})",
                    self.klr,
                    sig(k.lr_lambda, 3)
                )
            } else {
                format!(" ({} = {} on that row)", self.klr, sig(k.lr_lambda, 3))
            });
        }
        line.push('.');
        s.push(line);
        s.push(format!(
            "While it is off, {} {} exactly zero gradient (the MAX passes nothing back); only {} still {}.",
            h.frozen.join(", "),
            if h.frozen.len() == 1 { "gets" } else { "get" },
            if h.learning.is_empty() { "nothing".to_string() } else { h.learning.join(", ") },
            if h.learning.len() == 1 { "learns" } else { "learn" }
        ));
    }

    /// Why the error stays high once units are dead.
    fn dead_units(&self, u: &UnitsReport, s: &mut Vec<String>) {
        let d = self.d;
        let mut line = format!("With every unit off the prediction is {}", u.off_prediction);
        if let Some(b) = u.best_when_off {
            line.push_str(&format!(
                ": a constant, whose best mean error is the variance of the target, {}",
                sig(b, 4)
            ));
        }
        line.push('.');
        s.push(line);
        if let Some((lam, half)) = u.live_curvature.filter(|(_, h)| h.is_finite()) {
            s.push(format!(
                "What still learns has curvature {} per row, so at lr {} it closes half its distance to its optimum only every {} epochs.",
                sig(lam, 3),
                sig(d.lr, 3),
                sig(half, 3)
            ));
        }
        let mut line = format!(
            "That is why the error stays high: after {} epochs the mean error is {}",
            d.verify_epochs,
            sig(d.verdict.final_error, 4)
        );
        if let Some(se) = u.simple_error {
            line.push_str(&format!(
                ", while the one-neuron model reaches {} in the same run",
                sig(se, 4)
            ));
        }
        line.push('.');
        s.push(line);
    }

    fn units(&self, u: &UnitsReport) -> Section {
        let mut s = Vec::new();
        for (h, story) in u.histories.iter().zip(&u.stories) {
            self.unit(h, story, &mut s);
        }
        if let Some((twin, bad)) = &u.twin {
            s.push(match bad {
                Some(b) => format!("Without the unit, {twin} diverges in the same run at step {b}: the unit switching off is what stops the explosion."),
                None => format!("Without the unit, {twin} does not diverge in the same run."),
            });
        }
        if u.histories.iter().any(|h| h.dead_from.is_some()) {
            self.dead_units(u, &mut s);
        }
        ("The ReLU units".to_string(), s)
    }

    fn remedies(&self) -> Section {
        let d = self.d;
        let mut s = Vec::new();
        if d.verdict.class == Class::Converged {
            s.push(format!(
                "None needed: over {} epochs the run converges.",
                d.verify_epochs
            ));
        } else if d.remedies.is_empty() {
            s.push(format!(
                "No remedy tried converged within {} epochs.",
                d.verify_epochs
            ));
        }
        for (i, r) in d.remedies.iter().enumerate() {
            s.push(format!("{}. {}.", i + 1, r.text));
        }
        let tried_init = d
            .remedies
            .iter()
            .any(|r| matches!(r.kind, RemedyKind::Init { .. }));
        if !tried_init && !d.remedies.is_empty() {
            let past_at_fit = d
                .collapse
                .as_ref()
                .and_then(|c| c.at_fit.as_ref())
                .filter(|f| d.k * d.lr * f.lambda_model > d.limit);
            s.push(match past_at_fit {
                Some(f) => format!(
                    "(No smaller initialisation converged at this lr: at the fit itself the row {} is past the bound, \
                     {} = {} > {}, wherever training starts.)",
                    self.row(&f.inputs),
                    self.klr,
                    sig(d.k * d.lr * f.lambda_model, 3),
                    self.lim
                ),
                None => "(No smaller initialisation converged at this lr.)".to_string(),
            });
        }
        (
            format!(
                "Remedies (each verified by a re-run of {} epochs)",
                d.verify_epochs
            ),
            s,
        )
    }
}
