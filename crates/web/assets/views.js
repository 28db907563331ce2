// Views of a run that several pages show: the step rows as a sheet (rows lit as a run is
// played, a row's formulas with its numbers on click), the diagnosis, the summary, the
// error and path charts.

import { contourChart, lineChart } from "./charts.js";
import { $, fill, h, readable } from "./dom.js";
import { exact, fmt, num, rounded } from "./numbers.js";

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

/**
 * A cell of a number: rounded as a person reads it, the exact value on hover when the
 * rounding hides digits, marked when it is not finite.
 */
export function numCell(v, cls) {
  const bad = !Number.isFinite(num(v));
  return h("td", { class: [cls, bad && "nonfinite"].filter(Boolean).join(" ") || null, title: rounded(v) ? exact(v) : null }, fmt(v));
}

/**
 * The step rows of one epoch as a sheet. Each row is one step; its first column is the
 * step's number (counted from the start of the run), the next the data row it read, as
 * `rowLabel` says (`sheet row`: the graddesc sheet's Excel rows, 4–32; `data row`: 1, 2,
 * ...). opts: { rowLabel, rowOffset (added to the 1-based data row), notes: [{step,
 * header, text}] (cells with a remark), onPick(step) (a row clicked or chosen with the
 * keyboard) }.
 */
export function renderSheet(table, r, opts) {
  opts = opts || {};
  const st = r.steps;
  const c = r.columns.length, p = r.params.length, s = r.state_vars.length;
  const hasFd = st.headers.length > c + 2 * p + 2 + s * p + p;
  const sizes = [c, p, 2, p, hasFd ? p : 0, s * p, p];
  const groupOf = [];
  sizes.forEach((n, g) => { for (let k = 0; k < n; k++) groupOf.push(g); });
  const rowLabel = opts.rowLabel || "data row", off = opts.rowOffset || 0;
  const head = h("thead", {},
    h("tr", { class: "letters" }, h("th", { class: "rn" }), h("th", { class: "dr" }), st.headers.map((_, i) => h("th", {}, letters(i)))),
    h("tr", { class: "names" }, h("th", { class: "rn", scope: "col", title: "the step: updates counted from the start of the run" }, "step"),
      h("th", { class: "dr", scope: "col", title: rowLabel === "sheet row" ? "the row of the graddesc sheet this step reads (Excel's rows 4–32: data row + 3)" : "the data row this step reads (1 = the first)" }, rowLabel),
      st.headers.map((x) => h("th", { scope: "col" }, x))),
    h("tr", { class: "groups" }, h("th", { class: "rn" }), h("th", { class: "dr" }),
      sizes.map((n, g) => n > 0 && h("th", { colspan: n }, GROUPS[g][0]))));
  const badStep = r.stop.kind === "diverged" ? r.stop.step : -1;
  const notes = opts.notes || [];
  const rows = st.rows.map((row, k) => {
    const step = st.first_step + k;
    const cells = row.map((v, i) => {
      const td = numCell(v, GROUPS[groupOf[i]][1]);
      const note = notes.find((n) => n.step === step && n.header === st.headers[i]);
      if (note) { td.classList.add("noted"); td.title = `${exact(v)}: ${note.text}`; }
      return td;
    });
    return h("tr", { class: step === badStep ? "badrow" : null, "data-step": step, tabindex: k === 0 ? 0 : -1 },
      h("th", { class: "rn", scope: "row" }, step), h("td", { class: "dr" }, st.data_rows[k] + off), cells);
  });
  if (!st.rows.length) {
    rows.push(h("tr", {}, h("th", { class: "rn" }), h("td", { colspan: st.headers.length + 1, class: "txt" }, st.note || "no rows")));
  }
  const body = h("tbody", {}, rows);
  fill(table, head, body);
  if (opts.onPick) pickableRows(table, body, opts.onPick);
}

/**
 * Rows that open on a click, or on Enter or Space; the arrow keys move between them (one
 * tab stop for the whole table: the row last chosen).
 */
function pickableRows(table, body, onPick) {
  table.classList.add("pickable");
  const rows = () => [...body.querySelectorAll("tr[data-step]")];
  const focus = (tr) => { for (const r of rows()) r.tabIndex = r === tr ? 0 : -1; tr.focus(); };
  body.addEventListener("click", (e) => {
    const tr = e.target.closest("tr[data-step]");
    if (tr && !e.target.closest(".detail")) { focus(tr); onPick(+tr.dataset.step); }
  });
  body.addEventListener("keydown", (e) => {
    const tr = e.target.closest("tr[data-step]");
    if (!tr) return;
    const all = rows(), i = all.indexOf(tr);
    if (e.key === "ArrowDown" && i + 1 < all.length) { focus(all[i + 1]); e.preventDefault(); }
    else if (e.key === "ArrowUp" && i > 0) { focus(all[i - 1]); e.preventDefault(); }
    else if (e.key === "Enter" || e.key === " ") { onPick(+tr.dataset.step); e.preventDefault(); }
  });
}

/**
 * Lights the table as a run is played: the step just computed is marked, the steps still
 * to come are dimmed. `cursor`: steps done (the whole run: nothing is marked).
 */
export function markCursor(table, cursor, total) {
  for (const tr of table.querySelectorAll("tbody tr[data-step]")) {
    const step = +tr.dataset.step;
    const playing = cursor < total;
    tr.classList.toggle("current", playing && step === cursor);
    tr.classList.toggle("future", playing && step > cursor);
  }
  const cur = table.querySelector("tr.current");
  const wrap = table.parentElement;
  if (cur && wrap) {
    // Keep the lit row in view inside the table's own scroll box (not the page's).
    const top = cur.offsetTop - 70, bottom = cur.offsetTop + cur.offsetHeight - wrap.clientHeight + 10;
    if (wrap.scrollTop > top) wrap.scrollTop = top;
    else if (wrap.scrollTop < bottom) wrap.scrollTop = bottom;
  }
}

/**
 * One step's formulas with its numbers filled in, as a row opened under the step's row:
 * `d` is the server's answer (`/api/step`), or an error; `rowName(d)` names its data row
 * in the table's convention.
 */
export function showStepDetail(table, step, d, onClose, rowName) {
  for (const old of table.querySelectorAll("tr.detail-row")) old.remove();
  for (const old of table.querySelectorAll("tr.picked")) old.classList.remove("picked");
  const tr = table.querySelector(`tbody tr[data-step="${step}"]`);
  if (!tr || !d) return;
  tr.classList.add("picked");
  const wrap = table.parentElement;
  const close = h("button", { type: "button", class: "close", "aria-label": "close the step's formulas" }, "×");
  close.addEventListener("click", () => { row.remove(); tr.classList.remove("picked"); tr.focus(); if (onClose) onClose(); });
  const title = () => `step ${d.step} · epoch ${d.epoch} · ${rowName ? rowName(d.row) : `data row ${d.row}`}: ` +
    d.inputs.map(([n, v]) => `${n} = ${fmt(v)}`).join(", ");
  const body = d.error
    ? [h("p", { class: "msg error" }, d.error)]
    : [h("h3", {}, title()),
      d.sections.map((s) => h("div", { class: "formula-group" }, h("h4", {}, s.title),
        s.lines.map((l) => h("div", { class: "formula-line" },
          h("span", { class: "lhs" }, l.name, " = "),
          h("span", { class: "f" }, l.formula),
          l.filled ? [" = ", h("span", { class: "filled" }, l.filled)] : null,
          " = ", h("strong", { class: "val", title: exact(l.value) }, fmt(l.value)),
          l.note ? h("span", { class: "note-inline" }, l.note) : null))))];
  const box = h("div", { class: "detail", role: "region", "aria-label": `the formulas of step ${step}` }, close, body);
  // The box stays in the visible part of a table scrolled sideways.
  box.style.maxWidth = Math.max(260, wrap.clientWidth - 24) + "px";
  const row = h("tr", { class: "detail-row" }, h("td", { colspan: tr.children.length }, box));
  tr.after(row);
}

/**
 * The diagnosis banner of a run that went wrong (it diverged, a unit died, the
 * parameters collapsed, the error ended worse than it started or stalled); hidden
 * otherwise. It opens with what happened in plain words, then what to do (each verified
 * remedy a button that applies it and re-runs), then the numbers behind it, folded.
 */
export function renderDiagnosis(id, r, onRemedy) {
  const b = $(id);
  const d = r.diagnosis;
  b.hidden = !d;
  if (!d) { fill(b); delete b.dataset.kind; return; }
  b.dataset.kind = d.kind;
  b.classList.toggle("warn", d.kind !== "diverged" && d.kind !== "collapse");
  b.classList.toggle("info", d.kind === "collapse");
  const open = !!(b.querySelector("details") && b.querySelector("details").open);
  const line = (l) => h("p", { class: /^step\s/.test(l) ? "mono" : null }, readable(l));
  const remedies = (d.remedies || []).map((m) => {
    if (!m.label) return h("li", {}, readable(m.text));
    const btn = h("button", { type: "button", class: "remedy" }, m.label);
    btn.addEventListener("click", () => onRemedy && onRemedy(m.apply));
    return h("li", {}, btn, " ", h("span", {}, readable(m.text)));
  });
  const [first, ...more] = d.summary;
  fill(b,
    h("p", { class: "plain" }, h("strong", {}, first), more.map((s) => [" ", s])),
    d.kind === "diverged" && d.headline !== first ? h("p", { class: "headline" }, d.headline) : null,
    remedies.length > 0 && [h("p", { class: "what" }, "What would fix it (each one re-run and checked):"), h("ul", { class: "remedies" }, remedies)],
    d.sections.length > 0 && h("details", { open },
      h("summary", {}, `the numbers behind it: ${d.sections.map((s) => s.title).join(" · ")}`),
      d.sections.map((s) => [h("h4", {}, s.title), s.lines.map(line)])));
}

/** One figure of a summary: a label over a value (the exact value on hover). */
export function stat(k, v, bad, exactValue) {
  return h("div", { class: bad ? "stat bad" : "stat", title: exactValue !== undefined && rounded(exactValue) ? exact(exactValue) : null },
    h("span", { class: "k" }, k), h("span", { class: "v" }, v));
}

/** The summary of a run: final parameters and error, steps, how it ended. */
export function renderSummary(id, r) {
  const last = r.epochs[r.epochs.length - 1];
  const init = num(r.initial_error), fin = num(r.final_error);
  fill(id,
    r.params.map((p, i) => stat(`final ${p}`, fmt(r.final_params[i]), false, r.final_params[i])),
    stat("mean error: start → end", `${fmt(init, 5)} → ${fmt(fin, 5)}`, !Number.isFinite(fin) || fin > init, r.final_error),
    last && stat("sheet rmse (last epoch)", fmt(last.sheet_rmse, 5), false, last.sheet_rmse),
    stat("steps", `${r.steps_taken}`),
    stat("run", r.stop.kind === "diverged" ? `diverged at step ${r.stop.step}` : r.stop.kind, r.stop.kind === "diverged"));
}

/** How many of a path's points (one per step, thinned for long runs) come before `cursor`. */
function pointsUpTo(r, cursor) {
  if (cursor >= r.steps_taken) return Infinity;
  let n = 0;
  // path[i] holds the parameters before step path_steps[i][0]: after `cursor` steps, the
  // points up to the one before step cursor + 1.
  while (n < r.path_steps.length && r.path_steps[n][0] <= cursor + 1) n++;
  return Math.max(1, n);
}

/**
 * The error by epoch and the path on the error surface, into `<prefix>-chart-*`; up to
 * `cursor` steps when a run is being played.
 */
export function renderCharts(prefix, r, cursor) {
  const spe = r.steps_per_epoch;
  const playing = Number.isFinite(cursor) && cursor < r.steps_taken;
  const upTo = playing ? cursor / spe : Infinity;
  const xs = [0], ys = [num(r.initial_error)];
  for (const e of r.epochs) { xs.push(e.epoch); ys.push(num(e.mean_error)); }
  const series = [{ name: "epoch mean", x: xs, y: ys, color: "#0072B2" }];
  // Each step's error, faint, on the same epoch axis (step s at s / steps per epoch): the
  // wobble within an epoch, and a divergence that ends the run before its first epoch does.
  if (r.path_steps.length) {
    series.unshift({ name: "each step", x: r.path_steps.map(([s]) => s / spe), y: r.path_steps.map(([, e]) => num(e)), color: "#56B4E9", faint: true });
  }
  // The divergence is marked at its step: step s is at s / steps per epoch, as above.
  const marker = r.stop.kind === "diverged" && !playing ? { x: r.stop.step / spe, label: `diverged at step ${r.stop.step} (epoch ${r.stop.epoch})` } : null;
  const stepOf = (x) => Math.round(x * spe);
  lineChart($(prefix + "-chart-error"), series, {
    logY: true, xLabel: "epoch", yLabel: "mean error", marker, upTo,
    xName: (x, s) => (s.faint ? `step ${stepOf(x)} (epoch ${Math.max(1, Math.ceil(x - 1e-9))})` : x === 0 ? "before the first step" : `end of epoch ${x}`),
  });
  const c = r.contours;
  let paths = [];
  if (c) {
    const ix = r.params.indexOf(c.params[0]), iy = r.params.indexOf(c.params[1]);
    // Every step, faint (per-sample steps zigzag across the valley), and the parameters at
    // each epoch's end, bold: the way down.
    const ends = [r.path[0]].concat(r.epochs.map((e) => e.params));
    if (r.stop.kind === "diverged") ends.push(r.path[r.path.length - 1]);
    const epochsDone = playing ? 1 + r.epochs.filter((e) => e.epoch * spe <= cursor).length : Infinity;
    const stepLabel = (i) => (i < r.path_steps.length ? `before step ${r.path_steps[i][0]}` : "at the end");
    paths = [
      { name: "steps", points: r.path, ix, iy, color: "#1d2330", faint: true, upTo: playing ? pointsUpTo(r, cursor) : Infinity, label: stepLabel },
      {
        name: "epochs", points: ends, ix, iy, color: "#1d2330", dots: true, upTo: epochsDone,
        label: (i) => (i === 0 ? "the start" : i <= r.epochs.length ? `end of epoch ${r.epochs[i - 1].epoch}` : "where it diverged"),
        error: (i) => (i === 0 ? r.initial_error : undefined),
      },
    ];
    if (playing) {
      // Where the run is now: the parameters after `cursor` steps.
      const n = pointsUpTo(r, cursor);
      paths.push({ name: "now", points: [r.path[n - 1]], ix, iy, color: "#D55E00", dots: true, label: () => `after step ${cursor}` });
    }
  }
  contourChart($(prefix + "-chart-path"), c, paths, { empty: "the error surface needs a model with two or more parameters" });
}
