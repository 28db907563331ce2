// The optimizer comparison: several optimizers from the same start on the same model.

import { PALETTE, contourChart, lineChart } from "./charts.js";
import { caret, message, showTiming, slider } from "./controls.js";
import { $, fill, h } from "./dom.js";
import { exact, fmt } from "./numbers.js";
import { label } from "./optimizers.js";
import { player } from "./player.js";
import { api, runner } from "./server.js";
import { numParam, writeHash } from "./url.js";

// Each optimizer offered: its name, learning rate and whether it is on by default.
const DEFAULTS = [["sgd", 1e-4, 1], ["momentum", 1e-4, 1], ["rmsprop", 0.02, 0], ["adam", 0.1, 1], ["torch-adam", 0.5, 1], ["torch-sgd", 1e-4, 0]];

export const compare = {
  s: null,
  load(p) {
    const runs = {};
    const given = p.get("runs");
    for (const [o, lr, on] of DEFAULTS) runs[o] = { lr, on: given ? 0 : on };
    if (given) for (const kv of given.split(",")) {
      const [o, lr] = kv.split(":");
      if (runs[o] && Number.isFinite(parseFloat(lr))) runs[o] = { lr: parseFloat(lr), on: 1 };
    }
    this.s = { model: p.get("model") ?? "a*x+b", epochs: Math.round(numParam(p, "epochs", 30)), runs };
  },
  save() {
    const runs = Object.entries(this.s.runs).filter(([, r]) => r.on).map(([o, r]) => `${o}:${r.lr}`).join(",");
    writeHash("compare", { model: this.s.model, epochs: this.s.epochs, runs });
  },
  init() {
    const upd = runner(() => this.update());
    let timer = 0;
    this.schedule = () => { this.save(); upd(); };
    $("cmp-model").addEventListener("input", (e) => { this.s.model = e.target.value; clearTimeout(timer); timer = setTimeout(this.schedule, 120); });
    this.epochs = slider("cmp-epochs", () => this.s.epochs, (v) => { this.s.epochs = v; }, this.schedule);
    // Played an epoch at a time: the curves and the paths grow together.
    this.player = player("cmp-player", {
      unit: "epoch",
      describe: (c, t) => (c >= t ? `the whole runs: ${t} epochs` : c === 0 ? "the start" : `after epoch ${c} of ${t}`),
      onMove: (c) => this.draw(c),
    });
    fill("cmp-runs", DEFAULTS.map(([o]) => {
      const on = h("input", { type: "checkbox", id: `cmp-on-${o}` });
      const lr = h("input", { type: "number", class: "num", step: "any", id: `cmp-lr-${o}`, title: "learning rate", "aria-label": `learning rate of ${label(o)}` });
      on.addEventListener("change", () => { this.s.runs[o].on = on.checked ? 1 : 0; this.schedule(); });
      lr.addEventListener("change", () => { const v = parseFloat(lr.value); if (Number.isFinite(v)) { this.s.runs[o].lr = v; this.schedule(); } });
      return h("div", { class: "run" }, on, h("label", { for: `cmp-on-${o}` }, h("span", { class: "swatch", id: `cmp-sw-${o}` }), label(o)), lr);
    }));
  },
  showAll() {
    $("cmp-model").value = this.s.model;
    this.epochs.show();
    for (const [o] of DEFAULTS) { $("cmp-on-" + o).checked = !!this.s.runs[o].on; $("cmp-lr-" + o).value = this.s.runs[o].lr; }
  },
  async update() {
    const t0 = performance.now();
    const active = DEFAULTS.map(([o]) => o).filter((o) => this.s.runs[o].on);
    DEFAULTS.forEach(([o]) => { $("cmp-sw-" + o).style.background = "transparent"; });
    if (!active.length) { message("cmp-msg", "pick at least one optimizer", true); return; }
    const colors = {};
    active.forEach((o, k) => { colors[o] = PALETTE[k % PALETTE.length]; $("cmp-sw-" + o).style.background = colors[o]; });
    const r = await api("/api/compare", {
      model: this.s.model, loss: "squared", data: { source: "graddesc" }, epochs: this.s.epochs,
      runs: active.map((o) => ({ optimizer: o, hyper: { lr: this.s.runs[o].lr } })), contours: { n: 48 },
    });
    caret("cmp-model", r.field === "model" ? r : null);
    if (r.error) { message("cmp-msg", r.error, true); return; }
    message("cmp-msg", "");
    this.r = r; this.colors = colors; this.active = active;
    this.player.set(this.s.epochs, 0);
    this.draw(this.player.cursor);
    const swatch = (color) => { const s = h("span", { class: "swatch" }); s.style.background = color; return s; };
    fill("cmp-table",
      h("thead", {}, h("tr", {}, ["optimizer", "final error", "result"].map((x) => h("th", {}, x)), r.params.map((p) => h("th", {}, p)))),
      h("tbody", {}, r.runs.map((run, k) => h("tr", {},
        h("td", { style: "text-align:left" }, swatch(colors[active[k]]), run.label),
        h("td", { title: exact(run.final_error) }, fmt(run.final_error, 5)),
        h("td", {}, run.stop.kind === "diverged" ? `diverged at step ${run.stop.step}` : run.stop.kind),
        run.final_params.map((v) => h("td", { title: exact(v) }, fmt(v)))))));
    showTiming(`${active.length} runs × ${this.s.epochs} epochs`, t0, r.compute_ms);
  },
  /** The curves and paths up to epoch `c` (all of them when the whole runs are shown). */
  draw(c) {
    const r = this.r;
    if (!r) return;
    const { colors, active } = this;
    const upTo = c < this.s.epochs ? c : Infinity;
    const series = r.runs.map((run, k) => ({ name: active[k], color: colors[active[k]], x: run.curve.map((_, i) => i + 1), y: run.curve }));
    lineChart($("cmp-chart-error"), series, { logY: true, xLabel: "epoch", yLabel: "mean error", upTo, xName: (x) => `end of epoch ${x}` });
    const ct = r.contours;
    const paths = ct ? r.runs.map((run, k) => ({
      name: active[k], color: colors[active[k]], points: run.path, ix: r.params.indexOf(ct.params[0]), iy: r.params.indexOf(ct.params[1]),
      upTo: upTo + 1, label: (i) => `${label(active[k])}: ${i === 0 ? "the start" : `end of epoch ${i}`}`,
    })) : [];
    contourChart($("cmp-chart-path"), ct, paths);
  },
};
