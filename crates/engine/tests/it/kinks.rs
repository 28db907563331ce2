//! The kink rule (see `op.rs`): the derivative at a switch point is that of the piece the
//! value is taken from, ties to the first argument; symbolic and automatic agree on it.

use gradsheet_engine::{derivative, parse, Tape};

/// (symbolic, automatic) derivative of `src` in `wrt` at the given values.
fn both(src: &str, names: &[&str], vals: &[f64], wrt: &str) -> (f64, f64) {
    let e = parse(src).unwrap();
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let d = derivative(&e, wrt);
    let env = |n: &str| names.iter().position(|m| m == n).map(|i| vals[i]);
    let sym = d.eval(&env).unwrap();
    let (_, g) = Tape::compile(&e, &names).unwrap().eval_grad(vals, 0);
    let auto = g[names.iter().position(|n| n == wrt).unwrap()];
    (sym, auto)
}

#[test]
fn max_ties_go_to_the_first_argument() {
    // a*x+b = 0 exactly at a = 1, x = 2, b = -2.
    assert_eq!(
        both("MAX(a*x+b,0)", &["a", "x", "b"], &[1.0, 2.0, -2.0], "a"),
        (2.0, 2.0)
    );
    assert_eq!(
        both("MAX(0,a*x+b)", &["a", "x", "b"], &[1.0, 2.0, -2.0], "a"),
        (0.0, 0.0)
    );
    assert_eq!(both("MIN(a,1)", &["a"], &[1.0], "a"), (1.0, 1.0));
    assert_eq!(both("MAX(a,a,a)", &["a"], &[1.0], "a"), (1.0, 1.0));
}

#[test]
fn relu_is_max_of_zero() {
    assert_eq!(both("RELU(a)", &["a"], &[0.0], "a"), (1.0, 1.0));
    assert_eq!(both("RELU(a)", &["a"], &[-1e-300], "a"), (0.0, 0.0));
    assert_eq!(both("RELU(a)", &["a"], &[3.0], "a"), (1.0, 1.0));
}

#[test]
fn abs_has_slope_zero_at_zero() {
    assert_eq!(both("ABS(a)", &["a"], &[0.0], "a"), (0.0, 0.0));
    assert_eq!(both("ABS(a)", &["a"], &[-2.0], "a"), (-1.0, -1.0));
}

#[test]
fn if_takes_the_branch_it_evaluates() {
    assert_eq!(both("IF(a>=1,3*a,5*a)", &["a"], &[1.0], "a"), (3.0, 3.0));
    assert_eq!(both("IF(a>1,3*a,5*a)", &["a"], &[1.0], "a"), (5.0, 5.0));
    // The branch not taken contributes nothing, even where its own slope is infinite.
    assert_eq!(both("IF(x>0,LN(x),0)", &["x"], &[0.0], "x"), (0.0, 0.0));
    assert_eq!(
        both("MAX(SQRT(x),-1)", &["x"], &[0.0], "x").1,
        f64::INFINITY
    );
}
