// Talking to the gradsheet server: JSON requests, at most one in flight per page, and
// downloads.

import { message } from "./controls.js";

/** POSTs JSON; the answer, or `{ error, field?, span? }` when there is none to draw. */
export async function api(path, body) {
  let r;
  try {
    r = await fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  } catch (e) {
    return { error: "the gradsheet server does not answer (is it still running?)" };
  }
  let j;
  try { j = await r.json(); } catch (e) { return { error: `the server answered ${r.status} without JSON` }; }
  if (!r.ok && !j.error) j.error = `the server answered ${r.status}`;
  return j;
}

/**
 * Runs `fn` when asked, never twice at once; asks made meanwhile collapse into one rerun.
 * While a slider is dragged, the latest state is sent as soon as the previous answer has
 * been drawn.
 */
export function runner(fn) {
  let busy = false, again = false, timer = 0;
  const go = async () => {
    if (busy) { again = true; return; }
    busy = true;
    try { await fn(); } catch (e) { console.error(e); }
    busy = false;
    if (again) { again = false; go(); }
  };
  return () => { clearTimeout(timer); timer = setTimeout(go, 8); };
}

/** The request behind each page's downloads: the run it shows. */
export const currentSpec = {};

async function download(page, file, msgId) {
  const spec = currentSpec[page];
  if (!spec) return;
  await fetchDownload(`/api/export/${file}?spec=${encodeURIComponent(JSON.stringify(spec))}`, file, msgId);
}

/** Fetches a download and saves it as `gradsheet-<file>`, saying so (or why not) in `msgId`. */
export async function fetchDownload(url, file, msgId) {
  const r = await fetch(url);
  if (!r.ok) {
    let e = `the download failed (${r.status})`;
    try { e = (await r.json()).error; } catch (_) { /* keep the status */ }
    message(msgId, e, true);
    return;
  }
  save(await r.blob(), "gradsheet-" + file);
  message(msgId, `downloaded gradsheet-${file}`);
}

function save(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

/** Makes the `button[data-export]`s of a page download its current run. */
export function bindDownloads(pageEl, page, msgId) {
  for (const b of pageEl.querySelectorAll("button[data-export]")) b.addEventListener("click", () => download(page, b.dataset.export, msgId));
}
