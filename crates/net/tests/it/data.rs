use gradsheet_net::data::{features, DataSpec, Feature, Kind, KINDS};

#[test]
fn a_seed_gives_the_same_rows_and_another_seed_others() {
    for &(kind, name, _) in KINDS {
        let spec = DataSpec {
            kind,
            n: 60,
            noise: 0.2,
            seed: 9,
            ..DataSpec::default()
        };
        let a = spec.draw().unwrap();
        let b = spec.draw().unwrap();
        assert_eq!(a, b, "{name}");
        let c = DataSpec { seed: 10, ..spec }.draw().unwrap();
        assert_ne!(a.train.values, c.train.values, "{name}");
        assert_eq!((a.train.len(), a.test.len()), (30, 30), "{name}");
    }
}

/// The first rows of seed 1, as drawn today: a change to a recipe changes them, and every
/// saved run with them.
#[test]
fn the_first_circle_points_are_pinned() {
    let s = DataSpec {
        n: 8,
        test_fraction: 0.25,
        ..DataSpec::default()
    }
    .draw()
    .unwrap();
    assert_eq!(s.train.len(), 6);
    assert_eq!(
        s.train.row(0),
        [0.24769871419580514, -0.02171580638486433, 1.0]
    );
    assert_eq!(
        s.test.row(0),
        [0.10606857048423506, -0.8526381181245941, 1.0]
    );
    // Every point is where its class says: class 1 within 2.5, class 0 in 3.5..5.
    for i in 0..s.train.len() {
        let r = s.train.row(i);
        let rad = (r[0] * r[0] + r[1] * r[1]).sqrt();
        if r[2] == 1.0 {
            assert!(rad <= 2.5, "{r:?}");
        } else {
            assert!((3.5..=5.0).contains(&rad), "{r:?}");
        }
    }
}

#[test]
fn classes_are_balanced_and_labels_match_their_geometry() {
    let s = DataSpec {
        kind: Kind::Xor,
        n: 400,
        test_fraction: 0.0,
        ..DataSpec::default()
    }
    .draw()
    .unwrap();
    for i in 0..s.train.len() {
        let r = s.train.row(i);
        assert_eq!(r[2], if r[0] * r[1] > 0.0 { 1.0 } else { 0.0 }, "{r:?}");
        assert!(r[0].abs() >= 0.3 && r[1].abs() >= 0.3);
    }
    let s = DataSpec {
        kind: Kind::Spiral,
        n: 400,
        ..DataSpec::default()
    }
    .draw()
    .unwrap();
    let ones = s.train.column("y").unwrap().iter().sum::<f64>()
        + s.test.column("y").unwrap().iter().sum::<f64>();
    assert_eq!(ones, 200.0);
    let plane = DataSpec {
        kind: Kind::Plane,
        n: 50,
        ..DataSpec::default()
    }
    .draw()
    .unwrap();
    for i in 0..plane.train.len() {
        let r = plane.train.row(i);
        assert!((r[2] - (r[0] + r[1]) / 10.0).abs() < 1e-15);
    }
}

#[test]
fn derived_features_are_computed_from_the_point() {
    let fs = features("x1,x2,x1sq,x1x2,sinx1,sinx2,x2sq").unwrap();
    let s = DataSpec {
        kind: Kind::Moons,
        n: 20,
        features: fs,
        ..DataSpec::default()
    }
    .draw()
    .unwrap();
    assert_eq!(
        s.train.columns,
        ["x1", "x2", "x1sq", "x1x2", "sinx1", "sinx2", "x2sq", "y"]
    );
    for (i, p) in s.train_points.iter().enumerate() {
        let r = s.train.row(i);
        assert_eq!(&r[..2], p);
        assert_eq!(r[2], p[0] * p[0]);
        assert_eq!(r[3], p[0] * p[1]);
        assert_eq!(r[4], p[0].sin());
        assert_eq!(r[5], p[1].sin());
        assert_eq!(r[6], p[1] * p[1]);
    }
    assert_eq!(Feature::from_name("SINX1").unwrap(), Feature::SinX1);
}

#[test]
fn bad_settings_name_their_field() {
    let e = |spec: DataSpec| spec.draw().unwrap_err();
    let err = e(DataSpec {
        n: 0,
        ..DataSpec::default()
    });
    assert_eq!(err.field(), Some("n"));
    let err = e(DataSpec {
        n: 10_000_000,
        ..DataSpec::default()
    });
    assert_eq!(err.field(), Some("n"));
    let err = e(DataSpec {
        noise: f64::NAN,
        ..DataSpec::default()
    });
    assert_eq!(err.field(), Some("noise"));
    let err = e(DataSpec {
        test_fraction: 1.0,
        ..DataSpec::default()
    });
    assert_eq!(err.field(), Some("test_fraction"));
    let err = Kind::from_name("donut").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown dataset \"donut\"; the datasets are circle, xor, gauss, spiral, moons, plane, sine"
    );
    assert_eq!(
        features("x1,x1").unwrap_err().to_string(),
        "the feature x1 is listed twice"
    );
    assert!(features("x3").is_err());
}

/// Four points with three held out leave one class to train on: nothing to separate.
#[test]
fn one_class_is_refused() {
    let found = (0..50).find_map(|seed| {
        DataSpec {
            n: 4,
            test_fraction: 0.75,
            seed,
            ..DataSpec::default()
        }
        .draw()
        .err()
    });
    let e = found.expect("some seed leaves one class");
    assert!(e.to_string().contains("nothing to separate"), "{e}");
}

#[test]
fn the_grid_covers_the_plane_from_the_top_left() {
    use gradsheet_net::data::grid;
    let g = grid(&[Feature::X1, Feature::X2, Feature::X1X2], 4);
    assert_eq!(g.len(), 16);
    assert_eq!(g[0], [-4.5, 4.5, -20.25]);
    assert_eq!(g[3], [4.5, 4.5, 20.25]);
    assert_eq!(g[15], [4.5, -4.5, -20.25]);
}

#[test]
fn the_learners_rows_are_split_with_the_seed() {
    use gradsheet_engine::Dataset;
    use gradsheet_net::data::split;
    let rows: Vec<f64> = (0..20)
        .flat_map(|i| [i as f64, (i % 2) as f64, -(i as f64)])
        .collect();
    let d = Dataset::new(vec!["a".into(), "y".into(), "b".into()], rows);
    let s = split(&d, 0.25, 3).unwrap();
    assert_eq!(s.train.columns, ["a", "b", "y"]);
    assert_eq!((s.train.len(), s.test.len()), (15, 5));
    assert_eq!(s, split(&d, 0.25, 3).unwrap());
    assert_ne!(s.train.values, split(&d, 0.25, 4).unwrap().train.values);
    let mut seen: Vec<f64> = (0..15)
        .map(|i| s.train.row(i)[0])
        .chain((0..5).map(|i| s.test.row(i)[0]))
        .collect();
    seen.sort_by(f64::total_cmp);
    assert_eq!(seen, (0..20).map(|i| i as f64).collect::<Vec<_>>());
    for i in 0..15 {
        let r = s.train.row(i);
        assert_eq!((r[1], r[2]), (-r[0], r[0] % 2.0));
    }
    let mut nan = d.clone();
    nan.values[6] = f64::NAN;
    assert_eq!(
        split(&nan, 0.25, 3).unwrap_err().to_string(),
        "row 4, column a: NaN is not a number a network can read"
    );
    let no_y = Dataset::new(vec!["a".into(), "t".into()], vec![0.0; 8]);
    assert!(split(&no_y, 0.25, 3)
        .unwrap_err()
        .to_string()
        .starts_with("the data has no column y"));
    let one_class = Dataset::new(
        vec!["a".into(), "y".into()],
        vec![1.0, 1.0, 2.0, 1.0, 3.0, 1.0, 4.0, 1.0],
    );
    assert!(split(&one_class, 0.0, 3)
        .unwrap_err()
        .to_string()
        .contains("nothing to separate"));
}
