// The graddesc lab: fast.ai's graddesc sheets, one row per step, every number recomputed
// as a slider moves; or, in workbook mode, the sheet replayed with its macros.

import { contourChart, lineChart } from "./charts.js";
import { message, share, showTiming, slider } from "./controls.js";
import { $, fill, h, readable } from "./dom.js";
import { exact, fmt, num, readablePieces, rounded } from "./numbers.js";
import { BETAS, SLIDER_OF, hyper } from "./optimizers.js";
import { cursorWords, player } from "./player.js";
import { api, bindDownloads, currentSpec, runner } from "./server.js";
import { numParam, writeHash } from "./url.js";
import { markCursor, renderCharts, renderDiagnosis, renderSheet, renderSummary, showStepDetail, stat } from "./views.js";

// The graddesc sheets (course-v3) and the settings they start from.
const SHEETS = {
  basic: { opt: "sgd", lr: 1e-4, b1: 0.9, b2: 0.9, fd: 1 },
  momentum: {
    opt: "momentum", lr: 1e-4, b1: 0.9, b2: 0.9, fd: 0,
    note: "The workbook's momentum sheet starts from m = −18.33 and 98.25 (cells J3:K3), not from 0.",
    noteAction: ["show where they come from", { wb: 1, epochs: 0, pass: 0 }],
  },
  rmsprop: {
    opt: "rmsprop", lr: 0.02, b1: 0.9, b2: 0.9, fd: 0,
    note: "The sheet's Reset starts the mean squares s at 10000 and makes two passes; this run starts s at 0, " +
      "so its very first step divides by √0: the reason PyTorch's RMSprop adds an ε.",
  },
  adam: { opt: "adam", lr: 0.1, b1: 0.9, b2: 0.9, fd: 0 },
  adam_ann: {
    opt: "adam", lr: 1, b1: 0.9, b2: 0.95, fd: 0,
    note: "The sheet's Run quarters lr between epochs when the gradients grow; this run keeps lr fixed.",
  },
};

// The model as the sheet computes it: `=C5+D5*A5`, b before a, so that the columns come
// in the sheet's order (b, a; de/db, de/da; ...).
const MODEL = "b+a*x";

/** Marks the number box of the slider an error names (`lr`, `beta1`, `epochs`...). */
function markInvalid(field) {
  for (const k of ["lr", "b1", "b2", "epochs"]) $("lab-" + k + "-num").classList.remove("invalid");
  const k = field === "epochs" ? "epochs" : SLIDER_OF[field];
  if (k) $("lab-" + k + "-num").classList.add("invalid");
}

/** Cell references in a sentence (`J3:K3`, `C32`), expanded to single cells. */
function cellsIn(sentence) {
  const out = [];
  for (const m of sentence.matchAll(/\b([A-Z])(\d{1,2})(?::([A-Z])(\d{1,2}))?\b/g)) {
    const [c0, r0] = [m[1].charCodeAt(0), +m[2]];
    const [c1, r1] = m[3] ? [m[3].charCodeAt(0), +m[4]] : [c0, r0];
    for (let c = c0; c <= c1; c++) for (let r = r0; r <= r1; r++) out.push(String.fromCharCode(c) + r);
  }
  return out;
}

export const lab = {
  s: null,
  sliders: {},
  r: null,
  defaults() { return { sheet: "basic", opt: "sgd", lr: 1e-4, b1: 0.9, b2: 0.9, a0: 1, b0: 1, epochs: 100, view: 1, fd: 1, wb: 0, pass: null, at: null, step: null }; },
  load(p) {
    const d = this.defaults();
    const sheet = SHEETS[p.get("sheet")] ? p.get("sheet") : d.sheet;
    const base = Object.assign(d, SHEETS[sheet], { sheet });
    const opt = BETAS[p.get("opt")] ? p.get("opt") : base.opt;
    const wb = p.get("wb") === "1" ? 1 : 0;
    const int = (k) => (p.has(k) && Number.isFinite(parseFloat(p.get(k))) ? Math.max(0, Math.round(parseFloat(p.get(k)))) : null);
    this.s = {
      sheet, opt, lr: numParam(p, "lr", base.lr), b1: numParam(p, "b1", base.b1), b2: numParam(p, "b2", base.b2),
      a0: numParam(p, "a", base.a0), b0: numParam(p, "b", base.b0), epochs: Math.max(wb ? 0 : 1, Math.round(numParam(p, "epochs", base.epochs))),
      view: Math.max(1, Math.round(numParam(p, "view", 1))), fd: p.has("fd") ? (p.get("fd") === "1" ? 1 : 0) : base.fd,
      wb, pass: int("pass"), at: int("at"), step: int("step"),
    };
    if (this.player) { if (this.s.at !== null) this.player.seek(this.s.at); else this.player.state.follow = true; }
  },
  save() {
    const s = this.s;
    const at = this.player && !this.player.state.follow ? this.player.cursor : null;
    writeHash("lab", {
      sheet: s.sheet, opt: s.opt, lr: s.lr, b1: s.b1, b2: s.b2, a: s.a0, b: s.b0, epochs: s.epochs, view: s.wb ? null : s.view, fd: s.fd, wb: s.wb || "",
      pass: s.wb && s.pass !== null ? s.pass : null, at: s.wb ? null : at, step: s.wb ? null : s.step,
    });
  },
  spec() {
    const s = this.s;
    return {
      model: MODEL, loss: "squared", data: { source: "graddesc" }, sheet: s.sheet, optimizer: s.opt, hyper: hyper(s.opt, s),
      epochs: Math.max(1, s.epochs), batch: 1, init: { a: s.a0, b: s.b0 }, show_fd: !!s.fd, view_epoch: s.view, contours: { n: 48, params: ["a", "b"] },
    };
  },
  init() {
    const upd = runner(() => this.update());
    this.schedule = () => { this.save(); upd(); };
    const sl = (k) => { this.sliders[k] = slider("lab-" + k, () => this.s[k], (v) => { this.s[k] = v; }, this.schedule); };
    ["lr", "b1", "b2", "a0", "b0", "epochs"].forEach(sl);
    // The table's slider shows an epoch of the run, or in workbook mode the sheet after
    // that many onesteps (0: as Reset leaves it).
    this.sliders.view = slider("lab-view", () => (this.s.wb ? this.pass() : this.s.view), (v) => {
      if (this.s.wb) this.s.pass = v; else { this.s.view = v; this.player.state.follow = true; }
    }, this.schedule);
    this.player = player("lab-player", {
      unit: "row",
      describe: (c, total) => this.where(c, total),
      onMove: (c) => this.moved(c),
    });
    // Workbook mode plays the onesteps: the sheet after each, the chart growing with it.
    this.wbPlayer = player("lab-wb-player", {
      unit: "onestep",
      describe: (c, total) => (c >= total ? `the sheet after all ${total} onesteps` : c === 0 ? "the sheet as Reset leaves it" : `the sheet after onestep ${c} of ${total}`),
      onMove: (c) => { this.s.pass = c >= this.s.epochs ? null : c; this.schedule(); },
    });
    $("lab-sheet").addEventListener("change", (e) => {
      const sh = SHEETS[e.target.value];
      Object.assign(this.s, { sheet: e.target.value, opt: sh.opt, lr: sh.lr, b1: sh.b1, b2: sh.b2, fd: sh.fd, step: null });
      this.showAll(); this.schedule();
    });
    $("lab-opt").addEventListener("change", (e) => { this.s.opt = e.target.value; this.showAll(); this.schedule(); });
    $("lab-fd").addEventListener("change", (e) => { this.s.fd = e.target.checked ? 1 : 0; this.schedule(); });
    $("lab-wb").addEventListener("change", (e) => {
      this.s.wb = e.target.checked ? 1 : 0;
      if (!this.s.wb && this.s.epochs < 1) this.s.epochs = 1;
      this.showAll(); this.schedule();
    });
    $("lab-sheet-note").addEventListener("click", (e) => {
      const act = SHEETS[this.s.sheet].noteAction;
      if (act && e.target.closest("button")) { Object.assign(this.s, act[1]); this.showAll(); this.schedule(); this.reveal = "lab-table-title"; }
    });
    bindDownloads($("page-lab"), "lab", "lab-msg");
    share($("lab-share"), "lab-msg");
  },
  /** The onesteps after which workbook mode shows the sheet (default: all of them). */
  pass() { return this.s.pass === null ? this.s.epochs : Math.min(this.s.pass, this.s.epochs); },
  showAll() {
    const s = this.s;
    $("lab-sheet").value = s.sheet; $("lab-opt").value = s.opt; $("lab-fd").checked = !!s.fd; $("lab-wb").checked = !!s.wb;
    const sh = SHEETS[s.sheet];
    const note = $("lab-sheet-note");
    note.hidden = !sh.note;
    fill(note, sh.note || "", sh.noteAction && !s.wb ? [" ", h("button", { type: "button", class: "link" }, sh.noteAction[0])] : null);
    // In workbook mode the optimizer is the sheet's, and its β cells can be typed.
    const [n1, n2] = BETAS[s.wb ? sh.opt : s.opt];
    this.sliders.b1.enable(!!n1, n1 || "β1"); this.sliders.b2.enable(!!n2, n2 || "β2");
    $("lab-opt").disabled = !!s.wb; $("lab-fd").disabled = !!s.wb;
    // Workbook mode can show the sheet as Reset leaves it: 0 onesteps.
    $("lab-epochs").min = s.wb ? 0 : 1;
    $("lab-epochs-label").textContent = s.wb ? "onesteps" : "epochs";
    this.sliders.epochs.enable(true, s.wb ? "onesteps" : "epochs");
    $("lab-view").min = s.wb ? 0 : 1;
    this.sliders.view.enable(true, s.wb ? "after onesteps" : "show epoch");
    this.sliders.view.setMax(Math.max(1, s.epochs));
    $("lab-player").hidden = !!s.wb;
    $("lab-wb-player").hidden = !s.wb;
    Object.values(this.sliders).forEach((x) => x.show());
  },
  /** The position of the cursor in words. */
  where(c, total) {
    if (!this.r) return "";
    return cursorWords(c, total, this.r.steps_per_epoch, (k) => `its row ${k} (sheet row ${k + 3})`);
  },
  /** The cursor moved: the charts grow to it, the table lights its row (fetching its epoch). */
  moved(c) {
    const r = this.r;
    if (!r) return;
    renderCharts("lab", r, c);
    const playing = c < r.steps_taken;
    const e = Math.max(1, Math.ceil(c / r.steps_per_epoch));
    if (playing && e !== r.steps.epoch && !this.fetching) this.fetchEpoch(e);
    markCursor($("lab-table"), c, r.steps_taken);
    this.save();
  },
  /** The rows of epoch `e`, for a run being played (the charts keep the whole run). */
  async fetchEpoch(e) {
    this.fetching = true;
    const spec = Object.assign(this.spec(), { view_epoch: e, contours: null });
    const r2 = await api("/api/train", spec);
    this.fetching = false;
    if (r2.error || !this.r) return;
    this.s.view = e;
    this.r.steps = r2.steps;
    this.drawTable();
    $("lab-view-label").textContent = e;
    this.sliders.view.show();
    markCursor($("lab-table"), this.player.cursor, this.r.steps_taken);
    const want = Math.max(1, Math.ceil(this.player.cursor / this.r.steps_per_epoch));
    if (want !== e && this.player.cursor < this.r.steps_taken) this.fetchEpoch(want);
  },
  /** Remarks on cells of the table: where momentum's first −18.33 shows in a clean run. */
  cellNotes(r) {
    if (this.s.sheet !== "momentum" || this.s.opt !== "momentum" || r.steps.epoch !== 1 || this.s.a0 !== 1 || this.s.b0 !== 1 || this.s.b1 !== 0.9 || this.s.lr !== 1e-4) return [];
    const last = r.steps.first_step + r.steps.rows.length - 1;
    const text = "the momentum after one pass from zero: the workbook's Reset makes exactly this pass and starts its sheet from these two numbers (J3:K3 = −18.33, 98.25)";
    return [{ step: last, header: "m_b", text }, { step: last, header: "m_a", text }];
  },
  drawTable() {
    const r = this.r;
    const notes = this.cellNotes(r);
    renderSheet($("lab-table"), r, { rowLabel: "sheet row", rowOffset: 3, notes, onPick: (step) => this.pick(step) });
    fill("lab-table-note", "Each row is one step: one update from one data row. ",
      h("strong", {}, "step"), " counts updates from the start of the run; ", h("strong", {}, "sheet row"),
      " is the row of the graddesc sheet it reads (Excel's rows 4–32). Click a row for its formulas with the numbers filled in.",
      notes.length ? [" ", h("span", { class: "noted-key" }, "Marked cells"), ` have a remark: ${notes[0].text}. `,
        h("button", { type: "button", class: "link", id: "lab-to-reset" }, "See the sheet after Reset")] : null);
    const go = $("lab-to-reset");
    if (go) go.addEventListener("click", () => { Object.assign(this.s, { wb: 1, epochs: 0, pass: 0 }); this.showAll(); this.schedule(); this.reveal = "lab-table-title"; });
    if (this.s.step && this.s.step >= r.steps.first_step && this.s.step < r.steps.first_step + r.steps.rows.length) this.pick(this.s.step, true);
  },
  /** A row clicked: that step's formulas with its numbers. */
  async pick(step, quiet) {
    this.s.step = step;
    if (!quiet) this.save();
    const d = await api("/api/step", { run: Object.assign(this.spec(), { contours: null, view_epoch: null }), step });
    showStepDetail($("lab-table"), step, d, () => { this.s.step = null; this.save(); }, (r) => `sheet row ${r + 3}`);
  },
  /** Brings into view what an action asked to see, once it is drawn. */
  revealAsked() {
    if (this.reveal) { $(this.reveal).scrollIntoView({ block: "start", behavior: "smooth" }); this.reveal = null; }
  },
  /** A remedy of the diagnosis: its settings, applied, and the run again. */
  applyRemedy(a) {
    const s = this.s;
    if (a.lr !== undefined) s.lr = a.lr;
    if (a.optimizer) s.opt = BETAS[a.optimizer] ? a.optimizer : s.opt;
    if (a.init) { if (a.init.a !== undefined) s.a0 = a.init.a; if (a.init.b !== undefined) s.b0 = a.init.b; }
    if (a.epochs) s.epochs = a.epochs;
    this.showAll(); this.schedule();
    this.reveal = "lab-summary";
  },
  async update() {
    if (this.s.wb) return this.updateWorkbook();
    $("lab-notes").hidden = true;
    const t0 = performance.now();
    const spec = this.spec();
    currentSpec.lab = spec;
    const r = await api("/api/train", spec);
    markInvalid(r.error ? r.field : null);
    if (r.error) { message("lab-msg", r.error, true); return; }
    message("lab-msg", `${r.optimizer}`);
    this.r = r;
    this.sliders.view.setMax(Math.max(1, this.s.epochs));
    $("lab-view-label").textContent = r.steps.epoch || "—";
    $("lab-table-title").firstChild.textContent = "the sheet: epoch ";
    $("lab-error-hint").textContent = "(mean squared error over the 29 rows, log scale)";
    $("lab-path-hint").textContent = "(contours of the mean error)";
    renderDiagnosis("lab-diagnosis", r, (a) => this.applyRemedy(a));
    renderSummary("lab-summary", r);
    this.player.set(r.steps_taken, r.steps_per_epoch);
    renderCharts("lab", r, this.player.cursor);
    this.drawTable();
    markCursor($("lab-table"), this.player.cursor, r.steps_taken);
    this.save();
    this.revealAsked();
    showTiming(`${r.n_rows} rows × ${this.s.epochs} epochs`, t0, r.compute_ms);
  },
  /** Workbook mode: the sheet replayed with its macros, as Excel shows it. */
  async updateWorkbook() {
    const t0 = performance.now();
    const s = this.s;
    currentSpec.lab = this.spec();
    const pass = this.pass();
    // The sheet's β cells, typed when the learner moved them from the sheet's own values.
    const sh = SHEETS[s.sheet], [n1, n2] = BETAS[sh.opt];
    const betas = {};
    if (n1 && s.b1 !== sh.b1) betas.beta1 = s.b1;
    if (n2 && s.b2 !== sh.b2) betas.beta2 = s.b2;
    const r = await api("/api/sheet", Object.assign({ workbook: "2018", sheet: s.sheet, lr: s.lr, a: s.a0, b: s.b0, onesteps: s.epochs, view: pass, contours: { n: 48 } }, betas));
    markInvalid(r.error && ["lr", "epochs", "beta1", "beta2"].includes(r.field) ? r.field : null);
    if (r.error) { message("lab-msg", r.error, true); return; }
    this.r = null;
    message("lab-msg", `${r.name}: Reset, then ${s.epochs} × onestep`);
    $("lab-diagnosis").hidden = true;
    const shown = r.epochs[pass];
    $("lab-table-title").firstChild.textContent = "the sheet ";
    $("lab-view-label").textContent = pass === 0 ? "as Reset leaves it" : `after ${pass} onestep${pass > 1 ? "s" : ""}`;
    const carried = r.cells.some(([, label]) => label === "carried state");
    fill("lab-table-note", "Rows and columns are numbered as in Excel; the slider shows the sheet after any onestep, 0 being the sheet as Reset leaves it. ",
      carried ? "Reset itself computes the sheet twice: the first pass, from zero, only fills the state (row 3) that the second, shown at 0, starts from. " : "",
      r.notes.length ? "Marked cells have a remark, shown beside them (and on hover); all the remarks are listed under the sheet." : "");
    const last = r.epochs[r.epochs.length - 1];
    fill("lab-summary", stat("C1 b", fmt(shown.b), false, shown.b), stat("C2 a", fmt(shown.a), false, shown.a), stat("lr", fmt(shown.lr), false, shown.lr),
      stat("√Σ err² (the sheet's rmse cell)", fmt(shown.sheet_rmse, 5), !Number.isFinite(num(shown.sheet_rmse)), shown.sheet_rmse),
      stat("onesteps", `${pass} of ${s.epochs}`), stat("last pass: √Σ err²", fmt(last.sheet_rmse, 5), false, last.sheet_rmse));
    $("lab-error-hint").textContent = "(the sheet's own error cell, √Σ err², after each onestep, log scale)";
    $("lab-path-hint").textContent = "(a and b after each onestep, on the contours of the mean error)";
    // Played, the charts grow to the sheet shown.
    this.wbPlayer.set(s.epochs, 0);
    this.sliders.view.show();
    if (s.pass !== null && s.pass < s.epochs) this.wbPlayer.seek(s.pass);
    const upTo = pass < s.epochs ? pass : Infinity;
    lineChart($("lab-chart-error"), [{ name: "√Σ err²", x: r.epochs.map((_, i) => i), y: r.epochs.map((e) => e.sheet_rmse), color: "#0072B2", dots: r.epochs.length <= 60 }],
      { logY: true, xLabel: "onesteps after Reset", yLabel: "√Σ err²", upTo, xName: (x) => (x === 0 ? "as Reset leaves the sheet" : `after onestep ${x}`) });
    contourChart($("lab-chart-path"), r.contours, r.contours ? [{
      name: "onesteps", points: r.epochs.map((e) => [e.a, e.b]), ix: 0, iy: 1, color: "#1d2330", dots: true, upTo: upTo + 1,
      label: (i) => (i === 0 ? "as Reset leaves the sheet" : `after onestep ${i}`),
    }] : []);
    renderReplay($("lab-table"), r);
    // The remarks fit the visible part of the table; asked to show the cells a remark is
    // about, the table scrolls sideways to them.
    const wrap = $("lab-table-wrap");
    for (const box of wrap.querySelectorAll(".remark")) box.style.maxWidth = Math.max(260, wrap.clientWidth - 24) + "px";
    const noted = wrap.querySelector("tr.sheet-extra td.noted");
    if (this.reveal && noted) wrap.scrollLeft = Math.max(0, noted.offsetLeft - wrap.clientWidth / 3);
    fill("lab-notes", h("h3", {}, "the sheet's remarks"),
      h("ul", { class: "remarks" }, r.notes.map((n) => {
        const li = h("li", { tabindex: 0, "data-cells": cellsIn(n).join(" ") }, readable(n));
        const mark = (on) => { for (const a of cellsIn(n)) { const td = $("lab-table").querySelector(`[data-cell="${a}"]`); if (td) td.classList.toggle("lit", on); } };
        li.addEventListener("mouseenter", () => mark(true)); li.addEventListener("mouseleave", () => mark(false));
        li.addEventListener("focus", () => mark(true)); li.addEventListener("blur", () => mark(false));
        return li;
      })));
    $("lab-notes").hidden = false;
    this.revealAsked();
    showTiming(`${s.sheet} sheet, Reset + ${s.epochs} onesteps`, t0, r.compute_ms);
  },
};

/**
 * A replayed sheet in its own layout: letters, headers, row-5 formulas, then Excel's rows
 * 1 to 3 (the inputs and the state Reset carries in), the data rows, and the summary row;
 * a cell a remark speaks of is marked, with the remark on hover and focus.
 */
function renderReplay(table, r) {
  const remarks = {};
  for (const n of r.notes) for (const a of cellsIn(n)) (remarks[a] = remarks[a] || []).push(n);
  const cellAt = {};
  for (const [addr, label, v] of r.cells) cellAt[addr] = [label, v];
  const lastRow = r.first_row + r.rows.length - 1;
  const mark = (td, addr) => {
    td.dataset.cell = addr;
    if (remarks[addr]) { td.classList.add("noted"); td.tabIndex = 0; td.title = `${addr}: ${remarks[addr].map((n) => readablePieces(n).map(([t]) => t).join("")).join(" ")}`; }
    return td;
  };
  const valueCell = (addr, v) => {
    const td = h("td", { class: Number.isFinite(num(v)) ? null : "nonfinite" }, fmt(v));
    if (rounded(v)) td.title = exact(v);
    return mark(td, addr);
  };
  // Rows outside the data: every cell the replay names, in its column, with its label.
  const extraRow = (row) => {
    const tds = r.columns.map((c) => {
      const addr = c.letter + row;
      if (!cellAt[addr]) return mark(h("td", { class: "empty" }), addr);
      const [label, v] = cellAt[addr];
      const td = valueCell(addr, v);
      td.classList.add("named");
      if (label) td.prepend(h("span", { class: "lbl" }, label));
      return td;
    });
    return h("tr", { class: "sheet-extra" }, h("th", { class: "rn", scope: "row" }, row), tds);
  };
  const head = h("thead", {},
    h("tr", { class: "letters" }, h("th", { class: "rn" }), r.columns.map((c) => h("th", { title: c.meaning }, c.letter))),
    h("tr", { class: "names" }, h("th", { class: "rn" }, "row"),
      r.columns.map((c) => h("th", { title: `${c.letter}5 ${c.formula} — ${c.meaning}` }, c.header))),
    h("tr", { class: "groups formulas" }, h("th", { class: "rn" }), r.columns.map((c) => h("th", { title: c.meaning }, c.formula))));
  // The remarks on the cells above and below the data, in a row right under those cells.
  const remarkRow = (rows) => {
    const said = r.notes.filter((n) => cellsIn(n).some((a) => rows.includes(+a.slice(1))));
    return said.length ? h("tr", { class: "remark-row" }, h("th", { class: "rn" }),
      h("td", { colspan: r.columns.length }, h("div", { class: "remark" }, said.map((n) => h("p", {}, "↑ ", readable(n)))))) : null;
  };
  const top = [], topRows = [];
  for (let row = 1; row < r.first_row; row++) {
    if (r.columns.some((c) => cellAt[c.letter + row])) { top.push(extraRow(row)); topRows.push(row); }
  }
  const bottom = r.columns.some((c) => cellAt[c.letter + (lastRow + 1)]);
  const body = h("tbody", {}, top, remarkRow(topRows),
    r.rows.map((row, k) => h("tr", {}, h("th", { class: "rn", scope: "row" }, r.first_row + k),
      row.map((v, i) => valueCell(r.columns[i].letter + (r.first_row + k), v)))),
    bottom ? [extraRow(lastRow + 1), remarkRow([lastRow + 1])] : null);
  table.classList.remove("pickable");
  fill(table, head, body);
}
