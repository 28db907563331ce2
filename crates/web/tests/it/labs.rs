//! The labs page: `GET /api/labs` and `POST /api/lab` over real HTTP, and the page in
//! headless Chromium (every lab shows its tables and figures; a slider redraws a figure).

use std::time::Instant;

use serde_json::json;

use crate::browser::{attr, page, text, Page};
use crate::http::{get, post};

#[test]
fn every_lab_is_listed_with_its_parameters() {
    let r = get("/api/labs");
    assert_eq!(r.status, 200);
    let v = r.json();
    let names: Vec<&str> = v
        .as_array()
        .expect("a list")
        .iter()
        .map(|l| l["name"].as_str().unwrap_or_default())
        .collect();
    for n in [
        "dropout",
        "focal",
        "l1-l2",
        "upsampling",
        "gradients",
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
    ] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    let focal = v
        .as_array()
        .and_then(|a| a.iter().find(|l| l["name"] == "focal"))
        .expect("focal");
    let gamma = focal["params"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == "gamma"))
        .expect("gamma");
    assert_eq!(gamma["kind"], "number");
    assert_eq!(gamma["default"], "2");
    assert_eq!(gamma["max"], 10.0);
    // Heavy settings are bounded for the web.
    let dropout = v
        .as_array()
        .and_then(|a| a.iter().find(|l| l["name"] == "dropout"))
        .expect("dropout");
    let steps = dropout["params"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == "steps"))
        .expect("steps");
    assert_eq!(steps["max"], 500.0);
    // One set of defaults: the command line's (`gradsheet lab` lists the same).
    assert_eq!(steps["default"], "500");
    let collab = v
        .as_array()
        .and_then(|a| a.iter().find(|l| l["name"] == "collab"))
        .expect("collab");
    assert_eq!(collab["params"][0]["choices"][2], "course22");
}

#[test]
fn every_lab_runs_with_its_defaults() {
    let list = get("/api/labs").json();
    for l in list.as_array().expect("a list") {
        let name = l["name"].as_str().unwrap_or_default();
        let t0 = Instant::now();
        let r = post("/api/lab", &json!({ "name": name }));
        if name == "titanic" && !crate::http::course22() {
            // course22's numbers are not shipped: the error says where to get them.
            assert_eq!(r.status, 400);
            continue;
        }
        assert_eq!(
            r.status,
            200,
            "{name}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let v = r.json();
        println!("lab {name}: {:?}", t0.elapsed());
        let tables = v["tables"].as_array().expect("tables");
        assert!(!tables.is_empty(), "{name} has tables");
        assert!(
            tables[0]["rows"].as_array().is_some_and(|r| !r.is_empty()),
            "{name}'s table has rows"
        );
        // Figures come as data for the page to draw: every panel has something in it.
        let figures = v["figures"].as_array().expect("figures");
        assert!(!figures.is_empty(), "{name} has a figure");
        for f in figures {
            let panels = f["panels"].as_array().expect("panels");
            assert!(!panels.is_empty(), "{name}: {f}");
            for p in panels {
                match p["kind"].as_str() {
                    Some("lines") => assert!(
                        p["series"].as_array().is_some_and(|s| s
                            .iter()
                            .any(|s| s["x"].as_array().is_some_and(|x| !x.is_empty()))),
                        "{name}: a line chart with no point"
                    ),
                    Some("heatmap") => assert_eq!(
                        p["values"].as_array().map(Vec::len),
                        Some(
                            (p["rows"].as_u64().unwrap_or(0) * p["cols"].as_u64().unwrap_or(0))
                                as usize
                        ),
                        "{name}: a heatmap's values are rows × cols"
                    ),
                    other => panic!("{name}: a panel of kind {other:?}"),
                }
            }
        }
    }
}

#[test]
fn lab_settings_are_checked() {
    let r = post(
        "/api/lab",
        &json!({"name": "focal", "params": {"gamma": 0.5}}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["params"]["gamma"], "0.5");
    let bad = [
        (json!({"name": "nope"}), "name"),
        (json!({"name": "focal", "params": {"gamma": 11}}), "gamma"),
        (json!({"name": "focal", "params": {"gamma": "x"}}), "gamma"),
        (json!({"name": "focal", "params": {"delta": 1}}), "delta"),
        (
            json!({"name": "dropout", "params": {"steps": 100000}}),
            "steps",
        ),
        (
            json!({"name": "gradients", "params": {"width": 512}}),
            "width",
        ),
        (
            json!({"name": "gradients", "params": {"init": "zeros"}}),
            "init",
        ),
        (json!({"name": "collab", "params": {"epochs": 0}}), "epochs"),
        (
            json!({"name": "collab", "params": {"epochs": 100000}}),
            "epochs",
        ),
        (
            json!({"name": "collab", "params": {"train": "newton"}}),
            "train",
        ),
        (
            json!({"name": "mom_bias", "params": {"version": "courses"}}),
            "version",
        ),
        (json!({"name": "focal", "params": {"gamma": [1]}}), "gamma"),
    ];
    for (body, field) in bad {
        let r = post("/api/lab", &body);
        assert_eq!(
            r.status,
            400,
            "{body}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let v = r.json();
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
        assert_eq!(v["field"], field, "{body}: {v}");
    }
    assert_eq!(post("/api/lab", &json!([1, 2])).status, 400);
    // A workbook lab with a version and a training method.
    let r = post(
        "/api/lab",
        &json!({"name": "collab", "params": {"version": "course22", "train": "lbfgs", "epochs": 20}}),
    );
    if crate::http::course22() {
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let v = r.json();
        assert!(v["notes"][0]
            .as_str()
            .unwrap_or_default()
            .contains("course22"));
    } else {
        // course22's numbers are not shipped: the error says where to get them.
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
        assert!(r.json()["error"]
            .as_str()
            .unwrap_or_default()
            .contains("GRADSHEET_COURSE22"));
    }
    // Long tables are cut, and say so.
    if !crate::http::course22() {
        return;
    }
    let r = post(
        "/api/lab",
        &json!({"name": "titanic", "params": {"epochs": 10}}),
    )
    .json();
    let rows = r["tables"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == "rows"))
        .expect("the passengers");
    assert_eq!(rows["rows"].as_array().map(Vec::len), Some(200));
    assert!(rows["total_rows"].as_u64().unwrap_or(0) > 200);
}

#[test]
fn labs_page_in_the_browser() {
    let Some(Page {
        s,
        base,
        shots,
        lock: _lock,
    }) = page()
    else {
        return;
    };

    s.goto(&format!("{base}#labs?lab=focal"));
    s.wait(
        "the focal lab",
        "return document.querySelectorAll('#labs-tables .lab-table').length > 0 && document.querySelector('#labs-figures svg') !== null",
    );
    assert!(attr(&s, "#nav a[data-page=labs]", "class").contains("active"));
    // The command line's files are offered for the settings shown.
    s.wait(
        "the focal lab's downloads",
        "return [...document.querySelectorAll('#labs-files button')].map((b) => b.dataset.file).join(' ').startsWith('focal.xlsx focal.csv')",
    );
    let names: Vec<String> = s
        .js("return [...document.querySelectorAll('#labs-name option')].map((o) => o.value)")
        .as_array()
        .expect("the lab picker")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(names.len(), 15, "{names:?}");
    s.screenshot(&shots.join("10-labs-focal.png"));

    // Moving the γ slider redraws a figure and keeps γ in the URL.
    let figs = "return [...document.querySelectorAll('#labs-figures .svgbox')].map((f) => f.innerHTML).join('|')";
    let before = s.js(figs).as_str().unwrap_or_default().to_string();
    s.type_into("#labs-p-gamma", &"\u{E014}".repeat(10)); // ArrowRight ×10
    s.wait(
        "a figure to follow the γ slider",
        &format!(
            "{} !== {before:?}",
            figs.replace("return ", "return (")
                .replace("join('|')", "join('|'))")
        ),
    );
    let hash = s
        .js("return location.hash")
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        hash.starts_with("#labs?lab=focal") && hash.contains("gamma="),
        "{hash}"
    );
    let shown = s.js("return document.getElementById('labs-p-gamma-num').value");
    assert_ne!(
        shown.as_str(),
        Some("2"),
        "the number box follows the slider"
    );
    s.screenshot(&shots.join("11-labs-focal-gamma.png"));

    // Every lab in turn, through the picker: its table and its figure appear.
    for (i, name) in names.iter().enumerate() {
        if name == "titanic" && !crate::http::course22() {
            continue;
        }
        s.js(&format!(
            "const p = document.getElementById('labs-name'); p.value = {name:?}; p.dispatchEvent(new Event('change')); return 1;"
        ));
        s.wait(
            &format!("the {name} lab"),
            &format!(
                "return location.hash.startsWith('#labs?lab={name}') && document.querySelector('#labs-msg').textContent === '' && \
                 document.querySelectorAll('#labs-tables .lab-table tbody tr').length > 0 && document.querySelector('#labs-figures svg') !== null && \
                 !document.getElementById('labs-work').classList.contains('stale') && document.getElementById('labs-about').textContent.length > 0 && \
                 window.__labShown === {name:?}"
            ),
        );
        if matches!(name.as_str(), "upsampling" | "titanic" | "conv") {
            s.screenshot(&shots.join(format!("12-labs-{i:02}-{name}.png")));
        }
    }

    // A setting out of range typed in: a message in place, no crash.
    s.goto(&format!("{base}#labs?lab=gradients&depth=20"));
    s.wait(
        "the gradients lab",
        "return window.__labShown === 'gradients' && document.getElementById('labs-p-depth-num').value === '20'",
    );
    s.clear("#labs-p-depth-num");
    s.type_into("#labs-p-depth-num", "5000\n");
    s.wait(
        "the depth error",
        "return document.getElementById('labs-msg').classList.contains('error')",
    );
    assert!(
        text(&s, "#labs-msg").contains("depth"),
        "{}",
        text(&s, "#labs-msg")
    );
}

/// Each lab page offers the command line's files: the workbook with live formulas, every
/// row of each table as CSV, each figure as SVG.
#[test]
fn a_labs_files_download_as_the_command_line_writes_them() {
    let spec = json!({"name": "mom_bias", "params": {}}).to_string();
    let q = crate::http::encode(&spec);
    let lab = post("/api/lab", &json!({"name": "mom_bias"})).json();
    let r = get(&format!("/api/lab/file/mom_bias.xlsx?spec={q}"));
    assert_eq!(r.status, 200);
    assert_eq!(&r.body[..2], b"PK");
    assert!(r
        .header("content-disposition")
        .unwrap_or_default()
        .contains("gradsheet-mom_bias.xlsx"));
    let r = get(&format!("/api/lab/file/mom_bias.csv?spec={q}"));
    assert_eq!(r.status, 200);
    let text = String::from_utf8(r.body).unwrap();
    let main = &lab["tables"][0];
    assert_eq!(
        text.lines().count(),
        main["total_rows"].as_u64().unwrap() as usize + 1
    );
    assert_eq!(
        text.lines().next().unwrap(),
        main["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap())
            .collect::<Vec<_>>()
            .join(",")
    );
    let fig = lab["figures"][0]["name"].as_str().unwrap();
    let r = get(&format!("/api/lab/file/mom_bias-{fig}.svg?spec={q}"));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(String::from_utf8_lossy(&r.body).contains("</svg>"));
    assert_eq!(
        get(&format!("/api/lab/file/mom_bias.pdf?spec={q}")).status,
        404
    );
    assert_eq!(
        get(&format!("/api/lab/file/other.csv?spec={q}")).status,
        404
    );
    assert_eq!(get("/api/lab/file/mom_bias.csv").status, 400);
}

/// Entropy's softmax is bars over its named classes (the page labels the axis with
/// them), not a line over the positions 1.5 and 2.5.
#[test]
fn the_softmax_is_drawn_as_bars_over_named_classes() {
    let r = post("/api/lab", &json!({ "name": "entropy" }));
    assert_eq!(r.status, 200);
    let v = r.json();
    let panel = v["figures"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["panels"].as_array().unwrap().iter())
        .find(|p| {
            p["title"]
                .as_str()
                .is_some_and(|t| t.starts_with("softmax"))
        })
        .unwrap_or_else(|| panic!("{v}"))
        .clone();
    assert_eq!(
        panel["categories"],
        json!(["cat", "dog", "plane", "fish", "building"])
    );
    assert_eq!(panel["x_range"], json!([0.5, 5.5]));
    assert_eq!(panel["y_range"][0], 0.0);
    for s in panel["series"].as_array().unwrap() {
        assert_eq!(s["style"], "bars", "{s}");
    }
}

/// L1/L2's fitted line: no fixed range cuts the outliers off (the page fits the axes to
/// every point, the outliers included).
#[test]
fn the_outliers_of_l1_l2_are_inside_the_axes() {
    let r = post("/api/lab", &json!({ "name": "l1-l2" }));
    assert_eq!(r.status, 200);
    let v = r.json();
    let panel = v["figures"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["panels"].as_array().unwrap().iter())
        .find(|p| p["title"] == "a line through outliers")
        .unwrap_or_else(|| panic!("{v}"))
        .clone();
    let outliers = panel["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "outliers")
        .unwrap()
        .clone();
    assert!(!outliers["y"].as_array().unwrap().is_empty());
    if let Some(r) = panel["y_range"].as_array() {
        let (lo, hi) = (r[0].as_f64().unwrap(), r[1].as_f64().unwrap());
        for y in outliers["y"].as_array().unwrap() {
            let y = y.as_f64().unwrap();
            assert!(lo <= y && y <= hi, "outlier at {y} outside {lo}..{hi}");
        }
    }
}

/// On a phone the focal lab's two charts stack; their text is drawn at the size it is
/// shown, readable (a 560-wide drawing squeezed into the screen printed 7-pixel ticks).
#[test]
fn lab_chart_text_is_readable_on_a_phone() {
    let Some(Page {
        s,
        base,
        shots: _,
        lock: _lock,
    }) = page()
    else {
        return;
    };
    s.phone(390, 844);
    s.goto(&format!("{base}#labs?lab=focal"));
    s.wait(
        "the focal lab's charts",
        "return document.querySelectorAll('#labs-figures svg.lab-chart').length > 1",
    );
    let heights = s.js(
        "return [...document.querySelectorAll('#labs-figures svg.lab-chart text')].map((t) => t.getBoundingClientRect().height).filter((h) => h > 0)",
    );
    let heights: Vec<f64> = heights
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h.as_f64())
        .collect();
    s.desktop();
    assert!(heights.len() > 10, "{heights:?}");
    assert!(
        heights.iter().all(|h| *h >= 9.0),
        "text too small to read: {heights:?}"
    );
}

/// The upsampling lab takes the learner's own picture: over the API as grey levels, with
/// bad pictures refused naming the field; in the page from a file the browser decodes.
#[test]
fn the_upsampling_lab_takes_the_learners_picture() {
    let list = get("/api/labs").json();
    let takes: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["takes_image"] == true)
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(takes, ["upsampling"]);
    // A plus sign, 8×8.
    let pixels: Vec<f64> = (0..64)
        .map(|k| if k / 8 == 3 || k % 8 == 3 { 1.0 } else { 0.0 })
        .collect();
    let picture = json!({"width": 8, "height": 8, "pixels": pixels});
    let r = post("/api/lab", &json!({"name": "upsampling", "image": picture}));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    let input = &v["images"][0];
    assert_eq!(
        (
            input["name"].as_str(),
            input["width"].as_u64(),
            input["height"].as_u64()
        ),
        (Some("input"), Some(8), Some(8))
    );
    assert_eq!(input["pixels"][3].as_f64(), Some(1.0));
    for (body, says) in [
        (
            json!({"name": "focal", "image": picture}),
            "does not take a picture",
        ),
        (
            json!({"name": "upsampling", "image": {"width": 100, "height": 100, "pixels": vec![0.0; 10_000]}}),
            "at most 64×64",
        ),
        (
            json!({"name": "upsampling", "image": {"width": 2, "height": 1, "pixels": [0.5, 2.0]}}),
            "a grey level of 2",
        ),
        (
            json!({"name": "upsampling", "image": {"width": 2, "height": 2, "pixels": [0.5]}}),
            "needs 4 pixels",
        ),
    ] {
        let r = post("/api/lab", &body);
        assert_eq!(r.status, 400, "{body}");
        let e = r.json();
        assert_eq!(e["field"], "image", "{e}");
        assert!(e["error"].as_str().unwrap().contains(says), "{e}");
    }
    let Some(Page {
        s,
        base,
        shots: _,
        lock: _lock,
    }) = page()
    else {
        return;
    };
    s.goto(&format!("{base}#labs?lab=upsampling"));
    s.wait(
        "the upsampling lab",
        "return document.getElementById('labs-image') !== null && window.__labShown === 'upsampling'",
    );
    // A picture made in the page (a white square on black, 20×12) given to the file input.
    s.js(
        "const c = document.createElement('canvas'); c.width = 20; c.height = 12; \
         const x = c.getContext('2d'); x.fillStyle = '#000'; x.fillRect(0, 0, 20, 12); \
         x.fillStyle = '#fff'; x.fillRect(5, 3, 8, 6); \
         c.toBlob((b) => { const dt = new DataTransfer(); \
           dt.items.add(new File([b], 'mine.png', { type: 'image/png' })); \
           const i = document.getElementById('labs-image'); i.files = dt.files; \
           i.dispatchEvent(new Event('change')); }); return true;",
    );
    s.wait(
        "the lab run on the picture",
        "return [...document.querySelectorAll('#labs-images figcaption')].some((c) => c.textContent.startsWith('input 20×12'))",
    );
    assert!(text(&s, "#labs-image-said").starts_with("your picture, 20×12"));
}
