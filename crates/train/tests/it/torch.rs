//! The torch-convention optimizers against torch.optim, step by step.
//!
//! Provenance: `tests/data/torch_reference.py` ran once with PyTorch 2.15 (CPU, float64,
//! `foreach=False`, i.e. the single-tensor for-loop code); its output is
//! `tests/data/torch_reference.txt`. Each step there records the gradient torch used, the
//! parameters after the step and every state tensor. This test feeds the same gradients
//! to [`Optimizer::step`] and compares parameters and state after every step.
//!
//! About a fifth of the values differ in the last bit or two (at most 5e-15 relative):
//! torch's vectorised CPU kernels fuse multiply-adds (`p.add_(g, alpha=-lr)` is computed
//! as fma(-lr, g, p); for instance step 2 of `sgd_plain` gives -0.25 + 0.275 =
//! 0.025000000000000022 unfused but 0.025000000000000015 fused, torch's value), while
//! gradsheet rounds each operation, as Excel does. The tolerance is 1e-12 relative.

use gradsheet_train::{Hyper, Optimizer, State};

const REFERENCE: &str = include_str!("../data/torch_reference.txt");

/// One step: the gradient, then (state name, values) with `params` first.
type Step = (Vec<f64>, Vec<(String, Vec<f64>)>);

struct Case {
    name: String,
    optimizer: Optimizer,
    init: Vec<f64>,
    /// Per step: the gradient, then (state name, values) with `params` first.
    steps: Vec<Step>,
}

fn nums(s: &str) -> Vec<f64> {
    s.split(',')
        .map(|v| v.parse().unwrap_or_else(|_| panic!("bad number {v}")))
        .collect()
}

fn optimizer(name: &str, args: &[&str]) -> Optimizer {
    let mut h = Hyper::new();
    for a in args {
        let (k, v) = a.split_once('=').unwrap();
        // torch's keyword arguments are the table's keys, but for the pair `betas`.
        if k == "betas" {
            let (b1, b2) = v.split_once('/').unwrap();
            h.set("beta1", b1.parse::<f64>().unwrap());
            h.set("beta2", b2.parse::<f64>().unwrap());
        } else if v == "True" || v == "False" {
            h.set(k, v == "True");
        } else {
            h.set(k, v.parse::<f64>().unwrap());
        }
    }
    Optimizer::from_name(name, &h).unwrap_or_else(|e| panic!("{name} {args:?}: {e}"))
}

fn cases() -> Vec<Case> {
    let mut out: Vec<Case> = Vec::new();
    for line in REFERENCE.lines().filter(|l| !l.starts_with('#')) {
        let mut w = line.split_whitespace();
        match w.next() {
            Some("case") => {
                let name = w.next().unwrap().to_string();
                let opt = w.next().unwrap();
                let args: Vec<&str> = w.collect();
                out.push(Case {
                    name,
                    optimizer: optimizer(opt, &args),
                    init: vec![],
                    steps: vec![],
                });
            }
            Some("init") => out.last_mut().unwrap().init = nums(w.next().unwrap()),
            Some("step") => {
                let _n = w.next();
                let mut grad = vec![];
                let mut vals = vec![];
                for f in w {
                    let (k, v) = f.split_once('=').unwrap();
                    if k == "grad" {
                        grad = nums(v);
                    } else {
                        // torch's state names → gradsheet's.
                        let ours = match k {
                            "momentum_buffer" => "buf",
                            other => other,
                        };
                        vals.push((ours.to_string(), nums(v)));
                    }
                }
                out.last_mut().unwrap().steps.push((grad, vals));
            }
            _ => {}
        }
    }
    out
}

#[test]
fn every_torch_optimizer_matches_torch_optim_step_for_step() {
    let cases = cases();
    assert_eq!(cases.len(), 15);
    let mut compared = 0;
    let mut worst: f64 = 0.0;
    for c in &cases {
        let mut p = c.init.clone();
        let mut st = State::new(&c.optimizer, p.len());
        assert_eq!(c.steps.len(), 8, "{}", c.name);
        for (i, (grad, expect)) in c.steps.iter().enumerate() {
            c.optimizer.step(&mut p, grad, &mut st);
            for (name, want) in expect {
                let got: &[f64] = if name == "params" {
                    &p
                } else {
                    let k = st.index(name).unwrap_or_else(|| {
                        panic!("{}: no state '{name}' in {:?}", c.name, st.vars)
                    });
                    st.var(k)
                };
                for (g, w) in got.iter().zip(want) {
                    let rel = (g - w).abs() / w.abs().max(1e-300);
                    worst = worst.max(if g == w { 0.0 } else { rel });
                    assert!(
                        g == w || rel <= 1e-12,
                        "{} step {}: {name} = {g:?}, torch {w:?} (rel {rel:e})",
                        c.name,
                        i + 1
                    );
                    compared += 1;
                }
            }
            // Every state tensor torch keeps is one of ours, and no more.
            assert_eq!(
                expect.len() - 1,
                st.vars.len(),
                "{} state {:?}",
                c.name,
                st.vars
            );
        }
    }
    assert!(compared > 500, "{compared}");
    eprintln!("torch reference: {compared} values compared, worst relative difference {worst:e}");
    assert!(worst <= 1e-12, "worst relative difference {worst:e}");
}
