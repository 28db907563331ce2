//! End-to-end: `gradsheet explain`, `sweep`, `surface` and `collab`.

use crate::common::{gradsheet, stdout};

#[test]
fn explain_the_learners_two_neurons() {
    let o = gradsheet(&[
        "explain",
        "c*(a*x+b)+d",
        "--optimizer",
        "sgd",
        "--lr",
        "1e-4",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    assert!(
        out.contains("DIVERGED at step 28 (epoch 1, data row 28: x = 17, y = 64)"),
        "{out}"
    );
    assert!(
        out.contains("From step 25 on (epoch 1, data row 25: x = 99, y = 228)"),
        "{out}"
    );
    assert!(out.contains("lr·λ_max = 2.54 > 2"), "{out}");
    assert!(out.contains("(c·a)·x + (c·b + d)"), "{out}");
    assert!(out.contains("lower the learning rate to"), "{out}");
}

#[test]
fn explain_the_relu_variant_as_json() {
    let o = gradsheet(&["explain", "c*MAX(a*x+b,0)+d", "--lr", "1e-4", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["stop"]["kind"], "completed");
    assert_eq!(v["units"]["units"][0]["dead_from"], 27);
    assert_eq!(v["units"]["units"][0]["learning"], serde_json::json!(["d"]));
    assert_eq!(v["units"]["twin"]["diverges_at"], 28);
    assert_eq!(v["verdict"]["class"], "slow");
}

#[test]
fn explain_rejects_bad_input() {
    let o = gradsheet(&["explain", "c*(a*x+", "--lr", "1e-4"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn sweep_prints_and_writes_the_map() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("map.csv");
    let json = dir.path().join("map.json");
    let svg = dir.path().join("map.svg");
    let o = gradsheet(&[
        "sweep",
        "a*x+b",
        "--epochs",
        "100",
        "--x-axis",
        "lr=1e-9,1e-4,1e-3",
        "--y-axis",
        "init=1,0.5",
        "--csv",
        csv.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--plot",
        svg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    assert!(out.contains("\n   1  +#x\n 0.5  +#x\n"), "{out}");
    // The summary is prose, wrapped to the terminal: read it with its breaks as spaces.
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("6 runs of sgd (lr 0.0001) in"), "{out}");
    assert!(
        flat.contains("2 converged, 2 slow, 0 oscillating, 2 diverged"),
        "{out}"
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(
        text.starts_with("lr,init,class,final_error,diverged_at\n"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 7);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["cells"].as_array().unwrap().len(), 6);
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    // A setting the optimizer lacks is a usage error.
    let o = gradsheet(&[
        "sweep",
        "a*x+b",
        "--x-axis",
        "lr=1e-4",
        "--y-axis",
        "beta2=0.9",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn surface_prints_and_writes_the_landscape() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("s.csv");
    let json = dir.path().join("s.json");
    let png = dir.path().join("s.png");
    let o = gradsheet(&[
        "surface",
        "a*x+b",
        "--x-axis",
        "a=1..3:3",
        "--y-axis",
        "b=20..40:3",
        "--csv",
        csv.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--plot",
        png.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    // The graddesc data are y = 2x + 30 exactly.
    assert!(
        out.contains("lowest mean error 0 at a = 2, b = 30 (over 29 rows)"),
        "{out}"
    );
    assert!(out.contains("3 × 3 points × 29 rows in"), "{out}");
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "a,b,mean_error");
    assert_eq!(lines.len(), 10);
    assert_eq!(lines[5], "2,30,0");
    // At a = 1, b = 20 each row is off by x + 10: the mean of (x + 10)², summed in row
    // order as the engine sums.
    let x = gradsheet_engine::Dataset::graddesc().column("x").unwrap();
    let expect = x.iter().map(|x| (x + 10.0) * (x + 10.0)).sum::<f64>() / x.len() as f64;
    let got: f64 = lines[1].strip_prefix("1,20,").unwrap().parse().unwrap();
    assert_eq!(got, expect);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["mean_error"][1][1], 0.0);
    assert_eq!(v["x"]["param"], "a");
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    // An axis that is not a parameter is a usage error that names the parameters.
    let o = gradsheet(&[
        "surface", "a*x+b", "--x-axis", "w=0..1", "--y-axis", "b=0..1",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--x-axis names 'w', which is not a parameter (the parameters are a, b)"),
        "{err}"
    );
}

#[test]
fn collab_trains_on_a_movielens_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("u.data");
    // MovieLens-100k's format: user, item, rating, timestamp, tab-separated. Tastes of
    // two kinds, so that factors have something to learn.
    let mut text = String::new();
    for u in 0..40 {
        for i in 0..30 {
            if (u * 7 + i * 3) % 4 != 0 {
                let r = if (u % 2 == 0) == (i % 2 == 0) { 5 } else { 1 };
                text.push_str(&format!("{}\t{}\t{r}\t88125{u}{i}\n", 100 + u, 500 + i));
            }
        }
    }
    std::fs::write(&data, &text).unwrap();
    let csv = dir.path().join("epochs.csv");
    let o = gradsheet(&[
        "collab",
        "--ratings",
        data.to_str().unwrap(),
        "--k",
        "4",
        "--batch",
        "16",
        "--epochs",
        "8",
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    assert!(
        out.contains("40 users, 30 items; 720 ratings to train on, 180 held out"),
        "{out}"
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "epoch,train_mse,valid_mse,seconds");
    assert_eq!(lines.len(), 9);
    let field = |l: &str, k: usize| l.split(',').nth(k).unwrap().parse::<f64>().unwrap();
    let (first, last) = (lines[1], lines[8]);
    assert!(field(last, 1) < field(first, 1) / 2.0, "{text}");
    assert!(field(last, 2) < field(first, 2), "{text}");
    // SparseAdam (only the rows a batch touched move) learns the tastes too, and says
    // it is the rule; it has no weight decay.
    let file = data.to_str().unwrap();
    let args = ["collab", "--ratings", file, "--k", "4", "--batch", "16"];
    let o = gradsheet(
        &[
            &args[..],
            &["--epochs", "8", "--sparse", "--csv", csv.to_str().unwrap()],
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains("SparseAdam lr 0.01"), "{}", stdout(&o));
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(field(lines[8], 1) < field(lines[1], 1) / 2.0, "{text}");
    assert!(field(lines[8], 2) < field(lines[1], 2), "{text}");
    let err = crate::common::usage_error(&[&args[..], &["--sparse", "--wd", "0.1"]].concat());
    assert!(err.contains("SparseAdam has no weight decay"), "{err}");
    // A bad line is named.
    std::fs::write(&data, "1\t2\t3\n1\t2\tfive\n").unwrap();
    let o = gradsheet(&["collab", "--ratings", data.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("line 2, third field: 'five' is not a rating"),
        "{err}"
    );
}

/// Every size a user controls is bounded before memory is taken, with a message naming
/// the limit: sweep grids (the 100,000 × 100,000 map allocated until it aborted),
/// sweep threads, generated rows, collab's factor tables, and data files.
#[test]
fn sizes_the_user_controls_are_bounded_naming_the_limit() {
    let refused = |args: &[&str], want: &str| {
        let o = gradsheet(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    };
    refused(
        &[
            "sweep",
            "a*x+b",
            "--x-axis",
            "lr=1e-6..1e-3:100000",
            "--y-axis",
            "beta1=0..0.99:100000",
        ],
        "the axis 'lr=1e-6..1e-3:100000' has 100000 values; an axis has at most 4096",
    );
    refused(
        &[
            "sweep",
            "a*x+b",
            "--x-axis",
            "lr=1e-6..1e-3:1000",
            "--y-axis",
            "beta1=0..0.99:1000",
        ],
        "the map would have 1000 × 1000 = 1000000 cells; a map has at most 262144",
    );
    refused(
        &[
            "sweep",
            "a*x+b",
            "--x-axis",
            "lr=1e-6..1e-3:2",
            "--y-axis",
            "beta1=0..0.99:2",
            "--threads",
            "100000",
        ],
        "--threads 100000: from 1 to 256",
    );
    refused(
        &[
            "train",
            "a*x+b",
            "--target",
            "2*x+30",
            "--n",
            "100000000000",
        ],
        "--n 100000000000: at most 5000000 generated rows",
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("many.csv");
    let text: String = (0..20_000).map(|k| format!("u{k},m{k},3\n")).collect();
    std::fs::write(&data, text).unwrap();
    refused(
        &["collab", "--ratings", data.to_str().unwrap(), "--k", "1024"],
        "--k 1024 with 20000 users and 20000 items needs 1250 MiB of factor tables; the most is 1024 MiB",
    );
    refused(
        &["collab", "--ratings", "/dev/zero"],
        "/dev/zero: line 1 is longer than 1 MiB, the most gradsheet reads in one line",
    );
}
