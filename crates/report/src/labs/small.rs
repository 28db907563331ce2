//! The small sheets: broadcasting.xlsx, style_loss.xlsx, emb_sizing.xlsx and
//! emb_results.xlsx.

use gradsheet_labs::small;

use super::{a1, abs, column_name, matrix_values, range, row_values, Book, Builder};

/// broadcasting.xlsx: c + m with c broadcast down the rows (`=D$2+D12`), along the
/// columns (`=$B5+D12`), and the outer product.
pub fn broadcasting() -> Book {
    let s = small::broadcasting_sheet();
    let mut b = Builder::new("broadcasting");
    let n = s.c.len() as u16;
    b.text(0, 0, "c");
    row_values(&mut b, 0, 1, &s.c);
    b.text(1, 0, "c as a column");
    for (i, x) in s.c.iter().enumerate() {
        b.num(2 + i as u32, 0, *x);
    }
    b.text(1, 2, "m");
    matrix_values(&mut b, 2, 2, &s.m);
    let blocks: [(&str, u16, &[Vec<f64>]); 3] = [
        ("c + m", 3 + n, &s.c_plus_m),
        ("c[:,None] + m", 4 + 2 * n, &s.ccol_plus_m),
        ("c * c[:,None]", 5 + 3 * n, &s.outer),
    ];
    for (k, (title, c0, vals)) in blocks.iter().enumerate() {
        b.text(1, *c0, title);
        for (i, row) in vals.iter().enumerate() {
            let r = 2 + i as u32;
            for (j, v) in row.iter().enumerate() {
                let cj = j as u16;
                let c_row = format!("{}$1", column_name(1 + j));
                let c_col = format!("$A{}", r + 1);
                let f = match k {
                    0 => format!("={c_row}+{}", a1(r, 2 + cj)),
                    1 => format!("={c_col}+{}", a1(r, 2 + cj)),
                    _ => format!("={c_row}*{c_col}"),
                };
                b.f(r, c0 + cj, f, *v);
            }
        }
    }
    Book::new("broadcasting", vec![b.done()])
}

/// style_loss.xlsx: each 2×2 filter over the 4×4 image as `=SUMPRODUCT(window, filter)`,
/// and the Gram matrix `=SUMPRODUCT(output i, output j)`.
pub fn style_loss() -> Book {
    let s = small::style_loss();
    let mut b = Builder::new("style loss");
    b.text(0, 0, "image");
    for (i, row) in small::STYLE_IMAGE.iter().enumerate() {
        row_values(&mut b, 1 + i as u32, 0, row);
    }
    let mut outs = Vec::new();
    for (k, f) in small::STYLE_FILTERS.iter().enumerate() {
        let fc = 5 + 4 * k as u16;
        b.text(0, fc, &format!("filter {}", k + 1));
        for (i, row) in f.iter().enumerate() {
            row_values(&mut b, 1 + i as u32, fc, row);
        }
        b.text(5, fc, &format!("output {}", k + 1));
        for (i, row) in s.outputs[k].iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                let (r, c) = (6 + i as u32, fc + j as u16);
                let win = range(1 + i as u32, j as u16, 2 + i as u32, j as u16 + 1);
                let filt = format!("{}:{}", abs(1, fc), abs(2, fc + 1));
                b.f(r, c, format!("=SUMPRODUCT({win},{filt})"), *v);
            }
        }
        outs.push(format!("{}:{}", abs(6, fc), abs(8, fc + 2)));
    }
    b.text(10, 0, "gram");
    for i in 0..2 {
        for j in 0..2 {
            b.f(
                11 + i as u32,
                j as u16,
                format!("=SUMPRODUCT({},{})", outs[i], outs[j]),
                s.gram[i][j],
            );
        }
    }
    Book::new("style_loss", vec![b.done()])
}

/// emb_sizing.xlsx: cardinality `=2^A`, the wanted size, and the rule of thumb
/// `=MIN(600,ROUND(1.6*B^0.56,0))`.
pub fn emb_sizing() -> Book {
    let mut b = Builder::new("emb sizing");
    b.headers(0, 0, &["i", "cardinality", "wanted", "rule"]);
    for (i, (n, want, rule)) in small::emb_sizing_sheet().into_iter().enumerate() {
        let r = 1 + i as u32;
        b.num(r, 0, i as f64);
        b.f(r, 1, format!("=2^{}", a1(r, 0)), n);
        b.num(r, 2, want);
        b.f(
            r,
            3,
            format!("=MIN(600,ROUND(1.6*{}^0.56,0))", a1(r, 1)),
            rule,
        );
    }
    Book::new("emb_sizing", vec![b.done()])
}

/// emb_results.xlsx's runs: the four settings, ten scores, `=STDEVP` of the last three
/// and `=MIN` from the second score on.
pub fn emb_results() -> Book {
    let mut b = Builder::new("runs");
    b.headers(0, 0, &small::RUN_HEADERS);
    for (i, run) in small::emb_results().iter().enumerate() {
        let r = 1 + i as u32;
        for (k, flag) in run.flags.iter().enumerate() {
            b.text(r, k as u16, if *flag { "TRUE" } else { "FALSE" });
        }
        row_values(&mut b, r, 4, &run.scores);
        b.f(r, 14, format!("=STDEVP({})", range(r, 11, r, 13)), run.var);
        b.f(r, 15, format!("=MIN({})", range(r, 5, r, 13)), run.min);
    }
    Book::new("emb_results", vec![b.done()])
}
