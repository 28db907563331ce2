//! `gradsheet net` end to end: the printed cells read back, the same run natively and on
//! the interpreter, the step table's neurons and adjoints, the accuracy the README states,
//! and bad input refused with the field named.

use crate::common::{ok, usage_error};

fn json(args: &[&str]) -> serde_json::Value {
    let out = ok(args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// What `--print` prints, pasted back with `--model-file`, trains to the same numbers.
#[test]
fn printed_cells_paste_back_as_the_same_network() {
    let dir = tempfile::tempdir().unwrap();
    let text = ok(&[
        "net",
        "--dataset",
        "xor",
        "--net",
        "2-4-3-1",
        "--activation",
        "relu,tanh",
        "--print",
    ]);
    assert!(
        text.starts_with("h1_1 = RELU(w1_1_1*x1+w1_1_2*x2+b1_1)\n"),
        "{text}"
    );
    assert!(
        text.contains("\nh2_3 = TANH(w2_3_1*h1_1+w2_3_2*h1_2+w2_3_3*h1_3+w2_3_4*h1_4+b2_3)\n"),
        "{text}"
    );
    assert!(text.ends_with("pred = SIGMOID(z)\n"), "{text}");
    let file = dir.path().join("net.txt");
    std::fs::write(&file, &text).unwrap();
    let a = json(&[
        "net",
        "--dataset",
        "xor",
        "--net",
        "2-4-3-1",
        "--activation",
        "relu,tanh",
        "--epochs",
        "3",
        "--json",
    ]);
    let b = json(&[
        "net",
        "--dataset",
        "xor",
        "--model-file",
        file.to_str().unwrap(),
        "--epochs",
        "3",
        "--json",
    ]);
    assert_eq!(a["network"]["params"], b["network"]["params"]);
    assert_eq!(a["network"]["final"], b["network"]["final"]);
    assert_eq!(a["epochs"], b["epochs"]);
    // A cell's formula with its trained weights in place reads back as a formula.
    let cell = &a["network"]["cells"][0];
    assert_eq!(cell["name"], "h1_1");
    let trained = cell["trained"].as_str().unwrap();
    assert!(
        trained.starts_with("RELU(") && !trained.contains("w1_1_1"),
        "{trained}"
    );
    gradsheet_engine::parse(trained).unwrap();
}

/// Recording every step runs on the interpreter; epochs only, on native code: the same
/// run either way, bit for bit.
#[test]
fn the_interpreter_and_native_code_train_the_same_network() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("steps.csv");
    let args = [
        "net",
        "--dataset",
        "circle",
        "--net",
        "2-5-4-1",
        "--epochs",
        "4",
        "--optimizer",
        "adam",
        "--lr",
        "0.01",
        "--json",
    ];
    let native = json(&args);
    let mut with_steps = args.to_vec();
    with_steps.extend(["--csv", csv.to_str().unwrap()]);
    let interpreted = json(&with_steps);
    assert_eq!(native["network"]["final"], interpreted["network"]["final"]);
    assert_eq!(native["epochs"], interpreted["epochs"]);
}

/// The step table: one row per step, each neuron's value and adjoint; the adjoints are the
/// chain rule's (for the logistic loss ∂err/∂z = σ(z) − y), and the values are the cells'.
#[test]
fn the_step_table_holds_every_neuron_and_its_adjoint() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("steps.csv");
    let run = json(&[
        "net",
        "--net",
        "2-2-1",
        "--epochs",
        "2",
        "--n",
        "40",
        "--csv",
        csv.to_str().unwrap(),
        "--json",
    ]);
    let names: Vec<&str> = run["network"]["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let init: Vec<f64> = run["network"]["init"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let w = |n: &str| init[names.iter().position(|p| *p == n).unwrap()];
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "step,epoch,row,x1,x2,y,h1_1,h1_2,z,pred,d_h1_1,d_h1_2,d_z,d_pred,err"
    );
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 2 * 20);
    for r in &rows {
        let (y, z, pred, dz, err) = (r[5], r[8], r[9], r[12], r[14]);
        assert!((pred - 1.0 / (1.0 + (-z).exp())).abs() < 1e-15, "{r:?}");
        assert!((dz - (pred - y)).abs() < 1e-15, "{r:?}");
        let bce = -(y * pred.ln() + (1.0 - y) * (1.0 - pred).ln());
        assert!((err - bce).abs() < 1e-12, "{r:?}");
        // z = w·h + b: ∂err/∂h = ∂err/∂z · w, so the adjoints of the two units stand in
        // the ratio of their weights, whose signs xavier drew apart or alike; both vanish
        // with ∂err/∂z.
        assert_eq!(dz == 0.0, r[10] == 0.0 && r[11] == 0.0, "{r:?}");
    }
    // Step 1 is at the initial weights: the cells and the chain rule by hand.
    let r = &rows[0];
    let h1 = (w("w1_1_1") * r[3] + w("w1_1_2") * r[4] + w("b1_1")).tanh();
    assert!((r[6] - h1).abs() < 1e-15, "{r:?}");
    assert!((r[10] - r[12] * w("w2_1_1")).abs() < 1e-15, "{r:?}");
    assert!((r[11] - r[12] * w("w2_1_2")).abs() < 1e-15, "{r:?}");
    assert_eq!(rows[0][0], 1.0);
    assert_eq!(rows[39][1], 2.0);
}

/// The figures of the README's example.
#[test]
fn xor_and_circle_reach_the_playground_accuracy() {
    for dataset in ["xor", "circle"] {
        let out = json(&["net", "--dataset", dataset, "--json"]);
        let last = out["epochs"].as_array().unwrap().last().unwrap().clone();
        let acc = last["test"]["accuracy"].as_f64().unwrap();
        assert!(acc >= 0.95, "{dataset}: {acc}");
        assert_eq!(last["epoch"], 50);
    }
    let out = json(&[
        "net",
        "--dataset",
        "spiral",
        "--features",
        "x1,x2,sinx1,sinx2",
        "--net",
        "4-8-8-8-1",
        "--epochs",
        "200",
        "--json",
    ]);
    let last = out["epochs"].as_array().unwrap().last().unwrap().clone();
    assert!(last["test"]["accuracy"].as_f64().unwrap() >= 0.9, "{last}");
}

#[test]
fn explain_names_collapse_and_vanishing_gradients() {
    let out = ok(&[
        "net",
        "--activation",
        "linear",
        "--loss",
        "squared",
        "--epochs",
        "2",
    ]);
    assert!(
        out.contains("layers 1–3 are linear: their 88 weights act as 2 numbers (one 1×2 matrix)"),
        "{out}"
    );
    let out = ok(&[
        "net",
        "--net",
        "2-8-8-8-8-8-8-1",
        "--activation",
        "sigmoid",
        "--epochs",
        "1",
    ]);
    assert!(
        out.contains("vanishing gradients: in epoch 1, layer 1's gradient is 1/"),
        "{out}"
    );
}

#[test]
fn bad_input_is_refused_naming_the_setting() {
    let e = usage_error(&["net", "--net", "2-0-1"]);
    assert_eq!(e, "error: --net: layer 2 of \"2-0-1\" has 0 neurons\n");
    let e = usage_error(&["net", "--net", "2-1000000-1"]);
    assert!(e.contains("at most 256 per layer"), "{e}");
    let e = usage_error(&["net", "--activation", "swish"]);
    assert!(
        e.starts_with("error: --activation: unknown activation \"swish\""),
        "{e}"
    );
    let e = usage_error(&["net", "--dataset", "donut"]);
    assert!(e.starts_with("error: --dataset: unknown dataset"), "{e}");
    let e = usage_error(&["net", "--n", "4", "--test-fraction", "0.75", "--seed", "3"]);
    assert!(e.contains("nothing to separate"), "{e}");
    let e = usage_error(&["net", "--noise", "NaN"]);
    assert!(e.contains("noise"), "{e}");
    let e = usage_error(&["net", "--model", "h = TANH(a*x1+*b); pred = SIGMOID(h)"]);
    let text = "h = TANH(a*x1+*b); pred = SIGMOID(h)";
    let caret = 2 + text.find("+*").unwrap() + 1;
    assert_eq!(
        e,
        format!(
            "error: in the model text:\n  {text}\n{}^ expected an expression, found '*'\n",
            " ".repeat(caret)
        )
    );
    let e = usage_error(&["net", "--dataset", "plane", "--loss", "logistic"]);
    assert!(e.contains("plane is regression data"), "{e}");
    // Softmax over one output has nothing to normalise.
    let e = usage_error(&["net", "--loss", "softmax", "--net", "2-8-1"]);
    assert!(
        e.contains("the softmax loss needs one score per class, 2 to 10"),
        "{e}"
    );
    // Without --net the shape follows the features (3-8-8-1); a given one is checked.
    let e = usage_error(&["net", "--features", "x1,x2,sinx1", "--net", "2-8-8-1"]);
    assert!(
        e.contains("\"2-8-8-1\" starts with 2 inputs, but there are 3 features"),
        "{e}"
    );
}

/// The workbook holds the trained weights by name and a live formula per neuron and per
/// backprop column, cached with the engine's values.
#[test]
fn the_workbook_holds_the_trained_network() {
    use calamine::{open_workbook, Data, DataType, Reader, Xlsx};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("net.xlsx");
    let run = json(&[
        "net",
        "--net",
        "2-3-1",
        "--n",
        "20",
        "--epochs",
        "3",
        "--xlsx",
        path.to_str().unwrap(),
        "--json",
    ]);
    let mut wb: Xlsx<_> = open_workbook(&path).unwrap();
    assert_eq!(wb.sheet_names(), ["Network", "Weights"]);
    let w = wb.worksheet_range("Weights").unwrap();
    let fin = run["network"]["final"].as_array().unwrap();
    assert_eq!(w.get_value((1, 0)), Some(&Data::String("w1_1_1".into())));
    assert_eq!(
        w.get_value((1, 1)).and_then(|d| d.as_f64()),
        fin[0].as_f64()
    );
    let f = wb.worksheet_formula("Network").unwrap();
    let text: Vec<String> = f
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert!(
        text.iter()
            .any(|t| t.starts_with("TANH(w1_1_1*B2+w1_1_2*C2+b1_1)")),
        "{text:?}"
    );
    let n = wb.worksheet_range("Network").unwrap();
    assert_eq!(n.height(), 1 + 10);
}

/// The learner's own rows: every column but y a feature, split with the seed; a value that
/// is not a number is named by row and column.
#[test]
fn a_network_trains_on_the_learners_own_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.csv");
    let mut text = String::from("size,age,y\n");
    for i in 0..60 {
        let (a, b) = ((i % 10) as f64 - 4.5, (i / 10) as f64 - 2.5);
        text.push_str(&format!("{a},{b},{}\n", u8::from(a > 0.0)));
    }
    std::fs::write(&path, &text).unwrap();
    let v = json(&[
        "net",
        "--data",
        path.to_str().unwrap(),
        "--net",
        "2-3-1",
        "--epochs",
        "40",
        "--json",
    ]);
    assert_eq!(
        v["dataset"]["columns"],
        serde_json::json!(["size", "age", "y"])
    );
    assert_eq!(v["dataset"]["train_rows"], 30);
    assert_eq!(
        v["network"]["cells"][0]["formula"],
        "TANH(w1_1_1*size+w1_1_2*age+b1_1)"
    );
    let last = v["epochs"].as_array().unwrap().last().unwrap().clone();
    assert!(last["test"]["accuracy"].as_f64().unwrap() >= 0.9, "{last}");
    std::fs::write(&path, "size,y\n1,0\n2,1\nfoo,0\n3,1\n").unwrap();
    let e = usage_error(&["net", "--data", path.to_str().unwrap(), "--net", "1-2-1"]);
    assert!(e.contains("row 4") && e.contains("size"), "{e}");
    std::fs::write(&path, "size,y\n1,0\n2,1\nNaN,0\n3,1\n").unwrap();
    let e = usage_error(&["net", "--data", path.to_str().unwrap(), "--net", "1-2-1"]);
    assert!(
        e.ends_with("row 4, column size: NaN is not a number a network can read\n"),
        "{e}"
    );
}

/// Several classes: `--classes 4` on gauss trains a 2-8-8-4 network (the default shape
/// for the softmax loss) to the README's accuracy; the cells show a score per class, the
/// largest, and the class of the largest; wrong shapes and losses are refused by name.
#[test]
fn several_classes_train_with_the_softmax_loss() {
    let out = json(&[
        "net",
        "--dataset",
        "gauss",
        "--classes",
        "4",
        "--epochs",
        "20",
        "--json",
    ]);
    assert_eq!(out["network"]["loss"], "softmax");
    let names: Vec<&str> = out["network"]["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(&names[16..], ["z_1", "z_2", "z_3", "z_4", "zmax", "pred"]);
    let last = out["epochs"].as_array().unwrap().last().unwrap().clone();
    assert!(last["test"]["accuracy"].as_f64().unwrap() >= 0.95, "{last}");

    let e = usage_error(&["net", "--dataset", "circle", "--classes", "3"]);
    assert!(e.contains("--classes: circle has two classes"), "{e}");
    let e = usage_error(&[
        "net",
        "--dataset",
        "spiral",
        "--classes",
        "3",
        "--net",
        "2-8-2",
    ]);
    assert!(
        e.contains("ends with 2 scores, but spiral has 3 classes"),
        "{e}"
    );
    let e = usage_error(&[
        "net",
        "--dataset",
        "spiral",
        "--classes",
        "3",
        "--loss",
        "logistic",
    ]);
    assert!(e.contains("use --loss softmax"), "{e}");
    let e = usage_error(&["net", "--dataset", "sine", "--loss", "softmax"]);
    assert!(e.contains("regression data"), "{e}");
}

/// Each finding's remedy is re-run, not merely suggested: dead ReLU units come back with
/// leaky_relu, a linear stack learns the circle with tanh, a diverging run is finite at a
/// tenth of its learning rate — and a diverging step names the cell it starts from.
#[test]
fn remedies_are_re_run_and_judged() {
    let remedy = |out: &serde_json::Value, change: &str| {
        out["explain"]["remedies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["change"] == change)
            .unwrap_or_else(|| panic!("no {change} in {}", out["explain"]))
            .clone()
    };
    let relu = json(&[
        "net",
        "--activation",
        "relu",
        "--lr",
        "0.3",
        "--epochs",
        "30",
        "--json",
    ]);
    assert!(relu["explain"]["findings"][0]
        .as_str()
        .unwrap()
        .contains("ReLU units are dead"));
    let leaky = remedy(&relu, "--activation leaky_relu");
    assert_eq!(leaky["helps"], true, "{leaky}");
    assert_eq!(leaky["after"]["dead_units"], 0, "{leaky}");
    assert!(
        leaky["after"]["accuracy"].as_f64().unwrap() >= 0.95,
        "{leaky}"
    );

    let linear = json(&["net", "--activation", "linear", "--epochs", "20", "--json"]);
    let tanh = remedy(&linear, "--activation tanh");
    assert_eq!(tanh["helps"], true, "{tanh}");
    assert!(
        tanh["after"]["accuracy"].as_f64().unwrap() >= 0.95,
        "{tanh}"
    );

    let wild = json(&[
        "net",
        "--dataset",
        "sine",
        "--lr",
        "1",
        "--epochs",
        "20",
        "--json",
    ]);
    let d = &wild["stop"]["diverged"];
    assert!(
        d["where"]
            .as_str()
            .unwrap()
            .starts_with("where it starts: on that row the largest gradient flows back through h"),
        "{d}"
    );
    let calm = remedy(&wild, "--lr 0.1");
    assert_eq!(calm["finding"], serde_json::Value::Null, "{calm}");
    assert_eq!(
        (calm["helps"].clone(), calm["after"]["diverged"].clone()),
        (true.into(), false.into())
    );
    let text = ok(&["net", "--dataset", "sine", "--lr", "1", "--epochs", "20"]);
    assert!(
        text.contains("tried --lr 0.1: helps (re-run: diverged → loss "),
        "{text}"
    );
}

/// `--dropout 0.5`: the step table shows each unit's mask (0 or 2) beside its value, which
/// is 0 where the unit was dropped; the probability is checked.
#[test]
fn dropout_masks_are_columns_of_the_step_table() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("steps.csv");
    ok(&[
        "net",
        "--dropout",
        "0.5",
        "--epochs",
        "2",
        "--csv",
        csv.to_str().unwrap(),
    ]);
    let mut r = csv::Reader::from_path(&csv).unwrap();
    let head: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let col = |n: &str| head.iter().position(|h| h == n).unwrap();
    let (m, h) = (col("m1_3"), col("h1_3"));
    let (mut dropped, mut rows) = (0, 0);
    for rec in r.records() {
        let rec = rec.unwrap();
        let mask: f64 = rec[m].parse().unwrap();
        let value: f64 = rec[h].parse().unwrap();
        assert!(mask == 0.0 || mask == 2.0, "{mask}");
        if mask == 0.0 {
            assert_eq!(value, 0.0);
            dropped += 1;
        }
        rows += 1;
    }
    assert_eq!(rows, 500);
    assert!((150..350).contains(&dropped), "{dropped} of {rows}");
    let e = usage_error(&["net", "--dropout", "0.99"]);
    assert!(e.contains("between 0 and 0.95"), "{e}");
}
