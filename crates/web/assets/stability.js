// The stability map: one training run per cell over the learning rate and a second
// setting, computed by the server as `gradsheet sweep` computes it. A cell opens its run
// in the graddesc lab (the model a·x + b) or the formula playground (any other model).

import { heatmap } from "./charts.js";
import { caret, message, showTiming, slider } from "./controls.js";
import { $ } from "./dom.js";
import { fmt } from "./numbers.js";
import { BETAS } from "./optimizers.js";
import { api, runner } from "./server.js";
import { numParam, writeHash } from "./url.js";

/** The β slider (`b1`, `b2`) a map's second axis sets, for the run a cell opens. */
const Y_SLIDER = { beta1: "b1", momentum: "b1", beta2: "b2" };

export const stability = {
  s: null,
  sliders: {},
  r: null,
  sel: null,
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
    // The arrow keys move the chosen cell; Enter opens its run.
    $("st-chart").addEventListener("keydown", (e) => {
      const r = this.r;
      if (!r) return;
      const [i, j] = this.sel || [0, 0];
      const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
      if (moves[e.key]) {
        const [di, dj] = moves[e.key];
        this.choose(Math.max(0, Math.min(r.x.length - 1, i + di)), Math.max(0, Math.min(r.y.length - 1, j + dj)));
        e.preventDefault();
      } else if (e.key === "Enter" && this.sel) { this.open(...this.sel); e.preventDefault(); }
    });
    $("st-open").addEventListener("click", () => this.sel && this.open(...this.sel));
  },
  showAll() {
    $("st-model").value = this.s.model; $("st-opt").value = this.s.opt; $("st-y").value = this.s.y;
    Object.values(this.sliders).forEach((x) => x.show());
  },
  /** A cell chosen (clicked, or by the keyboard): its numbers, and the button that opens it. */
  choose(i, j) {
    this.sel = [i, j];
    this.draw();
    const svg = $("st-chart");
    $("st-cell").textContent = svg.__describe(i, j).filter((l) => !l.startsWith("click")).join(" · ");
    $("st-open").hidden = false;
  },
  /** The link of a cell's run: its learning rate and second setting, in the lab or the playground. */
  link(i, j) {
    const s = this.s, r = this.r;
    const lr = r.x[i];
    const q = new URLSearchParams();
    const slider = Y_SLIDER[r.y_name || ""];
    const graddesc = s.model.replace(/\s/g, "") === "a*x+b";
    q.set("opt", s.opt); q.set("lr", String(lr)); q.set("epochs", String(s.epochs));
    if (slider) q.set(slider, String(r.y[j]));
    if (graddesc) {
      q.set("sheet", { momentum: "momentum", rmsprop: "rmsprop", adam: "adam" }[s.opt] || "basic");
      q.set("fd", "0");
      return "#lab?" + q.toString();
    }
    q.set("model", s.model);
    return "#playground?" + q.toString();
  },
  open(i, j) { location.hash = this.link(i, j); },
  draw() {
    heatmap($("st-chart"), this.r, { logX: true, selected: this.sel, onPick: (i, j) => { this.choose(i, j); this.open(i, j); } });
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
    this.r = r;
    if (this.sel && (this.sel[0] >= r.x.length || this.sel[1] >= r.y.length)) this.sel = null;
    const cells = r.x.length * r.y.length;
    const div = r.diverged.flat().filter((d) => d > 0).length;
    message("st-msg", `${div} of ${cells} runs diverged`);
    $("st-hint").textContent = `(after ${s.epochs} epochs of ${s.opt}; start: ${fmt(r.initial_error, 4)})`;
    this.draw();
    if (this.sel) this.choose(...this.sel);
    showTiming(`${cells} runs × ${s.epochs} epochs`, t0, r.compute_ms);
  },
};
