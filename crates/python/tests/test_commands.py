"""gs.diff, gs.check, gs.eval, gs.explain, gs.graddesc, gs.sweep, gs.surface and gs.lab
against the commands of the same names (their --json output)."""

import numpy as np
import pytest

import gradsheet as gs
from conftest import number


def test_eval_is_the_commands(cli):
    want = cli.json("eval", "c*MAX(a*x+b,0)+d", "x=3", "a=1", "b=-7", "c=2", "d=0.5")
    assert gs.eval("c*MAX(a*x+b,0)+d", x=3, a=1, b=-7, c=2, d=0.5) == want["value"] == 0.5


def test_diff_is_the_commands(cli):
    want = cli.json("diff", "c*(a*x+b)+d")
    got = gs.diff("c*(a*x+b)+d")
    assert list(got) == want["parameters"] == ["c", "a", "b", "d"]
    for d in want["derivatives"]:
        assert got[d["wrt"]] == {"excel": d["excel"], "math": d["math"], "formula": d["formula"]}
    assert got.error == want["error"]
    assert "<table>" in got._repr_html_()


def test_check_recognises_a_forward_difference_as_the_command_does(cli):
    typed = "((((a+0.01)*x+b)*c+d-y)^2-((a*x+b)*c+d-y)^2)/0.01"
    want = cli.json("check", "c*(a*x+b)+d", "--derivative", f"a={typed}")["derivative_checks"][0]
    got = gs.check("c*(a*x+b)+d", a=typed)
    c = got["a"]
    assert got.verdicts == {"a": "finite_difference"}
    assert c["finding"]["h"] == want["finding"]["h"] == 0.01
    assert c["finding"]["error"] == want["finding"]["error"]
    assert c["summary"] == want["summary"]
    assert c["exact_excel"] == want["exact_excel"]
    assert [r["diff"] for r in c["rows"]] == [number(r["diff"]) for r in want["rows"]]
    # x = 86 on row 2: the forward difference is off by h·c²·x² = 73.96.
    assert abs(c["rows"][1]["diff"] - 73.96) < 1e-6
    assert got.rows("a").shape[0] == 29
    right = gs.check("a*x+b", a="2*(a*x+b-y)*x", b="2*(a*x+b-y)")
    assert right.verdicts == {"a": "exact", "b": "exact"}
    assert gs.check("a*x+b", a="(a*x+b-y)*x").verdicts == {"a": "scaled"}


def test_explain_is_the_commands_diagnosis(cli):
    args = ["c*(a*x+b)+d", "--optimizer", "sgd", "--lr", "1e-4", "--epochs", "3"]
    want = cli.json("explain", *args)
    got = gs.explain("c*(a*x+b)+d", optimizer="sgd", lr=1e-4, epochs=3)
    assert got.stop == want["stop"]
    assert got.verdict["class"] == want["verdict"]["class"]
    assert got.verdict["final_error"] == want["verdict"]["final_error"]
    assert got.stability == want["stability"]
    if want["divergence"] is not None:
        assert got.divergence["step"] == want["divergence"]["step"]
    assert [(t, l) for t, l in got.sections] == [(s["title"], s["lines"]) for s in want["text"]]
    assert [r["text"] for r in got.remedies] == [r["text"] for r in want["remedies"]]
    assert got.text.startswith(want["text"][0]["title"])
    assert "<h4>" in got._repr_html_()


def test_graddesc_is_the_commands_sheet(cli):
    want = cli.json("graddesc", "--sheet", "momentum", "--lr", "2e-4", "--beta1", "0.5", "--init",
                    "a=2,b=25", "--runs", "1", "--clean")
    got = gs.graddesc("momentum", lr=2e-4, beta1=0.5, init={"a": 2, "b": 25}, runs=1, clean=True)
    view = want["replay"]["view"]
    table = got.table
    assert list(table.columns) == [c["header"] for c in view["columns"]]
    assert table.index[0] == view["first_row"] == 4 and len(table) == 29
    assert np.array_equal(table.to_numpy(), np.array([[number(v) for v in r] for r in view["rows"]]))
    assert got.cells == {c["addr"]: number(c["value"]) for c in view["cells"]}
    assert got.notes == view["notes"]
    assert got.actions == want["replay"]["actions"]
    assert len(got.history) == len(want["replay"]["epochs"])
    assert np.array_equal(got.clean.table.to_numpy(),
                          np.array([[number(v) for v in r] for r in want["clean"]["view"]["rows"]]))
    assert len(got.comparison) == len(want["comparison"]["epochs"])


def test_the_saved_momentum_sheet_shows_its_first_numbers():
    # The quirk docs/workbooks.md explains: momentum's first carried value is -18.33.
    s = gs.graddesc("momentum")
    assert round(s.history["m_b"].iloc[0], 2) == round(s.cells["J3"], 2) == -18.33
    assert round(s.cells["K3"], 2) == 98.25


def test_sweep_is_the_commands_map(cli, tmp_path):
    out = tmp_path / "map.json"
    cli.run("sweep", "a*x+b", "--optimizer", "momentum", "--epochs", "20",
            "--x-axis", "lr=1e-6..1e-3:5:log", "--y-axis", "beta1=0..0.9:3", "--json", str(out))
    import json

    want = json.loads(out.read_text())
    got = gs.sweep("a*x+b", "lr=1e-6..1e-3:5:log", ("beta1", 0, 0.9, 3), optimizer="momentum", epochs=20)
    assert got.x.tolist() == want["x"]["values"] and got.y.tolist() == want["y"]["values"]
    t = got.table
    assert t["class"].tolist() == [c["class"] for c in want["cells"]]
    assert t["final_error"].tolist() == [c["final_error"] for c in want["cells"]]
    assert t["diverged_at"].tolist() == [c["diverged_at"] or 0 for c in want["cells"]]
    assert got.classes.shape == (3, 5)
    assert "<svg" in got._repr_html_()


def test_surface_is_the_commands_grid(cli, tmp_path):
    out = tmp_path / "s.json"
    cli.run("surface", "c*MAX(a*x+b,0)+d", "--x-axis", "a=0..3:7", "--y-axis", "c=0..3:5",
            "--init", "b=-12,d=46", "--json", str(out))
    import json

    want = json.loads(out.read_text())
    got = gs.surface("c*MAX(a*x+b,0)+d", "a=0..3:7", ("c", 0, 3, 5), init={"b": -12, "d": 46})
    assert got.x.tolist() == want["x"]["values"] and got.y.tolist() == want["y"]["values"]
    assert np.array_equal(got.values, np.array([[number(v) for v in r] for r in want["mean_error"]]))
    assert got.values.shape == (5, 7)
    assert "<svg" in got._repr_html_()


def test_a_lab_is_the_commands(cli, tmp_path):
    out = tmp_path / "lab.json"
    cli.run("lab", "conv", "--json", str(out))
    import json

    want = json.loads(out.read_text())
    got = gs.lab("conv")
    assert got.notes == want["notes"]
    assert list(got.tables) == [t["name"] for t in want["tables"]]
    for t in want["tables"]:
        assert got.table_rows[t["name"]][0] == t["headers"]
        assert got.table_rows[t["name"]][1] == [[number(v) for v in r] for r in t["rows"]]
    assert list(got.figures) == [f"conv-{f['name']}" for f in want["figures"]]
    assert all("<svg" in s for s in got.figures.values())
    path = got.to_xlsx(tmp_path / "conv.xlsx")
    with open(path, "rb") as f:
        assert f.read(2) == b"PK"
    listed = {n for n, *_ in gs.lab()}
    assert {"conv", "dropout", "entropy"} <= listed


@pytest.mark.parametrize("name", ["dropout", "focal"])
def test_concept_labs_take_settings(name):
    first = gs.lab()
    settings = next(ps for n, _, _, ps in first if n == name)
    assert settings, name
    lab = gs.lab(name)
    assert lab.notes and "<svg" in lab._repr_html_()
