// The controls every page uses: sliders with their number boxes, status messages, the
// caret under a formula's fault, the timing in the header.

import { $, fill, h } from "./dom.js";
import { fmt } from "./numbers.js";

/** Shows the round trip of the last update in the header (and as `data-ms` for tests). */
export function showTiming(label, t0, serverMs) {
  const ms = performance.now() - t0;
  const t = $("timing");
  t.textContent = `${label} · ${ms.toFixed(0)} ms round trip (server ${serverMs.toFixed(1)} ms)`;
  t.dataset.ms = ms.toFixed(1);
}

/** A page's status line; `isError` colours it. */
export function message(id, text, isError) {
  const m = $(id);
  m.textContent = text || "";
  m.classList.toggle("error", !!isError);
}

/** Shows a formula error under its field with the caret; clears it when `err` is null. */
export function caret(inputId, err) {
  const input = $(inputId), box = $(inputId + "-err");
  input.classList.toggle("invalid", !!err);
  if (!box) return;
  box.hidden = !err;
  if (!err) { fill(box); return; }
  // The formula, carets under the fault (character positions from the server), and the
  // message on its own line so that it wraps without moving the carets.
  const why = h("span", { class: "why" }, err.error);
  if (!err.span) { fill(box, why); return; }
  const src = input.value.replace(/\s/g, " ");
  const [a, b] = err.span;
  const marks = " ".repeat(a) + "^".repeat(Math.max(1, b - a));
  fill(box, h("span", { class: "src" }, `${src}\n${marks}`), why);
}

/**
 * Binds a `.slider` block: a range input and a number box showing one value. Log sliders
 * move in powers of ten. `get`/`set` read and write the page state; `changed` schedules.
 */
export function slider(rangeId, get, set, changed) {
  const range = $(rangeId), box = $(rangeId + "-num"), div = range.closest(".slider");
  const log = div.dataset.log === "1", int = div.dataset.int === "1";
  range.min = div.dataset.min; range.max = div.dataset.max;
  // The number box says what it holds to a screen reader, as the slider's label does.
  const named = () => box.setAttribute("aria-label", `${div.querySelector("label").textContent} (typed)`);
  named();
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
  return {
    show,
    setMax(m) { range.max = m; },
    hide(flag) { div.hidden = !!flag; },
    enable(on, label) {
      div.classList.toggle("disabled", !on); range.disabled = !on; box.disabled = !on;
      if (label) { div.querySelector("label").textContent = label; named(); }
    },
  };
}

/**
 * A "copy link" button: the page's URL (which holds its whole state) to the clipboard,
 * or selected in a box to copy by hand where the clipboard is not available.
 */
export function share(button, msgId) {
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(location.href);
      message(msgId, "the link to this page, with every setting, is copied");
    } catch (_) {
      message(msgId, `the link to this page, with every setting: ${location.href}`);
    }
  });
}
