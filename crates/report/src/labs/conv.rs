//! conv-example.xlsx: the digit through two conv layers, max pool and dense.

use gradsheet_labs::collab::Version;
use gradsheet_labs::conv::{self, ConvNet};

use super::{a1, abs_block, block, matrix_values, Book, Builder};

/// conv-example.xlsx of a version (course-v3 = courses, or course22): the digit, the
/// filters, each conv layer as `=SUMPRODUCT(window, $filter$)` (two channels summed
/// in conv2, `MAX(0,…)` where the version has a ReLU), the 2×2 max pool `=MAX(…)` and
/// the dense unit `=SUMPRODUCT(pool, weights)`.
///
/// The blocks sit 28 columns apart so that the sheet's partial windows (conv2 is 25
/// wide, the pool 13) read blank cells beyond a layer, as the original ranges do.
///
/// # Errors
///
/// A shape error from the lab when its arrays are too small; for course22, the error
/// that its numbers are not here ([`gradsheet_labs::material`]).
pub fn conv(v: Version) -> Result<Book, gradsheet_labs::LabError> {
    let net = match v {
        Version::Course22 => conv::course22()?,
        _ => conv::course_v3(),
    };
    let f = net.forward()?;
    let mut b = Builder::new("conv");
    inputs(&mut b, &net);
    conv_layers(&mut b, &net, &f);
    pool_and_dense(&mut b, &net, &f);
    Ok(Book::new("conv", vec![b.done()]))
}

/// Where the sheet puts things (0-based rows): filters of conv1 and conv2, the two conv
/// layers, the pool, the dense weights and the output. Channels sit 28 columns apart.
const F1_ROW: u32 = 30;
const F2_ROW: u32 = 34;
const C1_ROW: u32 = 40;
const C2_ROW: u32 = 70;
const POOL_ROW: u32 = 98;
const DENSE_ROW: u32 = 114;
const OUT_ROW: u32 = 130;

/// The first column of channel `c`.
fn col0(c: usize) -> u16 {
    28 * c as u16
}

/// The digit at A1 and the filters as values: conv1's two at row 31, conv2's four at
/// row 35.
fn inputs(b: &mut Builder, net: &ConvNet) {
    matrix_values(b, 0, 0, &net.input);
    for (c, g) in net.filters1.iter().enumerate() {
        b.text(F1_ROW - 1, 4 * c as u16, &format!("conv1 filter {}", c + 1));
        matrix_values(b, F1_ROW, 4 * c as u16, g);
    }
    for o in 0..2 {
        for i in 0..2 {
            let c0 = 4 * (2 * o + i) as u16;
            b.text(F2_ROW - 1, c0, &format!("conv2 out {} in {}", o + 1, i + 1));
            matrix_values(b, F2_ROW, c0, &net.filters2[o][i]);
        }
    }
}

/// conv1 (one input channel) and conv2 (two channels summed), `MAX(0,…)` where the
/// version has a ReLU.
fn conv_layers(b: &mut Builder, net: &ConvNet, f: &conv::ConvForward) {
    let relu = |x: String| {
        if net.relu {
            format!("=MAX(0,{x})")
        } else {
            format!("={x}")
        }
    };
    let f1 = |c: usize| abs_block(F1_ROW, 4 * c as u16, 3, 3);
    let f2 = |o: usize, i: usize| abs_block(F2_ROW, 4 * (2 * o + i) as u16, 3, 3);
    for c in 0..2 {
        b.text(C1_ROW - 1, col0(c), &format!("conv1 channel {}", c + 1));
        for (i, row) in f.conv1[c].iter().enumerate() {
            for (j, val) in row.iter().enumerate() {
                let win = block(i as u32, j as u16, 3, 3);
                let formula = relu(format!("SUMPRODUCT({win},{})", f1(c)));
                b.f(C1_ROW + i as u32, col0(c) + j as u16, formula, *val);
            }
        }
    }
    for o in 0..2 {
        b.text(C2_ROW - 1, col0(o), &format!("conv2 channel {}", o + 1));
        for (i, row) in f.conv2[o].iter().enumerate() {
            for (j, val) in row.iter().enumerate() {
                let win = |ch: usize| block(C1_ROW + i as u32, col0(ch) + j as u16, 3, 3);
                let formula = relu(format!(
                    "SUMPRODUCT({},{})+SUMPRODUCT({},{})",
                    win(0),
                    f2(o, 0),
                    win(1),
                    f2(o, 1)
                ));
                b.f(C2_ROW + i as u32, col0(o) + j as u16, formula, *val);
            }
        }
    }
}

/// The 2×2 max pool, the dense weights and the dense unit with its output.
fn pool_and_dense(b: &mut Builder, net: &ConvNet, f: &conv::ConvForward) {
    for c in 0..2 {
        b.text(POOL_ROW - 1, col0(c), &format!("maxpool channel {}", c + 1));
        for (i, row) in f.pool[c].iter().enumerate() {
            for (j, val) in row.iter().enumerate() {
                let win = block(C2_ROW + 2 * i as u32, col0(c) + 2 * j as u16, 2, 2);
                b.f(
                    POOL_ROW + i as u32,
                    col0(c) + j as u16,
                    format!("=MAX({win})"),
                    *val,
                );
            }
        }
        b.text(DENSE_ROW - 1, col0(c), &format!("dense weights {}", c + 1));
        matrix_values(b, DENSE_ROW, col0(c), &net.dense[c]);
    }
    b.text(OUT_ROW, 0, "dense");
    let (ph, pw) = (f.pool[0].len(), f.pool[0].first().map_or(0, Vec::len));
    for c in 0..2 {
        let formula = format!(
            "=SUMPRODUCT({},{})",
            block(POOL_ROW, col0(c), ph, pw),
            block(DENSE_ROW, col0(c), ph, pw)
        );
        b.f(OUT_ROW, 1 + c as u16, formula, f.dense_terms[c]);
    }
    b.text(OUT_ROW, 4, "output");
    let out = format!("={}+{}", a1(OUT_ROW, 1), a1(OUT_ROW, 2));
    b.f(OUT_ROW, 5, out, f.output);
}
