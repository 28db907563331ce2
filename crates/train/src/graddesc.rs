//! Faithful replays of the optimizer sheets of fast.ai's graddesc workbooks (2018:
//! course-v3, 2016: courses/deeplearning1), with their Reset, Run and onestep macros,
//! and the "clean" versions of the same optimizers for comparison.
//!
//! A sheet is 29 rows (Excel rows 4–32), one per data sample, plus a few input and
//! summary cells. Everything here keeps the sheet's cell addresses (column letters and
//! row numbers) so that a view can lay the numbers out exactly as Excel does.
//!
//! The arithmetic follows Excel's, operation by operation (left to right in IEEE
//! doubles, `x^2` as `x*x`, `1-β` kept in its own cell), so the values equal Excel's
//! cached values bit for bit apart from Excel's rare last-bit anomalies. Where a sheet's
//! arithmetic is the same as a workbook-convention [`Optimizer`]'s, the rows are computed
//! by [`Optimizer::step`] itself, so the golden sheets also test those rules.
//!
//! # Examples
//!
//! ```
//! use gradsheet_train::graddesc::{replay, Sheet, Workbook};
//! let r = replay(Workbook::Y2018, Sheet::Momentum).unwrap();
//! // The momentum carried in by Reset: the last row's momentum of a pass from zero.
//! assert_eq!(r.state.state, [-18.33392669020789, 98.24583039212854]);
//! assert_eq!(r.view.rows.len(), 29);
//! assert_eq!(r.view.cell("L33"), Some(200.9651846012761)); // SQRT(SUM(L4:L32))
//! ```

use std::fmt;

use gradsheet_engine::data::GRADDESC_X;

use crate::optim::{Optimizer, State};

/// The number of data rows of every sheet (Excel rows 4 to 32).
pub const N_ROWS: usize = 29;
/// The Excel row of the first data row.
pub const FIRST_ROW: u32 = 4;
/// The Excel row of the summary cells under the data (`F33`, `J33`, ...).
pub const SUMMARY_ROW: u32 = 33;

/// Which workbook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Workbook {
    /// course-v3's files/xl/graddesc.xlsm (Nov 2018).
    Y2018,
    /// courses' deeplearning1/excel/graddesc.xlsm (Dec 2016).
    Y2016,
}

impl Workbook {
    /// The year as text.
    pub fn year(self) -> &'static str {
        match self {
            Workbook::Y2018 => "2018",
            Workbook::Y2016 => "2016",
        }
    }

    /// The golden files' tag of the repository the workbook comes from.
    pub fn tag(self) -> &'static str {
        match self {
            Workbook::Y2018 => "course-v3",
            Workbook::Y2016 => "courses",
        }
    }

    /// The optimizer sheets of the workbook, in tab order.
    pub fn sheets(self) -> &'static [Sheet] {
        match self {
            Workbook::Y2018 => &[
                Sheet::Basic,
                Sheet::Momentum,
                Sheet::Rmsprop,
                Sheet::Adam,
                Sheet::AdamAnn,
            ],
            Workbook::Y2016 => &[
                Sheet::Basic,
                Sheet::Momentum,
                Sheet::Adagrad,
                Sheet::Rmsprop,
                Sheet::Adam,
                Sheet::Eve,
                Sheet::AdagradAnn,
                Sheet::AdamAnn,
            ],
        }
    }
}

impl std::str::FromStr for Workbook {
    type Err = String;
    fn from_str(s: &str) -> Result<Workbook, String> {
        match s.trim() {
            "2018" | "course-v3" => Ok(Workbook::Y2018),
            "2016" | "courses" => Ok(Workbook::Y2016),
            other => Err(format!("unknown workbook '{other}': use 2018 or 2016")),
        }
    }
}

/// An optimizer sheet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sheet {
    /// `basic` (2018) / `basic SGD` (2016): SGD with finite-difference columns beside.
    Basic,
    /// `momentum`.
    Momentum,
    /// `rmsprop`.
    Rmsprop,
    /// `adam`.
    Adam,
    /// `adam_ann`: Adam whose Run quarters the learning rate.
    AdamAnn,
    /// `adagrad` (2016): per-epoch rates.
    Adagrad,
    /// `adagrad_ann` (2016): adagrad whose Run halves the learning rate.
    AdagradAnn,
    /// `eve` (2016): Adam divided by a loss-volatility factor.
    Eve,
}

/// The names accepted for `--sheet`, in order.
pub const SHEET_NAMES: &[&str] = &[
    "basic",
    "momentum",
    "rmsprop",
    "adam",
    "adam_ann",
    "adagrad",
    "adagrad_ann",
    "eve",
];

impl std::str::FromStr for Sheet {
    type Err = String;
    fn from_str(s: &str) -> Result<Sheet, String> {
        let k = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Ok(match k.as_str() {
            "basic" | "basic_sgd" | "sgd" => Sheet::Basic,
            "momentum" => Sheet::Momentum,
            "rmsprop" => Sheet::Rmsprop,
            "adam" => Sheet::Adam,
            "adam_ann" => Sheet::AdamAnn,
            "adagrad" => Sheet::Adagrad,
            "adagrad_ann" => Sheet::AdagradAnn,
            "eve" => Sheet::Eve,
            _ => {
                return Err(format!(
                    "unknown sheet '{s}': the sheets are {}",
                    SHEET_NAMES.join(", ")
                ))
            }
        })
    }
}

impl Sheet {
    /// The short name (one of [`SHEET_NAMES`]).
    pub fn key(self) -> &'static str {
        match self {
            Sheet::Basic => "basic",
            Sheet::Momentum => "momentum",
            Sheet::Rmsprop => "rmsprop",
            Sheet::Adam => "adam",
            Sheet::AdamAnn => "adam_ann",
            Sheet::Adagrad => "adagrad",
            Sheet::AdagradAnn => "adagrad_ann",
            Sheet::Eve => "eve",
        }
    }

    /// The sheet's tab name in `wb` (`basic SGD` in 2016).
    pub fn tab(self, wb: Workbook) -> &'static str {
        match (self, wb) {
            (Sheet::Basic, Workbook::Y2016) => "basic SGD",
            _ => self.key(),
        }
    }

    /// How many β cells the sheet has: 2 for adam, adam_ann and eve, 1 for momentum and
    /// rmsprop, 0 for the others.
    pub fn betas(self) -> usize {
        match self {
            Sheet::Adam | Sheet::AdamAnn | Sheet::Eve => 2,
            Sheet::Momentum | Sheet::Rmsprop => 1,
            Sheet::Basic | Sheet::Adagrad | Sheet::AdagradAnn => 0,
        }
    }

    /// The names of the carried optimizer-state cells, in sheet order (`J3`, `K3`, ...).
    pub fn state_names(self) -> &'static [&'static str] {
        match self {
            Sheet::Basic => &[],
            Sheet::Momentum => &["m_b", "m_a"],
            Sheet::Rmsprop => &["s_b", "s_a"],
            Sheet::Adam | Sheet::AdamAnn | Sheet::Eve => &["m_b", "m_a", "s_b", "s_a"],
            Sheet::Adagrad | Sheet::AdagradAnn => &["r_b", "r_a"],
        }
    }
}

impl fmt::Display for Sheet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// The sheet does not exist in that workbook.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("the {year} workbook has no sheet '{sheet}' (its sheets are {list})")]
pub struct NoSuchSheet {
    /// The workbook's year.
    pub year: &'static str,
    /// The sheet asked for.
    pub sheet: &'static str,
    /// The sheets it has.
    pub list: String,
}

fn check_sheet(wb: Workbook, sheet: Sheet) -> Result<(), NoSuchSheet> {
    if wb.sheets().contains(&sheet) {
        Ok(())
    } else {
        Err(NoSuchSheet {
            year: wb.year(),
            sheet: sheet.key(),
            list: wb
                .sheets()
                .iter()
                .map(|s| s.key())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

/// The typed (constant) cells of a sheet: what Reset, Run and onestep change, and what
/// Excel recomputes every row from.
#[derive(Clone, Debug, PartialEq)]
pub struct SheetState {
    /// C1: the intercept b the first row starts from.
    pub b: f64,
    /// C2: the slope a.
    pub a: f64,
    /// The learning rate (F1 in basic, D2 elsewhere).
    pub lr: f64,
    /// The β cells, β1 then β2: adam and adam_ann's J1 and L1, eve's K1 and M1; momentum
    /// and rmsprop have one β (J1, here β1). The sheets without β (basic, adagrad,
    /// adagrad_ann) ignore them. Reset never writes them.
    pub betas: [f64; 2],
    /// The carried optimizer state in sheet order (see [`Sheet::state_names`]): `J3:K3` /
    /// `J3:M3` (= the constants `J33:M33`), eve's `K3:N3`, adagrad's `F1:G1`.
    pub state: Vec<f64>,
    /// adam_ann's N3 `prev_grad2` (the running minimum of `avg_grad2`).
    pub prev_grad2: Option<f64>,
    /// adagrad_ann's J1: the previous "expected step" H33.
    pub prev_step: Option<f64>,
    /// eve's F34 `f(t-1)`, F35 `f(t-2)` and F37 `d(t-1)`.
    pub eve: Option<[f64; 3]>,
    /// basic's rmse history pasted by the macro under C38 (`rmses`).
    pub history: Vec<f64>,
}

/// A macro or a typed change, the steps of a replay.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Action {
    /// The Reset button.
    Reset,
    /// The `onestep` macro alone (one epoch).
    Onestep,
    /// The Run button (`somesteps`): 5 onesteps, with the annealing sheets' lr rule.
    Run,
    /// One iteration of the Run macro's loop: onestep plus, on the annealing sheets, its
    /// lr rule (five of these are a Run).
    RunStep,
    /// The learning-rate cell typed in by hand.
    SetLr(f64),
    /// β1 typed in (momentum and rmsprop: their β). Reset keeps it.
    SetBeta1(f64),
    /// β2 typed in (adam, adam_ann, eve). Reset keeps it.
    SetBeta2(f64),
    /// The intercept b typed into C1.
    SetB(f64),
    /// The slope a typed into C2.
    SetA(f64),
    /// Excel's own last-bit anomaly: the slope C2 came out this many ulps away from what
    /// IEEE left-to-right arithmetic gives (about 1 cell in 1000 does, docs/workbooks.md §0.3).
    SlopeUlps(i64),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Reset => f.write_str("Reset"),
            Action::Onestep => f.write_str("onestep"),
            Action::Run => f.write_str("Run"),
            Action::RunStep => f.write_str("Run step"),
            Action::SetLr(v) => write!(f, "lr = {}", crate::fmt_num(*v)),
            Action::SetBeta1(v) => write!(f, "β1 = {}", crate::fmt_num(*v)),
            Action::SetBeta2(v) => write!(f, "β2 = {}", crate::fmt_num(*v)),
            Action::SetB(v) => write!(f, "b = {}", crate::fmt_num(*v)),
            Action::SetA(v) => write!(f, "a = {}", crate::fmt_num(*v)),
            Action::SlopeUlps(k) => write!(f, "Excel's slope {k:+} ulp"),
        }
    }
}

/// The replay sequence that leads to the saved sheet: the macros pressed since Reset, as
/// found by replaying and matching every saved input bit for bit. `None` for 2016 eve,
/// whose Reset reads the pre-reset pass, so its saved state is taken as given.
pub fn saved_sequence(wb: Workbook, sheet: Sheet) -> Option<Vec<Action>> {
    use Action::*;
    Some(match (wb, sheet) {
        (Workbook::Y2018, Sheet::Basic) => vec![Reset, Run],
        (Workbook::Y2018, Sheet::Momentum) => vec![Reset],
        (Workbook::Y2018, Sheet::Rmsprop) => vec![Reset, Run],
        (Workbook::Y2018, Sheet::Adam) => vec![Reset, Run, Run, Run, SetLr(0.1), Run],
        // Five Runs; Excel's 3rd onestep gave a slope one ulp below IEEE's (the spec found
        // that this one nudge makes every saved input bit-exact; without it the replay
        // ends a few hundred ulps away, since Adam amplifies the difference).
        (_, Sheet::AdamAnn) => {
            let mut v = vec![Reset, RunStep, RunStep, RunStep, SlopeUlps(-1)];
            v.extend([RunStep; 22]);
            v
        }
        (Workbook::Y2016, Sheet::Basic) => vec![Reset],
        (Workbook::Y2016, Sheet::Momentum) => vec![Reset, Run],
        (Workbook::Y2016, Sheet::Adagrad) => vec![Reset],
        (Workbook::Y2016, Sheet::Rmsprop) => vec![Reset],
        (Workbook::Y2016, Sheet::Adam) => vec![Reset],
        (Workbook::Y2016, Sheet::AdagradAnn) => vec![Reset, Run, Run],
        (_, Sheet::Eve) => return None,
        (Workbook::Y2018, _) => return None,
    })
}

/// The saved typed cells of 2016 eve (F34, F35, F37 and K3:N3), which no replay from
/// scratch reaches (its Reset copies the optimizer state of the pass before the reset).
pub fn eve_saved_state() -> SheetState {
    SheetState {
        b: 1.0,
        a: 1.0,
        lr: 1.0,
        betas: sheet_betas(Workbook::Y2016, Sheet::Eve),
        state: vec![
            4.223800054218521,
            -15.966661111217437,
            672.901089046245,
            2666772.931402197,
        ],
        prev_grad2: None,
        prev_step: None,
        eve: Some([239.79849927509557, 119.89924963754778, 1.0]),
        history: Vec::new(),
    }
}

/// A column of the sheet's row table.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// Its letter, `A` to `N`.
    pub letter: &'static str,
    /// The sheet's header in row 3. The state columns have a number there (the carried
    /// state), so their header is their letter, as in the golden row tables.
    pub header: &'static str,
    /// What the column is, in words.
    pub meaning: &'static str,
    /// The formula of row 5, in the sheet's spelling.
    pub formula: &'static str,
}

/// A single cell outside the rows: an input or a summary.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// Its address, e.g. `F33`.
    pub addr: String,
    /// Its label or name in the sheet (`rmse`, `beta`, `prev_grad2`, ...).
    pub label: &'static str,
    /// The value.
    pub value: f64,
}

/// A sheet as Excel shows it: the 29 rows, the input and summary cells, and the quirks
/// in words. Plain data, with every value at its cell address.
#[derive(Clone, Debug, PartialEq)]
pub struct SheetView {
    /// The workbook.
    pub workbook: Workbook,
    /// The sheet.
    pub sheet: Sheet,
    /// The tab name.
    pub name: &'static str,
    /// The columns, from A.
    pub columns: Vec<Column>,
    /// Excel row number of `rows[0]` (always 4).
    pub first_row: u32,
    /// The 29 rows, one value per column.
    pub rows: Vec<Vec<f64>>,
    /// Inputs and summaries, each at its address.
    pub cells: Vec<Cell>,
    /// The quirks that matter here, as sentences with this sheet's numbers.
    pub notes: Vec<String>,
}

impl SheetView {
    /// The value at an address such as `F33` or `J4` (rows and cells alike).
    pub fn cell(&self, addr: &str) -> Option<f64> {
        if let Some(c) = self.cells.iter().find(|c| c.addr == addr) {
            return Some(c.value);
        }
        let split = addr.find(|c: char| c.is_ascii_digit())?;
        let (col, row) = addr.split_at(split);
        let row: u32 = row.parse().ok()?;
        let ci = self.columns.iter().position(|c| c.letter == col)?;
        let ri = row.checked_sub(self.first_row)? as usize;
        self.rows.get(ri).map(|r| r[ci])
    }

    /// The index of the column with this letter.
    pub fn column(&self, letter: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.letter == letter)
    }
}

/// One epoch of a replay: a pass the sheet displayed (after Reset or a onestep).
#[derive(Clone, Debug, PartialEq)]
pub struct Epoch {
    /// 1-based.
    pub epoch: usize,
    /// What led to it (`Reset`, `onestep 3`, ...).
    pub after: String,
    /// b and a of the first row.
    pub b: f64,
    /// a of the first row.
    pub a: f64,
    /// The learning rate of the pass.
    pub lr: f64,
    /// sqrt(Σ err²) over the 29 rows: the sheets' "rmse".
    pub sheet_rmse: f64,
    /// The carried-in state of the pass.
    pub state: Vec<f64>,
}

/// A faithful replay: the macros pressed, every displayed epoch, the final typed cells and
/// the sheet they show.
#[derive(Clone, Debug, PartialEq)]
pub struct Replay {
    /// The actions replayed (empty when the saved state was taken as given).
    pub actions: Vec<Action>,
    /// Each displayed pass, in order.
    pub epochs: Vec<Epoch>,
    /// The final typed cells.
    pub state: SheetState,
    /// The sheet.
    pub view: SheetView,
}

/// The clean version beside a replay: the same number of epochs and the same learning
/// rates, but every update applied (an epoch starts from the last row's *new* b and a)
/// and the optimizer state starting at zero.
#[derive(Clone, Debug, PartialEq)]
pub struct Clean {
    /// Each epoch.
    pub epochs: Vec<Epoch>,
    /// The last epoch's 29 rows, in the same layout as the sheet.
    pub view: SheetView,
    /// What the zero state does for this rule, in words.
    pub notes: Vec<String>,
}

/// How the faithful and the clean runs differ.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// Per epoch: (epoch, faithful b, faithful a, clean b, clean a, faithful rmse, clean rmse).
    pub epochs: Vec<[f64; 7]>,
    /// The largest |faithful - clean| over the displayed rows' b and a columns.
    pub max_param_gap: f64,
    /// The summary in sentences.
    pub notes: Vec<String>,
}

/// The constants of a sheet (β's, ...), as its row-1 cells hold them.
/// The constants of a sheet's rows, from its β cells.
#[derive(Clone, Copy, Debug)]
struct Consts {
    beta1: f64,
    beta2: f64,
}

impl Consts {
    fn of(st: &SheetState) -> Consts {
        Consts {
            beta1: st.betas[0],
            beta2: st.betas[1],
        }
    }
}

/// The β cells as the workbooks hold them (docs/workbooks.md §1, §2); the second is
/// unused by momentum and rmsprop, both unused by the sheets without β.
fn sheet_betas(wb: Workbook, sheet: Sheet) -> [f64; 2] {
    match (wb, sheet) {
        (Workbook::Y2016, Sheet::Adam) | (_, Sheet::Eve) => [0.7, 0.9],
        (_, Sheet::AdamAnn) => [0.9, 0.95],
        _ => [0.9, 0.9],
    }
}

/// eve's H38: the weight of d(t-1).
const EVE_H38: f64 = 0.9;

/// The result of one recalculation of a sheet.
#[derive(Clone, Debug)]
struct Pass {
    rows: Vec<Vec<f64>>,
    /// b, a used by row 32 (C32, D32).
    used_last: [f64; 2],
    /// b, a computed by row 32 (its "new" columns).
    new_last: [f64; 2],
    /// The optimizer state of row 32 (adagrad: F33:G33, the next epoch's divisors).
    state_last: Vec<f64>,
    /// sqrt(Σ err²).
    sheet_rmse: f64,
    /// Summary cells.
    cells: Vec<Cell>,
}

fn y_of(x: f64) -> f64 {
    // The pasted y column is exactly 2x + 30 (small integers).
    2.0 * x + 30.0
}

fn cellv(addr: &str, label: &'static str, value: f64) -> Cell {
    Cell {
        addr: addr.to_string(),
        label,
        value,
    }
}

/// Recomputes the sheet from its typed cells, as Excel's recalculation does.
fn pass(wb: Workbook, sheet: Sheet, st: &SheetState) -> Pass {
    let c = Consts::of(st);
    let (mut b, mut a) = (st.b, st.a);
    let lr = st.lr;
    let mut rows = Vec::with_capacity(N_ROWS);
    let mut err_sum = 0.0;
    let mut sumsq_b = 0.0;
    let mut sumsq_a = 0.0;
    let mut used_last = [b, a];
    let mut new_last = [b, a];
    // Optimizer state in the `Optimizer`'s own layout, where a rule is reused.
    let opt = match sheet {
        Sheet::Momentum => Some(Optimizer::Momentum { lr, beta: c.beta1 }),
        Sheet::Rmsprop => Some(Optimizer::Rmsprop { lr, beta: c.beta1 }),
        Sheet::Adam | Sheet::AdamAnn if !(wb == Workbook::Y2016 && sheet == Sheet::AdamAnn) => {
            Some(Optimizer::Adam {
                lr,
                beta1: c.beta1,
                beta2: c.beta2,
            })
        }
        Sheet::Adagrad | Sheet::AdagradAnn => Some(Optimizer::Adagrad { lr, r0: 0.0 }),
        _ => None,
    };
    let mut ost = opt.as_ref().map(|o| {
        let mut s = State::new(o, 2);
        match o {
            // r_b, r_a are F1:G1; the Σg² accumulators start empty.
            Optimizer::Adagrad { .. } => s.values[..2].copy_from_slice(&st.state),
            _ => s.values.copy_from_slice(&st.state),
        }
        s
    });
    // Sheets written out by hand keep their state here (2016 adam_ann and eve).
    let mut hand = st.state.clone();
    let eve_d = st.eve.map(|[f1, f2, d1]| {
        let rt = (f1 - f2).abs() / f1.min(f2);
        (rt, d1 * EVE_H38 + (1.0 - EVE_H38) * rt)
    });
    let one_minus1 = 1.0 - c.beta1;
    let one_minus2 = 1.0 - c.beta2;
    for (i, &x) in GRADDESC_X.iter().enumerate() {
        let y = y_of(x);
        used_last = [b, a];
        let pred = b + a * x;
        let err = (y - pred) * (y - pred);
        // F5 =2*(D5*A5+C5-B5), and basic's K5 =2*(E5-B5): the same double, since
        // a*x+b and b+a*x are one rounded addition of the same two terms.
        let gb = 2.0 * (a * x + b - y);
        let ga = gb * x;
        err_sum += err;
        sumsq_b += gb * gb;
        sumsq_a += ga * ga;
        let mut row = vec![x, y, b, a, pred];
        match sheet {
            Sheet::Basic => {
                let errb1 = (((b + 0.01) + x * a) - y) * (((b + 0.01) + x * a) - y);
                let erra1 = (((a + 0.01) * x + b) - y) * (((a + 0.01) * x + b) - y);
                let new_a = a - ga * lr;
                let new_b = b - gb * lr;
                row.extend_from_slice(&[
                    err,
                    errb1,
                    (errb1 - err) / 0.01,
                    erra1,
                    (erra1 - err) / 0.01,
                    gb,
                    ga,
                    new_a,
                    new_b,
                ]);
                new_last = [new_b, new_a];
            }
            Sheet::Eve => {
                let d = eve_d.map(|e| e.1).unwrap_or(1.0);
                let h = &mut hand;
                h[0] = h[0] * c.beta1 + one_minus1 * gb;
                h[1] = h[1] * c.beta1 + one_minus1 * ga;
                h[2] = h[2] * c.beta2 + one_minus2 * (gb * gb);
                h[3] = h[3] * c.beta2 + one_minus2 * (ga * ga);
                let new_b = b - h[0] * lr / h[2].sqrt() / d;
                let new_a = a - h[1] * lr / h[3].sqrt() / d;
                row.extend_from_slice(&[err, gb, ga, new_b, new_a, h[0], h[1], h[2], h[3]]);
                new_last = [new_b, new_a];
            }
            Sheet::AdamAnn if wb == Workbook::Y2016 => {
                // J5 =J4*$J$1+$K$1*Intro!F5 reads a blank cell: K1*0 = 0, so row 5's
                // momentum of b only decays; every other row reads its own F. The slip
                // in J5 then moves every later row.
                let h = &mut hand;
                let g_in = if i == 1 { 0.0 } else { gb };
                h[0] = h[0] * c.beta1 + one_minus1 * g_in;
                h[1] = h[1] * c.beta1 + one_minus1 * ga;
                h[2] = h[2] * c.beta2 + one_minus2 * (gb * gb);
                h[3] = h[3] * c.beta2 + one_minus2 * (ga * ga);
                let new_b = b - h[0] * lr / h[2].sqrt();
                let new_a = a - h[1] * lr / h[3].sqrt();
                row.extend_from_slice(&[gb, ga, new_b, new_a, h[0], h[1], h[2], h[3]]);
                new_last = [new_b, new_a];
            }
            _ => {
                let (o, s) = (opt.as_ref().expect("rule"), ost.as_mut().expect("state"));
                let mut p = [b, a];
                o.step(&mut p, &[gb, ga], s);
                row.push(gb);
                row.push(ga);
                if sheet == Sheet::AdagradAnn {
                    // H = new a, I = new b in this sheet.
                    row.push(p[1]);
                    row.push(p[0]);
                } else {
                    row.push(p[0]);
                    row.push(p[1]);
                }
                if !matches!(sheet, Sheet::Adagrad | Sheet::AdagradAnn) {
                    row.extend_from_slice(&s.values);
                }
                if wb == Workbook::Y2018 && sheet == Sheet::Momentum {
                    row.push(err); // L5 =(B5-E5)^2
                }
                new_last = p;
            }
        }
        rows.push(row);
        // The next row reads this row's new b and a.
        b = new_last[0];
        a = new_last[1];
    }
    let sheet_rmse = err_sum.sqrt();
    let n = N_ROWS as f64;
    let mut cells = Vec::new();
    let state_last = match sheet {
        Sheet::Basic => {
            cells.push(cellv("F33", "rmse", sheet_rmse));
            cells.push(cellv("K33", "histgrad", sumsq_b.sqrt()));
            cells.push(cellv("L33", "histgrad", sumsq_a.sqrt()));
            vec![]
        }
        Sheet::Eve => {
            cells.push(cellv("F33", "loss", sheet_rmse));
            hand.clone()
        }
        Sheet::AdamAnn if wb == Workbook::Y2016 => hand.clone(),
        Sheet::Adagrad | Sheet::AdagradAnn => {
            let o = opt.as_ref().expect("rule");
            let s = ost.as_mut().expect("state");
            o.end_epoch(s, N_ROWS);
            s.values[..2].to_vec()
        }
        _ => ost.as_ref().expect("state").values.clone(),
    };
    match sheet {
        Sheet::Momentum if wb == Workbook::Y2018 => cells.push(cellv("L33", "", sheet_rmse)),
        Sheet::AdamAnn => {
            cells.push(cellv("F33", "", sumsq_b.sqrt() / n));
            cells.push(cellv("G33", "", sumsq_a.sqrt() / n));
        }
        Sheet::Adagrad | Sheet::AdagradAnn => {
            cells.push(cellv("F33", "histgrad", state_last[0]));
            cells.push(cellv("G33", "histgrad", state_last[1]));
            if sheet == Sheet::AdagradAnn {
                let (f2, g2) = (st.lr / st.state[0], st.lr / st.state[1]);
                cells.push(cellv(
                    "H33",
                    "SUMPRODUCT(histgrad,F2:G2)",
                    state_last[0] * f2 + state_last[1] * g2,
                ));
            }
        }
        _ => {}
    }
    Pass {
        rows,
        used_last,
        new_last,
        state_last,
        sheet_rmse,
        cells,
    }
}

/// The columns of a sheet, from A.
fn columns(wb: Workbook, sheet: Sheet) -> Vec<Column> {
    let col = |letter, header, meaning, formula| Column {
        letter,
        header,
        meaning,
        formula,
    };
    let mut v = vec![
        col("A", "x", "the data's x (pasted values)", ""),
        col("B", "y", "the data's y = 2x + 30", ""),
    ];
    if sheet == Sheet::Basic {
        v.extend([
            col("C", "intercept", "b used by this row", "=N4"),
            col("D", "slope", "a used by this row", "=M4"),
            col("E", "y_pred", "b + a·x", "=C5+D5*A5"),
            col("F", "err^2", "(y - pred)²", "=(B5-E5)^2"),
            col(
                "G",
                "errb1",
                "the squared error with b + 0.01",
                "=(((C5+0.01)+A5*D5)-B5)^2",
            ),
            col(
                "H",
                "est de/db",
                "forward difference (errb1 - err²)/0.01 (shown only)",
                "=(G5-F5)/0.01",
            ),
            col(
                "I",
                "erra1",
                "the squared error with a + 0.01",
                "=(((D5+0.01)*A5+C5)-B5)^2",
            ),
            col(
                "J",
                "est de/da",
                "forward difference (erra1 - err²)/0.01 (shown only)",
                "=(I5-F5)/0.01",
            ),
            col("K", "de/db", "2(pred - y)", "=2*(E5-B5)"),
            col("L", "de/da", "x·de/db", "=K5*A5"),
            col("M", "new a", "a - de/da·lr", "=D5-L5*$F$1"),
            col("N", "new b", "b - de/db·lr", "=C5-K5*$F$1"),
        ]);
        return v;
    }
    // Eve's gradients sit one column to the right (F is err²), so its new b and a are in
    // I and J, and the next row reads those.
    let (next_b, next_a) = if sheet == Sheet::Eve {
        ("=I4", "=J4")
    } else {
        ("=H4", "=I4")
    };
    v.extend([
        col("C", "b", "b used by this row", next_b),
        col("D", "a", "a used by this row", next_a),
        col("E", "pred", "b + a·x", "=C5+D5*A5"),
    ]);
    if sheet == Sheet::Eve {
        v.extend([
            col("F", "err^2", "(pred - y)²", "=(E5-B5)^2"),
            col("G", "de/db", "2(a·x + b - y)", "=2*(D5*A5+C5-B5)"),
            col("H", "de/da", "x·de/db", "=G5*A5"),
            col(
                "I",
                "new b",
                "b - m_b·lr/√s_b/d_t",
                "=C5-K5*$D$2/SQRT(M5)/$F$38",
            ),
            col(
                "J",
                "new a",
                "a - m_a·lr/√s_a/d_t",
                "=D5-L5*$D$2/SQRT(N5)/$F$38",
            ),
            col("K", "K", "m_b = β1·m_b + (1-β1)·de/db", "=K4*$K$1+$L$1*G5"),
            col("L", "L", "m_a", "=L4*$K$1+$L$1*H5"),
            col(
                "M",
                "M",
                "s_b = β2·s_b + (1-β2)·(de/db)²",
                "=M4*$M$1+$N$1*G5^2",
            ),
            col("N", "N", "s_a", "=N4*$M$1+$N$1*H5^2"),
        ]);
        return v;
    }
    v.push(col("F", "de/db", "2(a·x + b - y)", "=2*(D5*A5+C5-B5)"));
    v.push(col("G", "de/da", "x·de/db", "=F5*A5"));
    match sheet {
        Sheet::Momentum => {
            v.extend([
                col(
                    "H",
                    "new b",
                    "b - m_b·lr (this row's momentum)",
                    "=C5-J5*$D$2",
                ),
                col("I", "new a", "a - m_a·lr", "=D5-K5*$D$2"),
                col("J", "J", "m_b = β·m_b + (1-β)·de/db", "=J4*$J$1+$K$1*F5"),
                col("K", "K", "m_a", "=K4*$J$1+$K$1*G5"),
            ]);
            if wb == Workbook::Y2018 {
                v.push(col("L", "err^2", "(y - pred)²", "=(B5-E5)^2"));
            }
        }
        Sheet::Rmsprop => v.extend([
            col(
                "H",
                "new b",
                "b - de/db·lr/√s_b (the previous row's s_b)",
                "=C5-F5*$D$2/SQRT(J4)",
            ),
            col(
                "I",
                "new a",
                "a - de/da·lr/√s_a (the previous row's s_a)",
                "=D5-G5*$D$2/SQRT(K4)",
            ),
            col(
                "J",
                "J",
                "s_b = β·s_b + (1-β)·(de/db)², updated after use",
                "=J4*$J$1+$K$1*F5^2",
            ),
            col("K", "K", "s_a", "=K4*$J$1+$K$1*G5^2"),
        ]),
        Sheet::Adam | Sheet::AdamAnn => v.extend([
            col(
                "H",
                "new b",
                "b - m_b·lr/√s_b (this row's m and s)",
                "=C5-J5*$D$2/SQRT(L5)",
            ),
            col("I", "new a", "a - m_a·lr/√s_a", "=D5-K5*$D$2/SQRT(M5)"),
            col(
                "J",
                "J",
                "m_b = β1·m_b + (1-β1)·de/db",
                if wb == Workbook::Y2016 && sheet == Sheet::AdamAnn {
                    "=J4*$J$1+$K$1*Intro!F5"
                } else {
                    "=J4*$J$1+$K$1*F5"
                },
            ),
            col("K", "K", "m_a", "=K4*$J$1+$K$1*G5"),
            col(
                "L",
                "L",
                "s_b = β2·s_b + (1-β2)·(de/db)²",
                "=L4*$L$1+$M$1*F5^2",
            ),
            col("M", "M", "s_a", "=M4*$L$1+$M$1*G5^2"),
        ]),
        Sheet::Adagrad => v.extend([
            col(
                "H",
                "new b",
                "b - de/db·F2 (this epoch's rate for b)",
                "=C5-F5*F$2",
            ),
            col("I", "new a", "a - de/da·G2", "=D5-G5*G$2"),
        ]),
        Sheet::AdagradAnn => v.extend([
            col("H", "new a", "a - de/da·G2", "=D5-G5*G$2"),
            col("I", "new b", "b - de/db·F2", "=C5-F5*F$2"),
        ]),
        _ => {}
    }
    if sheet == Sheet::AdagradAnn {
        v[2].formula = "=I4";
        v[3].formula = "=H4";
    }
    v
}

/// The sheet shown by `st`: the 29 rows and every input and summary cell.
///
/// # Errors
///
/// [`NoSuchSheet`] if the workbook has no such sheet.
///
/// # Examples
///
/// ```
/// use gradsheet_train::graddesc::{initial, view, Sheet, Workbook};
/// // The 2016 basic SGD sheet as saved: a = b = 1.
/// let v = view(Workbook::Y2016, Sheet::Basic, &initial(Workbook::Y2016, Sheet::Basic)).unwrap();
/// assert_eq!(v.name, "basic SGD");
/// assert_eq!(v.cell("F33"), Some(150.75521153771854)); // "rmse" = sqrt(Σ err²)
/// assert_eq!(v.cell("N4"), Some(1.0086)); // new b = 1 - (-86)·0.0001
/// ```
pub fn view(wb: Workbook, sheet: Sheet, st: &SheetState) -> Result<SheetView, NoSuchSheet> {
    check_sheet(wb, sheet)?;
    let p = pass(wb, sheet, st);
    Ok(view_of(wb, sheet, st, p))
}

fn view_of(wb: Workbook, sheet: Sheet, st: &SheetState, p: Pass) -> SheetView {
    let c = Consts::of(st);
    let mut cells = vec![cellv("C1", "b", st.b), cellv("C2", "a", st.a)];
    let lr_addr = if sheet == Sheet::Basic { "F1" } else { "D2" };
    cells.push(cellv(lr_addr, "learn", st.lr));
    let letters = ["J", "K", "L", "M", "N"];
    match sheet {
        Sheet::Basic => {
            for (i, v) in st.history.iter().enumerate() {
                cells.push(cellv(&format!("C{}", 38 + i), "rmses", *v));
            }
        }
        Sheet::Momentum | Sheet::Rmsprop => {
            cells.push(cellv("J1", "beta", c.beta1));
            cells.push(cellv("K1", "1-beta", 1.0 - c.beta1));
        }
        Sheet::Adam | Sheet::AdamAnn => {
            cells.push(cellv("J1", "beta1", c.beta1));
            cells.push(cellv("K1", "1-beta1", 1.0 - c.beta1));
            cells.push(cellv("L1", "beta2", c.beta2));
            cells.push(cellv("M1", "1-beta2", 1.0 - c.beta2));
        }
        Sheet::Eve => {
            cells.push(cellv("K1", "beta1", c.beta1));
            cells.push(cellv("L1", "1-beta1", 1.0 - c.beta1));
            cells.push(cellv("M1", "beta2", c.beta2));
            cells.push(cellv("N1", "1-beta2", 1.0 - c.beta2));
        }
        Sheet::Adagrad | Sheet::AdagradAnn => {
            cells.push(cellv("F1", "gradtarget", st.state[0]));
            cells.push(cellv("G1", "gradtarget", st.state[1]));
            cells.push(cellv("F2", "rate b", st.lr / st.state[0]));
            cells.push(cellv("G2", "rate a", st.lr / st.state[1]));
        }
    }
    // The carried state: row 3 above the state columns shows the constants of row 33.
    let first_state = if sheet == Sheet::Eve { 1 } else { 0 };
    if !matches!(sheet, Sheet::Adagrad | Sheet::AdagradAnn) {
        for (i, v) in st.state.iter().enumerate() {
            let l = letters[i + first_state];
            cells.push(cellv(&format!("{l}3"), "carried state", *v));
            cells.push(cellv(&format!("{l}33"), "state (typed by the macros)", *v));
        }
    }
    match sheet {
        Sheet::AdamAnn => {
            let pg = st.prev_grad2.unwrap_or(f64::NAN);
            let avg = st.state[2].sqrt() + st.state[3].sqrt();
            cells.push(cellv("N3", "prev_grad2", pg));
            cells.push(cellv("N33", "avg_grad2", avg));
            cells.push(cellv("N34", "gradrat", avg / pg));
            cells.push(cellv("K34", "1/K3", 1.0 / st.state[1]));
            cells.push(cellv("L34", "1/L3", 1.0 / st.state[2]));
        }
        Sheet::AdagradAnn => {
            cells.push(cellv("H1", "leftover", 100.0));
            cells.push(cellv(
                "J1",
                "previous H33",
                st.prev_step.unwrap_or(f64::NAN),
            ));
        }
        Sheet::Eve => {
            let [f1, f2, d1] = st.eve.unwrap_or([f64::NAN; 3]);
            let rt = (f1 - f2).abs() / f1.min(f2);
            cells.push(cellv("F34", "ft-1", f1));
            cells.push(cellv("F35", "ft-2", f2));
            cells.push(cellv("F36", "r_t", rt));
            cells.push(cellv("F37", "dt-1", d1));
            cells.push(cellv("F38", "dt", d1 * EVE_H38 + (1.0 - EVE_H38) * rt));
            cells.push(cellv("H38", "beta", EVE_H38));
        }
        _ => {}
    }
    cells.extend(p.cells.iter().cloned());
    let notes = notes(wb, sheet, st, &p);
    SheetView {
        workbook: wb,
        sheet,
        name: sheet.tab(wb),
        columns: columns(wb, sheet),
        first_row: FIRST_ROW,
        rows: p.rows,
        cells,
        notes,
    }
}

fn f2(v: f64) -> String {
    format!("{v:.2}")
}

fn notes(wb: Workbook, sheet: Sheet, st: &SheetState, p: &Pass) -> Vec<String> {
    let mut n = Vec::new();
    let g = crate::fmt_num;
    if sheet == Sheet::Adagrad {
        n.push(format!(
            "Each onestep starts the next epoch from row 32's updated values (lastconst/lastslope are \
             H32/I32 here, unlike every other sheet): b {} and a {}.",
            g(p.new_last[0]),
            g(p.new_last[1])
        ));
    } else {
        n.push(format!(
            "Each onestep (a Run is 5) starts the next epoch from the parameters row 32 used \
             (C32 = {}, D32 = {}), not from its update ({}, {}): the 29th update of every epoch is \
             computed and thrown away{}.",
            g(p.used_last[0]),
            g(p.used_last[1]),
            g(p.new_last[0]),
            g(p.new_last[1]),
            if sheet == Sheet::Basic {
                ""
            } else {
                ", while row 32's optimizer state is carried over"
            }
        ));
    }
    match sheet {
        Sheet::Basic => {
            n.push(format!(
                "F33 \"rmse\" = {} is the square root of the SUM of the 29 squared errors, not of \
                 their mean; the true RMSE of this epoch is {}.",
                g(p.sheet_rmse),
                g((p.sheet_rmse * p.sheet_rmse / N_ROWS as f64).sqrt())
            ));
            n.push(
                "The update uses the exact derivatives K and L; the finite differences H and J \
                 (h = 0.01) are shown only, and differ from them by about 0.01·x² for a."
                    .into(),
            );
            if wb == Workbook::Y2016 {
                n.push("This workbook's onestep pastes the rmse of the finished epoch before copying the parameters; 2018's pastes it after, the rmse of the new start.".into());
            }
        }
        Sheet::Momentum => {
            let sentence = format!(
                "The first momentum values {} and {} (J3:K3) are the last row's momentum of a pass \
                 from zero, carried in by Reset: Reset sets the momentum to 0 and a = b = 1, then \
                 copies row 32's momentum into J33:K33 while Excel recalculates, so the sheet never \
                 starts from zero momentum.",
                f2(st.state[0]),
                f2(st.state[1])
            );
            if st.b == 1.0 && st.a == 1.0 {
                n.push(sentence);
            } else {
                n.push(format!(
                    "J3:K3 = {}, {} is row 32's momentum of the previous epoch. Reset does not start \
                     from zero either: it copies in the last row's momentum of a pass from zero.",
                    f2(st.state[0]),
                    f2(st.state[1])
                ));
            }
            n.push(format!("This is the damped EMA form m = β·m + (1-β)·g (K1 = 1-β = {}), so the step is (1-β) times torch's momentum step for the same lr.", 1.0 - st.betas[0]));
            if wb == Workbook::Y2018 {
                n.push(format!(
                    "L33 = {} is again the square root of the sum of squared errors.",
                    g(p.sheet_rmse)
                ));
            }
        }
        Sheet::Rmsprop => {
            n.push("Each row divides by the PREVIOUS row's mean square (J4, K4 in row 5's formulas), before its own gradient is included, and there is no ε.".into());
            n.push(format!(
                "The mean squares carried in (J3:K3 = {}, {}) come from Reset, which sets them to 10000 and then copies row 32's mean squares back twice (two passes from a = b = 1), not from zero: a zero start would divide by √0.",
                g(st.state[0]),
                g(st.state[1])
            ));
        }
        Sheet::Adam | Sheet::AdamAnn => {
            n.push("There is no bias correction and no ε; each row divides its momentum by the square root of THIS row's mean square.".into());
            n.push("Reset sets the mean squares to 10000 and the momentum to 0, then copies row 32's state back twice before the first displayed epoch.".into());
            if sheet == Sheet::AdamAnn {
                let pg = st.prev_grad2.unwrap_or(f64::NAN);
                let avg = st.state[2].sqrt() + st.state[3].sqrt();
                n.push(format!(
                    "Annealing: after each onestep the Run macro computes avg_grad2 = √s_b + √s_a of the carried state (N33 = {}) and divides lr by 4 when it exceeds twice its running minimum prev_grad2 (N3 = {}, ratio N34 = {}); lr is now {}.",
                    g(avg),
                    g(pg),
                    g(avg / pg),
                    g(st.lr)
                ));
                n.push("F33 and G33 are √(Σg²)/n = RMS/√n, not an RMS.".into());
                if wb == Workbook::Y2016 {
                    n.push(format!("Bug in this workbook: J5 reads Intro!F5 (a blank cell) instead of F5, so row 5's momentum of b is just {}·J4 and every later row inherits the slip; the saved inputs predate the bug (they match the 2018 copy's replay).", st.betas[0]));
                }
            }
        }
        Sheet::Adagrad | Sheet::AdagradAnn => {
            n.push(format!(
                "Not real Adagrad: the rates F2 = lr/F1 = {} and G2 = lr/G1 = {} stay fixed for the whole epoch; F1:G1 are the previous epoch's √(Σg²)/n (F33:G33).",
                g(st.lr / st.state[0]),
                g(st.lr / st.state[1])
            ));
            if sheet == Sheet::AdagradAnn {
                n.push("Annealing: after each onestep the Run macro halves lr while the expected step H33 = F33·F2 + G33·G2 exceeds twice the previous one (J1). Columns H and I are swapped: H = new a, I = new b.".into());
            }
        }
        Sheet::Eve => {
            n.push("Eve divides Adam's step by d_t (F38) = d(t-1)·0.9 + 0.1·r_t, where r_t = |f(t-1) - f(t-2)|/min is the relative change of the loss between epochs, with no clipping.".into());
            n.push("The saved state cannot be replayed from scratch: Reset copies the optimizer state of the pass before the reset (in manual mode), so K3:N3 are taken as saved.".into());
        }
    }
    n
}

/// The typed cells right after pressing Reset on a sheet whose cells were `prev` (only
/// eve's Reset reads the previous cells).
fn reset(wb: Workbook, sheet: Sheet, prev: &SheetState) -> SheetState {
    let mut st = SheetState {
        b: 1.0,
        a: 1.0,
        lr: prev.lr,
        betas: prev.betas,
        state: vec![0.0; sheet.state_names().len()],
        prev_grad2: None,
        prev_step: None,
        eve: None,
        history: Vec::new(),
    };
    match sheet {
        Sheet::Basic => {}
        Sheet::Momentum => {
            st.lr = 1e-4;
            // Automatic mode: the paste of momlast reads the pass from zero momentum.
            st.state = pass(wb, sheet, &st).state_last;
        }
        Sheet::Rmsprop => {
            st.state = vec![1e4; 2];
            for _ in 0..2 {
                st.state = pass(wb, sheet, &st).state_last;
            }
        }
        Sheet::Adam => {
            st.lr = 1.0;
            st.state = vec![0.0, 0.0, 1e4, 1e4];
            // Automatic mode: each of the four pastes is followed by a recalculation, so the
            // momentum is copied from a pass that already used the new mean squares.
            for _ in 0..2 {
                let s = pass(wb, sheet, &st).state_last;
                st.state[2..].copy_from_slice(&s[2..]);
                let m = pass(wb, sheet, &st).state_last;
                st.state[..2].copy_from_slice(&m[..2]);
            }
        }
        Sheet::AdamAnn => {
            // Manual mode: both copies read the same pass; the bug-free rows of 2018.
            st.lr = 1.0;
            st.state = vec![0.0, 0.0, 1e4, 1e4];
            let p0 = pass(Workbook::Y2018, sheet, &st).state_last;
            st.state = p0.clone();
            st.state = pass(Workbook::Y2018, sheet, &st).state_last;
            // prev_grad2 = avg_grad2 as last calculated, i.e. from the first pass's state.
            st.prev_grad2 = Some(p0[2].sqrt() + p0[3].sqrt());
        }
        Sheet::Adagrad => {
            st.state = vec![1e4; 2];
            st.state = pass(wb, sheet, &st).state_last;
        }
        Sheet::AdagradAnn => {
            st.state = vec![1e6; 2];
            st.prev_step = Some(100.0);
            st.lr = 0.5;
        }
        Sheet::Eve => {
            // Manual mode: the state copies read the pass BEFORE the reset.
            let before = pass(wb, sheet, prev);
            st.lr = 1.0;
            st.state = before.state_last;
            let old = prev.eve.unwrap_or([1.0, 0.5, 1.0]);
            st.eve = Some([old[0], old[1], 1.0]);
            let loss = pass(wb, sheet, &st).sheet_rmse;
            st.eve = Some([loss, loss / 2.0, 1.0]);
        }
    }
    st
}

/// The `onestep` macro: the next epoch starts from row 32's parameters and state.
fn onestep(wb: Workbook, sheet: Sheet, st: &mut SheetState) {
    let p = pass(wb, sheet, st);
    if sheet == Sheet::Basic && wb == Workbook::Y2016 {
        st.history.push(p.sheet_rmse);
    }
    if sheet == Sheet::Eve {
        let [f1, f2, d1] = st.eve.unwrap_or([1.0, 0.5, 1.0]);
        let rt = (f1 - f2).abs() / f1.min(f2);
        let dt = d1 * EVE_H38 + (1.0 - EVE_H38) * rt;
        st.eve = Some([p.sheet_rmse, f1, dt]);
    }
    let [b, a] = if sheet == Sheet::Adagrad {
        p.new_last
    } else {
        p.used_last
    };
    st.b = b;
    st.a = a;
    if sheet != Sheet::Basic {
        st.state = p.state_last;
    }
    if sheet == Sheet::Basic && wb == Workbook::Y2018 {
        st.history.push(pass(wb, sheet, st).sheet_rmse);
    }
}

/// One iteration of the Run macro (`somesteps`): onestep plus the annealing rules.
fn run_step(wb: Workbook, sheet: Sheet, st: &mut SheetState) {
    onestep(wb, sheet, st);
    match sheet {
        Sheet::AdamAnn => {
            let avg = st.state[2].sqrt() + st.state[3].sqrt();
            let prev = st.prev_grad2.unwrap_or(avg);
            if avg / prev > 2.0 {
                st.lr /= 4.0;
            }
            if avg < prev {
                st.prev_grad2 = Some(avg);
            }
        }
        Sheet::AdagradAnn => {
            let j1 = st.prev_step.unwrap_or(100.0);
            let expected = |st: &SheetState| {
                let p = pass(wb, sheet, st);
                p.state_last[0] * (st.lr / st.state[0]) + p.state_last[1] * (st.lr / st.state[1])
            };
            let mut h33 = expected(st);
            // Each halving changes the pass, hence F33:G33 too: recompute as Excel does.
            while h33 > 2.0 * j1 && st.lr > 0.0 {
                st.lr /= 2.0;
                h33 = expected(st);
            }
            st.prev_step = Some(h33);
        }
        _ => {}
    }
}

/// The workbook whose formulas the macros ran on: the 2016 adam_ann's saved inputs
/// predate its J5 bug, so they were reached with the correct formulas (those of 2018).
fn macro_workbook(wb: Workbook, sheet: Sheet) -> Workbook {
    if sheet == Sheet::AdamAnn {
        Workbook::Y2018
    } else {
        wb
    }
}

/// Applies one action to the typed cells.
///
/// # Examples
///
/// ```
/// use gradsheet_train::graddesc::{apply, initial, Action, Sheet, Workbook};
/// let mut st = initial(Workbook::Y2018, Sheet::Basic);
/// apply(Workbook::Y2018, Sheet::Basic, &mut st, Action::Reset);
/// apply(Workbook::Y2018, Sheet::Basic, &mut st, Action::Run);
/// assert_eq!(st.history.len(), 5); // one rmse pasted per onestep
/// assert_eq!(st.history[4], 103.99322533093216);
/// ```
pub fn apply(wb: Workbook, sheet: Sheet, st: &mut SheetState, action: Action) {
    let wb = macro_workbook(wb, sheet);
    match action {
        Action::Reset => *st = reset(wb, sheet, st),
        Action::Onestep => onestep(wb, sheet, st),
        Action::Run => {
            for _ in 0..5 {
                run_step(wb, sheet, st);
            }
        }
        Action::RunStep => run_step(wb, sheet, st),
        Action::SlopeUlps(k) => st.a = nudge(st.a, k),
        typed => type_cell(st, typed),
    }
}

/// Types a value into its cell; other actions are left to their macros.
fn type_cell(st: &mut SheetState, action: Action) {
    match action {
        Action::SetLr(v) => st.lr = v,
        Action::SetBeta1(v) => st.betas[0] = v,
        Action::SetBeta2(v) => st.betas[1] = v,
        Action::SetB(v) => st.b = v,
        Action::SetA(v) => st.a = v,
        Action::Reset | Action::Onestep | Action::Run | Action::RunStep | Action::SlopeUlps(_) => {}
    }
}

fn nudge(v: f64, ulps: i64) -> f64 {
    f64::from_bits((v.to_bits() as i64 + if v < 0.0 { -ulps } else { ulps }) as u64)
}

/// Replays `actions` from `start` (for most sheets the start does not matter, since the
/// first action is Reset), recording every displayed epoch.
///
/// # Errors
///
/// [`NoSuchSheet`] if the workbook has no such sheet.
///
/// # Examples
///
/// ```
/// use gradsheet_train::graddesc::{initial, replay_actions, Action, Sheet, Workbook};
/// // Two more Runs after the saved 2018 momentum sheet (which is Reset's state).
/// let r = replay_actions(Workbook::Y2018, Sheet::Momentum, initial(Workbook::Y2018, Sheet::Momentum),
///     &[Action::Reset, Action::Run, Action::Run]).unwrap();
/// assert_eq!(r.epochs.len(), 11);
/// assert!(r.epochs[10].sheet_rmse < r.epochs[0].sheet_rmse);
/// ```
pub fn replay_actions(
    wb: Workbook,
    sheet: Sheet,
    start: SheetState,
    actions: &[Action],
) -> Result<Replay, NoSuchSheet> {
    check_sheet(wb, sheet)?;
    let shown_wb = wb;
    let wb = macro_workbook(wb, sheet);
    let mut st = start;
    let mut epochs = Vec::new();
    let record = |st: &SheetState, after: String, epochs: &mut Vec<Epoch>| {
        let p = pass(wb, sheet, st);
        epochs.push(Epoch {
            epoch: epochs.len() + 1,
            after,
            b: st.b,
            a: st.a,
            lr: st.lr,
            sheet_rmse: p.sheet_rmse,
            state: st.state.clone(),
        });
    };
    if actions.first() != Some(&Action::Reset) {
        // The sheet as it stands is the first displayed pass.
        record(&st, "start".into(), &mut epochs);
    }
    let mut n_one = 0;
    for &act in actions {
        match act {
            Action::Reset => {
                st = reset(wb, sheet, &st);
                epochs.clear();
                n_one = 0;
                record(&st, "Reset".into(), &mut epochs);
            }
            Action::Onestep => {
                onestep(wb, sheet, &mut st);
                n_one += 1;
                record(&st, format!("onestep {n_one}"), &mut epochs);
            }
            Action::Run => {
                for _ in 0..5 {
                    run_step(wb, sheet, &mut st);
                    n_one += 1;
                    record(&st, format!("onestep {n_one} (Run)"), &mut epochs);
                }
            }
            Action::RunStep => {
                run_step(wb, sheet, &mut st);
                n_one += 1;
                record(&st, format!("onestep {n_one} (Run)"), &mut epochs);
            }
            Action::SlopeUlps(k) => {
                st.a = nudge(st.a, k);
                if let Some(e) = epochs.last_mut() {
                    e.a = st.a;
                    e.sheet_rmse = pass(wb, sheet, &st).sheet_rmse;
                    e.after.push_str(&format!(" (Excel's slope {k:+} ulp)"));
                }
            }
            typed @ (Action::SetLr(_)
            | Action::SetBeta1(_)
            | Action::SetBeta2(_)
            | Action::SetB(_)
            | Action::SetA(_)) => {
                type_cell(&mut st, typed);
                if let Some(e) = epochs.last_mut() {
                    // Typing a value recalculates: the displayed epoch now shows it.
                    let p = pass(wb, sheet, &st);
                    (e.lr, e.b, e.a) = (st.lr, st.b, st.a);
                    e.sheet_rmse = p.sheet_rmse;
                    e.after.push_str(&format!(", then {typed}"));
                }
            }
        }
    }
    let view = view_of(shown_wb, sheet, &st, pass(shown_wb, sheet, &st));
    Ok(Replay {
        actions: actions.to_vec(),
        epochs,
        state: st,
        view,
    })
}

/// The saved sheet, reached by its documented replay sequence ([`saved_sequence`]), or
/// for 2016 eve taken as saved ([`eve_saved_state`]).
///
/// # Errors
///
/// [`NoSuchSheet`] if the workbook has no such sheet (the 2018 workbook has no adagrad,
/// adagrad_ann or eve).
///
/// # Examples
///
/// ```
/// use gradsheet_train::graddesc::{replay, Sheet, Workbook};
/// let r = replay(Workbook::Y2018, Sheet::Basic).unwrap();
/// assert_eq!(r.state.b, 1.2754625002528799); // C1 as saved: Reset, then one Run
/// assert_eq!(r.view.cell("F33"), Some(103.99322533093216));
/// assert!(replay(Workbook::Y2018, Sheet::Eve).is_err());
/// ```
pub fn replay(wb: Workbook, sheet: Sheet) -> Result<Replay, NoSuchSheet> {
    check_sheet(wb, sheet)?;
    match saved_sequence(wb, sheet) {
        Some(seq) => replay_actions(wb, sheet, initial(wb, sheet), &seq),
        None => replay_actions(wb, sheet, eve_saved_state(), &[]),
    }
}

/// The cells a learner types into a sheet to replay it with other settings; `None` keeps
/// the sheet's own value. The β's are typed before Reset, which keeps them (its warm-up
/// passes then use them); the learning rate and the initial a and b after it, since Reset
/// writes its own.
///
/// # Examples
///
/// ```
/// use gradsheet_train::graddesc::{replay_with, Settings, Sheet, Workbook};
/// // Momentum with β = 0 is plain SGD: the momentum is this row's gradient.
/// let s = Settings { beta1: Some(0.0), ..Settings::default() };
/// let r = replay_with(Workbook::Y2018, Sheet::Momentum, &s, 0).unwrap();
/// assert_eq!(r.view.cell("J1"), Some(0.0));
/// assert_eq!(r.view.cell("J4"), r.view.cell("F4")); // m_b = de/db
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Settings {
    /// The learning rate (basic's F1, elsewhere D2).
    pub lr: Option<f64>,
    /// β1: momentum's and rmsprop's β (J1), adam's and adam_ann's β1 (J1), eve's (K1).
    pub beta1: Option<f64>,
    /// β2: adam's and adam_ann's (L1), eve's (M1).
    pub beta2: Option<f64>,
    /// The slope a the first row starts from (C2; Reset writes 1).
    pub a: Option<f64>,
    /// The intercept b the first row starts from (C1; Reset writes 1).
    pub b: Option<f64>,
}

/// A setting that does not apply to the sheet or is out of range; `field` names it as
/// [`Settings`] does (`lr`, `beta1`, `beta2`, `a`, `b`), or `sheet`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct SettingError {
    /// The setting at fault.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl From<NoSuchSheet> for SettingError {
    fn from(e: NoSuchSheet) -> Self {
        SettingError {
            field: "sheet",
            message: e.to_string(),
        }
    }
}

impl Settings {
    /// Whether nothing is typed: the sheet replays as saved.
    pub fn is_default(&self) -> bool {
        *self == Settings::default()
    }

    /// Checks every setting against the sheet: the learning rate finite and ≥ 0, a and b
    /// finite, each β a number from 0 to 1 on a sheet that has that β cell.
    ///
    /// # Errors
    ///
    /// The first setting at fault, by name.
    pub fn check(&self, sheet: Sheet) -> Result<(), SettingError> {
        let bad = |field: &'static str, message: String| Err(SettingError { field, message });
        if let Some(v) = self.lr {
            if !(v.is_finite() && v >= 0.0) {
                return bad("lr", format!("lr = {v} must be a finite number >= 0"));
            }
        }
        for (field, v) in [("a", self.a), ("b", self.b)] {
            if let Some(v) = v {
                if !v.is_finite() {
                    return bad(field, format!("{field} = {v} must be a finite number"));
                }
            }
        }
        for (k, field, v) in [(1, "beta1", self.beta1), (2, "beta2", self.beta2)] {
            let Some(v) = v else { continue };
            if sheet.betas() < k {
                let with = if k == 1 {
                    "momentum, rmsprop, adam, adam_ann and eve"
                } else {
                    "adam, adam_ann and eve"
                };
                let has = match sheet.betas() {
                    0 => "has no β".to_string(),
                    _ => "has one β (set it as beta1)".to_string(),
                };
                return bad(
                    field,
                    format!("{field} does not apply to the {sheet} sheet, which {has}: β{k} is a cell of {with}"),
                );
            }
            if !(0.0..=1.0).contains(&v) {
                return bad(field, format!("{field} = {v} must be a number from 0 to 1"));
            }
        }
        Ok(())
    }

    /// Types the β's that are set into `st`: what a learner types before pressing Reset.
    pub fn before_reset(&self, st: &mut SheetState) {
        st.betas = [
            self.beta1.unwrap_or(st.betas[0]),
            self.beta2.unwrap_or(st.betas[1]),
        ];
    }

    /// What a learner presses and types after [`Settings::before_reset`]: Reset, then the
    /// learning rate, b and a that are set.
    pub fn after_reset(&self) -> Vec<Action> {
        let mut v = vec![Action::Reset];
        v.extend(self.lr.map(Action::SetLr));
        v.extend(self.b.map(Action::SetB));
        v.extend(self.a.map(Action::SetA));
        v
    }
}

/// Replays a sheet with settings, then presses Run `runs` times. With no setting typed,
/// the sheet as saved ([`replay`]) is where the Runs start, so the replay is bit for bit
/// the saved one; otherwise the β's are typed, Reset pressed, and the learning rate and
/// the initial a and b typed.
///
/// # Errors
///
/// [`SettingError`] for a setting that does not apply or is out of range, or a sheet the
/// workbook lacks.
///
/// # Examples
///
/// ```
/// use gradsheet_train::graddesc::{replay, replay_with, Settings, Sheet, Workbook};
/// let saved = replay(Workbook::Y2018, Sheet::Adam).unwrap();
/// let same = replay_with(Workbook::Y2018, Sheet::Adam, &Settings::default(), 0).unwrap();
/// assert_eq!(same, saved);
/// let s = Settings { lr: Some(0.05), beta2: Some(0.99), ..Settings::default() };
/// let r = replay_with(Workbook::Y2018, Sheet::Adam, &s, 2).unwrap();
/// assert_eq!(r.epochs.len(), 11); // Reset's pass and 2 Runs of 5
/// assert_eq!((r.state.lr, r.state.betas), (0.05, [0.9, 0.99]));
/// ```
pub fn replay_with(
    wb: Workbook,
    sheet: Sheet,
    settings: &Settings,
    runs: usize,
) -> Result<Replay, SettingError> {
    check_sheet(wb, sheet)?;
    settings.check(sheet)?;
    let (start, mut actions) = if settings.is_default() {
        match saved_sequence(wb, sheet) {
            Some(seq) => (initial(wb, sheet), seq),
            // Taken as saved: the Runs start from the saved cells.
            None => (eve_saved_state(), Vec::new()),
        }
    } else {
        // 2016 eve's Reset reads the cells before it: those saved.
        let mut start = match saved_sequence(wb, sheet) {
            Some(_) => initial(wb, sheet),
            None => eve_saved_state(),
        };
        settings.before_reset(&mut start);
        (start, settings.after_reset())
    };
    actions.resize(actions.len() + runs, Action::Run);
    Ok(replay_actions(wb, sheet, start, &actions)?)
}

/// The typed cells of `sheet` in `wb` before anything was pressed (a = b = 1, state zero,
/// the sheet's own β's): the start of a replay. (Reset overwrites them, except the β's
/// and what eve's Reset reads.)
pub fn initial(wb: Workbook, sheet: Sheet) -> SheetState {
    SheetState {
        b: 1.0,
        a: 1.0,
        lr: match sheet {
            Sheet::Basic | Sheet::Momentum => 1e-4,
            Sheet::Rmsprop => 0.02,
            Sheet::Adagrad => 1e-3,
            _ => 1.0,
        },
        betas: sheet_betas(wb, sheet),
        state: vec![0.0; sheet.state_names().len()],
        prev_grad2: None,
        prev_step: None,
        eve: if sheet == Sheet::Eve {
            Some([1.0, 0.5, 1.0])
        } else {
            None
        },
        history: Vec::new(),
    }
}

/// The clean version of a replay: as many epochs, each with the replay's learning rate,
/// every update applied (an epoch starts from row 32's new b and a) and the optimizer
/// state starting at zero. (Adagrad's state is a divisor, so it starts from Reset's
/// constant instead of zero: lr/0 would be an infinite rate.)
///
/// # Examples
///
/// ```
/// use gradsheet_train::graddesc::{clean, replay, Sheet, Workbook};
/// let r = replay(Workbook::Y2018, Sheet::Momentum).unwrap();
/// let c = clean(&r);
/// assert_eq!(c.epochs.len(), 1);
/// assert_eq!(c.epochs[0].state, [0.0, 0.0]); // momentum from zero
/// ```
pub fn clean(r: &Replay) -> Clean {
    let (wb, sheet) = (r.view.workbook, r.view.sheet);
    // Every update applied and the state from zero, with the replay's own β's.
    let mut st = initial(wb, sheet);
    st.betas = r.state.betas;
    let mut notes = Vec::new();
    match sheet {
        Sheet::Adagrad => st.state = vec![1e4; 2],
        Sheet::AdagradAnn => st.state = vec![1e6; 2],
        Sheet::Eve => st.eve = Some([1.0, 1.0, 1.0]),
        _ => {}
    }
    match sheet {
        Sheet::Rmsprop => notes.push("With the mean squares starting at zero, the first row divides by √0 = 0: its step is infinite and every later value is ±infinity or NaN. The sheet's Reset avoids this by starting from 10000 and two warm-up passes; torch adds ε instead.".into()),
        Sheet::Adam | Sheet::AdamAnn | Sheet::Eve => notes.push("With m and s starting at zero and no bias correction, the first step is (1-β1)/√(1-β2)·lr·sign(g), whatever the gradient's size; no division by zero happens because s already includes the first gradient.".into()),
        Sheet::Momentum => notes.push("With the momentum starting at zero, the first steps are (1-β) = 0.1 times plain SGD's and grow as the EMA fills up.".into()),
        Sheet::Adagrad | Sheet::AdagradAnn => notes.push("Adagrad's state is a divisor: zero would make the first epoch's rate lr/0 infinite, so the clean run starts from Reset's constant divisor (before its extra pass).".into()),
        Sheet::Basic => {}
    }
    if wb == Workbook::Y2016 && sheet == Sheet::AdamAnn {
        notes.push(
            "The clean version uses the intended formula J5 =J4*$J$1+$K$1*F5, not Intro!F5.".into(),
        );
    }
    let clean_wb = if sheet == Sheet::AdamAnn {
        Workbook::Y2018
    } else {
        wb
    };
    let mut epochs = Vec::new();
    let mut last = None;
    for e in &r.epochs {
        st.lr = e.lr;
        let p = pass(clean_wb, sheet, &st);
        epochs.push(Epoch {
            epoch: e.epoch,
            after: format!("epoch {}", e.epoch),
            b: st.b,
            a: st.a,
            lr: st.lr,
            sheet_rmse: p.sheet_rmse,
            state: st.state.clone(),
        });
        let next = st.clone();
        st.b = p.new_last[0];
        st.a = p.new_last[1];
        if sheet == Sheet::Eve {
            let [f1, f2, d1] = st.eve.unwrap_or([1.0; 3]);
            let rt = (f1 - f2).abs() / f1.min(f2);
            st.eve = Some([p.sheet_rmse, f1, d1 * EVE_H38 + (1.0 - EVE_H38) * rt]);
        }
        if sheet != Sheet::Basic {
            st.state = p.state_last.clone();
        }
        last = Some((next, p));
    }
    let (shown, p) = last.unwrap_or_else(|| {
        let p = pass(clean_wb, sheet, &st);
        (st.clone(), p)
    });
    let mut view = view_of(clean_wb, sheet, &shown, p);
    view.workbook = wb;
    view.notes = notes.clone();
    Clean {
        epochs,
        view,
        notes,
    }
}

/// Compares a replay with its clean version, epoch by epoch.
///
/// # Examples
///
/// ```
/// use gradsheet_train::graddesc::{clean, compare, replay, Sheet, Workbook};
/// let r = replay(Workbook::Y2016, Sheet::Momentum).unwrap();
/// let k = compare(&r, &clean(&r));
/// assert_eq!(k.epochs.len(), 6); // Reset's pass and 5 onesteps
/// assert!(k.max_param_gap > 0.0);
/// ```
pub fn compare(r: &Replay, c: &Clean) -> Comparison {
    let epochs: Vec<[f64; 7]> = r
        .epochs
        .iter()
        .zip(&c.epochs)
        .map(|(f, k)| {
            [
                f.epoch as f64,
                f.b,
                f.a,
                k.b,
                k.a,
                f.sheet_rmse,
                k.sheet_rmse,
            ]
        })
        .collect();
    // Every sheet holds b and a in columns C and D (see `columns`).
    let (cb, ca) = (
        r.view.column("C").expect("b is in column C"),
        r.view.column("D").expect("a is in column D"),
    );
    let mut gap: f64 = 0.0;
    for (fr, kr) in r.view.rows.iter().zip(&c.view.rows) {
        for k in [cb, ca] {
            let d = (fr[k] - kr[k]).abs();
            gap = if d.is_nan() { f64::NAN } else { gap.max(d) };
        }
    }
    let g = crate::fmt_num;
    let mut notes = Vec::new();
    if let (Some(f), Some(k)) = (r.epochs.last(), c.epochs.last()) {
        notes.push(format!(
            "After {} displayed epoch(s) the sheet starts from b = {}, a = {} (rmse {}), the clean run from b = {}, a = {} (rmse {}).",
            r.epochs.len(),
            g(f.b),
            g(f.a),
            g(f.sheet_rmse),
            g(k.b),
            g(k.a),
            g(k.sheet_rmse)
        ));
    }
    notes.push(format!(
        "The largest gap in b or a over the shown 29 rows is {}.",
        g(gap)
    ));
    Comparison {
        epochs,
        max_param_gap: gap,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn momentum_reset_carries_the_pass_from_zero() {
        let r = replay(Workbook::Y2018, Sheet::Momentum).unwrap();
        assert_eq!(r.state.state, [-18.33392669020789, 98.24583039212854]);
        assert!(r.view.notes.iter().any(|n| n.contains("-18.33 and 98.25")));
    }

    #[test]
    fn every_sheet_keeps_b_and_a_in_c_and_d_and_addresses_end_in_rows() {
        for wb in [Workbook::Y2018, Workbook::Y2016] {
            for &sheet in wb.sheets() {
                let r = replay(wb, sheet).unwrap();
                assert_eq!(r.view.column("C"), Some(2), "{wb:?} {sheet}");
                assert_eq!(r.view.column("D"), Some(3), "{wb:?} {sheet}");
                for c in &r.view.cells {
                    let digits = c.addr.trim_start_matches(|c: char| c.is_ascii_uppercase());
                    assert!(digits.parse::<u32>().is_ok(), "{wb:?} {sheet}: {}", c.addr);
                }
                let k = compare(&r, &clean(&r));
                assert_eq!(k.epochs.len(), r.epochs.len());
            }
        }
    }

    #[test]
    fn sheet_names_parse() {
        for n in SHEET_NAMES {
            assert_eq!(n.parse::<Sheet>().unwrap().key(), *n);
        }
        assert_eq!("basic SGD".parse::<Sheet>().unwrap(), Sheet::Basic);
        assert!("adamw".parse::<Sheet>().is_err());
        assert!(view(
            Workbook::Y2018,
            Sheet::Eve,
            &initial(Workbook::Y2016, Sheet::Eve)
        )
        .is_err());
    }
}
