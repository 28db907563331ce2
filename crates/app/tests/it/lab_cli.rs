//! End-to-end tests of `gradsheet lab`: the listing, each concept lab with its files
//! (CSV, JSON, SVG, PNG), a user image, and usage errors.

use std::path::Path;

use crate::common::{gradsheet, ok, path, stderr};

#[test]
fn without_a_name_it_lists_the_labs_and_their_settings() {
    let out = ok(&["lab"]);
    for name in ["dropout", "focal", "l1-l2", "upsampling", "gradients"] {
        assert!(
            out.contains(&format!("\n  {name} ")),
            "{name} missing from:\n{out}"
        );
    }
    assert!(out.contains("gamma=2"));
    assert!(out.contains("activation=relu"));
    assert!(out.contains("[relu|tanh|sigmoid|linear]"));
}

#[test]
fn focal_writes_csv_json_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, json) = (
        path(dir.path(), "focal.csv"),
        path(dir.path(), "focal.json"),
    );
    let plots = path(dir.path(), "plots");
    let out = ok(&[
        "lab",
        "focal",
        "gammas=0,2",
        "epochs=20",
        "negatives=100",
        "positives=5",
        "--csv",
        &csv,
        "--json",
        &json,
        "--plot",
        &plots,
    ]);
    assert!(
        out.contains("dFL/dp = alpha*gamma*(1-p)^(gamma-1)*LN(p)-alpha*(1-p)^gamma/p"),
        "{out}"
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("p,FL γ=0,FL γ=2,dFL/dp γ=0,dFL/dp γ=2"));
    // FL(0.5) = ln 2 with γ = 0 and ln 2/4 with γ = 2; the slopes -1/p = -2 and, by hand,
    // 2·0.5·ln 0.5 − 0.25/0.5 = −0.8465735902799727.
    let row = text.lines().find(|l| l.starts_with("0.5,")).unwrap();
    let cells: Vec<f64> = row.split(',').map(|c| c.parse().unwrap()).collect();
    assert_eq!(cells[1], std::f64::consts::LN_2);
    assert!((cells[2] - std::f64::consts::LN_2 / 4.0).abs() < 1e-16);
    assert_eq!(cells[3], -2.0);
    assert!((cells[4] - (0.5f64.ln() - 0.5)).abs() < 1e-15);
    // The second table goes beside the first.
    let toy = std::fs::read_to_string(path(dir.path(), "focal-toy.csv")).unwrap();
    assert!(toy.starts_with("loss,w,b,boundary x,"));
    assert!(toy.contains("\ncross-entropy,") && toy.contains("\nfocal,"));

    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["lab"], "focal");
    assert_eq!(v["settings"]["gammas"], "0,2");
    assert_eq!(v["tables"][0]["name"], "curves");
    assert_eq!(v["tables"][0]["rows"].as_array().unwrap().len(), 99);
    for f in ["focal-curves.svg", "focal-toy.svg"] {
        let svg = std::fs::read_to_string(Path::new(&plots).join(f)).unwrap();
        assert!(svg.starts_with("<svg xmlns="), "{f}");
    }
}

#[test]
fn upsampling_shows_the_checkerboard_and_writes_pngs() {
    let dir = tempfile::tempdir().unwrap();
    let plots = path(dir.path(), "up");
    let out = ok(&[
        "lab",
        "upsampling",
        "kernel=3",
        "stride=2",
        "--plot",
        &plots,
    ]);
    assert!(out.contains("checkerboard of period 2"), "{out}");
    let methods = out
        .lines()
        .find(|l| l.contains("transposed conv k=3 s=2"))
        .unwrap();
    // Output 57 = (28-1)·2 + 3 wide; period 2 in x and y.
    let cells: Vec<&str> = methods.split_whitespace().collect();
    let want = ["57", "57", "0.444444", "1.77778", "2", "2", "0.6"];
    assert!(cells.ends_with(&want), "{methods}");
    for f in [
        "upsampling-images.svg",
        "upsampling-profile.svg",
        "upsampling-input.png",
        "upsampling-transposed-constant.png",
    ] {
        assert!(Path::new(&plots).join(f).exists(), "{f}");
    }
    let png = std::fs::read(Path::new(&plots).join("upsampling-transposed.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");

    let out = ok(&["lab", "upsampling", "kernel=4", "stride=2"]);
    assert!(out.contains("leaves a constant image flat"), "{out}");
}

#[test]
fn upsampling_takes_a_user_png_and_scales_it_down() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.png");
    let (w, h) = (100usize, 80usize);
    let px: Vec<u8> = (0..w * h).map(|i| ((i % w) * 255 / w) as u8).collect();
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, w as u32, h as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().unwrap();
        wr.write_image_data(&px).unwrap();
    }
    std::fs::write(&file, bytes).unwrap();
    let out = ok(&["lab", "upsampling", "--image", &file.to_string_lossy()]);
    assert!(out.contains("(100×80), scaled down by 2 to 50×40"), "{out}");
    let nearest = out
        .lines()
        .find(|l| l.trim_start().starts_with("nearest"))
        .unwrap();
    assert!(
        nearest.contains(" 100 ") && nearest.contains(" 80 "),
        "{nearest}"
    );

    std::fs::write(&file, b"not a png").unwrap();
    let o = gradsheet(&["lab", "upsampling", "--image", &file.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a readable PNG"), "{}", stderr(&o));
}

#[test]
fn gradients_of_an_orthogonal_linear_stack_stay_steady() {
    let out = ok(&[
        "lab",
        "gradients",
        "depth=10",
        "width=16",
        "batch=4",
        "activation=linear",
        "init=orthogonal",
    ]);
    assert!(
        out.contains(
            "orthogonal: activations ×1.000e0 from input to top (steady), gradients ×1.000e0"
        ),
        "{out}"
    );
    let out = ok(&[
        "lab",
        "gradients",
        "depth=20",
        "width=32",
        "batch=8",
        "init=kaiming",
        "gain=2",
    ]);
    assert!(
        out.contains("kaiming ×2: activations") && out.contains("(explodes)"),
        "{out}"
    );
}

#[test]
fn l1_l2_and_dropout_run_with_small_settings() {
    let dir = tempfile::tempdir().unwrap();
    let csv = path(dir.path(), "l.csv");
    let out = ok(&["lab", "l1-l2", "samples=50", "--csv", &csv]);
    assert!(
        out.contains("L1 fits y = 0.434x + 2.216, L2 fits y = -0.008x + 4.944"),
        "{out}"
    );
    for f in ["l.csv", "l-losses.csv", "l-data.csv", "l-critic.csv"] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
    let out = ok(&[
        "lab",
        "dropout",
        "hidden=8",
        "steps=100",
        "ps=0,0.5",
        "ensemble=20",
        "--all",
    ]);
    assert!(
        out.contains("without the 1/(1-p) scaling, p = 0.5"),
        "{out}"
    );
    assert!(!out.contains("more rows"));
}

/// One set of defaults: the command line runs what the page runs (the same numbers the
/// web's parameter list gives as defaults).
#[test]
fn the_defaults_are_the_pages() {
    let out = ok(&["lab", "focal", "gammas=0,2"]);
    assert!(
        out.contains(" negatives=2000 ") && out.contains(" epochs=200 "),
        "{out}"
    );
    let listing = ok(&["lab"]);
    assert!(listing.contains("steps=500") && listing.contains("ensemble=200"));
}

#[test]
fn usage_errors_exit_with_2() {
    for (args, msg) in [
        (&["lab", "nope"][..], "no lab named 'nope'"),
        (
            &["lab", "gradients", "depth=0"][..],
            "depth: 0 is outside 1..500",
        ),
        (
            &["lab", "gradients", "depht=3"][..],
            "has no parameter 'depht'",
        ),
        (&["lab", "focal", "gamma"][..], "expected name=value"),
        (
            &["lab", "focal", "--image", "x.png"][..],
            "does not take --image",
        ),
    ] {
        let o = gradsheet(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(msg), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn concept_labs_export_xlsx_with_live_formulas() {
    use calamine::{open_workbook, DataType, Reader, Xlsx};
    let dir = tempfile::tempdir().unwrap();
    let file = path(dir.path(), "focal.xlsx");
    let out = ok(&["lab", "focal", "gammas=0,2", "--xlsx", &file]);
    assert!(out.contains("live formulas"), "{out}");
    let mut wb: Xlsx<_> = open_workbook(&file).unwrap();
    let formulas = wb.worksheet_formula("focal").unwrap();
    // Row 4 (p = 0.01): cross-entropy, then focal loss and its derivative per γ.
    let f = formulas.get_value((3, 4)).unwrap();
    assert!(f.contains("alpha") && f.contains("gamma_2"), "{f}");
    let values = wb.worksheet_range("focal").unwrap();
    let ce = values
        .get_value((3, 1))
        .and_then(|d| d.get_float())
        .unwrap();
    assert!((ce + 0.01f64.ln()).abs() < 1e-15, "{ce}");

    for lab in ["dropout", "l1-l2", "upsampling", "gradients"] {
        let file = path(dir.path(), &format!("{lab}.xlsx"));
        ok(&["lab", lab, "--xlsx", &file]);
        let bytes = std::fs::read(&file).unwrap();
        assert_eq!(&bytes[..2], b"PK", "{lab}");
    }
    let o = gradsheet(&["lab", "focal", "--version", "course22"]);
    assert_eq!(o.status.code(), Some(2));
    // --version stands for the setting version=, which focal does not have.
    assert!(
        stderr(&o).contains("the focal lab does not take --version"),
        "{}",
        stderr(&o)
    );
}
