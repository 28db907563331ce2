//! Any formula the parser accepts parses, simplifies, differentiates, compiles and prints
//! on a thread with a 2 MB stack (tokio's and rayon's), and a derivative past a
//! spreadsheet formula's length is reported as too large rather than built whole.

use gradsheet_engine::diff::{derivative_within, shown_derivative, SHOWN_MAX_NODES};
use gradsheet_engine::parse::MAX_DEPTH;
use gradsheet_engine::{derivative, parse, simplify, Tape};

/// Runs `f` on a thread with tokio's and rayon's 2 MB stack.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .expect("the work fits a 2 MB stack");
}

/// Everything the engine does to a formula, with `a` at `at`.
fn pipeline(src: &str, at: f64) -> Option<String> {
    let e = parse(src).unwrap_or_else(|err| panic!("{src:.40}…: {err}"));
    let s = simplify(&e);
    let names = vec!["a".to_string()];
    let tape = Tape::compile(&e, &names).unwrap();
    let mut ws = tape.workspace();
    ws.vals[0] = at;
    tape.forward(&mut ws.vals);
    tape.backward(&mut ws, 0);
    let v = e.eval_with(&[("a", at)]).unwrap();
    let vs = s.eval_with(&[("a", at)]).unwrap();
    assert!(v == vs || (v.is_nan() && vs.is_nan()) || (v - vs).abs() <= 1e-9 * v.abs().max(1.0));
    assert_eq!(
        parse(&e.to_excel())
            .unwrap()
            .eval_with(&[("a", at)])
            .unwrap()
            .to_bits(),
        v.to_bits()
    );
    match shown_derivative(&e, "a") {
        Ok(d) => {
            let text = d.to_excel();
            assert!(text.len() < 8192);
            Some(text)
        }
        Err(e) => {
            assert!(e.to_string().starts_with("too large to print"), "{e}");
            None
        }
    }
}

#[test]
fn a_tower_of_powers_is_too_large_to_print_and_found_so_early() {
    on_small_stack(|| {
        // 255 terms, 509 bytes: its derivative has about n² = 65,000 nodes; it once took
        // 20 s to build and print.
        let tower = ["a"; 255].join("^");
        assert_eq!(pipeline(&tower, 1.0001), None);
        // 12 terms still print, and read back to the exact derivative.
        let short = ["a"; 12].join("^");
        let text = pipeline(&short, 1.0001).expect("12 terms print");
        let back = parse(&text).unwrap().eval_with(&[("a", 1.0001)]).unwrap();
        let exact = derivative(&parse(&short).unwrap(), "a")
            .eval_with(&[("a", 1.0001)])
            .unwrap();
        assert_eq!(back.to_bits(), exact.to_bits());
    });
}

#[test]
fn the_deepest_formulas_fit_a_small_stack() {
    on_small_stack(|| {
        let depth = MAX_DEPTH - 2;
        let parens = format!("{}a{}", "(".repeat(depth), ")".repeat(depth));
        assert!(pipeline(&parens, 0.5).is_some());
        let exps = format!("{}a{}", "EXP(".repeat(depth / 2), ")".repeat(depth / 2));
        pipeline(&exps, -3.0);
        let tanhs = format!("{}a{}", "TANH(".repeat(depth), ")".repeat(depth));
        pipeline(&tanhs, 0.5);
        let sums = format!("{}a{}", "(1+".repeat(depth / 2), ")".repeat(depth / 2));
        assert!(pipeline(&sums, 0.5).is_some());
        let maxes = format!("MAX({})", ["a*a"; 255].join(","));
        assert!(pipeline(&maxes, 0.5).is_some());
        let nested_max = format!("{}a{}", "MAX(0,".repeat(depth / 2), ")".repeat(depth / 2));
        pipeline(&nested_max, 0.5);
    });
}

#[test]
fn a_budget_gives_up_without_building_the_rest() {
    let tower = parse(&["a"; 255].join("^")).unwrap();
    assert!(derivative_within(&tower, "a", SHOWN_MAX_NODES).is_none());
    // The budget is the thread's only while it runs: the next derivative is whole.
    let small = parse("a^a").unwrap();
    assert_eq!(
        derivative(&small, "a").to_string(),
        derivative_within(&small, "a", 1000).unwrap().to_string()
    );
}
