// The labs page: every lab of the command line, its controls built from the parameter
// list the server sends (`GET /api/labs`), its notes, tables, figures and images redrawn
// from each answer (`POST /api/lab`). Figures arrive as data (line charts and heatmaps,
// as `gradsheet_labs::figure` describes them) and are drawn here, each panel its own SVG
// that follows the width of the screen, with the values under the pointer.

import { fmt, num } from "./charts.js";
import { message, showTiming, slider } from "./controls.js";
import { $, fill, h } from "./dom.js";
import { api, fetchDownload, runner } from "./server.js";
import { writeHash } from "./url.js";

// ───────────── figures ─────────────

const SVG = "http://www.w3.org/2000/svg";
let clipIds = 0;

/** An SVG element with these attributes, appended to `parent` when given. */
function s(tag, attrs, parent) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (parent) parent.appendChild(e);
  return e;
}

/** SVG text, inserted as text. */
function label(parent, x, y, str, attrs) {
  const t = s("text", Object.assign({ x, y, "font-size": 12, fill: "#222" }, attrs || {}), parent);
  t.textContent = str;
  return t;
}

/** A hover tip on an SVG element. */
function tip(e, str) {
  s("title", {}, e).textContent = str;
  return e;
}

/**
 * About `n` round tick values over [lo, hi] (steps of 1, 2 or 5 × 10ᵏ); on a log axis
 * (lo, hi as log10) the powers of ten inside, with 2 and 5 times them when few.
 */
function ticks(lo, hi, n, log) {
  if (log) {
    const out = [];
    for (let k = Math.ceil(lo); k <= Math.floor(hi); k++) out.push(k);
    if (out.length < 3) {
      for (let k = Math.floor(lo); k <= Math.ceil(hi); k++) {
        for (const m of [2, 5]) { const t = k + Math.log10(m); if (t >= lo && t <= hi) out.push(t); }
      }
      out.sort((a, b) => a - b);
    }
    const every = Math.max(1, Math.ceil(out.length / 8));
    return out.filter((_, i) => i % every === 0);
  }
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / n, p = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * p).find((st) => span / st <= n) || 10 * p;
  const out = [];
  for (let i = Math.ceil(lo / step); i * step <= hi + step * 1e-9; i++) out.push(+(i * step).toPrecision(12));
  return out;
}

/** A tick's text: on a log axis the value itself (1, 10, 100, 0.01), not its logarithm. */
function tickText(t, log) {
  const v = log ? Math.pow(10, t) : t;
  return fmt(log ? +v.toPrecision(3) : v, 4).replace("-", "−");
}

/** The finite range of values, widened when flat; null when there is none. */
function extent(values) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (lo > hi) return null;
  if (lo === hi) { const d = lo === 0 ? 1 : Math.abs(lo) * 0.1; return [lo - d, hi + d]; }
  const pad = (hi - lo) * 0.04;
  return [lo - pad, hi + pad];
}

/**
 * A line chart panel: its series in their styles, the legend under it as text. `W` is the
 * width it will be shown at, so that its 11-pixel text stays 11 pixels on screen (a
 * 560-wide drawing squeezed into a 340-pixel panel printed its ticks at 7 pixels).
 */
function linesPanel(p, W = 560) {
  const H = Math.round(Math.max(240, W * 0.61)), m = { l: 64, r: 14, t: 28, b: 44 };
  const tx = (v) => (p.log_x ? (v > 0 ? Math.log10(v) : NaN) : v);
  const ty = (v) => (p.log_y ? (v > 0 ? Math.log10(v) : NaN) : v);
  const pts = p.series.map((se) => se.x.map((x, i) => [tx(num(x)), ty(num(se.y[i]))]));
  const all = pts.flat();
  const xr = p.x_range ? p.x_range.map(tx) : extent(all.map((q) => q[0]));
  const yr = p.y_range ? p.y_range.map(ty) : extent(all.map((q) => q[1]));
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "lab-chart", role: "img", "aria-label": p.title });
  label(svg, W / 2, 17, p.title, { "text-anchor": "middle", "font-size": 14, "font-weight": "bold" });
  if (!xr || !yr) {
    label(svg, W / 2, H / 2, "no finite values to draw", { "text-anchor": "middle" });
    return [svg, null];
  }
  const [x0, x1] = xr, [y0, y1] = yr;
  const pw = W - m.l - m.r, ph = H - m.t - m.b;
  const X = (v) => m.l + ((v - x0) / (x1 - x0)) * pw;
  const Y = (v) => m.t + ph - ((v - y0) / (y1 - y0)) * ph;
  // Named classes label their positions 1…n; numbers label the other axes.
  const cats = p.categories || [];
  const xticks = cats.length ? cats.map((_, i) => i + 1) : ticks(x0, x1, 6, p.log_x);
  for (const t of xticks) {
    s("line", { x1: X(t), x2: X(t), y1: m.t, y2: m.t + ph, stroke: "#e4e4e4" }, svg);
    label(svg, X(t), m.t + ph + 15, cats.length ? cats[t - 1] : tickText(t, p.log_x), { "text-anchor": "middle", "font-size": 11 });
  }
  for (const t of ticks(y0, y1, 6, p.log_y)) {
    s("line", { x1: m.l, x2: m.l + pw, y1: Y(t), y2: Y(t), stroke: "#e4e4e4" }, svg);
    label(svg, m.l - 6, Y(t) + 4, tickText(t, p.log_y), { "text-anchor": "end", "font-size": 11 });
  }
  s("rect", { x: m.l, y: m.t, width: pw, height: ph, fill: "none", stroke: "#555" }, svg);
  label(svg, m.l + pw / 2, H - 8, p.x_label + (p.log_x ? " (log scale)" : ""), { "text-anchor": "middle" });
  const ly = m.t + ph / 2;
  label(svg, 14, ly, p.y_label + (p.log_y ? " (log scale)" : ""), { "text-anchor": "middle", transform: `rotate(-90 14 ${ly})` });
  // Series are clipped to the plot: a fixed range (a loss that goes to infinity at 0)
  // cuts them at its edges.
  const id = `lab-clip-${++clipIds}`;
  s("rect", { x: m.l, y: m.t, width: pw, height: ph }, s("clipPath", { id }, svg));
  const g = s("g", { "clip-path": `url(#${id})` }, svg);
  // Bars of several series share each place side by side (as `Lines::bar` in Rust).
  const bars = p.series.map((se, k) => (se.style === "bars" ? k : -1)).filter((k) => k >= 0);
  p.series.forEach((se, k) => {
    const ok = (q) => Number.isFinite(q[0]) && Number.isFinite(q[1]);
    if (se.style === "bars") {
      const n = bars.length, j = bars.indexOf(k), w = 0.7 / n;
      const base = Y(Math.min(Math.max(0, y0), y1));
      pts[k].forEach((q, i) => {
        if (!ok(q)) return;
        const cx = q[0] - 0.35 + w * (j + 0.5), top = Y(q[1]);
        const r = s("rect", {
          x: X(cx - w / 2), width: X(cx + w / 2) - X(cx - w / 2),
          y: Math.min(top, base), height: Math.abs(base - top), fill: se.color, class: "bar", "data-name": se.name,
        }, g);
        tip(r, `${se.name ? se.name + ": " : ""}${cats.length ? cats[i] : p.x_label + " = " + fmt(se.x[i])}, ${p.y_label} = ${fmt(se.y[i])}`);
      });
      return;
    }
    const line = se.style !== "points" && se.style !== "rings";
    if (line) {
      let d = "", pen = false;
      for (const q of pts[k]) {
        if (!ok(q)) { pen = false; continue; }
        d += (pen ? "L" : "M") + X(q[0]).toFixed(1) + " " + Y(q[1]).toFixed(1);
        pen = true;
      }
      const faint = se.style === "faint";
      tip(s("path", {
        d, fill: "none", stroke: se.color, "stroke-width": faint ? 1 : 2, "stroke-opacity": faint ? 0.35 : 1,
        "stroke-linejoin": "round", "stroke-dasharray": se.style === "dashed" ? "7 4" : "none",
        class: "series", "data-name": se.name,
      }, g), se.name);
    }
    if (se.style === "points" || se.style === "rings" || se.style === "line-points") {
      const r = se.style === "rings" ? 5 : se.style === "points" ? 3 : 2.5;
      pts[k].forEach((q, i) => {
        if (!ok(q)) return;
        const c = s("circle", se.style === "rings"
          ? { cx: X(q[0]), cy: Y(q[1]), r, fill: "none", stroke: se.color, "stroke-width": 2 }
          : { cx: X(q[0]), cy: Y(q[1]), r, fill: se.color }, g);
        tip(c, `${se.name ? se.name + ": " : ""}${p.x_label} = ${fmt(se.x[i])}, ${p.y_label} = ${fmt(se.y[i])}`);
      });
    }
  });
  const named = p.series.filter((se) => se.name);
  const legend = named.length ? h("ul", { class: "lab-legend", style: "list-style:none;margin:2px 0 6px;padding:0 8px;display:flex;flex-wrap:wrap;gap:2px 14px;font-size:12px" },
    named.map((se) => h("li", {},
      h("span", { style: se.style === "bars" ? `display:inline-block;width:12px;height:10px;vertical-align:middle;margin-right:5px;background:${se.color}` : `display:inline-block;width:22px;height:0;vertical-align:middle;margin-right:5px;border-top:${se.style === "points" || se.style === "rings" ? 6 : 3}px ${se.style === "dashed" ? "dashed" : se.style === "points" ? "dotted" : "solid"} ${se.color};opacity:${se.style === "faint" ? 0.5 : 1}` }),
      se.name))) : null;
  return [svg, legend];
}

/** A heatmap's colour for `v` on [lo, hi], as the files draw it (`ColorMap` in Rust). */
function cellColour(map, v, lo, hi) {
  if (!Number.isFinite(v)) return "#ff00ff";
  const toward = (t, [r, g, b]) => `rgb(${[r, g, b].map((c) => Math.round(255 - t * (255 - c))).join(",")})`;
  const unit = hi > lo ? Math.min(1, Math.max(0, (v - lo) / (hi - lo))) : 0.5;
  if (map === "gray") { const c = Math.round(unit * 255); return `rgb(${c},${c},${c})`; }
  if (map === "blues") return toward(unit, [0, 114, 178]);
  const t = Math.max(-1, Math.min(1, v / Math.max(Math.abs(lo), Math.abs(hi), 1e-300)));
  return t < 0 ? toward(-t, [0, 114, 178]) : toward(t, [213, 94, 0]);
}

/**
 * A heatmap panel: one cell per value with the value under the pointer; the title and the
 * colour range as text beside the picture, so that they stay readable at any size.
 */
function heatmapPanel(p, widthPx) {
  const C = 10;
  const svg = s("svg", {
    viewBox: `0 0 ${p.cols * C} ${p.rows * C}`, class: "lab-heatmap", role: "img",
    "aria-label": p.title, "shape-rendering": "crispEdges",
  });
  const [lo, hi] = p.range;
  const dark = (c) => { const [r, g, b] = c.match(/\d+/g).map(Number); return 0.2126 * r + 0.7152 * g + 0.0722 * b < 115; };
  for (let i = 0; i < p.rows; i++) {
    for (let j = 0; j < p.cols; j++) {
      const v = num(p.values[i * p.cols + j]);
      const fillc = cellColour(p.map, v, lo, hi);
      tip(s("rect", { x: j * C, y: i * C, width: C, height: C, fill: fillc }, svg),
        `row ${i + 1}, column ${j + 1}: ${fmt(p.values[i * p.cols + j])}`);
      if (p.annotate && Number.isFinite(v)) {
        label(svg, (j + 0.5) * C, (i + 0.5) * C + 1.3, fmt(v, 3), { "text-anchor": "middle", "font-size": 3.4, fill: dark(fillc) ? "#fff" : "#111" });
      }
    }
  }
  const axes = [p.x_label && `across: ${p.x_label}`, p.y_label && `down: ${p.y_label}`].filter(Boolean).join(", ");
  const range = `${fmt(lo, 3)} … ${fmt(hi, 3)}`;
  // The colour scale: the lowest value's colour to the highest's.
  const stops = Array.from({ length: 9 }, (_, k) => cellColour(p.map, lo + ((hi - lo) * k) / 8, lo, hi));
  const strip = h("div", { class: "lab-scale", title: range, style: `height:8px;max-width:160px;margin-top:3px;border-radius:2px;background:linear-gradient(to right,${stops.join(",")})` });
  return h("div", { class: "lab-panel", style: `flex:0 1 ${widthPx}px;min-width:0;max-width:${widthPx}px;font-size:12px` },
    h("div", { style: "font-weight:600;margin-bottom:3px;overflow-wrap:anywhere" }, p.title),
    svg,
    strip,
    h("div", { style: "color:#555;font-size:11px" }, axes ? `${axes} (${range})` : range));
}

/** A figure: its panels side by side on a wide screen, one under the other on a phone. */
function figureNode(f, i) {
  const heat = f.panels.every((p) => p.kind === "heatmap");
  const longest = Math.max(...f.panels.map((p) => (p.kind === "heatmap" ? Math.max(p.rows, p.cols) : 0)));
  const cellPx = Math.min(28, Math.max(3, Math.floor(240 / Math.max(1, longest))));
  const panels = f.panels.map((p) => {
    if (p.kind === "heatmap") return heatmapPanel(p, Math.max(p.cols * cellPx, 60));
    const [basis, max] = f.panels.length > 1 ? [340, 760] : [560, 680];
    // Drawn at about the width it gets: the panel's basis, or the screen's on a phone.
    const W = Math.round(Math.min(basis + 40, Math.max(300, (window.innerWidth || basis) - 40)));
    const [svg, legend] = linesPanel(p, W);
    return h("div", { class: "lab-panel", style: `flex:1 1 ${basis}px;min-width:0;max-width:${max}px` }, svg, legend);
  });
  return h("figure", { "data-name": f.name },
    h("figcaption", {}, f.title),
    h("div", { class: "svgbox", id: `labs-fig-${i}`, style: `display:flex;flex-wrap:wrap;gap:10px 14px;align-items:flex-start${heat ? "" : ";justify-content:center"}` }, panels));
}

// ───────────── the page ─────────────

/** A table cell's text, and whether it is text (left-aligned) rather than a number. */
function labCell(v) {
  if (v === null || v === undefined) return ["", false];
  if (typeof v === "number") return [fmt(v, 6), false];
  if (v === "NaN" || v === "Infinity" || v === "-Infinity") return [fmt(v), false];
  return [String(v), true];
}

/** A lab's table with its title and, when cut, how many rows it has. */
function tableNode(t) {
  const isText = (t.rows[0] || []).map((v) => labCell(v)[1]);
  const cls = (j) => (isText[j] ? "txt" : null);
  const head = h("tr", { class: "names" }, t.headers.map((hd, j) => h("th", { class: cls(j) }, hd)));
  const body = t.rows.map((row) => h("tr", {}, row.map((v) => { const [str, txt] = labCell(v); return h("td", { class: txt ? "txt" : null }, str); })));
  const more = t.total_rows > t.rows.length
    ? h("p", { class: "more" }, `the first ${t.rows.length} of ${t.total_rows} rows (its CSV download has every one)`)
    : null;
  return h("div", { class: "lab-table", "data-name": t.name },
    h("h3", {}, t.title),
    h("div", { class: "sheet-wrap" }, h("table", { class: "sheet" }, h("thead", {}, head), h("tbody", {}, body))),
    more);
}

/** A grayscale image drawn into a canvas, pixel for pixel. */
function imageNode(im) {
  const c = h("canvas", { width: im.width, height: im.height });
  const ctx = c.getContext("2d"), data = ctx.createImageData(im.width, im.height);
  im.pixels.forEach((v, k) => {
    const g = Math.round(255 * Math.min(1, Math.max(0, num(v) || 0)));
    data.data.set([g, g, g, 255], 4 * k);
  });
  ctx.putImageData(data, 0, 0);
  return h("figure", {}, h("figcaption", {}, `${im.name} `, h("span", { class: "hint" }, `${im.width}×${im.height}`)), c);
}

/** A parameter's control: a menu, a text box for a list, or a slider with its number. */
function control(q, value, onChange) {
  const id = "labs-p-" + q.name;
  const help = h("span", { class: "help" }, q.help);
  if (q.kind === "choice") {
    const sel = h("select", { id }, q.choices.map((c) => h("option", {}, c)));
    sel.value = value;
    sel.addEventListener("change", (e) => onChange(e.target.value, false));
    return h("label", { class: "field" }, `${q.name} `, sel, help);
  }
  if (q.kind === "list") {
    const input = h("input", { type: "text", id, spellcheck: "false", autocomplete: "off" });
    input.value = value;
    input.addEventListener("input", (e) => onChange(e.target.value.replace(/\s/g, ""), true));
    return h("label", { class: "field listp" }, `${q.name} `, input, help);
  }
  const int = q.kind === "integer";
  const log = !int && q.min > 0 && q.max / q.min >= 1000;
  const step = int ? 1 : log ? 0.01 : (q.max - q.min) / 200;
  return h("div", {
    class: "slider",
    "data-min": log ? Math.log10(q.min) : q.min,
    "data-max": log ? Math.log10(q.max) : q.max,
    "data-log": log ? "1" : null,
    "data-int": int ? "1" : null,
  },
  h("label", { for: id, title: q.help }, q.name),
  h("input", { type: "range", id, step }),
  h("input", { type: "number", class: "num", id: `${id}-num`, step: "any" }),
  help);
}

const labsPage = {
  s: null,
  list: null,
  ready: null,
  sliders: [],
  load(p) {
    const params = {};
    for (const [k, v] of p.entries()) if (k !== "lab") params[k] = v;
    this.s = { name: p.get("lab") || "focal", params };
  },
  /** The lab's entry, or the first one. */
  info() {
    return (this.list || []).find((l) => l.name === this.s.name) || null;
  },
  save() {
    const info = this.info();
    const out = { lab: this.s.name };
    if (info) for (const q of info.params) if (this.s.params[q.name] !== undefined && String(this.s.params[q.name]) !== q.default) out[q.name] = this.s.params[q.name];
    writeHash("labs", out);
  },
  init() {
    const upd = runner(() => this.update());
    this.schedule = () => { if (this.list) this.save(); upd(); };
    this.ready = fetch("/api/labs").then((r) => r.json()).then((list) => {
      this.list = list;
      const groups = [["concept", "concept labs"], ["workbook", "fast.ai workbooks"]];
      fill("labs-name", groups.map(([g, name]) => h("optgroup", { label: name },
        list.filter((l) => l.group === g).map((l) => h("option", { value: l.name }, l.name)))));
      if (this.s) this.showAll();
    }).catch(() => message("labs-msg", "the gradsheet server does not answer (is it still running?)", true));
    $("labs-name").addEventListener("change", (e) => { this.s = { name: e.target.value, params: {} }; this.showAll(); this.schedule(); });
    $("labs-reset").addEventListener("click", () => { this.s.params = {}; this.showAll(); this.schedule(); });
  },
  /** Builds the controls of the current lab from its parameter list. */
  showAll() {
    if (!this.list) return;
    if (!this.info()) this.s = { name: this.list[0].name, params: {} };
    const info = this.info();
    $("labs-name").value = info.name;
    $("labs-about").textContent = info.description;
    this.sliders = [];
    const val = (q) => (this.s.params[q.name] !== undefined ? this.s.params[q.name] : q.default);
    let timer = 0;
    const controls = info.params.map((q) => control(q, val(q), (v, typed) => {
      this.s.params[q.name] = v;
      if (typed) { clearTimeout(timer); timer = setTimeout(this.schedule, 250); } else this.schedule();
    }));
    const picture = info.takes_image ? this.pictureControl() : null;
    fill("labs-params", info.params.length ? [...controls, picture].filter(Boolean) : h("p", { class: "note" }, "This workbook has no settings: its numbers are the sheet's."));
    for (const q of info.params.filter((q) => q.kind === "number" || q.kind === "integer")) {
      const sl = slider("labs-p-" + q.name, () => parseFloat(val(q)), (v) => { this.s.params[q.name] = String(+(+v).toPrecision(6)); }, this.schedule);
      sl.show();
      this.sliders.push(sl);
    }
  },
  /**
   * The learner's own picture: decoded by the browser (any format it reads), scaled down
   * by a whole factor to fit the lab's 64×64 as the command line's `--image` does, and
   * sent as grey levels (luma, over black where transparent).
   */
  pictureControl() {
    const input = h("input", { type: "file", id: "labs-image", accept: "image/*" });
    const said = h("span", { class: "hint", id: "labs-image-said" },
      this.s.image ? `your picture, ${this.s.image.width}×${this.s.image.height}` : "the lab's own digit");
    input.addEventListener("change", async () => {
      const file = input.files && input.files[0];
      if (!file) return;
      try {
        const bmp = await createImageBitmap(file);
        const f = Math.max(1, Math.ceil(Math.max(bmp.width, bmp.height) / 64));
        const w = Math.floor(bmp.width / f), hgt = Math.floor(bmp.height / f);
        if (!w || !hgt) throw new Error(`the picture (${bmp.width}×${bmp.height}) is too thin to scale down to 64×64`);
        const c = document.createElement("canvas");
        c.width = w; c.height = hgt;
        const ctx = c.getContext("2d");
        ctx.drawImage(bmp, 0, 0, w, hgt);
        const d = ctx.getImageData(0, 0, w, hgt).data;
        const pixels = [];
        for (let k = 0; k < w * hgt; k++) {
          const luma = (0.299 * d[4 * k] + 0.587 * d[4 * k + 1] + 0.114 * d[4 * k + 2]) / 255;
          pixels.push(+(luma * (d[4 * k + 3] / 255)).toFixed(6));
        }
        this.s.image = { width: w, height: hgt, pixels };
        said.textContent = `your picture, ${w}×${hgt}` + (f > 1 ? ` (${bmp.width}×${bmp.height} scaled down ${f}×)` : "");
        this.schedule();
      } catch (e) {
        message("labs-msg", `${file.name}: not a picture the browser can read (${e.message || e})`, true);
      }
    });
    return h("div", { class: "param" }, h("label", { for: "labs-image" }, "your picture"), input, said,
      h("p", { class: "note" }, "Used on this page; the downloads use the lab's own digit."));
  },
  async update() {
    await this.ready;
    if (!this.list) return;
    const info = this.info();
    if (!info) return;
    const t0 = performance.now();
    const params = {};
    for (const q of info.params) if (this.s.params[q.name] !== undefined) params[q.name] = String(this.s.params[q.name]);
    const body = { name: info.name, params };
    if (info.takes_image && this.s.image) body.image = this.s.image;
    const r = await api("/api/lab", body);
    if (info.name !== this.s.name) return; // the lab changed meanwhile: its own update follows
    $("labs-work").classList.toggle("stale", !!r.error);
    if (r.error) { message("labs-msg", r.error, true); window.__labShown = null; return; }
    message("labs-msg", "");
    fill("labs-notes", r.notes.map((n) => h("p", {}, n)));
    fill("labs-figures", r.figures.map(figureNode));
    fill("labs-images", r.images.map(imageNode));
    fill("labs-tables", r.tables.map(tableNode));
    // The command line's files, for these settings: the workbook with live formulas,
    // every row of each table, each figure.
    const spec = encodeURIComponent(JSON.stringify({ name: info.name, params }));
    const files = [`${info.name}.xlsx`,
      ...r.tables.map((t, i) => (i === 0 ? `${info.name}.csv` : `${info.name}-${t.name}.csv`)),
      ...r.figures.map((f) => `${f.name === info.name ? info.name : `${info.name}-${f.name}`}.svg`)];
    fill("labs-files", files.map((f) => {
      const b = h("button", { type: "button", "data-file": f }, f);
      b.addEventListener("click", () => fetchDownload(`/api/lab/file/${f}?spec=${spec}`, f, "labs-msg"));
      return b;
    }));
    showTiming(`lab ${info.name}`, t0, r.compute_ms);
    window.__labShown = info.name;
  },
};

export { labsPage };
