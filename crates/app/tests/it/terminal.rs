//! Output for a terminal fits it: 80 columns unless the terminal (or `COLUMNS`) says
//! otherwise, tables narrowed (fewer digits, then the less essential columns, named in a
//! note), prose wrapped; `--wide` gives every column; CSV and JSON stay as they are.

use std::process::Command;

/// Runs `gradsheet` as if in a terminal `columns` wide.
fn at_width(columns: usize, args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_gradsheet"))
        .args(args)
        .env("COLUMNS", columns.to_string())
        .output()
        .expect("the binary runs");
    assert!(
        o.status.success(),
        "gradsheet {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The widest line, in characters.
fn widest(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

#[test]
fn graddesc_fits_80_columns_on_every_sheet_and_names_what_it_leaves_out() {
    for (sheet, wb) in [
        ("basic", "2018"),
        ("momentum", "2018"),
        ("rmsprop", "2018"),
        ("adam", "2018"),
        ("adam_ann", "2018"),
        ("adagrad", "2016"),
        ("adagrad_ann", "2016"),
        ("eve", "2016"),
    ] {
        let args = [
            "graddesc",
            "--sheet",
            sheet,
            "--workbook",
            wb,
            "--clean",
            "--history",
        ];
        let out = at_width(80, &args);
        assert!(
            widest(&out) <= 80,
            "{sheet}: {} columns\n{out}",
            widest(&out)
        );
        let wide = at_width(80, &[&args[..], &["--wide"]].concat());
        assert!(widest(&wide) > 80, "{sheet}: --wide keeps every column");
    }
    let out = at_width(80, &["graddesc", "--sheet", "momentum"]);
    assert!(
        out.contains("(pred, new b, new a left out to fit 80 columns; --wide shows every column)"),
        "{out}"
    );
    // The essential columns stay, in the sheet's order.
    let header = out
        .lines()
        .find(|l| l.starts_with("row"))
        .unwrap_or_default();
    let cols: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        cols,
        ["row", "x", "y", "b", "a", "de/db", "de/da", "J", "K", "err^2"]
    );
    // A wider terminal shows more.
    let out = at_width(130, &["graddesc", "--sheet", "momentum"]);
    assert!(!out.contains("left out"), "{out}");
}

#[test]
fn numbers_in_prose_read_as_a_person_reads_them_and_json_keeps_them_exact() {
    let out = at_width(80, &["graddesc", "--sheet", "momentum"]);
    assert!(
        out.contains("K1 1-beta = 0.1\n")
            || out.contains("K1 1-beta = 0.1,")
            || out.contains("K1 1-beta = 0.1 "),
        "{out}"
    );
    assert!(!out.contains("0.09999999999999998"), "{out}");
    let json = at_width(80, &["graddesc", "--sheet", "momentum", "--json"]);
    assert!(
        json.contains("0.09999999999999998"),
        "the JSON keeps the exact value"
    );
}
