//! The training loop allocates nothing per step: a 1000-epoch run makes exactly as many
//! allocations as a 10-epoch run (Record::Final keeps no rows, so all allocation is setup).
//! Its own test binary, because it replaces the global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use gradsheet_engine::{Dataset, Model, Roles};
use gradsheet_train::{Hooks, Optimizer, Record, Stop, TrainConfig, Trainer};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Only the measuring thread counts: libtest's own thread allocates now and then while
    // a test runs (about one run in twelve showed 4 stray allocations), which would make
    // the comparison flaky. A const-initialised `Cell` needs no allocation to reach.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator, which upholds
// GlobalAlloc's contract; counting has no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above, i.e. from the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        count();
        // SAFETY: as for `dealloc`.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations(trainer: &Trainer, cfg: &TrainConfig, init: &[f64]) -> usize {
    let before = ALLOCS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    let trace = trainer.run(init, cfg, &mut Hooks::none()).unwrap();
    COUNTING.with(|c| c.set(false));
    let n = ALLOCS.load(Ordering::Relaxed) - before;
    // A run that stops early (and formats its reason) would not measure the steady state.
    assert_eq!(trace.stop, Stop::Completed, "{}", cfg.optimizer);
    assert_eq!(
        trace.steps_taken,
        cfg.epochs
            * trainer.n_rows.div_ceil(if cfg.batch_size == 0 {
                trainer.n_rows
            } else {
                cfg.batch_size
            })
    );
    drop(trace);
    n
}

#[test]
fn training_allocates_nothing_per_step() {
    let data = Dataset::graddesc();
    // One run per optimizer family, each with the state it keeps.
    let opts = [
        Optimizer::Momentum {
            lr: 1e-5,
            beta: 0.9,
        },
        Optimizer::Adam {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.95,
        },
        Optimizer::Adagrad { lr: 1e-5, r0: 1e4 },
        Optimizer::torch_adam(0.01),
        Optimizer::TorchRmsprop {
            lr: 1e-3,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.9,
            centered: true,
        },
    ];
    for (formula, batch) in [
        ("a*x+b", 1),
        ("c*MAX(a*x+b,0)+d", 1),
        ("a*x+b", 5),
        ("a*x+b", 0),
    ] {
        let model = Model::new(formula, "squared", &Roles::with_columns(&["x", "y"])).unwrap();
        let trainer = Trainer::new(&model, &data).unwrap();
        let init = vec![1.0; model.params.len()];
        for opt in &opts {
            let mut cfg = TrainConfig::new(opt.clone(), 10);
            cfg.record = Record::Final;
            cfg.batch_size = batch;
            cfg.divergence_factor = f64::INFINITY;
            let short = allocations(&trainer, &cfg, &init);
            cfg.epochs = 1000;
            let long = allocations(&trainer, &cfg, &init);
            assert_eq!(
                short, long,
                "{formula} batch {batch} {opt}: 10 epochs {short} allocations, 1000 epochs {long}"
            );
        }
    }
}
