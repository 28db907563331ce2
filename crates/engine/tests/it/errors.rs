//! Every kind of formula error renders with a caret under the fault.

use expect_test::{expect, Expect};
use gradsheet_engine::parse;

fn check(src: &str, expect: Expect) {
    expect.assert_eq(&parse(src).unwrap_err().render());
}

#[test]
fn rendered_errors() {
    check(
        "",
        expect![[r#"

        ^ the formula is empty"#]],
    );
    check(
        "=",
        expect![[r#"
        =
        ^ the formula is empty"#]],
    );
    check(
        "a*x+",
        expect![[r#"
        a*x+
            ^ expected an expression, found the end of the formula"#]],
    );
    check(
        "MAXX(a,b)",
        expect![[r#"
        MAXX(a,b)
        ^^^^ unknown function MAXX (did you mean MAX?)"#]],
    );
    check(
        "sigmod(x)",
        expect![[r#"
        sigmod(x)
        ^^^^^^ unknown function sigmod (did you mean SIGMOID?)"#]],
    );
    check(
        "EXP(a,b)",
        expect![[r#"
        EXP(a,b)
        ^^^^^^^^ EXP takes 1 argument, but 2 were given"#]],
    );
    check(
        "IF(a)",
        expect![[r#"
        IF(a)
        ^^^^^ IF takes 2 to 3 arguments, but 1 was given"#]],
    );
    check(
        "c*(a*x+b",
        expect![[r#"
        c*(a*x+b
          ^ this parenthesis is never closed"#]],
    );
    check(
        "a*x)+b",
        expect![[r#"
        a*x)+b
           ^ this parenthesis closes nothing"#]],
    );
    check(
        "a # b",
        expect![[r#"
        a # b
          ^ unexpected character '#'"#]],
    );
    check(
        "2*1e999",
        expect![[r#"
        2*1e999
          ^^^^^ the number 1e999 is out of range"#]],
    );
    check(
        "a b",
        expect![[r#"
        a b
          ^ expected an operator or the end, found the name b"#]],
    );
    check(
        "MAX(a,,b)",
        expect![[r#"
        MAX(a,,b)
              ^ expected an expression, found ','"#]],
    );
    check(
        "é + ∑",
        expect![[r#"
        é + ∑
            ^ unexpected character '∑'"#]],
    );
}

#[test]
fn limits_are_errors_not_crashes() {
    let deep = format!("{}x{}", "(".repeat(5000), ")".repeat(5000));
    assert!(parse(&deep)
        .unwrap_err()
        .to_string()
        .contains("nested deeper"));
    let long_chain = vec!["x"; 3000].join("+");
    assert!(parse(&long_chain).is_err());
    let huge = "x+".repeat(20_000);
    assert!(parse(&huge).unwrap_err().to_string().contains("limit"));
    let negs = format!("{}x", "-".repeat(10_000));
    assert!(parse(&negs).is_err());
}

/// A long formula's error shows the stretch around the fault, the caret under it, so that
/// an 18,000-character formula does not print an 18,000-character caret line.
#[test]
fn a_long_formulas_error_shows_the_stretch_around_the_fault() {
    let src = format!(
        "{}+MAXX(1)+{}",
        vec!["a"; 100].join("+"),
        vec!["b"; 100].join("+")
    );
    let e = gradsheet_engine::parse(&src).unwrap_err();
    assert_eq!(e.char_span(), (200, 204));
    let r = e.render();
    let (line, carets) = r.split_once('\n').unwrap();
    assert!(
        line.starts_with('…') && line.ends_with('…') && line.chars().count() < 100,
        "{r}"
    );
    let col = carets.find('^').unwrap();
    assert_eq!(line.chars().skip(col).take(4).collect::<String>(), "MAXX");
    assert!(
        carets.ends_with("^^^^ unknown function MAXX (did you mean MAX?)"),
        "{r}"
    );
    assert!(
        e.to_string().contains(&format!("{} characters", src.len())),
        "{e}"
    );
    // Whole-formula faults are cut too.
    let big = format!("MAX({})", vec!["x"; 300].join(","));
    let r = gradsheet_engine::parse(&big).unwrap_err().render();
    assert!(r.lines().all(|l| l.chars().count() < 160), "{r}");
}
