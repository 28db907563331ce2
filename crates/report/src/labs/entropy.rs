//! entropy_example.xlsx: softmax, sigmoid and binary cross-entropy as live formulas.

use gradsheet_labs::collab::Version;
use gradsheet_labs::entropy;

use super::{a1, abs, range, Book, Builder};

/// A softmax block at (r0, c0): class, logit, `=EXP`, `=exp/sum`, and optionally the
/// sigmoid `=exp/(1+exp)`; a total row with `=SUM`. Returns the row of the totals.
fn softmax_block(
    b: &mut Builder,
    r0: u32,
    c0: u16,
    st: &entropy::SoftmaxTable,
    sigmoid: Option<&[f64]>,
) -> u32 {
    let mut hs = vec!["class", "output", "exp", "softmax"];
    if sigmoid.is_some() {
        hs.push("sigmoid");
    }
    b.headers(r0, c0, &hs);
    let n = st.logits.len() as u32;
    let total = r0 + 1 + n;
    for i in 0..n {
        let r = r0 + 1 + i;
        let k = i as usize;
        b.text(r, c0, entropy::CLASSES.get(k).copied().unwrap_or(""));
        b.num(r, c0 + 1, st.logits[k]);
        b.f(r, c0 + 2, format!("=EXP({})", a1(r, c0 + 1)), st.exps[k]);
        b.f(
            r,
            c0 + 3,
            format!("={}/{}", a1(r, c0 + 2), abs(total, c0 + 2)),
            st.probs[k],
        );
        if let Some(sg) = sigmoid {
            b.f(r, c0 + 4, format!("={0}/(1+{0})", a1(r, c0 + 2)), sg[k]);
        }
    }
    b.text(total, c0, "total");
    b.f(
        total,
        c0 + 2,
        format!("=SUM({})", range(r0 + 1, c0 + 2, total - 1, c0 + 2)),
        st.sum_exp,
    );
    b.f(
        total,
        c0 + 3,
        format!("=SUM({})", range(r0 + 1, c0 + 3, total - 1, c0 + 3)),
        st.sum_probs,
    );
    total
}

/// The binary cross-entropy rows (log10), columns A:J from row `r0`.
fn bce_block(b: &mut Builder, r0: u32) {
    b.headers(r0, 0, &entropy::BCE_HEADERS);
    for (i, row) in entropy::entropy_rows(&entropy::IS_CAT, &entropy::PREDS)
        .iter()
        .enumerate()
    {
        let r = r0 + 1 + i as u32;
        let c = |col: u16| a1(r, col);
        b.num(r, 0, row.is_cat);
        b.f(r, 1, format!("=1-{}", c(0)), row.is_dog);
        b.num(r, 2, row.pred);
        b.f(
            r,
            3,
            format!("=-{0}*LOG({1})-(1-{0})*LOG(1-{1})", c(0), c(2)),
            row.bce,
        );
        b.f(
            r,
            4,
            format!("=-IF({0}=1,LOG({1}),LOG(1-{1}))", c(0), c(2)),
            row.bce_if,
        );
        b.f(r, 5, format!("=LOG({})", c(2)), row.log_cat);
        b.f(r, 6, format!("=LOG(1-{})", c(2)), row.log_dog);
        b.f(
            r,
            7,
            format!("=-{}*{}-{}*{}", c(0), c(5), c(1), c(6)),
            row.nll,
        );
        b.f(r, 8, format!("=IF({}=1,1,2)", c(0)), row.idx as f64);
        b.f(
            r,
            9,
            format!("=IF({}=1,{},{})", c(8), c(5), c(6)),
            row.idx_pred,
        );
    }
}

/// entropy_example.xlsx of a version: softmax (and sigmoid) with `=EXP`, `=C3/$C$8`,
/// and binary cross-entropy `=-A2*LOG(C2)-(1-A2)*LOG(1-C2)`.
pub fn entropy(v: Version) -> Book {
    let mut sm = Builder::new("softmax");
    let mut bce = Builder::new("entropy");
    match v {
        Version::CourseV3 => {
            let s = entropy::course_v3_softmax();
            sm.text(0, 0, "image 1");
            softmax_block(&mut sm, 1, 0, &s.image1, Some(&s.sigmoid1));
            sm.text(0, 6, "image 2");
            softmax_block(&mut sm, 1, 6, &s.image2, Some(&s.sigmoid2));
            bce_block(&mut bce, 0);
        }
        Version::Courses => {
            let st = entropy::softmax_table(&entropy::COURSES_LOGITS);
            softmax_block(&mut sm, 0, 0, &st, None);
            bce_block(&mut bce, 0);
        }
        Version::Course22 => {
            let c = entropy::course22();
            let total = softmax_block(&mut sm, 0, 0, &c.softmax, None);
            sm.headers(0, 4, &["actual", "y*log(p)"]);
            for i in 0..c.terms.len() as u32 {
                let r = 1 + i;
                sm.num(r, 4, entropy::C22_ACTUALS[i as usize]);
                sm.f(
                    r,
                    5,
                    format!("={}*LOG({})", a1(r, 4), a1(r, 3)),
                    c.terms[i as usize],
                );
            }
            sm.text(total + 1, 4, "xent");
            sm.f(
                total + 1,
                5,
                format!("=-SUM({})", range(1, 5, total - 1, 5)),
                c.xent,
            );
            bce.headers(0, 0, &["is cat", "pred", "1-pred", "bce", "bce (IF)"]);
            for i in 0..entropy::PREDS.len() {
                let r = 1 + i as u32;
                let x = |col: u16| a1(r, col);
                bce.num(r, 0, entropy::IS_CAT[i]);
                bce.num(r, 1, entropy::PREDS[i]);
                bce.f(r, 2, format!("=1-{}", x(1)), c.pred_not_cat[i]);
                bce.f(
                    r,
                    3,
                    format!("=-{0}*LOG({1})-(1-{0})*LOG({2})", x(0), x(1), x(2)),
                    c.bce[i],
                );
                bce.f(
                    r,
                    4,
                    format!("=-IF({0}=1,LOG({1}),LOG({2}))", x(0), x(1), x(2)),
                    c.bce_if[i],
                );
            }
        }
    }
    Book::new("entropy", vec![sm.done(), bce.done()])
}
