// gradsheet's pages. Each page keeps its whole state in the URL's hash (so a link
// reproduces an experiment), sends it to the server on every change and redraws from the
// answer. While a slider is dragged, at most one request is in flight: the latest state
// is sent as soon as the previous answer has been drawn.
import { labsPage } from "./labs.js";

const $ = (id) => document.getElementById(id);
const fmt = GS.fmt, num = GS.num;

// The helpers the labs page (labs.js) uses.
export { $, api, esc, fmt, message, num, runner, showTiming, slider, writeHash };

const OPTIMIZERS = [
  ["sgd", "SGD (workbook)"], ["momentum", "momentum (workbook)"], ["rmsprop", "RMSProp (workbook)"],
  ["adam", "Adam (workbook)"], ["adagrad", "adagrad (workbook, 2016)"], ["torch-sgd", "torch SGD"],
  ["torch-adagrad", "torch Adagrad"], ["torch-rmsprop", "torch RMSprop"], ["torch-adam", "torch Adam"],
  ["torch-adamw", "torch AdamW"],
];
// What β1 and β2 mean for each optimizer (null: it has none).
const BETAS = {
  sgd: [null, null], momentum: ["β", null], rmsprop: ["β", null], adam: ["β1", "β2"], adagrad: [null, null],
  "torch-sgd": ["momentum", null], "torch-adagrad": [null, null], "torch-rmsprop": ["momentum", "α"],
  "torch-adam": ["β1", "β2"], "torch-adamw": ["β1", "β2"],
};
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

/** The hyperparameters of a page state, in the API's names. */
function hyper(opt, s) {
  const h = { lr: s.lr };
  const [n1, n2] = BETAS[opt] || [null, null];
  if (n1 === "momentum") h.momentum = s.b1; else if (n1) h.beta1 = s.b1;
  if (n2 === "α") h.alpha = s.b2; else if (n2) h.beta2 = s.b2;
  return h;
}

// ───────────── the URL ─────────────

function readHash() {
  const h = location.hash.replace(/^#/, "");
  const [page, q] = h.split("?");
  return { page: page || "lab", params: new URLSearchParams(q || "") };
}

function writeHash(page, obj) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(obj)) if (v !== undefined && v !== null && v !== "") p.set(k, String(v));
  const h = "#" + page + "?" + p.toString();
  if (location.hash !== h) history.replaceState(null, "", h);
}

function numParam(p, k, dflt) {
  const v = parseFloat(p.get(k));
  return Number.isFinite(v) ? v : dflt;
}

// ───────────── talking to the server ─────────────

async function api(path, body) {
  let r;
  try {
    r = await fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  } catch (e) {
    return { error: "the gradsheet server does not answer (is it still running?)" };
  }
  let j;
  try { j = await r.json(); } catch (e) { return { error: `the server answered ${r.status} without JSON` }; }
  if (!r.ok && !j.error) j.error = `the server answered ${r.status}`;
  return j;
}

/** Runs `fn` when asked, never twice at once; asks made meanwhile collapse into one rerun. */
function runner(fn) {
  let busy = false, again = false, timer = 0;
  const go = async () => {
    if (busy) { again = true; return; }
    busy = true;
    try { await fn(); } catch (e) { console.error(e); }
    busy = false;
    if (again) { again = false; go(); }
  };
  return () => { clearTimeout(timer); timer = setTimeout(go, 8); };
}

function showTiming(label, t0, serverMs) {
  const ms = performance.now() - t0;
  const t = $("timing");
  t.textContent = `${label} · ${ms.toFixed(0)} ms round trip (server ${serverMs.toFixed(1)} ms)`;
  t.dataset.ms = ms.toFixed(1);
}

function message(id, text, isError) {
  const m = $(id);
  m.textContent = text || "";
  m.classList.toggle("error", !!isError);
}

/** Shows a formula error under its field with the caret; clears it when `err` is null. */
function caret(inputId, err) {
  const input = $(inputId), box = $(inputId + "-err");
  input.classList.toggle("invalid", !!err);
  if (!box) return;
  if (!err) { box.hidden = true; box.innerHTML = ""; return; }
  box.hidden = false;
  // The formula, carets under the fault (character positions from the server), and the
  // message on its own line so that it wraps without moving the carets.
  const src = input.value.replace(/\s/g, " ");
  if (err.span) {
    const [a, b] = err.span;
    const marks = " ".repeat(a) + "^".repeat(Math.max(1, b - a));
    box.innerHTML = `<span class="src">${esc(src)}\n${marks}</span><span class="why">${esc(err.error)}</span>`;
  } else {
    box.innerHTML = `<span class="why">${esc(err.error)}</span>`;
  }
}

// ───────────── sliders ─────────────

/**
 * Binds a `.slider` block: a range input and a number box showing one value. Log sliders
 * move in powers of ten. `get`/`set` read and write the page state; `changed` schedules.
 */
function slider(rangeId, get, set, changed) {
  const range = $(rangeId), box = $(rangeId + "-num"), div = range.closest(".slider");
  const log = div.dataset.log === "1", int = div.dataset.int === "1";
  range.min = div.dataset.min; range.max = div.dataset.max;
  const toRange = (v) => (log ? Math.log10(Math.max(v, 1e-300)) : v);
  const fromRange = (r) => {
    let v = log ? Math.pow(10, r) : r;
    if (log) v = +v.toPrecision(2);
    return int ? Math.round(v) : v;
  };
  const show = () => { const v = get(); range.value = toRange(v); box.value = log ? fmt(v, 3) : String(+(+v).toPrecision(6)); };
  range.addEventListener("input", () => { set(fromRange(+range.value)); box.value = log ? fmt(get(), 3) : String(get()); box.classList.remove("invalid"); changed(); });
  box.addEventListener("change", () => {
    const v = parseFloat(box.value);
    if (!Number.isFinite(v)) { box.classList.add("invalid"); return; }
    box.classList.remove("invalid");
    set(int ? Math.round(v) : v); range.value = toRange(get()); changed();
  });
  return { show, setMax(m) { range.max = m; }, enable(on, label) { div.classList.toggle("disabled", !on); range.disabled = !on; box.disabled = !on; if (label) div.querySelector("label").textContent = label; } };
}

function fillOptimizers() {
  for (const sel of document.querySelectorAll(".opt-select")) {
    sel.innerHTML = OPTIMIZERS.map(([v, l]) => `<option value="${v}">${l}</option>`).join("");
  }
}

function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

// ───────────── downloads ─────────────

const currentSpec = {};

async function download(page, file) {
  const spec = currentSpec[page];
  const msg = page === "lab" ? "lab-msg" : "pg-msg";
  if (!spec) return;
  const url = `/api/export/${file}?spec=${encodeURIComponent(JSON.stringify(spec))}`;
  const r = await fetch(url);
  if (!r.ok) {
    let e = `the download failed (${r.status})`;
    try { e = (await r.json()).error; } catch (_) { /* keep the status */ }
    message(msg, e, true);
    return;
  }
  save(await r.blob(), "gradsheet-" + file);
  message(msg, `downloaded gradsheet-${file}`);
}

function save(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

function bindDownloads(pageEl, page) {
  for (const b of pageEl.querySelectorAll("button[data-export]")) b.addEventListener("click", () => download(page, b.dataset.export));
}

// ───────────── shared views ─────────────

const GROUPS = [
  ["data", "g-data"], ["parameters", "g-param"], ["prediction and error", "g-pred"], ["derivatives", "g-grad"],
  ["finite differences", "g-fd"], ["optimizer state", "g-state"], ["updated", "g-new"],
];

function letters(i) {
  let s = "";
  i += 1;
  while (i > 0) { const r = (i - 1) % 26; s = String.fromCharCode(65 + r) + s; i = Math.floor((i - 1) / 26); }
  return s;
}

/** The step rows as a sheet: column letters, headers, grouped, Excel's row numbers. */
function renderSheet(table, r) {
  const st = r.steps;
  const c = r.columns.length, p = r.params.length, s = r.state_vars.length;
  const hasFd = st.headers.length > c + 2 * p + 2 + s * p + p;
  const sizes = [c, p, 2, p, hasFd ? p : 0, s * p, p];
  const groupOf = [];
  sizes.forEach((n, g) => { for (let k = 0; k < n; k++) groupOf.push(g); });
  const head = ["<thead><tr class='letters'><th class='rn'></th>"];
  st.headers.forEach((_, i) => head.push(`<th>${letters(i)}</th>`));
  head.push("</tr><tr class='names'><th class='rn'>row</th>");
  st.headers.forEach((h) => head.push(`<th>${esc(h)}</th>`));
  head.push("</tr><tr class='groups'><th class='rn'></th>");
  sizes.forEach((n, g) => { if (n) head.push(`<th colspan="${n}">${GROUPS[g][0]}</th>`); });
  head.push("</tr></thead>");
  const badStep = r.stop.kind === "diverged" ? r.stop.step : -1;
  const body = ["<tbody>"];
  st.rows.forEach((row, k) => {
    const step = st.first_step + k;
    body.push(`<tr${step === badStep ? " class='badrow'" : ""}><td class='rn' title='step ${step}'>${st.data_rows[k] + 3}</td>`);
    row.forEach((v, i) => {
      const bad = !Number.isFinite(num(v));
      body.push(`<td class="${GROUPS[groupOf[i]][1]}${bad ? " nonfinite" : ""}">${fmt(v)}</td>`);
    });
    body.push("</tr>");
  });
  if (!st.rows.length) body.push(`<tr><td class='rn'></td><td colspan="${st.headers.length}" style="text-align:left">${esc(st.note || "no rows")}</td></tr>`);
  body.push("</tbody>");
  table.innerHTML = head.join("") + body.join("");
}

function renderDiagnosis(id, r) {
  const b = $(id);
  if (!r.diagnosis) { b.hidden = true; b.innerHTML = ""; return; }
  b.hidden = false;
  // The headline and what happened stay in view; the analysis folds away so that the
  // charts and the sheet stay on screen while a slider moves.
  const line = (l) => `<p${/^step\s/.test(l) ? " class='mono'" : ""}>${esc(l)}</p>`;
  const sec = (s) => `<h4>${esc(s.title)}</h4>` + s.lines.map(line).join("");
  const [first, ...rest] = r.diagnosis.sections;
  const open = b.querySelector("details") && b.querySelector("details").open;
  b.innerHTML = `<strong>${esc(r.diagnosis.headline)}</strong>` + (first ? first.lines.map(line).join("") : "") +
    (rest.length ? `<details${open ? " open" : ""}><summary>why, and what would fix it: ${rest.map((s) => esc(s.title)).join(" · ")}</summary>${rest.map(sec).join("")}</details>` : "");
}

function stat(k, v, bad) {
  return `<div class="stat${bad ? " bad" : ""}"><span class="k">${esc(k)}</span><span class="v">${esc(v)}</span></div>`;
}

function renderSummary(id, r) {
  const parts = r.params.map((p, i) => stat(`final ${p}`, fmt(r.final_params[i])));
  parts.push(stat("final mean error", fmt(r.final_error, 5), !Number.isFinite(num(r.final_error))));
  const last = r.epochs[r.epochs.length - 1];
  if (last) parts.push(stat("sheet rmse (last epoch)", fmt(last.sheet_rmse, 5)));
  parts.push(stat("steps", `${r.steps_taken}`));
  parts.push(stat("run", r.stop.kind === "diverged" ? `diverged at step ${r.stop.step}` : r.stop.kind, r.stop.kind === "diverged"));
  $(id).innerHTML = parts.join("");
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

function renderCharts(prefix, r) {
  const marker = r.stop.kind === "diverged" ? { x: r.stop.epoch - 0.5, label: `diverged in epoch ${r.stop.epoch}` } : null;
  GS.lineChart($(prefix + "-chart-error"), errorSeries(r), { logY: true, xLabel: "epoch", yLabel: "mean error", marker });
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
  GS.contourChart($(prefix + "-chart-path"), c, paths, { empty: "the error surface needs a model with two or more parameters" });
}

// ───────────── graddesc lab ─────────────

const lab = {
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
    bindDownloads($("page-lab"), "lab");
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
    for (const k of ["lr", "b1", "b2", "epochs"]) $("lab-" + k + "-num").classList.remove("invalid");
    if (r.error) {
      message("lab-msg", r.error, true);
      const f = { lr: "lr", beta1: "b1", beta2: "b2", epochs: "epochs" }[r.field];
      if (f) $("lab-" + f + "-num").classList.add("invalid");
      return;
    }
    message("lab-msg", `${r.optimizer}`);
    this.sliders.view.setMax(Math.max(1, this.s.epochs));
    $("lab-view-label").textContent = r.steps.epoch || "—";
    renderDiagnosis("lab-diagnosis", r);
    renderSummary("lab-summary", r);
    renderCharts("lab", r);
    renderSheet($("lab-table"), r);
    showTiming(`${r.n_rows} rows × ${this.s.epochs} epochs`, t0, r.compute_ms);
  },
};

/** The lab in workbook mode: the sheet replayed with its macros, as Excel shows it. */
lab.updateWorkbook = async function () {
  const t0 = performance.now();
  const s = this.s;
  currentSpec.lab = this.spec();
  const r = await api("/api/sheet", { workbook: "2018", sheet: s.sheet, lr: s.lr, a: s.a0, b: s.b0, onesteps: s.epochs, contours: { n: 48 } });
  for (const k of ["lr", "epochs"]) $("lab-" + k + "-num").classList.remove("invalid");
  if (r.error) {
    message("lab-msg", r.error, true);
    if (r.field === "lr" || r.field === "epochs") $("lab-" + r.field + "-num").classList.add("invalid");
    return;
  }
  message("lab-msg", `${r.name}: Reset, then ${s.epochs} × onestep`);
  $("lab-diagnosis").hidden = true;
  $("lab-view-label").textContent = `${r.epochs.length} (the last pass, as the sheet shows it)`;
  const last = r.epochs[r.epochs.length - 1];
  $("lab-summary").innerHTML = stat("C1 b", fmt(last.b)) + stat("C2 a", fmt(last.a)) + stat("lr", fmt(last.lr)) +
    stat("sheet rmse (last pass)", fmt(last.sheet_rmse, 5), !Number.isFinite(num(last.sheet_rmse))) + stat("passes", String(r.epochs.length));
  GS.lineChart($("lab-chart-error"), [{ name: "sheet rmse", x: r.epochs.map((_, i) => i), y: r.epochs.map((e) => e.sheet_rmse), color: "#0072B2" }],
    { logY: true, xLabel: "pass (0 = after Reset)", yLabel: "√Σ err²" });
  GS.contourChart($("lab-chart-path"), r.contours, r.contours ? [{ name: "passes", points: r.epochs.map((e) => [e.a, e.b]), ix: 0, iy: 1, color: "#1d2330", dots: true }] : []);
  const head = ["<thead><tr class='letters'><th class='rn'></th>"];
  r.columns.forEach((c) => head.push(`<th title="${esc(c.meaning)}">${esc(c.letter)}</th>`));
  head.push("</tr><tr class='names'><th class='rn'>row</th>");
  r.columns.forEach((c) => head.push(`<th title="${esc(c.letter + "5 " + c.formula + " — " + c.meaning)}">${esc(c.header)}</th>`));
  head.push("</tr><tr class='groups formulas'><th class='rn'></th>");
  r.columns.forEach((c) => head.push(`<th title="${esc(c.meaning)}">${esc(c.formula)}</th>`));
  head.push("</tr></thead>");
  const body = r.rows.map((row, k) => `<tr><td class='rn'>${r.first_row + k}</td>` +
    row.map((v) => `<td${Number.isFinite(num(v)) ? "" : " class='nonfinite'"}>${fmt(v)}</td>`).join("") + "</tr>");
  $("lab-table").innerHTML = head.join("") + "<tbody>" + body.join("") + "</tbody>";
  const notes = $("lab-notes");
  notes.hidden = false;
  notes.innerHTML = "<h3>the sheet's cells and quirks</h3><div class='params'>" +
    r.cells.map(([addr, label, v]) => `<span class="pill data" title="${esc(label)}">${esc(addr)} ${esc(label)} = ${fmt(v)}</span>`).join("") + "</div>" +
    r.notes.map((n) => `<p>${esc(n)}</p>`).join("");
  showTiming(`${s.sheet} sheet, Reset + ${s.epochs} onesteps`, t0, r.compute_ms);
};

// ───────────── formula playground ─────────────

const pg = {
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
    bindDownloads($("page-playground"), "playground");
  },
  showAll() {
    const s = this.s;
    $("pg-model").value = s.model; $("pg-loss").value = s.loss; $("pg-data").value = s.data; $("pg-target").value = s.target;
    $("pg-target-field").hidden = s.data !== "target"; $("pg-opt").value = s.opt;
    Object.values(this.sliders).forEach((x) => x.show());
  },
  renderInits() {
    const box = $("pg-inits");
    const have = [...box.querySelectorAll("input")].map((i) => i.dataset.p).join(",");
    if (have === this.params.join(",")) return;
    box.innerHTML = this.params.map((p) => `<label>${esc(p)}₀<input type="number" step="any" data-p="${esc(p)}" value="${this.s.init[p] ?? 1}"></label>`).join("");
    for (const i of box.querySelectorAll("input")) {
      i.addEventListener("change", () => { const v = parseFloat(i.value); if (Number.isFinite(v)) { this.s.init[i.dataset.p] = v; this.schedule(); } });
    }
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
    $("pg-params").innerHTML = `<div class="params">${f.params.map((p) => `<span class="pill">${esc(p)}</span>`).join("")}` +
      f.columns.map((c) => `<span class="pill data" title="a data column">${esc(c)}</span>`).join("") + "</div>";
    $("pg-error-formula").textContent = `e = ${f.row_error.math}`;
    $("pg-derivs").innerHTML = f.derivatives.map((d) =>
      `<div class="deriv"><span class="p">∂e/∂${esc(d.param)}</span><code class="excel">${esc(d.excel)}</code><span class="math">${esc(d.math)}</span></div>`).join("");
    const init = {};
    for (const p of f.params) init[p] = this.s.init[p] ?? 1;
    const spec = Object.assign({}, ms, { optimizer: this.s.opt, hyper: { lr: this.s.lr }, epochs: this.s.epochs, init, contours: { n: 40 } });
    currentSpec.playground = spec;
    const sel = $("pg-claim-param"), keep = sel.value;
    sel.innerHTML = f.params.map((p) => `<option>${esc(p)}</option>`).join("");
    if (f.params.includes(keep)) sel.value = keep;
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
  renderCheck(c, params) {
    if (c.error) { $("pg-check").textContent = c.error; return; }
    const head = "<tr><th rowspan='2'>row</th>" + c.columns.map((x) => `<th rowspan='2'>${esc(x)}</th>`).join("") +
      params.map((p) => `<th colspan='3' class='grp'>∂e/∂${esc(p)}</th>`).join("") + "</tr><tr>" +
      params.map(() => "<th>symbolic</th><th>automatic</th><th>central</th>").join("") + "</tr>";
    const rows = c.rows.slice(0, 6).map((r, i) => "<tr><td>" + (i + 1) + "</td>" + r.inputs.map((v) => `<td>${fmt(v)}</td>`).join("") +
      params.map((_, k) => `<td>${fmt(r.symbolic[k])}</td><td>${fmt(r.automatic[k])}</td><td>${fmt(r.central[k])}</td>`).join("") + "</tr>").join("");
    $("pg-check").innerHTML = `<div style="overflow-x:auto"><table class="check">${head}${rows}</table></div>` +
      `<p class="hint">largest relative gap to the automatic derivative, over all ${c.rows.length} rows: symbolic ${fmt(c.max_rel_symbolic, 2)}, ` +
      `central difference (h = ${c.h}) ${fmt(c.max_rel_central, 2)}</p>`;
  },
};

// ───────────── optimizer comparison ─────────────

const CMP_DEFAULTS = [["sgd", 1e-4, 1], ["momentum", 1e-4, 1], ["rmsprop", 0.02, 0], ["adam", 0.1, 1], ["torch-adam", 0.5, 1], ["torch-sgd", 1e-4, 0]];

const cmp = {
  s: null,
  load(p) {
    const runs = {};
    const given = p.get("runs");
    for (const [o, lr, on] of CMP_DEFAULTS) runs[o] = { lr, on: given ? 0 : on };
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
    $("cmp-runs").innerHTML = CMP_DEFAULTS.map(([o], k) =>
      `<div class="run"><input type="checkbox" id="cmp-on-${o}"><label for="cmp-on-${o}"><span class="swatch" id="cmp-sw-${o}"></span>${esc(OPTIMIZERS.find((x) => x[0] === o)[1])}</label>` +
      `<input type="number" class="num" step="any" id="cmp-lr-${o}" title="learning rate"></div>`).join("");
    for (const [o] of CMP_DEFAULTS) {
      $("cmp-on-" + o).addEventListener("change", (e) => { this.s.runs[o].on = e.target.checked ? 1 : 0; this.schedule(); });
      $("cmp-lr-" + o).addEventListener("change", (e) => { const v = parseFloat(e.target.value); if (Number.isFinite(v)) { this.s.runs[o].lr = v; this.schedule(); } });
    }
  },
  showAll() {
    $("cmp-model").value = this.s.model;
    this.epochs.show();
    for (const [o] of CMP_DEFAULTS) { $("cmp-on-" + o).checked = !!this.s.runs[o].on; $("cmp-lr-" + o).value = this.s.runs[o].lr; }
  },
  async update() {
    const t0 = performance.now();
    const active = CMP_DEFAULTS.map(([o]) => o).filter((o) => this.s.runs[o].on);
    CMP_DEFAULTS.forEach(([o]) => { $("cmp-sw-" + o).style.background = "transparent"; });
    if (!active.length) { message("cmp-msg", "pick at least one optimizer", true); return; }
    const colors = {};
    active.forEach((o, k) => { colors[o] = GS.PALETTE[k % GS.PALETTE.length]; $("cmp-sw-" + o).style.background = colors[o]; });
    const r = await api("/api/compare", {
      model: this.s.model, loss: "squared", data: { source: "graddesc" }, epochs: this.s.epochs,
      runs: active.map((o) => ({ optimizer: o, hyper: { lr: this.s.runs[o].lr } })), contours: { n: 48 },
    });
    caret("cmp-model", r.field === "model" ? r : null);
    if (r.error) { message("cmp-msg", r.error, true); return; }
    message("cmp-msg", "");
    const series = r.runs.map((run, k) => ({ name: active[k], color: colors[active[k]], x: run.curve.map((_, i) => i + 1), y: run.curve }));
    GS.lineChart($("cmp-chart-error"), series, { logY: true, xLabel: "epoch", yLabel: "mean error" });
    const c = r.contours;
    const paths = c ? r.runs.map((run, k) => ({ name: active[k], color: colors[active[k]], points: run.path, ix: r.params.indexOf(c.params[0]), iy: r.params.indexOf(c.params[1]) })) : [];
    GS.contourChart($("cmp-chart-path"), c, paths);
    $("cmp-table").innerHTML = "<tr><th>optimizer</th><th>final error</th><th>result</th>" + r.params.map((p) => `<th>${esc(p)}</th>`).join("") + "</tr>" +
      r.runs.map((run, k) => `<tr><td style="text-align:left"><span class="swatch" style="background:${colors[active[k]]}"></span>${esc(run.label)}</td>` +
        `<td>${fmt(run.final_error, 5)}</td><td>${run.stop.kind === "diverged" ? `diverged at step ${run.stop.step}` : run.stop.kind}</td>` +
        run.final_params.map((v) => `<td>${fmt(v)}</td>`).join("") + "</tr>").join("");
    showTiming(`${active.length} runs × ${this.s.epochs} epochs`, t0, r.compute_ms);
  },
};

// ───────────── stability map ─────────────

const stab = {
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
    if (r.error) { message("st-msg", r.error, true); return; }
    const cells = r.x.length * r.y.length;
    const div = r.diverged.flat().filter((d) => d > 0).length;
    message("st-msg", `${div} of ${cells} runs diverged`);
    $("st-hint").textContent = `(after ${s.epochs} epochs of ${s.opt}; start: ${fmt(r.initial_error, 4)})`;
    GS.heatmap($("st-chart"), r, { logX: true });
    showTiming(`${cells} runs × ${s.epochs} epochs`, t0, r.compute_ms);
  },
};

// ───────────── routing ─────────────

const PAGES = { lab, playground: pg, compare: cmp, stability: stab, labs: labsPage };
let shown = null;

function route() {
  const { page, params } = readHash();
  const name = PAGES[page] ? page : "lab";
  const ctl = PAGES[name];
  // A link with settings loads them; a bare `#page` keeps the page as it was left.
  if (!ctl.s || [...params.keys()].length) {
    ctl.load(params);
    ctl.showAll();
  }
  for (const k of Object.keys(PAGES)) $("page-" + k).hidden = k !== name;
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === name);
  shown = name;
  ctl.schedule();
}

fillOptimizers();
Object.values(PAGES).forEach((p) => p.init());
// Following a link or pressing back reloads a page's state from the URL; the pages' own
// edits use replaceState, which fires no event.
window.addEventListener("hashchange", () => { shown = null; route(); });
route();
