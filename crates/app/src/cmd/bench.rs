//! `gradsheet bench [--quick] [--only W1,W2,...]`: BENCHMARKS.md's workloads, each run through
//! the general engine and through a hand-written Rust loop computing the same thing in
//! the same operation order, in this process, interleaved and repeated (the best time of
//! each is kept). Prints the throughputs, their ratio, whether the results are equal,
//! and whether the target is met.

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use gradsheet_engine::{Model, Roles};
use gradsheet_jit::best;
use gradsheet_jit::collab::{self, CollabConfig, Ratings};
use gradsheet_jit::workloads::{self, PerSample};
use gradsheet_jit::EpochKernel;
use gradsheet_report::labs::gradsheet_labs;
use gradsheet_train::Optimizer;

use crate::output::table;

/// Benchmarks: the general engine against hand-written code.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Smaller workloads: a few seconds in all, for a smoke test.
    #[arg(long)]
    pub quick: bool,
    /// Run only these (comma-separated): W1, W2, W3, W4, W5, W6, compile, labs (every
    /// lab), or a lab's name; and, only when named, scale (collaborative filtering on
    /// 1M ratings with SparseAdam) and scale25m (also 25M ratings: a minute, 2 GB).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// A workbook to time as `gradsheet book` opens it (repeatable): open, recalculate,
    /// judge its typed columns, the web grid's redraw after one input changes, one
    /// exact gradient. Only these are timed when given without --only.
    #[arg(long, value_name = "FILE")]
    pub book: Vec<std::path::PathBuf>,
    /// Repetitions of each measurement; the best is reported (W3 uses at most 4: its
    /// epochs over tables larger than the caches vary the most from run to run).
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
}

/// One line of the report.
struct Line {
    name: &'static str,
    what: String,
    engine: String,
    /// The reference in the engine's operation order (equal results are equal bits).
    reference: String,
    ratio: f64,
    /// The best hand-written code for this machine, when the workload has one.
    best: Option<Best>,
    /// The target, held against the best reference's ratio when there is one (unless
    /// `judge_same_order`).
    target: f64,
    judge_same_order: bool,
    equal: String,
}

/// The best hand-written reference's side of a line.
struct Best {
    rate: String,
    ratio: f64,
    /// How its results compare with the engine's.
    agree: String,
}

impl Line {
    /// The ratio the target is held against.
    fn judged(&self) -> f64 {
        match &self.best {
            Some(b) if !self.judge_same_order => b.ratio,
            _ => self.ratio,
        }
    }
}

/// Runs the command.
pub fn run(a: Args) -> Result<()> {
    let wants = |w: &str| {
        (a.only.is_empty() && a.book.is_empty()) || a.only.iter().any(|o| o.eq_ignore_ascii_case(w))
    };
    let reps = a.repeat.max(1);
    let q = a.quick;
    let mut lines = Vec::new();
    println!(
        "gradsheet bench{}: {} logical CPUs, best of {reps} (interleaved); the best \
         hand-written references use {} and every thread",
        if q { " --quick" } else { "" },
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        gradsheet_jit::best::host_isa()
    );
    for path in &a.book {
        book_times(path, reps)?;
    }
    if wants("compile") {
        compile_times(reps.max(20))?;
    }
    if a.only.iter().any(|o| o.eq_ignore_ascii_case("cover")) {
        super::bench_native::coverage(reps)?;
    }
    let labs: Vec<_> = gradsheet_report::labs::all()
        .into_iter()
        .filter(|l| wants("labs") || a.only.iter().any(|o| o == l.name))
        .collect();
    if !labs.is_empty() {
        lab_times(&labs, reps)?;
    }
    if wants("W1") {
        lines.push(w1(if q { 10_000 } else { 100_000 }, reps)?);
    }
    if wants("W2") {
        lines.push(w2(if q { 2_000 } else { 20_000 }, reps)?);
    }
    if wants("W3") {
        lines.push(w3(if q { 1 } else { 5 }, reps.min(4))?);
    }
    if wants("W4") {
        let (g, n) = if q { (128, 1000) } else { (512, 1000) };
        lines.push(w4(g, n, reps)?);
    }
    if wants("W5") {
        lines.extend(w5(if q { 40 } else { 100 }, 100, reps)?);
    }
    if a.only.iter().any(|o| o.eq_ignore_ascii_case("scale")) {
        collab_scale(&[(6040, 3706, 1_000_000)])?;
    }
    if a.only.iter().any(|o| o.eq_ignore_ascii_case("scale25m")) {
        collab_scale(&[(6040, 3706, 1_000_000), (162_541, 59_047, 25_000_000)])?;
    }
    if wants("W6") {
        lines.push(w6(if q { 20 } else { 200 }, reps)?);
    }
    let headers: Vec<String> = [
        "workload",
        "size",
        "engine",
        "same order",
        "ratio",
        "best hand-written",
        "ratio",
        "target",
        "met",
        "results (same order; best)",
    ]
    .map(String::from)
    .to_vec();
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            let (best, best_ratio, agree) = l.best.as_ref().map_or_else(
                || ("-".to_string(), "-".to_string(), String::new()),
                |b| {
                    (
                        b.rate.clone(),
                        format!("{:.3}", b.ratio),
                        format!("; {}", b.agree),
                    )
                },
            );
            vec![
                l.name.to_string(),
                l.what.clone(),
                l.engine.clone(),
                l.reference.clone(),
                format!("{:.3}", l.ratio),
                best,
                best_ratio,
                format!(">= {}", trim(l.target)),
                if l.judged() >= l.target { "yes" } else { "NO" }.to_string(),
                format!("{}{agree}", l.equal),
            ]
        })
        .collect();
    println!();
    print!("{}", table(&headers, &rows));
    if let Some(peak) = peak_memory_mb() {
        println!("peak memory of this process: {peak:.1} MB");
    }
    Ok(())
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Times `engine`, `reference` and `best` in turn `reps` times; the best time of each
/// and the last result.
fn interleaved3<A, B, C>(
    reps: usize,
    mut engine: impl FnMut() -> A,
    mut reference: impl FnMut() -> B,
    mut best: impl FnMut() -> C,
) -> (Duration, A, Duration, B, Duration, C) {
    fn timed<T>(f: &mut impl FnMut() -> T, best: &mut Duration) -> T {
        let t = Instant::now();
        let x = black_box(f());
        *best = (*best).min(t.elapsed());
        x
    }
    let mut times = [Duration::MAX; 3];
    let [te, tr, tb] = &mut times;
    let mut a = timed(&mut engine, te);
    let mut b = timed(&mut reference, tr);
    let mut c = timed(&mut best, tb);
    for _ in 1..reps {
        a = timed(&mut engine, te);
        b = timed(&mut reference, tr);
        c = timed(&mut best, tb);
    }
    (times[0], a, times[1], b, times[2], c)
}

/// How far apart two results are: equal bits, or the largest difference relative to
/// the largest magnitude among them (NaNs must sit in the same places).
fn agreement(a: &[f64], b: &[f64]) -> String {
    if same_bits(a, b) {
        return "bit-identical".into();
    }
    if a.len() != b.len() || a.iter().zip(b).any(|(x, y)| x.is_nan() != y.is_nan()) {
        return "DIFFER (where NaN)".into();
    }
    let finite = |v: &f64| v.is_finite();
    let scale = a
        .iter()
        .chain(b)
        .filter(|v| finite(v))
        .fold(0.0f64, |m, v| m.max(v.abs()));
    let diff = a
        .iter()
        .zip(b)
        .filter(|(x, _)| finite(x))
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
    format!(
        "differ by {:.0e} of the largest",
        diff / scale.max(f64::MIN_POSITIVE)
    )
}

fn rate(n: f64, t: Duration) -> String {
    let r = n / t.as_secs_f64();
    if r >= 1e6 {
        format!("{:.1} M/s", r / 1e6)
    } else if r >= 1e3 {
        format!("{:.1} k/s", r / 1e3)
    } else {
        format!("{r:.1} /s")
    }
}

fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

fn compile_times(reps: usize) -> Result<()> {
    compile_time("c*MAX(a*x+b,0)+d", "c*MAX(a*x+b,0)+d", 1000.0, reps)?;
    // 43 ReLU units and an intercept: 130 parameters, the size the performance issue
    // asks to compile in under 5 ms, and whose derivatives it asks printed in under 20.
    let wide: String = (0..43)
        .map(|i| format!("c{i}*MAX(a{i}*x+b{i},0)"))
        .collect::<Vec<_>>()
        .join("+")
        + "+d";
    compile_time("43 ReLU units (130 parameters)", &wide, 5000.0, reps.min(5))?;
    let roles = Roles::with_columns(&["x", "y"]);
    let model = Model::new(&wide, "squared", &roles).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut best = Duration::MAX;
    for _ in 0..reps.min(3) {
        let t = Instant::now();
        for p in &model.params {
            black_box(gradsheet_engine::diff::shown_derivative(&model.error, p).ok());
        }
        best = best.min(t.elapsed());
    }
    println!(
        "derivative text: every one of the 130 parameters' printed derivative, best {:.0} ms; target < 20 ms",
        best.as_secs_f64() * 1e3
    );
    Ok(())
}

/// Parse + tape + native code of `formula` with Adam, `reps` times: median and best.
fn compile_time(label: &str, formula: &str, target_us: f64, reps: usize) -> Result<()> {
    let roles = Roles::with_columns(&["x", "y"]);
    let opt = Optimizer::Adam {
        lr: 0.01,
        beta1: 0.9,
        beta2: 0.99,
    };
    let reps = reps.max(1);
    let mut all = Vec::with_capacity(reps);
    let mut native = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        let model = Model::new(formula, "squared", &roles).map_err(|e| anyhow::anyhow!("{e}"))?;
        let compiled = model.compile();
        let t2 = Instant::now();
        let k = EpochKernel::compile(&compiled, &opt).context("compiling")?;
        native.push(t2.elapsed());
        all.push(t.elapsed());
        black_box(k);
    }
    all.sort();
    native.sort();
    println!(
        "compile: {label} with adam, parse + tape + native code: median {:.0} µs, best {:.0} µs \
         (native code alone: median {:.0} µs); target < {target_us:.0} µs",
        all[reps / 2].as_secs_f64() * 1e6,
        all[0].as_secs_f64() * 1e6,
        native[reps / 2].as_secs_f64() * 1e6
    );
    Ok(())
}

/// A workbook's phases as `gradsheet book` and the web page meet them, best of `reps`
/// each (BENCHMARKS.md sets them beside LibreOffice's own recalculation of the file).
fn book_times(path: &std::path::Path, reps: usize) -> Result<()> {
    use gradsheet_book::Book;
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let best = |f: &mut dyn FnMut()| {
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .min()
            .unwrap_or_default()
            .as_secs_f64()
            * 1e3
    };
    let book = Book::open(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let open = best(&mut || {
        black_box(Book::open(&bytes).ok());
    });
    let r = book.recalculate();
    let recalc = best(&mut || {
        black_box(book.recalculate());
    });
    let judged = book.derivative_columns().len();
    let judge = best(&mut || {
        black_box(book.derivative_columns());
    });
    let live = book.live().map_err(|e| anyhow::anyhow!("{e}"))?;
    let compile = best(&mut || {
        black_box(book.live().ok());
    });
    // The web grid's redraw: the first input moved, every computed cell again.
    let change: Vec<_> = book
        .inputs()
        .first()
        .map(|k| (*k, 1.5))
        .into_iter()
        .collect();
    let redraw = best(&mut || {
        black_box(live.values(&change).ok());
    });
    println!(
        "book {}: {} formula cells ({} agree); open {open:.1} ms, recalculate and compare {recalc:.1} ms, \
         judge {judged} typed columns {judge:.1} ms, compile every cell once {compile:.1} ms, \
         every cell again after one input changes {redraw:.2} ms",
        path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into()),
        r.formula_cells,
        r.agree
    );
    Ok(())
}

/// Every lab once at its defaults (the web page's first answer and the command line's),
/// best of `reps`: each must answer a change on the page in under 100 ms.
fn lab_times(labs: &[&gradsheet_labs::Lab], reps: usize) -> Result<()> {
    const TARGET_MS: f64 = 100.0;
    let mut slow = Vec::new();
    let mut line = Vec::new();
    for lab in labs {
        let params = gradsheet_labs::Params::defaults(lab.params);
        let mut best = Duration::MAX;
        let mut ran = true;
        for _ in 0..reps {
            let t = Instant::now();
            // A lab whose material is not on this machine (course22's) is skipped.
            ran = black_box((lab.run)(&params, None)).is_ok();
            best = best.min(t.elapsed());
        }
        if !ran {
            line.push(format!("{} (no material)", lab.name));
            continue;
        }
        let ms = best.as_secs_f64() * 1e3;
        if ms >= TARGET_MS {
            slow.push(lab.name);
        }
        line.push(format!("{} {ms:.1}", lab.name));
    }
    println!(
        "labs at their defaults, ms (target < {TARGET_MS} ms each): {}; {}",
        line.join(", "),
        if slow.is_empty() {
            "all met".to_string()
        } else {
            format!("NOT met by {}", slow.join(", "))
        }
    );
    Ok(())
}

fn w1(epochs: usize, reps: usize) -> Result<Line> {
    let ps = PerSample::w1(epochs).context("W1")?;
    let rows = &ps.trainer.rows;
    let mut line = per_sample(
        "W1",
        format!("sgd a*x+b, {epochs} epochs"),
        &ps,
        reps,
        || best::w1_same_order(rows, [1.0, 1.0], 1e-4, epochs).to_vec(),
        || best::w1(rows, [1.0, 1.0], 1e-4, epochs).to_vec(),
    )?;
    // The engine is to be level with a bare loop of its own arithmetic (one that keeps
    // nothing but the final parameters). The fused loop's chain of dependent operations
    // is shorter than the one Excel's roundings (unfused) allow: it is shown, not judged.
    line.target = 1.0;
    line.judge_same_order = true;
    Ok(line)
}

fn w2(epochs: usize, reps: usize) -> Result<Line> {
    let ps = PerSample::w2(epochs).context("W2")?;
    let rows = &ps.trainer.rows;
    let hyper = (0.01, 0.9, 0.99);
    let what = format!("adam c*MAX(a*x+b,0)+d, {epochs} epochs");
    per_sample(
        "W2",
        what,
        &ps,
        reps,
        || best::w2_same_order(rows, [1.0; 4], hyper, epochs).to_vec(),
        || best::w2(rows, [1.0; 4], hyper, epochs).to_vec(),
    )
}

/// W6: a 2-8-8-1 tanh network (sigmoid output, logistic loss) on the 500 points of the
/// circle dataset, per-sample SGD at lr 0.03 from seeded Xavier weights — the networks
/// page's default, compiled cell by cell as `gradsheet net` does.
fn w6(epochs: usize, reps: usize) -> Result<Line> {
    use gradsheet_net::{cells, data, init, network, spec};
    let split = data::DataSpec {
        kind: data::Kind::Circle,
        n: 500,
        test_fraction: 0.0,
        ..Default::default()
    }
    .draw()?;
    let inputs = vec!["x1".to_string(), "x2".to_string()];
    let net = spec::NetSpec::parse("2-8-8-1", "tanh", spec::Loss::Logistic, &inputs)?;
    let cells = cells::parse_cells(&net.text(), &["x1", "x2", "y"])?;
    let n = network::Network::new(
        cells,
        spec::Loss::Logistic,
        Default::default(),
        &split.train,
    )?;
    anyhow::ensure!(
        n.params().len() == workloads::NET_PARAMS,
        "W6: {} parameters, the reference has {}",
        n.params().len(),
        workloads::NET_PARAMS
    );
    let lr = 0.03;
    let mut cfg = gradsheet_train::TrainConfig::new(Optimizer::sgd(lr), epochs);
    cfg.record = gradsheet_train::Record::Final;
    let kernel =
        EpochKernel::compile_with(&n.trainer.compiled, &cfg.optimizer, false).context("W6")?;
    let ps = PerSample {
        trainer: n.trainer.clone(),
        cfg,
        init: init::initial(n.params(), init::Scheme::Xavier, 1),
        kernel,
    };
    let what = format!("net 2-8-8-1 tanh, 500 points, sgd, {epochs} epochs");
    let mut line = per_sample(
        "W6",
        what,
        &ps,
        reps,
        || workloads::net_reference(&ps.trainer.rows, &ps.init, lr, epochs).0,
        Vec::new,
    )?;
    line.target = 2.0 / 3.0;
    Ok(line)
}

/// A per-sample workload's line: the engine, `reference` (its final parameters) and
/// `best` in turn, and the interpreter's rate for scale.
fn per_sample(
    name: &'static str,
    what: String,
    ps: &PerSample,
    reps: usize,
    reference: impl FnMut() -> Vec<f64>,
    best: impl FnMut() -> Vec<f64>,
) -> Result<Line> {
    let epochs = ps.cfg.epochs;
    let steps = (epochs * ps.trainer.n_rows) as f64;
    let (te, fast, tr, p, tb, pb) = interleaved3(reps, || ps.engine(), reference, best);
    let fast = fast?;
    let interp = interpreter_rate(ps, (epochs / 50).max(1))?;
    // (A workload without a fused variant passes one that returns nothing.)
    let has_best = !pb.is_empty();
    println!(
        "{name}: interpreter (Trainer::run) {interp}; engine {}; same order {}{}",
        rate(steps, te),
        rate(steps, tr),
        if has_best {
            format!("; best {}", rate(steps, tb))
        } else {
            String::new()
        }
    );
    Ok(Line {
        name,
        what,
        engine: format!("{} steps", rate(steps, te)),
        reference: format!("{} steps", rate(steps, tr)),
        ratio: tr.as_secs_f64() / te.as_secs_f64(),
        best: has_best.then(|| Best {
            rate: format!("{} steps", rate(steps, tb)),
            ratio: tb.as_secs_f64() / te.as_secs_f64(),
            agree: agreement(&fast.final_params, &pb),
        }),
        target: 0.9,
        judge_same_order: false,
        equal: if same_bits(&fast.final_params, &p) {
            "bit-identical".into()
        } else {
            format!("DIFFER {:?} {p:?}", fast.final_params)
        },
    })
}

fn interpreter_rate(ps: &PerSample, epochs: usize) -> Result<String> {
    let t = Instant::now();
    black_box(ps.interpreter(epochs)?);
    Ok(format!(
        "{} steps",
        rate((epochs * ps.trainer.n_rows) as f64, t.elapsed())
    ))
}

fn w3(epochs: usize, reps: usize) -> Result<Line> {
    let data = Ratings::movielens_100k_shaped(1);
    let cfg = CollabConfig {
        epochs,
        ..CollabConfig::default()
    };
    let (te, fast, tr, slow, tb, tuned) = interleaved3(
        reps,
        || collab::train_engine(&data, &cfg),
        || best::w3_same_order(&data, &cfg),
        || best::w3(&data, &cfg),
    );
    let fast = fast.context("W3")?;
    let (ef, es) = (
        fast.epoch_errors.last().copied().unwrap_or(f64::NAN),
        slow.epoch_errors.last().copied().unwrap_or(f64::NAN),
    );
    let equal = if same_bits(&fast.tables.params, &slow.tables.params) {
        format!("bit-identical (final mse {ef:.6})")
    } else {
        format!("final mse {ef:.6} vs {es:.6}")
    };
    let per_epoch = |t: Duration| format!("{:.3} s/epoch", t.as_secs_f64() / epochs as f64);
    println!(
        "W3: per epoch engine {}, same order {}, best {}; epoch errors {:?}",
        per_epoch(te),
        per_epoch(tr),
        per_epoch(tb),
        fast.epoch_errors
    );
    Ok(Line {
        name: "W3",
        what: format!("collab k=50, batch 64, adam, {epochs} epochs"),
        engine: per_epoch(te),
        reference: per_epoch(tr),
        ratio: tr.as_secs_f64() / te.as_secs_f64(),
        best: Some(Best {
            rate: per_epoch(tb),
            ratio: tb.as_secs_f64() / te.as_secs_f64(),
            agree: format!(
                "final mse {:.6}",
                tuned.epoch_errors.last().copied().unwrap_or(f64::NAN)
            ),
        }),
        target: 2.0 / 3.0,
        judge_same_order: false,
        equal,
    })
}

fn w4(grid: usize, points: usize, reps: usize) -> Result<Line> {
    let data = workloads::w4_data(points);
    let model = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "y"]))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (as_, bs) = workloads::w4_grid(grid);
    let (te, fast, tr, slow, tb, tuned) = interleaved3(
        reps,
        || workloads::w4_engine(&model, &data, &as_, &bs),
        || best::w4_same_order(&data.values, &as_, &bs),
        || best::w4(&data.values, &as_, &bs),
    );
    let fast = fast.context("W4")?;
    let t = Instant::now();
    let lanes = workloads::w4_lanes(&model, &data, &as_, &bs);
    let tl = t.elapsed();
    let evals = (grid * grid * points) as f64;
    println!(
        "W4: engine (compiled lanes) {}; interpreter lanes {}; same order {}; best {} (rows/s)",
        rate(evals, te),
        rate(evals, tl),
        rate(evals, tr),
        rate(evals, tb)
    );
    Ok(Line {
        name: "W4",
        what: format!("mse surface {grid}x{grid}, {points} points"),
        engine: format!("{} rows", rate(evals, te)),
        reference: format!("{} rows", rate(evals, tr)),
        ratio: tr.as_secs_f64() / te.as_secs_f64(),
        best: Some(Best {
            rate: format!("{} rows", rate(evals, tb)),
            ratio: tb.as_secs_f64() / te.as_secs_f64(),
            agree: agreement(fast.as_slice(), &tuned),
        }),
        target: 2.0 / 3.0,
        judge_same_order: false,
        equal: if same_bits(&fast, &slow) && same_bits(&fast, &lanes) {
            "bit-identical".into()
        } else {
            "DIFFER".into()
        },
    })
}

fn w5(n: usize, epochs: usize, reps: usize) -> Result<Vec<Line>> {
    let pool = |t: usize| {
        gradsheet_jit::rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .context("thread pool")
    };
    let (p1, p2) = (pool(1)?, pool(2)?);
    let data = gradsheet_engine::Dataset::graddesc();
    let factor = gradsheet_train::DIVERGENCE_FACTOR;
    // The product's own stability map (`gradsheet sweep`, the web app's): β along x,
    // the learning rate along y, as `best::w5` lays its runs out.
    let model = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "y"]))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let trainer = gradsheet_train::Trainer::new(&model, &data)?;
    let base = gradsheet_train::TrainConfig::new(
        Optimizer::Momentum {
            lr: 1e-4,
            beta: 0.9,
        },
        epochs,
    );
    let denom = (n.max(2) - 1) as f64;
    use gradsheet_diagnose::sweep::{self, Axis, Setting};
    let betas = Axis {
        setting: Setting::Beta1,
        values: (0..n).map(|j| 0.99 * j as f64 / denom).collect(),
    };
    let lrs = Axis {
        setting: Setting::Lr,
        values: (0..n)
            .map(|i| 10f64.powf(-6.0 + 3.0 * i as f64 / denom))
            .collect(),
    };
    let sweep_map = || {
        sweep::sweep(&trainer, &[1.0, 1.0], &base, &betas, &lrs)
            .map_err(|e| anyhow::anyhow!("W5: {e}"))
    };
    // Each run's final error, NaN where it diverged (what `W5`'s yardsticks return).
    let map = || -> Result<Vec<f64>> {
        let errors = sweep_map()?.drawn_errors();
        Ok(errors.into_iter().map(|e| e.unwrap_or(f64::NAN)).collect())
    };
    // The best hand-written map advances its runs side by side in vectors (`w5_lanes`);
    // the map of runs one at a time (`w5`) shows what the engine's own run costs.
    let (t2, m2, ts, ms, tb, mb) = interleaved3(
        reps,
        || p2.install(map),
        || p2.install(|| best::w5_lanes_same_order(&data.values, n, epochs, factor)),
        || p2.install(|| best::w5_lanes(&data.values, n, epochs, factor)),
    );
    let (t2a, m2a, tsa, msa, tba, mba) = interleaved3(
        reps,
        || p2.install(map),
        || p2.install(|| best::w5_same_order(&data.values, n, epochs, factor)),
        || p2.install(|| best::w5(&data.values, n, epochs, factor)),
    );
    let (t2b, m2b, t1, m1, _, ()) =
        interleaved3(reps, || p2.install(map), || p1.install(map), || ());
    // The same map against yardsticks that compute every cell as the map shows it (its
    // class, its final error, its diverging step), not only the final errors.
    let cells =
        || -> Result<Vec<best::W5Cell>> { Ok(sweep_map()?.cells.iter().map(w5_cell).collect()) };
    let (t2c, m2c, tsc, msc, tbc, mbc) = interleaved3(
        reps,
        || p2.install(cells),
        || p2.install(|| best::w5_cells_same_order(&data.values, n, epochs, factor)),
        || p2.install(|| best::w5_cells(&data.values, n, epochs, factor)),
    );
    let m2c = m2c?;
    let (m1, m2, m2a, m2b) = (m1?, m2?, m2a?, m2b?);
    // (Each ratio from the engine's and the reference's times of one interleaved run:
    // the engine's best of all three runs held against one run's reference favoured it.)
    let diverged = m1.iter().filter(|v| v.is_nan()).count();
    let runs = (n * n) as f64;
    let what = format!("stability map {n}x{n}, {epochs} epochs ({diverged} diverged)");
    Ok(vec![
        Line {
            name: "W5",
            what: what.clone(),
            engine: format!("{} runs", rate(runs, t2)),
            reference: format!("{} runs", rate(runs, ts)),
            ratio: ts.as_secs_f64() / t2.as_secs_f64(),
            best: Some(Best {
                rate: format!("{} runs", rate(runs, tb)),
                ratio: tb.as_secs_f64() / t2.as_secs_f64(),
                agree: agreement(&m2, &mb),
            }),
            target: 0.9,
            judge_same_order: false,
            equal: agreement(&m2, &ms),
        },
        Line {
            name: "W5 cells",
            what: format!("{what}, every cell's class and diverging step"),
            engine: format!("{} runs", rate(runs, t2c)),
            reference: format!("{} runs", rate(runs, tsc)),
            ratio: tsc.as_secs_f64() / t2c.as_secs_f64(),
            best: Some(Best {
                rate: format!("{} runs", rate(runs, tbc)),
                ratio: tbc.as_secs_f64() / t2c.as_secs_f64(),
                agree: cells_agreement(&m2c, &mbc, false),
            }),
            target: 0.9,
            judge_same_order: false,
            equal: cells_agreement(&m2c, &msc, true),
        },
        Line {
            name: "W5 apart",
            what: format!("{what}, the references' runs one at a time"),
            engine: format!("{} runs", rate(runs, t2a)),
            reference: format!("{} runs", rate(runs, tsa)),
            ratio: tsa.as_secs_f64() / t2a.as_secs_f64(),
            best: Some(Best {
                rate: format!("{} runs", rate(runs, tba)),
                ratio: tba.as_secs_f64() / t2a.as_secs_f64(),
                agree: agreement(&m2a, &mba),
            }),
            target: 0.9,
            judge_same_order: true,
            equal: agreement(&m2a, &msa),
        },
        Line {
            name: "W5 1→2",
            what,
            engine: format!("{} runs (2 threads)", rate(runs, t2b)),
            reference: format!("{} runs (1 thread)", rate(runs, t1)),
            ratio: t1.as_secs_f64() / t2b.as_secs_f64(),
            best: None,
            target: 1.7,
            judge_same_order: false,
            equal: if same_bits(&m1, &m2) && same_bits(&m2, &m2b) {
                "1 = 2 threads, bit-identical".into()
            } else {
                "DIFFER".into()
            },
        },
    ])
}

/// A cell of the product's stability map in the yardstick's terms.
fn w5_cell(c: &gradsheet_diagnose::sweep::Cell) -> best::W5Cell {
    use gradsheet_diagnose::sweep::Class;
    best::W5Cell {
        class: match c.class {
            Class::Converged => best::W5Class::Converged,
            Class::Slow => best::W5Class::Slow,
            Class::Oscillating => best::W5Class::Oscillating,
            Class::Diverged => best::W5Class::Diverged,
        },
        final_error: c.final_error,
        diverged_at: c.diverged_at,
    }
}

/// How two maps' cells compare: every cell the same (its class, its diverging step and
/// its final error, to the bit where `exact`), or how many classes or steps differ.
fn cells_agreement(a: &[best::W5Cell], b: &[best::W5Cell], exact: bool) -> String {
    if a.len() != b.len() {
        return "DIFFER (cells)".into();
    }
    let verdicts = a
        .iter()
        .zip(b)
        .filter(|(x, y)| x.class != y.class || x.diverged_at != y.diverged_at)
        .count();
    let errors = |m: &[best::W5Cell]| m.iter().map(|c| c.final_error).collect::<Vec<f64>>();
    let finals = agreement(&errors(a), &errors(b));
    match (verdicts, exact) {
        (0, true) if finals == "bit-identical" => "the same cells, bit-identical".into(),
        (0, _) => format!("the same classes and steps; final errors {finals}"),
        (k, true) => format!("DIFFER ({k} cells)"),
        (k, false) => format!("{k} classes or steps differ; final errors {finals}"),
    }
}

/// Collaborative filtering at MovieLens scales (users, items, ratings; synthetic,
/// seeded), k = 50, batches of 64, one epoch with `torch.optim.SparseAdam` (dense Adam
/// over tables this size costs the tables per batch): the time per epoch and per rating,
/// and the memory of the process after each.
fn collab_scale(sizes: &[(usize, usize, usize)]) -> Result<()> {
    for &(users, items, n) in sizes {
        let t = Instant::now();
        let data = Ratings::synthetic(users, items, n, 1);
        let made = t.elapsed();
        let cfg = CollabConfig {
            epochs: 1,
            sparse: true,
            ..CollabConfig::default()
        };
        let t = Instant::now();
        let run = collab::train_engine(&data, &cfg).context("scale")?;
        let epoch = t.elapsed().as_secs_f64();
        println!(
            "collab scale: {n} ratings ({users} users, {items} items; made in {:.1} s): one epoch \
             with SparseAdam {epoch:.2} s, {:.2} µs a rating, train mse {:.4}; peak memory so far {:.0} MB",
            made.as_secs_f64(),
            epoch / n as f64 * 1e6,
            run.epoch_errors.last().copied().unwrap_or(f64::NAN),
            peak_memory_mb().unwrap_or(f64::NAN)
        );
    }
    Ok(())
}

/// The peak resident memory of this process (Linux), in MB.
fn peak_memory_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
