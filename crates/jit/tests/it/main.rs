//! The compiled engine against the interpreter: random formulas trained with every
//! compiled update rule must give the interpreter's trace bit for bit.

use gradsheet_engine::{Dataset, Model, Roles, Scheme};
use gradsheet_jit::{
    run_fast, surface, CompileError, EpochKernel, GradKernel, LaneKernel, LaneRows, Width,
};
use gradsheet_train::{Gradient, Hooks, Optimizer, Record, Stop, Trace, TrainConfig, Trainer};
use proptest::prelude::*;

mod fuzz;
mod side;

/// A number's bits, with every NaN as one value: IEEE 754 leaves the sign and payload
/// of a NaN produced from two NaNs to the order of the operands, which compilers commute.
fn key(x: f64) -> u64 {
    if x.is_nan() {
        f64::NAN.to_bits()
    } else {
        x.to_bits()
    }
}

/// Every number of two traces, compared by bits (so that NaN equals NaN).
fn assert_same(fast: &Trace, slow: &Trace, what: &str) {
    let bits = |v: &[f64]| v.iter().map(|x| key(*x)).collect::<Vec<_>>();
    assert_eq!(fast.stop, slow.stop, "{what}: stop");
    assert_eq!(fast.steps_taken, slow.steps_taken, "{what}: steps");
    assert_eq!(
        bits(&fast.final_params),
        bits(&slow.final_params),
        "{what}: params {:?} vs {:?}",
        fast.final_params,
        slow.final_params
    );
    assert_eq!(
        bits(&fast.final_state),
        bits(&slow.final_state),
        "{what}: state"
    );
    assert_eq!(fast.epochs.len(), slow.epochs.len(), "{what}: epochs");
    for (a, b) in fast.epochs.iter().zip(&slow.epochs) {
        assert_eq!(a.epoch, b.epoch);
        assert_eq!(
            key(a.sum_error),
            key(b.sum_error),
            "{what}: sum error of epoch {}",
            a.epoch
        );
        assert_eq!(
            bits(&a.grad_norms),
            bits(&b.grad_norms),
            "{what}: grad norms of epoch {}",
            a.epoch
        );
        assert_eq!(
            bits(&a.params),
            bits(&b.params),
            "{what}: params of epoch {}",
            a.epoch
        );
    }
}

fn optimizers() -> Vec<Optimizer> {
    vec![
        Optimizer::Sgd { lr: 0.01 },
        Optimizer::Momentum {
            lr: 0.01,
            beta: 0.9,
        },
        Optimizer::Rmsprop {
            lr: 0.01,
            beta: 0.9,
        },
        Optimizer::Adam {
            lr: 0.05,
            beta1: 0.9,
            beta2: 0.99,
        },
        Optimizer::TorchSgd {
            lr: 0.01,
            momentum: 0.9,
            dampening: 0.1,
            weight_decay: 0.01,
            nesterov: false,
        },
        Optimizer::TorchSgd {
            lr: 0.01,
            momentum: 0.9,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: true,
        },
        Optimizer::TorchSgd {
            lr: 0.01,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
        },
        Optimizer::torch_adam(0.05),
        Optimizer::TorchAdam {
            lr: 0.05,
            beta1: 0.3,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.1,
            amsgrad: false,
            decoupled: false,
        },
        Optimizer::TorchAdam {
            lr: 0.05,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
            amsgrad: false,
            decoupled: true,
        },
        Optimizer::TorchAdagrad {
            lr: 0.05,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
        },
        Optimizer::TorchAdagrad {
            lr: 0.1,
            lr_decay: 0.01,
            weight_decay: 0.02,
            initial_accumulator_value: 0.1,
            eps: 1e-10,
        },
        Optimizer::TorchRmsprop {
            lr: 0.01,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
        },
        Optimizer::TorchRmsprop {
            lr: 0.01,
            alpha: 0.9,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: true,
        },
        Optimizer::TorchRmsprop {
            lr: 0.005,
            alpha: 0.3,
            eps: 1e-6,
            weight_decay: 0.01,
            momentum: 0.9,
            centered: true,
        },
        Optimizer::TorchRmsprop {
            lr: 0.005,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.5,
            centered: false,
        },
        Optimizer::TorchAdam {
            lr: 0.05,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: true,
            decoupled: false,
        },
        Optimizer::TorchAdam {
            lr: 0.05,
            beta1: 0.3,
            beta2: 0.9,
            eps: 1e-8,
            weight_decay: 0.01,
            amsgrad: true,
            decoupled: true,
        },
        // The workbook's adagrad: its rates are set between epochs.
        Optimizer::Adagrad { lr: 0.01, r0: 1.0 },
        // A rate of 0: the products with the gradient keep the sign of a zero.
        Optimizer::Sgd { lr: 0.0 },
        Optimizer::Rmsprop { lr: 0.0, beta: 0.9 },
    ]
}

/// Rows per step the tests try: per-sample, mini-batches (one that divides the 7 rows
/// of `data` and ones that leave a smaller last batch) and the full batch.
const BATCHES: [usize; 5] = [1, 2, 3, 7, 0];

fn data() -> Dataset {
    let rows: Vec<Vec<f64>> = (0..7)
        .map(|i| {
            let x = i as f64 * 0.6 - 1.8;
            vec![x, 0.7 * x * x - 0.3 * x + 0.25]
        })
        .collect();
    Dataset::from_rows(vec!["x".into(), "y".into()], &rows).unwrap()
}

/// The gradients the tests try: the exact one and each finite difference.
fn gradients() -> [Gradient; 4] {
    [
        Gradient::Auto,
        Gradient::Fd {
            scheme: Scheme::Forward,
            h: 1e-3,
        },
        Gradient::Fd {
            scheme: Scheme::Backward,
            h: 0.01,
        },
        Gradient::Fd {
            scheme: Scheme::Central,
            h: 1e-4,
        },
    ]
}

fn check(formula: &str, loss: &str, init: &[f64], epochs: usize, shuffle: Option<u64>) {
    check_with(
        formula,
        loss,
        init,
        epochs,
        shuffle,
        Gradient::Auto,
        &BATCHES,
    );
}

fn check_with(
    formula: &str,
    loss: &str,
    init: &[f64],
    epochs: usize,
    shuffle: Option<u64>,
    gradient: Gradient,
    batches: &[usize],
) {
    let model = Model::new(formula, loss, &Roles::with_columns(&["x", "y"])).unwrap();
    let trainer = Trainer::new(&model, &data()).unwrap();
    let init = &init[..model.params.len()];
    for opt in optimizers() {
        for record in [Record::Epochs, Record::Final] {
            for &batch in batches {
                let mut cfg = TrainConfig::new(opt.clone(), epochs);
                cfg.gradient = gradient;
                cfg.record = record;
                cfg.shuffle = shuffle;
                cfg.batch_size = batch;
                // (`run_fast` would quietly interpret a run whose kernel fails to compile.)
                let k = EpochKernel::compile_for(&trainer, &cfg).expect("compiles");
                assert!(k.fits(&trainer, &cfg));
                let fast = run_fast(&trainer, init, &cfg).expect("supported").unwrap();
                let slow = trainer.run(init, &cfg, &mut Hooks::none()).unwrap();
                assert_same(
                    &fast,
                    &slow,
                    &format!("{formula} with {opt}, batch {batch}, {gradient:?}"),
                );
            }
        }
    }
}

#[test]
fn the_graddesc_models_agree() {
    check("a*x+b", "squared", &[1.0, 1.0], 20, None);
    check(
        "c*MAX(a*x+b,0)+d",
        "squared",
        &[1.0, 1.0, 1.0, 1.0],
        20,
        None,
    );
    check(
        "c*MAX(a*x+b,0)+d",
        "absolute",
        &[1.0, -1.0, 0.5, 1.0],
        20,
        Some(7),
    );
    check("a*x*x+b*x+c", "huber", &[0.1, 0.2, 0.3, 1.0], 10, None);
    // Seven parameters: three pairs and a lone one in the paired updates.
    check(
        "a*x*x*x+b*x*x+c*x+d+e*MAX(f*x+g,0)",
        "squared",
        &[0.1, -0.2, 0.3, 0.5, 1.0, -1.0, 0.25],
        10,
        Some(3),
    );
}

#[test]
fn wide_models_update_in_a_loop_as_the_interpreter_does() {
    // 25 and 28 parameters: past the straight-line update, with and without a lone
    // parameter after the pairs.
    for units in [8, 9] {
        let f: String = (0..units)
            .map(|i| format!("c{i}*MAX(a{i}*x+b{i},0)"))
            .collect::<Vec<_>>()
            .join("+")
            + "+d";
        let init: Vec<f64> = (0..3 * units + 1)
            .map(|k| ((k * 37) % 11) as f64 / 11.0 - 0.45)
            .collect();
        check(&f, "squared", &init, 4, None);
        check_with(&f, "huber", &init, 3, Some(9), gradients()[3], &[1, 3]);
        // Divergence inside the loop: to infinity and NaN, and past the threshold.
        let model = Model::new(&f, "squared", &Roles::with_columns(&["x", "y"])).unwrap();
        let trainer = Trainer::new(&model, &data()).unwrap();
        for (lr, factor) in [(50.0, 1e6), (0.3, 1e6), (0.05, 2.0)] {
            for batch in [1, 2] {
                let mut cfg = TrainConfig::new(Optimizer::sgd(lr), 30);
                cfg.record = Record::Epochs;
                cfg.batch_size = batch;
                cfg.divergence_factor = factor;
                let fast = run_fast(&trainer, &init, &cfg).unwrap().unwrap();
                let slow = trainer.run(&init, &cfg, &mut Hooks::none()).unwrap();
                assert_same(&fast, &slow, &format!("{units} units, sgd lr {lr}"));
                if lr > 1.0 {
                    assert!(
                        matches!(slow.stop, Stop::Diverged { .. }),
                        "{:?}",
                        slow.stop
                    );
                }
            }
        }
    }
}

#[test]
fn kernels_for_a_sweep_fit_each_of_its_runs() {
    let model = Model::new(
        "c*MAX(a*x+b,0)+d",
        "squared",
        &Roles::with_columns(&["x", "y"]),
    )
    .unwrap();
    let trainer = Trainer::new(&model, &data()).unwrap();
    let init = [0.5, -0.2, 0.8, 0.1];
    let mut cfgs = Vec::new();
    for lr in [0.01, 0.02, 0.0] {
        for batch in [1, 3] {
            for record in [Record::Final, Record::Epochs] {
                let mut cfg = TrainConfig::new(Optimizer::sgd(lr), 5);
                cfg.record = record;
                cfg.batch_size = batch;
                cfgs.push(cfg);
            }
        }
    }
    let kernels = gradsheet_jit::Kernels::for_configs(&trainer, &cfgs);
    for cfg in cfgs {
        let k = kernels
            .fitting(&trainer, &cfg)
            .expect("a kernel for every run");
        assert!(k.is_batched() == (cfg.batch_size > 1));
        // A run that keeps epoch summaries gets a kernel with the gradient norms; one
        // that keeps its final summary only (a stability map's) one without.
        assert_eq!(k.has_grad_norms(), cfg.record == Record::Epochs);
        let fast = kernels.run(&trainer, &init, &cfg).unwrap();
        let slow = trainer.run(&init, &cfg, &mut Hooks::none()).unwrap();
        assert_same(&fast, &slow, &format!("{cfg:?}"));
    }
}

#[test]
fn finite_differences_train_as_the_interpreter_does() {
    // Shown beside the gradient, they show in step rows only: a run that keeps epoch
    // summaries runs natively and is the interpreter's.
    let model = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
    let trainer = Trainer::new(&model, &data()).unwrap();
    let mut cfg = TrainConfig::new(Optimizer::sgd(0.01), 5);
    cfg.record = Record::Epochs;
    cfg.show_fd = Some((Scheme::Central, 1e-3));
    let fast = run_fast(&trainer, &[1.0, 1.0], &cfg)
        .expect("native")
        .unwrap();
    let slow = trainer.run(&[1.0, 1.0], &cfg, &mut Hooks::none()).unwrap();
    assert_same(&fast, &slow, "sgd showing central differences");
    for g in &gradients()[1..] {
        check_with("a*x+b", "squared", &[1.0, 1.0], 10, None, *g, &[1, 3, 0]);
        check_with(
            "c*MAX(a*x+b,0)+d",
            "absolute",
            &[1.0, -1.0, 0.5, 1.0],
            10,
            Some(5),
            *g,
            &[1, 2],
        );
        check_with(
            "a*x*x*x+b*x*x+c*x+d+e*MAX(f*x+g,0)",
            "huber",
            &[0.1, -0.2, 0.3, 0.5, 1.0, -1.0, 0.25],
            5,
            None,
            *g,
            &[1, 7],
        );
    }
}

#[test]
fn divergence_is_reported_as_the_interpreter_does() {
    let model = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
    let trainer = Trainer::new(&model, &Dataset::graddesc()).unwrap();
    // Quickly (NaN), slowly (past the threshold after many epochs, inside a chunk of
    // epochs run natively with a looser threshold), and not at all.
    for (lr, epochs) in [(0.01, 50), (4.5e-4, 3000), (4.2e-4, 3000), (1e-4, 3000)] {
        for record in [Record::Epochs, Record::Final] {
            let mut cfg = TrainConfig::new(Optimizer::sgd(lr), epochs);
            cfg.record = record;
            let fast = run_fast(&trainer, &[1.0, 1.0], &cfg).unwrap().unwrap();
            let slow = trainer.run(&[1.0, 1.0], &cfg, &mut Hooks::none()).unwrap();
            assert_same(&fast, &slow, &format!("sgd lr {lr}"));
        }
    }
    let mut cfg = TrainConfig::new(Optimizer::sgd(0.01), 50);
    cfg.divergence_factor = 10.0;
    for record in [Record::Epochs, Record::Final] {
        cfg.record = record;
        let fast = run_fast(&trainer, &[1.0, 1.0], &cfg).unwrap().unwrap();
        let slow = trainer.run(&[1.0, 1.0], &cfg, &mut Hooks::none()).unwrap();
        assert!(matches!(slow.stop, Stop::Diverged { .. }));
        assert_same(&fast, &slow, "sgd with a tight divergence factor");
    }
}

#[test]
fn a_guard_the_kernel_leaves_out_costs_a_replay_not_a_bit() {
    // No x is above 9, so LN(a)'s adjoint is exactly 0, and at a = 0 its slope 1/a is
    // infinite: the interpreter's guard skips the product, the kernel (which has no
    // guards) gets 0·∞ = NaN for a's gradient, stops, and the interpreter replays the
    // step. Every step goes that way; the trace must still be the interpreter's.
    let f = "b+IF(x>9,LN(a),0)";
    let model = Model::new(f, "squared", &Roles::with_columns(&["x", "y"])).unwrap();
    let trainer = Trainer::new(&model, &data()).unwrap();
    let init: Vec<f64> = model
        .params
        .iter()
        .map(|p| if p == "b" { 0.5 } else { 0.0 })
        .collect();
    for opt in optimizers() {
        for record in [Record::Epochs, Record::Final] {
            for batch in BATCHES {
                let mut cfg = TrainConfig::new(opt.clone(), 4);
                cfg.record = record;
                cfg.batch_size = batch;
                let fast = run_fast(&trainer, &init, &cfg).expect("supported").unwrap();
                let slow = trainer.run(&init, &cfg, &mut Hooks::none()).unwrap();
                assert_same(&fast, &slow, &format!("{f} with {opt}, batch {batch}"));
            }
        }
    }
    let cfg = TrainConfig::new(Optimizer::sgd(0.01), 4);
    let slow = trainer.run(&init, &cfg, &mut Hooks::none()).unwrap();
    assert_eq!(
        slow.stop,
        Stop::Completed,
        "the replayed steps are good steps"
    );
    let b = model.params.iter().position(|p| p == "b").unwrap();
    assert_ne!(slow.final_params[b], 0.5, "b learns");
}

#[test]
fn a_kernel_refuses_another_model_or_rule() {
    let roles = Roles::with_columns(&["x", "y"]);
    let m1 = Model::new("a*x+b", "squared", &roles).unwrap();
    let m2 = Model::new("a*x-b", "squared", &roles).unwrap();
    let t1 = Trainer::new(&m1, &Dataset::graddesc()).unwrap();
    let t2 = Trainer::new(&m2, &Dataset::graddesc()).unwrap();
    let k = EpochKernel::compile(&t1.compiled, &Optimizer::sgd(1e-4)).unwrap();
    let mut cfg = TrainConfig::new(Optimizer::sgd(1e-4), 2);
    cfg.record = Record::Final;
    assert!(k.run(&t2, &[1.0, 1.0], &cfg, &mut Hooks::none()).is_err());
    cfg.optimizer = Optimizer::Momentum {
        lr: 1e-4,
        beta: 0.9,
    };
    assert!(k.run(&t1, &[1.0, 1.0], &cfg, &mut Hooks::none()).is_err());
    // Another learning rate is the same kernel.
    cfg.optimizer = Optimizer::sgd(2e-4);
    assert!(k.run(&t1, &[1.0, 1.0], &cfg, &mut Hooks::none()).is_ok());
    // Unsupported runs are left to the interpreter.
    cfg.record = Record::Steps;
    assert!(run_fast(&t1, &[1.0, 1.0], &cfg).is_none());
    // A learning rate of 0 on a kernel compiled with fused products `raw·lr + 0`
    // (exact only for a factor that is not zero, `Row::times`) is left to the
    // interpreter; `run_fast` compiles one whose products keep the sign of a zero.
    // At -0 the interpreter's `-0 - (g·0)` is `+0` where g < 0, and the fused product
    // would have kept `-0`.
    cfg.record = Record::Final;
    cfg.optimizer = Optimizer::sgd(0.0);
    let slow = t1.run(&[-0.0, -0.0], &cfg, &mut Hooks::none()).unwrap();
    assert!(slow.final_params.iter().all(|p| *p == 0.0));
    let fast = run_fast(&t1, &[-0.0, -0.0], &cfg)
        .expect("compiled")
        .unwrap();
    assert_same(&fast, &slow, "sgd at lr 0");
    let by_k = k.run(&t1, &[-0.0, -0.0], &cfg, &mut Hooks::none()).unwrap();
    assert_same(&by_k, &slow, "sgd at lr 0 on a fused kernel");
    let unfused = EpochKernel::compile_for(&t1, &cfg).unwrap();
    assert!(unfused.fits(&t1, &cfg) && !k.fits(&t1, &cfg));
    let native = unfused
        .run(&t1, &[-0.0, -0.0], &cfg, &mut Hooks::none())
        .unwrap();
    assert_same(&native, &slow, "sgd at lr 0 on its own kernel");
    // A per-sample kernel does not run mini-batches, nor a batched one single rows.
    cfg.optimizer = Optimizer::sgd(1e-4);
    cfg.batch_size = 4;
    assert!(k.run(&t1, &[1.0, 1.0], &cfg, &mut Hooks::none()).is_err());
    let batched = EpochKernel::compile_for(&t1, &cfg).unwrap();
    assert!(batched.is_batched());
    let fast = batched
        .run(&t1, &[1.0, 1.0], &cfg, &mut Hooks::none())
        .unwrap();
    let slow = t1.run(&[1.0, 1.0], &cfg, &mut Hooks::none()).unwrap();
    assert_same(&fast, &slow, "sgd by batches of 4");
    cfg.batch_size = 1;
    assert!(batched
        .run(&t1, &[1.0, 1.0], &cfg, &mut Hooks::none())
        .is_err());
}

#[test]
fn powi_is_compiler_rt_for_every_exponent() {
    for n in -64..=64 {
        let f = format!("(a*x+b)^{n}");
        let model = Model::new(&f, "squared", &Roles::with_columns(&["x", "y"])).unwrap();
        let c = model.compile();
        let k = GradKernel::compile(&c.tape, 1, 2..4).unwrap();
        for &(x, a, b) in &[
            (0.3, 1.1, 0.7),
            (-1.7, 0.9, -0.2),
            (2.5, -1.3, 0.01),
            (1e-3, 3.0, 1.0),
        ] {
            let vars = [x, 0.5, a, b];
            let (e, g) = c.tape.eval_grad(&vars, 1);
            let mut gk = [0.0; 2];
            let ek = k.call(&vars, &mut gk);
            assert_eq!(key(e), key(ek), "{f} at {x}");
            assert_eq!(
                [key(g[2]), key(g[3])],
                [key(gk[0]), key(gk[1])],
                "{f} at {x}"
            );
        }
    }
}

/// The model's gradient kernel at the variables `vals` (their first `n_vars`) gives the
/// interpreter's error and gradient, bit for bit.
fn assert_gradient_kernel(model: &Model, vals: &[f64]) {
    let c = model.compile();
    let n = c.tape.n_vars();
    let k = GradKernel::compile(&c.tape, 1, c.n_cols..c.n_cols + c.n_params).unwrap();
    let vars = &vals[..n];
    let (e, g) = c.tape.eval_grad(vars, 1);
    let mut gk = vec![0.0; c.n_params];
    let ek = k.call(vars, &mut gk);
    assert_eq!(key(e), key(ek), "{:?}", model.params);
    let gi: Vec<u64> = g[c.n_cols..c.n_cols + c.n_params]
        .iter()
        .map(|v| key(*v))
        .collect();
    let gj: Vec<u64> = gk.iter().map(|v| key(*v)).collect();
    assert_eq!(gi, gj, "{:?}", model.params);
}

/// Random formulas in x and the parameters a, b, c.
fn formula() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("c".to_string()),
        Just("x".to_string()),
        Just("x".to_string()),
        Just("0".to_string()),
        Just("0.5".to_string()),
        Just("2".to_string()),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l}+{r})")),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l}-{r})")),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l}*{r})")),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l}/{r})")),
            inner.clone().prop_map(|l| format!("({l})^2")),
            inner.clone().prop_map(|l| format!("({l})^3")),
            inner.clone().prop_map(|l| format!("({l})^-1")),
            inner.clone().prop_map(|l| format!("ABS({l})^0.5")),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("MAX({l},{r})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(l, m, r)| format!("MIN({l},{m},{r})")),
            inner.clone().prop_map(|l| format!("EXP({l})")),
            inner.clone().prop_map(|l| format!("LN({l})")),
            inner.clone().prop_map(|l| format!("SQRT({l})")),
            inner.clone().prop_map(|l| format!("TANH({l})")),
            inner.clone().prop_map(|l| format!("SIGMOID({l})")),
            inner.clone().prop_map(|l| format!("SOFTPLUS({l})")),
            inner.clone().prop_map(|l| format!("INT({l})")),
            inner.clone().prop_map(|l| format!("ROUND({l},1)")),
            inner.clone().prop_map(|l| format!("RELU({l})")),
            inner.clone().prop_map(|l| format!("ABS({l})")),
            inner.clone().prop_map(|l| format!("SIGN({l})")),
            inner.clone().prop_map(|l| format!("-({l})")),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("LOG({l},{r})")),
            inner.clone().prop_map(|l| format!("LOG({l})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, l, r)| format!("IF({c}>0,{l},{r})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, l, r)| format!("IF({c}<=x,{l},{r})")),
            (inner.clone(), inner).prop_map(|(c, l)| format!("IF({c}<>0,{l})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_formulas_train_bit_for_bit(
        f in formula(),
        init in proptest::collection::vec(-1.5f64..1.5, 3),
        opt in 0usize..21,
        shuffle in proptest::option::of(0u64..100),
        batch in 0usize..5,
        gradient in 0usize..4,
    ) {
        let model = Model::new(&format!("a*0+b*0+c*0+{f}"), "squared", &Roles::with_columns(&["x", "y"])).unwrap();
        let trainer = Trainer::new(&model, &data()).unwrap();
        let opt = optimizers()[opt].clone();
        let mut cfg = TrainConfig::new(opt.clone(), 3);
        cfg.record = Record::Epochs;
        cfg.shuffle = shuffle;
        cfg.batch_size = BATCHES[batch];
        cfg.gradient = gradients()[gradient];
        prop_assert!(EpochKernel::compile_for(&trainer, &cfg).is_ok());
        let fast = run_fast(&trainer, &init, &cfg).expect("supported").unwrap();
        let slow = trainer.run(&init, &cfg, &mut Hooks::none()).unwrap();
        assert_same(&fast, &slow, &format!("{f} with {opt}, batch {}, {:?}", BATCHES[batch], cfg.gradient));
    }

    #[test]
    fn random_formulas_have_the_interpreters_gradient(
        f in formula(),
        vals in proptest::collection::vec(-2.0f64..2.0, 5),
    ) {
        let model = Model::new(&f, "squared", &Roles { data: vec!["x".into(), "y".into()], params: vec!["a".into(), "b".into(), "c".into()], ..Roles::default() }).unwrap();
        assert_gradient_kernel(&model, &vals);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, ..ProptestConfig::default() })]

    /// The compiled lanes sum, at every point, what the interpreter sums row by row:
    /// Cranelift's 128-bit kernels and, where the processor has AVX-512 and the formula
    /// calls no Rust function, the wide ones.
    #[test]
    fn random_formulas_summed_over_lanes_are_the_interpreters(
        f in formula(),
        a in -1.5f64..1.5,
        c in -1.5f64..1.5,
        bs in proptest::collection::vec(-2.0f64..2.0, 64),
    ) {
        let roles = Roles { data: vec!["x".into(), "y".into()], params: vec!["a".into(), "b".into(), "c".into()], ..Roles::default() };
        let model = Model::new(&format!("a*0+b*0+c*0+x*0+{f}"), "squared", &roles).unwrap();
        let compiled = model.compile();
        let rows = data().project(&model.columns).unwrap();
        let nc = compiled.n_cols;
        let b_slot = (nc + 1) as u32;
        let mut uniform = vec![0.0; compiled.tape.n_vars()];
        uniform[nc] = a;
        uniform[nc + 2] = c;
        for width in [Width::Widest, Width::Sse2] {
            let k = LaneKernel::compile_at(&compiled.tape, nc, 1, &[b_slot], width).unwrap();
            let mut sums = vec![0.0; k.width()];
            k.sum(&LaneRows::new(&rows, nc), &bs, &uniform, &mut sums);
            for (w, b) in bs.iter().take(k.width()).enumerate() {
                let s = row_sum(&compiled, &rows, &[a, *b, c]);
                prop_assert_eq!(key(s), key(sums[w]), "{} at b = {} ({:?})", f, b, k);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, ..ProptestConfig::default() })]

    /// An error landscape over any two parameters is, point by point, the interpreter's
    /// `Trainer::mean_error` (11 columns: a full block of lanes and a short one).
    #[test]
    fn random_landscapes_are_the_interpreters_mean_errors(
        f in formula(),
        at in proptest::collection::vec(-1.5f64..1.5, 3),
        (ix, iy) in (0usize..3, 0usize..3).prop_filter("two axes", |(x, y)| x != y),
        xs in proptest::collection::vec(-2.0f64..2.0, 11),
        ys in proptest::collection::vec(-2.0f64..2.0, 3),
    ) {
        let roles = Roles { data: vec!["x".into(), "y".into()], params: vec!["a".into(), "b".into(), "c".into()], ..Roles::default() };
        let model = Model::new(&format!("a*0+b*0+c*0+x*0+{f}"), "squared", &roles).unwrap();
        let trainer = Trainer::new(&model, &data()).unwrap();
        let rows = data().project(&model.columns).unwrap();
        let axes = surface::Axes { x: (ix, &xs), y: (iy, &ys) };
        let grid = surface::mean_error_grid(&trainer.compiled, &rows, &at, axes).unwrap();
        prop_assert_eq!(grid.len(), xs.len() * ys.len());
        let mut ws = trainer.compiled.workspace();
        for (k, y) in ys.iter().enumerate() {
            for (j, x) in xs.iter().enumerate() {
                let mut p = at.clone();
                p[ix] = *x;
                p[iy] = *y;
                let e = trainer.mean_error(&mut ws, &p);
                prop_assert_eq!(key(e), key(grid[k * xs.len() + j]), "{} at {:?}", f, p);
            }
        }
    }
}

#[test]
fn a_landscape_names_a_bad_axis() {
    let model = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
    let rows = Dataset::graddesc().project(&model.columns).unwrap();
    let c = model.compile();
    let v = [1.0, 2.0];
    let err = |x: usize, y: usize, at: &[f64]| {
        let axes = surface::Axes {
            x: (x, &v),
            y: (y, &v),
        };
        surface::mean_error_grid(&c, &rows, at, axes)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err(0, 2, &[0.0, 0.0]),
        "the model has 2 parameters: there is no parameter 3"
    );
    assert_eq!(
        err(1, 1, &[0.0, 0.0]),
        "the two axes must be different parameters"
    );
    assert_eq!(err(0, 1, &[0.0]), "expected 2 parameter values, got 1");
}

/// W3's engine (a compiled per-rating formula over gathered table entries, the general
/// `Optimizer::step`) and its hand-written twin train the same tables, bit for bit.
#[test]
fn collaborative_filtering_through_the_engine_is_the_hand_written_loop() {
    use gradsheet_jit::collab::{self, CollabConfig, Ratings};
    let data = Ratings::synthetic(40, 70, 3000, 3);
    for weight_decay in [0.0, 0.05] {
        let cfg = CollabConfig {
            k: 6,
            batch: 64,
            epochs: 2,
            lr: 1e-2,
            weight_decay,
            seed: 9,
            sparse: false,
        };
        let engine = collab::train_engine(&data, &cfg).unwrap();
        let hand = gradsheet_jit::best::w3_same_order(&data, &cfg);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&engine.tables.params), bits(&hand.tables.params));
        assert_eq!(bits(&engine.epoch_errors), bits(&hand.epoch_errors));
        assert!(engine.epoch_errors[1] < engine.epoch_errors[0]);
    }
}

/// What `gradsheet collab` builds on: a seeded split, the tables' predictions (the
/// formula's own sum), and a run that stops when asked.
#[test]
fn collaborative_filtering_splits_predicts_and_stops() {
    use gradsheet_jit::collab::{self, CollabConfig, Ratings};
    let data = Ratings::synthetic(30, 50, 1000, 5);
    let (train, valid) = data.split(0.2, 1);
    assert_eq!((train.triples.len(), valid.triples.len()), (800, 200));
    assert_eq!(data.split(0.2, 1), (train.clone(), valid.clone()));
    assert_ne!(data.split(0.2, 2).1, valid);
    let mut all: Vec<_> = train
        .triples
        .iter()
        .chain(&valid.triples)
        .copied()
        .collect();
    let mut orig = data.triples.clone();
    let key = |t: &(u32, u32, f64)| (t.0, t.1, t.2.to_bits());
    all.sort_by_key(key);
    orig.sort_by_key(key);
    assert_eq!(all, orig, "the two sets are the ratings, each once");

    let cfg = CollabConfig {
        k: 4,
        epochs: 5,
        ..CollabConfig::default()
    };
    let mut seen = Vec::new();
    let run = collab::train_engine_with(&train, &cfg, &mut |epoch, err, tables| {
        seen.push((epoch, err, tables.mse(&valid)));
        epoch < 2
    })
    .unwrap();
    assert_eq!(run.epoch_errors.len(), 2, "stopped after the second epoch");
    assert_eq!(seen[1].1, run.epoch_errors[1]);
    // The predictions are the compiled formula's, bit for bit.
    let model =
        gradsheet_engine::Model::new(&collab::formula(4), "squared", &Roles::with_columns(&["y"]))
            .unwrap();
    let c = model.compile();
    let mut ws = c.workspace();
    let (u, i, y) = valid.triples[0];
    let t = &run.tables;
    let p: Vec<f64> = model
        .params
        .iter()
        .map(|name| {
            let (pu, pi) = (u as usize * 4, (30 + i as usize) * 4);
            match name.as_str() {
                "bu" => t.params[80 * 4 + u as usize],
                "bm" => t.params[80 * 4 + 30 + i as usize],
                n if n.starts_with('u') => t.params[pu + n[1..].parse::<usize>().unwrap()],
                n => t.params[pi + n[1..].parse::<usize>().unwrap()],
            }
        })
        .collect();
    let (pred, _) = c.row(&mut ws, &[y], &p);
    assert_eq!(pred.to_bits(), t.predict(u as usize, i as usize).to_bits());
    assert!(seen[1].2 < seen[0].2, "the held-out error falls: {seen:?}");
}

/// The compiled SGD step leaves out the exact gradient's `+0.0` (a zero product's sign
/// only matters for a parameter at −0, which SGD never makes): parameters at ±0 with
/// gradients whose products are −0, at a rate and at 0, against the interpreter.
#[test]
fn sgd_keeps_the_interpreters_signs_of_zero() {
    let model = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
    let rows = vec![
        vec![-1.0, 0.0],
        vec![0.0, 0.0],
        vec![2.0, -0.0],
        vec![-0.0, 0.0],
    ];
    let data = Dataset::from_rows(vec!["x".into(), "y".into()], &rows).unwrap();
    let trainer = Trainer::new(&model, &data).unwrap();
    for lr in [0.1, 0.0] {
        for record in [Record::Final, Record::Epochs] {
            let mut cfg = TrainConfig::new(Optimizer::sgd(lr), 3);
            cfg.record = record;
            let k = EpochKernel::compile_for(&trainer, &cfg).expect("compiles");
            for init in [
                [0.0, 0.0],
                [-0.0, 0.0],
                [0.0, -0.0],
                [-0.0, -0.0],
                [1e-320, -1e-320],
            ] {
                let fast = k.run(&trainer, &init, &cfg, &mut Hooks::none()).unwrap();
                let slow = trainer.run(&init, &cfg, &mut Hooks::none()).unwrap();
                assert_same(&fast, &slow, &format!("lr {lr}, from {init:?}"));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, ..ProptestConfig::default() })]

    /// A kernel's mean error (what a stability map's verdict reads at a run's start and
    /// end) is the interpreter's `Trainer::mean_error` bit for bit, whatever the kernel's
    /// rule, batch and gradient, at any parameters (NaN and infinite errors included).
    #[test]
    fn random_formulas_mean_errors_are_the_interpreters(
        f in formula(),
        ps in proptest::collection::vec(-2.0f64..2.0, 3),
        opt in 0usize..21,
        batch in 0usize..5,
        gradient in 0usize..4,
    ) {
        let model = Model::new(&format!("a*0+b*0+c*0+{f}"), "squared", &Roles::with_columns(&["x", "y"])).unwrap();
        let trainer = Trainer::new(&model, &data()).unwrap();
        let mut cfg = TrainConfig::new(optimizers()[opt].clone(), 1);
        cfg.batch_size = BATCHES[batch];
        cfg.gradient = gradients()[gradient];
        let k = EpochKernel::compile_for(&trainer, &cfg).unwrap();
        let mut ws = trainer.compiled.workspace();
        prop_assert_eq!(key(k.mean_error(&trainer, &ps)), key(trainer.mean_error(&mut ws, &ps)), "{} at {:?}", f, ps);
    }
}

/// Eight random formulas of [`formula`], each in its own `a{i}`, `b{i}`, `c{i}`, summed:
/// a model of 24 parameters, past the straight-line update, whose rows keep their
/// values in memory (`emit_row_in_memory`).
fn large(fs: &[String]) -> String {
    let params: Vec<String> = (0..fs.len())
        .flat_map(|i| [format!("a{i}*0"), format!("b{i}*0"), format!("c{i}*0")])
        .collect();
    let terms: Vec<String> = fs
        .iter()
        .enumerate()
        .map(|(i, f)| {
            // Only the parameters are lowercase a, b and c (function names are capitals).
            f.replace('a', &format!("a{i}"))
                .replace('b', &format!("b{i}"))
                .replace('c', &format!("c{i}"))
        })
        .collect();
    // The zero terms last: a gradient's first reader is then in a random formula
    // where it has one, and the gradient is only whole after the pass has gone back
    // past it.
    format!("{}+{}", terms.join("+"), params.join("+"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    /// A large model's steps, per sample and by batches, with its row's values in
    /// memory and each gradient stored (or added to its batch's sum) as soon as it is
    /// whole, train as the interpreter does; its mean
    /// error (the forward pass alone, its values in memory too) is the interpreter's.
    #[test]
    fn random_large_models_train_bit_for_bit(
        fs in proptest::collection::vec(formula(), 8),
        init in proptest::collection::vec(-1.5f64..1.5, 24),
        opt in 0usize..21,
        shuffle in proptest::option::of(0u64..100),
        batch in 0usize..5,
        gradient in 0usize..2,
    ) {
        let f = large(&fs);
        let model = Model::new(&f, "squared", &Roles::with_columns(&["x", "y"])).unwrap();
        prop_assert_eq!(model.params.len(), 24);
        let trainer = Trainer::new(&model, &data()).unwrap();
        let opt = optimizers()[opt].clone();
        let mut cfg = TrainConfig::new(opt.clone(), 2);
        cfg.record = Record::Epochs;
        cfg.shuffle = shuffle;
        cfg.batch_size = BATCHES[batch];
        cfg.gradient = gradients()[gradient];
        let fast = run_fast(&trainer, &init, &cfg).expect("supported").unwrap();
        let slow = trainer.run(&init, &cfg, &mut Hooks::none()).unwrap();
        assert_same(&fast, &slow, &format!("{f} with {opt}, batch {}, {:?}", BATCHES[batch], cfg.gradient));
        let k = EpochKernel::compile_for(&trainer, &cfg).unwrap();
        let mut ws = trainer.compiled.workspace();
        prop_assert_eq!(key(k.mean_error(&trainer, &init)), key(trainer.mean_error(&mut ws, &init)), "{}", f);
    }

    /// A large model's gradient kernel (its row in memory, in a stack slot) is the
    /// interpreter's gradient, bit for bit, at any values.
    #[test]
    fn random_large_models_have_the_interpreters_gradient(
        fs in proptest::collection::vec(formula(), 8),
        vals in proptest::collection::vec(-2.0f64..2.0, 26),
    ) {
        let model = Model::new(&large(&fs), "squared", &Roles::with_columns(&["x", "y"])).unwrap();
        assert_gradient_kernel(&model, &vals);
    }
}

/// The mean error of a wide model (its parameters in memory, past the straight-line
/// update) is the interpreter's too, and a kernel asked for another model's answers with
/// the interpreter's value rather than its own model's.
#[test]
fn mean_errors_of_wide_and_other_models_are_the_interpreters() {
    let units = 9;
    let f: String = (0..units)
        .map(|i| format!("c{i}*MAX(a{i}*x+b{i},0)"))
        .collect::<Vec<_>>()
        .join("+")
        + "+d";
    let roles = Roles::with_columns(&["x", "y"]);
    let wide = Trainer::new(&Model::new(&f, "squared", &roles).unwrap(), &data()).unwrap();
    let cfg = TrainConfig::new(Optimizer::sgd(0.1), 1);
    let k = EpochKernel::compile_for(&wide, &cfg).unwrap();
    let mut ws = wide.compiled.workspace();
    for s in [0.0, 0.3, -1.7, 1e200] {
        let p: Vec<f64> = (0..3 * units + 1)
            .map(|k| s * (((k * 37) % 11) as f64 / 11.0 - 0.45))
            .collect();
        let (fast, slow) = (k.mean_error(&wide, &p), wide.mean_error(&mut ws, &p));
        assert_eq!(key(fast), key(slow), "at scale {s}");
    }
    let line = Trainer::new(&Model::new("a*x+b", "squared", &roles).unwrap(), &data()).unwrap();
    let other = Trainer::new(&Model::new("a*x-b", "squared", &roles).unwrap(), &data()).unwrap();
    let k = EpochKernel::compile_for(&line, &cfg).unwrap();
    let mut ws = other.compiled.workspace();
    let p = [0.5, 2.0];
    assert_eq!(k.mean_error(&other, &p), other.mean_error(&mut ws, &p));
    assert_ne!(k.mean_error(&line, &p), k.mean_error(&other, &p));
}

/// Runs that keep no epoch reuse their thread's room for a call's records (see
/// `run::Native`): runs of models with records of different lengths, for spans of
/// different lengths, one after the other on one thread, and one that diverges between
/// them, each the interpreter's bit for bit.
#[test]
fn runs_one_after_another_on_a_thread_are_the_interpreters() {
    let roles = Roles::with_columns(&["x", "y"]);
    let small = Trainer::new(&Model::new("a*x+b", "squared", &roles).unwrap(), &data()).unwrap();
    let wide = Trainer::new(
        &Model::new("c*MAX(a*x+b,0)+d*x+e", "squared", &roles).unwrap(),
        &Dataset::graddesc(),
    )
    .unwrap();
    for round in 0..3 {
        for (t, init, lr, epochs) in [
            (&small, vec![1.0, 1.0], 0.05, 700),
            (&wide, vec![0.5; 5], 1e-5, 40 + round),
            (&small, vec![1.0, -1.0], 3.0, 50),
            (&wide, vec![0.2; 5], 1e-6, 300),
        ] {
            let mut cfg = TrainConfig::new(Optimizer::Momentum { lr, beta: 0.5 }, epochs);
            cfg.record = Record::Final;
            let fast = run_fast(t, &init, &cfg).unwrap().unwrap();
            let slow = t.run(&init, &cfg, &mut Hooks::none()).unwrap();
            assert_same(&fast, &slow, &format!("round {round}, lr {lr}"));
        }
    }
}

/// A sink hears every epoch's number and mean error, in order, whether the loop hands
/// them on one by one (the interpreter) or in chunks after spans of epochs (the native
/// backend, spans of 141 epochs here, chunks of at most 64).
#[test]
fn epoch_means_are_heard_in_order_from_spans() {
    #[derive(Default)]
    struct Heard(Vec<(usize, u64)>);
    impl gradsheet_train::Sink for Heard {
        fn epoch_mean(&mut self, epoch: usize, mean: f64) {
            self.0.push((epoch, key(mean)));
        }
    }
    let roles = Roles::with_columns(&["x", "y"]);
    let t = Trainer::new(
        &Model::new("a*x+b", "squared", &roles).unwrap(),
        &Dataset::graddesc(),
    )
    .unwrap();
    let mut cfg = TrainConfig::new(
        Optimizer::Momentum {
            lr: 1e-5,
            beta: 0.9,
        },
        300,
    );
    cfg.record = Record::Final;
    let (mut fast, mut slow) = (Heard::default(), Heard::default());
    gradsheet_jit::train_into(&t, &[1.0, 1.0], &cfg, &mut Hooks::none(), &mut fast, None).unwrap();
    t.run_into(&[1.0, 1.0], &cfg, &mut Hooks::none(), &mut slow)
        .unwrap();
    assert_eq!(fast.0.len(), 300);
    assert!(fast.0.iter().enumerate().all(|(k, (e, _))| *e == k + 1));
    assert_eq!(fast.0, slow.0);
}

/// The interpreter's sum of a model's error over `rows` at parameters `p`, row by row
/// from 0, as a lane kernel sums it.
fn row_sum(compiled: &gradsheet_engine::CompiledModel, rows: &[f64], p: &[f64]) -> f64 {
    let mut ws = compiled.workspace();
    let mut s = 0.0;
    for r in rows.chunks_exact(compiled.n_cols) {
        s += compiled.row(&mut ws, r, p).1;
    }
    s
}

/// Every operation the AVX-512 kernels write themselves (arithmetic, square roots, the
/// sign bit, comparisons and blends, the folds' NaN rules, integer powers), at lanes that
/// include NaN, infinities, zeros of both signs and a lane beyond one register: the sums
/// are the interpreter's, bit for bit (NaN's payload aside), and the kernel runs at the
/// machine's width where it has AVX-512.
#[test]
fn wide_lanes_compute_each_operation_as_the_interpreter() {
    let formulas = [
        "a*x+b",
        "b-x",
        "x-b",
        "b/x",
        "x/b",
        "1-b",
        "b/(x-x)",
        "-b*c",
        "ABS(b-x)",
        "SQRT(b*x)",
        "SQRT(ABS(b))+c",
        "MAX(a*x+b,0)*c",
        "MAX(b,x,c)",
        "MIN(x,b)",
        "MIN(b,0)",
        "IF(b>x,b,x)",
        "IF(b<x,1,2)",
        "IF(b>=c,b,c)",
        "IF(b<=0,-b)",
        "IF(b=x,5,b)",
        "IF(b<>0,1/b,7)",
        "(b>x)+(b<=c)",
        "b^3",
        "b^-2",
        "x^2*b",
        "SIGN(b)*x",
        "RELU(b-x)",
        "c",
        "a*x*x+c",
        "(a*x+b)*(c*x+b)-(b+x)/(c-b)",
    ];
    let mut bs: Vec<f64> = vec![
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.0,
        -0.0,
        1.0,
        -1.0,
        1e-310,
        -1e300,
        0.6,
    ];
    bs.extend((0..54).map(|i| (i as f64 - 27.0) * 0.173));
    let roles = Roles {
        data: vec!["x".into(), "y".into()],
        params: vec!["a".into(), "b".into(), "c".into()],
        ..Roles::default()
    };
    let rows = data().project(&["x".to_string(), "y".to_string()]).unwrap();
    let wide = std::arch::is_x86_feature_detected!("avx512f");
    if !wide {
        eprintln!(
            "SKIPPED (in part): this processor has no AVX-512F; only the 128-bit kernels run"
        );
    }
    for f in formulas {
        let model = Model::new(&format!("a*0+b*0+c*0+x*0+{f}"), "squared", &roles).unwrap();
        let compiled = model.compile();
        let nc = compiled.n_cols;
        let k = LaneKernel::compile(&compiled.tape, nc, 1, &[(nc + 1) as u32]).unwrap();
        if wide {
            assert_eq!(k.width(), 64, "{f} runs at the machine's width");
        }
        for (a, c) in [(0.5, -1.25), (-2.0, 0.0), (f64::NAN, 3.0)] {
            let mut uniform = vec![0.0; compiled.tape.n_vars()];
            uniform[nc] = a;
            uniform[nc + 2] = c;
            let mut sums = vec![0.0; k.width()];
            k.sum(&LaneRows::new(&rows, nc), &bs, &uniform, &mut sums);
            for (w, b) in bs.iter().take(k.width()).enumerate() {
                let s = row_sum(&compiled, &rows, &[a, *b, c]);
                assert_eq!(key(s), key(sums[w]), "{f} at a = {a}, b = {b}, c = {c}");
            }
        }
    }
}

/// A formula that calls a Rust function (EXP) has no AVX-512 form: it runs on
/// Cranelift's kernels, whose width is 8.
#[test]
fn lanes_that_call_a_function_run_at_128_bits() {
    let model = Model::new("EXP(a*x)+b", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
    let c = model.compile();
    let k = LaneKernel::compile(&c.tape, c.n_cols, 1, &[(c.n_cols + 1) as u32]).unwrap();
    assert_eq!(k.width(), 8);
    let s = LaneKernel::compile_at(&c.tape, c.n_cols, 1, &[3], Width::Sse2).unwrap();
    assert_eq!(s.width(), 8);
}

/// A line of a landscape whose last block is short runs it on a narrower kernel
/// (`Width::Holding`): 80 points as 64 + 16 lanes, 130 as 2 × 64 + 8, 5 as 8, 81 as
/// 64 + 32; every value is still the interpreter's mean error.
#[test]
fn landscapes_with_short_last_blocks_are_the_interpreters() {
    let model = Model::new(
        "c*MAX(a*x+b,0)",
        "squared",
        &Roles::with_columns(&["x", "y"]),
    )
    .unwrap();
    let trainer = Trainer::new(&model, &data()).unwrap();
    let c = &trainer.compiled;
    if std::arch::is_x86_feature_detected!("avx512f") {
        let at = |n| {
            LaneKernel::compile_at(&c.tape, c.n_cols, 1, &[3], Width::Holding(n))
                .unwrap()
                .width()
        };
        assert_eq!(
            [at(1), at(8), at(9), at(16), at(17), at(100)],
            [8, 8, 16, 16, 32, 64]
        );
    } else {
        eprintln!("SKIPPED (in part): no AVX-512F here, every kernel is 8 wide");
    }
    let rows = data().project(&model.columns).unwrap();
    for n in [5, 80, 81, 130] {
        let xs: Vec<f64> = (0..n).map(|i| -2.0 + 0.037 * i as f64).collect();
        let ys = [0.5, -1.5];
        let axes = surface::Axes {
            x: (1, &xs),
            y: (2, &ys),
        };
        let grid = surface::mean_error_grid(c, &rows, &[0.7, 0.0, 0.0], axes).unwrap();
        let mut ws = c.workspace();
        for (k, y) in ys.iter().enumerate() {
            for (j, x) in xs.iter().enumerate() {
                let e = trainer.mean_error(&mut ws, &[0.7, *x, *y]);
                assert_eq!(key(e), key(grid[k * n + j]), "{n} points, at {x}, {y}");
            }
        }
    }
}

/// Lane slots that are not variables of the tape, or that are data columns, and an
/// output the tape does not have, are refused before any code is written, at every width.
#[test]
fn lanes_refuse_slots_out_of_range() {
    let model = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
    let c = model.compile();
    let nv = c.tape.n_vars() as u32;
    for width in [Width::Widest, Width::Sse2, Width::Holding(3)] {
        for (which, slots) in [(1, vec![nv]), (1, vec![0]), (1, vec![2, 99]), (7, vec![2])] {
            let e = LaneKernel::compile_at(&c.tape, c.n_cols, which, &slots, width).unwrap_err();
            assert_eq!(
                e.to_string(),
                CompileError::Unsupported("slots out of range".into()).to_string()
            );
        }
        assert!(LaneKernel::compile_at(&c.tape, c.n_cols, 1, &[2], width).is_ok());
    }
}
