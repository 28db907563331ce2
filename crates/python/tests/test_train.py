"""gs.train against `gradsheet train --json`: the same numbers, bit for bit, in the
columns of docs/trace-format.md."""

import os
import zipfile

import numpy as np
import pandas as pd
import pytest

import gradsheet as gs
from conftest import number


def same(a, b):
    """Equal as IEEE doubles, NaN equal to NaN."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


def check_same_run(run, doc):
    """Every step and epoch of `run` is the command line's."""
    steps = run.steps
    assert list(steps.columns) == doc["headers"]
    got = run.step_arrays
    for k, h in enumerate(doc["headers"]):
        want = [number(r[k]) for r in doc["steps"]]
        assert same(got[h], want), h
    ep = run.epochs
    assert len(ep) == len(doc["epochs"])
    params = list(doc["final_params"])
    for field in ("sum_error", "mean_error", "sheet_rmse", "rmse", "lr"):
        assert same(ep[field], [number(e[field]) for e in doc["epochs"]]), field
    for p in params:
        assert same(ep[p], [number(e["params"][p]) for e in doc["epochs"]]), p
        assert same(ep[f"grad_norm_{p}"], [number(e["grad_norms"][p]) for e in doc["epochs"]]), p
    assert run.params == {p: number(v) for p, v in doc["final_params"].items()}
    assert run.stop == doc["stop"]
    assert run.steps_taken == doc["steps_taken"]


CASES = [
    ("a*x+b", ["--optimizer", "momentum", "--lr", "1e-4", "--epochs", "3"],
     dict(optimizer="momentum", lr=1e-4, epochs=3)),
    ("c*MAX(a*x+b,0)+d", ["--optimizer", "torch-adam", "--lr", "0.01", "--epochs", "20"],
     dict(optimizer="torch-adam", lr=0.01, epochs=20)),
    ("a*x+b", ["--optimizer", "adam", "--lr", "0.5", "--beta1", "0.7", "--epochs", "4", "--init", "a=2,b=25"],
     dict(optimizer="adam", lr=0.5, beta1=0.7, epochs=4, init={"a": 2, "b": 25})),
    ("a*x+b", ["--optimizer", "torch-sgd", "--lr", "1e-4", "--momentum", "0.9", "--nesterov",
               "--epochs", "3", "--batch", "4", "--shuffle", "--seed", "11"],
     dict(optimizer="torch-sgd", lr=1e-4, momentum=0.9, nesterov=True, epochs=3, batch=4,
          shuffle=True, seed=11)),
    ("a*x+b", ["--optimizer", "rmsprop", "--lr", "0.01", "--epochs", "2", "--gradient", "central",
               "--h", "0.001", "--show-fd", "forward"],
     dict(optimizer="rmsprop", lr=0.01, epochs=2, gradient="central", h=0.001, show_fd="forward")),
    ("a*x+b", ["--optimizer", "sgd", "--lr", "0.01", "--epochs", "3"],
     dict(optimizer="sgd", lr=0.01, epochs=3)),  # diverges
]


@pytest.mark.parametrize("model,args,kwargs", CASES)
def test_a_run_is_the_command_lines_run(cli, model, args, kwargs):
    doc = cli.json("train", model, *args, flag="--json FILE")
    check_same_run(gs.train(model, **kwargs), doc)


def test_a_diverging_run_says_where(cli):
    run = gs.train("a*x+b", optimizer="sgd", lr=0.01, epochs=3)
    assert run.stopped == "diverged"
    assert run.stop["step"] > 1 and run.stop["row"] >= 1 and run.stop["reason"]
    # The trace keeps the bad step itself: a NaN or an explosion is data to show.
    assert run.steps["step"].iloc[-1] == run.stop["step"]


def test_record_final_and_epochs_keep_the_same_end(cli):
    doc = cli.json("train", "a*x+b", "--optimizer", "momentum", "--lr", "1e-4", "--epochs", "40",
                   flag="--json FILE")
    want = {p: number(v) for p, v in doc["final_params"].items()}
    for record in ("final", "epochs"):
        run = gs.train("a*x+b", optimizer="momentum", lr=1e-4, epochs=40, record=record)
        assert run.params == want
        assert run.steps_taken == 40 * 29
        assert len(run.steps) == 0
    assert len(gs.train("a*x+b", optimizer="momentum", lr=1e-4, epochs=40, record="epochs").epochs) == 40
    assert len(gs.train("a*x+b", optimizer="momentum", lr=1e-4, epochs=40, record="final").epochs) == 0


def test_data_from_a_dataframe_arrays_a_dict_or_a_csv_file(cli, tmp_path):
    d = gs.generate("3*x-7", x=(-5.0, 5.0), n=40, seed=3, noise=0.25)
    path = tmp_path / "points.csv"
    with open(path, "w") as f:
        f.write("Size,Price\n")
        for a, b in zip(d["x"], d["y"]):
            f.write(f"{float(a)!r},{float(b)!r}\n")
    doc = cli.json("train", "a*x+b", "--data", str(path), "--columns", "x=Size,y=Price",
                   "--optimizer", "adam", "--lr", "0.1", "--epochs", "3", flag="--json FILE")
    kw = dict(optimizer="adam", lr=0.1, epochs=3)
    df = pd.DataFrame({"Size": d["x"], "Price": d["y"], "note": ["t"] * 40})
    runs = [
        gs.train("a*x+b", data=df, x="Size", y="Price", **kw),
        gs.train("a*x+b", x=d["x"], y=d["y"], **kw),
        gs.train("a*x+b", data={"x": list(d["x"]), "y": d["y"]}, **kw),
        gs.train("a*x+b", data=np.column_stack([d["x"], d["y"]]), **kw),
        gs.train("a*x+b", data=str(path), columns={"x": "Size", "y": "Price"}, **kw),
    ]
    for run in runs:
        check_same_run(run, doc)


def test_generated_data_is_the_command_lines(cli):
    doc = cli.json("train", "a*x+b", "--target", "0.5*x+3", "--x", "0.0..10.0", "--n", "12",
                   "--seed", "5", "--noise", "0.1", "--epochs", "1", flag="--json FILE")
    d = gs.generate("0.5*x+3", x=(0.0, 10.0), n=12, seed=5, noise=0.1)
    xi, yi = doc["headers"].index("x"), doc["headers"].index("y")
    assert same(d["x"], [r[xi] for r in doc["steps"]])
    assert same(d["y"], [r[yi] for r in doc["steps"]])


def test_steps_are_lent_to_numpy_and_pandas_without_a_copy():
    run = gs.train("a*x+b", optimizer="momentum", lr=1e-4, epochs=2)
    block = run._run.step_table[3]
    base = np.asarray(block)
    assert base.dtype == np.float64 and base.shape == (len(run.steps.columns) - 3, 58)
    arrays = run.step_arrays
    assert np.shares_memory(arrays["err"], base)
    assert arrays["err"].flags["C_CONTIGUOUS"]
    steps = run.steps
    for c in ("lr", "x", "err", "new b"):
        assert np.shares_memory(steps[c].to_numpy(), base), c
    assert steps["step"].dtype == np.int64 and steps["row"].tolist()[:3] == [1, 2, 3]


def test_a_long_run_fills_its_columns_past_the_first_reservation(cli, tmp_path):
    # 3,000 epochs of 29 rows: the columns are packed into one block at the end; the last
    # step and the epoch table must still be the command line's.
    doc = cli.json("train", "a*x+b", "--optimizer", "torch-adam", "--lr", "0.05", "--epochs", "3000",
                   flag="--json FILE")
    run = gs.train("a*x+b", optimizer="torch-adam", lr=0.05, epochs=3000)
    check_same_run(run, doc)


def test_the_workbook_is_written_atomically_and_replays_any_run(tmp_path):
    path = tmp_path / "run.xlsx"
    run = gs.train("a*x+b", optimizer="momentum", lr=1e-4, epochs=2, record="final")
    assert run.to_xlsx(path) == str(path)
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        assert "xl/workbook.xml" in names
        wb = z.read("xl/workbook.xml").decode()
    for sheet in ("Settings", "Data", "Steps", "Epochs"):
        assert f'name="{sheet}"' in wb
    assert [p for p in os.listdir(tmp_path) if p != "run.xlsx"] == []


def test_pictures_in_a_notebook():
    run = gs.train("a*x+b", optimizer="momentum", lr=1e-4, epochs=3)
    html = run._repr_html_()
    assert "<svg" in html and "momentum" in html and "<table>" in html
    charts = run.charts()
    assert {"error_by_epoch", "params_over_steps", "fit", "contours"} <= set(charts)
    import matplotlib

    matplotlib.use("Agg")
    fig = run.plot()
    assert len(fig.axes) >= 3
    fig = gs.train("a*x+b", lr=1e-4, epochs=3, record="final").plot()
    assert len(fig.axes) == 1
