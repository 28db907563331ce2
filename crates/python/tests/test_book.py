"""gs.book against the command line: a workbook gradsheet wrote itself (live formulas, the
values it computed cached) recalculates to those values, and a cell's derivatives are
what `gradsheet book --grad --json` prints."""

import pytest

import gradsheet as gs


def test_a_workbook_recalculates_and_differentiates(cli, tmp_path):
    path = tmp_path / "run.xlsx"
    cli.run("train", "a*x+b", "--epochs", "1", "--quiet", "--xlsx", str(path))
    b = gs.book(path)
    assert "Steps" in b.sheets
    r = b.recalculation()
    assert r["formula_cells"] > 100
    assert r["differ"] == []
    assert r["agree"] + len(r["not_recalculated"]) == r["formula_cells"]
    # The same cell through the binary and through the package.
    out = cli.json("book", str(path), "--grad", "Steps!M4")
    value, d = b.grad("Steps!M4")
    assert value == out["value"]
    assert d == out["derivatives"]
    assert len(d) >= 2
    assert "formula cells recalculate to Excel's values" in b._repr_html_()


def test_bad_workbooks_and_cells_raise(tmp_path):
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"not a workbook")
    with pytest.raises(gs.SettingError, match="not an .xlsx, .xlsm or .ods workbook"):
        gs.book(junk)


DATA = __import__("pathlib").Path(__file__).resolve().parents[2] / "book" / "tests" / "data"


def test_a_solver_problem_and_an_explanation(cli):
    # A least-squares line for Solver (tests/data/README.md): the package and the binary
    # give the same iterations and the same changing cells.
    path = DATA / "solver-fit.xlsx"
    b = gs.book(path)
    rows, cells, evaluations = b.solve("fit", 30)
    assert rows[0]["iteration"] == 0 and rows[0]["objective"] == 487.51
    assert abs(cells["fit!E1"] - 1.9985294117647) < 1e-6 and abs(cells["fit!E2"] - 1.0235294117647) < 1e-6
    lines = cli.run("book", str(path), "--sheet", "fit", "--run", "30", "--json").stdout.splitlines()
    import json
    out = [json.loads(l) for l in lines]
    assert [r["objective"] for r in rows] == [o["objective"] for o in out[:-1]]
    assert out[-1]["solved"]["changing"] == cells
    assert out[-1]["solved"]["evaluations"] == evaluations
    with pytest.raises(gs.SettingError, match="the learning rate is a positive number"):
        b.solve("fit", 5, adam=-1)
    # A learner's .ods, explained as `book --explain` explains it.
    x = gs.book(DATA / "learner-sgd.ods").explain("sgd")
    assert x["steep_rows"][0]["row"] == 9
    assert x["findings"][0].startswith("Row 9 (A9 = 99, B9 = 228) is too steep for the learning rate (sgd!J2 = 3e-4)")
    assert x["findings"] == cli.json("book", str(DATA / "learner-sgd.ods"), "--sheet", "sgd", "--explain")["explanation"]["findings"]
    with pytest.raises(gs.SettingError, match="no sheet named 'nope'"):
        b.explain("nope")
