// The workbook page: the learner's own .xlsx, .xlsm or .ods, opened on the server with the same
// library as `gradsheet book`. Its sheets show as a grid (column letters, row numbers, the
// selected cell's formula in a formula bar); cells whose recalculation differs from what
// Excel saved are marked; the derivative columns the learner typed are coloured by their
// verdict, the verdict's note at the column's head. Clicking a formula cell shows its
// exact derivative with respect to every input it depends on; typing a new value into an
// input recalculates every cell (POST /api/book/{id}/values: one evaluation of the
// compiled workbook); Run plays the sheet's loop, copying values back each epoch.
//
// The workbook lives on the server, in a small cache keyed by its content: the page keeps
// its id, and uploads the file again if the server has forgotten it.

import { $, fill, h } from "./dom.js";
import { message, showTiming } from "./controls.js";
import { exact, fmt } from "./numbers.js";
import { api } from "./server.js";
import { writeHash } from "./url.js";

/** The verdict's class and its short name at the column's head. */
const VERDICTS = {
  "exact": ["v-exact", "exact"],
  "forward difference": ["v-diff", "forward diff."],
  "backward difference": ["v-diff", "backward diff."],
  "central difference": ["v-diff", "central diff."],
  "wrong": ["v-wrong", "wrong"],
};

/** Column letters of a zero-based column: 0 → A, 26 → AA. */
function letters(c) {
  let s = "";
  for (let n = c + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}

/** `B4` → [row 3, column 1]. */
function parseCell(a) {
  const m = /^\$?([A-Z]{1,3})\$?(\d+)$/.exec(a);
  if (!m) return null;
  let c = 0;
  for (const ch of m[1]) c = c * 26 + ch.charCodeAt(0) - 64;
  return [parseInt(m[2], 10) - 1, c - 1];
}

/** A sheet name as Excel writes it in a reference: quoted unless it is one word. */
function quoted(name) {
  return /^[\p{L}\p{N}_]+$/u.test(name) ? name : `'${name.replace(/'/g, "''")}'`;
}

/** A value as the grid shows it. */
function shown(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "boolean") return v ? "TRUE" : "FALSE";
  if (typeof v === "number" || v === "NaN" || v === "Infinity" || v === "-Infinity") return fmt(v);
  return String(v);
}

/** The most rows and columns drawn as they are in the sheet, empty ones included. */
const DENSE_ROWS = 2000, DENSE_COLS = 60;
/** The most grid squares drawn (rows × columns). */
const MAX_SQUARES = 300000;

/**
 * Which rows and columns the grid draws for cells at `places` ([row, column]): all of
 * them up to the last used one, as Excel shows them, when that is small; else only the
 * used ones (a cell at XFD1048576 is one square, not 17 billion), cut to MAX_SQUARES.
 */
function layout(places) {
  const used = (i) => [...new Set(places.map((p) => p[i]))].sort((a, b) => a - b);
  const span = (xs, max) => (xs.length && xs[xs.length - 1] < max ? Array.from({ length: xs[xs.length - 1] + 1 }, (_, i) => i) : xs);
  let rows = span(used(0), DENSE_ROWS);
  const columns = span(used(1), DENSE_COLS);
  let note = "";
  if (rows.length * columns.length > MAX_SQUARES) {
    const keep = Math.max(1, Math.floor(MAX_SQUARES / columns.length));
    note = `the grid shows the first ${keep} of the sheet's ${rows.length} rows in use`;
    rows = rows.slice(0, keep);
  }
  return { rows, columns, note };
}

function build() {
  document.head.append(h("link", { rel: "stylesheet", href: "/assets/book.css" }));
  fill("page-book",
    h("aside", { class: "controls" },
      h("h1", {}, "your workbook"),
      h("p", { class: "lede" }, "Open your own .xlsx, .xlsm or .ods: every formula cell is recalculated and compared with " +
        "what Excel saved, the derivative columns you typed get a verdict, and a click on a cell gives its exact derivative " +
        "with respect to every number it depends on."),
      h("label", { class: "book-drop", id: "book-drop" },
        h("span", {}, "choose a workbook, or drop it here"),
        h("input", { type: "file", id: "book-file", accept: ".xlsx,.xlsm,.ods,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,application/vnd.oasis.opendocument.spreadsheet" })),
      h("p", { class: "book-summary", id: "book-summary" }),
      h("fieldset", { class: "book-run", id: "book-run-box", hidden: true },
        h("legend", {}, "run the sheet's loop"),
        h("p", { class: "hint", id: "book-run-hint" }, "Each epoch copies each FROM cell's value into its TO cell (the last row's parameters back to the top, " +
          "as the sheet's Run button does), then recalculates. One copy a line, FROM=TO, on the sheet shown."),
        h("label", { class: "field" }, "epochs", h("input", { type: "number", id: "book-epochs", class: "num", min: 1, step: 1, value: 10 })),
        h("label", { class: "field check", id: "book-reset-label", hidden: true },
          h("input", { type: "checkbox", id: "book-reset" }), " press Reset first"),
        h("label", { class: "field wide" }, "copies", h("textarea", { id: "book-copies", rows: 3, spellcheck: "false", placeholder: "D32=C2\nE32=D2" })),
        h("label", { class: "field wide" }, "cells to watch (optional)", h("input", { type: "text", id: "book-watch", spellcheck: "false", placeholder: "F33" })),
        h("div", { class: "downloads" }, h("button", { type: "button", id: "book-run" }, "Run"))),
      h("p", { class: "downloads", id: "book-downloads", hidden: true },
        h("a", { id: "book-checked", href: "#", download: "checked.xlsx" }, "the workbook with an exact column beside each typed one (.xlsx)")),
      h("p", { class: "msg", id: "book-msg", role: "status" })),
    h("div", { class: "work", id: "book-work" },
      h("div", { class: "book-tabs", id: "book-tabs", role: "tablist", "aria-label": "sheets" }),
      h("div", { class: "book-bar", id: "book-bar" },
        h("span", { class: "book-addr", id: "book-addr" }), h("code", { class: "book-formula", id: "book-formula" })),
      h("div", { class: "sheet-wrap book-wrap", id: "book-grid-wrap" },
        h("table", { class: "sheet book-grid", id: "book-grid", "aria-label": "the sheet" })),
      h("div", { class: "card", id: "book-cell", hidden: true }),
      h("div", { class: "card", id: "book-columns", hidden: true }),
      h("div", { class: "card", id: "book-recalc", hidden: true }),
      h("div", { class: "card", id: "book-run-card", hidden: true })));
}

export const bookPage = {
  s: null,
  r: null,

  load(p) {
    this.s = { sheet: p.get("sheet") || "", cell: p.get("cell") || "" };
  },

  init() {
    build();
    this.file = null;
    this.changes = {};
    $("book-file").addEventListener("change", () => { const f = $("book-file").files[0]; if (f) this.open(f); });
    const drop = $("page-book");
    drop.addEventListener("dragover", (e) => { e.preventDefault(); $("book-drop").classList.add("over"); });
    drop.addEventListener("dragleave", () => $("book-drop").classList.remove("over"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault();
      $("book-drop").classList.remove("over");
      const f = e.dataTransfer.files[0];
      if (f) this.open(f);
    });
    $("book-grid").addEventListener("click", (e) => {
      const td = e.target.closest("td[data-cell]");
      if (td) this.select(td.dataset.cell);
    });
    $("book-grid").addEventListener("keydown", (e) => {
      const td = e.target.closest("td[data-cell]");
      if (!td) return;
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); this.select(td.dataset.cell); }
      if (e.key.startsWith("Arrow")) { e.preventDefault(); this.move(td, e.key); }
    });
    $("book-run").addEventListener("click", () => this.run());
  },

  showAll() {},

  schedule() {
    writeHash("book", this.s);
    // The workbook `gradsheet serve --book FILE` opened, the first time the page shows.
    if (!this.asked) {
      this.asked = true;
      this.preloaded();
    }
  },

  async preloaded() {
    let r;
    try { r = await fetch("/api/book"); } catch (_) { return; }
    if (r.ok && !this.r) this.show(await r.json());
  },

  async open(file) {
    this.file = file;
    message("book-msg", `opening ${file.name}…`);
    const t0 = performance.now();
    let j;
    try {
      const r = await fetch(`/api/book?name=${encodeURIComponent(file.name)}`, { method: "POST", body: file });
      j = await r.json();
      if (!r.ok && !j.error) j.error = `the server answered ${r.status}`;
    } catch (_) {
      j = { error: "the gradsheet server does not answer (is it still running?)" };
    }
    if (j.error) { message("book-msg", `${file.name}: ${j.error}`, true); return; }
    showTiming("opened", t0, j.ms);
    this.s = { sheet: "", cell: "" };
    this.show(j);
  },

  /** Asks the server about the open workbook; uploads it again once if it was forgotten. */
  async ask(what, body) {
    let j = await api(`/api/book/${this.r.id}/${what}`, body);
    if (j.error && /upload it again/.test(j.error) && this.file) {
      const r = await fetch(`/api/book?name=${encodeURIComponent(this.file.name)}`, { method: "POST", body: this.file });
      if (r.ok) { this.r.id = (await r.json()).id; j = await api(`/api/book/${this.r.id}/${what}`, body); }
    }
    return j;
  },

  show(r) {
    this.r = r;
    this.changes = {};
    this.values = null;
    const names = r.sheets.map((s) => s.name);
    if (!names.includes(this.s.sheet)) this.s.sheet = names[0] || "";
    const rec = r.recalculation;
    fill("book-summary",
      h("strong", {}, r.name), `: ${r.sheets.length} sheet${r.sheets.length === 1 ? "" : "s"}, ${rec.formula_cells} formula cells — `,
      h("span", { class: "ok" }, `${rec.agree} recalculate to Excel's values`), ", ",
      h("span", { class: rec.differ.length ? "bad" : "" }, `${rec.differ.length} differ`), ", ",
      `${rec.not_recalculated.length} not recalculated; ${r.inputs} inputs`,
      r.macros ? "; it has VBA macros" : "");
    message("book-msg", "");
    $("book-run-box").hidden = false;
    $("book-downloads").hidden = !r.derivative_columns.length;
    $("book-checked").href = `/api/book/${r.id}/checked.xlsx`;
    this.showColumns();
    this.showRecalc();
    this.tabs();
    this.grid();
    $("book-cell").hidden = true;
    $("book-run-card").hidden = true;
    if (this.s.cell) this.select(this.s.cell);
    writeHash("book", this.s);
  },

  sheet() { return this.r.sheets.find((s) => s.name === this.s.sheet); },

  tabs() {
    fill("book-tabs", this.r.sheets.map((s) => {
      const b = h("button", { type: "button", role: "tab", "aria-selected": s.name === this.s.sheet ? "true" : "false", "data-sheet": s.name }, s.name);
      b.addEventListener("click", () => { this.s.sheet = s.name; this.s.cell = ""; this.tabs(); this.grid(); $("book-cell").hidden = true; writeHash("book", this.s); });
      return b;
    }));
    this.runHint();
  },

  /** The run box says what Run will do on the sheet shown: its own macro, or the copies given. */
  runHint() {
    const loop = (this.r.loops || []).find((l) => l.sheet === this.s.sheet && l.source === "macro");
    const solver = (this.r.loops || []).find((l) => l.sheet === this.s.sheet && l.source === "solver");
    $("book-reset-label").hidden = !loop;
    $("book-run-hint").textContent = solver && !loop
      ? `Leave the copies empty and Run solves this sheet's Excel Solver problem (${solver.what}, changing ${solver.copies.join(", ")}) ` +
        "by L-BFGS on the exact gradient, one row an iteration (epochs: iterations)."
      : loop
      ? `Leave the copies empty and Run plays this sheet's own macro, ${loop.what} (it copies ${loop.copies.join(", ") || "nothing"}), ` +
        "recalculating as Excel does; or give copies, one a line, FROM=TO."
      : "Each epoch copies each FROM cell's value into its TO cell (the last row's parameters back to the top, " +
        "as a sheet's Run button does), then recalculates. One copy a line, FROM=TO, on the sheet shown.";
  },

  /** The derivative columns of the sheet shown: column index → verdict. */
  columnsHere() {
    const out = new Map();
    for (const c of this.r.derivative_columns) {
      if (c.sheet !== this.s.sheet) continue;
      const [a, b] = c.range.split(":").map(parseCell);
      if (a && b) out.set(a[1], Object.assign({ from: a[0], to: b[0] }, c));
    }
    return out;
  },

  grid() {
    const sh = this.sheet();
    const table = $("book-grid");
    if (!sh) { fill(table); return; }
    const cols = this.columnsHere();
    const at = new Map(sh.cells.map((c) => [c.cell, c]));
    const { rows, columns, note } = layout(sh.cells.map((c) => parseCell(c.cell)));
    const head = [h("tr", { class: "letters" }, h("th", { class: "rn" }, ""),
      columns.map((c) => h("th", { class: cols.has(c) ? VERDICTS[cols.get(c).verdict][0] : null }, letters(c))))];
    if (cols.size) {
      head.push(h("tr", { class: "book-verdicts-row" }, h("th", { class: "rn" }, ""),
        columns.map((c) => {
          const v = cols.get(c);
          if (!v) return h("th", {}, "");
          const [cls, word] = VERDICTS[v.verdict];
          const text = v.h !== null && v.h !== undefined ? `${word} h = ${exact(v.h)}` : word;
          return h("th", { class: "book-verdict " + cls, title: `${v.header}: ${v.verdict} — ${v.note}`, "data-col": letters(c) }, text);
        })));
    }
    const body = rows.map((r) => h("tr", {}, h("th", { class: "rn", scope: "row" }, String(r + 1)), columns.map((c) => {
      const name = letters(c) + (r + 1);
      const cell = at.get(name);
      if (!cell) return h("td", { class: "empty", "data-cell": name, tabindex: -1 });
      const v = cols.get(c);
      const cls = [
        cell.formula ? "f" : "", cell.input ? "in" : "", cell.differs ? "differs" : "", cell.not_recalculated ? "skipped" : "",
        v && r >= v.from && r <= v.to ? VERDICTS[v.verdict][0] : "",
        typeof cell.value === "string" && !["NaN", "Infinity", "-Infinity"].includes(cell.value) ? "text" : "",
      ].filter(Boolean).join(" ");
      const tip = [cell.formula, cell.differs ? `Excel saved ${exact(cell.cached)}` : "", cell.not_recalculated ? `not recalculated: ${cell.not_recalculated}` : ""].filter(Boolean).join(" · ");
      return h("td", { class: cls, "data-cell": name, tabindex: -1, title: tip || null }, shown(this.valueOf(cell)));
    })));
    for (const n of [note, sh.cut]) if (n) body.push(h("tr", {}, h("td", { colspan: columns.length + 1, class: "cut" }, n)));
    fill(table, h("thead", {}, head), h("tbody", {}, body));
    this.highlight();
  },

  /** A cell's value: after the inputs the page changed, if any. */
  valueOf(cell) {
    const i = this.r.sheets.findIndex((s) => s.name === this.s.sheet);
    if (cell.input && this.changes[this.addr(cell.cell)] !== undefined) return this.changes[this.addr(cell.cell)];
    if (this.values && this.values[i] && this.values[i][cell.cell] !== undefined) return this.values[i][cell.cell];
    return cell.value;
  },

  addr(cell) { return `${quoted(this.s.sheet)}!${cell}`; },

  /** Marks the selected cell; it (or the first cell) is the grid's one stop of the Tab key. */
  highlight() {
    for (const td of document.querySelectorAll("#book-grid td.sel")) { td.classList.remove("sel"); td.tabIndex = -1; }
    const td = document.querySelector(`#book-grid td[data-cell="${this.s.cell}"]`) || document.querySelector("#book-grid td[data-cell]");
    if (!td) return;
    td.tabIndex = 0;
    if (td.dataset.cell === this.s.cell) td.classList.add("sel");
  },

  /** The arrow keys move the selection a square, as in Excel. */
  move(td, key) {
    const tr = td.parentElement, i = [...tr.children].indexOf(td);
    let to = null;
    if (key === "ArrowLeft") to = td.previousElementSibling;
    if (key === "ArrowRight") to = td.nextElementSibling;
    if (key === "ArrowUp" && tr.previousElementSibling) to = tr.previousElementSibling.children[i];
    if (key === "ArrowDown" && tr.nextElementSibling) to = tr.nextElementSibling.children[i];
    if (!to || !to.dataset.cell) return;
    to.focus();
    this.select(to.dataset.cell);
  },

  async select(name) {
    const sh = this.sheet();
    const cell = sh && sh.cells.find((c) => c.cell === name);
    this.s.cell = name;
    writeHash("book", this.s);
    this.highlight();
    $("book-addr").textContent = name;
    $("book-formula").textContent = cell ? (cell.formula || shown(this.valueOf(cell))) : "";
    const card = $("book-cell");
    if (!cell) { card.hidden = true; return; }
    card.hidden = false;
    if (cell.input) {
      const box = h("input", { type: "number", step: "any", id: "book-edit", value: String(this.valueOf(cell)) });
      const apply = () => { const v = parseFloat(box.value); if (Number.isFinite(v)) this.change(name, v); else box.classList.add("invalid"); };
      box.addEventListener("change", apply);
      box.addEventListener("keydown", (e) => { if (e.key === "Enter") apply(); });
      const reset = Object.keys(this.changes).length ? h("button", { type: "button", id: "book-reset" }, "back to the saved inputs") : null;
      if (reset) reset.addEventListener("click", () => { this.changes = {}; this.values = null; this.grid(); this.select(name); });
      fill(card, h("h2", {}, `${this.addr(name)}: an input`),
        h("label", { class: "field" }, "new value", box),
        h("p", { class: "hint" }, "Type a number and press Enter: every formula cell is recalculated."), reset);
      return;
    }
    if (!cell.formula) { fill(card, h("h2", {}, this.addr(name)), h("p", {}, shown(cell.value), h("span", { class: "hint" }, " (text: no formula reads it as a number)"))); return; }
    if (cell.not_recalculated) { fill(card, h("h2", {}, this.addr(name)), h("p", {}, `not recalculated: ${cell.not_recalculated}`)); return; }
    fill(card, h("h2", {}, this.addr(name)), h("p", { class: "hint" }, "differentiating…"));
    const t0 = performance.now();
    const g = await this.ask("grad", { cell: name, sheet: this.s.sheet });
    if (this.s.cell !== name) return;
    if (g.error) { fill(card, h("h2", {}, this.addr(name)), h("p", { class: "error" }, g.error)); return; }
    showTiming("derivatives", t0, g.ms);
    const ds = Object.entries(g.derivatives);
    const changed = Object.keys(this.changes).length;
    fill(card,
      h("h2", {}, `${g.cell} = `, h("span", { class: "book-value", title: exact(g.value) }, fmt(g.value))),
      h("p", { class: "book-formula-line" }, h("code", {}, cell.formula)),
      cell.differs ? h("p", { class: "bad" }, `Excel saved ${exact(cell.cached)}; gradsheet computes ${exact(cell.value)}`) : null,
      changed ? h("p", { class: "hint" }, "at the workbook's saved inputs (not the ones typed on this page)") : null,
      h("p", { class: "hint" }, `exact derivatives with respect to the ${ds.length} input${ds.length === 1 ? "" : "s"} it depends on (reverse mode through every cell between):`),
      h("div", { class: "table-scroll" }, h("table", { class: "results book-derivs", id: "book-derivs" },
        h("thead", {}, h("tr", {}, h("th", {}, "input"), h("th", {}, `∂${g.cell}/∂input`))),
        h("tbody", {}, ds.map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", { class: "num", title: exact(v) }, fmt(v))))))));
  },

  async change(name, v) {
    this.changes[this.addr(name)] = v;
    const t0 = performance.now();
    const j = await this.ask("values", { changes: this.changes });
    if (j.error) { message("book-msg", j.error, true); return; }
    this.values = j.sheets;
    this.grid();
    const sh = this.sheet(), sel = sh && sh.cells.find((c) => c.cell === this.s.cell);
    if (sel && !sel.formula) $("book-formula").textContent = shown(this.valueOf(sel));
    showTiming("recalculated", t0, j.ms);
    message("book-msg", `recalculated with ${Object.keys(this.changes).map((k) => `${k} = ${this.changes[k]}`).join(", ")}`);
    const box = $("book-edit");
    if (box) box.classList.remove("invalid");
  },

  async run() {
    const copies = [];
    for (const line of $("book-copies").value.split(/\n|;/).map((l) => l.trim()).filter(Boolean)) {
      const m = /^(.+?)\s*(?:=|→|->)\s*(.+)$/.exec(line);
      if (!m) { message("book-msg", `"${line}": write a copy as FROM=TO, e.g. D32=C2`, true); return; }
      copies.push({ from: m[1], to: m[2] });
    }
    const watch = $("book-watch").value.split(/[\s,]+/).filter(Boolean);
    const epochs = parseInt($("book-epochs").value, 10);
    const t0 = performance.now();
    message("book-msg", "running…");
    const reset = !copies.length && $("book-reset").checked;
    const j = await this.ask("run", { sheet: this.s.sheet, epochs: Number.isFinite(epochs) ? epochs : 0, copies, watch, reset });
    if (j.error) { message("book-msg", j.error, true); return; }
    showTiming("run", t0, j.ms);
    message("book-msg", `${j.epochs} epochs in ${j.ms.toFixed(1)} ms on the server`);
    const card = $("book-run-card");
    card.hidden = false;
    const x = j.explanation;
    fill(card, h("h2", {}, `the loop of ${this.s.sheet}: ${j.epochs} epochs`, j.every > 1 ? h("span", { class: "hint" }, ` (every ${j.every}th shown)`) : null),
      x && x.findings.length ? h("div", { class: x.calm ? "banner calm" : "banner", id: "book-explain", role: "status" },
        h("p", {}, h("strong", {}, x.findings[0])), x.findings.slice(1).map((f) => h("p", {}, f)),
        h("p", { class: "hint" }, `the sheet's rows ${x.when}`)) : null,
      h("p", { class: "hint" }, j.by.startsWith("Excel Solver") ? j.by + "; each row is the objective after that iteration" :
        (j.by === "copies" ? "copying the given cells back" : `played by the sheet's own ${j.by}`) +
        (reset ? ", after its Reset" : ", from the workbook's saved inputs") + "; each row is the values the loop wrote and the watched cells after that epoch"),
      h("div", { class: "table-scroll book-run-scroll" }, h("table", { class: "results", id: "book-run-table" },
        h("thead", {}, h("tr", {}, h("th", {}, "epoch"), j.columns.map((c) => h("th", {}, c)))),
        h("tbody", {}, j.rows.map((row) => h("tr", {}, row.map((v, i) => h("td", { class: "num", title: i ? exact(v) : null }, i ? fmt(v) : String(v)))))))));
  },

  showColumns() {
    const cols = this.r.derivative_columns;
    const card = $("book-columns");
    card.hidden = !cols.length;
    fill(card, h("h2", {}, "the derivative columns you typed"),
      h("ul", { class: "book-verdicts" }, cols.map((c) => h("li", { class: VERDICTS[c.verdict][0] },
        h("button", { type: "button", class: "linkish", "data-sheet": c.sheet, "data-range": c.range }, `${quoted(c.sheet)}!${c.range}`),
        ` “${c.header}”: `, h("strong", {}, c.verdict + (c.h !== null && c.h !== undefined ? ` (h = ${exact(c.h)})` : "")),
        ` of ${c.of} with respect to ${c.wrt}. `, h("span", { class: "hint" }, c.note)))));
    for (const b of card.querySelectorAll("button[data-sheet]")) {
      b.addEventListener("click", () => { this.s.sheet = b.dataset.sheet; this.tabs(); this.grid(); this.select(b.dataset.range.split(":")[0]); });
    }
  },

  showRecalc() {
    const rec = this.r.recalculation;
    const card = $("book-recalc");
    const rows = rec.differ.slice(0, 50).map((d) => h("li", {}, `${d.cell}: Excel saved ${exact(d.cached)}, gradsheet computes ${exact(d.computed)}`))
      .concat(rec.not_recalculated.slice(0, 50).map((s) => h("li", {}, `${s.cell}: not recalculated — ${s.reason}`)));
    card.hidden = !rows.length;
    const more = rec.differ.length + rec.not_recalculated.length - rows.length;
    fill(card, h("h2", {}, "cells to look at"), h("ul", { class: "book-list" }, rows), more > 0 ? h("p", { class: "hint" }, `… and ${more} more (gradsheet book FILE --json lists them all)`) : null);
  },
};
