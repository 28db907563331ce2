//! The rows' order of each epoch of a run: the data's order, or shuffled.
//!
//! A shuffled run's orders are a recipe of its seed: ChaCha8 seeded with it, and each
//! epoch's order a Fisher–Yates shuffle ([`rng::shuffle`]) of the last one's, starting
//! from the data's order. Drawing them costs about 4 ns a row (the generator's words and
//! an exact draw below each bound), more than half of a per-sample step of a small
//! model. Nothing in them depends on the training, so a long shuffled run draws them on
//! another core, ahead of the epochs that use them, as PyTorch's `DataLoader` workers
//! prepare batches: the same orders, in the same sequence, off the steps' path.

use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};
use std::thread::JoinHandle;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::rng;

/// From how many row-steps (rows × epochs) a shuffled run draws its orders on another
/// thread: starting one costs tens of microseconds, which a shorter run would notice.
const AHEAD_FROM: usize = 1 << 18;

/// Up to how many rows a run's orders are drawn ahead: a handover, one waiting and one
/// being drawn, and one given back are each an epoch's order or more (8 MB here), and
/// memory is what a run keeps, not what it could prepare.
const AHEAD_UP_TO: usize = 1 << 21;

/// About how many rows of orders go to the training thread at a time: whole epochs,
/// enough of them that handing them over (a wake-up of the other thread, microseconds)
/// is a small part of the steps they order.
const ROWS_PER_HANDOVER: usize = 1 << 16;

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
        if !ahead || !(2..=AHEAD_UP_TO).contains(&n) || n.saturating_mul(epochs) < AHEAD_FROM {
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

impl Drop for Orders {
    fn drop(&mut self) {
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
            Orders::new(1000, Some(3), 100, true).source,
            Source::Here { .. }
        ));
    }
}
