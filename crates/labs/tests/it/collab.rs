use crate::grid::{course22, table_within_grid, Sheet};
use gradsheet_labs::collab::*;
use gradsheet_labs::LbfgsConfig;

const VERSIONS: [(Version, &str); 3] = [
    (Version::CourseV3, "course-v3"),
    (Version::Courses, "courses"),
    (Version::Course22, "course22"),
];

#[test]
fn dotprod_sheets() {
    for (v, tag) in VERSIONS {
        if v == Version::Course22 && !course22() {
            continue;
        }
        let p = dotprod_sheet(v);
        let Some(mut g) = Sheet::open(&format!("{tag}__collab_filter__dotprod")) else {
            continue;
        };
        g.input("H1:V1");
        g.input("G2:V16");
        g.input("H19:V23");
        g.input("B25:F39");
        g.input("H24:V24"); // movie id labels
        g.input("G25:G39"); // user id labels
        g.check_grid("H", 25, 1, &p.preds);
        g.check("V", 41, p.loss);
        g.finish();
    }
    assert_eq!(dotprod_sheet(Version::CourseV3).loss, 0.3930154712865702);
}

#[test]
fn bias_sheets_with_version_quirks() {
    for (v, tag) in VERSIONS {
        if v == Version::Course22 && !course22() {
            continue;
        }
        let p = bias_sheet(v);
        let Some(mut g) = Sheet::open(&format!("{tag}__collab_filter__bias")) else {
            continue;
        };
        g.input("H1:V1");
        g.input("G2:V16");
        g.input("H19:V24");
        g.input("A26:F40");
        g.input("H25:V25");
        g.input("G26:G40");
        g.check_grid("H", 26, 1, &p.preds);
        g.check("V", 42, p.loss);
        g.finish();
    }
    assert!((bias_sheet(Version::CourseV3).loss - 0.3194674135586278).abs() < 1e-15);
    assert!(bias_sheet(Version::Courses).loss > 28.0); // no /COUNT
}

#[test]
fn movielens_emb_sheets() {
    for (v, tag) in VERSIONS {
        if v == Version::Course22 && !course22() {
            continue;
        }
        let s = movielens_emb_sheet(v);
        assert_eq!(s.rows.len(), 206);
        let Some(mut g) = Sheet::open(&format!("{tag}__collab_filter__movielens_emb")) else {
            continue;
        };
        g.input("A4:G18");
        g.input("A22:G36");
        g.input("I3:K208");
        g.input("M2:Q2");
        g.input("S2:W2");
        for (i, r) in s.rows.iter().enumerate() {
            let row = 3 + i as u32;
            g.check("L", row, r.user_idx as f64);
            g.check_row("M", row, &r.user_emb);
            g.check("R", row, r.movie_idx as f64);
            g.check_row("S", row, &r.movie_emb);
            g.check("X", row, r.pred);
            g.check("Y", row, r.err2);
        }
        if v == Version::CourseV3 {
            g.check("Y", 210, s.rmse);
        } else {
            g.check("AA", 3, s.rmse);
        }
        g.finish();
    }
    table_within_grid(
        "course-v3__collab_filter__movielens_emb",
        "course-v3__collab_filter__movielens_emb",
    );
}

#[test]
fn movielens_1hot_sheet_is_an_embedding() {
    let (rows, rmse) = movielens_1hot_sheet();
    let mut g = Sheet::load("course-v3__collab_filter__movielens_1hot");
    g.input("A4:G18");
    g.input("A22:G36");
    g.input("I3:J208");
    g.input("M3:M208");
    g.input("O2:AC2");
    g.input("AK2:AY2");
    for (i, r) in rows.iter().enumerate() {
        let row = 3 + i as u32;
        g.check("K", row, r.record.2 as f64);
        g.check("L", row, r.record.3 as f64);
        g.check_row("O", row, &r.user_1hot);
        g.check_row("AE", row, &r.user_emb);
        g.check_row("AK", row, &r.movie_1hot);
        g.check_row("BA", row, &r.movie_emb);
        g.check("BG", row, r.pred);
        g.check("BH", row, r.err2);
    }
    g.check("BH", 210, rmse);
    g.finish();
    table_within_grid(
        "course-v3__collab_filter__movielens_1hot",
        "course-v3__collab_filter__movielens_1hot",
    );
    // One-hot × matrix is exactly the lookup of movielens_emb.
    let e = movielens_emb_sheet(Version::CourseV3);
    for (a, b) in rows.iter().zip(&e.rows) {
        assert_eq!(a.user_emb, b.user_emb);
        assert_eq!(a.pred, b.pred);
    }
}

#[test]
fn word_emb_sheets() {
    for (v, tag) in VERSIONS {
        if v == Version::Course22 && !course22() {
            continue;
        }
        let w = word_emb_sheet(v);
        assert_eq!(w.tokens.len(), 48);
        let Some(mut g) = Sheet::open(&format!("{tag}__collab_filter__word_emb")) else {
            continue;
        };
        // course22 moved the vocabulary and Table1 (a constant copy of it) up.
        let (vocab, table1) = if v == Version::Course22 {
            ("A3:G16", "A20:G34")
        } else {
            ("A4:G17", "A25:G39")
        };
        g.input(vocab);
        g.input(table1);
        g.input("I3:I50");
        g.input("K2:O2");
        for (i, (_, idx, e)) in w.tokens.iter().enumerate() {
            let row = 3 + i as u32;
            g.check("J", row, *idx as f64);
            g.check_row("K", row, e);
        }
        g.finish();
    }
    table_within_grid(
        "course-v3__collab_filter__word_emb",
        "course-v3__collab_filter__word_emb",
    );
}

#[test]
fn hand_gradient_matches_finite_differences() {
    for bias in [false, true] {
        let (m, data, p) = sheet_problem(Version::Courses, bias);
        let (f0, g) = m.mse_grad(&p, &data).unwrap();
        assert!(f0 > 0.0);
        let h = 1e-6;
        for j in (0..p.len()).step_by(7) {
            let (mut a, mut b) = (p.clone(), p.clone());
            a[j] += h;
            b[j] -= h;
            let fd =
                (m.mse_grad(&a, &data).unwrap().0 - m.mse_grad(&b, &data).unwrap().0) / (2.0 * h);
            assert!(
                (fd - g[j]).abs() < 1e-7 * fd.abs().max(1.0),
                "param {j}: {fd} vs {}",
                g[j]
            );
        }
    }
}

#[test]
fn saved_embeddings_reproduce_saved_error() {
    let (m, data, p) = sheet_problem(Version::CourseV3, false);
    let r = m.rmse(&p, &data).unwrap();
    assert!((r - 0.3930154712865702).abs() < 1e-15, "{r}");
    let (m, data, p) = sheet_problem(Version::CourseV3, true);
    let r = m.rmse(&p, &data).unwrap();
    assert!((r - 0.3194674135586278).abs() < 1e-15, "{r}");
    // Solver stopped at (or near) a minimum: L-BFGS from there cannot do worse.
    let t = train_lbfgs(
        &m,
        &data,
        &p,
        &LbfgsConfig {
            max_iter: 20,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(*t.rmse.last().unwrap() <= 0.3194674135586278);
}

#[test]
fn lbfgs_from_random_start_beats_solver() {
    for (bias, saved) in [(false, 0.3930154712865702), (true, 0.3194674135586278)] {
        let (m, data, _) = sheet_problem(Version::CourseV3, bias);
        let p0 = m.init(42, 1.0);
        let t = train_lbfgs(
            &m,
            &data,
            &p0,
            &LbfgsConfig {
                max_iter: 400,
                ..Default::default()
            },
        )
        .unwrap();
        let last = *t.rmse.last().unwrap();
        assert!(last <= saved, "bias={bias}: {last} > {saved}");
        assert!((m.rmse(&t.params, &data).unwrap() - last).abs() < 1e-12);
    }
}

#[test]
fn sgd_and_adam_train_the_factor_model() {
    let (m, data, _) = sheet_problem(Version::Courses, true);
    let p0 = m.init(1, 1.0);
    let sgd = train_sgd(&m, &data, &p0, 0.05, 0.9, 300).unwrap();
    let adam = train_adam(
        &m,
        &data,
        &p0,
        &gradsheet_labs::AdamConfig {
            lr: 0.05,
            ..Default::default()
        },
        300,
    )
    .unwrap();
    for t in [&sgd, &adam] {
        assert!(t.rmse[0] > 1.0);
        assert!(*t.rmse.last().unwrap() < 0.6, "{:?}", t.rmse.last());
    }
    assert!(train_sgd(&m, &data, &p0[1..], 0.1, 0.0, 1).is_err());
}

#[test]
fn u_data_parser_reports_line_and_field() {
    let ok = parse_u_data("1\t2\t5\t881250949\r\n\n3\t4\t1\t881250950\n").unwrap();
    assert_eq!(ok.len(), 2);
    assert_eq!(
        ok[1],
        Rating {
            user: 3,
            item: 4,
            rating: 1.0,
            timestamp: 881250950
        }
    );
    let cases = [
        ("1\t2\t5\t9\n1\t2\t5", (2, 4, "timestamp")),
        ("1\t2\t5\t9\t0", (1, 5, "extra")),
        ("a\t2\t5\t9", (1, 1, "user")),
        ("1\t-2\t5\t9", (1, 2, "item")),
        ("1\t2\t6\t9", (1, 3, "rating")),
        ("1\t2\t5\tnow", (1, 4, "timestamp")),
    ];
    for (text, want) in cases {
        match parse_u_data(text) {
            Err(gradsheet_labs::LabError::Parse {
                line, field, name, ..
            }) => {
                assert_eq!((line, field, name), want, "{text:?}")
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
}

#[test]
fn synthetic_movielens_has_the_100k_shape() {
    let r = synthetic_movielens(2024);
    assert_eq!(r.len(), ML100K_RATINGS);
    let mut per_user = vec![0usize; ML100K_USERS as usize + 1];
    let mut pairs = std::collections::HashSet::new();
    for x in &r {
        assert!((1..=ML100K_USERS).contains(&x.user) && (1..=ML100K_ITEMS).contains(&x.item));
        assert!((1.0..=5.0).contains(&x.rating) && x.rating.fract() == 0.0);
        per_user[x.user as usize] += 1;
        assert!(pairs.insert((x.user, x.item)));
    }
    assert!(per_user[1..].iter().all(|n| *n >= 20));
    // Round trip through the u.data format.
    let text: String = r
        .iter()
        .take(500)
        .map(|x| format!("{}\t{}\t{}\t{}\n", x.user, x.item, x.rating, x.timestamp))
        .collect();
    assert_eq!(parse_u_data(&text).unwrap(), r[..500]);
    assert_ne!(synthetic_movielens(2025)[..10], r[..10]);
}
