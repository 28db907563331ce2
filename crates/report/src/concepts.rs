//! The concept labs (`gradsheet-concepts`) as xlsx workbooks whose cells are
//! live formulas, with the labs' values as cached results.
//!
//! Each lab becomes a [`Book`] of plain cells (inputs as values, outputs as formula text
//! with the lab's value, as in [`crate::labs`]) and the defined names its formulas use
//! (`alpha`, `p_drop`); [`crate::labs::workbook`] reaches them through the registry.
//! Where a lab's formula is an engine expression (focal loss, L1 and L2 and their
//! derivatives) the workbook's formula is that expression printed with [`Expr::render`] in [`Notation::Excel`], names replaced by
//! cells: the engine's symbolic derivatives become the sheet's formulas.
//!
//! The networks and images are kept small (a crop of the picture, a narrow and short
//! stack, the first units and rows of the dropout layer) so that a workbook holds at most
//! a few thousand formulas. Formulas use only functions Excel and LibreOffice evaluate
//! alike (`LN`, `ABS`, `SIGN`, `SUM`, `SUMPRODUCT`, `SUMSQ`, `COUNT`, `AVERAGE`, `MAX`,
//! `TANH`, `EXP`, `SQRT`, `IF`) and nothing volatile or array-entered.
//!
//! ```
//! use gradsheet_report::concepts::{self, gradsheet_concepts::{find, Params}};
//! let lab = find("focal").unwrap();
//! let params = Params::defaults(lab.params);
//! let book = concepts::workbook("focal", &params, None).unwrap();
//! assert!(book.formulas().any(|(_, _, _, f, _)| f.contains("alpha")));
//! let bytes = book.to_xlsx(false).unwrap();
//! assert_eq!(&bytes[..2], b"PK");
//! ```

use gradsheet_concepts::dropout::{Masks, Net};
use gradsheet_concepts::gradients::{self, Activation, Init};
use gradsheet_concepts::l1_l2::{self, PairLoss};
use gradsheet_concepts::upsampling::{self, Image};
use gradsheet_concepts::{focal, LabError, Params};
use gradsheet_engine::{format_number, Expr, Notation};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The concepts crate, re-exported so that the app and tests reach the labs' parameters
/// through the report crate.
pub use gradsheet_concepts;

use crate::labs::{a1, abs, range, Book, Builder, Sheet};

/// The concept labs that export a workbook (every one), in the order they are listed.
pub const NAMES: &[&str] = &["dropout", "focal", "l1-l2", "upsampling", "gradients"];

/// The workbook of the concept lab `lab` with these (checked) parameters; `image` is the
/// user's picture for the upsampling lab.
///
/// # Errors
///
/// [`LabError::UnknownLab`] for a name not in [`NAMES`]; otherwise the lab's own errors.
pub fn workbook(lab: &str, p: &Params, image: Option<&Image>) -> Result<Book, LabError> {
    match lab {
        "focal" => Ok(focal_book(p)),
        "l1-l2" => l1_l2_book(p),
        "upsampling" => upsampling_book(p, image),
        "gradients" => gradients_book(p),
        "dropout" => Ok(dropout_book(p)),
        _ => Err(LabError::UnknownLab(lab.to_string(), NAMES.join(", "))),
    }
}

/// `=` and the expression in Excel notation, each name replaced by `cell(name)`.
fn excel(e: &Expr, cell: &dyn Fn(&str) -> String) -> String {
    format!("={}", e.render(Notation::Excel, cell))
}

/// The mean, summed left to right.
fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// focal: p, cross-entropy `=-LN(p)`, and per γ the focal loss and the engine's
/// derivative of it, with α and each γ in named cells (`alpha`, `gamma_1`, …).
fn focal_book(p: &Params) -> Book {
    let c = focal::curves(&p.list("gammas"), p.num("alpha"));
    let f = focal::FocalFormula::new();
    let mut b = Builder::new("focal");
    b.text(0, 0, "alpha");
    b.num(0, 1, c.alpha);
    let mut names = vec![("alpha".to_string(), format!("=focal!{}", abs(0, 1)))];
    b.text(1, 0, "gamma");
    b.headers(2, 0, &["p", "cross-entropy"]);
    let mut gamma_names = Vec::new();
    for (j, &g) in c.gammas.iter().enumerate() {
        let col = 2 + 2 * j as u16;
        b.num(1, col, g);
        // gamma_1 rather than gamma: GAMMA is a worksheet function, and a name that is
        // also a function reads ambiguously in some spreadsheets.
        let name = format!("gamma_{}", j + 1);
        names.push((name.clone(), format!("=focal!{}", abs(1, col))));
        gamma_names.push(name);
        b.text(2, col, &format!("FL γ={g}"));
        b.text(2, col + 1, &format!("dFL/dp γ={g}"));
    }
    for (i, &pv) in c.p.iter().enumerate() {
        let r = 3 + i as u32;
        b.num(r, 0, pv);
        b.f(r, 1, format!("=-LN({})", a1(r, 0)), -pv.ln());
        for (j, gname) in gamma_names.iter().enumerate() {
            let col = 2 + 2 * j as u16;
            let cell = |n: &str| match n {
                "p" => a1(r, 0),
                "gamma" => gname.clone(),
                other => other.to_string(),
            };
            b.f(r, col, excel(&f.loss, &cell), c.loss[j][i]);
            b.f(r, col + 1, excel(&f.derivative, &cell), c.slope[j][i]);
        }
    }
    Book {
        lab: "focal".into(),
        sheets: vec![b.done()],
        names,
    }
}

/// l1-l2: the losses of an error and their engine derivatives; the data with outliers,
/// both fitted lines' predictions and both losses of each as formulas of the fitted
/// parameters, and their means.
fn l1_l2_book(p: &Params) -> Result<Book, LabError> {
    let lab = l1_l2::run(p)?;
    let losses = [
        PairLoss::new(l1_l2::LOSSES[0].1)?,
        PairLoss::new(l1_l2::LOSSES[1].1)?,
    ];
    let mut b = Builder::new("losses");
    b.headers(0, 0, &["e", "L1", "L2", "L1 slope", "L2 slope"]);
    for (i, &e) in lab.errors.iter().enumerate() {
        let r = 1 + i as u32;
        b.num(r, 0, e);
        // The error is pred - y with y = 0.
        let cell = |n: &str| match n {
            "pred" => a1(r, 0),
            "y" => "0".to_string(),
            other => other.to_string(),
        };
        for (k, l) in losses.iter().enumerate() {
            let (v, s) = lab.curves[i][k];
            b.f(r, 1 + k as u16, excel(&l.loss, &cell), v);
            b.f(r, 3 + k as u16, excel(&l.slope, &cell), s);
        }
    }

    let mut d = Builder::new("fit");
    d.headers(0, 0, &["fit", "a", "b", "mean loss (training)"]);
    for (k, line) in lab.lines.iter().enumerate() {
        let r = 1 + k as u32;
        d.text(r, 0, &format!("{} line", line.loss));
        d.num(r, 1, line.a);
        d.num(r, 2, line.b);
        d.num(r, 3, line.mean_loss);
    }
    let h = 1 + lab.lines.len() as u32 + 1;
    d.headers(h, 0, &["x", "y", "outlier"]);
    for (k, line) in lab.lines.iter().enumerate() {
        let c0 = 3 + 3 * k as u16;
        d.headers(
            h,
            c0,
            &[
                &format!("{} pred", line.loss),
                &format!("{} line: L1", line.loss),
                &format!("{} line: L2", line.loss),
            ],
        );
    }
    let first = h + 1;
    let mut cols: Vec<Vec<f64>> = vec![Vec::new(); 3 * lab.lines.len()];
    for (i, &(x, y, out)) in lab.data.iter().enumerate() {
        let r = first + i as u32;
        d.num(r, 0, x);
        d.num(r, 1, y);
        d.text(r, 2, if out { "yes" } else { "" });
        for (k, line) in lab.lines.iter().enumerate() {
            let c0 = 3 + 3 * k as u16;
            let pr = 1 + k as u32;
            let pred = line.a * x + line.b;
            d.f(
                r,
                c0,
                format!("={}*{}+{}", abs(pr, 1), a1(r, 0), abs(pr, 2)),
                pred,
            );
            cols[3 * k].push(pred);
            let cell = |n: &str| match n {
                "pred" => a1(r, c0),
                "y" => a1(r, 1),
                other => other.to_string(),
            };
            for (m, l) in losses.iter().enumerate() {
                let v = l.eval(pred, y).0;
                d.f(r, c0 + 1 + m as u16, excel(&l.loss, &cell), v);
                cols[3 * k + 1 + m].push(v);
            }
        }
    }
    let last = first + lab.data.len() as u32 - 1;
    d.text(last + 1, 2, "mean");
    for (j, col) in cols.iter().enumerate() {
        let c = 3 + j as u16;
        if j % 3 != 0 {
            d.f(
                last + 1,
                c,
                format!("=AVERAGE({})", range(first, c, last, c)),
                mean(col),
            );
        }
    }
    Ok(Book {
        lab: "l1-l2".into(),
        sheets: vec![b.done(), d.done()],
        names: Vec::new(),
    })
}

/// The centre `side × side` (at most) of an image, and its corner.
fn centre_crop(img: &Image, side: usize) -> Result<(Image, usize, usize), LabError> {
    let (w, h) = (img.width.min(side), img.height.min(side));
    let (x0, y0) = ((img.width - w) / 2, (img.height - h) / 2);
    let px = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .map(|(x, y)| img.at(x0 + x, y0 + y))
        .collect();
    Ok((Image::new(w, h, px)?, x0, y0))
}

/// Where bilinear upsampling by `f` samples output index `o` of a side of `n` pixels:
/// the two input indices and the weight of the second (half-pixel centres, clamped to
/// the edge), as `upsampling::bilinear` does.
fn bilinear_source(o: usize, n: usize, f: usize) -> (usize, usize, f64) {
    let s = ((o as f64 + 0.5) / f as f64 - 0.5).max(0.0);
    let i0 = (s.floor() as usize).min(n - 1);
    let i1 = (i0 + 1).min(n - 1);
    (i0, i1, s - i0 as f64)
}

/// upsampling: a crop of the input as values (with the transposed convolution's kernel),
/// nearest (references), bilinear (weighted sums), transposed convolution (sums of
/// kernel × input) and the overlap counts (`COUNT` of the inputs that reach a pixel).
fn upsampling_book(p: &Params, image: Option<&Image>) -> Result<Book, LabError> {
    let lab = upsampling::run(p, image)?;
    let (k, s) = (lab.k, lab.s);
    // A small crop keeps the workbook at a few thousand formulas at the largest stride.
    let side = if s <= 2 { 8 } else { 6 };
    let (img, x0, y0) = centre_crop(&lab.input, side)?;
    let cells = UpCells {
        w: img.width,
        h: img.height,
        k,
        s,
        kr: img.height as u32 + 2,
    };
    let tk = upsampling::box_kernel(k, (s * s) as f64);
    let title = format!(
        "input: the {}×{} crop at ({x0}, {y0}) of the {}×{} image",
        cells.w, cells.h, lab.input.width, lab.input.height
    );
    Ok(Book {
        lab: "upsampling".into(),
        sheets: vec![
            cells.input_sheet(&title, &img, &tk),
            cells.nearest_sheet(&img),
            cells.bilinear_sheet(&img),
            cells.transposed_sheet(&img, &tk),
            cells.overlap_sheet(),
        ],
        names: Vec::new(),
    })
}

/// Where the upsampling workbook's input lives: the `w`×`h` crop from B2 of the input
/// sheet, the `k`×`k` kernel from row `kr + 1`; `s` is the stride.
struct UpCells {
    w: usize,
    h: usize,
    k: usize,
    s: usize,
    kr: u32,
}

impl UpCells {
    /// The input pixel (x, y), from another sheet.
    fn pix(&self, x: usize, y: usize) -> String {
        format!("input!{}", a1(1 + y as u32, x as u16))
    }

    /// The kernel tap (t, u), absolute.
    fn tap(&self, t: usize, u: usize) -> String {
        format!("input!{}", abs(self.kr + 1 + u as u32, t as u16))
    }

    /// The input pixels whose kernel block covers output (ox, oy), with the kernel tap.
    fn sources(&self, ox: usize, oy: usize) -> Vec<(usize, usize, usize, usize)> {
        let mut v = Vec::new();
        for iy in 0..self.h {
            for ix in 0..self.w {
                let (bx, by) = (ix * self.s, iy * self.s);
                if ox >= bx && ox - bx < self.k && oy >= by && oy - by < self.k {
                    v.push((ix, iy, ox - bx, oy - by));
                }
            }
        }
        v
    }

    fn input_sheet(&self, title: &str, img: &Image, tk: &Image) -> Sheet {
        let mut inp = Builder::new("input");
        inp.text(0, 0, title);
        for y in 0..self.h {
            for x in 0..self.w {
                inp.num(1 + y as u32, x as u16, img.at(x, y));
            }
        }
        let (k, kr) = (self.k, self.kr);
        inp.text(kr, 0, &format!("kernel {k}×{k}, gain {}", self.s * self.s));
        for u in 0..k {
            for t in 0..k {
                inp.num(kr + 1 + u as u32, t as u16, tk.at(t, u));
            }
        }
        inp.done()
    }

    fn nearest_sheet(&self, img: &Image) -> Sheet {
        let s = self.s;
        let out = upsampling::nearest(img, s);
        grid_sheet("nearest", &format!("nearest ×{s}"), &out, &|x, y| {
            format!("={}", self.pix(x / s, y / s))
        })
    }

    fn bilinear_sheet(&self, img: &Image) -> Sheet {
        let s = self.s;
        let out = upsampling::bilinear(img, s);
        grid_sheet("bilinear", &format!("bilinear ×{s}"), &out, &|x, y| {
            let (xa, xb, tx) = bilinear_source(x, self.w, s);
            let (ya, yb, ty) = bilinear_source(y, self.h, s);
            let (tx, ty) = (format_number(tx), format_number(ty));
            format!(
                "=({}*(1-{tx})+{}*{tx})*(1-{ty})+({}*(1-{tx})+{}*{tx})*{ty}",
                self.pix(xa, ya),
                self.pix(xb, ya),
                self.pix(xa, yb),
                self.pix(xb, yb)
            )
        })
    }

    fn transposed_sheet(&self, img: &Image, tk: &Image) -> Sheet {
        let (k, s) = (self.k, self.s);
        let out = upsampling::transposed_conv(img, tk, s);
        let title = format!("transposed convolution k={k} s={s}");
        grid_sheet("transposed", &title, &out, &|x, y| {
            let terms: Vec<String> = self
                .sources(x, y)
                .iter()
                .map(|&(ix, iy, t, u)| format!("{}*{}", self.pix(ix, iy), self.tap(t, u)))
                .collect();
            // With a kernel smaller than the stride no input reaches some pixels.
            if terms.is_empty() {
                "=0".into()
            } else {
                format!("=SUM({})", terms.join(","))
            }
        })
    }

    fn overlap_sheet(&self) -> Sheet {
        let (k, s) = (self.k, self.s);
        let out = upsampling::overlap_counts(self.w, self.h, k, s);
        let title = format!("kernel taps per output pixel, k={k} s={s}");
        grid_sheet("overlap", &title, &out, &|x, y| {
            let refs: Vec<String> = self
                .sources(x, y)
                .iter()
                .map(|&(ix, iy, _, _)| self.pix(ix, iy))
                .collect();
            if refs.is_empty() {
                "=0".into()
            } else {
                format!("=COUNT({})", refs.join(","))
            }
        })
    }
}

/// A sheet of one formula per pixel of `out`, under a title.
fn grid_sheet(
    name: &str,
    title: &str,
    out: &Image,
    formula: &dyn Fn(usize, usize) -> String,
) -> Sheet {
    let mut b = Builder::new(name);
    b.text(0, 0, title);
    for y in 0..out.height {
        for x in 0..out.width {
            b.f(1 + y as u32, x as u16, formula(x, y), out.at(x, y));
        }
    }
    b.done()
}

/// The activation applied to the formula text `z`.
fn act_formula(act: Activation, z: &str) -> String {
    match act {
        Activation::Relu => format!("MAX({z},0)"),
        Activation::Tanh => format!("TANH({z})"),
        Activation::Sigmoid => format!("1/(1+EXP(-{z}))"),
        Activation::Linear => z.to_string(),
    }
}

/// The stack the gradients workbook shows: the lab's settings, at most 6 wide, 8 deep
/// and 4 inputs, so that every activation fits on one screen.
pub fn gradients_stack(p: &Params) -> Result<gradients::Stack, LabError> {
    let act = Activation::from_name(&p.text("activation"))
        .ok_or_else(|| LabError::Invalid("unknown activation".into()))?;
    Ok(gradients::Stack {
        depth: p.int("depth").min(8),
        width: p.int("width").min(6),
        batch: p.int("batch").min(4),
        act,
        seed: p.u64("seed"),
    })
}

/// gradients: the weights (each layer's transposed, so that a unit's weights are a row),
/// every layer's activations as `act(SUMPRODUCT(previous row, weights row))`, and the RMS
/// of each layer `=SQRT(SUMSQ(h)/COUNT(h))`.
fn gradients_book(p: &Params) -> Result<Book, LabError> {
    let st = gradients_stack(p)?;
    let init = Init::from_name(&p.text("init"), p.num("gain"))
        .ok_or_else(|| LabError::Invalid("unknown init".into()))?;
    let (n, batch, depth) = (st.width, st.batch, st.depth);
    // The same draws, in the same order, as gradients::run_stack (the tests check that
    // the RMS values agree with it).
    let mut rng = ChaCha8Rng::seed_from_u64(st.seed);
    let x = gradients::normal_mat(batch, n, 1.0, &mut rng);
    let top = gradients::normal_mat(batch, n, 1.0, &mut rng);
    let mut wrng = ChaCha8Rng::seed_from_u64(st.seed.wrapping_add(1));
    let weights: Vec<_> = (0..depth).map(|_| init.weights(n, &mut wrng)).collect();
    let pass = gradients::forward_backward(&x, &weights, st.act, &top);

    let mut wsh = Builder::new("weights");
    let w_row = |l: usize, j: usize| (l * (n + 2) + 1 + j) as u32;
    for (l, wm) in weights.iter().enumerate() {
        wsh.text(
            (l * (n + 2)) as u32,
            0,
            &format!("W{} transposed: row j = weights into unit j", l + 1),
        );
        for j in 0..n {
            wsh.text(w_row(l, j), 0, &format!("unit {}", j + 1));
            for i in 0..n {
                wsh.num(w_row(l, j), 1 + i as u16, wm.at(i, j));
            }
        }
    }
    let mut sh = Builder::new("stack");
    let mut rms = Builder::new("rms");
    rms.headers(0, 0, &["layer", "RMS of activations"]);
    let h_row = |l: usize, b: usize| (l * (batch + 2) + 1 + b) as u32;
    for l in 0..=depth {
        let title = if l == 0 {
            "h0: the inputs".to_string()
        } else {
            format!("h{l} = {}(h{} · W{l})", st.act.name(), l - 1)
        };
        sh.text((l * (batch + 2)) as u32, 0, &title);
        for b in 0..batch {
            let r = h_row(l, b);
            sh.text(r, 0, &format!("input {}", b + 1));
            for j in 0..n {
                let c = 1 + j as u16;
                let v = pass.acts[l].at(b, j);
                if l == 0 {
                    sh.num(r, c, v);
                } else {
                    let pr = h_row(l - 1, b);
                    let wr = w_row(l - 1, j);
                    let z = format!(
                        "SUMPRODUCT({},weights!{}:{})",
                        range(pr, 1, pr, n as u16),
                        abs(wr, 1),
                        abs(wr, n as u16)
                    );
                    sh.f(r, c, format!("={}", act_formula(st.act, &z)), v);
                }
            }
        }
        let blk = format!(
            "stack!{}",
            range(h_row(l, 0), 1, h_row(l, batch - 1), n as u16)
        );
        let r = 1 + l as u32;
        rms.num(r, 0, l as f64);
        rms.f(
            r,
            1,
            format!("=SQRT(SUMSQ({blk})/COUNT({blk}))"),
            pass.acts[l].rms(),
        );
    }
    Ok(Book {
        lab: "gradients".into(),
        sheets: vec![sh.done(), wsh.done(), rms.done()],
        names: Vec::new(),
    })
}

/// The training inputs of the dropout lab: `n` points evenly spaced on [-3, 3] at the
/// centres of equal cells, as `dropout::run` places them.
fn dropout_inputs(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| -3.0 + 6.0 * (i as f64 + 0.5) / n as f64)
        .collect()
}

/// The dropout workbook's first rows and units (a window on the lab's first layer).
const DROPOUT_ROWS: usize = 12;
/// See [`DROPOUT_ROWS`].
const DROPOUT_UNITS: usize = 8;

/// dropout: the lab's first training step, the network as initialised and the first
/// mask drawn; the mask as values, the first hidden layer before dropout
/// (`=MAX(x*w+b,0)`), after it with scaling (`=IF(mask=0,0,h/(1-p_drop))`) and without,
/// and the means of each unit and of each block.
fn dropout_book(p: &Params) -> Book {
    let h = p.int("hidden");
    let sizes = if p.int("layers") == 1 {
        vec![1, h, 1]
    } else {
        vec![1, h, h, 1]
    };
    let (seed, q) = (p.u64("seed"), p.num("p"));
    let tx = dropout_inputs(p.int("train"));
    // As dropout::run's first step: the network from the seed, the mask from the mask
    // stream ("mask" XORed in), drawn with scaling.
    let net = Net::new(&sizes, &mut ChaCha8Rng::seed_from_u64(seed));
    let masks = Masks::draw(
        &sizes,
        tx.len(),
        q,
        true,
        &mut ChaCha8Rng::seed_from_u64(seed ^ 0x6d61_736b),
    );
    let window = (tx.len().min(DROPOUT_ROWS), h.min(DROPOUT_UNITS));
    Book {
        lab: "dropout".into(),
        sheets: vec![
            mask_sheet(&tx, &masks, window),
            activations_sheet(&net, &masks, &tx, q, window),
        ],
        names: vec![("p_drop".to_string(), format!("=activations!{}", abs(0, 1)))],
    }
}

/// The first layer's mask as values, one row per training input.
fn mask_sheet(tx: &[f64], masks: &Masks, (rows, units): (usize, usize)) -> Sheet {
    let mut m = Builder::new("mask");
    m.text(0, 0, "x");
    for j in 0..units {
        m.text(0, 1 + j as u16, &format!("unit {}", j + 1));
    }
    for (i, &x) in tx.iter().take(rows).enumerate() {
        m.num(1 + i as u32, 0, x);
        for j in 0..units {
            m.num(1 + i as u32, 1 + j as u16, masks.masks[0].at(i, j));
        }
    }
    m.done()
}

/// A block of the activations sheet: a title, one formula per (row, unit), and the means.
type Block<'a> = (&'a str, &'a dyn Fn(u32, u16, u32) -> String, Vec<Vec<f64>>);

/// p, the first layer's weights and biases, then the layer before dropout, after it
/// scaled and unscaled, each with its means.
fn activations_sheet(
    net: &Net,
    masks: &Masks,
    tx: &[f64],
    q: f64,
    (rows, units): (usize, usize),
) -> Sheet {
    let unscaled = Masks {
        masks: masks.masks.clone(),
        scale: 1.0,
    };
    let plain = net.forward(tx, None);
    let with = net.forward(tx, Some(masks));
    let without = net.forward(tx, Some(&unscaled));
    let (w, bias) = net.layer(0);
    let mut a = Builder::new("activations");
    a.text(0, 0, "p (the name p_drop)");
    a.num(0, 1, q);
    a.text(1, 0, "w");
    a.text(2, 0, "b");
    for (j, &bj) in bias.iter().take(units).enumerate() {
        a.num(1, 1 + j as u16, w.at(0, j));
        a.num(2, 1 + j as u16, bj);
    }
    let before_top = 5;
    // Columns of w and b are fixed by row ($2, $3); x by column ($A).
    let before = |r: u32, c: u16, _: u32| {
        let col = crate::labs::column_name(c as usize);
        format!("=MAX($A{}*{col}$2+{col}$3,0)", r + 1)
    };
    let scaled = |_: u32, c: u16, i: u32| {
        format!(
            "=IF(mask!{}=0,0,{}/(1-p_drop))",
            a1(1 + i, c),
            a1(before_top + i, c)
        )
    };
    let kept = |_: u32, c: u16, i: u32| {
        format!("=IF(mask!{}=0,0,{})", a1(1 + i, c), a1(before_top + i, c))
    };
    let vals = |mat: &gradsheet_concepts::la::Mat| -> Vec<Vec<f64>> {
        (0..rows)
            .map(|i| (0..units).map(|j| mat.at(i, j)).collect())
            .collect()
    };
    let blocks: [Block; 3] = [
        (
            "before dropout: MAX(x*w+b,0)",
            &before,
            vals(&plain.acts[0]),
        ),
        (
            "after dropout, scaled by 1/(1-p)",
            &scaled,
            vals(&with.inputs[1]),
        ),
        ("after dropout, unscaled", &kept, vals(&without.inputs[1])),
    ];
    let mut top = before_top;
    for block in &blocks {
        top = activation_block(&mut a, top, block, tx, (rows, units));
    }
    a.done()
}

/// Writes one block from row `top`: its title above, the formulas, the mean of each unit
/// and of the whole block. Returns the next block's top row.
fn activation_block(
    a: &mut Builder,
    top: u32,
    (title, formula, v): &Block,
    tx: &[f64],
    (rows, units): (usize, usize),
) -> u32 {
    a.text(top - 1, 0, title);
    for (i, (&x, row)) in tx.iter().zip(v).enumerate() {
        let r = top + i as u32;
        a.num(r, 0, x);
        for (j, &vj) in row.iter().enumerate() {
            let c = 1 + j as u16;
            a.f(r, c, formula(r, c, i as u32), vj);
        }
    }
    let (last, mr) = (top + rows as u32 - 1, top + rows as u32);
    a.text(mr, 0, "mean");
    for j in 0..units {
        let c = 1 + j as u16;
        let col: Vec<f64> = v.iter().map(|row| row[j]).collect();
        a.f(
            mr,
            c,
            format!("=AVERAGE({})", range(top, c, last, c)),
            mean(&col),
        );
    }
    let all: Vec<f64> = v.iter().flatten().copied().collect();
    a.text(mr, units as u16 + 1, "all");
    a.f(
        mr,
        units as u16 + 2,
        format!("=AVERAGE({})", range(top, 1, last, units as u16)),
        mean(&all),
    );
    mr + 3
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradsheet_concepts::{dropout, find};

    fn book(name: &str) -> Book {
        let lab = find(name).unwrap();
        workbook(name, &Params::defaults(lab.params), None).unwrap()
    }

    #[test]
    fn every_concept_workbook_writes_and_has_formulas() {
        for name in NAMES {
            let cb = book(name);
            let n = cb.formulas().count();
            assert!(n > 50, "{name}: only {n} formulas");
            assert!(n < 5000, "{name}: {n} formulas");
            assert!(cb
                .formulas()
                .all(|(_, _, _, f, v)| f.starts_with('=') && v.is_finite()));
            for zero in [false, true] {
                let bytes = cb.to_xlsx(zero).unwrap();
                assert_eq!(&bytes[..2], b"PK", "{name}");
            }
        }
    }

    #[test]
    fn focal_prints_the_engine_derivative_with_named_inputs() {
        let cb = book("focal");
        let fs: Vec<&str> = cb.formulas().map(|x| x.3).collect();
        assert!(
            fs.contains(&"=-alpha*(1-A4)^gamma_1*LN(A4)"),
            "{:?}",
            &fs[..4]
        );
        assert!(fs.contains(&"=alpha*gamma_1*(1-A4)^(gamma_1-1)*LN(A4)-alpha*(1-A4)^gamma_1/A4"));
        assert!(cb
            .names
            .iter()
            .any(|(n, t)| n == "alpha" && t == "=focal!$B$1"));
    }

    #[test]
    fn gradients_rms_is_the_labs() {
        let lab = find("gradients").unwrap();
        let p = Params::defaults(lab.params);
        let st = gradients_stack(&p).unwrap();
        let init = Init::from_name(&p.text("init"), p.num("gain")).unwrap();
        let run = gradients::run_stack(&st, init);
        let cb = workbook("gradients", &p, None).unwrap();
        let rms: Vec<f64> = cb
            .formulas()
            .filter(|x| x.0 == "rms")
            .map(|x| x.4)
            .collect();
        let want: Vec<f64> = run.layers.iter().map(|l| l.act_rms).collect();
        assert_eq!(rms, want);
    }

    #[test]
    fn dropout_first_row_is_the_labs_first_step() {
        let lab = find("dropout").unwrap();
        let p = Params::parse(lab.params, &["steps=1", "ps=0", "ensemble=1"]).unwrap();
        let d = dropout::run(&p).unwrap();
        let xs: Vec<f64> = d.train.iter().map(|t| t.0).collect();
        assert_eq!(xs, dropout_inputs(xs.len()));
        let cb = workbook("dropout", &p, None).unwrap();
        let mask = &cb.sheets[0];
        let row0: Vec<f64> = mask
            .cells
            .iter()
            .filter_map(|(r, c, cell)| match cell {
                crate::labs::Cell::Num(v) if *r == 1 && *c > 0 => Some(*v),
                _ => None,
            })
            .collect();
        assert_eq!(row0, d.steps[0].mask[..row0.len()]);
        let before: Vec<f64> = cb
            .formulas()
            .filter(|x| x.0 == "activations" && x.1 == 5)
            .map(|x| x.4)
            .collect();
        assert_eq!(before, d.steps[0].before[..before.len()]);
    }

    #[test]
    fn l1_l2_means_match_the_training() {
        let cb = book("l1-l2");
        let fit = &cb.sheets[1];
        let trained: Vec<f64> = fit
            .cells
            .iter()
            .filter_map(|(r, c, cell)| match cell {
                crate::labs::Cell::Num(v) if (1..=2).contains(r) && *c == 3 => Some(*v),
                _ => None,
            })
            .collect();
        // The L1 line's mean L1 loss and the L2 line's mean L2 loss, as the sheet
        // recomputes them from the fitted parameters.
        let means: Vec<f64> = cb
            .formulas()
            .filter(|x| x.0 == "fit" && x.3.starts_with("=AVERAGE"))
            .map(|x| x.4)
            .collect();
        let (l1, l2) = (means[0], means[3]);
        assert!(
            (l1 - trained[0]).abs() <= 1e-9 * trained[0].max(1.0),
            "{l1} {}",
            trained[0]
        );
        assert!(
            (l2 - trained[1]).abs() <= 1e-9 * trained[1].max(1.0),
            "{l2} {}",
            trained[1]
        );
    }
}
