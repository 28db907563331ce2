// gradsheet's charts: small hand-written SVG drawing, no library. Every chart is redrawn
// from scratch on each update (a few thousand points at most), which is fast enough to
// follow a slider.

const NS = "http://www.w3.org/2000/svg";
// Okabe–Ito: distinguishable with the common colour-vision deficiencies.
export const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"];

/** A JSON number as sent by the server: NaN and infinities arrive as strings. */
export function num(v) {
  if (typeof v === "number") return v;
  if (v === "Infinity") return Infinity;
  if (v === "-Infinity") return -Infinity;
  return NaN;
}

/** A number as a spreadsheet shows it in a narrow column: about 7 significant digits. */
export function fmt(v, digits) {
  v = num(v);
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+∞";
  if (v === -Infinity) return "−∞";
  if (v === 0) return "0";
  const d = digits || 7;
  const a = Math.abs(v);
  if (a >= 1e7 || a < 1e-4) {
    const s = v.toExponential(Math.max(1, d - 3));
    return s.replace(/\.?0+e/, "e").replace("e+", "e");
  }
  let s = v.toPrecision(d);
  if (s.includes(".")) s = s.replace(/0+$/, "").replace(/\.$/, "");
  return s;
}

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

function clear(svg) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const vb = svg.viewBox.baseVal;
  return { w: vb.width, h: vb.height };
}

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

/** Ticks of a log axis over [lo, hi] (both > 0): powers of ten, or 1-2-5 within one decade. */
function logTicks(lo, hi) {
  const a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
  const out = [];
  if (b - a <= 2) {
    for (let e = a; e <= b; e++) for (const k of [1, 2, 5]) { const t = k * Math.pow(10, e); if (t >= lo && t <= hi) out.push(t); }
    return out;
  }
  const every = Math.ceil((b - a) / 6);
  for (let e = a; e <= b; e += every) { const t = Math.pow(10, e); if (t >= lo * 0.999 && t <= hi * 1.001) out.push(t); }
  return out;
}

function tickLabel(t) {
  const a = Math.abs(t);
  if (t !== 0 && (a >= 1e5 || a < 1e-3)) {
    const e = Math.round(Math.log10(a));
    if (Math.abs(a - Math.pow(10, e)) < 1e-9 * a) return (t < 0 ? "−" : "") + "10" + sup(e);
    return t.toExponential(1).replace("e+", "e");
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
  return (v) => p0 + (f(v) - a) * k;
}

function frame(svg, m) {
  const { w, h } = clear(svg);
  return { w, h, x0: m.l, x1: w - m.r, y0: h - m.b, y1: m.t };
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
    text(g, f.x0 - 6, y + 3.5, yfmt(t), { "text-anchor": "end" });
  }
  for (const t of xTicks) {
    const x = xs(t);
    el("line", { x1: x, x2: x, y1: f.y0, y2: f.y0 + 4, class: "axis" }, g);
    text(g, x, f.y0 + 16, xfmt(t), { "text-anchor": "middle" });
  }
  el("line", { x1: f.x0, x2: f.x1, y1: f.y0, y2: f.y0, class: "axis" }, g);
  el("line", { x1: f.x0, x2: f.x0, y1: f.y0, y2: f.y1, class: "axis" }, g);
  if (labels && labels.x) text(g, (f.x0 + f.x1) / 2, f.h - 4, labels.x, { "text-anchor": "middle", class: "title" });
  if (labels && labels.y) text(g, 12, (f.y0 + f.y1) / 2, labels.y, { "text-anchor": "middle", class: "title", transform: `rotate(-90 12 ${(f.y0 + f.y1) / 2})` });
}

/**
 * Lines of y against x. series: [{name, color, x: [..], y: [..]}]; opts: {logY, xLabel,
 * yLabel, marker: {x, label}}. Non-finite (and, on a log axis, non-positive) values
 * break a line rather than bend it.
 */
export function lineChart(svg, series, opts) {
  opts = opts || {};
  const f = frame(svg, { l: 62, r: 16, t: 14, b: 38 });
  let xlo = Infinity, xhi = -Infinity, ylo = Infinity, yhi = -Infinity;
  for (const s of series) {
    s.x.forEach((x, i) => {
      const y = num(s.y[i]);
      if (!Number.isFinite(y) || (opts.logY && y <= 0)) return;
      xlo = Math.min(xlo, x); xhi = Math.max(xhi, x); ylo = Math.min(ylo, y); yhi = Math.max(yhi, y);
    });
  }
  if (!Number.isFinite(xlo)) {
    text(svg, f.w / 2, f.h / 2, "no finite values to draw", { "text-anchor": "middle" });
    return;
  }
  if (xhi === xlo) { xhi = xlo + 1; }
  if (opts.logY) {
    if (yhi / ylo < 10) { const mid = Math.sqrt(yhi * ylo); ylo = Math.min(ylo, mid / 3.2); yhi = Math.max(yhi, mid * 3.2); }
    ylo = Math.pow(10, Math.floor(Math.log10(ylo) * 4) / 4); yhi = Math.pow(10, Math.ceil(Math.log10(yhi) * 4) / 4);
  } else if (yhi === ylo) { ylo -= 1; yhi += 1; }
  const xs = scale(xlo, xhi, f.x0, f.x1, false);
  const ys = scale(ylo, yhi, f.y0, f.y1, !!opts.logY);
  const g = el("g", {}, svg);
  const xt = linTicks(xlo, xhi, 6).filter((t) => Number.isInteger(t) || xhi - xlo < 6);
  const yt = opts.logY ? logTicks(ylo, yhi) : linTicks(ylo, yhi, 5);
  axes(g, f, xs, ys, xt, yt, tickFormat(xt), opts.logY ? tickLabel : tickFormat(yt),
    { x: opts.xLabel, y: opts.yLabel });
  if (opts.marker && Number.isFinite(opts.marker.x)) {
    const x = Math.min(f.x1, Math.max(f.x0, xs(opts.marker.x)));
    el("line", { x1: x, x2: x, y1: f.y0, y2: f.y1, stroke: "#D55E00", "stroke-dasharray": "4 3", "stroke-width": 1.5 }, g);
    text(g, x - 5, f.y0 - 6, opts.marker.label, { "text-anchor": "end", fill: "#D55E00", class: "marker-label" });
  }
  series.forEach((s, k) => {
    let d = "", pen = false;
    s.x.forEach((x, i) => {
      const y = num(s.y[i]);
      if (!Number.isFinite(y) || (opts.logY && y <= 0)) { pen = false; return; }
      d += (pen ? "L" : "M") + xs(x).toFixed(1) + " " + ys(y).toFixed(1);
      pen = true;
    });
    el("path", { d, fill: "none", stroke: s.color || PALETTE[k % PALETTE.length], "stroke-width": s.faint ? 1 : 2, "stroke-opacity": s.faint ? 0.7 : 1, "stroke-linejoin": "round", class: s.faint ? "series faint" : "series", "data-name": s.name || "" }, g);
  });
  if (series.length > 1) legend(g, f, series);
}

function legend(g, f, series) {
  let y = f.y1 + 4;
  const wMax = Math.max(...series.map((s) => String(s.name).length)) * 6.5 + 26;
  el("rect", { x: f.x1 - wMax - 6, y: y - 3, width: wMax + 4, height: series.length * 15 + 4, rx: 4, fill: "rgba(255,255,255,0.85)", stroke: "#d9dee7" }, g);
  for (const [k, s] of series.entries()) {
    const c = s.color || PALETTE[k % PALETTE.length];
    el("rect", { x: f.x1 - wMax, y: y, width: 10, height: 10, rx: 2, fill: c }, g);
    text(g, f.x1 - wMax + 15, y + 9, s.name, { class: "title" });
    y += 15;
  }
}

// A light version of viridis for the error surface: low error light yellow-green, high
// error blue-violet, mixed with white so that paths drawn on it stay readable.
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function viridis(t, wash) {
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

/**
 * The error surface of two parameters as a shaded map with contour lines, and paths on
 * it. c: the server's contours; paths: [{name, color, points: [[p..]], ix, iy}].
 */
export function contourChart(svg, c, paths, opts) {
  opts = opts || {};
  const f = frame(svg, { l: 62, r: 16, t: 14, b: 38 });
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
  const xt = linTicks(c.x[0], c.x[nx - 1], 6), yt = linTicks(c.y[0], c.y[ny - 1], 5);
  axes(g, f, xs, ys, xt, yt, tickFormat(xt), tickFormat(yt),
    { x: c.params[0], y: c.params[1] });
  // The grid's minimum: where the valley bottoms out.
  const mx = xs(c.min[0]), my = ys(c.min[1]);
  el("path", { d: `M${mx - 5} ${my}L${mx + 5} ${my}M${mx} ${my - 5}L${mx} ${my + 5}`, stroke: "#000", "stroke-width": 1.5 }, g);
  const pg = el("g", { "clip-path": `url(#${clipId})` }, g);
  paths.forEach((p, k) => {
    const color = p.color || PALETTE[k % PALETTE.length];
    let d = "", pen = false, last = null, first = null;
    for (const q of p.points) {
      const x = num(q[p.ix]), y = num(q[p.iy]);
      if (!Number.isFinite(x) || !Number.isFinite(y) || Math.abs(x) > 1e15 || Math.abs(y) > 1e15) { pen = false; continue; }
      const X = xs(x), Y = ys(y);
      d += (pen ? "L" : "M") + X.toFixed(1) + " " + Y.toFixed(1);
      pen = true; last = [X, Y]; if (!first) first = [X, Y];
    }
    el("path", { d, fill: "none", stroke: color, "stroke-width": p.faint ? 0.7 : 2, "stroke-linejoin": "round", "stroke-opacity": p.faint ? 0.35 : 0.95, class: "run-path", "data-name": p.name || "" }, pg);
    if (p.faint) return;
    if (p.dots && p.points.length <= 400) {
      for (const q of p.points) {
        const x = num(q[p.ix]), y = num(q[p.iy]);
        if (Number.isFinite(x) && Number.isFinite(y) && Math.abs(x) < 1e15 && Math.abs(y) < 1e15) el("circle", { cx: xs(x), cy: ys(y), r: 1.8, fill: color }, pg);
      }
    }
    if (first) el("circle", { cx: first[0], cy: first[1], r: 4, fill: "#fff", stroke: color, "stroke-width": 2 }, pg);
    if (last) el("circle", { cx: last[0], cy: last[1], r: 4.5, fill: p.dots ? "#D55E00" : color, stroke: "#fff", "stroke-width": 1.5 }, pg);
  });
  const named = paths.filter((p) => !p.faint && !p.dots);
  if (named.length > 1) legend(g, f, named.map((p, k) => ({ name: p.name, color: p.color || PALETTE[k % PALETTE.length] })));
  if (c.fixed && c.fixed.length) {
    text(g, f.x1 - 4, f.y0 - 6, c.fixed.map(([n, v]) => `${n} = ${fmt(v, 4)}`).join(", "), { "text-anchor": "end", class: "title" });
  }
}

/** The stability map: one cell per run, shaded by log final error; diverged cells crossed. */
export function heatmap(svg, s, opts) {
  opts = opts || {};
  const f = frame(svg, { l: 70, r: 96, t: 14, b: 44 });
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
  s.z.forEach((row, j) => row.forEach((v0, i) => {
    const x = f.x0 + i * cw, y = f.y0 - (j + 1) * ch;
    const v = num(v0);
    const bad = s.diverged[j][i] > 0 || !Number.isFinite(v);
    const t = bad ? 0 : 1 - (Math.min(hi, v > 0 ? Math.log10(v) : lo) - lo) / (hi - lo);
    const r = el("rect", { x: x + 0.5, y: y + 0.5, width: cw - 1, height: ch - 1, fill: bad ? "#fbeee4" : rgb(viridis(t, 0.1)), class: bad ? "cell diverged" : "cell" }, g);
    const tip = el("title", {}, r);
    tip.textContent = `${s.x_name} = ${fmt(s.x[i], 4)}${s.y_name ? `, ${s.y_name} = ${fmt(s.y[j], 4)}` : ""}: ` +
      (bad ? `diverged at step ${s.diverged[j][i]}` : `final error ${fmt(v, 5)}`) +
      (s.class ? ` (${s.class[j][i]})` : "");
    if (bad) {
      const m = Math.min(cw, ch) * 0.28, cx = x + cw / 2, cy = y + ch / 2;
      el("path", { d: `M${cx - m} ${cy - m}L${cx + m} ${cy + m}M${cx - m} ${cy + m}L${cx + m} ${cy - m}`, stroke: "#D55E00", "stroke-width": 2 }, g);
    }
  }));
  const every = Math.ceil(nx / 8);
  s.x.forEach((v, i) => { if (i % every === 0 || i === nx - 1) text(g, f.x0 + (i + 0.5) * cw, f.y0 + 15, fmt(v, 2), { "text-anchor": "middle" }); });
  if (s.y_name) {
    const ev = Math.ceil(ny / 10);
    s.y.forEach((v, j) => { if (j % ev === 0 || j === ny - 1) text(g, f.x0 - 6, f.y0 - (j + 0.5) * ch + 4, fmt(v, 3), { "text-anchor": "end" }); });
  }
  text(g, (f.x0 + f.x1) / 2, f.h - 6, s.x_name + (opts.logX ? " (log scale)" : ""), { "text-anchor": "middle", class: "title" });
  if (s.y_name) text(g, 14, (f.y0 + f.y1) / 2, s.y_name, { "text-anchor": "middle", class: "title", transform: `rotate(-90 14 ${(f.y0 + f.y1) / 2})` });
  // Colour key.
  const kx = f.x1 + 24, kh = f.y0 - f.y1;
  for (let k = 0; k < 40; k++) el("rect", { x: kx, y: f.y1 + kh * k / 40, width: 14, height: kh / 40 + 0.5, fill: rgb(viridis(k / 40, 0.1)) }, g);
  text(g, kx + 18, f.y1 + 9, "≥ " + fmt(Math.pow(10, hi), 2), {});
  text(g, kx + 18, f.y0, fmt(Math.pow(10, lo), 2), {});
  el("rect", { x: kx, y: f.y0 + 10, width: 14, height: 12, fill: "#fbeee4", stroke: "#D55E00" }, g);
  text(g, kx + 18, f.y0 + 20, "diverged", {});
}
