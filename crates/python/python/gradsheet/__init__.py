"""gradsheet in a notebook: every number of a training run, laid out like a spreadsheet
row, computed by gradsheet's Rust engine (the same code as the ``gradsheet`` command).

    >>> import gradsheet as gs
    >>> run = gs.train("a*x+b", optimizer="momentum", lr=1e-4, epochs=5)
    >>> run.params            # {'a': ..., 'b': ...}
    >>> run.steps             # a DataFrame, one row per step (pandas)
    >>> run.plot()            # error by epoch, parameters, the path on the contours (matplotlib)

Data is fast.ai's graddesc data (y = 2x + 30, 29 rows) unless ``data=`` names a
DataFrame, a dict of columns, a 2-D array or a CSV/xlsx path, or ``x=`` and ``y=`` are
arrays. Errors are exceptions: ``FormulaError`` (with ``.span``), ``SettingError``
(with ``.field``); the stop button raises ``Interrupted`` (a KeyboardInterrupt) whose
``.run`` keeps every step computed.
"""

import re

import numpy as np

from . import _data, _views
from . import _gradsheet as native
from ._errors import FormulaError, GradsheetError, Interrupted, SettingError
from ._run import Run

__all__ = [
    "train",
    "diff",
    "check",
    "eval",
    "explain",
    "graddesc",
    "sweep",
    "surface",
    "lab",
    "generate",
    "book",
    "Book",
    "Run",
    "FormulaError",
    "SettingError",
    "GradsheetError",
    "Interrupted",
]


def _setup(model, loss, data, x, y, columns, sheet, skip_rows, consts, params, init):
    cols = _data.columns(data, x=x, y=y, columns=columns, sheet=sheet, skip_rows=skip_rows)
    names, values = cols if cols is not None else (None, [])
    return native.Setup(
        model,
        loss,
        names,
        values,
        [(str(k), float(v)) for k, v in (consts or {}).items()],
        [str(p) for p in (params or [])],
        [(str(k), float(v)) for k, v in (init or {}).items()],
    )


def _config(optimizer, hyper, epochs, batch, shuffle, seed, gradient, h, show_fd, record):
    for name, v in (("epochs", epochs), ("batch", batch), ("seed", seed)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise SettingError(f"{name}={v!r} must be a whole number >= 0", name)
    return native.Config(
        optimizer, dict(hyper), int(epochs), int(batch), bool(shuffle), int(seed),
        gradient, float(h), show_fd, record,
    )


def train(
    model,
    *,
    loss="squared",
    data=None,
    x=None,
    y=None,
    columns=None,
    sheet=None,
    skip_rows=0,
    optimizer="sgd",
    epochs=1,
    batch=1,
    shuffle=False,
    seed=7,
    init=None,
    consts=None,
    params=None,
    gradient="auto",
    h=0.01,
    show_fd=None,
    record="steps",
    **hyper,
):
    """Trains `model` (a formula in spreadsheet syntax, e.g. ``"c*MAX(a*x+b,0)+d"``) and
    returns a :class:`Run`, as ``gradsheet train`` does.

    - ``loss``: squared, absolute, huber, bce, bce10, or a formula in ``pred``.
    - ``optimizer``: sgd, momentum, rmsprop, adam, adagrad (the workbooks' rules) or
      torch-sgd, torch-adagrad, torch-rmsprop, torch-adam, torch-adamw (torch.optim's);
      its settings as keywords: ``lr=``, ``beta1=``, ``beta2=``, ``eps=``,
      ``momentum=``, ``weight_decay=``, ``nesterov=True``, ... (defaults from the rule).
    - ``epochs``, ``batch`` (1 per sample as the sheets, 0 the whole data), ``shuffle``
      (seeded by ``seed``), ``init`` (``{"a": 1}``; 1 for every parameter not named).
    - ``gradient``: ``auto`` (exact) or ``forward``/``backward``/``central`` differences
      with step ``h``; ``show_fd``: a scheme whose estimates are kept beside the gradient.
    - ``record``: ``steps`` (every step), ``epochs`` (epoch summaries) or ``final`` (the
      end only: the run then goes at the command line's full native speed).

    The run releases the GIL; the notebook's stop button ends it and raises
    :class:`Interrupted`, whose ``.run`` holds every step computed.
    """
    setup = _setup(model, loss, data, x, y, columns, sheet, skip_rows, consts, params, init)
    cfg = _config(optimizer, hyper, epochs, batch, shuffle, seed, gradient, h, show_fd, record)
    run = Run(native.train_run(setup, cfg), setup, cfg)
    if run._run.interrupted:
        raise Interrupted(
            f"interrupted after {run.steps_taken:,} steps; the run up to there is this "
            "exception's .run (in a notebook: run = sys.last_value.run)",
            run,
        )
    return run


def diff(model, *, loss="squared", data=None, x=None, y=None, columns=None, consts=None,
         params=None, wrt=None):
    """The derivatives of the per-row error by each parameter (or by the names in `wrt`),
    as ``gradsheet diff``: ``{param: {'excel': '=…', 'math': '…', 'formula': '…'}}``."""
    setup = _setup(model, loss, data, x, y, columns, None, 0, consts, params, None)
    return _views.Derivatives(native.diff(setup, list(wrt or [])))


def check(model, derivatives=None, *, loss="squared", data=None, x=None, y=None,
          columns=None, consts=None, params=None, init=None, seed=7, **typed):
    """Checks derivatives you typed, as ``gradsheet check --derivative p=...``: give each
    as a keyword named by its parameter (``a="2*(a*x+b-y)*x"``) or in ``derivatives``.
    Says whether each is exact, and if not what it is: a forward, backward or central
    difference (with its error formula), a scaled derivative, one by another name, or
    the prediction's derivative alone; with the comparison on every data row at `init`."""
    setup = _setup(model, loss, data, x, y, columns, None, 0, consts, params, init)
    given = dict(derivatives or {})
    given.update(typed)
    if not given:
        raise SettingError("give the derivatives to check, e.g. a=\"2*(a*x+b-y)*x\"", "derivatives")
    return _views.Check(native.check(setup, [(str(p), str(f)) for p, f in given.items()], int(seed)))


def eval(formula, **values):  # noqa: A001 - the command's name
    """The value of `formula` with the names given, as ``gradsheet eval``:
    ``gs.eval("c*MAX(a*x+b,0)+d", x=3, a=1, b=1, c=1, d=1)`` is 5."""
    return native.eval(formula, [(k, float(v)) for k, v in values.items()])


def explain(model, *, loss="squared", data=None, x=None, y=None, columns=None, consts=None,
            params=None, init=None, optimizer="sgd", epochs=1, batch=1, shuffle=False, seed=7,
            gradient="auto", h=0.01, verify_epochs=100, remedies=True, **hyper):
    """Why a run diverges, or why its error stays high, as ``gradsheet explain``: the
    first bad step, the stability bound lr·λ_max < 2 from the exact Hessian, the
    collapse of a reparametrised model, dead ReLU units, and remedies each verified by
    re-running it over `verify_epochs`."""
    setup = _setup(model, loss, data, x, y, columns, None, 0, consts, params, init)
    cfg = _config(optimizer, hyper, epochs, batch, shuffle, seed, gradient, h, None, "steps")
    return _views.Explanation(native.explain_run(setup, cfg, int(verify_epochs), bool(remedies)))


def graddesc(sheet="basic", workbook=2018, *, lr=None, beta1=None, beta2=None, init=None,
             runs=0, clean=False):
    """A sheet of fast.ai's graddesc workbook as the sheet shows it, replayed by its
    macros, as ``gradsheet graddesc``: ``sheet`` is basic, momentum, rmsprop, adam,
    adam_ann (both workbooks), adagrad, adagrad_ann or eve (2016); ``workbook`` 2018 or
    2016. ``lr``, ``beta1``, ``beta2`` and ``init={"a": .., "b": ..}`` replay it with the
    cells a learner types; ``runs`` presses Run more times; ``clean=True`` adds the
    clean version (every update applied, state from zero)."""
    init = dict(init or {})
    bad = set(init) - {"a", "b"}
    if bad:
        raise SettingError(
            f"init sets {', '.join(sorted(bad))}: the sheets start from a (the slope, C2) "
            "and b (the intercept, C1)",
            "init",
        )
    d = native.graddesc(
        str(sheet), str(workbook), lr, beta1, beta2, init.get("a"), init.get("b"), int(runs), bool(clean)
    )
    return _views.Sheet(d)


def _axis(value, field):
    """A sweep axis as the command line writes it: a string ``lr=1e-6..1e-3:40:log``, or
    ``(name, [values])``, or ``(name, lo, hi, n[, "log"])``."""
    if isinstance(value, str):
        return value
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], str):
        name, *rest = value
        if len(rest) == 1:
            return f"{name}=" + ",".join(repr(float(v)) for v in rest[0])
        if len(rest) in (3, 4):
            lo, hi, n, *scale = rest
            return f"{name}={float(lo)!r}..{float(hi)!r}:{int(n)}" + (f":{scale[0]}" if scale else "")
    raise SettingError(
        f"{field}={value!r}: give 'lr=1e-6..1e-3:40:log', ('lr', [values]) or ('lr', lo, hi, n[, 'log'])",
        field,
    )


def sweep(model, x_axis, y_axis, *, loss="squared", data=None, x=None, y=None, columns=None,
          consts=None, params=None, init=None, optimizer="sgd", epochs=1, batch=1,
          shuffle=False, seed=7, **hyper):
    """A stability map over two settings, every cell a run, as ``gradsheet sweep``:
    ``gs.sweep("a*x+b", "lr=1e-6..1e-3:40:log", "beta1=0..0.99:20", optimizer="momentum",
    epochs=100)``. Axes: lr, beta1, beta2, init (a factor on every initial value),
    batch, epochs, or any optimizer setting. Runs on every core, natively."""
    setup = _setup(model, loss, data, x, y, columns, None, 0, consts, params, init)
    cfg = _config(optimizer, hyper, epochs, batch, shuffle, seed, "auto", 0.01, None, "final")
    return _views.Map(native.sweep_map(setup, cfg, _axis(x_axis, "x_axis"), _axis(y_axis, "y_axis")))


_RANGE = re.compile(r"^\s*([^=]+?)\s*=\s*([^.]+?)\s*\.\.\s*([^:]+?)\s*(?::\s*(\d+))?\s*$")


def _grid_axis(value, field):
    """A surface axis: ``"a=-4..8:512"``, ``(name, lo, hi[, n])`` or ``(name, values)``;
    101 points unless said."""
    if isinstance(value, str):
        m = _RANGE.match(value)
        if not m:
            raise SettingError(f"{field}='{value}' must look like NAME=LO..HI[:N], e.g. a=-4..8:512", field)
        name, lo, hi, n = m.groups()
        try:
            lo, hi = float(lo), float(hi)
        except ValueError:
            raise SettingError(f"{field}='{value}': the range needs two numbers", field) from None
        return name, np.linspace(lo, hi, int(n or 101))
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], str):
        if len(value) == 2:
            return value[0], np.asarray(value[1], dtype=np.float64)
        if len(value) in (3, 4):
            return value[0], np.linspace(float(value[1]), float(value[2]), int(value[3]) if len(value) == 4 else 101)
    raise SettingError(f"{field}={value!r}: give 'a=-4..8:512' or ('a', lo, hi, n)", field)


def surface(model, x_axis, y_axis, *, loss="squared", data=None, x=None, y=None, columns=None,
            consts=None, params=None, init=None):
    """The error landscape over two parameters, as ``gradsheet surface``: the exact mean
    error over the data at every point of the grid, the other parameters at `init`:
    ``gs.surface("a*x+b", "a=-4..8:200", "b=-40..80:200")``."""
    setup = _setup(model, loss, data, x, y, columns, None, 0, consts, params, init)
    (px, xs), (py, ys) = _grid_axis(x_axis, "x_axis"), _grid_axis(y_axis, "y_axis")
    for f, v in (("x_axis", xs), ("y_axis", ys)):
        if not (np.all(np.isfinite(v)) and np.all(np.diff(v) > 0)):
            raise SettingError(f"{f}: the values must be finite and increasing", f)
    block, svg = native.surface(setup, px, list(xs), py, list(ys), None, True, f"Mean error of {model}")
    return _views.Surface(px, xs, py, ys, block, svg)


class LabList(list):
    """Every lab: ``(name, group, about, settings)``."""

    def _repr_html_(self):
        from . import _html

        rows = [[n, g, a, ", ".join(f"{p}={d}" for p, d, _, _ in ps)] for n, g, a, ps in self]
        return _html.table(["lab", "group", "what", "settings (defaults)"], rows)


def lab(name=None, **settings):
    """A lab, as ``gradsheet lab NAME key=value ...``: fast.ai's other workbooks (conv,
    collab, titanic, entropy, ...) and the concept labs (dropout, focal, l1_l2,
    upsampling, gradients). Without a name, the list of labs and their settings."""
    if name is None:
        return LabList(native.labs())
    return _views.Lab(native.lab(str(name), [f"{k}={v}" for k, v in settings.items()]))


def generate(target="2*x+30", x=(1, 100), n=29, seed=7, noise=0.0):
    """Synthetic data ``y = target(x)`` plus Gaussian noise, as ``gradsheet train
    --target`` draws it (whole-number x when both ends of `x` are whole): ``{"x": array,
    "y": array}``."""
    lo, hi = x
    whole = float(lo).is_integer() and float(hi).is_integer() and not any(isinstance(v, float) for v in x)
    names, block = native.generate(target, float(lo), float(hi), whole, int(n), int(seed), float(noise))
    values = np.asarray(block)
    return {c: values[k] for k, c in enumerate(names)}


class Book:
    """A learner's own workbook (.xlsx/.xlsm/.ods), as ``gradsheet book`` opens it: every formula
    cell recalculated against the value Excel saved, any cell differentiated exactly with
    respect to every number it depends on, the derivative columns typed by hand judged,
    and the sheet's loop played.

    >>> b = gs.book("graddesc.xlsm")
    >>> b.recalculation()["agree"]                 # formula cells equal to Excel's values
    >>> value, d = b.grad("basic!F33")             # d["basic!C2"]: ∂F33/∂(initial a)
    >>> b.derivative_columns()                      # [{'range': 'H4:H32', 'verdict': 'forward difference', ...}]
    >>> b.run([("basic!C32", "basic!C1"), ("basic!D32", "basic!C2")], watch=["basic!F33"], epochs=5)
    >>> b.run_macro("basic", epochs=5, reset=True)   # the sheet's own Run button
    >>> b.explain("basic")["findings"][0]            # 'No row is too steep for the learning rate (basic!F1 = 1e-4): ...'
    >>> rows, cells, n = gs.book("collab_filter.xlsx").solve("dotprod", 50)   # its Excel Solver problem
    """

    def __init__(self, path):
        with open(path, "rb") as f:
            data = f.read()
        self.path = str(path)
        self._b = native.Book(data)

    @property
    def sheets(self):
        """The sheets' names."""
        return self._b.sheets()

    def recalculation(self):
        """{formula_cells, agree, differ: [(cell, saved, computed)], not_recalculated: [(cell, why)]}."""
        return self._b.recalculation()

    def derivative_columns(self):
        """The typed derivative columns, each with its verdict."""
        return self._b.derivative_columns()

    def grad(self, cell):
        """(value, {input cell: ∂cell/∂input}) for a cell written as Excel writes it."""
        return self._b.grad(str(cell))

    def run(self, copies, watch=(), epochs=1):
        """The sheet's loop: each epoch copies each (from, to) pair's value and recalculates;
        one dict per epoch with the copied and watched cells."""
        return self._b.run([(str(a), str(b)) for a, b in copies], [str(w) for w in watch], int(epochs))

    def run_macro(self, sheet, epochs=1, reset=False, watch=()):
        """The sheet's own Run macro (its VBA replayed), ``epochs`` times round its loop,
        after its Reset when ``reset``; one dict per epoch with the cells it wrote."""
        return self._b.run_macro(str(sheet), int(epochs), bool(reset), [str(w) for w in watch])

    def solve(self, sheet, iterations=100, adam=None):
        """The sheet's Excel Solver problem, solved by L-BFGS (or Adam at the rate ``adam``)
        on the exact gradient: (one dict per iteration, {changing cell: value}, evaluations)."""
        return self._b.solve(str(sheet), int(iterations), None if adam is None else float(adam))

    def explain(self, sheet):
        """The sheet's rows explained: the rows too steep for the learning rate the sheet
        applies there (lr·λ past 2), the parameters a row cannot move, in plain words."""
        return self._b.explain(str(sheet))

    def _repr_html_(self):
        r = self.recalculation()
        rows = "".join(
            f"<tr><td>{c['sheet']}!{c['range']}</td><td>{c['header']}</td><td>{c['verdict']}</td></tr>"
            for c in self.derivative_columns()
        )
        return (
            f"<p>{self.path}: {r['agree']} of {r['formula_cells']} formula cells recalculate to "
            f"Excel's values, {len(r['differ'])} differ, {len(r['not_recalculated'])} not recalculated</p>"
            + (f"<table><tr><th>column</th><th>header</th><th>verdict</th></tr>{rows}</table>" if rows else "")
        )


def book(path):
    """Opens a workbook: see :class:`Book`."""
    return Book(path)
