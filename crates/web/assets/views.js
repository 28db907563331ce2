// Views of a run that several pages show: the step rows as a sheet, the diagnosis, the
// summary, the error and path charts.

import { contourChart, fmt, lineChart, num } from "./charts.js";
import { $, fill, h } from "./dom.js";

const GROUPS = [
  ["data", "g-data"], ["parameters", "g-param"], ["prediction and error", "g-pred"], ["derivatives", "g-grad"],
  ["finite differences", "g-fd"], ["optimizer state", "g-state"], ["updated", "g-new"],
];

/** Spreadsheet column letters: 0 → A, 26 → AA. */
export function letters(i) {
  let s = "";
  i += 1;
  while (i > 0) { const r = (i - 1) % 26; s = String.fromCharCode(65 + r) + s; i = Math.floor((i - 1) / 26); }
  return s;
}

/** A cell of a number, marked when it is not finite. */
export function numCell(v, cls) {
  const bad = !Number.isFinite(num(v));
  return h("td", { class: [cls, bad && "nonfinite"].filter(Boolean).join(" ") || null }, fmt(v));
}

/** The step rows as a sheet: column letters, headers, grouped, Excel's row numbers. */
export function renderSheet(table, r) {
  const st = r.steps;
  const c = r.columns.length, p = r.params.length, s = r.state_vars.length;
  const hasFd = st.headers.length > c + 2 * p + 2 + s * p + p;
  const sizes = [c, p, 2, p, hasFd ? p : 0, s * p, p];
  const groupOf = [];
  sizes.forEach((n, g) => { for (let k = 0; k < n; k++) groupOf.push(g); });
  const head = h("thead", {},
    h("tr", { class: "letters" }, h("th", { class: "rn" }), st.headers.map((_, i) => h("th", {}, letters(i)))),
    h("tr", { class: "names" }, h("th", { class: "rn" }, "row"), st.headers.map((x) => h("th", {}, x))),
    h("tr", { class: "groups" }, h("th", { class: "rn" }),
      sizes.map((n, g) => n > 0 && h("th", { colspan: n }, GROUPS[g][0]))));
  const badStep = r.stop.kind === "diverged" ? r.stop.step : -1;
  const rows = st.rows.map((row, k) => {
    const step = st.first_step + k;
    return h("tr", { class: step === badStep ? "badrow" : null },
      h("td", { class: "rn", title: `step ${step}` }, st.data_rows[k] + 3),
      row.map((v, i) => numCell(v, GROUPS[groupOf[i]][1])));
  });
  if (!st.rows.length) {
    rows.push(h("tr", {}, h("td", { class: "rn" }), h("td", { colspan: st.headers.length, style: "text-align:left" }, st.note || "no rows")));
  }
  fill(table, head, h("tbody", {}, rows));
}

/** The diagnosis banner of a run that went wrong; hidden otherwise. */
export function renderDiagnosis(id, r) {
  const b = $(id);
  b.hidden = !r.diagnosis;
  if (!r.diagnosis) { fill(b); return; }
  // The headline and what happened stay in view; the analysis folds away so that the
  // charts and the sheet stay on screen while a slider moves.
  const line = (l) => h("p", { class: /^step\s/.test(l) ? "mono" : null }, l);
  const [first, ...rest] = r.diagnosis.sections;
  const open = !!(b.querySelector("details") && b.querySelector("details").open);
  fill(b, h("strong", {}, r.diagnosis.headline), first ? first.lines.map(line) : null,
    rest.length > 0 && h("details", { open },
      h("summary", {}, `why, and what would fix it: ${rest.map((s) => s.title).join(" · ")}`),
      rest.map((s) => [h("h4", {}, s.title), s.lines.map(line)])));
}

/** One figure of a summary: a label over a value. */
export function stat(k, v, bad) {
  return h("div", { class: bad ? "stat bad" : "stat" }, h("span", { class: "k" }, k), h("span", { class: "v" }, v));
}

/** The summary of a run: final parameters and error, steps, how it ended. */
export function renderSummary(id, r) {
  const last = r.epochs[r.epochs.length - 1];
  fill(id,
    r.params.map((p, i) => stat(`final ${p}`, fmt(r.final_params[i]))),
    stat("final mean error", fmt(r.final_error, 5), !Number.isFinite(num(r.final_error))),
    last && stat("sheet rmse (last epoch)", fmt(last.sheet_rmse, 5)),
    stat("steps", `${r.steps_taken}`),
    stat("run", r.stop.kind === "diverged" ? `diverged at step ${r.stop.step}` : r.stop.kind, r.stop.kind === "diverged"));
}

function errorSeries(r) {
  const xs = [0], ys = [num(r.initial_error)];
  for (const e of r.epochs) { xs.push(e.epoch); ys.push(num(e.mean_error)); }
  const series = [{ name: "epoch mean", x: xs, y: ys, color: "#0072B2" }];
  // Each step's error, faint, on the same epoch axis: the wobble within an epoch, and a
  // divergence that ends the run before its first epoch does.
  if (r.path_steps.length) {
    const spe = r.steps_per_epoch;
    series.unshift({ name: "each step", x: r.path_steps.map(([s]) => s / spe), y: r.path_steps.map(([, e]) => num(e)), color: "#56B4E9", faint: true });
  }
  return series;
}

/** The error by epoch and the path on the error surface, into `<prefix>-chart-*`. */
export function renderCharts(prefix, r) {
  const marker = r.stop.kind === "diverged" ? { x: r.stop.epoch - 0.5, label: `diverged in epoch ${r.stop.epoch}` } : null;
  lineChart($(prefix + "-chart-error"), errorSeries(r), { logY: true, xLabel: "epoch", yLabel: "mean error", marker });
  const c = r.contours;
  let paths = [];
  if (c) {
    const ix = r.params.indexOf(c.params[0]), iy = r.params.indexOf(c.params[1]);
    // Every step, faint (per-sample steps zigzag across the valley), and the parameters at
    // each epoch's end, bold: the way down.
    const ends = [r.path[0]].concat(r.epochs.map((e) => e.params));
    if (r.stop.kind === "diverged") ends.push(r.path[r.path.length - 1]);
    paths = [{ name: "steps", points: r.path, ix, iy, color: "#1d2330", faint: true }, { name: "epochs", points: ends, ix, iy, color: "#1d2330", dots: true }];
  }
  contourChart($(prefix + "-chart-path"), c, paths, { empty: "the error surface needs a model with two or more parameters" });
}
