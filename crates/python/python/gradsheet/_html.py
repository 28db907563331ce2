"""Small HTML pieces for notebooks (no pandas needed): tables, notes, pictures."""

import html
import math
import re


def num(v, digits=6):
    """A number as a table cell: whole numbers plainly, others to `digits` significant
    digits; NaN and infinities spelled out (they are values of a run)."""
    if isinstance(v, str):
        return v
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.{digits}g}"


def table(headers, rows, caption=None, skipped=0):
    """An HTML table of `rows` (lists of cells) under `headers`; `skipped` rows left out
    are said in a last row."""
    out = ["<table>"]
    if caption:
        out.append(f"<caption>{html.escape(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in headers) + "</tr></thead><tbody>")
    for r in rows:
        if r is None:
            out.append(f'<tr><td colspan="{len(headers)}">… {skipped:,} rows not shown …</td></tr>')
            continue
        out.append("<tr>" + "".join(f"<td>{html.escape(num(c))}</td>" for c in r) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def ends(rows, n=5):
    """The first and last `n` of `rows`, with None where rows were left out."""
    rows = list(rows)
    if len(rows) <= 2 * n + 1:
        return rows, 0
    return rows[:n] + [None] + rows[-n:], len(rows) - 2 * n


def paragraphs(lines):
    return "".join(f"<p>{html.escape(l)}</p>" for l in lines)


def bullets(lines):
    if not lines:
        return ""
    return "<ul>" + "".join(f"<li>{html.escape(l)}</li>" for l in lines) + "</ul>"


def heading(text, level=4):
    return f"<h{level}>{html.escape(text)}</h{level}>"


_SIZE = re.compile(r'<svg([^>]*?)\swidth="(\d+)"\s+height="(\d+)"([^>]*)>')


def svg(text, width=None):
    """An SVG picture inline (the report crate's charts are self-contained SVG), scaled
    to at most `width` pixels: its fixed size becomes a viewBox."""
    if width:

        def scaled(m):
            box = "" if "viewBox" in m.group(0) else f' viewBox="0 0 {m.group(2)} {m.group(3)}"'
            return f'<svg{m.group(1)}{box}{m.group(4)} style="width:100%;height:auto">'

        text = _SIZE.sub(scaled, text, count=1)
    style = f' style="max-width:{width}px;display:inline-block;width:100%;vertical-align:top"' if width else ""
    return f"<div{style}>{text}</div>"
