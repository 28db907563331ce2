// The formula playground: a model typed in spreadsheet syntax, its parameters and
// derivatives (each checked three ways, and against a formula the learner typed), a
// run with its steps, played or whole.

import { caret, message, share, showTiming, slider } from "./controls.js";
import { $, fill, h } from "./dom.js";
import { exact, fmt, num } from "./numbers.js";
import { BETAS, SLIDER_OF, hyper } from "./optimizers.js";
import { cursorWords, player } from "./player.js";
import { api, bindDownloads, currentSpec, runner } from "./server.js";
import { numParam, writeHash } from "./url.js";
import { markCursor, renderCharts, renderDiagnosis, renderSheet, renderSummary, showStepDetail } from "./views.js";

/** `c:1,a:2` → `{ c: 1, a: 2 }` (pairs that are not a name and a number are left out). */
function parseInit(text) {
  const init = {};
  for (const kv of (text || "").split(",")) {
    const [k, v] = kv.split(":");
    if (k && Number.isFinite(parseFloat(v))) init[k] = parseFloat(v);
  }
  return init;
}

/** The verdict's kind, and how the page colours it. */
const VERDICTS = {
  exact: "the exact derivative",
  approximation: "an approximation of it",
  wrong: "not the derivative",
};

export const playground = {
  s: null,
  sliders: {},
  params: [],
  r: null,
  check: null,
  load(p) {
    const int = (k) => (p.has(k) && Number.isFinite(parseFloat(p.get(k))) ? Math.max(0, Math.round(parseFloat(p.get(k)))) : null);
    const opt = BETAS[p.get("opt")] ? p.get("opt") : "adam";
    this.s = {
      model: p.get("model") ?? "c*MAX(a*x+b,0)+d", loss: p.get("loss") ?? "squared",
      data: p.get("data") === "target" ? "target" : "graddesc", target: p.get("target") ?? "2*x+30",
      opt, lr: numParam(p, "lr", 0.05), b1: numParam(p, "b1", 0.9), b2: numParam(p, "b2", opt.startsWith("torch") ? 0.999 : 0.9),
      epochs: Math.round(numParam(p, "epochs", 30)), init: parseInit(p.get("init")),
      claim: p.get("claim") ?? "", claimp: p.get("claimp") ?? "", view: Math.max(1, Math.round(numParam(p, "view", 1))),
      at: int("at"), step: int("step"), checkp: p.get("checkp") ?? "",
    };
    if (this.player) { if (this.s.at !== null) this.player.seek(this.s.at); else this.player.state.follow = true; }
  },
  save() {
    const s = this.s;
    // Initial values are kept for every parameter named so far: before the server has
    // said which names are parameters (a link just opened), none may be dropped.
    const names = this.params.length ? this.params : Object.keys(s.init);
    const [n1, n2] = BETAS[s.opt];
    const at = this.player && !this.player.state.follow ? this.player.cursor : null;
    writeHash("playground", {
      model: s.model, loss: s.loss, data: s.data, target: s.data === "target" ? s.target : "", opt: s.opt, lr: s.lr,
      b1: n1 ? s.b1 : null, b2: n2 ? s.b2 : null, epochs: s.epochs,
      init: names.filter((k) => s.init[k] !== undefined).map((k) => `${k}:${s.init[k]}`).join(","),
      claimp: s.claim.trim() ? s.claimp : null, claim: s.claim.trim() ? s.claim : null,
      checkp: s.checkp || null, view: s.view > 1 ? s.view : null, at, step: s.step,
    });
  },
  modelSpec() {
    const s = this.s;
    return { model: s.model, loss: s.loss, data: s.data === "target" ? { source: "target", target: s.target, n: 29, x_lo: 1, x_hi: 100 } : { source: "graddesc" } };
  },
  initValues() {
    const init = {};
    for (const p of this.params) init[p] = this.s.init[p] ?? 1;
    return init;
  },
  spec() {
    return Object.assign({}, this.modelSpec(), {
      optimizer: this.s.opt, hyper: hyper(this.s.opt, this.s), epochs: this.s.epochs, init: this.initValues(),
      view_epoch: this.s.view, contours: { n: 40 },
    });
  },
  init() {
    const upd = runner(() => this.update());
    let timer = 0;
    this.schedule = () => { this.save(); upd(); };
    const typed = () => { clearTimeout(timer); timer = setTimeout(this.schedule, 120); };
    $("pg-claim").addEventListener("input", (e) => {
      this.s.claim = e.target.value; this.save();
      clearTimeout(this.claimTimer); this.claimTimer = setTimeout(() => this.checkClaim(), 150);
    });
    $("pg-claim-param").addEventListener("change", (e) => { this.s.claimp = e.target.value; this.save(); this.checkClaim(); });
    for (const [id, k] of [["pg-model", "model"], ["pg-loss", "loss"], ["pg-target", "target"]]) {
      $(id).addEventListener("input", (e) => { this.s[k] = e.target.value; typed(); });
    }
    $("pg-data").addEventListener("change", (e) => { this.s.data = e.target.value; $("pg-target-field").hidden = this.s.data !== "target"; this.schedule(); });
    $("pg-opt").addEventListener("change", (e) => { this.s.opt = e.target.value; this.showAll(); this.schedule(); });
    for (const k of ["lr", "b1", "b2", "epochs"]) this.sliders[k] = slider("pg-" + k, () => this.s[k], (v) => { this.s[k] = v; }, this.schedule);
    this.sliders.view = slider("pg-view", () => this.s.view, (v) => { this.s.view = v; this.player.state.follow = true; }, this.schedule);
    this.player = player("pg-player", { unit: "row", describe: (c, t) => this.where(c, t), onMove: (c) => this.moved(c) });
    bindDownloads($("page-playground"), "playground", "pg-msg");
    share($("pg-share"), "pg-msg");
  },
  showAll() {
    const s = this.s;
    $("pg-model").value = s.model; $("pg-loss").value = s.loss; $("pg-data").value = s.data; $("pg-target").value = s.target;
    $("pg-target-field").hidden = s.data !== "target"; $("pg-opt").value = s.opt;
    $("pg-claim").value = s.claim;
    const [n1, n2] = BETAS[s.opt];
    this.sliders.b1.enable(!!n1, n1 || "β1"); this.sliders.b2.enable(!!n2, n2 || "β2");
    this.sliders.b1.hide(!n1); this.sliders.b2.hide(!n2);
    this.sliders.view.setMax(Math.max(1, s.epochs));
    for (const i of $("pg-inits").querySelectorAll("input")) i.value = s.init[i.dataset.p] ?? 1;
    Object.values(this.sliders).forEach((x) => x.show());
  },
  /** A number box per parameter for its initial value (rebuilt when the parameters change). */
  renderInits() {
    const box = $("pg-inits");
    const have = [...box.querySelectorAll("input")].map((i) => i.dataset.p).join(",");
    if (have === this.params.join(",")) return;
    fill(box, this.params.map((p) => {
      const input = h("input", { type: "number", step: "any", "data-p": p, value: this.s.init[p] ?? 1, id: `pg-init-${p}` });
      input.addEventListener("change", () => { const v = parseFloat(input.value); if (Number.isFinite(v)) { this.s.init[p] = v; this.schedule(); } });
      return h("label", { for: `pg-init-${p}` }, h("span", {}, `${p}₀`), input);
    }));
  },
  /**
   * The parameters and data columns; ∂e/∂p for each parameter in both notations, each
   * with what the gradient check found for it.
   */
  renderFormula(f) {
    fill("pg-params", h("div", { class: "params" },
      f.params.map((p) => h("span", { class: "pill" }, p)),
      f.columns.map((c) => h("span", { class: "pill data", title: "a data column" }, c))));
    $("pg-error-formula").textContent = `e = ${f.row_error.math}`;
    fill("pg-derivs", f.derivatives.map((d) => h("div", { class: "deriv", "data-p": d.param },
      h("span", { class: "p" }, `∂e/∂${d.param}`), h("span", { class: "checked", "data-p": d.param }),
      h("code", { class: "excel" }, d.excel), h("span", { class: "math" }, d.math))));
    const sel = $("pg-claim-param");
    fill(sel, f.params.map((p) => h("option", {}, p)));
    if (!f.params.includes(this.s.claimp)) this.s.claimp = f.params.includes("a") ? "a" : f.params[0];
    sel.value = this.s.claimp;
  },
  where(c, total) {
    if (!this.r) return "";
    return cursorWords(c, total, this.r.steps_per_epoch, (k) => `its step ${k}`);
  },
  moved(c) {
    const r = this.r;
    if (!r) return;
    renderCharts("pg", r, c);
    const e = Math.max(1, Math.ceil(c / r.steps_per_epoch));
    if (c < r.steps_taken && e !== r.steps.epoch && !this.fetching) this.fetchEpoch(e);
    markCursor($("pg-table"), c, r.steps_taken);
    this.save();
  },
  async fetchEpoch(e) {
    this.fetching = true;
    const r2 = await api("/api/train", Object.assign(this.spec(), { view_epoch: e, contours: null }));
    this.fetching = false;
    if (r2.error || !this.r) return;
    this.s.view = e;
    this.r.steps = r2.steps;
    this.drawTable();
    this.sliders.view.show();
    markCursor($("pg-table"), this.player.cursor, this.r.steps_taken);
    const want = Math.max(1, Math.ceil(this.player.cursor / this.r.steps_per_epoch));
    if (want !== e && this.player.cursor < this.r.steps_taken) this.fetchEpoch(want);
  },
  drawTable() {
    const r = this.r;
    $("pg-view-label").textContent = r.steps.epoch || "—";
    // The playground numbers the data's rows from 1 everywhere (the steps, the gradient
    // check, the verdicts); the graddesc lab numbers them as the sheet does.
    renderSheet($("pg-table"), r, { rowLabel: "data row", rowOffset: 0, onPick: (step) => this.pick(step) });
    $("pg-table-note").textContent = "Each row is one step: one update from one data row. step counts updates from the start of the run; " +
      "data row is the row it reads, counted from 1 as everywhere on this page. Click a row for its formulas with the numbers filled in.";
    if (this.s.step && this.s.step >= r.steps.first_step && this.s.step < r.steps.first_step + r.steps.rows.length) this.pick(this.s.step, true);
  },
  async pick(step, quiet) {
    this.s.step = step;
    if (!quiet) this.save();
    const d = await api("/api/step", { run: Object.assign(this.spec(), { contours: null, view_epoch: null }), step });
    showStepDetail($("pg-table"), step, d, () => { this.s.step = null; this.save(); }, (r) => `data row ${r}`);
  },
  applyRemedy(a) {
    const s = this.s;
    if (a.lr !== undefined) s.lr = a.lr;
    if (a.optimizer && BETAS[a.optimizer]) s.opt = a.optimizer;
    if (a.init) Object.assign(s.init, a.init);
    if (a.epochs) s.epochs = a.epochs;
    if (a.model) s.model = a.model;
    this.showAll(); this.schedule();
    this.reveal = "pg-summary";
  },
  async update() {
    const t0 = performance.now();
    const ms = this.modelSpec();
    const f = await api("/api/formula", ms);
    for (const id of ["pg-model", "pg-loss", "pg-target"]) caret(id, null);
    $("page-playground").querySelector(".work").classList.toggle("stale", !!f.error);
    if (f.error) {
      const id = { model: "pg-model", loss: "pg-loss", target: "pg-target" }[f.field];
      if (id) caret(id, f); else message("pg-msg", f.error, true);
      if (id) message("pg-msg", "fix the formula to see its derivatives and train it", true);
      return;
    }
    message("pg-msg", "");
    this.params = f.params;
    this.renderInits();
    this.renderFormula(f);
    const spec = this.spec();
    currentSpec.playground = spec;
    const [chk, r] = await Promise.all([api("/api/check", Object.assign({}, ms, { at: spec.init })), api("/api/train", spec)]);
    this.check = chk;
    this.renderCheck();
    this.checkClaim();
    for (const k of ["lr", "b1", "b2", "epochs"]) $("pg-" + k + "-num").classList.toggle("invalid", !!r.error && (SLIDER_OF[r.field] || r.field) === k);
    if (r.error) { message("pg-msg", r.error, true); return; }
    this.r = r;
    renderDiagnosis("pg-diagnosis", r, (a) => this.applyRemedy(a));
    renderSummary("pg-summary", r);
    $("pg-path-hint").textContent = r.contours ? `(${r.contours.params.join(" and ")}; the others at their final values)` : "";
    this.player.set(r.steps_taken, r.steps_per_epoch);
    renderCharts("pg", r, this.player.cursor);
    this.drawTable();
    markCursor($("pg-table"), this.player.cursor, r.steps_taken);
    message("pg-msg", r.optimizer);
    this.save();
    if (this.reveal) { $(this.reveal).scrollIntoView({ block: "start", behavior: "smooth" }); this.reveal = null; }
    showTiming(`${r.n_rows} rows × ${this.s.epochs} epochs`, t0, r.compute_ms);
  },
  /**
   * Recognises the typed derivative: the exact derivative, an approximation of it (a
   * finite difference, with its error), or not the derivative (a lost factor, another
   * parameter's, a formula missing its /h...). The verdict is shown under the formulas,
   * beside the derivative it checks.
   */
  async checkClaim() {
    const text = this.s.claim, v = $("pg-claim-verdict");
    caret("pg-claim", null);
    for (const d of document.querySelectorAll("#pg-derivs .deriv")) d.classList.toggle("claimed", !!text.trim() && d.dataset.p === this.s.claimp);
    if (!text.trim() || !this.params.length) { v.textContent = ""; v.className = "verdict"; return; }
    const c = await api("/api/check", Object.assign({}, this.modelSpec(), { at: this.initValues(), claimed: [this.s.claimp, text] }));
    if (c.error) {
      if (c.span) caret("pg-claim", c);
      v.textContent = c.span ? "" : c.error;
      v.className = "verdict wrong";
      return;
    }
    const kind = c.claimed_kind || "wrong";
    fill(v, h("span", { class: "badge" }, `${VERDICTS[kind] || kind}`), " ", c.claimed || "");
    v.className = "verdict " + kind;
  },
  /**
   * The gradient check: per parameter, whether the three derivatives agree on every row
   * (beside its formula), and the rows of one parameter (chosen) side by side.
   */
  renderCheck() {
    const c = this.check;
    if (!c || c.error) { $("pg-check").textContent = c ? c.error : ""; return; }
    const params = c.params;
    // Per parameter: the largest relative gaps over all rows.
    // A side that is not finite is never agreement (an infinite gap), even -inf beside -inf.
    const rel = (a, b) => { a = num(a); b = num(b); if (!Number.isFinite(a) || !Number.isFinite(b)) return Infinity; return a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-300); };
    params.forEach((p, k) => {
      let s = 0, ce = 0;
      for (const r of c.rows) { s = Math.max(s, rel(r.symbolic[k], r.automatic[k])); ce = Math.max(ce, rel(r.central[k], r.automatic[k])); }
      const mark = document.querySelector(`#pg-derivs .checked[data-p="${p}"]`);
      if (mark) {
        const ok = s < 1e-9 && ce < 1e-4;
        mark.className = "checked " + (ok ? "ok" : "gap");
        mark.textContent = ok ? `✓ checked on ${c.rows.length} rows` : `gap: symbolic ${fmt(s, 2)}, central ${fmt(ce, 2)}`;
        mark.title = `largest relative gap to reverse mode over ${c.rows.length} rows: symbolic ${exact(s)}, central difference (h = ${c.h}) ${exact(ce)}`;
      }
    });
    // The parameter chosen, else a (the forum's question), else the first: a default is
    // not written into the URL, so that the link stays the learner's.
    const shown = params.includes(this.s.checkp) ? this.s.checkp : params.includes("a") ? "a" : params[0];
    const k = params.indexOf(shown);
    const sel = h("select", { id: "pg-check-param", "aria-label": "the parameter whose derivative the table checks" }, params.map((p) => h("option", { value: p }, p)));
    sel.value = shown;
    sel.addEventListener("change", () => { this.s.checkp = sel.value; this.save(); this.renderCheck(); });
    const firstRows = c.rows.slice(0, 8);
    const head = h("tr", {}, h("th", { scope: "col" }, "data row"), c.columns.map((x) => h("th", { scope: "col" }, x)),
      ["symbolic", "automatic", "central"].map((x) => h("th", { scope: "col" }, x)));
    const cell = (v) => h("td", { title: exact(v) }, fmt(v));
    const rows = firstRows.map((r, i) => h("tr", {}, h("td", {}, i + 1), r.inputs.map(cell), cell(r.symbolic[k]), cell(r.automatic[k]), cell(r.central[k])));
    fill("pg-check",
      h("label", { class: "inline", for: "pg-check-param" }, "∂e/∂", sel, " on the first rows"),
      h("div", { class: "table-scroll" }, h("table", { class: "check" }, h("thead", {}, head), h("tbody", {}, rows))),
      h("p", { class: "hint" }, `largest relative gap to the automatic derivative, over all ${c.rows.length} rows and parameters: symbolic ${fmt(c.max_rel_symbolic, 2)}, ` +
        `central difference (h = ${c.h}) ${fmt(c.max_rel_central, 2)}`),
      // Where and why a side is not finite, in the server's words.
      [c.symbolic_not_finite, c.central_not_finite].filter((t, i, a) => t && a.indexOf(t) === i)
        .map((t) => h("p", { class: "warn" }, `No agreement: ${t}.`)));
  },
};
