// The optimizers the pages offer, and what their β sliders mean.

import { h } from "./dom.js";

export const OPTIMIZERS = [
  ["sgd", "SGD (workbook)"], ["momentum", "momentum (workbook)"], ["rmsprop", "RMSProp (workbook)"],
  ["adam", "Adam (workbook)"], ["adagrad", "adagrad (workbook, 2016)"], ["torch-sgd", "torch SGD"],
  ["torch-adagrad", "torch Adagrad"], ["torch-rmsprop", "torch RMSprop"], ["torch-adam", "torch Adam"],
  ["torch-adamw", "torch AdamW"],
];
// What β1 and β2 mean for each optimizer (null: it has none).
export const BETAS = {
  sgd: [null, null], momentum: ["β", null], rmsprop: ["β", null], adam: ["β1", "β2"], adagrad: [null, null],
  "torch-sgd": ["momentum", null], "torch-adagrad": [null, null], "torch-rmsprop": ["momentum", "α"],
  "torch-adam": ["β1", "β2"], "torch-adamw": ["β1", "β2"],
};

/** The hyperparameters of a page state, in the API's names. */
export function hyper(opt, s) {
  const q = { lr: s.lr };
  const [n1, n2] = BETAS[opt] || [null, null];
  if (n1 === "momentum") q.momentum = s.b1; else if (n1) q.beta1 = s.b1;
  if (n2 === "α") q.alpha = s.b2; else if (n2) q.beta2 = s.b2;
  return q;
}

/** The slider (`lr`, `b1`, `b2`) of a hyperparameter an error names, if any. */
export const SLIDER_OF = { lr: "lr", beta1: "b1", momentum: "b1", beta2: "b2", alpha: "b2" };

/** Fills every `select.opt-select` with the optimizers. */
export function fillOptimizers() {
  for (const sel of document.querySelectorAll(".opt-select")) {
    sel.replaceChildren(...OPTIMIZERS.map(([v, l]) => h("option", { value: v }, l)));
  }
}

/** An optimizer's label. */
export const label = (name) => (OPTIMIZERS.find((x) => x[0] === name) || [name, name])[1];
