// The stability map: one training run per cell over the learning rate and a second
// setting, computed by the server as `gradsheet sweep` computes it.

import { fmt, heatmap } from "./charts.js";
import { caret, message, showTiming, slider } from "./controls.js";
import { $ } from "./dom.js";
import { BETAS } from "./optimizers.js";
import { api, runner } from "./server.js";
import { numParam, writeHash } from "./url.js";

export const stability = {
  s: null,
  sliders: {},
  load(p) {
    this.s = {
      model: p.get("model") ?? "a*x+b", opt: BETAS[p.get("opt")] ? p.get("opt") : "momentum", y: p.get("y") ?? "beta1",
      lo: numParam(p, "lo", 1e-6), hi: numParam(p, "hi", 1e-2), epochs: Math.round(numParam(p, "epochs", 10)),
    };
  },
  save() { writeHash("stability", this.s); },
  init() {
    const upd = runner(() => this.update());
    let timer = 0;
    this.schedule = () => { this.save(); upd(); };
    $("st-model").addEventListener("input", (e) => { this.s.model = e.target.value; clearTimeout(timer); timer = setTimeout(this.schedule, 150); });
    $("st-opt").addEventListener("change", (e) => { this.s.opt = e.target.value; this.schedule(); });
    $("st-y").addEventListener("change", (e) => { this.s.y = e.target.value; this.schedule(); });
    for (const k of ["lo", "hi", "epochs"]) this.sliders[k] = slider("st-" + k, () => this.s[k], (v) => { this.s[k] = v; }, this.schedule);
  },
  showAll() {
    $("st-model").value = this.s.model; $("st-opt").value = this.s.opt; $("st-y").value = this.s.y;
    Object.values(this.sliders).forEach((x) => x.show());
  },
  async update() {
    const t0 = performance.now();
    const s = this.s;
    const [lo, hi] = [Math.min(s.lo, s.hi), Math.max(s.lo, s.hi)];
    const spec = {
      model: s.model, loss: "squared", data: { source: "graddesc" }, optimizer: s.opt, epochs: s.epochs,
      x: { name: "lr", lo, hi: hi > lo ? hi : lo * 10, n: 48, log: true },
      y: s.y ? { name: s.y, lo: 0, hi: 0.99, n: 24, log: false } : null,
    };
    const r = await api("/api/sweep", spec);
    caret("st-model", r.field === "model" ? r : null);
    $("st-y").classList.toggle("invalid", r.field === "y");
    if (r.error) { message("st-msg", r.error, true); return; }
    const cells = r.x.length * r.y.length;
    const div = r.diverged.flat().filter((d) => d > 0).length;
    message("st-msg", `${div} of ${cells} runs diverged`);
    $("st-hint").textContent = `(after ${s.epochs} epochs of ${s.opt}; start: ${fmt(r.initial_error, 4)})`;
    heatmap($("st-chart"), r, { logX: true });
    showTiming(`${cells} runs × ${s.epochs} epochs`, t0, r.compute_ms);
  },
};
