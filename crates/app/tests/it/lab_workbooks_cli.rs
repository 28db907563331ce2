//! End-to-end tests of the workbook labs of `gradsheet lab`: every lab prints its
//! table; --csv, --xlsx and --plot write their files; bad names and options exit 2.

use crate::common::{course22, ok, path as p, usage_error};

/// Without course22's numbers (not shipped; the shared folder has them) a lab that needs
/// them exits 2 saying where to get them; with them, `then` checks its output.
fn needs_course22(args: &[&str]) -> bool {
    if course22().is_some() {
        return true;
    }
    assert!(usage_error(args).contains("GRADSHEET_COURSE22"), "{args:?}");
    false
}

const LABS: [&str; 10] = [
    "entropy",
    "mom_bias",
    "conv",
    "collab",
    "titanic",
    "layers",
    "broadcasting",
    "style_loss",
    "emb_sizing",
    "emb_results",
];

#[test]
fn the_listing_names_every_workbook_lab() {
    let out = ok(&["lab"]);
    for name in LABS {
        assert!(
            out.contains(&format!("  {name} ")),
            "{name} missing:\n{out}"
        );
    }
}

#[test]
fn every_lab_prints_its_table() {
    let expect = [
        ("entropy", "0.0804868"),
        ("mom_bias", "debiased"),
        ("conv", "output 1814.91772207"),
        ("collab", "saved dotprod RMSE 0.3930154713"),
        ("titanic", "linear loss 0.1442271493"),
        ("layers", "softmax"),
        ("broadcasting", "outer product"),
        ("style_loss", "Gram matrix"),
        ("emb_sizing", "262144"),
        ("emb_results", "pivot"),
    ];
    for (name, text) in expect {
        if name == "titanic" && !needs_course22(&["lab", name]) {
            continue;
        }
        let out = ok(&["lab", name]);
        assert!(out.starts_with(&format!("lab {name}: ")), "{out}");
        assert!(out.contains(text), "{name}: no '{text}' in\n{out}");
        assert!(out.contains("---"), "{name}: no table");
    }
}

#[test]
fn versions_and_training_options() {
    let out = ok(&["lab", "entropy", "--version", "course22"]);
    assert!(out.contains("version: course22") && out.contains("cross-entropy:"));
    if needs_course22(&["lab", "conv", "--version", "course22"]) {
        let out = ok(&["lab", "conv", "--version", "course22"]);
        assert!(out.contains("output 258.7376267"));
    }
    let out = ok(&[
        "lab", "collab", "--train", "lbfgs", "--seed", "3", "--epochs", "50",
    ]);
    assert!(out.contains("lbfgs from seed 3"), "{out}");
    let titanic = ["lab", "titanic", "--fit", "gd", "--epochs", "20"];
    if needs_course22(&titanic) {
        let out = ok(&titanic);
        assert!(out.contains("gd from seed 0"), "{out}");
        // The saved Solver models' accuracy, as the sheet's users read it.
        assert!(
            out.contains("linear 79.8% (568 of 712), nnet 80.6% (574 of 712)"),
            "{out}"
        );
    }
}

#[test]
fn files_csv_xlsx_and_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let have22 = course22().is_some();
    for name in LABS {
        if name == "titanic" && !have22 {
            continue;
        }
        let csv = p(d, &format!("{name}.csv"));
        let xlsx = p(d, &format!("{name}.xlsx"));
        let plots = p(d, "plots");
        let mut args = vec![
            "lab", name, "--csv", &csv, "--xlsx", &xlsx, "--plot", &plots,
        ];
        if name == "collab" || name == "titanic" {
            args.extend(["--epochs", "30"]);
        }
        ok(&args);
        let text = std::fs::read_to_string(&csv).unwrap();
        assert!(text.lines().count() >= 2, "{name}: {text}");
        let bytes = std::fs::read(&xlsx).unwrap();
        assert_eq!(&bytes[..2], b"PK", "{name}");
    }
    // CSV keeps every digit.
    let text = std::fs::read_to_string(d.join("entropy.csv")).unwrap();
    assert!(text.contains("cat,0.021789294543326676,"), "{text}");
    // The xlsx holds live formulas.
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook(d.join("entropy.xlsx")).expect("an xlsx");
    use calamine::Reader;
    let f = wb.worksheet_formula("softmax").unwrap();
    assert!(f.used_cells().any(|(_, _, s)| s.contains("EXP(")));
    // Pictures: SVG with the series' names, PNGs that decode.
    let plots = d.join("plots");
    let svg = std::fs::read_to_string(plots.join("mom_bias-ema.svg")).unwrap();
    for s in ["value", "ema", "bias-corrected"] {
        assert!(svg.contains(s), "mom_bias-ema.svg lacks {s}");
    }
    let svg = std::fs::read_to_string(plots.join("conv-layers.svg")).unwrap();
    assert!(svg.matches("<rect").count() > 28 * 28);
    for f in [
        "entropy-softmax.png",
        "entropy-bce.svg",
        "collab-training.png",
        "titanic-training.svg",
        "conv-layers-input.png",
        "conv-layers-maxpool-2.png",
        "layers-weights.svg",
        "broadcasting-grids.svg",
        "style_loss-grids-gram.png",
        "emb_sizing.png",
        "emb_results.svg",
    ] {
        if f.starts_with("titanic") && !have22 {
            continue;
        }
        let bytes = std::fs::read(plots.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        if f.ends_with(".png") {
            let dec = png::Decoder::new(std::io::Cursor::new(bytes));
            let info = dec.read_info().unwrap().info().clone();
            assert!(info.width > 0 && info.height > 0, "{f}");
        } else {
            assert!(String::from_utf8(bytes).unwrap().contains("</svg>"), "{f}");
        }
    }
}

#[test]
fn bad_names_and_options_exit_2() {
    let err = usage_error(&["lab", "no-such-lab"]);
    for name in LABS {
        assert!(err.contains(name), "{name} not listed: {err}");
    }
    assert!(usage_error(&["lab", "mom_bias", "--version", "course22"]).contains("one version"));
    assert!(usage_error(&["lab", "entropy", "--version", "2019"]).contains("unknown version"));
    assert!(usage_error(&["lab", "collab", "--train", "newton"]).contains("adam"));
    assert!(usage_error(&["lab", "titanic", "--fit", "newton"]).contains("lbfgs"));
    assert!(usage_error(&["lab", "entropy", "--seed", "1"]).contains("--seed"));
    // The workbook labs take settings like every lab: an unknown one is named, with the
    // lab's own.
    let err = usage_error(&["lab", "entropy", "beta=1"]);
    assert!(
        err.contains("has no parameter 'beta'") && err.contains("version"),
        "{err}"
    );
    let out = ok(&["lab", "collab", "train=lbfgs", "seed=3", "epochs=50"]);
    assert!(out.contains("lbfgs from seed 3"), "{out}");
}
