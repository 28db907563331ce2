//! The JSON API over real HTTP: answers, limits and error bodies.

use serde_json::json;

use crate::http::{get, post, request, server};

#[test]
fn index_and_assets_are_served() {
    let r = get("/");
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/html"));
    assert!(String::from_utf8_lossy(&r.body).contains("graddesc lab"));
    for a in ["app.js", "charts.js", "style.css", "favicon.svg"] {
        assert_eq!(get(&format!("/assets/{a}")).status, 200, "{a}");
    }
    // Every module a module imports is served, as JavaScript.
    let mut todo = vec!["app.js".to_string()];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(m) = todo.pop() {
        if !seen.insert(m.clone()) {
            continue;
        }
        let r = get(&format!("/assets/{m}"));
        assert_eq!(r.status, 200, "{m} is imported but not served");
        assert!(r
            .header("content-type")
            .unwrap_or_default()
            .starts_with("text/javascript"));
        let text = String::from_utf8_lossy(&r.body).into_owned();
        for line in text.lines().filter(|l| l.starts_with("import ")) {
            let target = line
                .rsplit("from \"./")
                .next()
                .and_then(|t| t.split('"').next());
            todo.push(target.unwrap_or_default().to_string());
        }
    }
    assert!(seen.len() >= 12, "{seen:?}");
    assert_eq!(get("/assets/nothing.js").status, 404);
    assert_eq!(get("/nowhere").status, 404);
}

#[test]
fn formula_gives_parameters_and_derivatives() {
    let r = post("/api/formula", &json!({"model": "c*MAX(a*x+b,0)+d"}));
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["params"], json!(["c", "a", "b", "d"]));
    // One derivative for each parameter, in the parameters' order (they are made in
    // parallel).
    let order: Vec<_> = v["derivatives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["param"].clone())
        .collect();
    assert_eq!(json!(order), v["params"]);
    assert_eq!(
        v["derivatives"][1]["excel"],
        "=2*(c*MAX(a*x+b,0)+d-y)*c*IF(a*x+b>=0,x,0)"
    );
    assert_eq!(
        v["derivatives"][1]["math"],
        "2·(c·max(a·x + b, 0) + d − y)·c·(x if a·x + b ≥ 0 else 0)"
    );
}

#[test]
fn a_broken_formula_is_located() {
    let r = post("/api/formula", &json!({"model": "a*x+"}));
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!(v["field"], "model");
    assert_eq!(v["span"], json!([4, 4]));
    assert_eq!(
        v["caret"],
        "a*x+\n    ^ expected an expression, found the end of the formula"
    );
    // Spans count characters, not bytes, so the page can place the caret.
    let v = post("/api/formula", &json!({"model": "β*x+"})).json();
    assert_eq!(v["span"], json!([4, 4]));
    let v = post("/api/formula", &json!({"model": "a*x", "loss": "(pred-y"})).json();
    assert_eq!(v["field"], "loss");
}

#[test]
fn a_graddesc_run() {
    let r = post(
        "/api/train",
        &json!({"hyper": {"lr": 1e-4}, "epochs": 100, "show_fd": true, "contours": {}}),
    );
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["steps"]["rows"].as_array().map(Vec::len), Some(29));
    assert_eq!(v["steps"]["headers"][8], "fd de/da");
    assert_eq!(v["steps"]["rows"][0][4], json!(15.0));
    assert_eq!(v["steps_taken"], 2900);
    assert_eq!(v["epochs"].as_array().map(Vec::len), Some(100));
    assert_eq!(v["stop"]["kind"], "completed");
    assert_eq!(v["contours"]["params"], json!(["a", "b"]));
}

#[test]
fn a_diverging_run_reports_infinities_as_strings() {
    let v = post("/api/train", &json!({"hyper": {"lr": 0.01}, "epochs": 50})).json();
    assert_eq!(v["stop"]["kind"], "diverged");
    assert!(v["diagnosis"]["headline"]
        .as_str()
        .unwrap_or_default()
        .contains("diverged"));
    let v = post("/api/train", &json!({"hyper": {"lr": 1e200}, "epochs": 3})).json();
    let text = v.to_string();
    assert!(
        text.contains("\"Infinity\"") || text.contains("\"-Infinity\"") || text.contains("\"NaN\""),
        "{text}"
    );
}

#[test]
fn limits_answer_4xx_with_a_message() {
    let cases = [
        (json!({"epochs": 1_000_000_000_000u64}), "epochs"),
        (json!({"hyper": {"lr": -1}}), "lr"),
        (json!({"epochs": 0}), "epochs"),
        (json!({"model": "a*".repeat(600)}), "model"),
        (
            json!({"data": {"source": "target", "target": "2*x", "n": 1_000_000}}),
            "n",
        ),
        (json!({"optimizer": "adma"}), "optimizer"),
    ];
    for (body, field) in cases {
        let r = post("/api/train", &body);
        assert_eq!(r.status, 400, "{body}");
        let v = r.json();
        assert_eq!(v["field"], field, "{v}");
        assert!(!v["error"].as_str().unwrap_or_default().is_empty());
    }
    let r = post("/api/train", &json!({"epochs": "many"}));
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]
        .as_str()
        .unwrap_or_default()
        .contains("invalid request"));
    let huge = vec![b' '; 200_000];
    let r = request(
        server(),
        "POST",
        "/api/train",
        Some(&huge),
        std::time::Duration::from_secs(30),
    )
    .expect("request");
    assert_eq!(r.status, 413);
    assert!(r.json()["error"]
        .as_str()
        .unwrap_or_default()
        .contains("larger than"));
    let r = request(
        server(),
        "POST",
        "/api/train",
        Some(b"{not json"),
        std::time::Duration::from_secs(30),
    )
    .expect("request");
    assert_eq!(r.status, 400);
}

#[test]
fn check_compare_and_sweep() {
    let v = post("/api/check", &json!({"model": "c*MAX(a*x+b,0)+d", "claimed": ["a", "((((a+0.01)*x+b)*c+d-y)^2-((a*x+b)*c+d-y)^2)/0.01"]})).json();
    assert_eq!(v["rows"].as_array().map(Vec::len), Some(29));
    assert!(
        v["claimed"]
            .as_str()
            .unwrap_or_default()
            .contains("forward difference"),
        "{v}"
    );
    // A side that is not finite is never agreement.
    let v = post(
        "/api/check",
        &json!({"model": "SQRT(c-1)+b", "at": {"c": 1, "b": 1}}),
    )
    .json();
    assert_eq!(v["max_rel_symbolic"], "NaN", "{v}");
    assert!(
        v["symbolic_not_finite"]
            .as_str()
            .unwrap_or_default()
            .contains("-inf on row 1"),
        "{v}"
    );
    let v = post("/api/compare", &json!({"epochs": 5, "runs": [{"optimizer": "sgd", "hyper": {"lr": 1e-4}}, {"optimizer": "adam", "hyper": {"lr": 0.1}}], "contours": {}})).json();
    assert_eq!(v["runs"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["runs"][0]["curve"].as_array().map(Vec::len), Some(5));
    let v = post("/api/sweep", &json!({"optimizer": "sgd", "epochs": 3, "x": {"name": "lr", "lo": 1e-5, "hi": 1e-2, "n": 6, "log": true}})).json();
    assert_eq!(v["z"][0].as_array().map(Vec::len), Some(6));
    assert!(
        v["diverged"][0][5].as_u64().unwrap_or(0) > 0,
        "lr = 0.01 diverges: {v}"
    );
    let r = post(
        "/api/sweep",
        &json!({"epochs": 100000, "x": {"n": 40}, "y": {"name": "beta1", "lo": 0, "hi": 0.9, "n": 40}}),
    );
    assert_eq!(r.status, 400);
}

#[test]
fn exports() {
    let spec = r#"{"optimizer":"momentum","epochs":2}"#;
    let q = crate::http::encode(spec);
    let r = get(&format!("/api/export/trace.csv?spec={q}"));
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-disposition")
        .unwrap_or_default()
        .contains("gradsheet-trace.csv"));
    assert_eq!(String::from_utf8_lossy(&r.body).lines().count(), 1 + 2 * 29);
    let r = get(&format!("/api/export/recipe.toml?spec={q}"));
    assert_eq!(r.status, 200);
    let toml = String::from_utf8_lossy(&r.body);
    assert!(
        toml.contains("[[optimizer]]\nname = \"momentum\"")
            && toml.contains("epochs = 2")
            && toml.contains("[model]\nformula = \"a*x+b\""),
        "{toml}"
    );
    assert_eq!(get("/api/export/other.bin").status, 404);
    assert_eq!(get("/api/export/trace.csv?spec=%7Bbad").status, 400);
}

#[test]
fn the_work_of_a_request_stays_bounded() {
    // Nested EXPs overflow at the first step, and their derivatives grow quadratically:
    // the run and its (skipped) analysis still answer promptly.
    let model = format!("{}a*x{}+b", "EXP(".repeat(100), ")".repeat(100));
    let t0 = std::time::Instant::now();
    let r = post(
        "/api/train",
        &json!({"model": model, "epochs": 10, "contours": {}}),
    );
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["stop"]["kind"], "diverged");
    assert_eq!(v["diagnosis"]["source"], "trace");
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        t0.elapsed()
    );
    // A one-parameter model trains; it just has no error surface.
    let v = post(
        "/api/train",
        &json!({"model": "a*x", "epochs": 3, "contours": {}}),
    )
    .json();
    assert_eq!(v["params"], json!(["a"]));
    assert!(v["contours"].is_null());
}

#[test]
fn a_graddesc_sheet_replayed_with_its_macros() {
    // The saved 2018 momentum sheet is Reset's state: L33 = SQRT(SUM(L4:L32)).
    let v = post("/api/sheet", &json!({"sheet": "momentum", "onesteps": 0})).json();
    assert_eq!(v["name"], "momentum");
    assert_eq!(v["rows"].as_array().map(Vec::len), Some(29));
    assert_eq!(v["first_row"], 4);
    let l33 = v["cells"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c[0] == "L33"))
        .map(|c| c[2].clone());
    assert_eq!(l33, Some(json!(200.9651846012761)));
    let v = post(
        "/api/sheet",
        &json!({"sheet": "adam", "lr": 0.1, "onesteps": 10, "contours": {}}),
    )
    .json();
    assert!(
        v["epochs"].as_array().map(Vec::len).unwrap_or(0) >= 11,
        "{v}"
    );
    assert_eq!(v["contours"]["params"], json!(["a", "b"]));
    let r = post("/api/sheet", &json!({"sheet": "eve"}));
    assert_eq!(r.status, 400, "eve is a 2016 sheet");
    assert_eq!(
        post("/api/sheet", &json!({"sheet": "basic", "lr": -1})).status,
        400
    );
    assert_eq!(
        post("/api/sheet", &json!({"onesteps": 100_000_000u64})).status,
        400
    );
}

/// A replay counts its passes from the sheet as Reset leaves it (0), once each, and can
/// show the sheet after any of its onesteps: after 0, J3:K3 hold momentum's first −18.33
/// and 98.25.
#[test]
fn a_replay_shows_the_sheet_after_any_onestep() {
    let v = post(
        "/api/sheet",
        &json!({"sheet": "momentum", "onesteps": 100, "view": 0}),
    )
    .json();
    let epochs = v["epochs"].as_array().expect("epochs");
    assert_eq!(
        epochs.len(),
        101,
        "Reset's state, then one pass per onestep"
    );
    assert_eq!(epochs[0]["epoch"], 0);
    assert_eq!(epochs[0]["after"], "Reset");
    assert_eq!(epochs[100]["after"], "onestep 100");
    assert_eq!(v["view"], 0);
    let cell = |v: &serde_json::Value, addr: &str| {
        v["cells"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c[0] == addr))
            .map(|c| c[2].as_f64().unwrap_or(f64::NAN))
    };
    assert_eq!(cell(&v, "J3"), Some(-18.33392669020789));
    assert_eq!(cell(&v, "K3"), Some(98.24583039212854));
    // The first data row then uses Reset's a = b = 1.
    assert_eq!(v["rows"][0][2], 1.0);
    let last = post("/api/sheet", &json!({"sheet": "momentum", "onesteps": 100})).json();
    assert_eq!(last["view"], 100);
    assert_ne!(last["rows"][0][2], 1.0, "after 100 onesteps b has moved");
    // Typed cells are named in the first pass's label.
    let typed = post(
        "/api/sheet",
        &json!({"sheet": "basic", "a": 2, "onesteps": 1}),
    )
    .json();
    assert_eq!(typed["epochs"][0]["after"], "Reset, then a = 2");
    assert_eq!(typed["epochs"][0]["a"], 2.0);
}

/// β is typed like lr, a and b: before Reset, which keeps it. Momentum with β = 0 has
/// each row's gradient as its momentum; a β the sheet lacks is refused by field.
#[test]
fn a_graddesc_sheet_with_its_beta_typed() {
    let v = post(
        "/api/sheet",
        &json!({"sheet": "momentum", "beta1": 0.0, "onesteps": 0}),
    )
    .json();
    let cell = |addr: &str| {
        v["cells"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c[0] == addr))
            .map(|c| c[2].clone())
    };
    assert_eq!(cell("J1"), Some(json!(0.0)));
    let rows = v["rows"].as_array().unwrap();
    // Columns A.. : x, y, b, a, pred, de/db (F), de/da, new b, new a, m_b (J).
    for r in rows {
        assert_eq!(r[9], r[5], "{r}");
    }
    let r = post("/api/sheet", &json!({"sheet": "momentum", "beta2": 0.5}));
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["field"], "beta2");
}

/// The stability map runs on native code, one kernel per kind of rule (torch SGD with
/// momentum 0 and with momentum are two), in parallel: every cell is the interpreter's
/// run of the same settings, bit for bit.
#[test]
fn sweep_cells_are_the_interpreters_runs() {
    use gradsheet_engine::{Dataset, Model, Roles};
    use gradsheet_train::{Hooks, Hyper, Optimizer, Record, Stop, TrainConfig, Trainer};
    let v = post(
        "/api/sweep",
        &json!({"model": "c*MAX(a*x+b,0)+d", "optimizer": "torch-sgd", "epochs": 20,
                "x": {"name": "lr", "lo": 1e-6, "hi": 1e-4, "n": 3, "log": true},
                "y": {"name": "momentum", "lo": 0, "hi": 0.9, "n": 3, "log": false}}),
    )
    .json();
    let data = Dataset::graddesc();
    let m = Model::new(
        "c*MAX(a*x+b,0)+d",
        "squared",
        &Roles::with_columns(&data.columns),
    )
    .unwrap();
    let t = Trainer::new(&m, &data).unwrap();
    let mut ws = t.compiled.workspace();
    for (j, y) in v["y"].as_array().unwrap().iter().enumerate() {
        for (i, x) in v["x"].as_array().unwrap().iter().enumerate() {
            let h = Hyper::new()
                .with("lr", x.as_f64().unwrap())
                .with("momentum", y.as_f64().unwrap());
            let mut cfg = TrainConfig::new(Optimizer::from_name("torch-sgd", &h).unwrap(), 20);
            cfg.record = Record::Final;
            let trace = t.run(&[1.0; 4], &cfg, &mut Hooks::none()).unwrap();
            let want = match trace.stop {
                Stop::Diverged { .. } => f64::INFINITY,
                _ => t.mean_error(&mut ws, &trace.final_params),
            };
            let got = &v["z"][j][i];
            let got = got.as_f64().unwrap_or(f64::INFINITY);
            assert_eq!(got.to_bits(), want.to_bits(), "cell ({i}, {j}): {v}");
        }
    }
}

/// The page's list of optimizers is the optimizer table, served: names, labels, and
/// which setting each of the two β sliders moves.
#[test]
fn optimizers_are_the_tables() {
    let r = get("/api/optimizers");
    assert_eq!(r.status, 200);
    let v = r.json();
    let list = v.as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|o| o["name"].as_str().unwrap()).collect();
    let table: Vec<&str> = gradsheet_train::RULES.iter().map(|r| r.name).collect();
    assert_eq!(names, table);
    let rms = list.iter().find(|o| o["name"] == "torch-rmsprop").unwrap();
    let slot = |k: u64| {
        rms["hypers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["slot"] == k)
            .map(|h| h["key"].as_str().unwrap().to_string())
    };
    assert_eq!(slot(1).as_deref(), Some("momentum"));
    assert_eq!(slot(2).as_deref(), Some("alpha"));
    assert_eq!(rms["label"], "torch RMSprop");
    let lr = &list[0]["hypers"][0];
    assert_eq!(
        (lr["key"].as_str(), lr["min"].as_f64(), lr["max"].is_null()),
        (Some("lr"), Some(0.0), true)
    );
}

/// The pages insert text as text: no module but the labs page's (its own helper's, still
/// to convert) writes markup through innerHTML and the like.
#[test]
fn the_pages_insert_text_as_text() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("assets") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if !name.ends_with(".js") || name == "labs.js" {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
        ] {
            assert!(!text.contains(sink), "{name} uses {sink}");
        }
        checked += 1;
    }
    assert!(checked >= 12, "{checked} modules");
}
