//! W1 as a standalone hand-written program, for timing whole processes against
//! `gradsheet train "a*x+b" --optimizer sgd --lr 1e-4 --epochs N --quiet` (BENCHMARKS.md):
//! per-sample SGD on the graddesc data from (1, 1), the final parameters printed.
//!
//! ```text
//! cargo build --release -p gradsheet-jit --example w1_bare
//! target/release/examples/w1_bare 1000000          # the engine's arithmetic (same bits)
//! target/release/examples/w1_bare 1000000 fused    # fused multiply-adds, 2·lr folded
//! ```

use gradsheet_jit::best;

fn main() {
    let mut args = std::env::args().skip(1);
    let epochs: usize = match args.next().map(|a| a.parse()) {
        Some(Ok(n)) => n,
        _ => {
            eprintln!("usage: w1_bare EPOCHS [fused]");
            std::process::exit(2);
        }
    };
    let fused = args.next().as_deref() == Some("fused");
    let rows = gradsheet_engine::Dataset::graddesc().values;
    let [a, b] = if fused {
        best::w1(&rows, [1.0, 1.0], 1e-4, epochs)
    } else {
        best::w1_same_order(&rows, [1.0, 1.0], 1e-4, epochs)
    };
    println!("a = {a}, b = {b}");
}
