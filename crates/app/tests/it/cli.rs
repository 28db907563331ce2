//! End-to-end tests of the `gradsheet` binary: graddesc, train (with --csv/--json), run
//! (recipes) and usage errors.

use std::path::Path;
use std::process::Command;

use crate::common::{gradsheet, stderr, stdout};

fn recipes() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/recipes"
    ))
}

#[test]
fn graddesc_momentum_prints_the_29_rows_and_explains_the_first_momentum() {
    let o = gradsheet(&["graddesc", "--sheet", "momentum", "--wide"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    // The sheet's own headers, in its column order (every column: --wide).
    let header = out
        .lines()
        .find(|l| l.trim_start().starts_with("row"))
        .unwrap();
    // Columns are separated by at least two spaces ("new b" is one header).
    let cols: Vec<&str> = header
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        cols,
        [
            "row", "x", "y", "b", "a", "pred", "de/db", "de/da", "new b", "new a", "J", "K",
            "err^2"
        ]
    );
    // Rows 4..32, numbered as in Excel, each starting with its x.
    let rows: Vec<&str> = out
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .and_then(|w| w.parse::<u32>().ok())
                .is_some_and(|r| (4..=32).contains(&r))
        })
        .collect();
    assert_eq!(rows.len(), 29);
    assert!(rows[0].split_whitespace().take(3).eq(["4", "14", "58"]));
    assert!(rows[28].split_whitespace().take(3).eq(["32", "8", "46"]));
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("The first momentum values -18.33 and 98.25"),
        "{out}"
    );
    assert!(flat.contains("carried in by Reset"));
    // Numbers in sentences as a person reads them (--json has them exact).
    assert!(flat.contains("L33 = 200.9652"), "{out}");
}

#[test]
fn graddesc_both_workbooks_json_and_clean() {
    let o = gradsheet(&[
        "graddesc",
        "--sheet",
        "adagrad_ann",
        "--workbook",
        "2016",
        "--json",
        "--clean",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let view = &v["replay"]["view"];
    assert_eq!(view["name"], "adagrad_ann");
    assert_eq!(view["rows"].as_array().unwrap().len(), 29);
    let d2 = view["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["addr"] == "D2")
        .unwrap();
    assert_eq!(d2["value"], 0.00390625);
    assert!(v["comparison"]["epochs"].as_array().unwrap().len() == 11);
    // The 2018 workbook has no eve: a usage error naming the sheets it has.
    let o = gradsheet(&["graddesc", "--sheet", "eve"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("the 2018 workbook has no sheet 'eve'"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn train_writes_a_parseable_csv_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("trace.csv");
    let json = dir.path().join("trace.json");
    let o = gradsheet(&[
        "train",
        "a*x+b",
        "--optimizer",
        "torch-adam",
        "--lr",
        "0.1",
        "--epochs",
        "2",
        "--quiet",
        "--csv",
        csv.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(&headers[..6], ["step", "epoch", "row", "lr", "x", "y"]);
    assert!(headers.iter().any(|h| h == "exp_avg_sq_a"));
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 58);
    for r in &rows {
        assert_eq!(r.len(), headers.len());
        for c in r.iter() {
            c.parse::<f64>().unwrap();
        }
    }
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["format"], "gradsheet-trace");
    assert_eq!(v["steps"].as_array().unwrap().len(), 58);
    assert_eq!(v["headers"].as_array().unwrap().len(), headers.len());
    assert_eq!(v["stop"]["kind"], "completed");
}

#[test]
fn train_compares_a_finite_difference_run() {
    let o = gradsheet(&[
        "train",
        "a*x+b",
        "--epochs",
        "3",
        "--epochs-only",
        "--compare-gradient",
        "central",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("Exact gradient vs central differences, h = 0.01"),
        "{out}"
    );
    assert!(out.contains("the runs drift apart by at most"));
}

#[test]
fn run_replays_a_recipe_with_several_optimizers() {
    let r = recipes().join("optimizers.toml");
    let dir = tempfile::tempdir().unwrap();
    let o = gradsheet(&[
        "run",
        r.to_str().unwrap(),
        "--csv-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for label in ["sgd", "momentum", "torch-rmsprop", "adam"] {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(label)),
            "{label}: {out}"
        );
        assert!(dir.path().join(format!("{label}.csv")).exists());
    }
    let epochs = std::fs::read_to_string(dir.path().join("epochs.csv")).unwrap();
    assert_eq!(epochs.lines().count(), 1 + 4 * 5);
    // The same recipe gives the same numbers.
    let again = gradsheet(&["run", r.to_str().unwrap()]);
    assert_eq!(stdout(&again), out);
}

#[test]
fn recipe_errors_point_at_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(
        &p,
        "epochs = 2\n[model]\nformula = \"a*x+b\"\n[[optimizer]]\nname = \"adma\"\n",
    )
    .unwrap();
    let o = gradsheet(&["run", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains(
            "optimizer[0].name (line 5, column 8): unknown optimizer 'adma' (did you mean adam?)"
        ),
        "{e}"
    );
    std::fs::write(
        &p,
        "epochs = 2\nlr = 1\n[model]\nformula = \"a*x+b\"\n[[optimizer]]\nname = \"adam\"\n",
    )
    .unwrap();
    let o = gradsheet(&["run", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("line 2"), "{}", stderr(&o));
}

#[test]
fn bad_flags_exit_2_with_a_precise_message() {
    let cases: &[(&[&str], &str)] = &[
        (&["graddesc", "--sheet", "adamw"], "unknown sheet 'adamw'"),
        (
            &["graddesc", "--sheet", "adam", "--workbook", "2017"],
            "unknown workbook '2017'",
        ),
        (
            &["train", "a*x+b", "--optimizer", "adma"],
            "unknown optimizer 'adma' (did you mean adam?)",
        ),
        (
            &["train", "a*x+b", "--compare-gradient", "sideways"],
            "--compare-gradient",
        ),
        (
            &["train", "a*x+b", "--init", "q=1"],
            "'q', which is not a parameter",
        ),
        (
            &["train", "a*x+b", "--epochs", "many"],
            "invalid value 'many' for '--epochs",
        ),
    ];
    for (args, want) in cases {
        let o = gradsheet(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
}

/// A long native run stops cleanly on Ctrl-C (a real SIGINT): the summary of what was
/// computed, exit code 0.
#[test]
fn ctrl_c_stops_a_native_run_and_keeps_its_steps() {
    let child = Command::new(env!("CARGO_BIN_EXE_gradsheet"))
        .args([
            "train",
            "c*MAX(a*x+b,0)+d",
            "--optimizer",
            "adam",
            "--lr",
            "0.01",
            "--epochs",
            "1000000000",
            "--quiet",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Time to start and install the handler; then the run is in its native loop.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{:?} {}", o.status, stderr(&o));
    let out = stdout(&o);
    let steps: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("steps"))
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(steps > 0 && steps < 29_000_000_000, "{out}");
    assert!(
        out.contains(&format!(
            "interrupted after {steps} steps (Ctrl-C); the outputs hold every step computed"
        )),
        "{out}"
    );
    assert!(
        stderr(&o).contains("stopping after this step"),
        "{}",
        stderr(&o)
    );
}

/// Workbook RMSProp from s = 0 divides by √0 at its first step: the summary says so.
#[test]
fn train_names_a_division_by_zero_state() {
    let o = gradsheet(&[
        "train",
        "a*x+b",
        "--optimizer",
        "rmsprop",
        "--lr",
        "0.01",
        "--epochs",
        "2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("DIVERGED    at step 1 (data row 1): a became +infinity\n            Step 1 divided a's update by √s"),
        "{out}"
    );
}

/// `serve --host 0.0.0.0` says, as it starts, that the app is then reachable from the
/// network; the default host says nothing of the kind.
#[test]
fn serving_beyond_loopback_says_so() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    for (host, warned) in [("0.0.0.0", true), ("127.0.0.1", false)] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gradsheet"))
            .args(["serve", "--host", host, "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        // The URL is printed once the port is bound, after the note (if any).
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        while !line.contains("press Ctrl-C") {
            line.clear();
            assert!(
                out.read_line(&mut line).expect("read") > 0,
                "no start-up lines"
            );
        }
        child.kill().expect("stop the server");
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err)
            .expect("read stderr");
        child.wait().expect("the server ends");
        assert_eq!(
            err.contains("reachable from the network"),
            warned,
            "{host}: {err}"
        );
    }
}
