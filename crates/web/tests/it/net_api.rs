//! `POST /api/net` and its download: the run as the command line trains it, frames the
//! page can draw, and bad input answered with a 400 naming the field.

use serde_json::json;

use crate::http::{encode, get, post};

#[test]
fn a_network_run_answers_frames_of_every_neuron() {
    let r = post(
        "/api/net",
        &json!({"dataset": "xor", "hidden": [4], "epochs": 20, "frames": 4, "grid": 10}),
    );
    assert_eq!(r.status, 200);
    let v = r.json();
    let names: Vec<&str> = v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["h1_1", "h1_2", "h1_3", "h1_4", "z", "pred"]);
    assert_eq!(v["cells"][0]["formula"], "TANH(w1_1_1*x1+w1_1_2*x2+b1_1)");
    assert_eq!(v["cells"][5]["layer"], 2);
    let frames = v["frames"].as_array().unwrap();
    assert_eq!(
        frames
            .iter()
            .map(|f| f["epoch"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [0, 5, 10, 15, 20]
    );
    for f in frames {
        assert_eq!(f["pictures"].as_array().unwrap().len(), 6);
        let p = &f["pictures"][5];
        assert_eq!(p["levels"].as_str().unwrap().len(), 100);
        // pred is a probability.
        assert!(
            p["lo"].as_f64().unwrap() >= 0.0 && p["hi"].as_f64().unwrap() <= 1.0,
            "{p}"
        );
    }
    assert_eq!(v["epochs"].as_array().unwrap().len(), 20);
    assert_eq!(
        v["train"].as_array().unwrap().len() + v["test"].as_array().unwrap().len(),
        500
    );
    assert_eq!(v["stop"], "completed");
    // The same run as `gradsheet net` (the same seed, data, weights, shuffle, optimizer):
    // its last weights are the frame's, and a neuron's formula has them in place.
    let last = frames.last().unwrap();
    let w = last["params"][0].as_f64().unwrap();
    assert!(last["formulas"][0]
        .as_str()
        .unwrap()
        .starts_with(&format!("TANH({}*x1+", gradsheet_engine::format_number(w))));
    // The first frame is the initial weights: no gradient yet.
    assert!(frames[0]["grads"]
        .as_array()
        .unwrap()
        .iter()
        .all(|g| g.as_f64() == Some(0.0)));
    assert!(last["grads"][0].as_f64().unwrap() > 0.0);
}

#[test]
fn bad_networks_are_400s_naming_the_field() {
    let bad = |body: serde_json::Value, field: &str, says: &str| {
        let r = post("/api/net", &body);
        assert_eq!(r.status, 400, "{body}");
        let v = r.json();
        assert_eq!(v["field"], field, "{v}");
        assert!(v["error"].as_str().unwrap().contains(says), "{v}");
    };
    bad(json!({"hidden": [0]}), "hidden", "has 0 neurons");
    bad(
        json!({"hidden": [1000000]}),
        "hidden",
        "at most 256 per layer",
    );
    bad(
        json!({"activation": ["swish"]}),
        "activation",
        "unknown activation",
    );
    bad(json!({"dataset": "donut"}), "dataset", "unknown dataset");
    bad(
        json!({"n": 4, "test_fraction": 0.75, "seed": 3}),
        "dataset",
        "nothing to separate",
    );
    bad(json!({"n": 1000000}), "n", "at most 2000 points");
    bad(json!({"epochs": 100000}), "epochs", "steps per request");
    bad(
        json!({"dataset": "plane", "loss": "logistic"}),
        "loss",
        "regression dataset",
    );
    bad(
        json!({"dataset": "spiral", "loss": "softmax"}),
        "loss",
        "gradsheet net --classes K",
    );
    bad(
        json!({"hidden": [16, 16, 16, 16, 16], "frames": 200, "grid": 60}),
        "frames",
        "the page takes",
    );
    bad(
        json!({"model": "h = TANH(a*x1+); pred = SIGMOID(h)"}),
        "model",
        "in the model",
    );
    bad(json!({"l2": -1}), "l2", "≥ 0");
    let r = post("/api/net", &json!({"layers": [3]}));
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"].as_str().unwrap().contains("layers"),
        "unknown fields are named"
    );
}

#[test]
fn the_trained_network_downloads_as_a_workbook() {
    let spec = json!({"dataset": "circle", "hidden": [3], "epochs": 5, "n": 40});
    let r = get(&format!(
        "/api/net/file/net.xlsx?spec={}",
        encode(&spec.to_string())
    ));
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-disposition")
        .unwrap_or_default()
        .contains("gradsheet-net.xlsx"));
    assert_eq!(&r.body[..2], b"PK");
    assert_eq!(get("/api/net/file/other.csv").status, 404);
}
