//! layers_example.xlsx: a three-layer net's forward pass, gradient and one step.

use gradsheet_labs::layers;

use super::{a1, abs, abs_block, column_name, matrix_values, range, row_values, Book, Builder};

/// `row · W` into row `r` from column `c0`: `=MMULT(row, W column)` per output, a 1×1
/// product that Excel and LibreOffice both return as a plain value.
fn mmult_row_cells(
    b: &mut Builder,
    r: u32,
    c0: u16,
    x: (u32, u16, usize),
    w: (u32, u16, usize),
    out: &[f64],
) {
    let (xr, xc, n) = x;
    let (wr, wc, _) = w;
    for (j, v) in out.iter().enumerate() {
        let col = wc + j as u16;
        b.f(
            r,
            c0 + j as u16,
            format!(
                "=MMULT({},{})",
                abs_block(xr, xc, 1, n),
                range(wr, col, wr + n as u32 - 1, col)
            ),
            *v,
        );
    }
}

/// A layer of the forward pass: its pre-activation name and values, and the activation
/// after it (none for the output layer).
type Layer<'a> = (&'a str, &'a [f64], Option<(&'a str, &'a [f64])>);

/// Where the forward pass of a layers sheet put things (0-based rows; vectors start in
/// column B).
struct MlpCells {
    /// The row of activations 2.
    a2_row: u32,
    /// The first row of w3.
    w3_row: u32,
    /// The row of the softmax.
    p_row: u32,
    /// The first free row below.
    next: u32,
}

/// The output layer from a2 at row `a2_row` (`n` wide) through the weights at
/// `w3_row`: `=MMULT`, `=EXP`, `=SUM`, the softmax and `-LOG(p)*y` (y in row 2).
/// Returns (softmax row, next free row).
fn head_cells(
    b: &mut Builder,
    mut r: u32,
    (a2_row, n): (u32, usize),
    w3_row: u32,
    (o, sum_exp, p, terms, loss): (&[f64], f64, &[f64], &[f64], f64),
) -> (u32, u32) {
    let m = o.len() as u16;
    b.text(r, 0, "out");
    mmult_row_cells(b, r, 1, (a2_row, 1, n), (w3_row, 1, n), o);
    let o_row = r;
    r += 1;
    b.text(r, 0, "exp");
    for (j, x) in o.iter().enumerate() {
        let c = 1 + j as u16;
        b.f(r, c, format!("=EXP({})", a1(o_row, c)), x.exp());
    }
    let exp_row = r;
    b.text(exp_row, m + 2, "sum");
    b.f(
        exp_row,
        m + 3,
        format!("=SUM({})", range(exp_row, 1, exp_row, m)),
        sum_exp,
    );
    r += 1;
    b.text(r, 0, "softmax");
    for (j, v) in p.iter().enumerate() {
        let c = 1 + j as u16;
        b.f(
            r,
            c,
            format!("={}/{}", a1(exp_row, c), abs(exp_row, m + 3)),
            *v,
        );
    }
    let p_row = r;
    r += 1;
    b.text(r, 0, "loss terms");
    for (j, v) in terms.iter().enumerate() {
        let c = 1 + j as u16;
        b.f(r, c, format!("=-LOG({})*{}", a1(p_row, c), a1(1, c)), *v);
    }
    b.text(r, m + 2, "loss");
    b.f(r, m + 3, format!("=SUM({})", range(r, 1, r, m)), loss);
    (p_row, r + 2)
}

/// The inputs, weights and forward pass of a layers sheet: `MMULT`, `MAX(0,…)` and the
/// softmax head.
fn mlp_cells(b: &mut Builder, mlp: &layers::Mlp, f: &layers::Forward) -> MlpCells {
    b.text(0, 0, "x");
    row_values(b, 0, 1, &mlp.x);
    b.text(1, 0, "y");
    row_values(b, 1, 1, &mlp.y);
    // Weights below, one block under another, each labelled.
    let mut r = 3;
    let mut blocks = Vec::new();
    for (name, w) in [("w1", &mlp.w1), ("w2", &mlp.w2), ("w3", &mlp.w3)] {
        b.text(r, 0, name);
        let end = matrix_values(b, r, 1, w);
        blocks.push((r, w.len()));
        r = end + 1;
    }
    let mut prev = (0u32, 1u16, mlp.x.len());
    let hidden: [Layer<'_>; 2] = [
        ("z1", &f.z1, Some(("a1", &f.a1))),
        ("z2", &f.z2, Some(("a2", &f.a2))),
    ];
    for (k, (zname, z, act)) in hidden.iter().enumerate() {
        let (wr, wn) = blocks[k];
        b.text(r, 0, zname);
        mmult_row_cells(b, r, 1, prev, (wr, 1, wn), z);
        r += 1;
        if let Some((aname, a)) = act {
            b.text(r, 0, aname);
            for (j, v) in a.iter().enumerate() {
                let c = 1 + j as u16;
                b.f(r, c, format!("=MAX(0,{})", a1(r - 1, c)), *v);
            }
            prev = (r, 1, a.len());
            r += 1;
        }
    }
    let a2_row = prev.0;
    let w3_row = blocks[2].0;
    let (p_row, next) = head_cells(
        b,
        r,
        (a2_row, f.a2.len()),
        w3_row,
        (&f.o, f.sum_exp, &f.p, &f.loss_terms, f.loss),
    );
    MlpCells {
        a2_row,
        w3_row,
        p_row,
        next,
    }
}

/// layers_example.xlsx: the fixed sheet (forward pass with `MMULT`, `MAX(0,…)`, `EXP`,
/// softmax and log10 loss; dL/dout `=p-y`, dL/dw3 `=a2·dL/dout`, one step
/// `=w3-dL/dw3*delta` and the forward pass after it) and the random sheet (its forward
/// pass, `=SQRT(SUMXMY2(p,y))` and its dL/dw3 as the sheet computes it, from the weights).
pub fn layers() -> Book {
    let fx = layers::fixed();
    let mut b = Builder::new("fixed");
    let at = mlp_cells(&mut b, &fx.mlp, &fx.forward);
    let m = fx.dl_dout.len();
    let n2 = fx.forward.a2.len();
    let mut r = at.next;
    b.text(r, 0, "dL/dout");
    for (j, v) in fx.dl_dout.iter().enumerate() {
        let c = 1 + j as u16;
        b.f(r, c, format!("={}-{}", a1(at.p_row, c), a1(1, c)), *v);
    }
    let d_row = r;
    b.text(r, m as u16 + 2, "delta");
    b.num(r, m as u16 + 3, fx.delta);
    let delta = abs(r, m as u16 + 3);
    r += 2;
    b.text(r, 0, "dL/dw3");
    let g_row = r;
    for (i, row) in fx.dl_dw3.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            let c = 1 + j as u16;
            b.f(
                g_row + i as u32,
                c,
                format!(
                    "={}*{}",
                    abs(at.a2_row, 1 + i as u16),
                    format_args!("{}${}", column_name(c as usize), d_row + 1)
                ),
                *v,
            );
        }
    }
    r = g_row + n2 as u32 + 1;
    b.text(r, 0, "new w3");
    let w3n_row = r;
    for (i, row) in fx.w3_new.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            let c = 1 + j as u16;
            b.f(
                w3n_row + i as u32,
                c,
                format!(
                    "={}-{}*{delta}",
                    a1(at.w3_row + i as u32, c),
                    a1(g_row + i as u32, c)
                ),
                *v,
            );
        }
    }
    r = w3n_row + n2 as u32 + 1;
    b.text(r, 0, "after the step");
    let a = &fx.after;
    head_cells(
        &mut b,
        r + 1,
        (at.a2_row, n2),
        w3n_row,
        (&a.0, a.1, &a.2, &a.3, a.4),
    );

    let rnd = layers::random();
    let mut rb = Builder::new("random");
    let at = mlp_cells(&mut rb, &rnd.mlp, &rnd.forward);
    let m = rnd.dl_dout.len() as u16;
    let r = at.next;
    rb.text(r, 0, "rmse");
    rb.f(
        r,
        1,
        format!(
            "=SQRT(SUMXMY2({},{}))",
            range(at.p_row, 1, at.p_row, m),
            range(1, 1, 1, m)
        ),
        rnd.rmse,
    );
    rb.text(r + 1, 0, "dL/dout");
    for (j, v) in rnd.dl_dout.iter().enumerate() {
        let c = 1 + j as u16;
        rb.f(r + 1, c, format!("={}-{}", a1(at.p_row, c), a1(1, c)), *v);
    }
    rb.text(r + 3, 0, "dL/dw3 (the sheet's: w3·dL/dout)");
    for (i, row) in rnd.dl_dw3_buggy.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            let c = 1 + j as u16;
            rb.f(
                r + 4 + i as u32,
                c,
                format!(
                    "={}*{}${}",
                    a1(at.w3_row + i as u32, c),
                    column_name(c as usize),
                    r + 2
                ),
                *v,
            );
        }
    }
    Book::new("layers", vec![b.done(), rb.done()])
}
