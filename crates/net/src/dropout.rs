//! Dropout as an option of training, every mask a number the learner can see.
//!
//! Each hidden unit's cell is multiplied by a mask column of its own (`h2_3` reads
//! `TANH(…)*m2_3`). In training, the masks of every row are drawn afresh each epoch —
//! so every step has its own — as 0 with probability p and 1/(1 − p) otherwise
//! ("inverted" dropout: the expected value of a unit stays what it is without dropout);
//! for testing, measuring and exporting they are 1, the network as it will be used. The
//! masks are columns of the data, so the step table shows which units each step dropped.
//!
//! The draw is the project's own recipe: a ChaCha8 stream seeded by the run's seed and
//! the epoch, one uniform per mask in row order, so a seed gives the same masks anywhere.

use gradsheet_engine::{Dataset, Expr};
use gradsheet_train::{rng, Backend, Epoch, EpochEnd, Interpreter, TrainConfig, Trainer};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::cells::Cell;
use crate::NetError;

/// The largest dropout probability: at 1 every unit is dropped and nothing learns.
pub const MAX_P: f64 = 0.95;

/// The mask column of hidden unit `h2_3`: `m2_3`.
fn mask_of(name: &str) -> Option<String> {
    let rest = name.strip_prefix('h')?;
    let (l, j) = rest.split_once('_')?;
    (l.parse::<usize>().is_ok() && j.parse::<usize>().is_ok()).then(|| format!("m{rest}"))
}

/// Whether `name` is a dropout mask's (`m2_3`).
pub fn is_mask(name: &str) -> bool {
    name.strip_prefix('m')
        .and_then(|r| r.split_once('_'))
        .is_some_and(|(l, j)| l.parse::<usize>().is_ok() && j.parse::<usize>().is_ok())
}

/// `cells` with every hidden unit multiplied by its mask column, and the mask columns'
/// names in the order of the units.
///
/// # Errors
///
/// [`NetError::Setting`] (field `dropout`) for a probability outside [0, [`MAX_P`]] or a
/// network without hidden units; [`NetError::Model`] when a mask's name is already taken
/// by a cell or a column.
///
/// # Examples
///
/// ```
/// use gradsheet_net::cells::parse_cells;
/// use gradsheet_net::dropout::with_masks;
/// let cells = parse_cells("h1_1 = TANH(w*x1+b); pred = SIGMOID(v*h1_1+c)", &["x1", "y"]).unwrap();
/// let (masked, masks) = with_masks(&cells, 0.5, &["x1", "y"]).unwrap();
/// assert_eq!(masks, ["m1_1"]);
/// assert_eq!(masked[0].formula.to_string(), "TANH(w*x1+b)*m1_1");
/// ```
pub fn with_masks(
    cells: &[Cell],
    p: f64,
    columns: &[&str],
) -> Result<(Vec<Cell>, Vec<String>), NetError> {
    if !(p.is_finite() && (0.0..=MAX_P).contains(&p)) {
        return Err(NetError::Setting {
            field: "dropout",
            message: format!(
                "dropout = {p}: the probability of dropping a unit is between 0 and {MAX_P}"
            ),
        });
    }
    let mut masks = Vec::new();
    let mut out = Vec::with_capacity(cells.len());
    for c in cells {
        match mask_of(&c.name) {
            Some(m) => {
                if cells.iter().any(|o| o.name == m) || columns.contains(&m.as_str()) {
                    return Err(NetError::Model(format!(
                        "dropout's mask {m} for {} is already the name of a cell or column",
                        c.name
                    )));
                }
                out.push(Cell {
                    formula: Expr::bin(
                        gradsheet_engine::Binary::Mul,
                        c.formula.clone(),
                        Expr::var(&m),
                    ),
                    ..c.clone()
                });
                masks.push(m);
            }
            None => out.push(c.clone()),
        }
    }
    if masks.is_empty() {
        return Err(NetError::Setting {
            field: "dropout",
            message: "dropout drops hidden units (h1_1, h2_3, …), and this network has none".into(),
        });
    }
    Ok((out, masks))
}

/// `data` with the mask columns added, each 1 (no unit dropped): the rows a network with
/// masks is measured, tested and exported on.
pub fn unmasked(data: &Dataset, masks: &[String]) -> Dataset {
    let w = data.columns.len();
    let mut columns = data.columns.clone();
    columns.extend(masks.iter().cloned());
    let mut values = Vec::with_capacity(data.len() * (w + masks.len()));
    for i in 0..data.len() {
        values.extend_from_slice(data.row(i));
        values.extend(std::iter::repeat_n(1.0, masks.len()));
    }
    Dataset::new(columns, values)
}

/// A training loop's backend that draws the masks of every row before each epoch and
/// takes the epoch's steps on the interpreter (the reference backend).
pub struct DropoutBackend {
    trainer: Trainer,
    cfg: TrainConfig,
    /// Where the masks are in each row of `trainer.rows`.
    at: Vec<usize>,
    keep: f64,
    seed: u64,
}

impl DropoutBackend {
    /// Dropout with probability `p` for `trainer` (whose columns include `masks`), the
    /// masks drawn from `seed`.
    ///
    /// # Errors
    ///
    /// [`NetError::Model`] when a mask is not one of the trainer's columns.
    pub fn new(
        trainer: &Trainer,
        cfg: &TrainConfig,
        masks: &[String],
        p: f64,
        seed: u64,
    ) -> Result<DropoutBackend, NetError> {
        let cols = &trainer.model.columns;
        let at = masks
            .iter()
            .map(|m| {
                cols.iter().position(|c| c == m).ok_or_else(|| {
                    NetError::Model(format!("the network does not read its mask {m}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DropoutBackend {
            trainer: trainer.clone(),
            cfg: cfg.clone(),
            at,
            keep: 1.0 - p,
            seed,
        })
    }

    /// Every row's masks for epoch `epoch` (1 for all at epoch 0).
    fn draw(&mut self, epoch: usize) {
        let w = self.trainer.compiled.n_cols;
        let scale = 1.0 / self.keep;
        // The epoch's own stream: the run's seed and the epoch, mixed so that nearby
        // seeds do not share streams.
        let mut r = ChaCha8Rng::seed_from_u64(
            self.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        for row in self.trainer.rows.chunks_mut(w.max(1)) {
            for &k in &self.at {
                row[k] = if epoch == 0 {
                    1.0
                } else if rng::unit(&mut r) < self.keep {
                    scale
                } else {
                    0.0
                };
            }
        }
    }
}

impl Backend for DropoutBackend {
    fn epoch(&mut self, ep: &mut Epoch<'_>) -> EpochEnd {
        self.draw(ep.number);
        Interpreter::new(&self.trainer, &self.cfg).epoch(ep)
    }

    fn mean_error(&mut self, params: &[f64]) -> f64 {
        self.draw(0);
        Interpreter::new(&self.trainer, &self.cfg).mean_error(params)
    }
}
