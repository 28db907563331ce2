//! `gradsheet bench [--quick] [--only W1,W2,...]`: BENCHMARKS.md's workloads, each run through
//! the general engine and through a hand-written Rust loop computing the same thing in
//! the same operation order, in this process, interleaved and repeated (the best time of
//! each is kept). Prints the throughputs, their ratio, whether the results are equal,
//! and whether the target is met.

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use gradsheet_engine::{Model, Roles};
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
    /// lab), or a lab's name.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// A workbook to time as `gradsheet book` opens it (repeatable): open, recalculate,
    /// judge its typed columns, the web grid's redraw after one input changes, one
    /// exact gradient. Only these are timed when given without --only.
    #[arg(long, value_name = "FILE")]
    pub book: Vec<std::path::PathBuf>,
    /// Repetitions of each measurement; the best is reported (W3 uses at most 2).
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
}

/// One line of the report.
struct Line {
    name: &'static str,
    what: String,
    engine: String,
    reference: String,
    ratio: f64,
    target: f64,
    equal: String,
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
        "gradsheet bench{}: {} logical CPUs, best of {reps} (interleaved)",
        if q { " --quick" } else { "" },
        std::thread::available_parallelism().map_or(1, |n| n.get())
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
        lines.push(w3(if q { 1 } else { 5 }, reps.min(2))?);
    }
    if wants("W4") {
        let (g, n) = if q { (128, 1000) } else { (512, 1000) };
        lines.push(w4(g, n, reps)?);
    }
    if wants("W5") {
        lines.extend(w5(if q { 40 } else { 100 }, 100, reps)?);
    }
    if wants("W6") {
        lines.push(w6(if q { 20 } else { 200 }, reps)?);
    }
    let headers: Vec<String> = [
        "workload",
        "size",
        "engine",
        "hand-written",
        "ratio",
        "target",
        "met",
        "results",
    ]
    .map(String::from)
    .to_vec();
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            vec![
                l.name.to_string(),
                l.what.clone(),
                l.engine.clone(),
                l.reference.clone(),
                format!("{:.3}", l.ratio),
                format!(">= {}", trim(l.target)),
                if l.ratio >= l.target { "yes" } else { "NO" }.to_string(),
                l.equal.clone(),
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

/// Times `engine` and `reference` alternately `reps` times; the best of each.
fn interleaved<A, B>(
    reps: usize,
    mut engine: impl FnMut() -> A,
    mut reference: impl FnMut() -> B,
) -> (Duration, A, Duration, B) {
    let (mut te, mut tr) = (Duration::MAX, Duration::MAX);
    let (mut ra, mut rb) = (None, None);
    for _ in 0..reps {
        let t = Instant::now();
        let x = black_box(engine());
        te = te.min(t.elapsed());
        ra = Some(x);
        let t = Instant::now();
        let y = black_box(reference());
        tr = tr.min(t.elapsed());
        rb = Some(y);
    }
    // `reps >= 1`, so both ran.
    (te, ra.expect("ran"), tr, rb.expect("ran"))
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
    per_sample(
        "W1",
        format!("sgd a*x+b, {epochs} epochs"),
        &ps,
        reps,
        || {
            workloads::w1_reference(&ps.trainer.rows, [1.0, 1.0], 1e-4, epochs)
                .0
                .to_vec()
        },
    )
}

fn w2(epochs: usize, reps: usize) -> Result<Line> {
    let ps = PerSample::w2(epochs).context("W2")?;
    let what = format!("adam c*MAX(a*x+b,0)+d, {epochs} epochs");
    per_sample("W2", what, &ps, reps, || {
        workloads::w2_reference(&ps.trainer.rows, [1.0; 4], (0.01, 0.9, 0.99), epochs)
            .0
            .to_vec()
    })
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
    let mut line = per_sample("W6", what, &ps, reps, || {
        workloads::net_reference(&ps.trainer.rows, &ps.init, lr, epochs).0
    })?;
    line.target = 2.0 / 3.0;
    Ok(line)
}

/// A per-sample workload's line: the engine and `reference` (its final parameters)
/// alternately, and the interpreter's rate for scale.
fn per_sample(
    name: &'static str,
    what: String,
    ps: &PerSample,
    reps: usize,
    reference: impl FnMut() -> Vec<f64>,
) -> Result<Line> {
    let epochs = ps.cfg.epochs;
    let steps = (epochs * ps.trainer.n_rows) as f64;
    let (te, fast, tr, p) = interleaved(reps, || ps.engine(), reference);
    let fast = fast?;
    let interp = interpreter_rate(ps, (epochs / 50).max(1))?;
    println!(
        "{name}: interpreter (Trainer::run) {interp}; engine {}; hand-written {}",
        rate(steps, te),
        rate(steps, tr)
    );
    Ok(Line {
        name,
        what,
        engine: format!("{} steps", rate(steps, te)),
        reference: format!("{} steps", rate(steps, tr)),
        ratio: tr.as_secs_f64() / te.as_secs_f64(),
        target: 0.9,
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
    let (te, fast, tr, slow) = interleaved(
        reps,
        || collab::train_engine(&data, &cfg),
        || collab::train_reference(&data, &cfg),
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
    println!(
        "W3: per epoch engine {:.3} s, hand-written {:.3} s; epoch errors {:?}",
        te.as_secs_f64() / epochs as f64,
        tr.as_secs_f64() / epochs as f64,
        fast.epoch_errors
    );
    Ok(Line {
        name: "W3",
        what: format!("collab k=50, batch 64, adam, {epochs} epochs"),
        engine: format!("{:.3} s/epoch", te.as_secs_f64() / epochs as f64),
        reference: format!("{:.3} s/epoch", tr.as_secs_f64() / epochs as f64),
        ratio: tr.as_secs_f64() / te.as_secs_f64(),
        target: 1.0 / 1.5,
        equal,
    })
}

fn w4(grid: usize, points: usize, reps: usize) -> Result<Line> {
    let data = workloads::w4_data(points);
    let model = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "y"]))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (as_, bs) = workloads::w4_grid(grid);
    let (te, fast, tr, slow) = interleaved(
        reps,
        || workloads::w4_engine(&model, &data, &as_, &bs),
        || workloads::w4_reference(&data, &as_, &bs),
    );
    let fast = fast.context("W4")?;
    let t = Instant::now();
    let lanes = workloads::w4_lanes(&model, &data, &as_, &bs);
    let tl = t.elapsed();
    let evals = (grid * grid * points) as f64;
    println!(
        "W4: engine (compiled lanes) {}; interpreter lanes {}; hand-written {} (rows/s)",
        rate(evals, te),
        rate(evals, tl),
        rate(evals, tr)
    );
    Ok(Line {
        name: "W4",
        what: format!("mse surface {grid}x{grid}, {points} points"),
        engine: format!("{} rows", rate(evals, te)),
        reference: format!("{} rows", rate(evals, tr)),
        ratio: tr.as_secs_f64() / te.as_secs_f64(),
        target: 2.0 / 3.0,
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
    let (t2, m2, t1, m1) = interleaved(
        reps,
        || p2.install(|| workloads::w5_map(n, epochs)),
        || p1.install(|| workloads::w5_map(n, epochs)),
    );
    let (m1, m2) = (m1.context("W5")?, m2.context("W5")?);
    let diverged = m1.iter().filter(|v| v.is_nan()).count();
    let runs = (n * n) as f64;
    Ok(vec![Line {
        name: "W5",
        what: format!("stability map {n}x{n}, {epochs} epochs ({diverged} diverged)"),
        engine: format!("{} runs (2 threads)", rate(runs, t2)),
        reference: format!("{} runs (1 thread)", rate(runs, t1)),
        ratio: t1.as_secs_f64() / t2.as_secs_f64(),
        target: 1.7,
        equal: if same_bits(&m1, &m2) {
            "1 = 2 threads, bit-identical".into()
        } else {
            "DIFFER".into()
        },
    }])
}

/// The peak resident memory of this process (Linux), in MB.
fn peak_memory_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
