// The formula playground: a model typed in spreadsheet syntax, its parameters and
// derivatives, a gradient check three ways, a typed derivative recognised, and a run.

import { fmt } from "./charts.js";
import { caret, message, showTiming, slider } from "./controls.js";
import { $, fill, h } from "./dom.js";
import { BETAS } from "./optimizers.js";
import { api, bindDownloads, currentSpec, runner } from "./server.js";
import { numParam, writeHash } from "./url.js";
import { renderCharts, renderDiagnosis, renderSummary } from "./views.js";

export const playground = {
  s: null,
  sliders: {},
  params: [],
  load(p) {
    const init = {};
    for (const kv of (p.get("init") || "").split(",")) {
      const [k, v] = kv.split(":");
      if (k && Number.isFinite(parseFloat(v))) init[k] = parseFloat(v);
    }
    this.s = {
      model: p.get("model") ?? "c*MAX(a*x+b,0)+d", loss: p.get("loss") ?? "squared",
      data: p.get("data") === "target" ? "target" : "graddesc", target: p.get("target") ?? "2*x+30",
      opt: BETAS[p.get("opt")] ? p.get("opt") : "adam", lr: numParam(p, "lr", 0.05),
      epochs: Math.round(numParam(p, "epochs", 30)), init,
    };
  },
  save() {
    const s = this.s;
    writeHash("playground", {
      model: s.model, loss: s.loss, data: s.data, target: s.data === "target" ? s.target : "", opt: s.opt, lr: s.lr, epochs: s.epochs,
      init: Object.entries(s.init).filter(([k]) => this.params.includes(k)).map(([k, v]) => `${k}:${v}`).join(","),
    });
  },
  modelSpec() {
    const s = this.s;
    return { model: s.model, loss: s.loss, data: s.data === "target" ? { source: "target", target: s.target, n: 29, x_lo: 1, x_hi: 100 } : { source: "graddesc" } };
  },
  init() {
    const upd = runner(() => this.update());
    let timer = 0;
    this.schedule = () => { this.save(); upd(); };
    const typed = () => { clearTimeout(timer); timer = setTimeout(this.schedule, 120); };
    $("pg-claim").addEventListener("input", () => { clearTimeout(this.claimTimer); this.claimTimer = setTimeout(() => this.checkClaim(), 150); });
    $("pg-claim-param").addEventListener("change", () => this.checkClaim());
    for (const [id, k] of [["pg-model", "model"], ["pg-loss", "loss"], ["pg-target", "target"]]) {
      $(id).addEventListener("input", (e) => { this.s[k] = e.target.value; typed(); });
    }
    $("pg-data").addEventListener("change", (e) => { this.s.data = e.target.value; $("pg-target-field").hidden = this.s.data !== "target"; this.schedule(); });
    $("pg-opt").addEventListener("change", (e) => { this.s.opt = e.target.value; this.schedule(); });
    this.sliders.lr = slider("pg-lr", () => this.s.lr, (v) => { this.s.lr = v; }, this.schedule);
    this.sliders.epochs = slider("pg-epochs", () => this.s.epochs, (v) => { this.s.epochs = v; }, this.schedule);
    bindDownloads($("page-playground"), "playground", "pg-msg");
  },
  showAll() {
    const s = this.s;
    $("pg-model").value = s.model; $("pg-loss").value = s.loss; $("pg-data").value = s.data; $("pg-target").value = s.target;
    $("pg-target-field").hidden = s.data !== "target"; $("pg-opt").value = s.opt;
    Object.values(this.sliders).forEach((x) => x.show());
  },
  /** A number box per parameter for its initial value (rebuilt when the parameters change). */
  renderInits() {
    const box = $("pg-inits");
    const have = [...box.querySelectorAll("input")].map((i) => i.dataset.p).join(",");
    if (have === this.params.join(",")) return;
    fill(box, this.params.map((p) => {
      const input = h("input", { type: "number", step: "any", "data-p": p, value: this.s.init[p] ?? 1 });
      input.addEventListener("change", () => { const v = parseFloat(input.value); if (Number.isFinite(v)) { this.s.init[p] = v; this.schedule(); } });
      return h("label", {}, `${p}₀`, input);
    }));
  },
  /** The parameters and data columns, and ∂e/∂p for each parameter in both notations. */
  renderFormula(f) {
    fill("pg-params", h("div", { class: "params" },
      f.params.map((p) => h("span", { class: "pill" }, p)),
      f.columns.map((c) => h("span", { class: "pill data", title: "a data column" }, c))));
    $("pg-error-formula").textContent = `e = ${f.row_error.math}`;
    fill("pg-derivs", f.derivatives.map((d) => h("div", { class: "deriv" },
      h("span", { class: "p" }, `∂e/∂${d.param}`), h("code", { class: "excel" }, d.excel), h("span", { class: "math" }, d.math))));
    const sel = $("pg-claim-param"), keep = sel.value;
    fill(sel, f.params.map((p) => h("option", {}, p)));
    if (f.params.includes(keep)) sel.value = keep;
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
    const init = {};
    for (const p of f.params) init[p] = this.s.init[p] ?? 1;
    const spec = Object.assign({}, ms, { optimizer: this.s.opt, hyper: { lr: this.s.lr }, epochs: this.s.epochs, init, contours: { n: 40 } });
    currentSpec.playground = spec;
    const [chk, r] = await Promise.all([api("/api/check", Object.assign({}, ms, { at: init })), api("/api/train", spec)]);
    this.renderCheck(chk, f.params);
    this.checkClaim();
    if (r.error) { message("pg-msg", r.error, true); return; }
    renderDiagnosis("pg-diagnosis", r);
    renderSummary("pg-summary", r);
    $("pg-path-hint").textContent = r.contours ? `(${r.contours.params.join(" and ")}; the others at their final values)` : "";
    renderCharts("pg", r);
    message("pg-msg", r.optimizer);
    showTiming(`${r.n_rows} rows × ${this.s.epochs} epochs`, t0, r.compute_ms);
  },
  /** Recognises the typed derivative: exact, a finite difference (with its error), a lost factor... */
  async checkClaim() {
    const text = $("pg-claim").value, v = $("pg-claim-verdict");
    caret("pg-claim", null);
    if (!text.trim() || !this.params.length) { v.textContent = ""; return; }
    const init = {};
    for (const p of this.params) init[p] = this.s.init[p] ?? 1;
    const c = await api("/api/check", Object.assign({}, this.modelSpec(), { at: init, claimed: [$("pg-claim-param").value, text] }));
    if (c.error) {
      if (c.span) caret("pg-claim", c);
      v.textContent = c.span ? "" : c.error;
      v.className = "verdict wrong";
      return;
    }
    v.textContent = c.claimed || "";
    v.className = "verdict " + (/is the exact derivative/.test(c.claimed || "") ? "exact" : "wrong");
  },
  /** The first rows of the gradient check, and the largest gaps over all rows. */
  renderCheck(c, params) {
    if (c.error) { $("pg-check").textContent = c.error; return; }
    const head = [
      h("tr", {}, h("th", { rowspan: 2 }, "row"), c.columns.map((x) => h("th", { rowspan: 2 }, x)),
        params.map((p) => h("th", { colspan: 3, class: "grp" }, `∂e/∂${p}`))),
      h("tr", {}, params.map(() => ["symbolic", "automatic", "central"].map((k) => h("th", {}, k)))),
    ];
    const rows = c.rows.slice(0, 6).map((r, i) => h("tr", {}, h("td", {}, i + 1), r.inputs.map((v) => h("td", {}, fmt(v))),
      params.map((_, k) => [r.symbolic[k], r.automatic[k], r.central[k]].map((v) => h("td", {}, fmt(v))))));
    fill("pg-check", h("div", { style: "overflow-x:auto" }, h("table", { class: "check" }, h("thead", {}, head), h("tbody", {}, rows))),
      h("p", { class: "hint" }, `largest relative gap to the automatic derivative, over all ${c.rows.length} rows: symbolic ${fmt(c.max_rel_symbolic, 2)}, ` +
        `central difference (h = ${c.h}) ${fmt(c.max_rel_central, 2)}`),
      // A side that is not finite is never agreement: say which, where and why.
      [c.symbolic_not_finite, c.central_not_finite].filter((t, i, a) => t && a.indexOf(t) === i)
        .map((t) => h("p", { class: "warn" }, `No agreement: ${t}.`)));
  },
};
