// The graddesc lab: fast.ai's graddesc sheets, one row per step, every number recomputed
// as a slider moves; or, in workbook mode, the sheet replayed with its macros.

import { contourChart, fmt, lineChart, num } from "./charts.js";
import { message, showTiming, slider } from "./controls.js";
import { $, fill, h } from "./dom.js";
import { BETAS, SLIDER_OF, hyper } from "./optimizers.js";
import { api, bindDownloads, currentSpec, runner } from "./server.js";
import { numParam, writeHash } from "./url.js";
import { numCell, renderCharts, renderDiagnosis, renderSheet, renderSummary, stat } from "./views.js";

// The graddesc sheets (course-v3) and the settings they start from.
const SHEETS = {
  basic: { opt: "sgd", lr: 1e-4, b1: 0.9, b2: 0.9, fd: 1 },
  momentum: { opt: "momentum", lr: 1e-4, b1: 0.9, b2: 0.9, fd: 0 },
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

/** Marks the number box of the slider an error names (`lr`, `beta1`, `epochs`...). */
function markInvalid(field) {
  for (const k of ["lr", "b1", "b2", "epochs"]) $("lab-" + k + "-num").classList.remove("invalid");
  const k = field === "epochs" ? "epochs" : SLIDER_OF[field];
  if (k) $("lab-" + k + "-num").classList.add("invalid");
}

export const lab = {
  s: null,
  sliders: {},
  defaults() { return { sheet: "basic", opt: "sgd", lr: 1e-4, b1: 0.9, b2: 0.9, a0: 1, b0: 1, epochs: 100, view: 1, fd: 1, wb: 0 }; },
  load(p) {
    const d = this.defaults();
    const sheet = SHEETS[p.get("sheet")] ? p.get("sheet") : d.sheet;
    const base = Object.assign(d, SHEETS[sheet], { sheet });
    const opt = BETAS[p.get("opt")] ? p.get("opt") : base.opt;
    this.s = {
      sheet, opt, lr: numParam(p, "lr", base.lr), b1: numParam(p, "b1", base.b1), b2: numParam(p, "b2", base.b2),
      a0: numParam(p, "a", base.a0), b0: numParam(p, "b", base.b0), epochs: Math.round(numParam(p, "epochs", base.epochs)),
      view: Math.round(numParam(p, "view", 1)), fd: p.has("fd") ? (p.get("fd") === "1" ? 1 : 0) : base.fd,
      wb: p.get("wb") === "1" ? 1 : 0,
    };
  },
  save() {
    const s = this.s;
    writeHash("lab", { sheet: s.sheet, opt: s.opt, lr: s.lr, b1: s.b1, b2: s.b2, a: s.a0, b: s.b0, epochs: s.epochs, view: s.view, fd: s.fd, wb: s.wb || "" });
  },
  spec() {
    const s = this.s;
    return {
      model: "a*x+b", loss: "squared", data: { source: "graddesc" }, sheet: s.sheet, optimizer: s.opt, hyper: hyper(s.opt, s),
      epochs: s.epochs, batch: 1, init: { a: s.a0, b: s.b0 }, show_fd: !!s.fd, view_epoch: s.view, contours: { n: 48 },
    };
  },
  init() {
    const upd = runner(() => this.update());
    this.schedule = () => { this.save(); upd(); };
    const sl = (k) => { this.sliders[k] = slider("lab-" + k, () => this.s[k], (v) => { this.s[k] = v; }, this.schedule); };
    ["lr", "b1", "b2", "a0", "b0", "epochs", "view"].forEach(sl);
    $("lab-sheet").addEventListener("change", (e) => {
      const sh = SHEETS[e.target.value];
      Object.assign(this.s, { sheet: e.target.value, opt: sh.opt, lr: sh.lr, b1: sh.b1, b2: sh.b2, fd: sh.fd });
      this.showAll(); this.schedule();
    });
    $("lab-opt").addEventListener("change", (e) => { this.s.opt = e.target.value; this.showAll(); this.schedule(); });
    $("lab-fd").addEventListener("change", (e) => { this.s.fd = e.target.checked ? 1 : 0; this.schedule(); });
    $("lab-wb").addEventListener("change", (e) => { this.s.wb = e.target.checked ? 1 : 0; this.showAll(); this.schedule(); });
    bindDownloads($("page-lab"), "lab", "lab-msg");
  },
  showAll() {
    const s = this.s;
    $("lab-sheet").value = s.sheet; $("lab-opt").value = s.opt; $("lab-fd").checked = !!s.fd; $("lab-wb").checked = !!s.wb;
    const note = SHEETS[s.sheet].note;
    $("lab-sheet-note").hidden = !note;
    $("lab-sheet-note").textContent = note || "";
    const [n1, n2] = BETAS[s.opt];
    // The workbook's β cells are constants of each sheet; its optimizer is the sheet's.
    this.sliders.b1.enable(!!n1 && !s.wb, n1 || "β1"); this.sliders.b2.enable(!!n2 && !s.wb, n2 || "β2");
    $("lab-opt").disabled = !!s.wb; $("lab-fd").disabled = !!s.wb;
    this.sliders.view.enable(!s.wb);
    this.sliders.view.setMax(Math.max(1, s.epochs));
    Object.values(this.sliders).forEach((x) => x.show());
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
    this.sliders.view.setMax(Math.max(1, this.s.epochs));
    $("lab-view-label").textContent = r.steps.epoch || "—";
    renderDiagnosis("lab-diagnosis", r);
    renderSummary("lab-summary", r);
    renderCharts("lab", r);
    renderSheet($("lab-table"), r);
    showTiming(`${r.n_rows} rows × ${this.s.epochs} epochs`, t0, r.compute_ms);
  },
  /** Workbook mode: the sheet replayed with its macros, as Excel shows it. */
  async updateWorkbook() {
    const t0 = performance.now();
    const s = this.s;
    currentSpec.lab = this.spec();
    const r = await api("/api/sheet", { workbook: "2018", sheet: s.sheet, lr: s.lr, a: s.a0, b: s.b0, onesteps: s.epochs, contours: { n: 48 } });
    markInvalid(r.error && (r.field === "lr" || r.field === "epochs") ? r.field : null);
    if (r.error) { message("lab-msg", r.error, true); return; }
    message("lab-msg", `${r.name}: Reset, then ${s.epochs} × onestep`);
    $("lab-diagnosis").hidden = true;
    $("lab-view-label").textContent = `${r.epochs.length} (the last pass, as the sheet shows it)`;
    const last = r.epochs[r.epochs.length - 1];
    fill("lab-summary", stat("C1 b", fmt(last.b)), stat("C2 a", fmt(last.a)), stat("lr", fmt(last.lr)),
      stat("sheet rmse (last pass)", fmt(last.sheet_rmse, 5), !Number.isFinite(num(last.sheet_rmse))), stat("passes", String(r.epochs.length)));
    lineChart($("lab-chart-error"), [{ name: "sheet rmse", x: r.epochs.map((_, i) => i), y: r.epochs.map((e) => e.sheet_rmse), color: "#0072B2" }],
      { logY: true, xLabel: "pass (0 = after Reset)", yLabel: "√Σ err²" });
    contourChart($("lab-chart-path"), r.contours, r.contours ? [{ name: "passes", points: r.epochs.map((e) => [e.a, e.b]), ix: 0, iy: 1, color: "#1d2330", dots: true }] : []);
    renderReplay($("lab-table"), r);
    fill("lab-notes", h("h3", {}, "the sheet's cells and quirks"),
      h("div", { class: "params" }, r.cells.map(([addr, label, v]) => h("span", { class: "pill data", title: label }, `${addr} ${label} = ${fmt(v)}`))),
      r.notes.map((n) => h("p", {}, n)));
    $("lab-notes").hidden = false;
    showTiming(`${s.sheet} sheet, Reset + ${s.epochs} onesteps`, t0, r.compute_ms);
  },
};

/** A replayed sheet in its own columns: letters, headers, row-5 formulas, Excel's rows. */
function renderReplay(table, r) {
  const head = h("thead", {},
    h("tr", { class: "letters" }, h("th", { class: "rn" }), r.columns.map((c) => h("th", { title: c.meaning }, c.letter))),
    h("tr", { class: "names" }, h("th", { class: "rn" }, "row"),
      r.columns.map((c) => h("th", { title: `${c.letter}5 ${c.formula} — ${c.meaning}` }, c.header))),
    h("tr", { class: "groups formulas" }, h("th", { class: "rn" }), r.columns.map((c) => h("th", { title: c.meaning }, c.formula))));
  const body = h("tbody", {}, r.rows.map((row, k) =>
    h("tr", {}, h("td", { class: "rn" }, r.first_row + k), row.map((v) => numCell(v)))));
  fill(table, head, body);
}
