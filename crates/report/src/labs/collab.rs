//! collab_filter.xlsx: the dotprod and bias sheets.

use gradsheet_labs::collab::{self, Version};

use super::{a1, block, column_name, matrix_values, row_values, Book, Builder, Sheet};

/// A collab sheet: ratings at H2:V16 (user ids in G, movie ids in row 1), movie
/// factors at H19:V23 (with the movie biases in row 18 when `bias`), user factors at
/// B25:F39 (user biases in A), predictions at H25:V39 and the loss.
fn collab_sheet(v: Version, with_bias: bool) -> Sheet {
    let ct = collab::crosstab(v);
    let n_users = ct.users.len() as u32;
    let mut b = Builder::new(if with_bias { "bias" } else { "dotprod" });
    let (rat_row, rat_col) = (1u32, 7u16);
    b.text(0, 6, "user \\ movie");
    for (j, m) in ct.movies.iter().enumerate() {
        b.num(0, rat_col + j as u16, *m);
    }
    for (i, (u, row)) in ct.users.iter().zip(&ct.ratings).enumerate() {
        let r = rat_row + i as u32;
        b.num(r, 6, *u);
        for (j, x) in row.iter().enumerate() {
            if let Some(x) = x {
                b.num(r, rat_col + j as u16, *x);
            }
        }
    }
    let (ub, uf, mb, mf) = if with_bias {
        collab::bias_params(v)
    } else {
        let (u, m) = collab::dotprod_factors(v);
        (Vec::new(), u, Vec::new(), m)
    };
    let k = mf.len();
    let (mf_row, uf_row) = (18u32, 24u32);
    b.text(mf_row, 6, "movie factors");
    matrix_values(&mut b, mf_row, rat_col, &mf);
    if with_bias {
        b.text(mf_row - 1, 6, "movie bias");
        row_values(&mut b, mf_row - 1, rat_col, &mb);
        b.text(uf_row - 1, 0, "user bias");
        for (i, x) in ub.iter().enumerate() {
            b.num(uf_row + i as u32, 0, *x);
        }
    }
    b.text(uf_row - 1, 1, "user factors");
    matrix_values(&mut b, uf_row, 1, &uf);
    let preds = if with_bias {
        collab::bias_sheet(v)
    } else {
        collab::dotprod_sheet(v)
    };
    // course22's bias sheet leaves blanks at 0 (SINGLE(IF(..))); the older copies add
    // the biases to blank cells too.
    let blank_biases = with_bias && v != Version::Course22;
    for (i, row) in preds.preds.iter().enumerate() {
        let r = uf_row + i as u32;
        for (j, val) in row.iter().enumerate() {
            let c = rat_col + j as u16;
            let col = column_name(c as usize);
            let dot = format!(
                "MMULT($B{0}:{1}{0},{col}${2}:{col}${3})",
                r + 1,
                column_name(k),
                mf_row + 1,
                mf_row + k as u32
            );
            let rating = a1(rat_row + i as u32, c);
            let f = if !with_bias {
                format!("=IF({rating}=\"\",0,{dot})")
            } else if blank_biases {
                format!("=IF({rating}=\"\",0,{dot})+{col}${}+$A{}", mf_row, r + 1)
            } else {
                format!("=IF({rating}=\"\",0,{dot}+{col}${}+$A{})", mf_row, r + 1)
            };
            b.f(r, c, f, *val);
        }
    }
    let ratings = block(rat_row, rat_col, n_users as usize, ct.movies.len());
    let pred_block = block(uf_row, rat_col, n_users as usize, ct.movies.len());
    let loss_row = uf_row + n_users + 1;
    b.text(loss_row, 6, "loss");
    // Excel's SUMXMY2 skips pairs with a blank rating, LibreOffice's counts the blank as
    // 0; where blanks carry a prediction (the biases) the sum is spelled out with an
    // explicit mask so both give the sheet's Excel value.
    let sq = if blank_biases {
        format!("SUMPRODUCT(({ratings}<>\"\")*({ratings}-{pred_block})^2)")
    } else {
        format!("SUMXMY2({ratings},{pred_block})")
    };
    let f = if with_bias && v == Version::Courses {
        format!("=SQRT({sq})")
    } else {
        format!("=SQRT({sq}/COUNT({ratings}))")
    };
    b.f(loss_row, rat_col, f, preds.loss);
    b.done()
}

/// collab_filter.xlsx of a version: the dotprod sheet
/// (`=IF(H2="",0,MMULT($B25:$F25,H$19:H$23))` and
/// `=SQRT(SUMXMY2(ratings,preds)/COUNT(ratings))`) and the bias sheet.
///
/// # Errors
///
/// For course22, that its numbers are not here ([`gradsheet_labs::material`]).
pub fn collab(v: Version) -> Result<Book, gradsheet_labs::LabError> {
    v.available()?;
    Ok(Book::new(
        "collab",
        vec![collab_sheet(v, false), collab_sheet(v, true)],
    ))
}
