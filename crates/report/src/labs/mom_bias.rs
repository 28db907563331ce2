//! mom_bias.xlsx: moving averages, bias correction and running batch-norm statistics.

use gradsheet_labs::mom_bias;

use super::{a1, abs, abs_block, range, row_values, Book, Builder, Sheet};

/// mom_bias.xlsx: Sheet1's EMA from 0 and its bias correction (`=C2*0.9+B2*0.1`,
/// `=1-0.9^A2`, `=C2/D2`), and Sheet1 (2)'s exponentially weighted mean and variance.
pub fn mom_bias() -> Book {
    let s = mom_bias::sheet1();
    let mut b = Builder::new("bias");
    b.headers(0, 0, &mom_bias::BIAS_HEADERS);
    b.text(0, 8, "beta");
    b.num(0, 9, 0.9);
    b.text(1, 8, "1-beta");
    b.num(1, 9, 0.1);
    let (beta, omb) = (abs(0, 9), abs(1, 9));
    for (i, row) in s.rows.iter().enumerate() {
        let r = 1 + i as u32;
        b.num(r, 0, row.t as f64);
        b.num(r, 1, row.value);
        let prev = if i == 0 {
            "0".to_string()
        } else {
            a1(r - 1, 2)
        };
        b.f(r, 2, format!("={prev}*{beta}+{}*{omb}", a1(r, 1)), row.ema);
        b.f(r, 3, format!("=1-{beta}^{}", a1(r, 0)), row.correction);
        b.f(r, 4, format!("={}/{}", a1(r, 2), a1(r, 3)), row.debiased);
        if let Some(cr) = row.correction_recursive {
            b.f(r, 5, format!("={omb}+{}*{beta}", a1(r - 1, 3)), cr);
        }
        if let Some(m) = row.moving_avg4 {
            b.f(r, 6, format!("=AVERAGE({})", range(r - 3, 1, r, 1)), m);
        }
    }
    b.text(3, 8, "0.99^8");
    b.f(3, 9, "=0.99^8".into(), s.j2);

    let rows = mom_bias::sheet1_2();
    let mut e = Builder::new("ew variance");
    e.headers(0, 0, &mom_bias::EW_HEADERS);
    e.text(0, 9, "old weight");
    e.num(0, 10, 0.1);
    e.text(1, 9, "new weight");
    e.f(1, 10, format!("=1-{}", abs(0, 10)), 1.0 - 0.1);
    let (ow, nw) = (abs(0, 10), abs(1, 10));
    for (i, row) in rows.iter().enumerate() {
        let r = 1 + i as u32;
        let c = |col: u16| a1(r, col);
        let p = |col: u16| a1(r - 1, col);
        e.num(r, 0, row.x);
        e.f(r, 2, format!("={}^2", c(0)), row.x2);
        if i == 0 {
            e.f(r, 1, format!("={}", c(0)), row.ma);
            e.f(r, 3, format!("={}", c(2)), row.ma_x2);
            e.num(r, 6, row.emv);
            continue;
        }
        e.f(r, 1, format!("={}*{ow}+{}*{nw}", p(1), c(0)), row.ma);
        e.f(r, 3, format!("={}*{ow}+{}*{nw}", p(3), c(2)), row.ma_x2);
        if let Some(d) = row.delta {
            e.f(r, 4, format!("={}-{}", c(0), p(1)), d);
        }
        if let Some(m2) = row.ma2 {
            e.f(r, 5, format!("={}+{}*{nw}", p(1), c(4)), m2);
        }
        let emv = if i == 1 {
            format!("=VARP({})", range(r - 1, 0, r, 0))
        } else {
            format!("={ow}*({}+{}^2*{nw})", p(6), c(4))
        };
        e.f(r, 6, emv, row.emv);
        if let Some(v10) = row.var10 {
            e.f(r, 7, format!("=VARP({})", range(r - 9, 0, r, 0)), v10);
        }
    }
    Book::new("mom_bias", vec![b.done(), e.done(), batchnorm_sheet()])
}

/// Sheet1 (3): the records (group, x, x²) in A:C, each group's statistics with
/// `AVERAGEIF`/`COUNTIF`, and the running (momentum 0.2) batch-norm statistics.
fn batchnorm_sheet() -> Sheet {
    let recs = mom_bias::pivot_records();
    let bn = mom_bias::sheet1_3();
    let mut b = Builder::new("batchnorm");
    b.headers(0, 0, &["group", "x", "x^2"]);
    for (i, (g, x, x2)) in recs.iter().enumerate() {
        row_values(&mut b, 1 + i as u32, 0, &[*g, *x, *x2]);
    }
    let n = recs.len() as u32;
    let col = |c: u16| abs_block(1, c, n as usize, 1);
    let (gs, xs, x2s) = (col(0), col(1), col(2));
    b.headers(
        0,
        4,
        &[
            "group", "mean", "var", "mean x^2", "bn mv", "count", "m count", "s", "m s", "ma",
            "ma2", "ss", "m ss", "mv",
        ],
    );
    b.text(0, 19, "mom");
    b.num(0, 20, 0.2);
    let mom = abs(0, 20);
    for (i, g) in bn.groups.iter().enumerate() {
        let r = 1 + i as u32;
        let c = |k: u16| a1(r, 4 + k);
        let p = |k: u16| a1(r - 1, 4 + k);
        b.num(r, 4, g.group);
        b.f(r, 5, format!("=AVERAGEIF({gs},{},{xs})", c(0)), g.mean);
        b.f(
            r,
            6,
            format!(
                "=SUMPRODUCT(({gs}={0})*({xs}-{1})^2)/COUNTIF({gs},{0})",
                c(0),
                c(1)
            ),
            g.var,
        );
        b.f(r, 7, format!("=AVERAGEIF({gs},{},{x2s})", c(0)), g.mean_x2);
        b.num(r, 9, g.count);
        b.f(r, 11, format!("={}*{}", c(5), c(1)), g.s);
        b.f(r, 15, format!("={}*{}", c(5), c(3)), g.ss);
        if i == 0 {
            b.f(r, 8, format!("={}", c(2)), g.bn_mv);
            b.f(r, 10, format!("={}", c(5)), g.m_count);
            b.f(r, 12, format!("={}", c(7)), g.m_s);
            b.f(r, 13, format!("={}/{}", c(7), c(5)), g.ma);
            b.f(r, 14, format!("={}", c(1)), g.ma2);
            b.f(r, 16, format!("={}", c(11)), g.m_ss);
            b.f(
                r,
                17,
                format!("={0}/{1}-({2}/{1})*({2}/{1})", c(11), c(5), c(7)),
                g.mv,
            );
            continue;
        }
        b.f(r, 8, format!("={}*(1-{mom})+{mom}*{}", p(4), c(2)), g.bn_mv);
        let lerp = |prev: String, cur: String| format!("={prev}+({cur}-{prev})*{mom}");
        b.f(r, 10, lerp(p(6), c(5)), g.m_count);
        b.f(r, 12, lerp(p(8), c(7)), g.m_s);
        b.f(r, 13, format!("={}/{}", c(8), c(6)), g.ma);
        b.f(r, 14, lerp(p(10), c(1)), g.ma2);
        b.f(r, 16, lerp(p(12), c(11)), g.m_ss);
        b.f(r, 17, format!("={}/{}-{2}*{2}", c(12), c(6), c(9)), g.mv);
    }
    let tr = 1 + bn.groups.len() as u32;
    b.text(tr, 4, "total");
    b.f(tr, 5, format!("=AVERAGE({xs})"), bn.total.0);
    b.f(tr, 6, format!("=VARP({xs})"), bn.total.1);
    b.f(tr, 7, format!("=AVERAGE({x2s})"), bn.total.2);
    b.done()
}
