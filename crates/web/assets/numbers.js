// Numbers as a person reads them, and as the computer holds them.
//
// The page shows numbers rounded to what a narrow spreadsheet column shows (0.1, not
// 0.09999999999999998, which is what 1 − 0.9 is in binary), and the exact value (the
// shortest decimal that reads back as the same double) on hover; downloads carry the
// exact values.

/** A JSON number as sent by the server: NaN and infinities arrive as strings. */
export function num(v) {
  if (typeof v === "number") return v;
  if (v === "Infinity") return Infinity;
  if (v === "-Infinity") return -Infinity;
  return NaN;
}

function special(v) {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+∞";
  if (v === -Infinity) return "−∞";
  return null;
}

/** A number as a spreadsheet shows it in a narrow column: `digits` (7) significant digits. */
export function fmt(v, digits) {
  v = num(v);
  const sp = special(v);
  if (sp) return sp;
  if (v === 0) return "0";
  const d = digits || 7;
  const a = Math.abs(v);
  if (a >= 1e7 || a < 1e-4) {
    const s = v.toExponential(Math.max(1, d - 3));
    return s.replace(/\.?0+e/, "e").replace("e+", "e");
  }
  // Past `d` digits before the point, toPrecision switches to an exponent (5.8e+3):
  // round to `d` significant digits and print the integer instead.
  if (a >= Math.pow(10, d)) { const k = Math.pow(10, Math.floor(Math.log10(a)) - d + 1); return String(Math.round(v / k) * k); }
  let s = v.toPrecision(d);
  if (s.includes(".")) s = s.replace(/0+$/, "").replace(/\.$/, "");
  return s;
}

/** The exact value: the shortest decimal that reads back as the same double. */
export function exact(v) {
  v = num(v);
  return special(v) || String(v);
}

/** Whether the readable form of `v` hides digits that its exact form has. */
export function rounded(v) {
  v = num(v);
  return Number.isFinite(v) && fmt(v) !== String(v);
}

/**
 * A sentence with its long numbers (more digits than a person reads: 200.9651846012761,
 * 0.09999999999999998) rounded to 7 significant digits: `[text, exact or null]` pieces,
 * so that the page can show the exact value on hover.
 */
export function readablePieces(sentence) {
  const out = [];
  let last = 0;
  for (const m of sentence.matchAll(/-?\d+\.\d{8,}(?:e-?\d+)?/g)) {
    const v = parseFloat(m[0]);
    const r = fmt(v);
    if (r === m[0]) continue;
    out.push([sentence.slice(last, m.index), null], [r, m[0]]);
    last = m.index + m[0].length;
  }
  out.push([sentence.slice(last), null]);
  return out.filter(([t]) => t !== "");
}
