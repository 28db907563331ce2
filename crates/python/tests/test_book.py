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
