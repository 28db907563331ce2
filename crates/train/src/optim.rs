//! Optimizers in two conventions: fast.ai's workbooks, exactly as the sheets compute
//! them, and PyTorch's `torch.optim`, exactly as its single-tensor (for-loop) code does.
//!
//! An optimizer is a configuration ([`Optimizer`]) plus plain, visible state
//! ([`State`]): a flat array of named per-parameter variables (`m`, `v`, ...) and a step
//! counter, so that a trace can show every value of every step. [`Optimizer::step`]
//! updates parameters and state in place and allocates nothing.
//!
//! Each update rule's doc comment gives its formula in the operation order used, because
//! that order decides the last bits and the workbooks are reproduced bit for bit.

use std::fmt;

use gradsheet_engine::arith::{Values, F64};

use crate::rules::{self, Hyper, OptimizerError, Rule};

/// Which family of rules, for listings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Convention {
    /// fast.ai's graddesc workbooks (no ε, no bias correction, EMA momentum).
    Workbook,
    /// PyTorch's `torch.optim`.
    Torch,
}

/// An optimizer's configuration.
///
/// # Examples
///
/// ```
/// use gradsheet_train::{Optimizer, State};
/// let opt = Optimizer::torch_adam(0.1);
/// let mut st = State::new(&opt, 1);
/// let mut p = [1.0];
/// opt.step(&mut p, &[2.0], &mut st);
/// // Adam's first step moves by about lr, whatever the gradient's size.
/// assert!((p[0] - 0.9).abs() < 1e-7);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Optimizer {
    /// Workbook SGD (sheet `basic`): `p ← p - g*lr`.
    Sgd {
        /// Learning rate.
        lr: f64,
    },
    /// Workbook momentum (sheet `momentum`), the damped EMA form:
    /// `m ← m*β + (1-β)*g`, then `p ← p - m*lr` (with this row's `m`).
    Momentum {
        /// Learning rate.
        lr: f64,
        /// β, the weight of the old momentum (0.9 in the sheet).
        beta: f64,
    },
    /// Workbook RMSProp (sheet `rmsprop`): `p ← p - g*lr/sqrt(s)` with the **previous**
    /// row's `s`, then `s ← s*β + (1-β)*g^2`. No ε.
    Rmsprop {
        /// Learning rate.
        lr: f64,
        /// β (0.9 in the sheet).
        beta: f64,
    },
    /// Workbook Adam (sheets `adam`, `adam_ann`): `m ← m*β1 + (1-β1)*g`,
    /// `s ← s*β2 + (1-β2)*g^2`, then `p ← p - m*lr/sqrt(s)` with this row's `m` and `s`.
    /// No ε and no bias correction. (`adam_ann`'s lr/4 annealing acts between epochs:
    /// see the graddesc replay.)
    Adam {
        /// Learning rate.
        lr: f64,
        /// β1.
        beta1: f64,
        /// β2.
        beta2: f64,
    },
    /// Workbook "adagrad" of 2016 (not real Adagrad): `p ← p - g*rate` where
    /// `rate = lr / r` is fixed within an epoch and `r` is the previous epoch's
    /// `sqrt(Σg²)/n` for that parameter. State `r` starts at `r0`.
    Adagrad {
        /// Learning rate.
        lr: f64,
        /// The initial `r` (the sheet's Reset writes 10000, then one pass).
        r0: f64,
    },
    /// PyTorch `torch.optim.SGD`.
    TorchSgd {
        /// Learning rate.
        lr: f64,
        /// Momentum factor μ (0 = none).
        momentum: f64,
        /// Dampening τ of the momentum.
        dampening: f64,
        /// L2 penalty λ added to the gradient.
        weight_decay: f64,
        /// Nesterov momentum.
        nesterov: bool,
    },
    /// PyTorch `torch.optim.Adagrad`.
    TorchAdagrad {
        /// Learning rate.
        lr: f64,
        /// Learning-rate decay.
        lr_decay: f64,
        /// L2 penalty.
        weight_decay: f64,
        /// The sum of squares starts here.
        initial_accumulator_value: f64,
        /// ε.
        eps: f64,
    },
    /// PyTorch `torch.optim.RMSprop`.
    TorchRmsprop {
        /// Learning rate.
        lr: f64,
        /// α, the smoothing constant.
        alpha: f64,
        /// ε (added outside the square root).
        eps: f64,
        /// L2 penalty.
        weight_decay: f64,
        /// Momentum factor.
        momentum: f64,
        /// Centred: divide by the estimated variance rather than the mean square.
        centered: bool,
    },
    /// PyTorch `torch.optim.Adam` (`decoupled = false`) or `torch.optim.AdamW` (`true`).
    TorchAdam {
        /// Learning rate.
        lr: f64,
        /// β1.
        beta1: f64,
        /// β2.
        beta2: f64,
        /// ε.
        eps: f64,
        /// Weight decay: L2 in the gradient for Adam, decoupled `p ← p(1 - lr·λ)` for AdamW.
        weight_decay: f64,
        /// The AMSGrad variant (keeps the maximum of `v`).
        amsgrad: bool,
        /// AdamW's decoupled weight decay.
        decoupled: bool,
    },
}

/// An optimizer's state: `vars.len()` named arrays of one value per parameter, stored
/// flat (`values[k*n + i]` is variable `k` of parameter `i`), and the step count.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    /// The names of the state variables (`m`, `v`, ...).
    pub vars: &'static [&'static str],
    /// Their values.
    pub values: Vec<f64>,
    /// The number of parameters.
    pub n: usize,
    /// Steps taken so far.
    pub t: u64,
}

impl State {
    /// The zero state of `opt` for `n` parameters (with the optimizer's own starting
    /// values where they are not zero, such as Adagrad's initial accumulator).
    pub fn new(opt: &Optimizer, n: usize) -> State {
        let vars = opt.state_vars();
        let mut values = vec![0.0; vars.len() * n];
        State::start(opt, n, &mut values);
        State {
            vars,
            values,
            n,
            t: 0,
        }
    }

    /// The values [`State::new`] starts from, into `values` (`state_vars().len() · n`
    /// of them), for a caller that keeps its own room (runs side by side fill a block).
    ///
    /// # Panics
    ///
    /// If `values` is not that long.
    pub fn start(opt: &Optimizer, n: usize, values: &mut [f64]) {
        assert_eq!(
            values.len(),
            opt.state_vars().len() * n,
            "one value per state variable and parameter"
        );
        values.fill(0.0);
        match *opt {
            // Only the divisors start at r0; the Σg² accumulators start empty.
            Optimizer::Adagrad { r0, .. } => values[..n].fill(r0),
            Optimizer::TorchAdagrad {
                initial_accumulator_value,
                ..
            } => values.fill(initial_accumulator_value),
            _ => {}
        }
    }

    /// State variable `k` for every parameter.
    pub fn var(&self, k: usize) -> &[f64] {
        &self.values[k * self.n..(k + 1) * self.n]
    }

    /// State variable `k` for every parameter, mutable.
    pub fn var_mut(&mut self, k: usize) -> &mut [f64] {
        &mut self.values[k * self.n..(k + 1) * self.n]
    }

    /// The index of a state variable by name.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.vars.iter().position(|v| *v == name)
    }
}

/// How many numbers [`Optimizer::workbook_hypers`] gives at most.
pub const WORKBOOK_HYPERS: usize = 5;

impl Optimizer {
    /// The numbers [`Optimizer::workbook_update`] reads, into the front of `h`: the
    /// settings of a workbook SGD, momentum, RMSProp or Adam, and the complements the
    /// sheets keep in cells of their own (`1-β`, rounded once). `None` for other rules.
    ///
    /// | rule | `h` |
    /// |---|---|
    /// | SGD | `lr` |
    /// | momentum, RMSProp | `lr, β, 1-β` |
    /// | Adam | `lr, β1, β2, 1-β1, 1-β2` |
    pub fn workbook_hypers(&self, h: &mut [f64; WORKBOOK_HYPERS]) -> Option<usize> {
        let (vals, n): ([f64; WORKBOOK_HYPERS], usize) = match *self {
            Optimizer::Sgd { lr } => ([lr, 0.0, 0.0, 0.0, 0.0], 1),
            // The sheet keeps 1-β in its own cell (K1 = 0.09999999999999998).
            Optimizer::Momentum { lr, beta } | Optimizer::Rmsprop { lr, beta } => {
                ([lr, beta, 1.0 - beta, 0.0, 0.0], 3)
            }
            Optimizer::Adam { lr, beta1, beta2 } => {
                ([lr, beta1, beta2, 1.0 - beta1, 1.0 - beta2], 5)
            }
            _ => return None,
        };
        *h = vals;
        Some(n)
    }

    /// Which of [`Optimizer::workbook_hypers`]'s numbers are positive for every setting
    /// the rule allows: the complements `1-β` (β < 1 by the rule's range, and `1 - β`
    /// is then at least 2⁻⁵³). A product of the exact gradient `g + 0.0` with such a
    /// number `h` is `fma(g, h, +0.0)` bit for bit — a non-zero product is rounded once
    /// either way, and a zero one is `+0` either way — which a compiler may use to save
    /// the addition; with a learning rate, which may be 0, it may not (`-3 · 0` is
    /// `-0`, where the fused form gives `+0`).
    ///
    /// # Examples
    ///
    /// ```
    /// use gradsheet_train::Optimizer;
    /// let adam = Optimizer::Adam { lr: 1e-3, beta1: 0.9, beta2: 0.999 };
    /// assert_eq!(adam.workbook_positive(), [false, false, false, true, true]);
    /// ```
    pub fn workbook_positive(&self) -> [bool; WORKBOOK_HYPERS] {
        match self {
            Optimizer::Momentum { .. } | Optimizer::Rmsprop { .. } => {
                [false, false, true, false, false]
            }
            Optimizer::Adam { .. } => [false, false, false, true, true],
            _ => [false; WORKBOOK_HYPERS],
        }
    }

    /// One parameter's update by a workbook rule (SGD, momentum, RMSProp, Adam), on any
    /// arithmetic: `f64` for [`Optimizer::step`], registers of lanes for the stability
    /// maps' kernels, which so run these very operations in this very order (the sheets'
    /// order, which decides the last bits). `h` holds [`Optimizer::workbook_hypers`]'s
    /// numbers, `s` the parameter's state variables (as [`Optimizer::state_vars`] names
    /// them), updated in place; returns the new parameter (`p` for other rules).
    #[inline(always)]
    pub fn workbook_update<A: Values>(
        &self,
        ar: &mut A,
        h: &[A::V],
        p: A::V,
        g: A::V,
        s: &mut [A::V],
    ) -> A::V {
        let hv = |k: usize| h[k].clone();
        match self {
            Optimizer::Sgd { .. } => {
                let d = ar.mul(g, hv(0));
                ar.sub(p, d)
            }
            Optimizer::Momentum { .. } => {
                let old = ar.mul(s[0].clone(), hv(1));
                let new = ar.mul(hv(2), g);
                let m = ar.add(old, new);
                s[0] = m.clone();
                let d = ar.mul(m, hv(0));
                ar.sub(p, d)
            }
            Optimizer::Rmsprop { .. } => {
                // The step with the previous row's `s`, then the new `s`.
                let gl = ar.mul(g.clone(), hv(0));
                let root = ar.sqrt(s[0].clone());
                let d = ar.div(gl, root);
                let p = ar.sub(p, d);
                let old = ar.mul(s[0].clone(), hv(1));
                let gg = ar.mul(g.clone(), g);
                let new = ar.mul(hv(2), gg);
                s[0] = ar.add(old, new);
                p
            }
            Optimizer::Adam { .. } => {
                let old = ar.mul(s[0].clone(), hv(1));
                let new = ar.mul(hv(3), g.clone());
                let m = ar.add(old, new);
                s[0] = m.clone();
                let old = ar.mul(s[1].clone(), hv(2));
                let gg = ar.mul(g.clone(), g);
                let new = ar.mul(hv(4), gg);
                let v = ar.add(old, new);
                s[1] = v.clone();
                let ml = ar.mul(m, hv(0));
                let root = ar.sqrt(v);
                let d = ar.div(ml, root);
                ar.sub(p, d)
            }
            _ => p,
        }
    }

    /// Workbook SGD.
    pub fn sgd(lr: f64) -> Optimizer {
        Optimizer::Sgd { lr }
    }
    /// `torch.optim.Adam` with PyTorch's defaults and this learning rate.
    pub fn torch_adam(lr: f64) -> Optimizer {
        Optimizer::TorchAdam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            decoupled: false,
        }
    }

    /// Builds an optimizer from its name and hyperparameters, with each convention's
    /// defaults (the table of [`crate::rules`]): the workbooks' (lr 1e-4 for SGD and
    /// momentum, β 0.9, ...) and PyTorch's (Adam lr 1e-3, betas (0.9, 0.999), eps 1e-8;
    /// RMSprop lr 1e-2, alpha 0.99, eps 1e-8; Adagrad lr 1e-2, eps 1e-10; AdamW
    /// weight_decay 1e-2).
    ///
    /// # Errors
    ///
    /// [`OptimizerError`] for an unknown name (with the nearest known one), a setting the
    /// rule does not have (naming the rules that have it), or a value out of range (a
    /// negative learning rate, a β outside [0, 1), a negative ε).
    ///
    /// # Examples
    ///
    /// ```
    /// use gradsheet_train::{Hyper, Optimizer};
    /// let opt = Optimizer::from_name("momentum", &Hyper::new().with("lr", 1e-4)).unwrap();
    /// assert_eq!(opt, Optimizer::Momentum { lr: 1e-4, beta: 0.9 });
    /// assert!(Optimizer::from_name("adma", &Hyper::new()).unwrap_err().to_string().contains("adam"));
    /// ```
    pub fn from_name(name: &str, h: &Hyper) -> Result<Optimizer, OptimizerError> {
        rules::find(name)?.build(h)
    }

    /// Checks every hyperparameter against its range in the rule's table, and the one
    /// rule between them (torch's Nesterov momentum needs momentum and no dampening).
    ///
    /// # Errors
    ///
    /// [`OptimizerError::Invalid`] naming the value at fault.
    pub fn validate(&self) -> Result<(), OptimizerError> {
        let rule = self.rule();
        // (The values are in the table's order, key for key: tested in `rules`. A map
        // checks each of its thousands of cells' settings.)
        for (h, (key, v)) in rule.hypers.iter().zip(self.hyper_values()) {
            debug_assert_eq!(h.key, key, "the table's order");
            if !h.range.contains(v) {
                return Err(OptimizerError::Invalid {
                    key: h.key,
                    field: h.key.to_string(),
                    message: format!(
                        "{} = {v} is invalid: it must be {}",
                        h.symbol,
                        h.range.describe()
                    ),
                });
            }
        }
        if let Optimizer::TorchSgd {
            momentum,
            dampening,
            nesterov: true,
            ..
        } = *self
        {
            if momentum <= 0.0 || dampening != 0.0 {
                return Err(OptimizerError::Invalid {
                    key: "nesterov",
                    field: "nesterov".into(),
                    message: "nesterov momentum requires a momentum > 0 and zero dampening".into(),
                });
            }
        }
        Ok(())
    }

    /// The rule's entry in the table: its name, label, hyperparameters and state.
    pub fn rule(&self) -> &'static Rule {
        match self {
            Optimizer::Sgd { .. } => &rules::SGD,
            Optimizer::Momentum { .. } => &rules::MOMENTUM,
            Optimizer::Rmsprop { .. } => &rules::RMSPROP,
            Optimizer::Adam { .. } => &rules::ADAM,
            Optimizer::Adagrad { .. } => &rules::ADAGRAD,
            Optimizer::TorchSgd { .. } => &rules::TORCH_SGD,
            Optimizer::TorchAdagrad { .. } => &rules::TORCH_ADAGRAD,
            Optimizer::TorchRmsprop { .. } => &rules::TORCH_RMSPROP,
            Optimizer::TorchAdam {
                decoupled: false, ..
            } => &rules::TORCH_ADAM,
            Optimizer::TorchAdam {
                decoupled: true, ..
            } => &rules::TORCH_ADAMW,
        }
    }

    /// The canonical name (one of [`rules::RULES`]).
    pub fn name(&self) -> &'static str {
        self.rule().name
    }

    /// Which convention the rule follows.
    pub fn convention(&self) -> Convention {
        self.rule().convention
    }

    /// Every hyperparameter's value by key, in the order of the rule's table (a switch
    /// as 0 or 1).
    pub fn hyper_values(&self) -> HyperValues {
        let on = |b: bool| f64::from(u8::from(b));
        match *self {
            Optimizer::Sgd { lr } => HyperValues::of(&[("lr", lr)]),
            Optimizer::Momentum { lr, beta } | Optimizer::Rmsprop { lr, beta } => {
                HyperValues::of(&[("lr", lr), ("beta", beta)])
            }
            Optimizer::Adam { lr, beta1, beta2 } => {
                HyperValues::of(&[("lr", lr), ("beta1", beta1), ("beta2", beta2)])
            }
            Optimizer::Adagrad { lr, r0 } => HyperValues::of(&[("lr", lr), ("r0", r0)]),
            Optimizer::TorchSgd {
                lr,
                momentum,
                dampening,
                weight_decay,
                nesterov,
            } => HyperValues::of(&[
                ("lr", lr),
                ("momentum", momentum),
                ("dampening", dampening),
                ("weight_decay", weight_decay),
                ("nesterov", on(nesterov)),
            ]),
            Optimizer::TorchAdagrad {
                lr,
                lr_decay,
                weight_decay,
                initial_accumulator_value,
                eps,
            } => HyperValues::of(&[
                ("lr", lr),
                ("lr_decay", lr_decay),
                ("weight_decay", weight_decay),
                ("initial_accumulator_value", initial_accumulator_value),
                ("eps", eps),
            ]),
            Optimizer::TorchRmsprop {
                lr,
                alpha,
                eps,
                weight_decay,
                momentum,
                centered,
            } => HyperValues::of(&[
                ("lr", lr),
                ("alpha", alpha),
                ("eps", eps),
                ("weight_decay", weight_decay),
                ("momentum", momentum),
                ("centered", on(centered)),
            ]),
            Optimizer::TorchAdam {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
                amsgrad,
                ..
            } => HyperValues::of(&[
                ("lr", lr),
                ("beta1", beta1),
                ("beta2", beta2),
                ("eps", eps),
                ("weight_decay", weight_decay),
                ("amsgrad", on(amsgrad)),
            ]),
        }
    }

    /// The number behind the key `key` as the rule's table spells it ([`Rule::hypers`]),
    /// to set in place; `None` for a switch (`nesterov`, `centered`, `amsgrad`: set those
    /// through [`Rule::rebuild`]) or a key the rule lacks. Values set here are unchecked
    /// until [`Optimizer::validate`].
    ///
    /// A stability map sets one or two of these in each of its thousands of cells:
    /// rebuilding the optimizer from its values by key cost a few times more.
    ///
    /// ```
    /// use gradsheet_train::Optimizer;
    /// let mut opt = Optimizer::Momentum { lr: 0.1, beta: 0.9 };
    /// *opt.hyper_mut("beta").unwrap() = 0.5;
    /// assert_eq!(opt, Optimizer::Momentum { lr: 0.1, beta: 0.5 });
    /// assert!(opt.hyper_mut("beta1").is_none()); // an alias, not the table's key
    /// ```
    ///
    /// [`Rule::hypers`]: crate::rules::Rule::hypers
    /// [`Rule::rebuild`]: crate::rules::Rule::rebuild
    pub fn hyper_mut(&mut self, key: &str) -> Option<&mut f64> {
        if key == "lr" {
            return Some(self.lr_mut());
        }
        match (self, key) {
            (Optimizer::Momentum { beta, .. } | Optimizer::Rmsprop { beta, .. }, "beta") => {
                Some(beta)
            }
            (Optimizer::Adam { beta1, .. } | Optimizer::TorchAdam { beta1, .. }, "beta1") => {
                Some(beta1)
            }
            (Optimizer::Adam { beta2, .. } | Optimizer::TorchAdam { beta2, .. }, "beta2") => {
                Some(beta2)
            }
            (Optimizer::Adagrad { r0, .. }, "r0") => Some(r0),
            (
                Optimizer::TorchSgd { momentum, .. } | Optimizer::TorchRmsprop { momentum, .. },
                "momentum",
            ) => Some(momentum),
            (Optimizer::TorchSgd { dampening, .. }, "dampening") => Some(dampening),
            (
                Optimizer::TorchSgd { weight_decay, .. }
                | Optimizer::TorchAdagrad { weight_decay, .. }
                | Optimizer::TorchRmsprop { weight_decay, .. }
                | Optimizer::TorchAdam { weight_decay, .. },
                "weight_decay",
            ) => Some(weight_decay),
            (Optimizer::TorchAdagrad { lr_decay, .. }, "lr_decay") => Some(lr_decay),
            (
                Optimizer::TorchAdagrad {
                    initial_accumulator_value,
                    ..
                },
                "initial_accumulator_value",
            ) => Some(initial_accumulator_value),
            (
                Optimizer::TorchAdagrad { eps, .. }
                | Optimizer::TorchRmsprop { eps, .. }
                | Optimizer::TorchAdam { eps, .. },
                "eps",
            ) => Some(eps),
            (Optimizer::TorchRmsprop { alpha, .. }, "alpha") => Some(alpha),
            _ => None,
        }
    }

    /// The value of the hyperparameter `name` (a key or an alias), if the rule has it.
    pub fn get(&self, name: &str) -> Option<f64> {
        let key = self.rule().hyper(name)?.key;
        self.hyper_values()
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    /// This optimizer with the hyperparameter `name` set to `v`, checked.
    ///
    /// # Errors
    ///
    /// [`OptimizerError::NotApplicable`] if the rule has no such setting,
    /// [`OptimizerError::Invalid`] for a value out of range.
    pub fn with(&self, name: &str, v: f64) -> Result<Optimizer, OptimizerError> {
        let rule = self.rule();
        let mut h = Hyper::new();
        for (k, x) in self.hyper_values() {
            h.set(k, x);
        }
        let key = rule
            .hyper(name)
            .ok_or_else(|| OptimizerError::NotApplicable {
                setting: name.to_string(),
                rule: rule.name,
                rules: rules::rules_with(name),
            })?
            .key;
        h.set(key, v);
        rule.build(&h)
    }

    /// The learning rate.
    pub fn lr(&self) -> f64 {
        match *self {
            Optimizer::Sgd { lr }
            | Optimizer::Momentum { lr, .. }
            | Optimizer::Rmsprop { lr, .. }
            | Optimizer::Adam { lr, .. }
            | Optimizer::Adagrad { lr, .. }
            | Optimizer::TorchSgd { lr, .. }
            | Optimizer::TorchAdagrad { lr, .. }
            | Optimizer::TorchRmsprop { lr, .. }
            | Optimizer::TorchAdam { lr, .. } => lr,
        }
    }

    /// Sets the learning rate (used by annealing and by sweeps).
    pub fn set_lr(&mut self, new: f64) {
        *self.lr_mut() = new;
    }

    /// The learning rate, to set in place (every rule has one).
    fn lr_mut(&mut self) -> &mut f64 {
        match self {
            Optimizer::Sgd { lr }
            | Optimizer::Momentum { lr, .. }
            | Optimizer::Rmsprop { lr, .. }
            | Optimizer::Adam { lr, .. }
            | Optimizer::Adagrad { lr, .. }
            | Optimizer::TorchSgd { lr, .. }
            | Optimizer::TorchAdagrad { lr, .. }
            | Optimizer::TorchRmsprop { lr, .. }
            | Optimizer::TorchAdam { lr, .. } => lr,
        }
    }

    /// The names of the state variables, in storage order.
    pub fn state_vars(&self) -> &'static [&'static str] {
        match *self {
            Optimizer::Sgd { .. } => &[],
            Optimizer::Momentum { .. } => &["m"],
            Optimizer::Rmsprop { .. } => &["s"],
            Optimizer::Adam { .. } => &["m", "s"],
            // `r` is the rate divisor of this epoch; `sq` accumulates Σg² for the next.
            Optimizer::Adagrad { .. } => &["r", "sq"],
            Optimizer::TorchSgd { momentum, .. } => {
                if momentum != 0.0 {
                    &["buf"]
                } else {
                    &[]
                }
            }
            Optimizer::TorchAdagrad { .. } => &["sum"],
            Optimizer::TorchRmsprop {
                momentum, centered, ..
            } => match (momentum > 0.0, centered) {
                (false, false) => &["square_avg"],
                (true, false) => &["square_avg", "buf"],
                (false, true) => &["square_avg", "grad_avg"],
                (true, true) => &["square_avg", "buf", "grad_avg"],
            },
            Optimizer::TorchAdam { amsgrad, .. } => {
                if amsgrad {
                    &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
                } else {
                    &["exp_avg", "exp_avg_sq"]
                }
            }
        }
    }

    /// One update of every parameter from its gradient. Allocates nothing.
    ///
    /// Over many parameters (an embedding table's) the loops run at the machine's
    /// vector width when the host has AVX-512 or AVX2, chosen at run time: every rule
    /// is elementwise, with no fused multiply-add (Rust never contracts on its own), so
    /// the wider copy gives the same bits as the portable one.
    #[inline]
    pub fn step(&self, params: &mut [f64], grads: &[f64], st: &mut State) {
        /// The step as work for [`on_host_width`].
        struct Dense<'a>(&'a Optimizer, &'a mut [f64], &'a [f64], &'a mut State);
        impl Wide for Dense<'_> {
            #[inline(always)]
            fn run(self) {
                self.0.step_portable(self.1, self.2, self.3);
            }
        }
        if params.len() >= WIDE_MIN {
            on_host_width(Dense(self, params, grads, st));
        } else {
            self.step_portable(params, grads, st);
        }
    }

    #[inline(always)]
    fn step_portable(&self, params: &mut [f64], grads: &[f64], st: &mut State) {
        st.t += 1;
        let n = params.len();
        let t = st.t;
        let vals = &mut st.values;
        match *self {
            Optimizer::Sgd { .. }
            | Optimizer::Momentum { .. }
            | Optimizer::Rmsprop { .. }
            | Optimizer::Adam { .. } => {
                // One home for these rules' arithmetic: `workbook_update`, which the
                // stability maps' kernels in lanes run too.
                let mut h = [0.0; WORKBOOK_HYPERS];
                self.workbook_hypers(&mut h);
                let ns = vals.len() / n.max(1);
                let mut s = [0.0; 2];
                for i in 0..n {
                    for (k, v) in s.iter_mut().enumerate().take(ns) {
                        *v = vals[k * n + i];
                    }
                    params[i] = self.workbook_update(&mut F64, &h, params[i], grads[i], &mut s);
                    for (k, v) in s.iter().enumerate().take(ns) {
                        vals[k * n + i] = *v;
                    }
                }
            }
            Optimizer::Adagrad { lr, .. } => {
                let (r, sq) = vals.split_at_mut(n);
                for i in 0..n {
                    let g = grads[i];
                    // The sheet's F2 = lr/F1 is its own cell: the rate is rounded once.
                    let rate = lr / r[i];
                    params[i] -= g * rate;
                    sq[i] += g * g;
                }
            }
            Optimizer::TorchSgd {
                lr,
                momentum,
                dampening,
                weight_decay,
                nesterov,
            } => {
                for i in 0..n {
                    let mut d = grads[i];
                    if weight_decay != 0.0 {
                        d += weight_decay * params[i];
                    }
                    if momentum != 0.0 {
                        let buf = if t == 1 {
                            d
                        } else {
                            vals[i] * momentum + (1.0 - dampening) * d
                        };
                        vals[i] = buf;
                        d = if nesterov { d + momentum * buf } else { buf };
                    }
                    params[i] += -lr * d;
                }
            }
            Optimizer::TorchAdagrad {
                lr,
                lr_decay,
                weight_decay,
                eps,
                ..
            } => {
                let clr = lr / (1.0 + (t - 1) as f64 * lr_decay);
                for i in 0..n {
                    let mut g = grads[i];
                    if weight_decay != 0.0 {
                        g += weight_decay * params[i];
                    }
                    vals[i] += g * g;
                    let std = vals[i].sqrt() + eps;
                    params[i] += -clr * g / std;
                }
            }
            Optimizer::TorchRmsprop {
                lr,
                alpha,
                eps,
                weight_decay,
                momentum,
                centered,
            } => {
                let has_buf = momentum > 0.0;
                let ga_k = if has_buf { 2 } else { 1 };
                for i in 0..n {
                    let mut g = grads[i];
                    if weight_decay != 0.0 {
                        g += weight_decay * params[i];
                    }
                    let sq = vals[i] * alpha + (1.0 - alpha) * g * g;
                    vals[i] = sq;
                    let avg = if centered {
                        let k = ga_k * n + i;
                        // torch: grad_avg.lerp_(grad, 1 - alpha)
                        let ga = lerp(vals[k], g, 1.0 - alpha);
                        vals[k] = ga;
                        (sq - ga * ga).sqrt() + eps
                    } else {
                        sq.sqrt() + eps
                    };
                    if has_buf {
                        let b = vals[n + i] * momentum + g / avg;
                        vals[n + i] = b;
                        params[i] += -lr * b;
                    } else {
                        params[i] += -lr * g / avg;
                    }
                }
            }
            Optimizer::TorchAdam {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
                amsgrad,
                decoupled,
            } => {
                // Python computes 1 - beta**step with a correctly rounded pow, not powi.
                let bc1 = 1.0 - beta1.powf(t as f64);
                let bc2 = 1.0 - beta2.powf(t as f64);
                let k = AdamStep {
                    lr,
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                    step_size: lr / bc1,
                    bc2_sqrt: bc2.sqrt(),
                };
                // The options become constants of the loop: the usual case (no decay, no
                // AMSGrad) is then a loop without branches, which LLVM vectorises (twice
                // as fast over collab's 134k parameters as with the tests inside).
                match (decoupled, weight_decay != 0.0, amsgrad) {
                    (true, _, false) => k.run::<DECOUPLED, false>(params, grads, vals),
                    (true, _, true) => k.run::<DECOUPLED, true>(params, grads, vals),
                    (false, true, false) => k.run::<L2, false>(params, grads, vals),
                    (false, true, true) => k.run::<L2, true>(params, grads, vals),
                    (false, false, false) => k.run::<NO_DECAY, false>(params, grads, vals),
                    (false, false, true) => k.run::<NO_DECAY, true>(params, grads, vals),
                }
            }
        }
    }

    /// Work done at the end of an epoch of `n_rows` steps: the workbook adagrad's rates
    /// for the next epoch, `r ← sqrt(Σg²)/n`. Other optimizers do nothing.
    #[inline]
    pub fn end_epoch(&self, st: &mut State, n_rows: usize) {
        if let Optimizer::Adagrad { .. } = self {
            let n = st.n;
            let (r, sq) = st.values.split_at_mut(n);
            for i in 0..n {
                r[i] = sq[i].sqrt() / n_rows as f64;
                sq[i] = 0.0;
            }
        }
    }
}

/// An optimizer's hyperparameters by key, in its table's order
/// ([`Optimizer::hyper_values`]): a slice of pairs kept inline, not on the heap (a
/// stability map makes and checks each of its thousands of cells' settings by them).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HyperValues {
    pairs: [(&'static str, f64); HyperValues::MAX],
    len: usize,
}

impl HyperValues {
    /// The most hyperparameters a rule has.
    pub const MAX: usize = 8;

    fn of(pairs: &[(&'static str, f64)]) -> HyperValues {
        let mut out = HyperValues {
            pairs: [("", 0.0); HyperValues::MAX],
            len: pairs.len(),
        };
        out.pairs[..pairs.len()].copy_from_slice(pairs);
        out
    }
}

impl std::ops::Deref for HyperValues {
    type Target = [(&'static str, f64)];
    fn deref(&self) -> &Self::Target {
        &self.pairs[..self.len]
    }
}

impl std::ops::DerefMut for HyperValues {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.pairs[..self.len]
    }
}

impl IntoIterator for HyperValues {
    type Item = (&'static str, f64);
    type IntoIter =
        std::iter::Take<std::array::IntoIter<(&'static str, f64), { HyperValues::MAX }>>;
    fn into_iter(self) -> Self::IntoIter {
        self.pairs.into_iter().take(self.len)
    }
}

/// `torch.optim.SparseAdam`: Adam for embedding tables whose gradient is sparse — only
/// the entries a batch touched move, and only their moments decay; the others keep
/// their values and state untouched (a lazy Adam). A step costs the batch's entries,
/// not the tables': what lets matrix factorisation scale to MovieLens-25M.
///
/// Not a rule of [`Optimizer`]: per-sample and mini-batch training of a formula have
/// dense gradients, where "the entries a batch touched" means every parameter.
///
/// # Examples
///
/// ```
/// use gradsheet_train::optim::SparseAdam;
/// let adam = SparseAdam::torch(0.01);
/// let mut st = adam.state(3);
/// let mut p = [0.0, 0.0, 0.0];
/// // Only entry 1 has a gradient: entries 0 and 2 do not move.
/// adam.step(&mut p, &[0.0, 0.5, 0.0], &[1..2], &mut st);
/// assert_eq!((p[0], p[2]), (0.0, 0.0));
/// // Adam's first step is the learning rate, against the gradient's sign.
/// assert!((p[1] + 0.01).abs() < 1e-8);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SparseAdam {
    /// Learning rate.
    pub lr: f64,
    /// First moment's decay.
    pub beta1: f64,
    /// Second moment's decay.
    pub beta2: f64,
    /// Added to the denominator.
    pub eps: f64,
}

impl SparseAdam {
    /// torch's defaults (β1 0.9, β2 0.999, ε 1e-8) with learning rate `lr`.
    pub fn torch(lr: f64) -> SparseAdam {
        SparseAdam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }

    /// The zero state for `n` entries: `exp_avg`, `exp_avg_sq`.
    pub fn state(&self, n: usize) -> State {
        State {
            vars: &["exp_avg", "exp_avg_sq"],
            values: vec![0.0; 2 * n],
            n,
            t: 0,
        }
    }

    /// One step: the entries of each range in `touched` (no entry twice) move by their
    /// gradients in `grads`; the step count advances for the whole table, as torch's
    /// does for a parameter with a gradient. In torch's operation order
    /// (`torch.optim._functional.sparse_adam`): `m += (g − m)(1 − β1)`,
    /// `v += (g² − v)(1 − β2)`, and `p += −(lr·√(1 − β2ᵗ)/(1 − β1ᵗ)) · (m / (√v + ε))`.
    /// Each range (a table's row) runs at the machine's vector width where the host has
    /// AVX-512 or AVX2: elementwise, unfused, so the bits are the same.
    ///
    /// # Panics
    ///
    /// If a range goes past the tables.
    pub fn step(
        &self,
        params: &mut [f64],
        grads: &[f64],
        touched: &[std::ops::Range<usize>],
        st: &mut State,
    ) {
        self.step_rows(params, grads, touched, st);
    }

    /// As [`SparseAdam::step`], with the gradients packed: each touched range of
    /// `params` comes with where its gradient starts in `grads` (the same length), so
    /// that a batch's gradient can live in a buffer the size of the batch's rows rather
    /// than one the size of the tables (which, scattered over tables larger than the
    /// caches, costs a miss per line). The same bits as [`SparseAdam::step`] over the
    /// gradient unpacked.
    ///
    /// # Panics
    ///
    /// If a range goes past the tables or its gradient past `grads`.
    pub fn step_packed(
        &self,
        params: &mut [f64],
        grads: &[f64],
        touched: &[(std::ops::Range<usize>, usize)],
        st: &mut State,
    ) {
        self.step_rows(params, grads, touched, st);
    }

    fn step_rows<R: Row>(&self, params: &mut [f64], grads: &[f64], touched: &[R], st: &mut State) {
        st.t += 1;
        let t = st.t as f64;
        // Python's `1 - beta ** step`, a correctly rounded pow.
        let bc1 = 1.0 - self.beta1.powf(t);
        let bc2 = 1.0 - self.beta2.powf(t);
        let step_size = self.lr * bc2.sqrt() / bc1;
        let (m, v) = st.values.split_at_mut(st.n);
        /// The rows' updates as work for [`on_host_width`].
        struct Rows<'a, R> {
            adam: &'a SparseAdam,
            step_size: f64,
            p: &'a mut [f64],
            g: &'a [f64],
            rows: &'a [R],
            m: &'a mut [f64],
            v: &'a mut [f64],
        }
        impl<R: Row> Wide for Rows<'_, R> {
            #[inline(always)]
            fn run(self) {
                let Rows {
                    adam,
                    step_size,
                    p,
                    g,
                    rows,
                    m,
                    v,
                } = self;
                adam.rows(step_size, p, g, rows, m, v);
            }
        }
        on_host_width(Rows {
            adam: self,
            step_size,
            p: params,
            g: grads,
            rows: touched,
            m,
            v,
        });
    }

    #[inline(always)]
    fn rows<R: Row>(
        &self,
        step_size: f64,
        p: &mut [f64],
        g: &[f64],
        rows: &[R],
        m: &mut [f64],
        v: &mut [f64],
    ) {
        let (w1, w2) = (1.0 - self.beta1, 1.0 - self.beta2);
        // The rows are scattered over tables larger than the caches: each turn asks for
        // every line of the row a few turns ahead (a 50-factor row is 400 bytes, 7 or 8
        // lines), so that their loads overlap. The gradient is not asked for: the batch
        // has just written it. A long run (a whole table as one range) is asked for up
        // to its first `REACH` entries: the processor's own prefetching follows a run.
        const AHEAD: usize = 4;
        const REACH: usize = 128;
        for (j, row) in rows.iter().enumerate() {
            if let Some(next) = rows.get(j + AHEAD) {
                let next = next.params();
                let next = next.start..next.end.min(next.start.saturating_add(REACH));
                prefetch_lines(m, next.clone());
                prefetch_lines(v, next.clone());
                prefetch_lines(p, next);
            }
            let r = row.params();
            let at = row.grad_at();
            let g = &g[at..at + r.len()];
            let rows = p[r.clone()].iter_mut().zip(g);
            for ((p, &g), (m, v)) in rows.zip(m[r.clone()].iter_mut().zip(&mut v[r])) {
                let (m_old, v_old) = (*m, *v);
                let dm = (g - m_old) * w1;
                *m = m_old + dm;
                let dv = (g * g - v_old) * w2;
                *v = v_old + dv;
                let numer = dm + m_old;
                let denom = (dv + v_old).sqrt() + self.eps;
                *p += -step_size * (numer / denom);
            }
        }
    }
}

/// A touched row for [`SparseAdam`]: its entries, and where its gradient starts.
trait Row {
    fn params(&self) -> Range;
    fn grad_at(&self) -> usize;
}

/// A row whose gradient sits at the same entries (the gradient as large as the tables).
impl Row for Range {
    #[inline(always)]
    fn params(&self) -> Range {
        self.clone()
    }
    #[inline(always)]
    fn grad_at(&self) -> usize {
        self.start
    }
}

/// A row with its gradient packed elsewhere.
impl Row for (Range, usize) {
    #[inline(always)]
    fn params(&self) -> Range {
        self.0.clone()
    }
    #[inline(always)]
    fn grad_at(&self) -> usize {
        self.1
    }
}

/// Work whose loops are to run at the host's vector width ([`on_host_width`]). `run`
/// must be `#[inline(always)]`, so that each copy of the caller compiles it for its own
/// instruction set.
trait Wide {
    fn run(self);
}

/// Runs `work` compiled for AVX-512 or AVX2 when the host has them (chosen at run time),
/// else for the baseline. Elementwise loops without fused multiply-adds (Rust never
/// contracts on its own) give the same bits in every copy.
#[inline]
fn on_host_width(work: impl Wide) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2")]
        unsafe fn avx512(work: impl Wide) {
            work.run();
        }
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(work: impl Wide) {
            work.run();
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the host has AVX-512F (checked just above).
            return unsafe { avx512(work) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the host has AVX2 (checked just above).
            return unsafe { avx2(work) };
        }
    }
    work.run();
}

/// A run of entries of a table (a row).
type Range = std::ops::Range<usize>;

/// Asks the processor to bring `s[i]` into its caches (a hint: nothing else happens,
/// and nothing at all where `i` is out of bounds or the target has no such hint). For
/// loops over entries scattered across tables larger than the caches.
#[inline(always)]
pub fn prefetch<T>(s: &[T], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(x) = s.get(i) {
        // SAFETY: a prefetch reads nothing the program sees and cannot fault; the
        // pointer is to a live element anyway.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                (x as *const T).cast::<i8>(),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (s, i);
}

/// As [`prefetch`] for every cache line of `s[r]` (nothing where the range is out of
/// bounds): a row of a table spans several lines, and only the first would come with a
/// single hint.
#[inline(always)]
pub fn prefetch_lines<T>(s: &[T], r: std::ops::Range<usize>) {
    #[cfg(target_arch = "x86_64")]
    if let Some(x) = s.get(r) {
        let (bytes, start) = (std::mem::size_of_val(x), x.as_ptr().cast::<i8>());
        let lead = start as usize % 64;
        // From the line holding the first byte to the one holding the last.
        let line = start.wrapping_sub(lead);
        let mut off = 0;
        while bytes > 0 && off < lead + bytes {
            // SAFETY: as `prefetch`'s; the address is in the line of a live byte
            // (`wrapping_add` makes no claim that it is in bounds).
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    line.wrapping_add(off),
                );
            }
            off += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (s, r);
}

/// From this many parameters on, [`Optimizer::step`] runs its wide copy (below it, the
/// per-sample training loop's few parameters, the call would cost more than it saves).
const WIDE_MIN: usize = 64;

/// `torch.optim.Adam`'s kinds of weight decay, as constants of [`AdamStep::run`].
const NO_DECAY: u8 = 0;
const DECOUPLED: u8 = 1;
const L2: u8 = 2;

/// One `torch.optim.Adam` step's numbers (the bias corrections of step `t` included).
struct AdamStep {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    step_size: f64,
    bc2_sqrt: f64,
}

impl AdamStep {
    /// The update of every parameter, in torch's operation order. `vals` holds `m`, then
    /// `v`, then (AMSGrad) the largest `v`, `n` values each.
    #[inline(always)]
    fn run<const DECAY: u8, const AMSGRAD: bool>(
        &self,
        params: &mut [f64],
        grads: &[f64],
        vals: &mut [f64],
    ) {
        let n = params.len();
        for i in 0..n {
            let mut g = grads[i];
            if DECAY == DECOUPLED {
                params[i] *= 1.0 - self.lr * self.weight_decay;
            } else if DECAY == L2 {
                g += self.weight_decay * params[i];
            }
            let m = lerp(vals[i], g, 1.0 - self.beta1);
            vals[i] = m;
            let v = vals[n + i] * self.beta2 + (1.0 - self.beta2) * g * g;
            vals[n + i] = v;
            let v_used = if AMSGRAD {
                // `max` spelled out: `f64::max` leaves the sign of `max(-0, +0)` to the
                // platform, and the native kernel of gradsheet-jit compiles this very
                // rule (a comparison and a select). It is what x86-64 gives `old.max(v)`:
                // `v` if it is greater or the old maximum is NaN, else the old maximum.
                let old = vals[2 * n + i];
                let mx = if v > old || old.is_nan() { v } else { old };
                vals[2 * n + i] = mx;
                mx
            } else {
                v
            };
            let denom = v_used.sqrt() / self.bc2_sqrt + self.eps;
            params[i] += -self.step_size * m / denom;
        }
    }
}

/// ATen's `lerp`, as `exp_avg.lerp_(grad, 1-β1)` computes it: `a + w*(b-a)` for
/// `|w| < 0.5`, else `b - (b-a)*(1-w)`.
#[inline(always)]
pub fn lerp(a: f64, b: f64, w: f64) -> f64 {
    if w.abs() < 0.5 {
        a + w * (b - a)
    } else {
        b - (b - a) * (1.0 - w)
    }
}

impl fmt::Display for Optimizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = crate::fmt_num;
        match *self {
            Optimizer::Sgd { lr } => write!(f, "sgd (lr {})", g(lr)),
            Optimizer::Momentum { lr, beta } => write!(f, "momentum (lr {}, β {})", g(lr), g(beta)),
            Optimizer::Rmsprop { lr, beta } => write!(f, "rmsprop (lr {}, β {})", g(lr), g(beta)),
            Optimizer::Adam { lr, beta1, beta2 } => {
                write!(f, "adam (lr {}, β1 {}, β2 {})", g(lr), g(beta1), g(beta2))
            }
            Optimizer::Adagrad { lr, .. } => write!(f, "adagrad (lr {})", g(lr)),
            Optimizer::TorchSgd { lr, momentum, dampening, weight_decay, nesterov } => write!(
                f,
                "torch-sgd (lr {}, momentum {}, dampening {}, weight_decay {}, nesterov {nesterov})",
                g(lr),
                g(momentum),
                g(dampening),
                g(weight_decay)
            ),
            Optimizer::TorchAdagrad { lr, lr_decay, weight_decay, initial_accumulator_value, eps } => {
                write!(
                    f,
                    "torch-adagrad (lr {}, lr_decay {}, weight_decay {}, initial_accumulator_value {}, eps {})",
                    g(lr),
                    g(lr_decay),
                    g(weight_decay),
                    g(initial_accumulator_value),
                    g(eps)
                )
            }
            Optimizer::TorchRmsprop { lr, alpha, eps, weight_decay, momentum, centered } => write!(
                f,
                "torch-rmsprop (lr {}, alpha {}, eps {}, weight_decay {}, momentum {}, centered {centered})",
                g(lr),
                g(alpha),
                g(eps),
                g(weight_decay),
                g(momentum)
            ),
            Optimizer::TorchAdam { lr, beta1, beta2, eps, weight_decay, amsgrad, .. } => write!(
                f,
                "{} (lr {}, betas ({}, {}), eps {}, weight_decay {}, amsgrad {amsgrad})",
                self.name(),
                g(lr),
                g(beta1),
                g(beta2),
                g(eps),
                g(weight_decay)
            ),
        }
    }
}

#[cfg(test)]
// `&[2..5]` is a list of one row here, not a range in a list by mistake.
#[allow(clippy::single_range_in_vec_init)]
mod sparse_tests {
    use super::*;

    /// Textbook Adam with ε = 0 (where torch's SparseAdam and the textbook agree: they
    /// place ε differently), for one entry over its own steps at the table's counts.
    fn textbook(grads: &[(u64, f64)], lr: f64) -> f64 {
        let (b1, b2) = (0.9f64, 0.999f64);
        let (mut p, mut m, mut v) = (0.0f64, 0.0f64, 0.0f64);
        for &(t, g) in grads {
            m = b1 * m + (1.0 - b1) * g;
            v = b2 * v + (1.0 - b2) * g * g;
            let m_hat = m / (1.0 - b1.powf(t as f64));
            let v_hat = v / (1.0 - b2.powf(t as f64));
            p -= lr * m_hat / v_hat.sqrt();
        }
        p
    }

    #[test]
    fn only_touched_rows_move_and_decay() {
        let adam = SparseAdam {
            eps: 0.0,
            ..SparseAdam::torch(0.05)
        };
        let n = 10;
        let mut st = adam.state(n);
        let mut p = vec![0.0; n];
        // Three steps of the table; entries 2..5 are touched at steps 1 and 3 only,
        // entry 7 at step 2 only: a lazy Adam decays a moment only when it is touched.
        let g1: Vec<f64> = (0..n).map(|i| 0.3 + i as f64 * 0.1).collect();
        adam.step(&mut p, &g1, &[2..5], &mut st);
        adam.step(&mut p, &vec![-0.7; n], &[7..8], &mut st);
        adam.step(&mut p, &vec![0.2; n], &[2..5], &mut st);
        for i in [0, 1, 5, 6, 8, 9] {
            assert_eq!(
                (p[i], st.values[i], st.values[n + i]),
                (0.0, 0.0, 0.0),
                "entry {i}"
            );
        }
        for i in 2..5 {
            let want = textbook(&[(1, g1[i]), (3, 0.2)], 0.05);
            assert!((p[i] - want).abs() < 1e-15, "entry {i}: {} vs {want}", p[i]);
        }
        let want = textbook(&[(2, -0.7)], 0.05);
        assert!((p[7] - want).abs() < 1e-15, "{} vs {want}", p[7]);
        assert_eq!(st.t, 3);
    }

    #[test]
    fn wide_rows_give_the_bits_of_one_entry_at_a_time() {
        // A row of 37 entries (vectors and a remainder) against each entry alone.
        let adam = SparseAdam::torch(0.01);
        let n = 40;
        let g: Vec<f64> = (0..n)
            .map(|i| ((i * 7919) % 23) as f64 / 7.0 - 1.5)
            .collect();
        let (mut a, mut b) = (vec![0.5; n], vec![0.5; n]);
        let (mut sa, mut sb) = (adam.state(n), adam.state(n));
        let singles: Vec<_> = (1..38).map(|i| i..i + 1).collect();
        for _ in 0..3 {
            adam.step(&mut a, &g, &[1..38], &mut sa);
            adam.step(&mut b, &g, &singles, &mut sb);
        }
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b));
        assert_eq!(bits(&sa.values), bits(&sb.values));
    }

    #[test]
    fn packed_gradients_give_the_bits_of_the_unpacked() {
        // Rows of a table of 60 (a 7-entry row, one of 13, a bias), their gradients
        // packed in another order in a buffer of their own.
        let adam = SparseAdam::torch(0.01);
        let n = 60;
        let rows = [3..10, 40..53, 57..58];
        let at = [14, 0, 13];
        let mut full = vec![0.0; n];
        let mut packed = vec![0.0; 21];
        for (r, &a) in rows.iter().zip(&at) {
            for (j, e) in r.clone().enumerate() {
                let g = ((e * 7919) % 23) as f64 / 7.0 - 1.5;
                full[e] = g;
                packed[a + j] = g;
            }
        }
        let with_at: Vec<_> = rows.iter().cloned().zip(at).collect();
        let (mut a, mut b) = (vec![0.5; n], vec![0.5; n]);
        let (mut sa, mut sb) = (adam.state(n), adam.state(n));
        for _ in 0..3 {
            adam.step(&mut a, &full, &rows, &mut sa);
            adam.step_packed(&mut b, &packed, &with_at, &mut sb);
        }
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b));
        assert_eq!(bits(&sa.values), bits(&sb.values));
        assert_eq!(sa.t, sb.t);
    }

    #[test]
    fn prefetching_lines_out_of_bounds_or_empty_does_nothing() {
        let v = vec![1.0f64; 100];
        prefetch_lines(&v, 0..100);
        prefetch_lines(&v, 37..38);
        prefetch_lines(&v, 50..50);
        prefetch_lines(&v, 90..200);
        #[allow(clippy::reversed_empty_ranges)]
        prefetch_lines(&v, 60..10);
        prefetch_lines::<f64>(&[], 0..0);
        assert_eq!(v.iter().sum::<f64>(), 100.0);
    }
}
