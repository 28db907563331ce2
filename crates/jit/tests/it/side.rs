//! Runs trained side by side ([`SideKernel`]) against the interpreter: every run, its
//! span taken from the lanes or redone alone, is the interpreter's run bit for bit.

use gradsheet_engine::{Model, Roles};
use gradsheet_jit::{EpochKernel, SideKernel};
use gradsheet_train::{Hooks, Optimizer, Record, Sink, Stop, Trace, TrainConfig, Trainer};
use proptest::prelude::*;

use super::{assert_same, data, formula, key};

/// A trace and every epoch's mean error (a run keeping no epoch hears only those), and
/// the length of each span of epochs heard in one call.
#[derive(Default)]
struct Heard {
    trace: Trace,
    means: Vec<f64>,
    spans: Vec<usize>,
}

impl Sink for Heard {
    fn start(&mut self, plan: &gradsheet_train::Plan) {
        self.trace.start(plan);
    }
    fn epoch_mean(&mut self, _epoch: usize, mean: f64) {
        self.means.push(mean);
    }
    fn epoch_means(&mut self, _first: usize, means: &[f64]) {
        self.spans.push(means.len());
        self.means.extend_from_slice(means);
    }
    fn epoch_sums(&mut self, _first: usize, sums: gradsheet_train::EpochSums<'_>) {
        self.spans.push(sums.len());
        self.means.extend(sums.means());
    }
    fn finish(&mut self, end: &gradsheet_train::RunEnd) {
        self.trace.finish(end);
    }
}

/// `a*x+b` on the graddesc workbook's data (W5's model).
fn graddesc_line() -> Trainer {
    let model = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
    Trainer::new(&model, &gradsheet_engine::Dataset::graddesc()).unwrap()
}

/// Whether this processor runs kernels side by side; says so loudly when not.
fn side_by_side() -> bool {
    let ok = std::arch::is_x86_feature_detected!("avx512f");
    if !ok {
        eprintln!("SKIPPED: runs side by side need AVX-512, which this processor lacks");
    }
    ok
}

/// How the runs of [`compare`] went.
#[derive(Debug, Default)]
struct Tally {
    /// Spans the lanes gave (rather than the run's own kernel redoing them).
    taken: usize,
    /// Runs that diverged.
    diverged: usize,
    /// Runs that did not diverge whose span was not taken from the lanes.
    missed: usize,
    /// Runs that diverged after taking their span's first part from the lanes.
    part: usize,
    /// Of those, the runs whose part ended at the start of the epoch in which they
    /// diverged, or of the one before: where the lanes kept their values.
    close: usize,
    /// Runs that diverged after two epochs or more, none of which the loop heard in a
    /// span: taken epoch by epoch from the start.
    alone: usize,
    /// Runs that diverged after taking their span's first part from the lanes, whose
    /// loop heard another span than the lanes' part (or more spans): epochs redone on
    /// the run's own kernel.
    redone: usize,
    /// Runs judged whole from their span ([`gradsheet_jit::Ahead::whole_run`]).
    whole: usize,
    /// Runs that did not diverge whose pass through the loop heard the lanes' span
    /// first, in one call: the loop took it from the lanes.
    heard: usize,
}

/// Trains `runs` side by side and each alone on the interpreter, and compares them.
fn compare(trainer: &Trainer, runs: &[(TrainConfig, Vec<f64>)], what: &str) -> Tally {
    let k = EpochKernel::compile_for(trainer, &runs[0].0).expect("compiles");
    let side = SideKernel::compile(trainer, &runs[0].0, &k).expect("compiles side by side");
    let mut tally = Tally::default();
    for group in runs.chunks(side.width()) {
        let pairs: Vec<(&TrainConfig, &[f64])> =
            group.iter().map(|(c, p)| (c, p.as_slice())).collect();
        let trained = side.train(trainer, &pairs);
        assert_eq!(trained.len(), group.len());
        for ((cfg, init), ahead) in group.iter().zip(trained.aheads()) {
            let kept = ahead;
            // The run judged there and then, where it is its span and sound.
            let mut whole = Heard::default();
            let ended = ahead.whole_run(trainer, cfg, &mut whole);
            let mut fast = Heard::default();
            let fast_end = k
                .run_ahead(trainer, init, cfg, &mut Hooks::none(), &mut fast, ahead)
                .unwrap();
            let mut slow = Heard::default();
            trainer
                .run_into(init, cfg, &mut Hooks::none(), &mut slow)
                .unwrap();
            let what = format!("{what}: {} from {init:?}", cfg.optimizer);
            assert_same(&fast.trace, &slow.trace, &what);
            let bits = |v: &[f64]| v.iter().map(|x| key(*x)).collect::<Vec<_>>();
            assert_eq!(bits(&fast.means), bits(&slow.means), "{what}: epoch means");
            // The span was taken from the lanes where the run's parameters at its end
            // are the lane's (bit for bit: `final_error_at`).
            let span = side.span(trainer, cfg);
            let mut each = cfg.clone();
            each.record = Record::Epochs;
            let epochs = trainer.run(init, &each, &mut Hooks::none()).unwrap().epochs;
            let taken = epochs
                .get(span - 1)
                .is_some_and(|e| kept.final_error_at(&e.params).is_some());
            let diverged = matches!(slow.trace.stop, Stop::Diverged { .. });
            match ended {
                Some(end) => {
                    assert!(taken && !diverged && cfg.epochs == span, "{what}");
                    assert_eq!(
                        end.initial_error.to_bits(),
                        fast_end.initial_error.to_bits()
                    );
                    assert_eq!(
                        bits(&end.final_state),
                        bits(&fast_end.final_state),
                        "{what}"
                    );
                    assert_eq!(end.steps_taken, fast_end.steps_taken, "{what}");
                    assert_same(&whole.trace, &slow.trace, &what);
                    assert_eq!(bits(&whole.means), bits(&slow.means), "{what}: epoch means");
                    tally.whole += 1;
                }
                None => {
                    assert!(whole.means.is_empty() && whole.trace.final_params.is_empty());
                    // (A run longer than its span, or one the loop looked closer at.)
                    assert!(diverged || cfg.epochs > span || !taken, "{what}");
                }
            }
            tally.taken += usize::from(taken);
            tally.diverged += usize::from(diverged);
            tally.missed += usize::from(!taken && !diverged);
            // A run that went bad within the span took its first part from the lanes
            // (up to the start of the epoch it went bad in, or the one before), heard as
            // a shorter span.
            let part = fast.spans.first().is_some_and(|&s| s < span);
            tally.part += usize::from(part && diverged);
            // (The epochs completed before the one in which the run diverged.)
            let before = slow.means.len();
            let close = fast
                .spans
                .first()
                .is_some_and(|&s| s == before || s + 1 == before);
            tally.close += usize::from(part && diverged && close);
            tally.alone += usize::from(diverged && before >= 2 && fast.spans.is_empty());
            if part && diverged {
                // What the lanes hand the loop: all it heard first, not a part of it
                // redone on the run's own kernel.
                let np = init.len();
                let ns = cfg.optimizer.state_vars().len() * np;
                let (mut p, mut s, mut out) = (vec![0.0; np], vec![0.0; ns], Vec::new());
                let factor = cfg.divergence_factor;
                let limit = gradsheet_train::first_limit(factor, fast_end.initial_error);
                let handed = kept.take(limit, factor, trainer.n_rows, &mut p, &mut s, &mut out);
                tally.redone += usize::from(fast.spans.len() != 1 || fast.spans[0] != handed);
            }
            tally.heard += usize::from(fast.spans.first() == Some(&span) && !diverged);
        }
    }
    tally
}

/// The workbook rules at rates from gentle to explosive, and settings across their
/// ranges.
fn workbook_runs(n_params: usize, epochs: usize) -> Vec<(TrainConfig, Vec<f64>)> {
    let mut runs = Vec::new();
    for (i, lr) in [1e-4, 1e-3, 0.01, 0.05, 0.2, 1.0, 5.0]
        .into_iter()
        .enumerate()
    {
        for (j, beta) in [0.0, 0.5, 0.9, 0.99].into_iter().enumerate() {
            let rules = [
                Optimizer::Sgd { lr },
                Optimizer::Momentum { lr, beta },
                Optimizer::Rmsprop { lr: lr * 0.1, beta },
                Optimizer::Adam {
                    lr: lr * 0.1,
                    beta1: beta,
                    beta2: 0.9 + 0.09 * beta,
                },
            ];
            for (r, opt) in rules.into_iter().enumerate() {
                let mut cfg = TrainConfig::new(opt, epochs);
                cfg.record = Record::Final;
                // Some runs stopped by a tight divergence test while their numbers
                // stay finite: the lanes' spans hold errors above the limit.
                if (i + j) % 3 == 0 {
                    cfg.divergence_factor = 1.2;
                }
                // Each run from its own initial values, some at zero.
                let init = (0..n_params)
                    .map(|p| ((i * 7 + j * 3 + r + p) % 5) as f64 * 0.5 - 1.0)
                    .collect();
                runs.push((cfg, init));
            }
        }
    }
    runs
}

#[test]
fn runs_side_by_side_are_the_interpreters() {
    if !side_by_side() {
        return;
    }
    let roles = Roles::with_columns(&["x", "y"]);
    for f in [
        "a*x+b",
        "c*MAX(a*x+b,0)+d",
        "(a/(1+b*b))*x+SQRT(c*c+1)",
        "IF(a*x>b,a*x,b)+c*x*x",
    ] {
        let model = Model::new(f, "squared", &roles).unwrap();
        let trainer = Trainer::new(&model, &data()).unwrap();
        // 7 rows: the loop's spans are 585 epochs, so a run of 20 is one span, and
        // one of 700 goes on alone after its span. A run of one epoch, which the loop
        // takes epoch by epoch, is judged from the lanes too.
        for epochs in [1, 20, 700] {
            let runs = workbook_runs(model.params.len(), epochs);
            // Every rule in the lanes: one kernel per rule.
            for rule in 0..4 {
                let runs: Vec<_> = runs.iter().skip(rule).step_by(4).cloned().collect();
                let tally = compare(&trainer, &runs, f);
                // Every run that did not diverge took its span from the lanes (these
                // tapes have no infinite slope for a zero adjoint to meet).
                assert_eq!(tally.missed, 0, "{f}, rule {rule}: {tally:?}");
                // Both ways exercised: spans taken from the lanes, and runs that
                // diverged there and were redone alone. (The workbook's RMSProp starts
                // from s = 0, whose first step is infinite, and Adam's steps are 0/0
                // for a parameter whose first gradient is 0, as IF's branches make
                // them: those runs all diverge.)
                if rule < 2 || (f == "a*x+b" && rule == 3) {
                    assert!(tally.taken > 0, "{f}, rule {rule}: {tally:?}");
                }
                if f == "a*x+b" && rule < 2 {
                    assert!(tally.diverged > 0, "{f}, rule {rule}: {tally:?}");
                }
                // Runs of one span are judged there and then; longer ones never.
                if epochs <= 20 {
                    assert!(
                        tally.whole > 0 || tally.taken == 0,
                        "{f}, rule {rule}: {tally:?}"
                    );
                } else {
                    assert_eq!(tally.whole, 0, "{f}, rule {rule}: {tally:?}");
                }
            }
        }
    }
}

/// Runs that go bad late in their span (W5's stability map: momentum on the graddesc
/// data, the rates where it starts to diverge) take the span's part before the epoch in
/// which they go bad (or the one before it) from the lanes and go on alone from there,
/// as the interpreter's runs, bit for bit.
#[test]
fn runs_that_go_bad_late_go_on_alone_from_where_they_did() {
    if !side_by_side() {
        return;
    }
    let trainer = graddesc_line();
    let mut runs = Vec::new();
    for i in 0..12 {
        for j in 0..10 {
            let lr = 10f64.powf(-4.0 + i as f64 / 11.0);
            let beta = 0.99 * j as f64 / 9.0;
            let mut cfg = TrainConfig::new(Optimizer::Momentum { lr, beta }, 100);
            cfg.record = Record::Final;
            runs.push((cfg, vec![1.0, 1.0]));
        }
    }
    let tally = compare(&trainer, &runs, "graddesc momentum");
    assert_eq!(tally.missed, 0, "{tally:?}");
    assert!(
        tally.taken > 0 && tally.part > 10 && tally.whole > 0,
        "{tally:?}"
    );
    // Each of them within an epoch of where it diverged: where the loop's own walk
    // through the lanes' records, its limit falling with the best epoch mean, finds
    // the first epoch beyond (not only where an error crossed the first limit, which
    // the lanes test as they go).
    assert_eq!(tally.close, tally.part, "{tally:?}");
    // And the loop took the bad epoch alone from there: no epochs redone in a span.
    assert_eq!(tally.redone, 0, "{tally:?}");
    // And a run whose span crossed a lower limit than its first, later in the span,
    // redid the epochs before in one span, not epoch by epoch.
    assert_eq!(tally.alone, 0, "{tally:?}");
}

/// Runs longer than the loop's own span (136 epochs of the graddesc data's 30 rows)
/// train side by side for the whole run, up to `MOST_EPOCHS`, and are judged there and
/// then; longer ones take that span from the lanes and go on alone after it, in the
/// kernel's own spans. Each the interpreter's run, bit for bit.
#[test]
fn runs_longer_than_the_loops_span_train_side_by_side() {
    if !side_by_side() {
        return;
    }
    let trainer = graddesc_line();
    assert_eq!(gradsheet_jit::MOST_EPOCHS, 512);
    for (epochs, span) in [(300, 300), (600, 512)] {
        let runs: Vec<(TrainConfig, Vec<f64>)> = (0..16)
            .map(|i| {
                let lr = 10f64.powf(-4.5 + i as f64 / 10.0);
                let beta = [0.0, 0.5, 0.9, 0.99][i % 4];
                let mut cfg = TrainConfig::new(Optimizer::Momentum { lr, beta }, epochs);
                cfg.record = Record::Final;
                (cfg, vec![1.0, 1.0])
            })
            .collect();
        let k = EpochKernel::compile_for(&trainer, &runs[0].0).unwrap();
        let side = SideKernel::compile(&trainer, &runs[0].0, &k).unwrap();
        assert_eq!(side.span(&trainer, &runs[0].0), span);
        let tally = compare(&trainer, &runs, &format!("{epochs} epochs"));
        assert!(tally.taken > 0 && tally.missed == 0, "{epochs}: {tally:?}");
        // Every such run's loop took the lanes' span, in one piece.
        assert_eq!(tally.heard, tally.taken, "{epochs}: {tally:?}");
        if epochs == span {
            assert_eq!(tally.whole, tally.taken, "{epochs}: {tally:?}");
        } else {
            assert_eq!(tally.whole, 0, "{epochs}: {tally:?}");
        }
    }
}

/// Runs from −0 (which the native SGD step leaves to the interpreter) and at a rate of
/// 0 are the interpreter's in the lanes too, zeros' signs and all.
#[test]
fn runs_from_negative_zero_and_at_rate_zero_are_the_interpreters() {
    if !side_by_side() {
        return;
    }
    let model = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
    let trainer = Trainer::new(&model, &data()).unwrap();
    let mut runs = Vec::new();
    for lr in [0.0, 1e-3, 0.05] {
        for init in [[-0.0, -0.0], [-0.0, 1.0], [0.0, -0.0]] {
            for opt in [Optimizer::Sgd { lr }, Optimizer::Momentum { lr, beta: 0.5 }] {
                let mut cfg = TrainConfig::new(opt, 20);
                cfg.record = Record::Final;
                runs.push((cfg, init.to_vec()));
            }
        }
    }
    for rule in 0..2 {
        let runs: Vec<_> = runs.iter().skip(rule).step_by(2).cloned().collect();
        let tally = compare(&trainer, &runs, "from -0");
        assert!(tally.whole > 0 && tally.missed == 0, "{tally:?}");
    }
}

/// The loss is the tape's too: an absolute error (the sign's masks) in the lanes; and a
/// tape that calls a Rust function (EXP) is left to runs alone.
#[test]
fn a_tape_that_calls_rust_stays_on_runs_alone() {
    if !side_by_side() {
        return;
    }
    let roles = Roles::with_columns(&["x", "y"]);
    let model = Model::new("a*x+b", "absolute", &roles).unwrap();
    let trainer = Trainer::new(&model, &data()).unwrap();
    let runs = workbook_runs(2, 30);
    let runs: Vec<_> = runs.into_iter().skip(1).step_by(4).collect();
    let tally = compare(&trainer, &runs, "absolute");
    assert!(tally.taken > 0 && tally.missed == 0, "{tally:?}");
    let model = Model::new("EXP(a*x)+b", "squared", &roles).unwrap();
    let trainer = Trainer::new(&model, &data()).unwrap();
    let mut cfg = TrainConfig::new(Optimizer::Sgd { lr: 0.01 }, 3);
    cfg.record = Record::Final;
    let k = EpochKernel::compile_for(&trainer, &cfg).unwrap();
    let e = SideKernel::compile(&trainer, &cfg, &k).unwrap_err();
    assert!(e.to_string().contains("calls a Rust function"), "{e}");
}

/// Runs a kernel side by side does not take: those it would not help, and those of
/// another kind than it was compiled for.
#[test]
fn a_kernel_side_by_side_takes_only_its_runs() {
    if !side_by_side() {
        return;
    }
    let model = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
    let trainer = Trainer::new(&model, &data()).unwrap();
    let mut cfg = TrainConfig::new(
        Optimizer::Momentum {
            lr: 0.01,
            beta: 0.9,
        },
        10,
    );
    cfg.record = Record::Final;
    let k = EpochKernel::compile_for(&trainer, &cfg).unwrap();
    let side = SideKernel::compile(&trainer, &cfg, &k).unwrap();
    assert!(side.helps(&trainer, &cfg));
    assert_eq!(side.span(&trainer, &cfg), 10);
    let mut other = cfg.clone();
    other.optimizer = Optimizer::Sgd { lr: 0.01 };
    assert!(!side.fits(&trainer, &other), "another rule");
    for change in [
        |c: &mut TrainConfig| c.shuffle = Some(3),
        |c: &mut TrainConfig| c.batch_size = 2,
        |c: &mut TrainConfig| c.record = Record::Epochs,
    ] {
        let mut c = cfg.clone();
        change(&mut c);
        assert!(!side.fits(&trainer, &c), "{c:?}");
        assert!(SideKernel::compile(&trainer, &c, &k).is_err());
    }
    let mut torch = cfg.clone();
    torch.optimizer = Optimizer::torch_adam(0.01);
    let tk = EpochKernel::compile_for(&trainer, &torch).unwrap();
    assert!(
        SideKernel::compile(&trainer, &torch, &tk).is_err(),
        "torch's rules"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random formulas (those without calls of Rust functions) trained side by side,
    /// each lane from its own initial values, by a random workbook rule.
    #[test]
    fn random_formulas_side_by_side_are_the_interpreters(
        f in formula(),
        inits in proptest::collection::vec(-1.5f64..1.5, 3 * 11),
        rule in 0usize..4,
        lr in 1e-3f64..0.3,
    ) {
        prop_assume!(side_by_side());
        let model = Model::new(&format!("a*0+b*0+c*0+{f}"), "squared", &Roles::with_columns(&["x", "y"])).unwrap();
        let trainer = Trainer::new(&model, &data()).unwrap();
        let opt = [
            Optimizer::Sgd { lr },
            Optimizer::Momentum { lr, beta: 0.9 },
            Optimizer::Rmsprop { lr, beta: 0.9 },
            Optimizer::Adam { lr, beta1: 0.9, beta2: 0.99 },
        ][rule].clone();
        let mut cfg = TrainConfig::new(opt, 4);
        cfg.record = Record::Final;
        let k = EpochKernel::compile_for(&trainer, &cfg).unwrap();
        let side = SideKernel::compile(&trainer, &cfg, &k);
        prop_assume!(side.is_ok());
        let runs: Vec<(TrainConfig, Vec<f64>)> = inits
            .chunks_exact(3)
            .map(|p| (cfg.clone(), p.to_vec()))
            .collect();
        compare(&trainer, &runs, &f);
    }
}

/// Runs whose errors stay within the limit the span starts with (a multiple of the
/// initial error) but not within the limits of the better epochs inside it: the loop
/// judges each epoch against its own, and these runs diverge (momentum with β 0 at a
/// rate of 1e-4 on the graddesc data, with a divergence factor of 2, diverges at step
/// 60), whether the span came from the lanes or from the run's own kernel.
#[test]
fn a_span_is_judged_epoch_by_epoch_against_the_falling_limit() {
    let trainer = graddesc_line();
    let runs: Vec<(TrainConfig, Vec<f64>)> = [8e-5, 1e-4, 1.25e-4, 1.6e-4]
        .into_iter()
        .map(|lr| {
            let mut cfg = TrainConfig::new(Optimizer::Momentum { lr, beta: 0.0 }, 50);
            cfg.record = Record::Final;
            cfg.divergence_factor = 2.0;
            (cfg, vec![1.0, 1.0])
        })
        .collect();
    // On each run's own kernel, in spans.
    for (cfg, init) in &runs {
        let fast = gradsheet_jit::run_fast(&trainer, init, cfg)
            .expect("supported")
            .unwrap();
        let slow = trainer.run(init, cfg, &mut Hooks::none()).unwrap();
        assert_same(&fast, &slow, &format!("{}", cfg.optimizer));
        assert!(
            matches!(slow.stop, Stop::Diverged { .. }),
            "{:?}",
            slow.stop
        );
    }
    // Side by side.
    if side_by_side() {
        let tally = compare(&trainer, &runs, "a falling limit");
        assert_eq!(tally.diverged, runs.len(), "{tally:?}");
    }
}
