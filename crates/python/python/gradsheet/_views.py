"""What gs.diff, gs.check, gs.explain, gs.graddesc, gs.sweep, gs.surface and gs.lab
return: plain data with a table or a picture in a notebook."""

import numpy as np

from . import _html, _tables
from ._files import write_atomic


class Derivatives(dict):
    """``{parameter: {'excel': '=…', 'math': '…', 'formula': '…'}}``: the derivative of
    the per-row error by each parameter; ``.error`` is that error as a formula."""

    def __init__(self, d):
        super().__init__(
            (x["wrt"], {"excel": x["excel"], "math": x["math"], "formula": x["formula"]})
            for x in d["derivatives"]
        )
        self.info = d
        self.error = d["error"]

    def _repr_html_(self):
        rows = [[p, v["excel"], v["math"]] for p, v in self.items()]
        head = _html.paragraphs([f"e = {self.info['error_math']}"])
        return head + _html.table(["∂e/∂", "Excel", "mathematics"], rows)


class Check:
    """The verdict on typed derivatives (``gradsheet check``): per parameter, what the
    formula is (``finding['kind']``: exact, finite_difference, scaled, other_name,
    prediction_only, unknown), the sentence that says so (``summary``), the exact
    derivative, and the comparison on every data row (``rows``)."""

    def __init__(self, checks):
        self.checks = {c["param"]: c for c in checks}

    def __getitem__(self, p):
        return self.checks[p]

    def __iter__(self):
        return iter(self.checks)

    def __len__(self):
        return len(self.checks)

    @property
    def verdicts(self):
        """``{parameter: finding kind}``."""
        return {p: c["finding"]["kind"] for p, c in self.checks.items()}

    def rows(self, p):
        """The comparison for parameter `p` on every data row, as a DataFrame."""
        pd = _tables.pandas()
        return pd.DataFrame(self.checks[p]["rows"])

    def __repr__(self):
        return "\n".join(
            f"∂e/∂{p}: {'right' if c['is_exact'] else 'not exact'} — {c['summary']}"
            for p, c in self.checks.items()
        )

    def _repr_html_(self):
        parts = []
        for p, c in self.checks.items():
            parts.append(_html.heading(f"∂e/∂{p}: {'right' if c['is_exact'] else 'not exact'}"))
            parts.append(_html.paragraphs([c["summary"], f"typed: {c['claimed']}", f"exact: {c['exact_excel']}"]))
            rows, skipped = _html.ends(c["rows"], 4)
            body = [None if r is None else [r["row"], r["claimed"], r["exact"], r["diff"]] for r in rows]
            parts.append(_html.table(["row", "typed", "exact", "typed − exact"], body, skipped=skipped))
        return "".join(parts)


class Explanation:
    """The diagnosis of a run (``gradsheet explain``): ``text`` in sections, and fields
    to read: ``stop``, ``stability`` (k, limit: a step is unstable when k·lr·λ_max >
    limit), ``divergence`` (step, row, reason, λ_max), ``verdict`` over the verifying
    epochs, ``remedies`` (each verified by a re-run), ``collapse``."""

    def __init__(self, d):
        self.__dict__.update(d)

    def __repr__(self):
        return self.text

    def _repr_html_(self):
        parts = []
        for title, lines in self.sections:
            parts.append(_html.heading(title))
            parts.append(_html.bullets(lines))
        return "".join(parts)


class Sheet:
    """A graddesc sheet as the workbook shows it (``gradsheet graddesc``): ``table``
    (rows 4–32, indexed by the sheet's row numbers, columns by the sheet's headers),
    ``cells`` (``{address: value}`` of the inputs and summaries, ``labels`` their
    names), ``notes`` (the quirks, with this sheet's numbers), ``history`` (every pass
    the macros displayed) and, with ``clean=True``, ``clean`` (the sheet run cleanly) and
    ``comparison``."""

    def __init__(self, d):
        v = d["view"]
        self.workbook = d["workbook"]
        self.sheet = d["sheet"]
        self.name = v["name"]
        self.actions = d["actions"]
        self.notes = v["notes"]
        self.cells = {a: x for a, _, x in v["cells"]}
        self.labels = {a: l for a, l, _ in v["cells"]}
        self.columns = {letter: (meaning, formula) for letter, meaning, formula in v["meanings"]}
        self._view = v
        self._d = d
        self._xlsx = d["xlsx"]

    @property
    def rows(self):
        """``{header: numpy array}`` of the row table."""
        block = np.asarray(self._view["rows"])
        return {h: block[k] for k, h in enumerate(self._view["headers"])}

    @property
    def table(self):
        """The row table as a DataFrame indexed by the sheet's row numbers."""
        pd = _tables.pandas()
        block = np.asarray(self._view["rows"])
        first = self._view["first_row"]
        return pd.DataFrame(
            block.T,
            columns=self._view["headers"],
            index=pd.RangeIndex(first, first + block.shape[1], name="row"),
        )

    @property
    def history(self):
        """Every pass the macros displayed: epoch, what led to it, b, a, lr, the sheet's
        rmse, the carried state."""
        pd = _tables.pandas()
        names = ["epoch", "after", "b", "a", "lr", "sheet_rmse"] + list(self._d["state_names"])
        rows = [list(e[:6]) + list(e[6]) for e in self._d["epochs"]]
        return pd.DataFrame(rows, columns=names)

    @property
    def clean(self):
        """The clean version's sheet (every update applied, state from zero), if asked."""
        c = self._d.get("clean")
        if c is None:
            return None
        return Sheet({**self._d, "view": c["view"], "clean": None, "xlsx": b""})

    @property
    def comparison(self):
        """Faithful against clean, pass by pass, if asked."""
        c = self._d.get("clean")
        if c is None:
            return None
        pd = _tables.pandas()
        return pd.DataFrame(
            c["comparison"],
            columns=["epoch", "sheet b", "sheet a", "clean b", "clean a", "sheet rmse", "clean rmse"],
        )

    def to_xlsx(self, path):
        """Writes the sheet as a workbook in its own layout, row formulas live."""
        return write_atomic(path, self._xlsx)

    def __repr__(self):
        return f"<graddesc {self.workbook} sheet '{self.name}': {len(self.notes)} notes>"

    def _repr_html_(self):
        parts = [_html.heading(f"graddesc.xlsm ({self.workbook}), sheet '{self.name}'")]
        inputs = [[a, self.labels[a], x] for a, x in self.cells.items()]
        parts.append(_html.table(["cell", "label", "value"], inputs))
        rows = self.rows
        heads = list(rows)
        first = self._view["first_row"]
        n = len(next(iter(rows.values()))) if rows else 0
        body = [[first + i] + [rows[h][i] for h in heads] for i in range(n)]
        parts.append(_html.table(["row"] + heads, body))
        parts.append(_html.heading("What to notice"))
        parts.append(_html.bullets(self.notes))
        return "".join(parts)


class Map:
    """A stability map (``gradsheet sweep``): ``x`` and ``y`` (setting, values), and per
    cell its class (converged, slow, oscillating, diverged), final mean error and
    diverging step, as 2-D arrays indexed ``[y, x]`` and as a long ``table``."""

    def __init__(self, parts):
        (self.x_setting, xs), (self.y_setting, ys), classes, errors, diverged, self.svg = parts
        self.x = np.asarray(xs)
        self.y = np.asarray(ys)
        shape = (len(self.y), len(self.x))
        self.classes = np.asarray(classes, dtype=object).reshape(shape)
        self.final_error = np.asarray(errors)
        self.diverged_at = np.asarray(diverged, dtype=np.int64).reshape(shape)

    @property
    def table(self):
        pd = _tables.pandas()
        gx, gy = np.meshgrid(self.x, self.y)
        return pd.DataFrame(
            {
                self.x_setting: gx.ravel(),
                self.y_setting: gy.ravel(),
                "class": self.classes.ravel(),
                "final_error": self.final_error.ravel(),
                "diverged_at": self.diverged_at.ravel(),
            }
        )

    def counts(self):
        """How many cells of each class."""
        names, n = np.unique(self.classes, return_counts=True)
        return dict(zip(names.tolist(), n.tolist()))

    def __repr__(self):
        return f"<stability map {self.y_setting} × {self.x_setting}: {self.counts()}>"

    def _repr_html_(self):
        return _html.svg(self.svg, 640)


class Surface:
    """An error landscape (``gradsheet surface``): the exact mean error over the data at
    every point of a grid of two parameters; ``values[j, i]`` is at ``x[i]``, ``y[j]``."""

    def __init__(self, x_param, xs, y_param, ys, block, svg):
        self.x_param, self.y_param = x_param, y_param
        self.x = np.asarray(xs)
        self.y = np.asarray(ys)
        self.values = np.asarray(block)
        self.svg = svg

    def lowest(self):
        """``(error, x, y)`` of the grid's lowest point."""
        v = np.where(np.isnan(self.values), np.inf, self.values)
        j, i = np.unravel_index(np.argmin(v), v.shape)
        return float(self.values[j, i]), float(self.x[i]), float(self.y[j])

    def plot(self, levels=20):
        plt = _tables.pyplot()
        fig, ax = plt.subplots(figsize=(5, 4))
        cs = ax.contourf(self.x, self.y, np.log10(np.maximum(self.values, 1e-300)), levels=levels)
        fig.colorbar(cs, ax=ax, label="log10 mean error")
        ax.set_xlabel(self.x_param)
        ax.set_ylabel(self.y_param)
        return fig

    def __repr__(self):
        e, x, y = self.lowest()
        return (
            f"<error surface over {self.x_param} × {self.y_param} ({len(self.x)}×{len(self.y)}): "
            f"lowest {_html.num(e)} at {self.x_param}={_html.num(x)}, {self.y_param}={_html.num(y)}>"
        )

    def _repr_html_(self):
        return _html.svg(self.svg, 560) if self.svg else _html.paragraphs([repr(self)])


class Lab:
    """A lab (``gradsheet lab NAME``): ``notes``, ``tables`` (``{name: DataFrame}``, or
    ``table_rows`` without pandas), ``figures`` (``{name: svg}``) and the workbook
    (``to_xlsx``)."""

    def __init__(self, d):
        self.name = d["name"]
        self.about = d["about"]
        self.settings = dict(d["settings"])
        self.notes = d["notes"]
        self._tables = d["tables"]
        self.figures = {name: svg for name, _, svg in d["figures"]}
        self.figure_titles = {name: title for name, title, _ in d["figures"]}
        self._xlsx = d["xlsx"]

    @property
    def table_rows(self):
        """``{name: (headers, rows)}``."""
        return {n: (h, rows) for n, _, h, rows in self._tables}

    @property
    def tables(self):
        pd = _tables.pandas()
        return {n: pd.DataFrame(rows, columns=h) for n, _, h, rows in self._tables}

    def to_xlsx(self, path):
        """Writes the lab's workbook (live formulas, in the original's spirit)."""
        return write_atomic(path, self._xlsx)

    def __repr__(self):
        return f"<lab {self.name}: {len(self._tables)} tables, {len(self.figures)} figures>"

    def _repr_html_(self):
        parts = [_html.heading(f"{self.name} — {self.about}"), _html.bullets(self.notes)]
        for _, title, h, rows in self._tables:
            shown, skipped = _html.ends(rows, 6)
            parts.append(_html.table(h, shown, caption=title, skipped=skipped))
        for svg in self.figures.values():
            parts.append(_html.svg(svg, 640))
        return "".join(parts)
