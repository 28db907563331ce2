// gradsheet's pages, as ES modules without a build step: this one routes between them.
// Each page (lab.js, playground.js, compare.js, stability.js, labs.js) keeps its whole
// state in the URL's hash, so that a link reproduces an experiment, sends it to the
// server on every change and redraws from the answer; each exports one object with
// `load(params)` (state from the URL), `init()` (bind the controls once), `showAll()`
// (controls from the state) and `schedule()` (save the state and ask for an update).

import { $, h } from "./dom.js";
import { bookPage } from "./book.js";
import { compare } from "./compare.js";
import { lab } from "./lab.js";
import { labsPage } from "./labs.js";
import { netPage } from "./net.js";
import { fillOptimizers } from "./optimizers.js";
import { playground } from "./playground.js";
import { stability } from "./stability.js";
import { readHash } from "./url.js";

const PAGES = { lab, playground, compare, stability, labs: labsPage, net: netPage, book: bookPage };

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
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", a.dataset.page === name);
    if (a.dataset.page === name) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  menu(false);
  ctl.schedule();
}

/** On a narrow screen the pages' links fold into a menu; `open` unfolds it. */
function menu(open) {
  $("menu").setAttribute("aria-expanded", open ? "true" : "false");
  $("nav").classList.toggle("open", open);
}

/**
 * On a phone a page's settings can be folded away (a button under the page's title), so
 * that the results take the screen; on a wider screen they stay beside the results.
 */
function foldableControls() {
  for (const aside of document.querySelectorAll("aside.controls")) {
    const title = aside.querySelector("h1");
    const b = h("button", { type: "button", class: "fold", "aria-expanded": "true" }, "hide the settings");
    b.addEventListener("click", () => {
      const folded = aside.classList.toggle("folded");
      b.setAttribute("aria-expanded", folded ? "false" : "true");
      b.textContent = folded ? "show the settings" : "hide the settings";
    });
    title.after(b);
  }
}

fillOptimizers();
foldableControls();
Object.values(PAGES).forEach((p) => p.init());
// Following a link or pressing back reloads a page's state from the URL; the pages' own
// edits use replaceState, which fires no event.
window.addEventListener("hashchange", route);
$("menu").addEventListener("click", () => menu($("menu").getAttribute("aria-expanded") !== "true"));
document.addEventListener("keydown", (e) => { if (e.key === "Escape" && $("nav").classList.contains("open")) { menu(false); $("menu").focus(); } });
route();
