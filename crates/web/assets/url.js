// The URL's hash holds a page's whole state, so that a link reproduces an experiment:
// `#page?key=value&...`.

/** The page named in the hash and its settings. */
export function readHash() {
  const h = location.hash.replace(/^#/, "");
  const [page, q] = h.split("?");
  return { page: page || "lab", params: new URLSearchParams(q || "") };
}

/** Writes a page's settings into the hash (without a history entry or a hashchange). */
export function writeHash(page, obj) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(obj)) if (v !== undefined && v !== null && v !== "") p.set(k, String(v));
  const h = "#" + page + "?" + p.toString();
  if (location.hash !== h) history.replaceState(null, "", h);
}

/** A number setting of the hash, or `dflt`. */
export function numParam(p, k, dflt) {
  const v = parseFloat(p.get(k));
  return Number.isFinite(v) ? v : dflt;
}
