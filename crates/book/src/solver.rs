//! Excel Solver's problem, as a sheet saved it in names of its own: `solver_opt` the
//! objective cell, `solver_adj` the changing cells (areas separated by commas),
//! `solver_typ` 1 maximise, 2 minimise, 3 reach `solver_val`. gradsheet solves it with
//! L-BFGS (`gradsheet_labs::lbfgs`, the quasi-Newton method the labs use in Solver's
//! place: Solver's GRG Nonlinear is quasi-Newton too) or with Adam, taking the
//! workbook's exact gradient — one backward pass through the compiled cells per
//! evaluation, where Solver recalculates the workbook once per changing cell for its
//! finite differences.

use std::collections::{HashMap, HashSet};

use crate::{Book, BookError, Key, Lookup, Value};

/// What Solver is asked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Goal {
    /// `solver_typ` 1.
    Max,
    /// `solver_typ` 2.
    Min,
    /// `solver_typ` 3: bring the objective to `solver_val`.
    Value(f64),
}

impl Goal {
    /// In words, before the objective's address: `minimise`, `bring to 50`.
    pub fn words(self) -> String {
        match self {
            Goal::Max => "maximise".to_string(),
            Goal::Min => "minimise".to_string(),
            Goal::Value(v) => format!("bring to {v}"),
        }
    }
}

/// A sheet's Solver settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Solver {
    /// The objective cell.
    pub objective: Key,
    /// Its address, as Excel writes it.
    pub objective_text: String,
    /// The changing cells, area by area, row by row.
    pub changing: Vec<Key>,
    /// The changing cells as the settings write them (`H19:V23,B25:F39`).
    pub changing_text: String,
    /// What is asked.
    pub goal: Goal,
    /// The objective's value as the file saved it.
    pub saved: Option<f64>,
}

/// How [`Book::solve`] moves the changing cells.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    /// Limited-memory BFGS with a backtracking line search.
    Lbfgs,
    /// Adam (torch's, β = 0.9, 0.999) with this learning rate.
    Adam(f64),
}

/// One iteration of [`Book::solve`]: the objective after it (for [`Goal::Value`], the
/// objective's value; what is minimised is its squared distance to the target).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SolverStep {
    /// 0: the start.
    pub iteration: usize,
    /// The objective cell's value.
    pub objective: f64,
    /// The largest |∂objective/∂changing cell| there.
    pub gradient_max: f64,
}

/// What [`Book::solve`] ended with.
#[derive(Clone, Debug, PartialEq)]
pub struct Solved {
    /// The settings solved.
    pub solver: Solver,
    /// Each changing cell and its last value.
    pub changing: Vec<(String, f64)>,
    /// Evaluations (value and exact gradient) of the workbook.
    pub evaluations: usize,
}

/// The most changing cells gradsheet solves for.
pub const MAX_CHANGING: usize = 1_000_000;

/// The most iterations one solving runs: L-BFGS keeps each iteration's loss (and this
/// module each evaluation's numbers, to give every iteration its row), so the memory of
/// a solving grows with its iterations; Solver's problems converge in hundreds.
pub const MAX_ITERATIONS: usize = 100_000;

impl Book {
    /// The Solver settings of sheet `s`, if it has any; `Err` names what cannot be read
    /// (an objective that is not one cell, changing cells that are not cells).
    pub fn solver(&self, s: usize) -> Option<Result<Solver, String>> {
        let own = |n: &str| -> Option<String> {
            let t = match self.scoped_name(n, Some(s)) {
                Some(t) => Some(t),
                // Without scopes (an .ods): the definition pointing into this sheet.
                None if self.scoped_names.is_empty() => self.name_target(n, s).filter(|t| {
                    !t.contains('!')
                        || t.trim_start_matches('=')
                            .rsplit_once('!')
                            .and_then(|(x, _)| self.sheet(&x.trim_matches('\'').replace("''", "'")))
                            == Some(s)
                }),
                None => None,
            };
            t.map(|t| t.trim_start_matches('=').to_string())
        };
        let opt = own("solver_opt")?;
        Some(self.solver_from(
            s,
            &opt,
            own("solver_adj"),
            own("solver_typ"),
            own("solver_val"),
        ))
    }

    fn solver_from(
        &self,
        s: usize,
        opt: &str,
        adj: Option<String>,
        typ: Option<String>,
        val: Option<String>,
    ) -> Result<Solver, String> {
        let sheet = &self.wb.sheets[s].name;
        let area = |t: &str| -> Result<Vec<Key>, String> {
            let (sh, cells) = match t.rsplit_once('!') {
                Some((sh, c)) => (
                    self.sheet(&sh.trim_matches('\'').replace("''", "'"))
                        .ok_or_else(|| format!("{t}: no such sheet"))?,
                    c,
                ),
                None => (s, t),
            };
            let (a, b) = cells.split_once(':').unwrap_or((cells, cells));
            let (Some(a), Some(b)) = (crate::parse_a1(a), crate::parse_a1(b)) else {
                return Err(format!("{t} is not a block of cells"));
            };
            let n = (b.0.abs_diff(a.0) as usize + 1) * (b.1.abs_diff(a.1) as usize + 1);
            if n > MAX_CHANGING {
                return Err(format!("{t}: more than {MAX_CHANGING} cells"));
            }
            Ok((a.0.min(b.0)..=a.0.max(b.0))
                .flat_map(|r| (a.1.min(b.1)..=a.1.max(b.1)).map(move |c| (sh, r, c)))
                .collect())
        };
        let fail = |what: String| format!("Solver settings of sheet '{sheet}': {what}");
        let objective = area(opt)
            .ok()
            .filter(|v| v.len() == 1)
            .map(|v| v[0])
            .ok_or_else(|| fail(format!("the objective (solver_opt) is {opt}, not one cell")))?;
        let adj = adj.ok_or_else(|| fail("no changing cells (solver_adj)".into()))?;
        let mut changing = Vec::new();
        for a in adj.split(',') {
            changing.extend(area(a.trim()).map_err(|e| fail(format!("solver_adj: {e}")))?);
            if changing.len() > MAX_CHANGING {
                return Err(fail(format!("more than {MAX_CHANGING} changing cells")));
            }
        }
        let goal = match typ.as_deref().map(str::trim) {
            Some("1") => Goal::Max,
            Some("2") | None => Goal::Min,
            Some("3") => Goal::Value(
                val.as_deref()
                    .and_then(|v| v.trim().parse().ok())
                    .ok_or_else(|| {
                        fail("solver_typ 3 (a value) without a number in solver_val".into())
                    })?,
            ),
            Some(t) => return Err(fail(format!("solver_typ {t} is not 1, 2 or 3"))),
        };
        let saved = match self.cell(objective).map(|c| &c.value) {
            Some(Value::Num(v)) => Some(*v),
            _ => None,
        };
        let short = adj
            .split(',')
            .map(|a| a.rsplit_once('!').map_or(a, |(_, c)| c).replace('$', ""))
            .collect::<Vec<_>>()
            .join(",");
        Ok(Solver {
            objective_text: self.address(objective),
            objective,
            changing,
            changing_text: short,
            goal,
            saved,
        })
    }

    /// Solves sheet `s`'s Solver problem from the workbook's values, at most `iterations`
    /// iterations of `method`, `visit` seeing the objective after each (iteration 0: the
    /// start). The gradient is exact: reverse mode through every cell between the
    /// changing cells and the objective.
    ///
    /// # Errors
    ///
    /// [`BookError::Cell`] when the sheet has no Solver settings gradsheet reads, a
    /// changing cell is not a number typed in, or the objective is not recalculated or
    /// does not depend on the changing cells.
    pub fn solve(
        &self,
        s: usize,
        iterations: usize,
        method: Method,
        mut visit: impl FnMut(&SolverStep),
    ) -> Result<Solved, BookError> {
        let sheet = &self.wb.sheets[s].name;
        if iterations > MAX_ITERATIONS {
            return Err(BookError::Cell(format!(
                "{iterations} iterations: at most {MAX_ITERATIONS} (Solver's problems converge in hundreds)"
            )));
        }
        let sv = self
            .solver(s)
            .ok_or_else(|| {
                BookError::Cell(format!(
                    "sheet '{sheet}' has no Solver settings (solver_opt, solver_adj)"
                ))
            })?
            .map_err(BookError::Cell)?;
        if !self.computed.contains(&sv.objective) {
            return Err(BookError::Cell(format!(
                "{}: the objective is not a formula gradsheet recalculates",
                sv.objective_text
            )));
        }
        let (c, keys) = self
            .compile(&[sv.objective])
            .map_err(|e| BookError::Cell(e.to_string()))?;
        let index: HashMap<Key, usize> = keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
        let at: Vec<usize> = sv
            .changing
            .iter()
            .map(|k| {
                index.get(k).copied().ok_or_else(|| {
                    BookError::Cell(format!(
                        "{}: a changing cell that is not a number typed in",
                        self.address(*k)
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        // The inputs the objective's tape reads: an objective reading none of the
        // changing cells cannot be solved (a cell between them not recalculated breaks
        // the chain: say which).
        let used: HashSet<usize> = c
            .tape
            .code()
            .iter()
            .flat_map(|i| i.code.operands().iter().map(move |o| i.slot(*o) as usize))
            .chain(c.tape.outputs().iter().map(|o| *o as usize))
            .collect();
        if !at.iter().any(|i| used.contains(i)) {
            let stale: Vec<String> = keys
                .iter()
                .enumerate()
                .filter(|(i, _)| used.contains(i))
                .filter_map(|(_, k)| {
                    let (_, why) = self.skipped.iter().find(|(q, _)| q == k)?;
                    Some(format!("{} ({why})", self.address(*k)))
                })
                .take(3)
                .collect();
            return Err(BookError::Cell(format!(
                "{} does not depend on the changing cells {} through cells gradsheet recalculates{}",
                sv.objective_text,
                sv.changing_text,
                if stale.is_empty() {
                    String::new()
                } else {
                    format!("; it reads cells gradsheet does not recalculate, e.g. {}", stale.join(", "))
                }
            )));
        }
        let mut inputs = self.input_values(&keys);
        let x0: Vec<f64> = at.iter().map(|&i| inputs[i]).collect();
        let goal = sv.goal;
        let mut evaluations = 0usize;
        // What is minimised and its gradient in the changing cells; and the objective's
        // own value and gradient size, for the step rows.
        let mut objective = |x: &[f64]| {
            evaluations += 1;
            for (&i, v) in at.iter().zip(x) {
                inputs[i] = *v;
            }
            let (v, g) = c.value_and_gradient(&inputs, 0);
            let (scale, f) = match goal {
                Goal::Min => (1.0, v),
                Goal::Max => (-1.0, -v),
                // (v − t)², whose gradient is 2(v − t)·∂v.
                Goal::Value(t) => (2.0 * (v - t), (v - t) * (v - t)),
            };
            let gmax = at.iter().map(|&i| g[i].abs()).fold(0.0, f64::max);
            (
                f,
                at.iter().map(|&i| scale * g[i]).collect::<Vec<f64>>(),
                v,
                gmax,
            )
        };
        let x = match method {
            Method::Lbfgs => {
                let cfg = gradsheet_labs::LbfgsConfig {
                    max_iter: iterations,
                    ..Default::default()
                };
                // Every evaluation's (minimised, objective, largest |gradient|): the line
                // search's trial points are not iterations, so each iteration's row is
                // the evaluation its accepted loss came from (bounded by the iterations
                // asked, times the line search's 60 trials at most).
                let mut log: Vec<(f64, f64, f64)> = Vec::new();
                let r = gradsheet_labs::lbfgs(
                    |x| {
                        let (f, g, v, gm) = objective(x);
                        log.push((f, v, gm));
                        (f, g)
                    },
                    &x0,
                    &cfg,
                );
                let mut from = 0;
                for (iteration, f) in r.history.iter().enumerate() {
                    let Some(k) = log[from..]
                        .iter()
                        .position(|e| e.0.to_bits() == f.to_bits())
                    else {
                        continue;
                    };
                    let (_, v, gm) = log[from + k];
                    from += k + 1;
                    visit(&SolverStep {
                        iteration,
                        objective: v,
                        gradient_max: gm,
                    });
                }
                r.x
            }
            Method::Adam(lr) => {
                let mut st = gradsheet_labs::AdamState::new(x0.len());
                let cfg = gradsheet_labs::AdamConfig {
                    lr,
                    ..Default::default()
                };
                let mut x = x0.clone();
                for iteration in 0..=iterations {
                    let (_, g, v, gm) = objective(&x);
                    visit(&SolverStep {
                        iteration,
                        objective: v,
                        gradient_max: gm,
                    });
                    if iteration == iterations || !v.is_finite() {
                        break;
                    }
                    st.step(&cfg, &mut x, &g);
                }
                x
            }
        };
        Ok(Solved {
            changing: sv
                .changing
                .iter()
                .zip(&x)
                .map(|(k, v)| (self.address(*k), *v))
                .collect(),
            solver: sv,
            evaluations,
        })
    }
}
