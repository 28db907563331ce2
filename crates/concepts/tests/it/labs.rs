use gradsheet_concepts::{find, LabError, Params, LABS};
use gradsheet_labs::figure::Panel;

/// Small settings so that every lab runs in a moment in a debug build.
fn small(name: &str) -> Vec<&'static str> {
    match name {
        "dropout" => vec!["hidden=8", "steps=50", "ps=0,0.5", "ensemble=10"],
        "focal" => vec!["epochs=20", "negatives=100", "positives=10"],
        "l1-l2" => vec!["samples=20"],
        "gradients" => vec!["depth=5", "width=8", "batch=4"],
        _ => vec![],
    }
}

#[test]
fn every_lab_gives_tables_and_pictures() {
    let names: Vec<&str> = LABS.iter().map(|l| l.name).collect();
    assert_eq!(
        names,
        ["dropout", "focal", "l1-l2", "upsampling", "gradients"]
    );
    for lab in LABS {
        let p = Params::parse(lab.params, &small(lab.name)).unwrap();
        let out = (lab.run)(&p, None).unwrap();
        assert_eq!(out.lab, lab.name);
        assert!(
            !out.tables.is_empty() && !out.figures.is_empty() && !out.notes.is_empty(),
            "{}",
            lab.name
        );
        for t in &out.tables {
            assert!(!t.rows.is_empty(), "{} {}", lab.name, t.name);
            assert!(
                t.rows.iter().all(|r| r.len() == t.headers.len()),
                "{} {}",
                lab.name,
                t.name
            );
        }
        // Figures are data: every panel has something to draw and its sizes agree (the
        // SVG files drawn from them are checked in gradsheet-report's tests).
        for f in &out.figures {
            assert!(
                !f.panels.is_empty() && f.columns > 0,
                "{} {}",
                lab.name,
                f.name
            );
            for panel in &f.panels {
                match panel {
                    Panel::Lines(c) => assert!(
                        c.series
                            .iter()
                            .any(|s| s.points.iter().any(|p| p.0.is_finite() && p.1.is_finite())),
                        "{} {} {}",
                        lab.name,
                        f.name,
                        c.title
                    ),
                    Panel::Heatmap(h) => {
                        assert!(h.rows * h.cols > 0, "{} {}", lab.name, h.title);
                        assert_eq!(h.values.len(), h.rows * h.cols, "{} {}", lab.name, h.title);
                    }
                }
            }
        }
    }
}

#[test]
fn settings_are_checked() {
    let lab = find("gradients").unwrap();
    assert!(matches!(
        Params::parse(lab.params, &["depht=3"]),
        Err(LabError::UnknownParam(..))
    ));
    assert!(matches!(
        Params::parse(lab.params, &["depth=0"]),
        Err(LabError::BadValue { .. })
    ));
    assert!(matches!(
        Params::parse(lab.params, &["activation=gelu"]),
        Err(LabError::BadValue { .. })
    ));
    assert!(matches!(
        Params::parse(lab.params, &["depth"]),
        Err(LabError::Invalid(_))
    ));
    let p = Params::parse(lab.params, &["activation=tanh", "depth=7"]).unwrap();
    assert_eq!(
        (p.text("activation"), p.int("depth")),
        ("tanh".to_string(), 7)
    );
    assert!(matches!(find("nope"), Err(LabError::UnknownLab(..))));
    let f = find("focal").unwrap();
    assert_eq!(
        Params::parse(f.params, &["gammas=0,1"])
            .unwrap()
            .list("gammas"),
        [0.0, 1.0]
    );
    assert!(Params::parse(f.params, &["gammas=0,x"]).is_err());
}

/// No lab shows a NaN in its tables: a cell without a number says why in words (the
/// gradients lab's input layer has no weights to differentiate).
#[test]
fn no_table_shows_nan() {
    for lab in LABS {
        let out = (lab.run)(&lab.params(&small(lab.name)).unwrap(), None).unwrap();
        for t in &out.tables {
            for (i, row) in t.rows.iter().enumerate() {
                for (j, v) in row.iter().enumerate() {
                    if let gradsheet_labs::Value::Num(x) = v {
                        assert!(
                            !x.is_nan(),
                            "{}: table {} row {i} column {}",
                            lab.name,
                            t.name,
                            t.headers[j]
                        );
                    }
                }
            }
        }
    }
}

/// FNV-1a over the Debug text of a lab's whole result (every f64 printed to round-trip):
/// a fingerprint of every number it computes.
fn fingerprint_text(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The dropout and focal labs' numbers, bit for bit as the serial loops computed them
/// before the trainings ran once each on rayon's threads: fingerprints taken from that
/// code, at the defaults and at one other setting each.
#[test]
fn dropout_and_focal_numbers_are_those_of_the_serial_loops() {
    let lab = |name: &str| -> &gradsheet_labs::Lab {
        gradsheet_concepts::LABS
            .iter()
            .find(|l| l.name == name)
            .unwrap()
    };
    let got = [
        fingerprint_text(&format!(
            "{:?}",
            gradsheet_concepts::dropout::run(&lab("dropout").params::<&str>(&[]).unwrap()).unwrap()
        )),
        fingerprint_text(&format!(
            "{:?}",
            gradsheet_concepts::dropout::run(
                &lab("dropout")
                    .params(&["p=0.3", "ps=0.3,0,0.6", "seed=4"])
                    .unwrap()
            )
            .unwrap()
        )),
        fingerprint_text(&format!(
            "{:?}",
            gradsheet_concepts::focal::run(&lab("focal").params::<&str>(&[]).unwrap()).unwrap()
        )),
        fingerprint_text(&format!(
            "{:?}",
            gradsheet_concepts::focal::run(&lab("focal").params(&["gamma=1", "seed=9"]).unwrap())
                .unwrap()
        )),
    ];
    let want: [u64; 4] = [
        0x9b35_5b15_59cd_8d76,
        0xeff7_8a2c_44d7_a018,
        0x971c_e84a_52d8_386a,
        0x174e_399a_9a14_0392,
    ];
    assert_eq!(got, want, "{got:#018x?}");
}
