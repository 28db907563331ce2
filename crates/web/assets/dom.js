// Building the page from data. Text always goes in as text (text nodes, textContent,
// attributes set one by one), never as markup; SVG documents the server draws are parsed
// as SVG and inserted as nodes.

import { readablePieces } from "./numbers.js";

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/**
 * A new element: `h("td", { class: "g-data", title: "step 3" }, "14")`. Attributes are
 * set with setAttribute (`null`, `undefined` and `false` ones are left out); children are
 * nodes or strings (as text), arrays of them are flattened, and `null`, `undefined` and
 * `false` children are skipped.
 */
export function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : String(v));
  }
  append(e, children);
  return e;
}

function append(e, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(e, c);
    else e.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces the children of `parent` (an element or its id) with these. */
export function fill(parent, ...children) {
  const p = typeof parent === "string" ? $(parent) : parent;
  p.replaceChildren();
  append(p, children);
  return p;
}

/**
 * An SVG document (as text, from the server) as a node to insert: parsed as SVG, so that
 * nothing in it runs as HTML; a document that does not parse becomes a line saying so.
 */
export function svgFrom(markup) {
  const doc = new DOMParser().parseFromString(markup, "image/svg+xml");
  const root = doc.documentElement;
  if (root.nodeName !== "svg" || doc.getElementsByTagName("parsererror").length) {
    return h("p", { class: "note" }, "this figure could not be drawn");
  }
  for (const s of root.querySelectorAll("script, foreignObject")) s.remove();
  return document.importNode(root, true);
}

/**
 * A sentence as nodes, its long numbers rounded as a person reads them with the exact
 * value on hover (see `readablePieces`).
 */
export function readable(sentence) {
  return readablePieces(sentence).map(([t, exactText]) => (exactText ? h("span", { class: "rounded", title: exactText }, t) : t));
}

/** Escapes text for markup (for code that still writes markup: the labs page). */
export function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}
