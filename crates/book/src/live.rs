//! A workbook recalculated again and again as a learner types new inputs: the graph of
//! every computed cell compiled once, then one evaluation of its tape per change (what
//! the web view's grid redraws from).

use std::collections::HashMap;

use gradsheet_engine::graph::CompiledGraph;

use crate::{var, Book, BookError, Key, Lookup};

/// Every computed cell of a workbook, compiled once.
#[derive(Clone, Debug)]
pub struct Live {
    compiled: CompiledGraph,
    /// The inputs, in the tape's order, and their values as read.
    inputs: Vec<Key>,
    base: Vec<f64>,
    /// Each compiled cell's key, in [`CompiledGraph::cells`]' order (`None`: an
    /// auxiliary cell of a translation, not a cell of the sheet).
    cells: Vec<Option<Key>>,
}

impl Book {
    /// The inputs: the numbers the graph reads but does not compute, in the workbook's
    /// order.
    pub fn inputs(&self) -> &[Key] {
        &self.inputs.0
    }

    /// The formula cells not recalculated, and why (volatile, unsupported, circular).
    pub fn skipped(&self) -> impl Iterator<Item = (Key, &str)> {
        self.skipped.iter().map(|(k, r)| (*k, r.as_str()))
    }

    /// Whether the cell at `k` is an input (a search: for many cells, collect
    /// [`Book::inputs`] into a set).
    pub fn is_input(&self, k: Key) -> bool {
        self.inputs.0.contains(&k)
    }

    /// Whether the cell at `k` is a formula cell gradsheet recalculates.
    pub fn is_computed(&self, k: Key) -> bool {
        self.computed.contains(&k)
    }

    /// Why the formula cell at `k` is not recalculated (volatile, unsupported, circular),
    /// if it is not.
    pub fn skipped_reason(&self, k: Key) -> Option<&str> {
        self.skipped
            .iter()
            .find(|(s, _)| *s == k)
            .map(|(_, r)| r.as_str())
    }

    /// The cell as Excel writes it, `'my model'!B4`.
    pub fn address_of(&self, k: Key) -> String {
        self.address(k)
    }

    /// Every computed cell, compiled once for [`Live::values`].
    ///
    /// # Errors
    ///
    /// [`BookError::Cell`] when the graph cannot be compiled.
    pub fn live(&self) -> Result<Live, BookError> {
        let (compiled, inputs) = self
            .compile(&self.computed)
            .map_err(|e| BookError::Cell(e.to_string()))?;
        let by_name: HashMap<String, Key> = self.computed.iter().map(|k| (var(*k), *k)).collect();
        let cells = compiled
            .cells
            .iter()
            .map(|(n, _)| by_name.get(n).copied())
            .collect();
        let base = self.input_values(&inputs);
        Ok(Live {
            compiled,
            inputs,
            base,
            cells,
        })
    }
}

impl Live {
    /// Every computed cell's value with the inputs `changes` set (the others as read).
    ///
    /// # Errors
    ///
    /// The key of a change that is not an input.
    pub fn values(&self, changes: &[(Key, f64)]) -> Result<Vec<(Key, f64)>, Key> {
        let mut vals = self.base.clone();
        for (k, v) in changes {
            let i = self.inputs.iter().position(|x| x == k).ok_or(*k)?;
            vals[i] = *v;
        }
        Ok(self
            .cells
            .iter()
            .zip(self.compiled.values(&vals))
            .filter_map(|(k, v)| k.map(|k| (k, v)))
            .collect())
    }
}
