//! The rows' order of each epoch of a run: the data's order, or shuffled.
//!
//! A shuffled run's orders are a recipe of its seed: ChaCha8 seeded with it, and each
//! epoch's order a Fisher–Yates shuffle ([`rng::shuffle`]) of the last one's, starting
//! from the data's order. Drawing them costs about 4 ns a row (the generator's words and
//! an exact draw below each bound), more than half of a per-sample step of a small
//! model. Nothing in them depends on the training, so a long shuffled run draws them on
//! another core, ahead of the epochs that use them, as PyTorch's `DataLoader` workers
//! prepare batches: the same orders, in the same sequence, off the steps' path. A long
//! run has a thread of its own; a shorter one, for which starting a thread (about
//! 40 µs) would cost what it saves, borrows one of rayon's, already running, and takes
//! over the drawing itself whenever that job is late (the pool busy).

use std::collections::VecDeque;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::rng;

/// From how many row-steps (rows × epochs) a shuffled run draws its orders on another
/// thread: starting one costs tens of microseconds, which a shorter run would notice.
const AHEAD_FROM: usize = 1 << 18;

/// From how many row-steps a shorter shuffled run draws its orders beside the steps,
/// on rayon's pool: a job there starts in microseconds, and 8k rows take ~30 µs to
/// shuffle.
const BESIDE_FROM: usize = 1 << 13;

/// Up to how many rows a run's orders are drawn ahead: a handover, one waiting and one
/// being drawn, and one given back are each an epoch's order or more (8 MB here), and
/// memory is what a run keeps, not what it could prepare.
const AHEAD_UP_TO: usize = 1 << 21;

/// About how many rows of orders go to the training thread at a time: whole epochs,
/// enough of them that handing them over (a wake-up of the other thread, microseconds)
/// is a small part of the steps they order.
const ROWS_PER_HANDOVER: usize = 1 << 16;

/// How many threads this process may run at once, asked once: the answer reads the
/// cgroup's files (tens of microseconds), which thousands of short runs would each pay.
pub(crate) fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |c| c.get()))
}

/// The orders of a run's epochs, one after another (see the module docs).
pub(crate) struct Orders {
    n: usize,
    source: Source,
}

enum Source {
    /// The data's order, every epoch.
    InOrder(Vec<u32>),
    /// Shuffled here, when asked (the generator boxed: it is 300 bytes).
    Here {
        rng: Box<ChaCha8Rng>,
        order: Vec<u32>,
    },
    /// Shuffled by a job on rayon's pool or here, whichever comes first (a run shorter
    /// than [`AHEAD_FROM`] row-steps: all its orders fit in a megabyte).
    Beside {
        shared: Arc<Beside>,
        current: Vec<u32>,
    },
    /// Shuffled on another thread: `chunk` holds whole epochs' orders, the next at `at`.
    Ahead {
        chunk: Vec<u32>,
        at: usize,
        ready: Option<Receiver<Vec<u32>>>,
        used: Sender<Vec<u32>>,
        worker: Option<JoinHandle<()>>,
    },
}

impl Orders {
    /// The orders of `epochs` epochs over `n` rows, shuffled with `seed` if given. With
    /// `ahead`, a long shuffled run (`n × epochs` from [`AHEAD_FROM`]) draws them on a
    /// thread of its own; the caller says whether a core is free for it (not inside a
    /// pool of runs that already fills them).
    pub(crate) fn new(n: usize, seed: Option<u64>, epochs: usize, ahead: bool) -> Orders {
        let order: Vec<u32> = (0..n as u32).collect();
        let Some(seed) = seed else {
            return Orders {
                n,
                source: Source::InOrder(order),
            };
        };
        let rng = ChaCha8Rng::seed_from_u64(seed);
        let steps = n.saturating_mul(epochs);
        if ahead && n >= 2 && (BESIDE_FROM..AHEAD_FROM).contains(&steps) {
            let shared = Beside::new(rng, order, epochs);
            let job = Arc::clone(&shared);
            rayon::spawn(move || job.draw_all());
            return Orders {
                n,
                source: Source::Beside {
                    shared,
                    current: Vec::new(),
                },
            };
        }
        if !ahead || !(2..=AHEAD_UP_TO).contains(&n) || steps < AHEAD_FROM {
            return Orders {
                n,
                source: Source::Here {
                    rng: Box::new(rng),
                    order,
                },
            };
        }
        let per = (ROWS_PER_HANDOVER / n).max(1);
        // One handover waiting at most, and one being drawn: the worker, faster than
        // the steps, then sleeps until it is taken.
        let (send, ready) = sync_channel::<Vec<u32>>(1);
        let (used, recycled) = channel::<Vec<u32>>();
        let worker = std::thread::Builder::new()
            .name("gradsheet-orders".into())
            .spawn(move || draw(rng, order, epochs, per, &send, &recycled));
        match worker {
            Ok(worker) => Orders {
                n,
                source: Source::Ahead {
                    chunk: Vec::new(),
                    at: 0,
                    ready: Some(ready),
                    used,
                    worker: Some(worker),
                },
            },
            // No thread to be had: the same orders, drawn here.
            Err(_) => Orders {
                n,
                source: Source::Here {
                    rng: Box::new(ChaCha8Rng::seed_from_u64(seed)),
                    order: (0..n as u32).collect(),
                },
            },
        }
    }

    /// The next epoch's order.
    ///
    /// # Panics
    ///
    /// If asked for more epochs than [`Orders::new`] was given (a shuffled run drawn
    /// ahead has no more).
    pub(crate) fn next(&mut self) -> &[u32] {
        let n = self.n;
        match &mut self.source {
            Source::InOrder(order) => order,
            Source::Here { rng, order } => {
                rng::shuffle(&mut **rng, order);
                order
            }
            Source::Beside { shared, current } => {
                shared.take(current);
                current
            }
            Source::Ahead {
                chunk,
                at,
                ready,
                used,
                ..
            } => {
                if *at >= chunk.len() {
                    let done = std::mem::take(chunk);
                    // (The worker may have finished and gone: its room is not needed.)
                    let _ = used.send(done);
                    *chunk = ready
                        .as_ref()
                        .and_then(|r| r.recv().ok())
                        .expect("no more epochs than the run was given");
                    *at = 0;
                }
                let order = &chunk[*at..*at + n];
                *at += n;
                order
            }
        }
    }
}

/// A shorter run's orders, drawn in sequence by whichever of the job and the training
/// thread holds the generator: every order goes through `ready` in the order drawn,
/// except one the training thread draws itself, which it does only when `ready` is
/// empty, so the orders are used in the sequence they were drawn.
pub(crate) struct Beside {
    drawing: Mutex<Drawing>,
}

struct Drawing {
    /// The generator and the last order drawn; `None` while one side draws with them.
    rng: Option<(Box<ChaCha8Rng>, Vec<u32>)>,
    /// Orders drawn by the job and not yet used, oldest first.
    ready: VecDeque<Vec<u32>>,
    /// Epochs not yet drawn.
    left: usize,
    /// Rooms for orders, given back by the training thread once used.
    spare: Vec<Vec<u32>>,
    /// The run has ended (perhaps early): the job stops.
    stop: bool,
}

impl Beside {
    fn new(rng: ChaCha8Rng, order: Vec<u32>, epochs: usize) -> Arc<Beside> {
        Arc::new(Beside {
            drawing: Mutex::new(Drawing {
                rng: Some((Box::new(rng), order)),
                ready: VecDeque::new(),
                left: epochs,
                spare: Vec::new(),
                stop: false,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Drawing> {
        // (Neither side panics while holding it; a poisoned lock's data is still whole.)
        self.drawing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The job: every epoch's order, one after another, unless the run ends first.
    fn draw_all(&self) {
        let mut spins = 0u32;
        loop {
            let taken = {
                let mut d = self.lock();
                if d.stop || d.left == 0 {
                    return;
                }
                let taken = d.rng.take();
                if taken.is_some() {
                    d.left -= 1;
                }
                taken.map(|t| (t, d.spare.pop().unwrap_or_default()))
            };
            // The training thread is drawing one itself (this job came late): it gives
            // the generator back within an epoch's shuffle.
            let Some(((mut rng, mut order), mut drawn)) = taken else {
                pause(&mut spins);
                continue;
            };
            rng::shuffle(&mut *rng, &mut order);
            drawn.clone_from(&order);
            let mut d = self.lock();
            d.ready.push_back(drawn);
            d.rng = Some((rng, order));
        }
    }

    /// The next epoch's order into `current`: the oldest the job drew, or one drawn
    /// here when none is waiting and the generator is free, or, while the job is
    /// drawing the very order needed, that one when it comes.
    fn take(&self, current: &mut Vec<u32>) {
        let mut spins = 0u32;
        loop {
            let mut d = self.lock();
            if let Some(next) = d.ready.pop_front() {
                let used = std::mem::replace(current, next);
                d.spare.push(used);
                return;
            }
            if let Some((mut rng, mut order)) = d.rng.take() {
                assert!(d.left > 0, "no more epochs than the run was given");
                d.left -= 1;
                drop(d);
                rng::shuffle(&mut *rng, &mut order);
                current.clone_from(&order);
                self.lock().rng = Some((rng, order));
                return;
            }
            drop(d);
            pause(&mut spins);
        }
    }
}

/// A wait of microseconds for the other side: spinning, as it is running on the other
/// core, then giving the core up, should it not be.
fn pause(spins: &mut u32) {
    *spins += 1;
    if *spins < 1 << 12 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

impl Drop for Orders {
    fn drop(&mut self) {
        if let Source::Beside { shared, .. } = &self.source {
            shared.lock().stop = true;
        }
        if let Source::Ahead { ready, worker, .. } = &mut self.source {
            // Closing the channel stops a worker still drawing (a run that stopped
            // early); then it is waited for, so that no thread outlives its run.
            drop(ready.take());
            if let Some(w) = worker.take() {
                let _ = w.join();
            }
        }
    }
}

/// The worker: `epochs` epochs' orders, up to `per` epochs to a handover, into rooms
/// the training thread gave back where it has.
fn draw(
    mut rng: ChaCha8Rng,
    mut order: Vec<u32>,
    epochs: usize,
    per: usize,
    send: &std::sync::mpsc::SyncSender<Vec<u32>>,
    recycled: &Receiver<Vec<u32>>,
) {
    let mut left = epochs;
    // The first handover is one epoch, so that training starts as soon as it would
    // have here; each next one twice as many epochs, up to `per`.
    let mut k = 1;
    while left > 0 {
        k = k.min(per).min(left);
        let mut chunk = recycled.try_recv().unwrap_or_default();
        chunk.clear();
        chunk.reserve(k * order.len());
        for _ in 0..k {
            rng::shuffle(&mut rng, &mut order);
            chunk.extend_from_slice(&order);
        }
        left -= k;
        if send.send(chunk).is_err() {
            return;
        }
        k *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The orders drawn ahead are the orders drawn here, epoch by epoch, for sizes
    /// around a handover's (an epoch larger than one, epochs that do not divide it).
    #[test]
    fn orders_drawn_ahead_are_the_orders_drawn_here() {
        for (n, epochs) in [(3, 400_000), (1000, 1100), (70_000, 16), (1 << 17, 9)] {
            let mut here = Orders::new(n, Some(7), epochs, false);
            let mut ahead = Orders::new(n, Some(7), epochs, true);
            assert!(
                matches!(ahead.source, Source::Ahead { .. }),
                "{n} × {epochs}"
            );
            assert!(matches!(here.source, Source::Here { .. }));
            for e in 0..epochs {
                let (a, b) = (here.next().to_vec(), ahead.next());
                assert!(a == b, "{n} rows, epoch {e}");
            }
        }
    }

    /// A run that stops early drops its orders at once: the worker is told and waited
    /// for (the test would hang otherwise), with epochs left undrawn.
    #[test]
    fn a_run_stopped_early_stops_its_worker() {
        let mut ahead = Orders::new(10, Some(1), 1 << 20, true);
        let first = ahead.next().to_vec();
        let mut sorted = first.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..10).collect::<Vec<u32>>());
        drop(ahead);
    }

    /// The orders drawn beside the steps are the orders drawn here, whether the job
    /// draws them, the training thread does, or each some of them: a job started only
    /// after the training thread drew a few (the pool busy), a training thread that
    /// comes late to each epoch (the job ahead), the two racing.
    #[test]
    fn orders_drawn_beside_are_the_orders_drawn_here() {
        for (n, epochs) in [(2, 5000), (1000, 20), (37, 300), (4096, 50)] {
            let mut here = Orders::new(n, Some(11), epochs, false);
            let mut beside = Orders::new(n, Some(11), epochs, true);
            assert!(
                matches!(beside.source, Source::Beside { .. }),
                "{n} × {epochs}"
            );
            for e in 0..epochs {
                let (a, b) = (here.next().to_vec(), beside.next());
                assert!(a == b, "{n} rows, epoch {e}");
            }
        }
        let n = 300;
        let epochs = 60;
        let mut here = Orders::new(n, Some(5), epochs, false);
        let expected: Vec<Vec<u32>> = (0..epochs).map(|_| here.next().to_vec()).collect();
        for late in [0, 3, epochs] {
            for slow in [false, true] {
                let shared = Beside::new(
                    ChaCha8Rng::seed_from_u64(5),
                    (0..n as u32).collect(),
                    epochs,
                );
                let mut orders = Orders {
                    n,
                    source: Source::Beside {
                        shared: Arc::clone(&shared),
                        current: Vec::new(),
                    },
                };
                let mut job = None;
                for (e, want) in expected.iter().enumerate() {
                    if e == late {
                        let shared = Arc::clone(&shared);
                        job = Some(std::thread::spawn(move || shared.draw_all()));
                    }
                    if slow && e % 7 == 0 {
                        std::thread::sleep(std::time::Duration::from_micros(200));
                    }
                    assert!(
                        orders.next() == want.as_slice(),
                        "job from {late}, epoch {e}"
                    );
                }
                if let Some(job) = job {
                    job.join().expect("the job ends with the last epoch");
                }
            }
        }
    }

    /// A run that stops early stops the job drawing beside it.
    #[test]
    fn a_run_stopped_early_stops_its_job() {
        let shared = Beside::new(ChaCha8Rng::seed_from_u64(2), (0..50).collect(), 1 << 30);
        let mut orders = Orders {
            n: 50,
            source: Source::Beside {
                shared: Arc::clone(&shared),
                current: Vec::new(),
            },
        };
        let job = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || shared.draw_all())
        };
        assert_eq!(orders.next().len(), 50);
        drop(orders);
        job.join().expect("the job sees the run's end and returns");
        assert!(shared.lock().left > 0, "epochs were left undrawn");
    }

    /// Short runs, unshuffled ones and those of very many rows draw nothing ahead.
    #[test]
    fn short_and_ordered_runs_stay_here() {
        assert!(matches!(
            Orders::new(AHEAD_UP_TO + 1, Some(3), 4, true).source,
            Source::Here { .. }
        ));
        let mut o = Orders::new(5, None, 1 << 30, true);
        assert!(matches!(o.source, Source::InOrder(_)));
        assert_eq!(o.next(), &[0, 1, 2, 3, 4]);
        assert!(matches!(
            Orders::new(100, Some(3), 50, true).source,
            Source::Here { .. }
        ));
        assert!(matches!(
            Orders::new(1000, Some(3), 100, false).source,
            Source::Here { .. }
        ));
    }
}
