//! A model as a graph of named cells, compiled to one tape.
//!
//! A spreadsheet is cells whose formulas name other cells; a network is neurons whose
//! formulas name the neurons of the layer before. Both are a graph: each cell an [`Expr`]
//! over inputs (numbers that are given) and other cells. Substituting each cell into the
//! ones that use it would copy shared subexpressions again and again (a chain of 28
//! updates, each using the row before twice, is 2²⁸ copies); compiled cell by cell in
//! topological order, every cell is one slot of the tape, computed once, and reverse mode
//! gives ∂(one cell)/∂(every input) in one backward pass.
//!
//! # Example
//!
//! ```
//! use gradsheet_engine::graph::Graph;
//! use gradsheet_engine::parse;
//!
//! let mut g = Graph::new();
//! g.cell("h", parse("MAX(a*x+b,0)").unwrap());
//! g.cell("pred", parse("c*h+d").unwrap());
//! g.cell("e", parse("(pred-y)^2").unwrap());
//! let inputs: Vec<String> = ["a", "b", "c", "d", "x", "y"].map(String::from).to_vec();
//! let c = g.compile(&inputs, &["e".to_string()]).unwrap();
//! let (e, grad) = c.value_and_gradient(&[1.0, 1.0, 1.0, 1.0, 14.0, 58.0], 0);
//! assert_eq!(e, (16.0f64 - 58.0).powi(2));
//! assert_eq!(grad[0], 2.0 * (16.0 - 58.0) * 14.0); // ∂e/∂a = 2(pred−y)·c·x
//! ```

use std::collections::HashMap;

use crate::expr::Expr;
use crate::tape::{Tape, TapeBuilder};

/// Named cells, each a formula over inputs and other cells.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    cells: Vec<(String, Expr)>,
    index: HashMap<String, usize>,
}

/// Why a graph cannot be compiled.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// Cells that depend on themselves, in the order of the cycle.
    #[error("a circular reference: {}", .0.join(" → "))]
    Cycle(Vec<String>),
    /// A name that is neither an input nor a cell.
    #[error("{cell} uses {name}, which is neither an input nor a cell")]
    Unknown {
        /// The cell whose formula uses it.
        cell: String,
        /// The name.
        name: String,
    },
    /// An output that is not a cell or an input.
    #[error("no cell named {0}")]
    NoCell(String),
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Graph {
        Graph::default()
    }

    /// Defines (or redefines) the cell `name` as `formula`.
    pub fn cell(&mut self, name: &str, formula: Expr) {
        match self.index.get(name) {
            Some(&i) => self.cells[i].1 = formula,
            None => {
                self.index.insert(name.to_string(), self.cells.len());
                self.cells.push((name.to_string(), formula));
            }
        }
    }

    /// The formula of the cell `name`.
    pub fn formula(&self, name: &str) -> Option<&Expr> {
        self.index.get(name).map(|&i| &self.cells[i].1)
    }

    /// The name of the cell at `index` (the indices [`Graph::order`] gives).
    pub fn name(&self, index: usize) -> &str {
        &self.cells[index].0
    }

    /// How many cells it has.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The names a cell's formula uses, each once, in order.
    fn uses(e: &Expr) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        e.visit(&mut |n| {
            if let Expr::Var(v) = n {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
        });
        out
    }

    /// The cells `outputs` need, in an order where each comes after the cells it uses.
    ///
    /// # Errors
    ///
    /// [`GraphError::Cycle`] naming the cells of a cycle; [`GraphError::Unknown`] for a
    /// name that is neither an input nor a cell.
    pub fn order(&self, inputs: &[String], outputs: &[String]) -> Result<Vec<usize>, GraphError> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Open,
            Done,
        }
        let is_input: std::collections::HashSet<&str> = inputs.iter().map(String::as_str).collect();
        let mut mark = vec![Mark::New; self.cells.len()];
        let mut order = Vec::new();
        // An explicit stack, not recursion: a sheet's chain of rows can be thousands deep.
        for out in outputs {
            if is_input.contains(out.as_str()) {
                continue;
            }
            let Some(&root) = self.index.get(out) else {
                return Err(GraphError::NoCell(out.clone()));
            };
            let mut stack: Vec<(usize, Vec<String>, usize)> = Vec::new();
            if mark[root] == Mark::New {
                mark[root] = Mark::Open;
                stack.push((root, Graph::uses(&self.cells[root].1), 0));
            }
            while let Some((cell, uses, next)) = stack.last_mut() {
                let cell = *cell;
                if *next == uses.len() {
                    mark[cell] = Mark::Done;
                    order.push(cell);
                    stack.pop();
                    continue;
                }
                let name = uses[*next].clone();
                *next += 1;
                if is_input.contains(name.as_str()) {
                    continue;
                }
                let Some(&dep) = self.index.get(&name) else {
                    return Err(GraphError::Unknown {
                        cell: self.cells[cell].0.clone(),
                        name,
                    });
                };
                match mark[dep] {
                    Mark::Done => {}
                    Mark::Open => {
                        let from = stack.iter().position(|(c, _, _)| *c == dep).unwrap_or(0);
                        let mut cycle: Vec<String> = stack[from..]
                            .iter()
                            .map(|(c, _, _)| self.cells[*c].0.clone())
                            .collect();
                        cycle.push(self.cells[dep].0.clone());
                        return Err(GraphError::Cycle(cycle));
                    }
                    Mark::New => {
                        mark[dep] = Mark::Open;
                        stack.push((dep, Graph::uses(&self.cells[dep].1), 0));
                    }
                }
            }
        }
        Ok(order)
    }

    /// Compiles the cells `outputs` need into one tape over `inputs` (its first slots, in
    /// that order), with the outputs as the tape's outputs.
    ///
    /// # Errors
    ///
    /// As [`Graph::order`].
    pub fn compile(
        &self,
        inputs: &[String],
        outputs: &[String],
    ) -> Result<CompiledGraph, GraphError> {
        let order = self.order(inputs, outputs)?;
        let mut b = TapeBuilder::new(inputs);
        let mut bound: HashMap<String, u32> = HashMap::new();
        let mut slots = Vec::with_capacity(order.len());
        for &i in &order {
            let (name, e) = &self.cells[i];
            let slot = b.add(e, &bound).map_err(|u| GraphError::Unknown {
                cell: name.clone(),
                name: u.0.clone(),
            })?;
            bound.insert(name.clone(), slot);
            slots.push((name.clone(), slot));
        }
        let input_slot = |n: &String| inputs.iter().position(|i| i == n).map(|k| k as u32);
        let outs = outputs
            .iter()
            .map(|o| {
                bound
                    .get(o)
                    .copied()
                    .or_else(|| input_slot(o))
                    .ok_or_else(|| GraphError::NoCell(o.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CompiledGraph {
            tape: b.finish(outs),
            cells: slots,
            n_inputs: inputs.len(),
        })
    }
}

/// A graph compiled to a tape.
#[derive(Clone, Debug)]
pub struct CompiledGraph {
    /// The tape: the inputs are its first slots, the outputs its outputs.
    pub tape: Tape,
    /// Each compiled cell and its slot, in the order computed.
    pub cells: Vec<(String, u32)>,
    n_inputs: usize,
}

impl CompiledGraph {
    /// Every cell's value at `inputs`, in [`CompiledGraph::cells`]' order.
    pub fn values(&self, inputs: &[f64]) -> Vec<f64> {
        let mut ws = self.tape.workspace();
        ws.vals[..self.n_inputs].copy_from_slice(&inputs[..self.n_inputs]);
        self.tape.forward(&mut ws.vals);
        self.cells
            .iter()
            .map(|(_, s)| ws.vals[*s as usize])
            .collect()
    }

    /// Output `which` and its derivative with respect to every input (reverse mode).
    pub fn value_and_gradient(&self, inputs: &[f64], which: usize) -> (f64, Vec<f64>) {
        let (v, g) = self.tape.eval_grad(&inputs[..self.n_inputs], which);
        (v, g[..self.n_inputs].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_chain_of_updates_compiles_once_per_cell() {
        // 200 SGD updates of a*x with the row before used twice per row: substituted,
        // 2^200 copies; as a graph, a few instructions per row.
        let mut g = Graph::new();
        g.cell("a0", parse("a").unwrap());
        for i in 1..=200 {
            g.cell(
                &format!("a{i}"),
                parse(&format!("a{p}-0.001*2*(a{p}*x-y)*x", p = i - 1)).unwrap(),
            );
        }
        let c = g
            .compile(&names(&["a", "x", "y"]), &names(&["a200"]))
            .unwrap();
        assert!(c.tape.code().len() < 200 * 8, "{}", c.tape.code().len());
        let (v, grad) = c.value_and_gradient(&[1.0, 2.0, 6.0], 0);
        // Each step a ← a − 0.004·(2a − 6) = 0.992·a + 0.024: a fixed point at 3.
        let mut a = 1.0f64;
        let mut da = 1.0f64;
        for _ in 0..200 {
            a = a - 0.001 * 2.0 * (a * 2.0 - 6.0) * 2.0;
            da *= 1.0 - 0.001 * 2.0 * 2.0 * 2.0;
        }
        assert!((v - a).abs() < 1e-12, "{v} {a}");
        assert!((grad[0] - da).abs() < 1e-12, "{} {da}", grad[0]);
    }

    #[test]
    fn cycles_and_unknown_names_are_named() {
        let mut g = Graph::new();
        g.cell("A1", parse("B1+1").unwrap());
        g.cell("B1", parse("C1*2").unwrap());
        g.cell("C1", parse("A1").unwrap());
        let e = g.compile(&[], &names(&["A1"])).unwrap_err();
        assert_eq!(e, GraphError::Cycle(names(&["A1", "B1", "C1", "A1"])));
        assert_eq!(e.to_string(), "a circular reference: A1 → B1 → C1 → A1");
        let mut g = Graph::new();
        g.cell("A1", parse("Z9+1").unwrap());
        assert_eq!(
            g.compile(&[], &names(&["A1"])).unwrap_err().to_string(),
            "A1 uses Z9, which is neither an input nor a cell"
        );
    }
}
