//! A network of named cells compiled for training: every cell one slot of the tape
//! (`engine::graph`), the loss and its regularisation as cells of their own, and the
//! training loop's [`Trainer`] built on that tape, so the interpreter and the native
//! kernel train it like any formula model.

use std::collections::HashMap;

use gradsheet_engine::graph::{CompiledGraph, Graph};
use gradsheet_engine::{parse, CompiledModel, Dataset, Expr, Model, Workspace, PRED};
use gradsheet_train::Trainer;

use crate::cells::Cell;
use crate::spec::Loss;
use crate::NetError;

/// The largest network written out as one formula ([`Model::prediction`], what the
/// symbolic derivative, `explain` and the xlsx export of a formula model read): past this
/// many nodes its formulas name the cells instead (see [`Network::written_out`]). The
/// tape is compiled cell by cell either way, so training does not depend on it.
pub const MAX_INLINE_NODES: usize = 200_000;

/// The constant names of the regularisation strengths.
pub const L1: &str = "lambda_l1";
/// See [`L1`].
pub const L2: &str = "lambda_l2";

/// The cells the network adds to the model's: the data loss, the penalty and the error
/// (and, for the softmax loss, the largest score).
const LOSS: &str = "loss";
const ZMAX: &str = "zmax";
const PENALTY: &str = "penalty";
const ERR: &str = "err";

/// Regularisation of the weights (`w…` parameters; biases are not penalised), added to
/// every row's error: `err = loss + λ₁·Σ|w| + λ₂·Σw²`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Reg {
    /// λ₁, the L1 strength.
    pub l1: f64,
    /// λ₂, the L2 strength.
    pub l2: f64,
}

/// How a network does on some rows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metrics {
    /// The mean data loss (without the penalty).
    pub loss: f64,
    /// The share of rows classified right (pred > 0.5 against a 0/1 label), when every
    /// label is 0 or 1.
    pub accuracy: Option<f64>,
    /// How many rows.
    pub rows: usize,
}

/// A cell's value and adjoint on one row.
#[derive(Clone, Debug, PartialEq)]
pub struct NeuronValue {
    /// The cell.
    pub name: String,
    /// Its value.
    pub value: f64,
    /// ∂err/∂cell, the backward pass's adjoint.
    pub adjoint: f64,
}

/// A network (or any model text of cells) compiled against its data.
#[derive(Clone, Debug)]
pub struct Network {
    /// The cells as written, `pred` last.
    pub cells: Vec<Cell>,
    /// The loss.
    pub loss: Loss,
    /// The regularisation.
    pub reg: Reg,
    /// The training loop's view: the model (its prediction written out as one formula)
    /// and the tape compiled cell by cell.
    pub trainer: Trainer,
    /// Every cell, the loss, the penalty and the error, for values and adjoints.
    inspect: CompiledGraph,
    /// Where each cell's slot is in `inspect`'s tape.
    slots: Vec<u32>,
    written_out: bool,
    loss_formula: Expr,
    penalty_formula: Option<Expr>,
}

impl Network {
    /// Compiles `cells` with `loss` and `reg` against `train` (whose columns are the
    /// features and `y`). Names that are neither cells nor columns are parameters, in
    /// order of first use.
    ///
    /// # Errors
    ///
    /// [`NetError::Model`] for a circular definition, a cell named as the network's own
    /// (`loss`, `penalty`, `err`), a logistic loss on a `pred` that is not `SIGMOID(…)`,
    /// or no `y` column.
    pub fn new(
        mut cells: Vec<Cell>,
        loss: Loss,
        reg: Reg,
        train: &Dataset,
    ) -> Result<Network, NetError> {
        let columns_all = &train.columns;
        if !columns_all.iter().any(|c| c == "y") {
            return Err(NetError::Model(format!(
                "the data has no column y, the target (its columns are {})",
                columns_all.join(", ")
            )));
        }
        for c in &cells {
            if [LOSS, PENALTY, ERR, L1, L2, ZMAX].contains(&c.name.as_str()) {
                return Err(NetError::Model(format!(
                    "{} is the name of the network's own cell; call yours something else",
                    c.name
                )));
            }
        }
        let pred = cells[cells.len() - 1].formula.clone();
        let data_loss = match loss {
            Loss::Squared => parse("(pred-y)^2").map_err(|e| NetError::Model(e.to_string()))?,
            Loss::Logistic => {
                let Expr::Apply(
                    gradsheet_engine::Op::Unary(gradsheet_engine::Unary::Sigmoid),
                    args,
                ) = pred
                else {
                    return Err(NetError::Model(format!(
                        "the logistic loss needs pred = SIGMOID(…), the probability of class 1, but pred = {pred}"
                    )));
                };
                // ln(1+e^z) − z·y = −(y·ln σ(z) + (1−y)·ln(1−σ(z))): the engine's softplus
                // never overflows nor takes the log of 0, however confident the network, and
                // its slope σ(z) − y holds at z = 0 too (max(z,0)+ln(1+e^−|z|), the other
                // stable form, has kinks there whose one-sided rules give the wrong slope).
                let stable =
                    parse("SOFTPLUS(u)-u*y").map_err(|e| NetError::Model(e.to_string()))?;
                stable.substitute("u", &args[0])
            }
            Loss::Softmax => {
                // The largest score is a cell of its own, shown and exported like the
                // others, just before `pred`.
                let k = scores(&cells)?;
                let all: Vec<String> = (1..=k).map(|i| format!("z_{i}")).collect();
                let zmax = parse(&format!("MAX({})", all.join(",")))
                    .map_err(|e| NetError::Model(e.to_string()))?;
                let at = cells.len() - 1;
                cells.insert(
                    at,
                    Cell {
                        name: ZMAX.into(),
                        formula: zmax,
                        span: cells[at].span,
                    },
                );
                softmax_loss(k)?
            }
        };
        let mut g = Graph::new();
        for c in &cells {
            g.cell(&c.name, c.formula.clone());
        }
        g.cell(LOSS, data_loss.clone());
        let cell_names: Vec<&str> = cells.iter().map(|c| c.name.as_str()).collect();
        let mut params: Vec<String> = Vec::new();
        for c in &cells {
            for n in c.formula.names_in_order() {
                if !cell_names.contains(&n.as_str())
                    && !columns_all.contains(&n)
                    && !params.contains(&n)
                {
                    params.push(n);
                }
            }
        }
        let weights: Vec<&String> = params.iter().filter(|p| p.starts_with('w')).collect();
        let mut constants: Vec<(String, f64)> = Vec::new();
        let mut penalty = Vec::new();
        if reg.l1 != 0.0 && !weights.is_empty() {
            let s: Vec<String> = weights.iter().map(|w| format!("ABS({w})")).collect();
            penalty.push(format!("{L1}*({})", s.join("+")));
            constants.push((L1.into(), reg.l1));
        }
        if reg.l2 != 0.0 && !weights.is_empty() {
            let s: Vec<String> = weights.iter().map(|w| format!("{w}^2")).collect();
            penalty.push(format!("{L2}*({})", s.join("+")));
            constants.push((L2.into(), reg.l2));
        }
        let penalty_expr = if penalty.is_empty() {
            None
        } else {
            Some(parse(&penalty.join("+")).map_err(|e| NetError::Model(e.to_string()))?)
        };
        let err_src = if let Some(pen) = &penalty_expr {
            g.cell(PENALTY, pen.clone());
            g.cell(
                ERR,
                parse("loss+penalty").map_err(|e| NetError::Model(e.to_string()))?,
            );
            "loss+penalty".to_string()
        } else {
            g.cell(ERR, Expr::var(LOSS));
            LOSS.to_string()
        };
        let used_cols: Vec<String> = columns_all
            .iter()
            .filter(|c| c.as_str() == "y" || cells.iter().any(|cell| cell.formula.mentions(c)))
            .cloned()
            .collect();
        let mut inputs = used_cols.clone();
        inputs.extend(params.iter().cloned());
        inputs.extend(constants.iter().map(|c| c.0.clone()));
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let compiled = g
            .compile(&inputs, &names(&[PRED, ERR]))
            .map_err(|e| NetError::Model(e.to_string()))?;
        let mut all: Vec<String> = cell_names.iter().map(|s| s.to_string()).collect();
        all.push(LOSS.into());
        all.push(ERR.into());
        let inspect = g
            .compile(&inputs, &all)
            .map_err(|e| NetError::Model(e.to_string()))?;
        let slots = inspect.tape.outputs().to_vec();

        let written = inline(&g, PRED, &inputs)?.zip(inline(&g, ERR, &inputs)?);
        let written_out = written.is_some();
        let (prediction, error) = written.unwrap_or_else(|| {
            let own = |n: &str| g.formula(n).cloned().unwrap_or_else(|| Expr::var(n));
            (own(PRED), own(ERR))
        });
        // The loss in `pred` as the textbook writes it, with the penalty added, so that
        // `Model::compile` gives the same error as the cells (the logistic loss there in
        // its textbook form, equal in value). The softmax loss reads the scores, not
        // `pred` (a class), so its loss is the error itself.
        let loss_expr = match loss {
            Loss::Softmax => error.clone(),
            Loss::Squared | Loss::Logistic => {
                let src = if loss == Loss::Squared {
                    "(pred-y)^2"
                } else {
                    "-(y*LN(pred)+(1-y)*LN(1-pred))"
                };
                let l = parse(src).map_err(|e| NetError::Model(e.to_string()))?;
                match penalty_expr {
                    Some(pen) => Expr::bin(gradsheet_engine::Binary::Add, l, pen),
                    None => l,
                }
            }
        };
        let model = Model {
            prediction,
            loss: loss_expr,
            error,
            columns: used_cols.clone(),
            params,
            constants: constants.clone(),
            prediction_src: cells
                .iter()
                .map(|c| format!("{} = {}", c.name, c.formula))
                .collect::<Vec<_>>()
                .join("; "),
            loss_src: format!("{} (err = {err_src})", loss.name()),
        };
        let rows = train
            .project(&used_cols)
            .map_err(|c| NetError::Model(format!("the data has no column {c}")))?;
        if train.is_empty() {
            return Err(NetError::Data("the training data has no rows".into()));
        }
        let trainer = Trainer {
            compiled: CompiledModel {
                tape: compiled.tape,
                n_cols: used_cols.len(),
                n_params: model.params.len(),
                constants: constants.iter().map(|c| c.1).collect(),
            },
            model,
            rows,
            n_rows: train.len(),
        };
        Ok(Network {
            cells,
            loss,
            reg,
            trainer,
            inspect,
            slots,
            written_out,
            loss_formula: data_loss,
            penalty_formula: g.formula(PENALTY).cloned(),
        })
    }

    /// Whether `trainer.model`'s prediction and error are written out as single formulas
    /// (a network within [`MAX_INLINE_NODES`]); if not, they are the `pred` and `err`
    /// cells' own formulas, naming other cells, and only the compiled tape (which
    /// training uses) knows the cells: do not hand that model to code that compiles or
    /// differentiates its formulas.
    pub fn written_out(&self) -> bool {
        self.written_out
    }

    /// The data loss of one row as a formula over the cells and `y` (for the logistic
    /// loss, of the logit: `SOFTPLUS(z)-z*y`).
    pub fn loss_formula(&self) -> &Expr {
        &self.loss_formula
    }

    /// The penalty `λ₁·Σ|w| + λ₂·Σw²` as a formula over the weights and the constants
    /// [`L1`], [`L2`], if there is one.
    pub fn penalty_formula(&self) -> Option<&Expr> {
        self.penalty_formula.as_ref()
    }

    /// The parameters, in the order of the initial values and the trace.
    pub fn params(&self) -> &[String] {
        &self.trainer.model.params
    }

    /// The data columns the network reads (features, then `y`).
    pub fn columns(&self) -> &[String] {
        &self.trainer.model.columns
    }

    fn load(&self, ws: &mut Workspace, row: &[f64], params: &[f64]) {
        let nc = self.columns().len();
        let np = self.params().len();
        ws.vals[..nc].copy_from_slice(&row[..nc]);
        ws.vals[nc..nc + np].copy_from_slice(&params[..np]);
        for (k, v) in self.trainer.compiled.constants.iter().enumerate() {
            ws.vals[nc + np + k] = *v;
        }
    }

    /// The prediction and the data loss on each row of `data` (columns by name).
    ///
    /// # Errors
    ///
    /// [`NetError::Data`] when `data` lacks a column the network reads.
    pub fn predictions(&self, params: &[f64], data: &Dataset) -> Result<Vec<(f64, f64)>, NetError> {
        let rows = data
            .project(self.columns())
            .map_err(|c| NetError::Data(format!("the data has no column {c}")))?;
        let w = self.columns().len();
        let tape = &self.inspect.tape;
        let mut ws = tape.workspace();
        let n = self.cells.len();
        let (pred, loss) = (self.slots[n - 1] as usize, self.slots[n] as usize);
        Ok(rows
            .chunks(w.max(1))
            .take(data.len())
            .map(|row| {
                self.load(&mut ws, row, params);
                tape.forward(&mut ws.vals);
                (ws.vals[pred], ws.vals[loss])
            })
            .collect())
    }

    /// The mean data loss and the accuracy on `data`.
    ///
    /// # Errors
    ///
    /// As [`Network::predictions`].
    pub fn metrics(&self, params: &[f64], data: &Dataset) -> Result<Metrics, NetError> {
        let p = self.predictions(params, data)?;
        let ys = data.column("y").unwrap_or_default();
        let n = p.len();
        let loss = p.iter().map(|x| x.1).sum::<f64>() / n.max(1) as f64;
        let accuracy = if self.loss == Loss::Softmax {
            // `pred` is the class of the largest score.
            (n > 0).then(|| {
                let right = p.iter().zip(&ys).filter(|((c, _), &y)| *c == y).count();
                right as f64 / n as f64
            })
        } else {
            let classes = ys.iter().all(|&y| y == 0.0 || y == 1.0);
            (classes && n > 0).then(|| {
                let right = p
                    .iter()
                    .zip(&ys)
                    .filter(|((pred, _), &y)| (*pred > 0.5) == (y == 1.0))
                    .count();
                right as f64 / n as f64
            })
        };
        Ok(Metrics {
            loss,
            accuracy,
            rows: n,
        })
    }

    /// Every cell's value and adjoint (∂err/∂cell) on one row of the model's columns.
    pub fn neurons(&self, params: &[f64], row: &[f64]) -> Vec<NeuronValue> {
        let tape = &self.inspect.tape;
        let mut ws = tape.workspace();
        self.load(&mut ws, row, params);
        tape.forward(&mut ws.vals);
        let err = self.slots.len() - 1;
        tape.backward(&mut ws, err);
        self.cells
            .iter()
            .zip(&self.slots)
            .map(|(c, &s)| NeuronValue {
                name: c.name.clone(),
                value: ws.vals[s as usize],
                adjoint: ws.adj[s as usize],
            })
            .collect()
    }

    /// Every cell's value at many points at once, cell-major: `out[c][i]` is cell `c` at
    /// point `i`, where each point gives the model's feature columns (without `y`).
    pub fn cell_values(&self, params: &[f64], points: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let tape = &self.inspect.tape;
        let mut ws = tape.workspace();
        let mut out = vec![Vec::with_capacity(points.len()); self.cells.len()];
        let nc = self.columns().len();
        let mut row = vec![0.0; nc];
        for p in points {
            let k = p.len().min(nc);
            row[..k].copy_from_slice(&p[..k]);
            self.load(&mut ws, &row, params);
            tape.forward(&mut ws.vals);
            for (o, &s) in out.iter_mut().zip(&self.slots) {
                o.push(ws.vals[s as usize]);
            }
        }
        out
    }
}

/// How many class scores `z_1`, `z_2`, … the cells define (consecutively from 1).
///
/// # Errors
///
/// [`NetError::Model`] when there are fewer than two.
fn scores(cells: &[Cell]) -> Result<usize, NetError> {
    let k = (1..)
        .take_while(|i| cells.iter().any(|c| c.name == format!("z_{i}")))
        .count();
    if k < 2 {
        return Err(NetError::Model(
            "the softmax loss needs a score cell per class, z_1, z_2, … (at least two): \
             z_1 is class 0's"
                .into(),
        ));
    }
    Ok(k)
}

/// The softmax cross-entropy of `k` scores against the class `y`, shifted by the largest
/// score so that no exponential overflows and the logarithm's argument is at least 1:
/// `LN(EXP(z_1-zmax)+…)+zmax-((y=0)*z_1+…)`. Its slope with respect to `z_i` is the
/// softmax's `p_i` minus 1 for the true class; the shift's own slope cancels (1 − Σ p).
fn softmax_loss(k: usize) -> Result<Expr, NetError> {
    let exps: Vec<String> = (1..=k).map(|i| format!("EXP(z_{i}-{ZMAX})")).collect();
    let picks: Vec<String> = (1..=k).map(|i| format!("(y={})*z_{i}", i - 1)).collect();
    parse(&format!(
        "LN({})+{ZMAX}-({})",
        exps.join("+"),
        picks.join("+")
    ))
    .map_err(|e| NetError::Model(e.to_string()))
}

/// The cell `name` written out as one formula (every cell it uses substituted in), or
/// `None` past [`MAX_INLINE_NODES`] nodes.
fn inline(g: &Graph, name: &str, inputs: &[String]) -> Result<Option<Expr>, NetError> {
    let order = g
        .order(inputs, &[name.to_string()])
        .map_err(|e| NetError::Model(e.to_string()))?;
    // Sizes first, so that a network too large is never built as a tree.
    let mut size: HashMap<&str, usize> = HashMap::new();
    for &i in &order {
        let cell = g.name(i);
        let Some(f) = g.formula(cell) else { continue };
        let mut s = 0usize;
        f.visit(&mut |e| {
            s = s.saturating_add(match e {
                Expr::Var(v) => size.get(v.as_str()).copied().unwrap_or(1),
                _ => 1,
            });
        });
        if s > MAX_INLINE_NODES {
            return Ok(None);
        }
        size.insert(cell, s);
    }
    let mut done: HashMap<&str, Expr> = HashMap::new();
    for &i in &order {
        let cell = g.name(i);
        if let Some(f) = g.formula(cell) {
            done.insert(cell, substitute_all(f, &done));
        }
    }
    Ok(done.remove(name))
}

/// `e` with every name in `with` replaced by its expression, in one walk.
fn substitute_all(e: &Expr, with: &HashMap<&str, Expr>) -> Expr {
    match e {
        Expr::Var(v) => with.get(v.as_str()).cloned().unwrap_or_else(|| e.clone()),
        Expr::Apply(op, args) => {
            Expr::Apply(*op, args.iter().map(|a| substitute_all(a, with)).collect())
        }
        Expr::Num(_) => e.clone(),
    }
}
