//! End-to-end tests of the `gradsheet` binary: graddesc, train (with --csv/--json), run
//! (recipes) and usage errors.

use std::path::Path;
use std::process::Command;

use crate::common::{gradsheet, interrupted, stderr, stdout};

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
/// computed, a line saying where it stopped, and the shell's code for SIGINT, 130.
#[test]
fn ctrl_c_stops_a_native_run_and_keeps_its_steps() {
    let o = interrupted(&[
        "train",
        "c*MAX(a*x+b,0)+d",
        "--optimizer",
        "adam",
        "--lr",
        "0.01",
        "--epochs",
        "1000000000",
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
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
    assert!(
        stderr(&o).contains(&format!("interrupted by Ctrl-C after step {steps} (epoch ")),
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

/// Ctrl-C (a real SIGINT) in a run writing CSV, JSON and a workbook as it goes: every
/// file is whole and holds the same steps, no temporary file is left, and the process
/// says where it stopped and exits 130.
#[test]
fn outputs_stream_and_survive_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let p = |f: &str| dir.path().join(f).to_string_lossy().into_owned();
    let (csv, json, xlsx) = (p("o.csv"), p("o.json"), p("o.xlsx"));
    let o = interrupted(&[
        "train", "a*x+b", "--epochs", "30000", "--quiet", "--csv", &csv, "--json", &json, "--xlsx",
        &xlsx,
    ]);
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    let e = stderr(&o);
    let steps: usize = e
        .split("interrupted by Ctrl-C after step ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{e}"));
    assert!(steps > 0 && steps < 30000 * 29, "{e}");
    for f in ["o.csv", "o.json", "o.xlsx"] {
        assert!(e.contains(&p(f)), "{f}: {e}");
    }
    let csv = std::fs::read_to_string(p("o.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + steps);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("o.json")).unwrap()).unwrap();
    assert_eq!(json["steps"].as_array().unwrap().len(), steps);
    assert_eq!(json["steps_taken"], steps);
    assert_eq!(json["stop"]["kind"], "interrupted");
    let last = json["steps"][steps - 1][0].as_u64().unwrap() as usize;
    assert_eq!(last, steps);
    use calamine::Reader;
    let mut wb = calamine::open_workbook_auto(p("o.xlsx")).unwrap();
    let sheet = wb.worksheet_range("Steps").unwrap();
    assert_eq!(sheet.height(), 2 + steps);
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left.len(), 3, "{left:?}");
}

/// A workbook past Excel's row limit is refused before the run starts.
#[test]
fn a_workbook_past_the_row_limit_is_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("o.xlsx");
    let t0 = std::time::Instant::now();
    let o = gradsheet(&[
        "train",
        "a*x+b",
        "--epochs",
        "5000000",
        "--xlsx",
        x.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("past Excel's limit of 1,048,576; export at most 36157 epochs"),
        "{}",
        stderr(&o)
    );
    assert!(!x.exists());
    assert!(t0.elapsed() < std::time::Duration::from_secs(20));
}

/// Numbers and formulas as typed: negative values are values, a learning rate below 0
/// gets its own reason, 1e-400 is refused like 1e400, and a flag the optimizer does not
/// have names the optimizers that do.
#[test]
fn values_are_taken_as_typed() {
    let o = gradsheet(&["train", "-a*x+b", "--epochs", "1", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = gradsheet(&[
        "train", "a*x+b", "--target", "-2*x", "--x", "-5..5", "--init", "a=-1", "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cases: &[(&[&str], &str)] = &[
        (
            &["train", "a*x+b", "--lr", "-1"],
            "learning rate = -1 is invalid: it must be a finite number >= 0",
        ),
        (
            &["train", "a*x+b", "--lr", "1e-400"],
            "'1e-400' is too small: it would be 0",
        ),
        (&["train", "a*x+b", "--lr", "1e400"], "'1e400' is too large"),
        (
            &["train", "a*x+b", "--optimizer", "adam", "--nesterov"],
            "--nesterov does not apply to adam (it applies to torch-sgd)",
        ),
        (
            &[
                "train",
                "a*x+b",
                "--optimizer",
                "momentum",
                "--weight-decay",
                "0.1",
            ],
            "--weight-decay does not apply to momentum (it applies to torch-sgd, torch-adagrad",
        ),
        (
            &["train", "a*x+b", "--init", "a=1e-400"],
            "'1e-400' is too small",
        ),
    ];
    for (args, want) in cases {
        let o = gradsheet(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
}

/// A built-in loss keeps its own constants (huber's delta is 1, not a parameter), and
/// data without the target it compares with is an error naming the columns found.
#[test]
fn builtin_losses_bring_their_constants_and_need_their_target() {
    let o = gradsheet(&[
        "train", "a*x+b", "--loss", "huber", "--epochs", "2", "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let params = out.lines().find(|l| l.starts_with("parameters")).unwrap();
    assert!(!params.contains("delta"), "{out}");
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("xt.csv");
    std::fs::write(&csv, "x,t\n1,2\n2,4\n").unwrap();
    let o = gradsheet(&["train", "a*x+b", "--data", csv.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("the data has no column `y`, which the squared loss compares the prediction with (its columns are x, t)"),
        "{}",
        stderr(&o)
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

/// `--x 1..100` draws whole numbers as the workbooks' RANDBETWEEN(1,100) does (the `..`
/// is not a decimal point); `1.0..100` draws reals.
#[test]
fn generated_x_is_whole_unless_an_end_has_a_decimal_point() {
    let xs = |range: &str| -> Vec<f64> {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("steps.csv");
        let csv_s = csv.to_str().unwrap();
        let args = [
            "train", "a*x+b", "--target", "2*x+30", "--x", range, "--n", "20", "--epochs", "1",
            "--quiet", "--csv", csv_s,
        ];
        crate::common::ok(&args);
        let text = std::fs::read_to_string(&csv).unwrap();
        let mut lines = text.lines();
        let head: Vec<&str> = lines.next().unwrap().split(',').collect();
        let col = head.iter().position(|h| *h == "x").unwrap();
        lines
            .map(|l| l.split(',').nth(col).unwrap().parse().unwrap())
            .collect()
    };
    let whole = xs("1..100");
    assert_eq!(whole.len(), 20);
    assert!(
        whole
            .iter()
            .all(|x| x.fract() == 0.0 && (1.0..=100.0).contains(x)),
        "{whole:?}"
    );
    let real = xs("1.0..100");
    assert!(real.iter().any(|x| x.fract() != 0.0), "{real:?}");
    assert!(real.iter().all(|x| (1.0..=100.0).contains(x)), "{real:?}");
}

/// `gradsheet … | head`: when the reader stops, the command ends quietly as Unix filters
/// do (SIGPIPE), not with a panic on the failed write.
#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    use std::process::Stdio;
    let mut child = crate::common::command()
        .args(["lab", "gradients"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read nothing: the pipe closes at once.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.status.success());
}
