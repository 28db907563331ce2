//! titanic.xlsx: the passengers, derived features, and both models.

use gradsheet_labs::titanic;

use super::{a1, abs, abs_block, block, row_values, Book, Builder};

/// titanic.xlsx from the passengers of the user's copy of course22
/// ([`gradsheet_labs::material`]): the kept rows' raw fields (A:H), the ten
/// derived features (I:R, e.g. `=D2/$AB$2`, `=LOG(G2+1)`, `=IF(H2="S",1,0)`), the linear
/// model `=SUMPRODUCT(I2:R2,params)` and the two-ReLU net with its squared errors and
/// mean loss, from the saved Solver parameters.
///
/// # Errors
///
/// [`gradsheet_labs::LabError::Missing`] without the user's copy of course22; a parse
/// error for a row of it that cannot be read.
pub fn titanic() -> Result<Book, gradsheet_labs::LabError> {
    let tb = titanic::table(&titanic::all_rows()?);
    let (lin_p, net_p, _) = titanic::saved_params()?;
    let lin = titanic::linear(&tb, &lin_p)?;
    let net = titanic::nnet(&tb, &net_p)?;
    let mut b = Builder::new("titanic");
    let mut hs = vec![
        "Survived", "Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked",
    ];
    hs.extend(titanic::FEATURES);
    hs.extend([
        "linear",
        "linear err^2",
        "unit 1",
        "unit 2",
        "relu 1",
        "relu 2",
        "nnet",
        "nnet err^2",
    ]);
    b.headers(0, 0, &hs);
    let n = tb.rows.len() as u32;
    let last = n; // 0-based row of the last passenger (row 0 is the header)
                  // Parameters and the maxima, right of the table (column AB on).
    let pc: u16 = 27;
    b.text(0, pc - 1, "max age");
    b.f(0, pc, format!("=MAX(D2:D{})", n + 1), tb.max_age);
    b.text(1, pc - 1, "max fare");
    b.f(1, pc, format!("=MAX(G2:G{})", n + 1), tb.max_fare);
    b.text(3, pc - 1, "linear");
    row_values(&mut b, 3, pc, &lin_p);
    b.text(4, pc - 1, "unit 1");
    row_values(&mut b, 4, pc, &net_p[..10]);
    b.text(5, pc - 1, "unit 2");
    row_values(&mut b, 5, pc, &net_p[10..]);
    let params = |r: u32| abs_block(r, pc, 1, 10);
    for (i, p) in tb.rows.iter().enumerate() {
        let r = 1 + i as u32;
        let c = |col: u16| a1(r, col);
        b.num(r, 0, p.survived);
        b.num(r, 1, p.pclass);
        b.text(r, 2, &p.sex);
        if let Some(a) = p.age {
            b.num(r, 3, a);
        }
        b.num(r, 4, p.sib_sp);
        b.num(r, 5, p.parch);
        b.num(r, 6, p.fare);
        b.text(r, 7, p.embarked.as_deref().unwrap_or(""));
        let x = &tb.x[i];
        let feats = [
            format!("={}", c(4)),
            format!("={}", c(5)),
            format!("={}/{}", c(3), abs(0, pc)),
            format!("=LOG({}+1)", c(6)),
            format!("=IF({}=1,1,0)", c(1)),
            format!("=IF({}=2,1,0)", c(1)),
            format!("=IF({}=\"S\",1,0)", c(7)),
            format!("=IF({}=\"C\",1,0)", c(7)),
            format!("=IF({}=\"male\",1,0)", c(2)),
        ];
        for (k, f) in feats.into_iter().enumerate() {
            b.f(r, 8 + k as u16, f, x[k]);
        }
        b.num(r, 17, x[9]);
        let feat = block(r, 8, 1, 10);
        b.f(
            r,
            18,
            format!("=SUMPRODUCT({feat},{})", params(3)),
            lin.preds[i],
        );
        b.f(r, 19, format!("=({}-{})^2", c(18), c(0)), lin.losses[i]);
        for u in 0..2 {
            b.f(
                r,
                20 + u,
                format!("=SUMPRODUCT({feat},{})", params(4 + u as u32)),
                net.lin[i][u as usize],
            );
            b.f(
                r,
                22 + u,
                format!("=IF({0}<0,0,{0})", c(20 + u)),
                net.relu[i][u as usize],
            );
        }
        b.f(r, 24, format!("={}+{}", c(22), c(23)), net.preds[i]);
        b.f(r, 25, format!("=({}-{})^2", c(0), c(24)), net.losses[i]);
    }
    b.text(7, pc - 1, "linear loss");
    b.f(7, pc, format!("=AVERAGE(T2:T{})", last + 1), lin.loss);
    b.text(8, pc - 1, "nnet loss");
    b.f(8, pc, format!("=AVERAGE(Z2:Z{})", last + 1), net.loss);
    Ok(Book::new("titanic", vec![b.done()]))
}
