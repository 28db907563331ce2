//! `gradsheet bench --quick`: every per-sample workload's native run and its hand-written
//! reference end on the same bits (a difference means the reference is not the same
//! arithmetic, and its ratio is not honest). The best hand-written references for the
//! host are checked against the engine in `gradsheet_jit::best`'s tests.

use crate::common::ok;

#[test]
fn per_sample_workloads_are_bit_identical_to_their_references() {
    let out = ok(&["bench", "--quick", "--only", "W1,W2,W6", "--repeat", "1"]);
    for w in ["W1", "W2", "W6"] {
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with(w) && l.contains("epochs"))
            .unwrap_or_else(|| panic!("no {w} line in\n{out}"));
        // The results column: the same-order reference's verdict, then the best's.
        let results = line.rsplit("  ").next().unwrap_or_default();
        let same_order = results.split(';').next().unwrap_or_default().trim();
        assert_eq!(same_order, "bit-identical", "{w}: {line}");
    }
    assert!(
        out.contains("net 2-8-8-1 tanh, 500 points, sgd, 20 epochs"),
        "{out}"
    );
}
