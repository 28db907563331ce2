//! The workbook-convention rules, per step, on one parameter with hand-computable numbers
//! (powers of two, so every value below is exact and compared with `==`). The same rules
//! are also checked cell by cell against Excel by the golden tests: the graddesc replay
//! computes the momentum, rmsprop, adam and adagrad sheets with `Optimizer::step`.

use gradsheet_train::{Optimizer, State};

/// Runs `opt` from p = 1 over `grads` and returns (p, state) after each step.
fn table(opt: &Optimizer, start: &[f64], grads: &[f64]) -> Vec<(f64, Vec<f64>)> {
    let mut st = State::new(opt, 1);
    st.values[..start.len()].copy_from_slice(start);
    let mut p = [1.0];
    grads
        .iter()
        .map(|g| {
            opt.step(&mut p, &[*g], &mut st);
            (p[0], st.values.clone())
        })
        .collect()
}

#[test]
fn sgd() {
    // p ← p - g·lr with lr = 0.25: 1 - 4·0.25 = 0; 0 - 2·0.25 = -0.5; -0.5 + 2·0.25 = 0.
    let t = table(&Optimizer::Sgd { lr: 0.25 }, &[], &[4.0, 2.0, -2.0]);
    assert_eq!(t.iter().map(|r| r.0).collect::<Vec<_>>(), [0.0, -0.5, 0.0]);
}

#[test]
fn momentum_ema_form() {
    // m ← m·β + (1-β)·g, p ← p - m·lr; β = 0.5, lr = 0.5, m starts at 0.
    // step 1: m = 0 + 0.5·4 = 2,      p = 1 - 2·0.5 = 0
    // step 2: m = 1 + 0.5·2 = 2,      p = 0 - 1 = -1
    // step 3: m = 1 + 0.5·(-2) = 0,   p = -1 - 0 = -1
    let t = table(
        &Optimizer::Momentum { lr: 0.5, beta: 0.5 },
        &[0.0],
        &[4.0, 2.0, -2.0],
    );
    assert_eq!(t, [(0.0, vec![2.0]), (-1.0, vec![2.0]), (-1.0, vec![0.0])]);
}

#[test]
fn rmsprop_divides_by_the_previous_mean_square() {
    // p ← p - g·lr/√s with the PREVIOUS s, then s ← s·β + (1-β)·g²; β = 0.5, lr = 1,
    // s starts at 16 (the sheet never starts from 0: it would divide by √0).
    // step 1: p = 1 - 4/√16 = 0,       s = 8 + 0.5·16 = 16
    // step 2: p = 0 - 8/√16 = -2,      s = 8 + 0.5·64 = 40
    // step 3: p = -2 - 0/√40 = -2,     s = 20 + 0 = 20
    let t = table(
        &Optimizer::Rmsprop { lr: 1.0, beta: 0.5 },
        &[16.0],
        &[4.0, 8.0, 0.0],
    );
    assert_eq!(
        t,
        [(0.0, vec![16.0]), (-2.0, vec![40.0]), (-2.0, vec![20.0])]
    );
}

#[test]
fn adam_without_bias_correction_or_eps() {
    // m ← m·β1 + (1-β1)·g, s ← s·β2 + (1-β2)·g², p ← p - m·lr/√s (this step's m and s);
    // β1 = 0.5, β2 = 0.75, lr = 1, m = s = 0 at the start.
    // step 1 (g=4): m = 2,           s = 0.25·16 = 4,       p = 1 - 2/2 = 0
    // step 2 (g=2): m = 1 + 1 = 2,   s = 3 + 0.25·4 = 4,    p = 0 - 2/2 = -1
    // step 3 (g=2): m = 1 + 1 = 2,   s = 3 + 1 = 4,         p = -1 - 1 = -2
    let t = table(
        &Optimizer::Adam {
            lr: 1.0,
            beta1: 0.5,
            beta2: 0.75,
        },
        &[],
        &[4.0, 2.0, 2.0],
    );
    assert_eq!(
        t,
        [
            (0.0, vec![2.0, 4.0]),
            (-1.0, vec![2.0, 4.0]),
            (-2.0, vec![2.0, 4.0])
        ]
    );
}

#[test]
fn workbook_adagrad_rates_change_once_per_epoch() {
    // rate = lr/r fixed within an epoch; p ← p - g·rate; Σg² accumulates; at the end of
    // an epoch of n rows r ← √(Σg²)/n. lr = 1, r starts at 2 (state: r, Σg²).
    // epoch 1: rate 0.5; g=4: p = 1 - 2 = -1, Σ = 16; g=3: p = -1 - 1.5 = -2.5, Σ = 25
    // end of epoch (n = 2): r = √25/2 = 2.5, Σ = 0
    // epoch 2: rate 1/2.5 = 0.4; g=5: p = -2.5 - 5·0.4 = -4.5 (5·0.4 rounds to exactly 2)
    let opt = Optimizer::Adagrad { lr: 1.0, r0: 2.0 };
    let mut st = State::new(&opt, 1);
    assert_eq!(st.values, [2.0, 0.0]);
    let mut p = [1.0];
    opt.step(&mut p, &[4.0], &mut st);
    assert_eq!((p[0], st.values.clone()), (-1.0, vec![2.0, 16.0]));
    opt.step(&mut p, &[3.0], &mut st);
    assert_eq!((p[0], st.values.clone()), (-2.5, vec![2.0, 25.0]));
    opt.end_epoch(&mut st, 2);
    assert_eq!(st.values, [2.5, 0.0]);
    opt.step(&mut p, &[5.0], &mut st);
    assert_eq!(p[0], -4.5);
}

/// The numbers `workbook_positive` marks are positive at every β the rules allow,
/// up to the largest below 1; and β = 1, where `1 - β` would be 0, is refused.
#[test]
fn the_workbook_complements_are_positive_wherever_the_rules_allow() {
    let below_one = f64::from_bits(1f64.to_bits() - 1);
    let rules = [
        Optimizer::Momentum { lr: 0.0, beta: 0.9 },
        Optimizer::Rmsprop { lr: 0.0, beta: 0.9 },
        Optimizer::Adam {
            lr: 0.0,
            beta1: 0.9,
            beta2: 0.999,
        },
    ];
    for opt in &rules {
        let betas: Vec<&str> = ["beta", "beta1", "beta2"]
            .into_iter()
            .filter(|b| opt.with(b, 0.5).is_ok())
            .collect();
        assert!(!betas.is_empty(), "{opt:?}");
        for b in &betas {
            for v in [0.0, 1e-300, 0.5, 0.999, below_one] {
                let o = opt.with(b, v).unwrap();
                let mut h = [0.0; gradsheet_train::optim::WORKBOOK_HYPERS];
                let n = o.workbook_hypers(&mut h).unwrap();
                let marked = o.workbook_positive();
                assert!(marked.iter().any(|&p| p), "{o:?}");
                for k in (0..n).filter(|&k| marked[k]) {
                    assert!(h[k] > 0.0, "{o:?}: h[{k}] = {}", h[k]);
                }
            }
            assert!(opt.with(b, 1.0).is_err(), "{opt:?} {b} = 1");
        }
    }
    // A learning rate may be 0: never marked.
    for opt in [&Optimizer::sgd(0.0), &rules[0], &rules[2]] {
        assert!(!opt.workbook_positive()[0], "{opt:?}");
    }
}
