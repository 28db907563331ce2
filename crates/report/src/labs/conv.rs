//! conv-example.xlsx: the digit through two conv layers, max pool and dense.

use gradsheet_labs::collab::Version;
use gradsheet_labs::conv;

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
/// A shape error from the lab when its arrays are too small.
pub fn conv(v: Version) -> Result<Book, gradsheet_labs::LabError> {
    let net = match v {
        Version::Course22 => conv::course22(),
        _ => conv::course_v3(),
    };
    let f = net.forward()?;
    let mut b = Builder::new("conv");
    let relu = |x: String| {
        if net.relu {
            format!("=MAX(0,{x})")
        } else {
            format!("={x}")
        }
    };
    // Input at A1.
    matrix_values(&mut b, 0, 0, &net.input);
    // Filters: conv1's two at row 31, conv2's four at row 35.
    let (f1_row, f2_row) = (30u32, 34u32);
    for (c, g) in net.filters1.iter().enumerate() {
        b.text(f1_row - 1, 4 * c as u16, &format!("conv1 filter {}", c + 1));
        matrix_values(&mut b, f1_row, 4 * c as u16, g);
    }
    for o in 0..2 {
        for i in 0..2 {
            let c0 = 4 * (2 * o + i) as u16;
            b.text(f2_row - 1, c0, &format!("conv2 out {} in {}", o + 1, i + 1));
            matrix_values(&mut b, f2_row, c0, &net.filters2[o][i]);
        }
    }
    let f1 = |c: usize| abs_block(f1_row, 4 * c as u16, 3, 3);
    let f2 = |o: usize, i: usize| abs_block(f2_row, 4 * (2 * o + i) as u16, 3, 3);
    let (c1_row, c2_row, pool_row, dense_row, out_row) = (40u32, 70u32, 98u32, 114u32, 130u32);
    let col0 = |c: usize| 28 * c as u16;
    for c in 0..2 {
        b.text(c1_row - 1, col0(c), &format!("conv1 channel {}", c + 1));
        for (i, row) in f.conv1[c].iter().enumerate() {
            for (j, val) in row.iter().enumerate() {
                let win = block(i as u32, j as u16, 3, 3);
                b.f(
                    c1_row + i as u32,
                    col0(c) + j as u16,
                    relu(format!("SUMPRODUCT({win},{})", f1(c))),
                    *val,
                );
            }
        }
    }
    for o in 0..2 {
        b.text(c2_row - 1, col0(o), &format!("conv2 channel {}", o + 1));
        for (i, row) in f.conv2[o].iter().enumerate() {
            for (j, val) in row.iter().enumerate() {
                let win = |ch: usize| block(c1_row + i as u32, col0(ch) + j as u16, 3, 3);
                b.f(
                    c2_row + i as u32,
                    col0(o) + j as u16,
                    relu(format!(
                        "SUMPRODUCT({},{})+SUMPRODUCT({},{})",
                        win(0),
                        f2(o, 0),
                        win(1),
                        f2(o, 1)
                    )),
                    *val,
                );
            }
        }
    }
    for c in 0..2 {
        b.text(pool_row - 1, col0(c), &format!("maxpool channel {}", c + 1));
        for (i, row) in f.pool[c].iter().enumerate() {
            for (j, val) in row.iter().enumerate() {
                let win = block(c2_row + 2 * i as u32, col0(c) + 2 * j as u16, 2, 2);
                b.f(
                    pool_row + i as u32,
                    col0(c) + j as u16,
                    format!("=MAX({win})"),
                    *val,
                );
            }
        }
        b.text(dense_row - 1, col0(c), &format!("dense weights {}", c + 1));
        matrix_values(&mut b, dense_row, col0(c), &net.dense[c]);
    }
    b.text(out_row, 0, "dense");
    let (ph, pw) = (f.pool[0].len(), f.pool[0].first().map_or(0, Vec::len));
    for c in 0..2 {
        b.f(
            out_row,
            1 + c as u16,
            format!(
                "=SUMPRODUCT({},{})",
                block(pool_row, col0(c), ph, pw),
                block(dense_row, col0(c), ph, pw)
            ),
            f.dense_terms[c],
        );
    }
    b.text(out_row, 4, "output");
    b.f(
        out_row,
        5,
        format!("={}+{}", a1(out_row, 1), a1(out_row, 2)),
        f.output,
    );
    Ok(Book::new("conv", vec![b.done()]))
}
