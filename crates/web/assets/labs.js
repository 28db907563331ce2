// The labs page: every lab of the command line, its controls built from the parameter
// list the server sends (`GET /api/labs`), its notes, tables, figures and images redrawn
// from each answer (`POST /api/lab`).

import { fmt, num } from "./charts.js";
import { message, showTiming, slider } from "./controls.js";
import { $, esc } from "./dom.js";
import { api, runner } from "./server.js";
import { writeHash } from "./url.js";

// ───────────── labs ─────────────

/** A number box's text for a parameter value (lists and choices stay text). */
function labCell(v) {
  if (v === null || v === undefined) return ["", false];
  if (typeof v === "number") return [fmt(v, 6), false];
  if (v === "NaN" || v === "Infinity" || v === "-Infinity") return [fmt(v), false];
  return [String(v), true];
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
      $("labs-name").innerHTML = groups.map(([g, label]) => `<optgroup label="${label}">` +
        list.filter((l) => l.group === g).map((l) => `<option value="${esc(l.name)}">${esc(l.name)}</option>`).join("") + "</optgroup>").join("");
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
    const box = $("labs-params");
    box.innerHTML = "";
    this.sliders = [];
    const val = (q) => (this.s.params[q.name] !== undefined ? this.s.params[q.name] : q.default);
    for (const q of info.params) {
      const id = "labs-p-" + q.name;
      const help = `<span class="help">${esc(q.help)}</span>`;
      if (q.kind === "choice") {
        const l = document.createElement("label");
        l.className = "field";
        l.innerHTML = `${esc(q.name)} <select id="${id}">${q.choices.map((c) => `<option>${esc(c)}</option>`).join("")}</select>${help}`;
        box.appendChild(l);
        $(id).value = val(q);
        $(id).addEventListener("change", (e) => { this.s.params[q.name] = e.target.value; this.schedule(); });
      } else if (q.kind === "list") {
        const l = document.createElement("label");
        l.className = "field listp";
        l.innerHTML = `${esc(q.name)} <input type="text" id="${id}" spellcheck="false" autocomplete="off">${help}`;
        box.appendChild(l);
        $(id).value = val(q);
        let timer = 0;
        $(id).addEventListener("input", (e) => { this.s.params[q.name] = e.target.value.replace(/\s/g, ""); clearTimeout(timer); timer = setTimeout(this.schedule, 250); });
      } else {
        const int = q.kind === "integer";
        const log = !int && q.min > 0 && q.max / q.min >= 1000;
        const d = document.createElement("div");
        d.className = "slider";
        d.dataset.min = log ? Math.log10(q.min) : q.min;
        d.dataset.max = log ? Math.log10(q.max) : q.max;
        if (log) d.dataset.log = "1";
        if (int) d.dataset.int = "1";
        const step = int ? 1 : log ? 0.01 : (q.max - q.min) / 200;
        d.innerHTML = `<label for="${id}" title="${esc(q.help)}">${esc(q.name)}</label><input type="range" id="${id}" step="${step}"><input type="number" class="num" id="${id}-num" step="any">${help}`;
        box.appendChild(d);
        const sl = slider(id, () => parseFloat(val(q)), (v) => { this.s.params[q.name] = String(+(+v).toPrecision(6)); }, this.schedule);
        sl.show();
        this.sliders.push(sl);
      }
    }
    if (!info.params.length) box.innerHTML = `<p class="note">This workbook has no settings: its numbers are the sheet's.</p>`;
  },
  async update() {
    await this.ready;
    if (!this.list) return;
    const info = this.info();
    if (!info) return;
    const t0 = performance.now();
    const params = {};
    for (const q of info.params) if (this.s.params[q.name] !== undefined) params[q.name] = String(this.s.params[q.name]);
    const r = await api("/api/lab", { name: info.name, params });
    if (info.name !== this.s.name) return; // the lab changed meanwhile: its own update follows
    $("labs-work").classList.toggle("stale", !!r.error);
    if (r.error) { message("labs-msg", r.error, true); window.__labShown = null; return; }
    message("labs-msg", "");
    $("labs-notes").innerHTML = r.notes.map((n) => `<p>${esc(n)}</p>`).join("");
    $("labs-figures").innerHTML = r.figures.map((f, i) =>
      `<figure data-name="${esc(f.name)}"><figcaption>${esc(f.title)}</figcaption><div class="svgbox" id="labs-fig-${i}">${f.svg}</div></figure>`).join("");
    // Each figure at most its own size, so that a small chart is not blown up.
    for (const svg of $("labs-figures").querySelectorAll(".svgbox > svg")) {
      const w = parseFloat(svg.getAttribute("width"));
      if (w > 0) svg.style.maxWidth = w + "px";
    }
    $("labs-images").innerHTML = r.images.map((im, i) => `<figure><figcaption>${esc(im.name)} <span class="hint">${im.width}×${im.height}</span></figcaption><canvas id="labs-img-${i}"></canvas></figure>`).join("");
    r.images.forEach((im, i) => {
      const c = $("labs-img-" + i);
      c.width = im.width; c.height = im.height;
      const ctx = c.getContext("2d"), data = ctx.createImageData(im.width, im.height);
      im.pixels.forEach((v, k) => {
        const g = Math.round(255 * Math.min(1, Math.max(0, num(v) || 0)));
        data.data.set([g, g, g, 255], 4 * k);
      });
      ctx.putImageData(data, 0, 0);
    });
    $("labs-tables").innerHTML = r.tables.map((t) => {
      const isText = (t.rows[0] || []).map((v) => labCell(v)[1]);
      const head = t.headers.map((h, j) => `<th${isText[j] ? ' class="txt"' : ""}>${esc(h)}</th>`).join("");
      const body = t.rows.map((row) => "<tr>" + row.map((v) => { const [s, txt] = labCell(v); return `<td${txt ? ' class="txt"' : ""}>${esc(s)}</td>`; }).join("") + "</tr>").join("");
      const more = t.total_rows > t.rows.length ? `<p class="more">the first ${t.rows.length} of ${t.total_rows} rows (the command line's --csv writes every one)</p>` : "";
      return `<div class="lab-table" data-name="${esc(t.name)}"><h3>${esc(t.title)}</h3><div class="sheet-wrap"><table class="sheet"><thead><tr class="names">${head}</tr></thead><tbody>${body}</tbody></table></div>${more}</div>`;
    }).join("");
    showTiming(`lab ${info.name}`, t0, r.compute_ms);
    window.__labShown = info.name;
  },
};

export { labsPage };
