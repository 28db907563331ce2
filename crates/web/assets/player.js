// Play, pause and step a training run, as TensorFlow Playground plays its networks but
// with the spreadsheet's rows: the run is computed whole by the server, and the page
// shows it up to a cursor that moves at the speed the learner sets, or one row (or one
// epoch) at a time.

import { fill, h } from "./dom.js";

/**
 * A player in the element `id`. opts: { unit: "row" | "epoch" (what one step moves),
 * perBig: units per big step (an epoch's rows; 0 for none), describe(cursor, total)
 * (the position in words), onMove(cursor) (draw the run up to the cursor) }.
 * `set(total, perBig)` gives it a run; the cursor stays where it was if the new run is
 * long enough, else goes to its end.
 */
export function player(id, opts) {
  const box = document.getElementById(id);
  const unit = opts.unit || "row";
  // `follow`: the whole run is shown, and a new run (a slider moved) is shown whole too.
  const state = { total: 0, cursor: 0, follow: true, playing: false, speed: +(localStorage.getItem("gradsheet-speed-" + unit) || (unit === "row" ? 20 : 5)), perBig: 0 };
  const btn = (label, text, fn, cls) => {
    const b = h("button", { type: "button", class: cls || null, "aria-label": label, title: label }, text);
    b.addEventListener("click", fn);
    return b;
  };
  const play = btn("play the run", "▶ play", () => toggle(), "play");
  const speed = h("input", { type: "range", min: 0, max: 3, step: 0.01, id: id + "-speed" });
  const speedText = h("output", { for: id + "-speed", class: "speed-text" });
  const where = h("span", { class: "where", "aria-live": "off" });
  const bigBack = btn(`back one epoch`, "« epoch", () => move(-big()));
  const back = btn(`back one ${unit}`, `‹ ${unit}`, () => move(-1));
  const fwd = btn(`forward one ${unit}`, `${unit} ›`, () => move(1));
  const bigFwd = btn(`forward one epoch`, "epoch »", () => move(big()));
  const toStart = btn("to the start", "|◀ start", () => go(0));
  const toEnd = btn("to the end (the whole run)", "end ▶|", () => go(state.total));
  speed.value = Math.log10(state.speed);
  fill(box, h("div", { class: "buttons", role: "group", "aria-label": "play the run" },
    toStart, unit === "row" ? bigBack : null, back, play, fwd, unit === "row" ? bigFwd : null, toEnd),
  h("label", { class: "speed", for: id + "-speed" }, "speed", speed, speedText), where);
  const big = () => state.perBig || 1;
  const showSpeed = () => { speedText.textContent = `${fmtSpeed(state.speed)} ${unit}s/s`; };
  showSpeed();
  speed.addEventListener("input", () => {
    state.speed = Math.pow(10, +speed.value);
    localStorage.setItem("gradsheet-speed-" + unit, String(state.speed));
    showSpeed();
  });
  let raf = 0, last = 0, acc = 0;
  const frame = (t) => {
    if (!state.playing) return;
    const dt = last ? Math.min(0.25, (t - last) / 1000) : 0;
    last = t;
    acc += dt * state.speed;
    const n = Math.floor(acc);
    if (n > 0) {
      acc -= n;
      state.cursor = Math.min(state.total, state.cursor + n);
      changed();
      if (state.cursor >= state.total) { stop(); return; }
    }
    raf = requestAnimationFrame(frame);
  };
  function toggle() {
    if (state.playing) { stop(); return; }
    if (state.cursor >= state.total) state.cursor = 0;
    state.playing = true; last = 0; acc = 0;
    changed();
    raf = requestAnimationFrame(frame);
  }
  function stop() {
    state.playing = false;
    cancelAnimationFrame(raf);
    showButtons();
  }
  function move(k) { stop(); go(state.cursor + k); }
  function go(c) {
    state.cursor = Math.max(0, Math.min(state.total, Math.round(c)));
    changed();
  }
  function showButtons() {
    play.textContent = state.playing ? "❚❚ pause" : "▶ play";
    play.setAttribute("aria-label", state.playing ? "pause" : "play the run");
    play.title = play.getAttribute("aria-label");
    play.classList.toggle("on", state.playing);
    where.textContent = opts.describe ? opts.describe(state.cursor, state.total) : `${state.cursor} of ${state.total}`;
  }
  function changed() {
    state.follow = state.cursor >= state.total;
    showButtons();
    opts.onMove(state.cursor);
  }
  return {
    state,
    /** A new run of `total` units: the cursor stays if it still fits, else shows the whole run. */
    set(total, perBig) {
      state.total = total;
      state.perBig = perBig || 0;
      state.cursor = state.follow ? total : Math.min(state.cursor, total);
      showButtons();
    },
    /** Where the cursor is (`total`: the whole run). */
    get cursor() { return state.cursor; },
    /** Moves the cursor (from the URL). */
    seek(c) { state.cursor = Math.max(0, state.total ? Math.min(c, state.total) : c); state.follow = state.total > 0 && state.cursor >= state.total; showButtons(); },
    /** Whether the whole run is shown (not paused within it). */
    get atEnd() { return state.cursor >= state.total; },
    stop,
  };
}

function fmtSpeed(v) {
  return v >= 10 ? String(Math.round(v)) : String(+v.toPrecision(2));
}

/**
 * The cursor's position in words, as both training pages say it: `step c of total · epoch e,`
 * then `row(k)`, the step's place within its epoch in the page's own numbering.
 */
export function cursorWords(c, total, stepsPerEpoch, row) {
  if (c >= total) return `the whole run: ${total} steps`;
  if (c === 0) return "before the first step";
  const e = Math.ceil(c / stepsPerEpoch), k = c - (e - 1) * stepsPerEpoch;
  return `step ${c} of ${total} · epoch ${e}, ${row(k)}`;
}
