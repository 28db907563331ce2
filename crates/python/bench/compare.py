"""The figures of BENCHMARKS.md's Python section: gradsheet from Python against its own
command line, micrograd and plain PyTorch on the same run (per-sample SGD of a*x+b on the
graddesc data, lr 1e-4, from a = b = 1), and the cost of a million-row step DataFrame.

    python crates/python/bench/compare.py [path/to/gradsheet]   # release binary

micrograd and torch are measured when they are installed (pip install micrograd torch)
and said to be missing otherwise. Each figure is the best of `REPEAT` runs.
"""

import os
import subprocess
import sys
import time

import numpy as np

import gradsheet as gs

REPEAT = 5
X = np.array([14, 86, 28, 51, 28, 29, 72, 62, 84, 15, 42, 62, 47, 35, 9, 38, 44, 99, 13, 21, 28,
              20, 8, 64, 99, 70, 27, 17, 8], dtype=np.float64)
Y = 2 * X + 30


def best(f, repeat=REPEAT):
    times = []
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return min(times), out


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "../../../target/release/gradsheet")
    epochs = 10**6
    steps = epochs * 29

    t_py, run = best(lambda: gs.train("a*x+b", optimizer="sgd", lr=1e-4, epochs=epochs, record="final"))
    print(f"gs.train record='final', {steps:,} steps: {t_py:.3f} s = {steps / t_py / 1e6:.1f} M steps/s; "
          f"a = {run.params['a']!r}, b = {run.params['b']!r}")

    cmd = [binary, "train", "a*x+b", "--optimizer", "sgd", "--lr", "1e-4", "--epochs", str(epochs), "--quiet"]
    t_cli, _ = best(lambda: subprocess.run(cmd, check=True, capture_output=True))
    print(f"gradsheet train --quiet (the whole process): {t_cli:.3f} s = {steps / t_cli / 1e6:.1f} M steps/s")

    n_ep = 34483  # 1,000,007 steps
    t_run, run = best(lambda: gs.train("a*x+b", optimizer="sgd", lr=1e-4, epochs=n_ep), 3)
    t_df, df = best(lambda: _frame(run), 3)
    arrays = {c: np.array(v) for c, v in run.step_arrays.items()}
    import pandas as pd

    t_arr, _ = best(lambda: pd.DataFrame(arrays), 3)
    print(f"a {len(df):,}-row step table ({df.shape[1]} columns): the run keeping every step {t_run:.3f} s; "
          f"its DataFrame {t_df * 1e3:.2f} ms; pandas' DataFrame from the same numpy arrays {t_arr * 1e3:.2f} ms")

    micrograd(run_epochs=20)
    torch(run_epochs=20)


def _frame(run):
    run._steps = None
    return run.steps


def micrograd(run_epochs):
    try:
        from micrograd.engine import Value
    except ImportError:
        print("micrograd: not installed (pip install micrograd)")
        return

    def go():
        a, b = Value(1.0), Value(1.0)
        for _ in range(run_epochs):
            for x, y in zip(X.tolist(), Y.tolist()):
                e = (a * x + b - y) ** 2
                a.grad = b.grad = 0.0
                e.backward()
                a.data -= 1e-4 * a.grad
                b.data -= 1e-4 * b.grad
        return a.data, b.data

    t, (a, b) = best(go, 3)
    n = run_epochs * 29
    ref = gs.train("a*x+b", optimizer="sgd", lr=1e-4, epochs=run_epochs, record="final").params
    print(f"micrograd, {n} steps: {t:.4f} s = {n / t / 1e3:.1f} k steps/s; a = {a!r} (gradsheet {ref['a']!r})")


def torch(run_epochs):
    try:
        import torch as th
    except ImportError:
        print("torch: not installed (pip install torch)")
        return
    th.set_num_threads(1)

    def go():
        p = th.ones(2, dtype=th.float64, requires_grad=True)
        opt = th.optim.SGD([p], lr=1e-4)
        xs = th.tensor(X)
        ys = th.tensor(Y)
        for _ in range(run_epochs):
            for i in range(29):
                opt.zero_grad()
                e = (p[0] * xs[i] + p[1] - ys[i]) ** 2
                e.backward()
                opt.step()
        return p.detach().numpy().copy()

    t, p = best(go, 3)
    n = run_epochs * 29
    ref = gs.train("a*x+b", optimizer="torch-sgd", lr=1e-4, epochs=run_epochs, record="final").params
    print(f"torch {th.__version__} (CPU, 1 thread), {n} steps: {t:.4f} s = {n / t / 1e3:.1f} k steps/s; "
          f"a = {float(p[0])!r} (gradsheet torch-sgd {ref['a']!r})")


if __name__ == "__main__":
    main()
