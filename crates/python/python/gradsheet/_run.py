"""A training run as a notebook sees it."""

import numpy as np

from . import _gradsheet as native
from . import _html, _tables
from ._files import write_atomic


class Run:
    """A run of ``gs.train``: its final parameters, how it stopped, every step and epoch
    (as kept: ``record=``), pictures, and the workbook.

    ``steps`` and ``epochs`` are pandas DataFrames whose columns are those of
    ``gradsheet train --csv`` (docs/trace-format.md): ``step, epoch, row, lr``, the data
    columns, the parameters before the step, ``pred``, ``err``, ``de/d<p>``, the
    optimizer's state after the step, ``new <p>``; and for epochs ``epoch, sum_error,
    mean_error, sheet_rmse, rmse, lr, grad_norm_<p>, <p>``. ``step_arrays`` and
    ``epoch_arrays`` are the same columns as numpy arrays, without pandas.
    """

    def __init__(self, native_run, setup, config):
        self._run = native_run
        self._setup = setup
        self._config = config
        self._steps = None
        self._epochs = None

    @property
    def params(self):
        """The parameters at the end, ``{name: value}`` (the last finite ones if the run
        diverged)."""
        return dict(zip(self._run.param_names, self._run.final_params))

    @property
    def stopped(self):
        """How the run ended: ``'completed'``, ``'diverged'`` or ``'interrupted'``."""
        return self._run.stop["kind"]

    @property
    def stop(self):
        """How the run ended, with the details: for a divergence the ``step``, the data
        ``row`` (from 1) and the ``reason``."""
        return dict(self._run.stop)

    @property
    def steps_taken(self):
        return self._run.steps_taken

    @property
    def epochs_done(self):
        return self._run.epochs_done

    @property
    def optimizer(self):
        """The optimizer with its settings, as it prints."""
        return self._run.optimizer

    @property
    def final_error(self):
        """The mean error over the data at the final parameters."""
        return self._run.final_error

    @property
    def state(self):
        """The optimizer's state at the end: ``{variable: {parameter: value}}``."""
        names = self._run.param_names
        return {v: dict(zip(names, vals)) for v, vals in self._run.final_state}

    @property
    def step_arrays(self):
        """Every kept step, column by column: ``{column: numpy array}``."""
        return _tables.arrays(self._run.step_table)

    @property
    def epoch_arrays(self):
        """Every kept epoch summary, column by column: ``{column: numpy array}``."""
        return _tables.arrays(self._run.epoch_table)

    @property
    def steps(self):
        """One row per step (``record='steps'``, the default), as a DataFrame."""
        if self._steps is None:
            self._steps = _tables.frame(self._run.step_table)
        return self._steps

    @property
    def epochs(self):
        """One row per epoch (unless ``record='final'``), as a DataFrame."""
        if self._epochs is None:
            self._epochs = _tables.frame(self._run.epoch_table)
        return self._epochs

    def charts(self):
        """The run's pictures as SVG text, ``{name: svg}``: error by epoch, parameters over
        steps, the fit against the data, paths on the error contours (drawn by gradsheet
        itself, from a sample of at most 2000 steps)."""
        return dict(self._run.charts())

    def to_xlsx(self, path):
        """Writes the run as an xlsx workbook with live formulas (Settings, Data, Steps,
        Epochs; the same workbook as ``gradsheet train --xlsx``). The run is replayed
        with every step recorded, so a run kept with ``record='final'`` can be written
        too. Returns the path."""
        return write_atomic(path, self._run.xlsx())

    def plot(self, contours=True):
        """A matplotlib figure: the error by epoch, the parameters, and the path of the
        first two parameters on the contours of the error (the other parameters at their
        final values)."""
        plt = _tables.pyplot()
        st = self.step_arrays if self._run.step_table[1].shape[1] else None
        ep = self.epoch_arrays if self._run.epoch_table[1].shape[1] else None
        names = self._run.param_names
        panels = [p for p in ("error", "params", "path") if _has(p, st, ep, names, contours)]
        fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(4.2 * max(len(panels), 1), 3.6))
        axes = np.atleast_1d(axes)
        for ax, panel in zip(axes, panels):
            if panel == "error":
                ax.plot(ep["epoch"], ep["mean_error"])
                ax.set_yscale("log")
                ax.set_xlabel("epoch")
                ax.set_ylabel("mean error")
                ax.set_title("Error by epoch")
            elif panel == "params":
                if st is not None:
                    for p in names:
                        ax.plot(st["step"], st[f"new {p}"], label=p)
                    ax.set_xlabel("step")
                else:
                    for p in names:
                        ax.plot(ep["epoch"], ep[p], label=p)
                    ax.set_xlabel("epoch")
                ax.legend()
                ax.set_title("Parameters")
            else:
                self._path(ax, st, names)
        if not panels:
            axes[0].text(0.5, 0.5, "nothing kept to draw (record='final')", ha="center")
            axes[0].set_axis_off()
        fig.tight_layout()
        return fig

    def _path(self, ax, st, names):
        p, q = names[0], names[1]
        xs = np.concatenate([st[p][:1], st[f"new {p}"]])
        ys = np.concatenate([st[q][:1], st[f"new {q}"]])
        ok = np.isfinite(xs) & np.isfinite(ys)
        x0, x1 = xs[ok].min(), xs[ok].max()
        y0, y1 = ys[ok].min(), ys[ok].max()
        dx, dy = (x1 - x0) * 0.15 or 1.0, (y1 - y0) * 0.15 or 1.0
        gx = np.linspace(x0 - dx, x1 + dx, 80)
        gy = np.linspace(y0 - dy, y1 + dy, 80)
        block, _ = native.surface(
            self._setup, p, list(gx), q, list(gy), list(self._run.final_params), False, ""
        )
        z = np.asarray(block)
        levels = np.quantile(z[np.isfinite(z)], np.linspace(0.02, 0.98, 14))
        ax.contour(gx, gy, z, levels=np.unique(levels), cmap="viridis", linewidths=0.8)
        ax.plot(xs, ys, color="crimson", marker=".", markersize=2, linewidth=1)
        ax.set_xlabel(p)
        ax.set_ylabel(q)
        title = "Path on the error contours"
        if len(names) > 2:
            title += " (a slice)"
        ax.set_title(title)

    def __repr__(self):
        ps = ", ".join(f"{k}={_html.num(v, 8)}" for k, v in self.params.items())
        return (
            f"<gradsheet Run: {self.optimizer}, {self.steps_taken:,} steps, "
            f"{self.stopped}; {ps}; mean error {_html.num(self.final_error)}>"
        )

    def _repr_html_(self):
        parts = [_html.heading(f"gradsheet run — {self.optimizer}")]
        info = [
            ["steps", f"{self.steps_taken:,}"],
            ["stopped", self.stopped + _detail(self.stop)],
            ["mean error at the end", _html.num(self.final_error)],
        ]
        info += [[k, _html.num(v, 10)] for k, v in self.params.items()]
        parts.append(_html.table(["", ""], info))
        charts = self.charts()
        shown = [n for n in charts if n == "error_by_epoch"]
        shown += [n for n in charts if n.startswith("contours")][:1]
        for name in shown:
            parts.append(_html.svg(charts[name], 520))
        if self._run.step_table[1].shape[1]:
            st = self.step_arrays
            cols = [c for c in st if not c.startswith("fd ")][:14]
            rows, skipped = _html.ends(range(len(st["step"])), 4)
            body = [None if i is None else [st[c][i] for c in cols] for i in rows]
            parts.append(_html.table(cols, body, caption="steps", skipped=skipped))
        return "".join(parts)


def _detail(stop):
    if stop["kind"] == "diverged":
        return f" at step {stop['step']} (data row {stop['row']}): {stop['reason']}"
    if stop["kind"] == "interrupted":
        return f" after {stop['steps']:,} steps"
    return ""


def _has(panel, st, ep, names, contours):
    if panel == "error":
        return ep is not None and len(ep["epoch"]) > 0
    if panel == "params":
        return (st is not None and len(st["step"]) > 0) or (ep is not None and len(ep["epoch"]) > 0)
    return contours and st is not None and len(st["step"]) > 0 and len(names) >= 2
