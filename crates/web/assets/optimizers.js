// The optimizers the pages offer, and what their β sliders mean: the server's optimizer
// table (`GET /api/optimizers`, gradsheet_train::rules), read once as the pages load.

import { h } from "./dom.js";

const RULES = await fetch("/api/optimizers").then((r) => r.json()).catch(() => []);

/** `[name, label]` of every optimizer, in the table's order. */
export const OPTIMIZERS = RULES.map((r) => [r.name, r.label]);

/** The setting each of the two β sliders moves, per optimizer (null: none). */
const SLOTS = Object.fromEntries(RULES.map((r) => [r.name, [1, 2].map((k) => r.hypers.find((x) => x.slot === k) || null)]));

/** What β1 and β2 mean for each optimizer (null: it has none). */
export const BETAS = Object.fromEntries(Object.entries(SLOTS).map(([n, s]) => [n, s.map((x) => (x ? x.symbol : null))]));

/** The hyperparameters of a page state, in the API's names. */
export function hyper(opt, s) {
  const q = { lr: s.lr };
  const [h1, h2] = SLOTS[opt] || [null, null];
  if (h1) q[h1.key] = s.b1;
  if (h2) q[h2.key] = s.b2;
  return q;
}

/** The slider (`lr`, `b1`, `b2`) of a hyperparameter an error names, if any. */
export const SLIDER_OF = { lr: "lr" };
for (const r of RULES) {
  for (const x of r.hypers) {
    if (x.slot) for (const n of [x.key, ...x.aliases]) SLIDER_OF[n] = "b" + x.slot;
  }
}

/** Fills every `select.opt-select` with the optimizers. */
export function fillOptimizers() {
  for (const sel of document.querySelectorAll(".opt-select")) {
    sel.replaceChildren(...OPTIMIZERS.map(([v, l]) => h("option", { value: v }, l)));
  }
}

/** An optimizer's label. */
export const label = (name) => (OPTIMIZERS.find((x) => x[0] === name) || [name, name])[1];
