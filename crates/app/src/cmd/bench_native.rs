//! `gradsheet bench --only cover`: what the native path covers. For each way of
//! training a learner meets (mini-batches, full batch, a rate of 0, AMSGrad, the
//! workbook's adagrad, shuffling, finite differences), the time per gradient evaluation
//! through `jit::train` (native where the run allows it) and through the interpreter,
//! and its ratio to exact per-sample training on native code, the speed the issue
//! holds every case to (within 1.5×). Kernels are compiled before the clock starts.

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::Result;
use gradsheet_engine::{Dataset, Model, Roles, Scheme};
use gradsheet_jit::EpochKernel;
use gradsheet_train::{Gradient, Hooks, Optimizer, Record, Trace, TrainConfig, Trainer};

/// The rows: a noisy parabola, so that a ReLU unit has rows on both sides of its kink.
fn data(n: usize) -> Dataset {
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let x = (i as f64 / n as f64) * 4.0 - 2.0;
            let wobble = ((i * 7919) % 101) as f64 / 101.0 - 0.5;
            vec![x, 0.7 * x * x - 0.3 * x + 0.25 + 0.1 * wobble]
        })
        .collect();
    Dataset::from_rows(vec!["x".into(), "y".into()], &rows).expect("two columns")
}

/// The best time of `reps` runs of `f`, and its last result.
fn best<T>(reps: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut t_best = Duration::MAX;
    let mut last = None;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        let r = black_box(f());
        t_best = t_best.min(t.elapsed());
        last = Some(r);
    }
    (t_best, last.expect("ran at least once"))
}

fn same(a: &Trace, b: &Trace) -> bool {
    let bits = |t: &Trace| {
        let mut v: Vec<u64> = t.final_params.iter().map(|x| x.to_bits()).collect();
        v.extend(t.final_state.iter().map(|x| x.to_bits()));
        for e in &t.epochs {
            v.push(e.sum_error.to_bits());
            v.extend(e.grad_norms.iter().map(|x| x.to_bits()));
        }
        v
    };
    a.stop == b.stop && bits(a) == bits(b)
}

/// Prints, for each case, native and interpreted time per gradient evaluation (one
/// row's gradient: a batch of 8 rows is 8), whether the traces agree bit for bit, and
/// the native time's ratio to exact per-sample native training with the same rule.
pub(crate) fn coverage(reps: usize) -> Result<()> {
    // W1's model and rule (the cheapest step, where overheads show most) and W2's.
    let adam = Optimizer::Adam {
        lr: 0.01,
        beta1: 0.9,
        beta2: 0.99,
    };
    table("a*x+b", &[0.5, 0.1], &Optimizer::sgd(0.01), reps)?;
    table("c*MAX(a*x+b,0)+d", &[0.5, -0.2, 0.8, 0.1], &adam, reps)?;
    // (torch's Adam: the workbook's has no ε, and a dead unit's 0/0 stops the run.)
    wide(&Optimizer::torch_adam(0.01), reps)
}

/// The compile benchmark's 130-parameter model (43 ReLU units), whose update is a loop
/// over the parameters in memory: native and interpreted time per gradient evaluation.
fn wide(opt: &Optimizer, reps: usize) -> Result<()> {
    let n = 1000;
    let f: String = (0..43)
        .map(|i| format!("c{i}*MAX(a{i}*x+b{i},0)"))
        .collect::<Vec<_>>()
        .join("+")
        + "+d";
    let model = Model::new(&f, "squared", &Roles::with_columns(&["x", "y"]))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let trainer = Trainer::new(&model, &data(n))?;
    let init: Vec<f64> = (0..model.params.len())
        .map(|k| ((k * 37) % 11) as f64 / 11.0 - 0.45)
        .collect();
    println!(
        "native coverage: 43 ReLU units (130 parameters), {n} rows, 5 epochs, epoch summaries"
    );
    for batch in [1, 64] {
        let mut c = TrainConfig::new(opt.clone(), 5);
        c.record = Record::Epochs;
        c.batch_size = batch;
        let k = EpochKernel::compile_for(&trainer, &c).ok();
        let (tn, fast) = best(reps, || {
            gradsheet_jit::train(&trainer, &init, &c, &mut Hooks::none(), k.as_ref())
        });
        let (ti, slow) = best(reps, || trainer.run(&init, &c, &mut Hooks::none()));
        let evals = (n * c.epochs) as f64;
        let (fast, slow) = (fast?, slow?);
        println!(
            "  batch {batch:<14} {:<11} native {:>7.1}  interpreter {:>7.1}  {} {:?}",
            opt.name(),
            tn.as_secs_f64() / evals * 1e9,
            ti.as_secs_f64() / evals * 1e9,
            if same(&fast, &slow) {
                "bit-identical"
            } else {
                "DIFFERENT"
            },
            fast.stop,
        );
    }
    Ok(())
}

/// The cases for one model, `base` being the rule of the cases that vary something else.
fn table(formula: &str, init: &[f64], base: &Optimizer, reps: usize) -> Result<()> {
    let n = 1000;
    let model = Model::new(formula, "squared", &Roles::with_columns(&["x", "y"]))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let trainer = Trainer::new(&model, &data(n))?;
    let adam = base;
    let mut amsgrad = Optimizer::torch_adam(0.01);
    if let Optimizer::TorchAdam { amsgrad: on, .. } = &mut amsgrad {
        *on = true;
    }
    let cfg = |opt: &Optimizer, f: &dyn Fn(&mut TrainConfig)| {
        let mut c = TrainConfig::new(opt.clone(), 20);
        c.record = Record::Epochs;
        f(&mut c);
        c
    };
    let fd = |scheme| Gradient::Fd { scheme, h: 1e-6 };
    let torch_adam = Optimizer::torch_adam(0.01);
    let sgd = Optimizer::sgd(0.01);
    // (what, the case, the per-sample rule it is held to)
    let cases: Vec<(&str, TrainConfig, &Optimizer)> = vec![
        ("per-sample", cfg(adam, &|_| {}), adam),
        ("batch 8", cfg(adam, &|c| c.batch_size = 8), adam),
        ("batch 64", cfg(adam, &|c| c.batch_size = 64), adam),
        ("full batch", cfg(adam, &|c| c.batch_size = 0), adam),
        ("shuffled", cfg(adam, &|c| c.shuffle = Some(7)), adam),
        // Long enough (400,000 row-steps) that the orders are drawn on the other core
        // (`gradsheet_train`'s orders): the runs where a step's cost adds up.
        (
            "shuffled, 400 ep.",
            cfg(adam, &|c| {
                c.shuffle = Some(7);
                c.epochs = 400;
            }),
            adam,
        ),
        ("sgd lr 0", cfg(&Optimizer::sgd(0.0), &|_| {}), &sgd),
        ("amsgrad", cfg(&amsgrad, &|_| {}), &torch_adam),
        (
            "workbook adagrad",
            cfg(&Optimizer::Adagrad { lr: 1e-4, r0: 1e4 }, &|_| {}),
            &sgd,
        ),
        (
            "forward differences",
            cfg(adam, &|c| c.gradient = fd(Scheme::Forward)),
            adam,
        ),
        (
            "central differences",
            cfg(adam, &|c| c.gradient = fd(Scheme::Central)),
            adam,
        ),
    ];
    println!(
        "native coverage: {formula}, {n} rows, 20 epochs (unless said), epoch summaries; \
         ns per gradient evaluation (one row's gradient)"
    );
    for (label, c, per_sample) in cases {
        let b = cfg(per_sample, &|_| {});
        // Compiled once before the clock starts, as a sweep or a map does.
        let kb = EpochKernel::compile_for(&trainer, &b).ok();
        let (t, _) = best(reps, || {
            gradsheet_jit::train(&trainer, init, &b, &mut Hooks::none(), kb.as_ref())
        });
        let per_sample_ns = t.as_secs_f64() / (n * b.epochs) as f64;
        let evals = (n * c.epochs) as f64;
        let kc = EpochKernel::compile_for(&trainer, &c).ok();
        let (tn, fast) = best(reps, || {
            gradsheet_jit::train(&trainer, init, &c, &mut Hooks::none(), kc.as_ref())
        });
        let (ti, slow) = best(reps, || trainer.run(init, &c, &mut Hooks::none()));
        let (fast, slow) = (fast?, slow?);
        let native = gradsheet_jit::unsupported(&trainer, &c).is_none();
        let tn = tn.as_secs_f64() / evals;
        let ti = ti.as_secs_f64() / evals;
        println!(
            "  {label:<20} {:<11} native {:>7.1}  interpreter {:>7.1}  ÷ per-sample native {} {:>5.2}  {} {}{}",
            c.optimizer.name(),
            tn * 1e9,
            ti * 1e9,
            per_sample.name(),
            tn / per_sample_ns,
            if same(&fast, &slow) { "bit-identical" } else { "DIFFERENT" },
            match fast.stop {
                gradsheet_train::Stop::Completed => "completed".to_string(),
                ref other => format!("{other:?}"),
            },
            if native { "" } else { " (left to the interpreter)" },
        );
    }
    Ok(())
}
