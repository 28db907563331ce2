// gradsheet's charts: small hand-written SVG drawing, no library. Every chart is redrawn
// from scratch on each update (a few thousand points at most), which is fast enough to
// follow a slider and to play a run frame by frame.
//
// A chart's coordinate system is the size it is shown at (its viewBox follows the box's
// width, redrawn when that changes), so that its text stays 11 px on a phone as on a
// desktop instead of shrinking with the drawing. Hovering (or tapping) a chart shows the
// exact values under the pointer in a tooltip of text.

import { exact, fmt, num } from "./numbers.js";

export { fmt, num };

const NS = "http://www.w3.org/2000/svg";
// Okabe–Ito: distinguishable with the common colour-vision deficiencies.
export const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"];
const BAD = "#D55E00";

function el(name, attrs, parent) {
  const e = document.createElementNS(NS, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}

function text(parent, x, y, s, attrs) {
  const t = el("text", Object.assign({ x, y }, attrs || {}), parent);
  t.textContent = s;
  return t;
}

// ───────────── size ─────────────

/** Redraws a chart when its box changes width (a rotated phone, a resized window). */
const resized = typeof ResizeObserver === "function" ? new ResizeObserver((entries) => {
  for (const e of entries) {
    const svg = e.target;
    const w = Math.round(e.contentRect.width);
    if (svg.__draw && w > 0 && Math.abs(w - (svg.__w || 0)) > 2) requestAnimationFrame(() => svg.__draw());
  }
}) : null;

/**
 * Empties a chart and sizes its coordinate system to the width it is shown at: the
 * width of its box (at least `minW`), and a height from the chart's own proportions
 * (its `viewBox` in the page), at least `minH`. `draw` redraws it (on resize).
 */
function clear(svg, draw) {
  if (!svg.dataset.w) {
    const vb = svg.viewBox.baseVal;
    svg.dataset.w = vb && vb.width ? vb.width : 520;
    svg.dataset.h = vb && vb.height ? vb.height : 300;
    if (resized) resized.observe(svg);
  }
  svg.__draw = draw;
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const bw = +svg.dataset.w, bh = +svg.dataset.h;
  const shown = svg.getBoundingClientRect().width;
  const w = shown > 0 ? Math.max(280, Math.round(shown)) : bw;
  const h = Math.round(Math.max(Math.min(bh, 240), bh * Math.min(w / bw, 1.15)));
  svg.__w = shown;
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  return { w, h };
}

function frame(svg, m, draw) {
  const { w, h } = clear(svg, draw);
  return { w, h, x0: m.l, x1: w - m.r, y0: h - m.b, y1: m.t };
}

// ───────────── axes ─────────────

/** Nice linear ticks covering [lo, hi]. */
function linTicks(lo, hi, n) {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / (n || 5);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => span / s <= (n || 5) + 0.5) || 10 * mag;
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return out;
}

/**
 * Ticks of a log axis over [lo, hi] (both > 0): only round numbers, as a person labels a
 * log axis: powers of ten (1, 10, 100), with 2 and 5 between them within two decades.
 */
export function logTicks(lo, hi) {
  const a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
  const out = [];
  if (b - a <= 2) {
    for (let e = a; e <= b; e++) for (const k of [1, 2, 5]) { const t = k * Math.pow(10, e); if (t >= lo * 0.999 && t <= hi * 1.001) out.push(t); }
    if (out.length >= 2) return out;
  }
  const every = Math.max(1, Math.ceil((b - a) / 6));
  out.length = 0;
  for (let e = a; e <= b; e += every) { const t = Math.pow(10, e); if (t >= lo * 0.999 && t <= hi * 1.001) out.push(t); }
  return out;
}

/** The label of a round tick: `1`, `100`, `10⁵`, `10⁻⁴`, `0.001`. */
export function tickLabel(t) {
  const a = Math.abs(t);
  if (t !== 0 && (a >= 1e5 || a < 1e-3)) {
    const e = Math.round(Math.log10(a));
    if (Math.abs(a - Math.pow(10, e)) < 1e-9 * a) return (t < 0 ? "−" : "") + "10" + sup(e);
    return t.toExponential(1).replace("e+", "e").replace("-", "−");
  }
  return String(+t.toPrecision(4)).replace("-", "−");
}

function sup(e) {
  const m = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };
  return String(e).split("").map((c) => m[c] || c).join("");
}

/** A scale from a domain to a pixel range, linear or log. */
function scale(lo, hi, p0, p1, log) {
  const f = log ? Math.log10 : (v) => v;
  const a = f(lo), b = f(hi);
  const k = b === a ? 0 : (p1 - p0) / (b - a);
  const s = (v) => p0 + (f(v) - a) * k;
  s.invert = (p) => { const v = a + (p - p0) / (k || 1); return log ? Math.pow(10, v) : v; };
  return s;
}

/** Labels for linear ticks, with as many decimals as their spacing needs. */
function tickFormat(ticks) {
  const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : 0;
  const big = Math.max(...ticks.map(Math.abs));
  if (!(step > 0) || big >= 1e5 || step < 1e-4) return tickLabel;
  const dec = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
  return (t) => t.toFixed(dec).replace("-", "−");
}

function axes(g, f, xs, ys, xTicks, yTicks, xfmt, yfmt, labels) {
  for (const t of yTicks) {
    const y = ys(t);
    el("line", { x1: f.x0, x2: f.x1, y1: y, y2: y, class: "gridline" }, g);
    text(g, f.x0 - 6, y + 3.5, yfmt(t), { "text-anchor": "end", class: "tick" });
  }
  // Labels of the horizontal axis that would overlap are left out.
  let right = -Infinity;
  for (const t of xTicks) {
    const x = xs(t), s = xfmt(t), half = s.length * 3.3;
    el("line", { x1: x, x2: x, y1: f.y0, y2: f.y0 + 4, class: "axis" }, g);
    if (x - half < right + 4) continue;
    text(g, x, f.y0 + 16, s, { "text-anchor": "middle", class: "tick" });
    right = x + half;
  }
  el("line", { x1: f.x0, x2: f.x1, y1: f.y0, y2: f.y0, class: "axis" }, g);
  el("line", { x1: f.x0, x2: f.x0, y1: f.y0, y2: f.y1, class: "axis" }, g);
  if (labels && labels.x) text(g, (f.x0 + f.x1) / 2, f.h - 4, labels.x, { "text-anchor": "middle", class: "title" });
  if (labels && labels.y) text(g, 12, (f.y0 + f.y1) / 2, labels.y, { "text-anchor": "middle", class: "title", transform: `rotate(-90 12 ${(f.y0 + f.y1) / 2})` });
}

function legend(g, f, series) {
  let y = f.y1 + 4;
  const wMax = Math.max(...series.map((s) => String(s.name).length)) * 6.5 + 26;
  el("rect", { x: f.x1 - wMax - 6, y: y - 3, width: wMax + 4, height: series.length * 15 + 4, rx: 4, fill: "rgba(255,255,255,0.85)", stroke: "#d9dee7" }, g);
  for (const [k, s] of series.entries()) {
    const c = s.color || PALETTE[k % PALETTE.length];
    el("rect", { x: f.x1 - wMax, y: y, width: 10, height: 10, rx: 2, fill: c, "fill-opacity": s.faint ? 0.5 : 1 }, g);
    text(g, f.x1 - wMax + 15, y + 9, s.name, { class: "title" });
    y += 15;
  }
}

// ───────────── hover ─────────────

/** The SVG coordinates of a pointer event. */
function svgPoint(svg, e) {
  const m = svg.getScreenCTM();
  if (!m) return null;
  const p = svg.createSVGPoint();
  p.x = e.clientX; p.y = e.clientY;
  return p.matrixTransform(m.inverse());
}

/**
 * Makes a chart answer the pointer: `svg.__hover(x, y)` (in the chart's coordinates)
 * returns `{ lines, at: [x, y] }` (the tooltip's lines of text and the point to mark)
 * or null. The tooltip is a box of text over the figure; a tap shows it too.
 */
function hoverable(svg) {
  if (svg.__hoverBound) return;
  svg.__hoverBound = true;
  const fig = svg.parentElement;
  fig.classList.add("has-tip");
  const tip = document.createElement("div");
  tip.className = "tip";
  tip.setAttribute("role", "status");
  tip.hidden = true;
  fig.appendChild(tip);
  const hide = () => { tip.hidden = true; const m = svg.querySelector(".hover-mark"); if (m) m.remove(); };
  const show = (e) => {
    const p = svgPoint(svg, e);
    const ans = p && svg.__hover ? svg.__hover(p.x, p.y) : null;
    const old = svg.querySelector(".hover-mark");
    if (old) old.remove();
    if (!ans) { tip.hidden = true; return; }
    tip.replaceChildren(...ans.lines.map((l, i) => { const d = document.createElement("div"); if (i === 0) d.className = "t"; d.textContent = l; return d; }));
    tip.hidden = false;
    if (ans.at) {
      const g = el("g", { class: "hover-mark" }, svg);
      if (ans.guide) el("line", { x1: ans.at[0], x2: ans.at[0], y1: ans.guide[0], y2: ans.guide[1], stroke: "#5b6475", "stroke-dasharray": "2 2" }, g);
      for (const q of ans.points || [ans.at]) el("circle", { cx: q[0], cy: q[1], r: 4, fill: "none", stroke: "#1d2330", "stroke-width": 1.5 }, g);
    }
    // The tooltip sits beside the pointer, inside the figure.
    const fr = fig.getBoundingClientRect();
    let left = e.clientX - fr.left + 14, top = e.clientY - fr.top + 14;
    const tw = tip.offsetWidth, th = tip.offsetHeight;
    if (left + tw > fr.width - 4) left = Math.max(4, e.clientX - fr.left - tw - 14);
    if (top + th > fr.height - 4) top = Math.max(4, e.clientY - fr.top - th - 14);
    tip.style.left = left + "px"; tip.style.top = top + "px";
  };
  svg.addEventListener("pointermove", show);
  svg.addEventListener("pointerdown", show);
  svg.addEventListener("pointerleave", (e) => { if (e.pointerType === "mouse") hide(); });
  svg.__hideTip = hide;
}

/** Index of the value in sorted `xs` nearest to `x`. */
function nearest(xs, x) {
  let lo = 0, hi = xs.length - 1;
  if (hi < 0) return -1;
  while (hi - lo > 1) { const m = (lo + hi) >> 1; if (xs[m] <= x) lo = m; else hi = m; }
  return Math.abs(xs[hi] - x) < Math.abs(xs[lo] - x) ? hi : lo;
}

// ───────────── line chart ─────────────

/**
 * Lines of y against x. series: [{name, color, x: [..], y: [..], faint}]; opts: {logY,
 * xLabel, yLabel, marker: {x, label}, upTo (draw only x ≤ upTo: a run being played;
 * the axes stay those of the whole run), xName(x) (the hover's first line for an x)}.
 * Non-finite (and, on a log axis, non-positive) values break a line rather than bend
 * it. The faint series are drawn first and the others over them with a light halo, so
 * that a dense band of steps never hides the line of epoch means.
 */
export function lineChart(svg, series, opts) {
  opts = opts || {};
  const f = frame(svg, { l: 58, r: 14, t: 14, b: 38 }, () => lineChart(svg, series, opts));
  let xlo = Infinity, xhi = -Infinity, ylo = Infinity, yhi = -Infinity;
  const ok = (y) => Number.isFinite(y) && !(opts.logY && y <= 0);
  for (const s of series) {
    s.x.forEach((x, i) => {
      const y = num(s.y[i]);
      if (!ok(y)) return;
      xlo = Math.min(xlo, x); xhi = Math.max(xhi, x); ylo = Math.min(ylo, y); yhi = Math.max(yhi, y);
    });
  }
  svg.__hover = null;
  if (!Number.isFinite(xlo)) {
    text(svg, f.w / 2, f.h / 2, opts.empty || "no finite values to draw", { "text-anchor": "middle" });
    return;
  }
  if (opts.marker && Number.isFinite(opts.marker.x)) { xlo = Math.min(xlo, opts.marker.x); xhi = Math.max(xhi, opts.marker.x); }
  if (xhi === xlo) { xhi = xlo + 1; }
  if (opts.logY) {
    if (yhi / ylo < 10) { const mid = Math.sqrt(yhi * ylo); ylo = Math.min(ylo, mid / 3.2); yhi = Math.max(yhi, mid * 3.2); }
    // The axis ends on round numbers (1, 2, 5 × a power of ten), so that its ends read
    // as the ticks do.
    ylo = roundDown(ylo); yhi = roundUp(yhi);
  } else if (yhi === ylo) { ylo -= 1; yhi += 1; }
  const xs = scale(xlo, xhi, f.x0, f.x1, false);
  const ys = scale(ylo, yhi, f.y0, f.y1, !!opts.logY);
  const g = el("g", {}, svg);
  const xt = linTicks(xlo, xhi, Math.max(3, Math.floor((f.x1 - f.x0) / 70))).filter((t) => Number.isInteger(t) || xhi - xlo < 6);
  const yt = opts.logY ? logTicks(ylo, yhi) : linTicks(ylo, yhi, 5);
  axes(g, f, xs, ys, xt, yt, tickFormat(xt), opts.logY ? tickLabel : tickFormat(yt), { x: opts.xLabel, y: opts.yLabel });
  if (opts.marker && Number.isFinite(opts.marker.x)) {
    const x = xs(opts.marker.x);
    el("line", { x1: x, x2: x, y1: f.y0, y2: f.y1, stroke: BAD, "stroke-dasharray": "4 3", "stroke-width": 1.5, class: "marker" }, g);
    const left = x - f.x0 > (f.x1 - f.x0) / 2;
    text(g, left ? x - 5 : x + 5, f.y0 - 6, opts.marker.label, { "text-anchor": left ? "end" : "start", fill: BAD, class: "marker-label" });
  }
  const upTo = Number.isFinite(opts.upTo) ? opts.upTo : Infinity;
  const order = series.map((s, k) => [s, k]).sort((a, b) => (b[0].faint ? 1 : 0) - (a[0].faint ? 1 : 0));
  for (const [s, k] of order) {
    let d = "", pen = false;
    s.x.forEach((x, i) => {
      const y = num(s.y[i]);
      if (x > upTo || !ok(y)) { pen = false; return; }
      d += (pen ? "L" : "M") + xs(x).toFixed(1) + " " + ys(y).toFixed(1);
      pen = true;
    });
    const color = s.color || PALETTE[k % PALETTE.length];
    if (!s.faint) el("path", { d, fill: "none", stroke: "#fff", "stroke-width": 6, "stroke-opacity": 0.95, "stroke-linejoin": "round", class: "halo" }, g);
    el("path", { d, fill: "none", stroke: color, "stroke-width": s.faint ? 1 : 2.5, "stroke-opacity": s.faint ? 0.3 : 1, "stroke-linejoin": "round", class: s.faint ? "series faint" : "series", "data-name": s.name || "" }, g);
    // A few points get a dot each, so that a single point still shows.
    if (s.dots) s.x.forEach((x, i) => { const y = num(s.y[i]); if (x <= upTo && ok(y)) el("circle", { cx: xs(x), cy: ys(y), r: 3, fill: color, class: "dot" }, g); });
  }
  if (series.length > 1) legend(g, f, series);
  hoverable(svg);
  svg.__hover = (px, py) => {
    if (px < f.x0 - 4 || px > f.x1 + 4 || py < f.y1 - 4 || py > f.y0 + 4) return null;
    const x = xs.invert(px);
    const lines = [], points = [];
    let at = null;
    for (const s of series) {
      const i = nearest(s.x, x);
      if (i < 0 || s.x[i] > upTo) continue;
      const y = num(s.y[i]);
      if (!at) { at = [xs(s.x[i]), ok(y) ? ys(y) : f.y0]; lines.push(opts.xName ? opts.xName(s.x[i], s, i) : `${opts.xLabel || "x"} ${exact(s.x[i])}`); }
      lines.push(`${s.name}: ${exact(y)}${s.note ? s.note(i) : ""}`);
      if (ok(y)) points.push([xs(s.x[i]), ys(y)]);
    }
    return at ? { lines, at, points, guide: [f.y0, f.y1] } : null;
  };
}

function roundDown(v) {
  const e = Math.floor(Math.log10(v)), m = v / Math.pow(10, e);
  return (m >= 5 ? 5 : m >= 2 ? 2 : 1) * Math.pow(10, e);
}

function roundUp(v) {
  const e = Math.floor(Math.log10(v)), m = v / Math.pow(10, e);
  return (m <= 1 + 1e-12 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * Math.pow(10, e);
}

// ───────────── error surface ─────────────

// A light version of viridis for the error surface: low error light yellow-green, high
// error blue-violet, mixed with white so that paths drawn on it stay readable.
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
export function viridis(t, wash) {
  t = Math.min(1, Math.max(0, t));
  const k = t * (VIRIDIS.length - 1), i = Math.min(VIRIDIS.length - 2, Math.floor(k)), u = k - i;
  const c = VIRIDIS[i].map((a, j) => a + (VIRIDIS[i + 1][j] - a) * u);
  const w = wash || 0;
  return c.map((a) => Math.round(a + (255 - a) * w));
}
const rgb = (c) => `rgb(${c[0]},${c[1]},${c[2]})`;

/** Segments of the level set z = L on a grid (marching squares), as an SVG path. */
function isoline(z, L, px, py) {
  const ny = z.length, nx = z[0].length;
  let d = "";
  const lerp = (a, b, za, zb) => a + (b - a) * ((L - za) / (zb - za));
  for (let j = 0; j + 1 < ny; j++) {
    for (let i = 0; i + 1 < nx; i++) {
      const a = z[j][i], b = z[j][i + 1], c = z[j + 1][i + 1], e = z[j + 1][i];
      if (!(Number.isFinite(a) && Number.isFinite(b) && Number.isFinite(c) && Number.isFinite(e))) continue;
      const idx = (a >= L ? 1 : 0) | (b >= L ? 2 : 0) | (c >= L ? 4 : 0) | (e >= L ? 8 : 0);
      if (idx === 0 || idx === 15) continue;
      const pts = [];
      // Edges: bottom (a-b), right (b-c), top (e-c), left (a-e), in grid coordinates.
      if ((idx & 1) !== ((idx >> 1) & 1)) pts.push([lerp(i, i + 1, a, b), j]);
      if (((idx >> 1) & 1) !== ((idx >> 2) & 1)) pts.push([i + 1, lerp(j, j + 1, b, c)]);
      if (((idx >> 3) & 1) !== ((idx >> 2) & 1)) pts.push([lerp(i, i + 1, e, c), j + 1]);
      if ((idx & 1) !== ((idx >> 3) & 1)) pts.push([i, lerp(j, j + 1, a, e)]);
      for (let k = 0; k + 1 < pts.length; k += 2) {
        d += "M" + px(pts[k][0]).toFixed(1) + " " + py(pts[k][1]).toFixed(1) + "L" + px(pts[k + 1][0]).toFixed(1) + " " + py(pts[k + 1][1]).toFixed(1);
      }
    }
  }
  return d;
}

const finiteXY = (x, y) => Number.isFinite(x) && Number.isFinite(y) && Math.abs(x) < 1e15 && Math.abs(y) < 1e15;

/**
 * The error surface of two parameters as a shaded map with contour lines, and paths on
 * it. c: the server's contours; paths: [{name, color, points: [[p..]], ix, iy, faint,
 * dots, upTo (points drawn: a run being played), label(i) (the hover's first line for a
 * point)}]. The surface's minimum is marked where it is, inside the plot, or by an arrow
 * at the edge pointing to it when it lies outside the window.
 */
export function contourChart(svg, c, paths, opts) {
  opts = opts || {};
  const f = frame(svg, { l: 58, r: 14, t: 14, b: 38 }, () => contourChart(svg, c, paths, opts));
  svg.__hover = null;
  if (!c) { text(svg, f.w / 2, f.h / 2, opts.empty || "the error surface needs two parameters", { "text-anchor": "middle" }); return; }
  const nx = c.x.length, ny = c.y.length;
  const xs = scale(c.x[0], c.x[nx - 1], f.x0, f.x1, false);
  const ys = scale(c.y[0], c.y[ny - 1], f.y0, f.y1, false);
  // Log of the error, so that a valley and its walls both show their shape.
  const lz = c.z.map((r) => r.map((v) => { v = num(v); return v > 0 && Number.isFinite(v) ? Math.log10(v) : (v === 0 ? -300 : NaN); }));
  let lo = Infinity, hi = -Infinity;
  for (const r of lz) for (const v of r) if (Number.isFinite(v) && v > -300) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (!Number.isFinite(lo)) { lo = 0; hi = 1; }
  if (hi - lo < 1e-9) hi = lo + 1;
  const g = el("g", {}, svg);
  const clipId = svg.id + "-clip";
  const defs = el("defs", {}, g);
  const cp = el("clipPath", { id: clipId }, defs);
  el("rect", { x: f.x0, y: f.y1, width: f.x1 - f.x0, height: f.y0 - f.y1 }, cp);
  // The shading, drawn into a small canvas and embedded as an image (one element
  // instead of thousands of rectangles); the browser smooths it when scaling.
  const cv = document.createElement("canvas");
  cv.width = nx; cv.height = ny;
  const ctx = cv.getContext("2d");
  const img = ctx.createImageData(nx, ny);
  for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
    const v = lz[j][i];
    const t = Number.isFinite(v) ? 1 - (Math.max(v, lo) - lo) / (hi - lo) : 0;
    const col = viridis(t, 0.45);
    const o = ((ny - 1 - j) * nx + i) * 4;
    img.data[o] = col[0]; img.data[o + 1] = col[1]; img.data[o + 2] = col[2]; img.data[o + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  const dx = (f.x1 - f.x0) / (nx - 1) / 2, dy = (f.y0 - f.y1) / (ny - 1) / 2;
  el("image", { href: cv.toDataURL(), x: f.x0 - dx, y: f.y1 - dy, width: f.x1 - f.x0 + 2 * dx, height: f.y0 - f.y1 + 2 * dy, preserveAspectRatio: "none", "clip-path": `url(#${clipId})`, style: "image-rendering:auto" }, g);
  const px = (i) => xs(c.x[0] + (c.x[nx - 1] - c.x[0]) * i / (nx - 1));
  const py = (j) => ys(c.y[0] + (c.y[ny - 1] - c.y[0]) * j / (ny - 1));
  const levels = 14;
  let dAll = "";
  for (let k = 1; k < levels; k++) dAll += isoline(lz, lo + (hi - lo) * k / levels, px, py);
  el("path", { d: dAll, fill: "none", stroke: "rgba(255,255,255,0.75)", "stroke-width": 0.8, class: "contours", "clip-path": `url(#${clipId})` }, g);
  const xt = linTicks(c.x[0], c.x[nx - 1], Math.max(3, Math.floor((f.x1 - f.x0) / 70))), yt = linTicks(c.y[0], c.y[ny - 1], 5);
  axes(g, f, xs, ys, xt, yt, tickFormat(xt), tickFormat(yt), { x: c.params[0], y: c.params[1] });
  const pg = el("g", { "clip-path": `url(#${clipId})` }, g);
  const drawn = [];
  paths.forEach((p, k) => {
    const color = p.color || PALETTE[k % PALETTE.length];
    const n = Math.min(p.points.length, Number.isFinite(p.upTo) ? p.upTo : Infinity);
    let d = "", pen = false, last = null, first = null;
    for (let i = 0; i < n; i++) {
      const q = p.points[i], x = num(q[p.ix]), y = num(q[p.iy]);
      if (!finiteXY(x, y)) { pen = false; continue; }
      const X = xs(x), Y = ys(y);
      d += (pen ? "L" : "M") + X.toFixed(1) + " " + Y.toFixed(1);
      pen = true; last = [X, Y]; if (!first) first = [X, Y];
      drawn.push({ X, Y, p, i });
    }
    el("path", { d, fill: "none", stroke: color, "stroke-width": p.faint ? 0.7 : 2, "stroke-linejoin": "round", "stroke-opacity": p.faint ? 0.35 : 0.95, class: "run-path", "data-name": p.name || "" }, pg);
    if (p.faint) return;
    if (p.dots && n <= 400) {
      for (let i = 0; i < n; i++) {
        const q = p.points[i], x = num(q[p.ix]), y = num(q[p.iy]);
        if (finiteXY(x, y)) el("circle", { cx: xs(x), cy: ys(y), r: 1.8, fill: color }, pg);
      }
    }
    if (first) el("circle", { cx: first[0], cy: first[1], r: 4, fill: "#fff", stroke: color, "stroke-width": 2, class: "start" }, pg);
    if (last) el("circle", { cx: last[0], cy: last[1], r: 4.5, fill: p.dots ? BAD : color, stroke: "#fff", "stroke-width": 1.5, class: "end" }, pg);
  });
  minimumMark(g, f, xs, ys, c);
  const named = paths.filter((p) => !p.faint && !p.dots);
  if (named.length > 1) legend(g, f, named.map((p, k) => ({ name: p.name, color: p.color || PALETTE[k % PALETTE.length] })));
  if (c.fixed && c.fixed.length) {
    text(g, f.x1 - 4, f.y0 - 6, c.fixed.map(([n, v]) => `${n} = ${fmt(v, 4)}`).join(", "), { "text-anchor": "end", class: "title fixed" });
  }
  hoverable(svg);
  svg.__hover = (X, Y) => {
    if (X < f.x0 - 4 || X > f.x1 + 4 || Y < f.y1 - 4 || Y > f.y0 + 4) return null;
    // The nearest point of a path, if one is close; else the grid point under the pointer.
    let best = null, bd = 14 * 14;
    for (const q of drawn) { const d = (q.X - X) ** 2 + (q.Y - Y) ** 2; if (d <= bd) { bd = d; best = q; } }
    if (best) {
      const q = best.p.points[best.i];
      const lines = [best.p.label ? best.p.label(best.i) : `${best.p.name || "path"}, point ${best.i}`];
      lines.push(`${c.params[0]} = ${exact(q[best.p.ix])}`, `${c.params[1]} = ${exact(q[best.p.iy])}`);
      if (best.p.error) { const e = best.p.error(best.i); if (e !== undefined) lines.push(`error ${exact(e)}`); }
      return { lines, at: [best.X, best.Y] };
    }
    const i = Math.max(0, Math.min(nx - 1, Math.round((xs.invert(X) - c.x[0]) / (c.x[nx - 1] - c.x[0]) * (nx - 1))));
    const j = Math.max(0, Math.min(ny - 1, Math.round((ys.invert(Y) - c.y[0]) / (c.y[ny - 1] - c.y[0]) * (ny - 1))));
    return {
      lines: [`${c.params[0]} = ${fmt(c.x[i], 6)}, ${c.params[1]} = ${fmt(c.y[j], 6)}`, `mean error ${exact(c.z[j][i])}`, "(a point of the grid drawn)"],
      at: [xs(c.x[i]), ys(c.y[j])],
    };
  };
}

/**
 * The surface's minimum: `c.minimum` (found by the server: where the gradient vanishes),
 * or else the lowest grid point. Drawn as a star with its coordinates inside the plot, or, when
 * it lies outside the window, as an arrow at the edge pointing towards it.
 */
function minimumMark(g, f, xs, ys, c) {
  const found = !!c.minimum;
  const at = found ? c.minimum.at : c.min;
  if (!at) return;
  const [mx, my] = at.map(num);
  if (!Number.isFinite(mx) || !Number.isFinite(my)) return;
  const name = `${found ? "minimum" : "lowest grid point"} (${fmt(mx, 4)}, ${fmt(my, 4)})`;
  const X = xs(mx), Y = ys(my);
  const mg = el("g", { class: "minimum" }, g);
  const inside = X >= f.x0 && X <= f.x1 && Y >= f.y1 && Y <= f.y0;
  if (inside) {
    const star = [];
    for (let k = 0; k < 10; k++) { const r = k % 2 ? 2.6 : 6.5, a = Math.PI / 5 * k - Math.PI / 2; star.push(`${(X + r * Math.cos(a)).toFixed(1)},${(Y + r * Math.sin(a)).toFixed(1)}`); }
    el("polygon", { points: star.join(" "), fill: "#fff", stroke: "#1d2330", "stroke-width": 1.3 }, mg);
    const right = X < (f.x0 + f.x1) / 2;
    const ty = Y - 9 < f.y1 + 10 ? Y + 18 : Y - 9;
    text(mg, right ? X + 9 : X - 9, ty, name, { "text-anchor": right ? "start" : "end", class: "title halo-text" });
    return;
  }
  // Outside: where the line from the window's centre to the minimum leaves the window.
  const cx = (f.x0 + f.x1) / 2, cy = (f.y0 + f.y1) / 2;
  const dx = X - cx, dy = Y - cy;
  const t = Math.min(dx ? Math.abs((dx > 0 ? f.x1 - cx : cx - f.x0) / dx) : Infinity, dy ? Math.abs((dy > 0 ? f.y0 - cy : cy - f.y1) / dy) : Infinity);
  const ex = cx + dx * t * 0.97, ey = cy + dy * t * 0.97;
  const len = Math.hypot(dx, dy) || 1, ux = dx / len, uy = dy / len;
  el("path", { d: `M${ex - 22 * ux} ${ey - 22 * uy}L${ex} ${ey}M${ex} ${ey}L${ex - 7 * ux + 4 * uy} ${ey - 7 * uy - 4 * ux}M${ex} ${ey}L${ex - 7 * ux - 4 * uy} ${ey - 7 * uy + 4 * ux}`, stroke: "#1d2330", "stroke-width": 1.6, fill: "none" }, mg);
  const right = ex < (f.x0 + f.x1) / 2;
  text(mg, right ? ex + 6 : ex - 6, Math.min(f.y0 - 6, Math.max(f.y1 + 12, ey + (uy > 0 ? -10 : 16))), name + " →", { "text-anchor": right ? "start" : "end", class: "title halo-text" });
}

// ───────────── stability map ─────────────

/**
 * The stability map: one cell per run, shaded by log final error; diverged cells
 * crossed. opts: {logX, onPick(i, j) (a cell clicked, or chosen with the arrow keys and
 * Enter), selected: [i, j]}.
 */
export function heatmap(svg, s, opts) {
  opts = opts || {};
  const f = frame(svg, { l: 62, r: 84, t: 14, b: 44 }, () => heatmap(svg, s, opts));
  const nx = s.x.length, ny = s.y.length;
  const cw = (f.x1 - f.x0) / nx, ch = (f.y0 - f.y1) / ny;
  const init = num(s.initial_error);
  let lo = Infinity, hi = -Infinity;
  for (const r of s.z) for (const v0 of r) { const v = num(v0); if (v > 0 && Number.isFinite(v)) { lo = Math.min(lo, Math.log10(v)); hi = Math.max(hi, Math.log10(v)); } }
  // Cells worse than the start all get the darkest colour: the scale spans from the best
  // cell to the initial error, where the learning happens.
  if (Number.isFinite(init) && init > 0) hi = Math.log10(init);
  if (lo >= hi) lo = hi - 1;
  if (!Number.isFinite(lo)) { lo = 0; hi = 1; }
  if (hi - lo < 1e-9) hi = lo + 1;
  const g = el("g", {}, svg);
  const bad = (i, j) => s.diverged[j][i] > 0 || !Number.isFinite(num(s.z[j][i]));
  const describe = (i, j) => {
    const v = num(s.z[j][i]);
    return [`${s.x_name} = ${fmt(s.x[i], 4)}${s.y_name ? `, ${s.y_name} = ${fmt(s.y[j], 4)}` : ""}`,
      bad(i, j) ? `diverged at step ${s.diverged[j][i]}` : `final mean error ${exact(v)}`,
      s.class ? `verdict: ${s.class[j][i]}` : "", opts.onPick ? "click to open this run" : ""].filter(Boolean);
  };
  s.z.forEach((row, j) => row.forEach((v0, i) => {
    const x = f.x0 + i * cw, y = f.y0 - (j + 1) * ch;
    const v = num(v0);
    const b = bad(i, j);
    const t = b ? 0 : 1 - (Math.min(hi, v > 0 ? Math.log10(v) : lo) - lo) / (hi - lo);
    el("rect", { x: x + 0.5, y: y + 0.5, width: Math.max(0.5, cw - 1), height: Math.max(0.5, ch - 1), fill: b ? "#fbeee4" : rgb(viridis(t, 0.1)), class: b ? "cell diverged" : "cell", "data-i": i, "data-j": j }, g);
    if (b) {
      const m = Math.min(cw, ch) * 0.28, cx = x + cw / 2, cy = y + ch / 2;
      el("path", { d: `M${cx - m} ${cy - m}L${cx + m} ${cy + m}M${cx - m} ${cy + m}L${cx + m} ${cy - m}`, stroke: BAD, "stroke-width": Math.min(2, cw / 4) }, g);
    }
  }));
  // Round ticks (powers of ten on a log axis, 0.2 steps on β) at their places between
  // the cells' centres, which are the grid's values.
  const place = (vals, log) => {
    const f0 = log ? Math.log10 : (v) => v;
    const a = f0(vals[0]), b = f0(vals[vals.length - 1]);
    return (t) => (vals.length < 2 || b === a ? 0 : (f0(t) - a) / (b - a) * (vals.length - 1));
  };
  const lo0 = s.x[0], hi0 = s.x[nx - 1];
  const xTicks = opts.logX ? logTicks(Math.min(lo0, hi0), Math.max(lo0, hi0)) : linTicks(Math.min(lo0, hi0), Math.max(lo0, hi0), 6);
  const px = place(s.x, opts.logX);
  for (const t of xTicks) {
    const X = f.x0 + (px(t) + 0.5) * cw;
    el("line", { x1: X, x2: X, y1: f.y0, y2: f.y0 + 4, class: "axis" }, g);
    text(g, X, f.y0 + 16, tickLabel(t), { "text-anchor": "middle", class: "tick" });
  }
  if (s.y_name && ny > 1) {
    const py = place(s.y, false);
    for (const t of linTicks(Math.min(s.y[0], s.y[ny - 1]), Math.max(s.y[0], s.y[ny - 1]), 5)) {
      const Y = f.y0 - (py(t) + 0.5) * ch;
      el("line", { x1: f.x0 - 4, x2: f.x0, y1: Y, y2: Y, class: "axis" }, g);
      text(g, f.x0 - 6, Y + 4, tickLabel(t), { "text-anchor": "end", class: "tick" });
    }
  }
  text(g, (f.x0 + f.x1) / 2, f.h - 6, s.x_name + (opts.logX ? " (log scale)" : ""), { "text-anchor": "middle", class: "title" });
  if (s.y_name) text(g, 14, (f.y0 + f.y1) / 2, s.y_name, { "text-anchor": "middle", class: "title", transform: `rotate(-90 14 ${(f.y0 + f.y1) / 2})` });
  // Colour key: from the best cell's error to the initial error, with its ends labelled.
  const kx = f.x1 + 14, kh = f.y0 - f.y1;
  for (let k = 0; k < 40; k++) el("rect", { x: kx, y: f.y1 + kh * k / 40, width: 12, height: kh / 40 + 0.5, fill: rgb(viridis(k / 40, 0.1)) }, g);
  text(g, kx + 16, f.y1 + 9, "≥ " + fmt(Math.pow(10, hi), 2), { class: "tick" });
  text(g, kx + 16, f.y1 + 21, "(start)", { class: "tick" });
  text(g, kx + 16, f.y0, fmt(Math.pow(10, lo), 2), { class: "tick" });
  el("rect", { x: kx, y: f.y0 + 10, width: 12, height: 12, fill: "#fbeee4", stroke: BAD }, g);
  text(g, kx + 16, f.y0 + 20, "diverged", { class: "tick" });
  // The chosen cell.
  const sel = opts.selected;
  if (sel && sel[0] < nx && sel[1] < ny) {
    el("rect", { x: f.x0 + sel[0] * cw, y: f.y0 - (sel[1] + 1) * ch, width: cw, height: ch, fill: "none", stroke: "#1d2330", "stroke-width": 2, class: "selected" }, g);
  }
  const cellAt = (X, Y) => {
    const i = Math.floor((X - f.x0) / cw), j = Math.floor((f.y0 - Y) / ch);
    return i >= 0 && i < nx && j >= 0 && j < ny ? [i, j] : null;
  };
  hoverable(svg);
  svg.__hover = (X, Y) => {
    const c = cellAt(X, Y);
    return c ? { lines: describe(c[0], c[1]), at: [f.x0 + (c[0] + 0.5) * cw, f.y0 - (c[1] + 0.5) * ch] } : null;
  };
  svg.__cellAt = cellAt;
  svg.__describe = describe;
  if (opts.onPick && !svg.__pickBound) {
    svg.__pickBound = true;
    svg.classList.add("pickable");
    svg.addEventListener("click", (e) => {
      const p = svgPoint(svg, e), c = p && svg.__cellAt(p.x, p.y);
      if (c) svg.__pick(c[0], c[1]);
    });
  }
  svg.__pick = opts.onPick || (() => {});
}
