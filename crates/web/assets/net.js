// The networks page: a network of neurons on a 2-D dataset, as TensorFlow Playground shows
// one, with what it lacks: every neuron is a named cell whose formula, weights and
// gradient a click shows; the seed and every setting live in the URL; the run exports as
// a workbook of live formulas (the trained network, every neuron and backprop column),
// its model text, its epochs as CSV and the command line that reproduces it.
//
// The server trains the whole run (POST /api/net) and answers frames: the weights at
// evenly spaced epochs with every neuron's picture over the plane, quantised to 64
// levels. The player moves through the frames; drawing a frame is decoding those levels
// into canvases, so play runs at the screen's rate without asking the server again.

import { $, fill, h } from "./dom.js";
import { fmt, lineChart, num } from "./charts.js";
import { message, share, showTiming } from "./controls.js";
import { player } from "./player.js";
import { api, fetchDownload, runner } from "./server.js";
import { numParam, writeHash } from "./url.js";

const DATASETS = [["circle", "circle"], ["xor", "exclusive or"], ["gauss", "two Gaussians"], ["spiral", "spiral"], ["moons", "moons"], ["plane", "plane (regression)"], ["sine", "sine (regression)"]];
const FEATURES = [["x1", "x₁"], ["x2", "x₂"], ["x1sq", "x₁²"], ["x2sq", "x₂²"], ["x1x2", "x₁x₂"], ["sinx1", "sin x₁"], ["sinx2", "sin x₂"]];
const ACTIVATIONS = ["tanh", "relu", "sigmoid", "linear", "leaky_relu", "softplus"];
const INITS = ["xavier", "he", "uniform:0.5", "normal:0.1"];
const MAX_LAYERS = 6, MAX_NEURONS = 16;
const LEVELS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";
const LEVEL_OF = Object.fromEntries([...LEVELS].map((c, i) => [c, i]));

const DEFAULTS = { dataset: "circle", n: 500, noise: 0, tf: 0.5, seed: 1, features: "x1,x2", hidden: "8,8", act: "tanh", loss: "", init: "xavier", opt: "sgd", lr: 0.03, l1: 0, l2: 0, batch: 1, epochs: 50, frames: 50, sel: "" };

const field = (label, control) => h("label", { class: "field" }, label, control);
const select = (id, options) => h("select", { id }, options.map(([v, l]) => h("option", { value: v }, l)));
const number = (id, attrs) => h("input", Object.assign({ type: "number", id, class: "num", step: "any" }, attrs));

/** The page's elements, built once into its section. */
function build() {
  const section = $("page-net");
  const css = h("link", { rel: "stylesheet", href: "/assets/net.css" });
  document.head.append(css);
  fill(section,
    h("aside", { class: "controls" },
      h("h1", {}, "networks"),
      h("p", { class: "lede" }, "A network of neurons on points of the plane. Every neuron is a named cell (",
        h("code", {}, "h1_3"), " is layer 1's neuron 3): click one to see its formula, its weights and its gradient."),
      field("dataset", select("net-dataset", DATASETS)),
      h("fieldset", { class: "net-features" }, h("legend", {}, "features"),
        FEATURES.map(([v, l]) => h("label", { class: "check" }, h("input", { type: "checkbox", value: v, id: "net-f-" + v }), " ", l))),
      field("points", number("net-n", { min: 10, max: 2000, step: 10 })),
      field("noise (0–1)", number("net-noise", { min: 0, max: 1, step: 0.05 })),
      field("test share", number("net-tf", { min: 0, max: 0.9, step: 0.05 })),
      field("seed", number("net-seed", { min: 0, step: 1 })),
      h("fieldset", { class: "net-layers" }, h("legend", {}, "hidden layers"),
        h("div", { id: "net-layer-list" }),
        h("div", { class: "downloads" },
          h("button", { type: "button", id: "net-add-layer" }, "+ layer"),
          h("button", { type: "button", id: "net-remove-layer" }, "− layer"))),
      field("activation", select("net-act", ACTIVATIONS.map((a) => [a, a]))),
      field("loss", select("net-loss", [["", "by the data"], ["logistic", "logistic (cross-entropy)"], ["squared", "squared error"]])),
      field("initial weights", select("net-init", INITS.map((a) => [a, a]))),
      field("optimizer", h("select", { id: "net-opt", class: "opt-select" })),
      field("learning rate", number("net-lr", { min: 0 })),
      field("L1", number("net-l1", { min: 0 })),
      field("L2", number("net-l2", { min: 0 })),
      field("batch (0 = all)", number("net-batch", { min: 0, step: 1 })),
      field("epochs", number("net-epochs", { min: 1, max: 2000, step: 1 })),
      h("div", { class: "downloads", role: "group", "aria-label": "export the run" },
        h("span", {}, "export"),
        h("button", { type: "button", id: "net-dl-xlsx" }, "xlsx"),
        h("button", { type: "button", id: "net-dl-text" }, "model text"),
        h("button", { type: "button", id: "net-dl-csv" }, "epochs CSV"),
        h("button", { type: "button", id: "net-dl-cmd" }, "command line"),
        h("button", { type: "button", class: "share", id: "net-share" }, "copy link")),
      h("p", { class: "msg", id: "net-msg", role: "status" })),
    h("div", { class: "work" },
      h("div", { class: "banner", id: "net-findings", hidden: true }),
      h("div", { class: "summary", id: "net-summary", "aria-live": "polite" }),
      h("div", { class: "player", id: "net-player" }),
      h("div", { class: "net-main" },
        h("figure", { class: "net-plane" }, h("figcaption", {}, "the output over the plane ", h("span", { class: "hint" }, "(train ● test ○)")),
          h("canvas", { id: "net-boundary", width: 320, height: 320, role: "img", "aria-label": "the network's output over the plane, with the points" })),
        h("div", { class: "net-graph", id: "net-graph", role: "group", "aria-label": "the neurons, layer by layer" })),
      h("div", { class: "card", id: "net-cell", hidden: true }),
      h("div", { class: "charts" },
        h("figure", {}, h("figcaption", {}, "loss by epoch ", h("span", { class: "hint" }, "(train and test, log scale)")),
          svgEl("net-chart-loss", "loss by epoch")),
        h("figure", {}, h("figcaption", {}, "gradient size by layer ", h("span", { class: "hint" }, "(√Σg² over each epoch, log scale)")),
          svgEl("net-chart-grad", "gradient size by layer and epoch")))));
}

function svgEl(id, label) {
  const s = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  for (const [k, v] of Object.entries({ id, class: "chart", viewBox: "0 0 520 300", role: "img", "aria-label": label })) s.setAttribute(k, v);
  return s;
}

/** A level character's value between the picture's lowest and highest. */
function decode(pic) {
  const lo = num(pic.lo), hi = num(pic.hi), out = new Float64Array(pic.levels.length);
  for (let i = 0; i < out.length; i++) {
    const k = LEVEL_OF[pic.levels[i]];
    out[i] = k === undefined ? NaN : lo + ((hi - lo) * k) / 63;
  }
  return out;
}

/** Playground's colours: orange for negative (class 0), blue for positive (class 1). */
function colour(t) {
  if (!Number.isFinite(t)) return [200, 0, 200];
  t = Math.max(-1, Math.min(1, t));
  const white = [245, 245, 245], blue = [8, 119, 189], orange = [245, 147, 34];
  const c = t >= 0 ? blue : orange, a = Math.abs(t);
  return white.map((w, i) => Math.round(w + (c[i] - w) * a));
}

/** Paints values on a grid×grid canvas; `centre` is the value drawn white. */
function paint(canvas, values, grid, centre, scale) {
  canvas.width = grid; canvas.height = grid;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(grid, grid);
  for (let i = 0; i < values.length; i++) {
    const [r, g, b] = colour((values[i] - centre) / scale);
    img.data.set([r, g, b, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}

export const netPage = {
  s: null,
  r: null,
  decoded: new Map(),

  load(p) {
    const s = Object.assign({}, DEFAULTS);
    for (const k of ["dataset", "features", "hidden", "act", "loss", "init", "opt", "sel"]) if (p.has(k)) s[k] = p.get(k);
    for (const k of ["n", "noise", "tf", "seed", "lr", "l1", "l2", "batch", "epochs", "frames"]) s[k] = numParam(p, k, DEFAULTS[k]);
    s.frame = numParam(p, "frame", -1);
    this.s = s;
  },

  init() {
    this.update = runner(() => this.run());
    this.player = player("net-player", {
      unit: "epoch",
      describe: (c, t) => (this.r ? `frame ${c} of ${t}: epoch ${this.r.frames[c] ? this.r.frames[c].epoch : "—"}` : ""),
      onMove: (c) => { this.s.frame = this.player.atEnd ? -1 : c; this.save(); this.draw(c); },
    });
    const on = (id, ev, fn) => $(id).addEventListener(ev, fn);
    const bindNum = (id, key, int) => on(id, "change", () => {
      const v = parseFloat($(id).value);
      if (!Number.isFinite(v)) { $(id).classList.add("invalid"); return; }
      $(id).classList.remove("invalid");
      this.s[key] = int ? Math.round(v) : v;
      this.schedule();
    });
    bindNum("net-n", "n", true); bindNum("net-noise", "noise"); bindNum("net-tf", "tf"); bindNum("net-seed", "seed", true);
    bindNum("net-lr", "lr"); bindNum("net-l1", "l1"); bindNum("net-l2", "l2"); bindNum("net-batch", "batch", true); bindNum("net-epochs", "epochs", true);
    for (const [id, key] of [["net-dataset", "dataset"], ["net-act", "act"], ["net-loss", "loss"], ["net-init", "init"], ["net-opt", "opt"]]) {
      on(id, "change", () => { this.s[key] = $(id).value; this.schedule(); });
    }
    for (const [v] of FEATURES) {
      on("net-f-" + v, "change", () => {
        const chosen = FEATURES.map(([f]) => f).filter((f) => $("net-f-" + f).checked);
        if (!chosen.length) { $("net-f-" + v).checked = true; message("net-msg", "a network needs at least one feature", true); return; }
        this.s.features = chosen.join(",");
        this.schedule();
      });
    }
    on("net-add-layer", "click", () => { const l = this.layers(); if (l.length < MAX_LAYERS) { l.push(4); this.setLayers(l); } });
    on("net-remove-layer", "click", () => { const l = this.layers(); if (l.length) { l.pop(); this.setLayers(l); } });
    on("net-dl-xlsx", "click", () => fetchDownload(`/api/net/file/net.xlsx?spec=${encodeURIComponent(JSON.stringify(this.request()))}`, "net.xlsx", "net-msg"));
    on("net-dl-text", "click", () => this.r && save(this.r.text, "gradsheet-net.txt", "text/plain"));
    on("net-dl-csv", "click", () => this.r && save(epochsCsv(this.r), "gradsheet-net-epochs.csv", "text/csv"));
    on("net-dl-cmd", "click", () => message("net-msg", this.command()));
    share($("net-share"), "net-msg");
  },

  layers() { return this.s.hidden === "" ? [] : this.s.hidden.split(",").map((x) => +x); },
  setLayers(l) { this.s.hidden = l.join(","); this.showLayers(); this.schedule(); },

  showLayers() {
    const l = this.layers();
    fill("net-layer-list", l.map((n, i) => {
      const b = (text, label, d) => {
        const e = h("button", { type: "button", "aria-label": label, title: label }, text);
        e.addEventListener("click", () => { const m = this.layers(); m[i] = Math.max(1, Math.min(MAX_NEURONS, m[i] + d)); this.setLayers(m); });
        return e;
      };
      return h("div", { class: "net-layer" }, `layer ${i + 1}: `, b("−", `one neuron fewer in layer ${i + 1}`, -1),
        h("span", { class: "count" }, ` ${n} `), b("+", `one neuron more in layer ${i + 1}`, 1));
    }));
    if (!l.length) fill("net-layer-list", h("p", { class: "hint" }, "none: the output reads the features directly"));
  },

  showAll() {
    const s = this.s;
    $("net-dataset").value = s.dataset; $("net-n").value = s.n; $("net-noise").value = s.noise; $("net-tf").value = s.tf;
    $("net-seed").value = s.seed; $("net-act").value = s.act; $("net-loss").value = s.loss; $("net-init").value = s.init;
    $("net-opt").value = s.opt; $("net-lr").value = s.lr; $("net-l1").value = s.l1; $("net-l2").value = s.l2;
    $("net-batch").value = s.batch; $("net-epochs").value = s.epochs;
    const fs = s.features.split(",");
    for (const [v] of FEATURES) $("net-f-" + v).checked = fs.includes(v);
    this.showLayers();
  },

  save() {
    const s = this.s, out = {};
    for (const [k, v] of Object.entries(s)) if (k !== "frame" && v !== DEFAULTS[k]) out[k] = v;
    if (s.frame >= 0) out.frame = s.frame;
    writeHash("net", out);
  },

  schedule() { this.save(); this.update(); },

  request() {
    const s = this.s;
    return {
      dataset: s.dataset, n: s.n, noise: s.noise, test_fraction: s.tf, seed: s.seed,
      features: s.features.split(","), hidden: this.layers(), activation: [s.act],
      loss: s.loss || null, init: s.init, l1: s.l1, l2: s.l2, optimizer: s.opt, lr: s.lr,
      batch: s.batch, epochs: s.epochs, frames: Math.min(s.frames, s.epochs), grid: 40,
    };
  },

  command() {
    const s = this.s, q = this.request();
    const layers = [q.features.length, ...q.hidden, 1].join("-");
    return `gradsheet net --dataset ${s.dataset} --n ${s.n} --noise ${s.noise} --test-fraction ${s.tf} --seed ${s.seed} --features ${s.features} --net ${layers} --activation ${s.act}` +
      (s.loss ? ` --loss ${s.loss}` : "") + ` --init-scheme ${s.init} --optimizer ${s.opt} --lr ${s.lr} --l1 ${s.l1} --l2 ${s.l2} --batch ${s.batch} --epochs ${s.epochs}`;
  },

  async run() {
    const t0 = performance.now();
    const r = await api("/api/net", this.request());
    if (r.error) { message("net-msg", r.error, true); return; }
    message("net-msg", "");
    this.r = r;
    this.decoded = new Map();
    const last = r.frames.length - 1;
    this.player.set(last);
    if (this.s.frame >= 0) this.player.seek(this.s.frame);
    this.drawGraph();
    this.draw(this.player.cursor);
    this.charts();
    const f = $("net-findings");
    f.hidden = !r.findings.length;
    fill(f, r.findings.map((x) => h("p", {}, x)));
    showTiming("networks", t0, r.ms);
  },

  /** The neurons, one column per layer, each a canvas and its name. */
  drawGraph() {
    const r = this.r, byLayer = new Map();
    r.cells.forEach((c, i) => {
      if (!byLayer.has(c.layer)) byLayer.set(c.layer, []);
      if (c.name !== "z" || !r.cells.some((x) => x.name === "pred")) byLayer.get(c.layer).push(i);
    });
    const cols = [...byLayer.keys()].sort((a, b) => a - b).map((l) => h("div", { class: "net-column" },
      h("div", { class: "net-layer-name" }, l === Math.max(...byLayer.keys()) ? "output" : `layer ${l}`),
      byLayer.get(l).map((i) => {
        const c = r.cells[i];
        const cv = h("canvas", { width: r.grid, height: r.grid, "data-cell": i });
        const b = h("button", { type: "button", class: "net-neuron", "data-name": c.name, "aria-label": `neuron ${c.name}: show its formula`, "aria-pressed": String(this.s.sel === c.name) }, cv, h("span", {}, c.name));
        b.addEventListener("click", () => { this.s.sel = this.s.sel === c.name ? "" : c.name; this.save(); this.draw(this.player.cursor); });
        return b;
      })));
    fill("net-graph", cols);
  },

  frameValues(k, i) {
    const key = k * 100000 + i;
    if (!this.decoded.has(key)) this.decoded.set(key, decode(this.r.frames[k].pictures[i]));
    return this.decoded.get(key);
  },

  draw(k) {
    const r = this.r;
    if (!r || !r.frames.length) return;
    k = Math.max(0, Math.min(r.frames.length - 1, k));
    const fr = r.frames[k], grid = r.grid;
    for (const cv of document.querySelectorAll("#net-graph canvas")) {
      const i = +cv.dataset.cell, v = this.frameValues(k, i), c = r.cells[i];
      const isPred = c.name === "pred" && r.classes;
      const scale = isPred ? 0.5 : Math.max(Math.abs(num(fr.pictures[i].lo)), Math.abs(num(fr.pictures[i].hi))) || 1;
      paint(cv, v, grid, isPred ? 0.5 : 0, scale);
      cv.parentElement.setAttribute("aria-pressed", String(this.s.sel === c.name));
    }
    // The output over the plane, scaled up, with the points.
    const out = r.cells.length - 1, v = this.frameValues(k, out);
    const small = document.createElement("canvas");
    const lo = num(fr.pictures[out].lo), hi = num(fr.pictures[out].hi);
    paint(small, v, grid, r.classes ? 0.5 : 0, r.classes ? 0.5 : Math.max(Math.abs(lo), Math.abs(hi)) || 1);
    const big = $("net-boundary"), ctx = big.getContext("2d");
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(small, 0, 0, big.width, big.height);
    const scale = big.width / 12, maxY = Math.max(...r.train.concat(r.test).map((p) => Math.abs(num(p[2])))) || 1;
    const dot = (p, filled) => {
      const x = (num(p[0]) + 6) * scale, y = (6 - num(p[1])) * scale, yv = num(p[2]);
      const [cr, cg, cb] = colour(r.classes ? (yv === 1 ? 1 : -1) : yv / maxY);
      ctx.beginPath(); ctx.arc(x, y, 3, 0, 2 * Math.PI);
      ctx.fillStyle = filled ? `rgb(${cr},${cg},${cb})` : "white";
      ctx.strokeStyle = filled ? "white" : `rgb(${cr},${cg},${cb})`;
      ctx.lineWidth = filled ? 1 : 1.5;
      ctx.fill(); ctx.stroke();
    };
    r.train.forEach((p) => dot(p, true));
    r.test.forEach((p) => dot(p, false));
    const e = fr.epoch ? r.epochs[fr.epoch - 1] : null;
    const acc = (a) => (a === null || a === undefined ? "—" : fmt(num(a), 3));
    fill("net-summary", e
      ? `epoch ${fr.epoch}: train loss ${fmt(num(e.train_loss), 4)}, test loss ${fmt(num(e.test_loss), 4)}` + (r.classes ? `; accuracy ${acc(e.train_accuracy)} train, ${acc(e.test_accuracy)} test` : "")
      : `the initial weights (${this.s.init}, seed ${this.s.seed})`);
    this.showCell(k);
    if (this.lossChart) this.lossChart(fr.epoch);
  },

  showCell(k) {
    const card = $("net-cell"), r = this.r, i = r.cells.findIndex((c) => c.name === this.s.sel);
    card.hidden = i < 0;
    if (i < 0) return;
    const fr = r.frames[k], c = r.cells[i];
    fill(card, h("h2", {}, `${c.name} `, h("span", { class: "hint" }, `at ${fr.epoch ? "epoch " + fr.epoch : "the start"}`)),
      h("p", {}, h("code", {}, `${c.name} = ${c.formula}`)),
      h("p", {}, "with its weights: ", h("code", { class: "net-filled" }, `${c.name} = ${fr.formulas[i]}`)),
      h("p", {}, `gradient size over this epoch: ${fr.epoch ? fmt(num(fr.grads[i]), 4) : "— (not trained yet)"}; values over the plane from ${fmt(num(fr.pictures[i].lo), 4)} to ${fmt(num(fr.pictures[i].hi), 4)}`));
  },

  charts() {
    const r = this.r, xs = r.epochs.map((e) => e.epoch);
    const draw = (upTo) => {
      lineChart($("net-chart-loss"), [
        { name: "train", color: "#0072B2", x: xs, y: r.epochs.map((e) => e.train_loss) },
        { name: "test", color: "#D55E00", x: xs, y: r.epochs.map((e) => e.test_loss) },
      ], { logY: true, xLabel: "epoch", yLabel: "loss", marker: upTo ? { x: upTo, label: `epoch ${upTo}` } : null });
    };
    this.lossChart = draw;
    const layers = r.epochs.length ? r.epochs[0].grad_norms.length : 0;
    const palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"];
    lineChart($("net-chart-grad"), Array.from({ length: layers }, (_, l) => ({
      name: l + 1 === layers ? "output" : `layer ${l + 1}`, color: palette[l % palette.length], x: xs, y: r.epochs.map((e) => e.grad_norms[l]),
    })), { logY: true, xLabel: "epoch", yLabel: "|∇|" });
    draw(r.frames[this.player.cursor] ? r.frames[this.player.cursor].epoch : null);
  },
};

function epochsCsv(r) {
  const layers = r.epochs.length ? r.epochs[0].grad_norms.length : 0;
  const head = ["epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", ...Array.from({ length: layers }, (_, l) => `grad_layer_${l + 1}`)];
  const cell = (v) => (v === null || v === undefined ? "" : String(v));
  return [head.join(","), ...r.epochs.map((e) => [e.epoch, e.train_loss, e.train_accuracy, e.test_loss, e.test_accuracy, ...e.grad_norms].map(cell).join(","))].join("\n") + "\n";
}

function save(text, name, type) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = name;
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

build();
