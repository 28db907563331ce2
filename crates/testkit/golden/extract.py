#!/usr/bin/env python3
"""Provenance of the golden values: Excel's cached values of fast.ai's workbooks, as CSV.

Every golden file under crates/*/tests/data/golden was written by this extraction (openpyxl,
`data_only=True`: the values Excel computed when the workbook was last saved; no formulas,
no macro text). Regenerate or check a folder of them against the workbooks:

    python3 extract.py --check crates/train/tests/data/golden WORKBOOKS
    python3 extract.py --write crates/labs/tests/data/golden WORKBOOKS

WORKBOOKS holds the workbooks under the names of SOURCES below (../shared/workbooks beside
the repository has most of them; the others download from the repositories and commits that
docs/workbooks.md lists). Only the files already in the folder are written or checked.
Needs openpyxl (pip install openpyxl; 3.1 was used to check this script).

Formats (docs/workbooks.md has them in full):
- grid/<tag>__<workbook>__<sheet>.csv: every row of the sheet that holds a value, first
  column its Excel row number, then the columns from the first to the last that hold a
  value, headed by their letters. Numbers as Python's repr (every double round-trips),
  booleans TRUE/FALSE, blank cells empty. Sheet names: "Sheet1 (2)" -> "Sheet1_2",
  spaces -> "_".
- <tag>__<workbook>__<sheet>[__<part>].csv: a row table, TABLES below: the range's rows,
  headed "row" and the header row's text (or the column letter where it holds none).
- course-v3__mom_bias__Sheet1_3__pivot_cache_records.csv: the pivot cache's records.
"""
import argparse
import collections
import csv
import io
import os
import re
import sys
import xml.etree.ElementTree as ET
import zipfile

import openpyxl
import openpyxl.reader.workbook
from openpyxl.utils import column_index_from_string, get_column_letter

# collab_filter's and mom_bias's pivot caches trip openpyxl (a calculated item without a
# formula); they hold no cell values, so they are not read (the records are read from the
# XML directly, below).
openpyxl.reader.workbook.WorkbookParser.pivot_caches = property(
    lambda self: collections.defaultdict(lambda: None)
)

# (tag, workbook) -> file name in WORKBOOKS.
SOURCES = {
    ("course-v3", "graddesc"): "graddesc-2018.xlsm",
    ("courses", "graddesc"): "graddesc-2016.xlsm",
    ("courses", "layers_example"): "layers_example.xlsx",
    ("courses", "collab_filter"): "courses-collab_filter.xlsx",
    ("courses", "conv-example"): "courses-conv-example.xlsx",
    ("courses", "entropy_example"): "courses-entropy_example.xlsx",
    ("course22", "titanic"): "titanic.xlsx",
    ("course22", "collab_filter"): "course22-collab_filter.xlsx",
    ("course22", "conv-example"): "course22-conv-example.xlsx",
    ("course22", "entropy_example"): "course22-entropy_example.xlsx",
}
for _name in ["broadcasting", "collab_filter", "conv-example", "emb_results", "emb_sizing",
              "entropy_example", "mom_bias", "style_loss"]:
    SOURCES[("course-v3", _name)] = _name + ".xlsx"

# Row tables: (tag, workbook, sheet, range, header row, part).
TABLES = [
    ("course-v3", "graddesc", "data", "B5:C33", 4, None),
    ("course-v3", "graddesc", "basic", "A4:N32", 3, None),
    ("course-v3", "graddesc", "momentum", "A4:L32", 3, None),
    ("course-v3", "graddesc", "rmsprop", "A4:K32", 3, None),
    ("course-v3", "graddesc", "adam", "A4:M32", 3, None),
    ("course-v3", "graddesc", "adam_ann", "A4:M32", 3, None),
    ("courses", "graddesc", "data", "B6:C34", 5, None),
    ("courses", "graddesc", "basic SGD", "A4:N32", 3, None),
    ("courses", "graddesc", "momentum", "A4:L32", 3, None),
    ("courses", "graddesc", "adagrad", "A4:I32", 3, None),
    ("courses", "graddesc", "rmsprop", "A4:K32", 3, None),
    ("courses", "graddesc", "adam", "A4:M32", 3, None),
    ("courses", "graddesc", "eve", "A4:N32", 3, None),
    ("courses", "graddesc", "adagrad_ann", "A4:I32", 3, None),
    ("courses", "graddesc", "adam_ann", "A4:M32", 3, None),
    ("course-v3", "collab_filter", "movielens_1hot", "I3:BH208", 2, None),
    ("course-v3", "collab_filter", "movielens_emb", "I3:Y208", 2, None),
    ("course-v3", "collab_filter", "word_emb", "I3:O50", 2, None),
    ("course-v3", "emb_results", "Sheet1", "A2:F17", 1, "summary"),
    ("course-v3", "emb_results", "Sheet1", "A20:Q35", 19, "runs"),
    ("course-v3", "emb_sizing", "Sheet1", "B3:D21", 2, None),
    ("course-v3", "entropy_example", "softmax", "A3:L8", 2, None),
    ("course-v3", "entropy_example", "entropy", "B2:E6", 1, None),
    ("course-v3", "entropy_example", "log_entropy", "B2:I6", 1, None),
    ("course-v3", "mom_bias", "Sheet1", "B5:H13", 4, None),
    ("course-v3", "mom_bias", "Sheet1 (2)", "B4:I56", 3, None),
    ("course-v3", "mom_bias", "Sheet1 (3)", "A4:C53", 3, "data"),
    ("course-v3", "mom_bias", "Sheet1 (3)", "E4:S9", 3, "groups"),
]

PIVOT = ("course-v3", "mom_bias", "course-v3__mom_bias__Sheet1_3__pivot_cache_records.csv")


def cell_text(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, float)):
        return repr(v)
    return str(v)


def sanitise(sheet):
    return re.sub(r"\s*\((.*?)\)", lambda m: "_" + m.group(1), sheet).replace(" ", "_")


def csv_text(rows):
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerows(rows)
    return out.getvalue()


def grid(ws):
    used = [(c.row, c.column) for row in ws.iter_rows() for c in row if c.value is not None]
    c0 = min(c for _, c in used)
    c1 = max(c for _, c in used)
    cols = range(c0, c1 + 1)
    rows = [["row"] + [get_column_letter(c) for c in cols]]
    for r in sorted({r for r, _ in used}):
        rows.append([r] + [cell_text(ws.cell(r, c).value) for c in cols])
    return csv_text(rows)


def table(ws, a1, header_row):
    m = re.fullmatch(r"([A-Z]+)(\d+):([A-Z]+)(\d+)", a1)
    c0, r0 = column_index_from_string(m[1]), int(m[2])
    c1, r1 = column_index_from_string(m[3]), int(m[4])
    cols = range(c0, c1 + 1)
    head = []
    for c in cols:
        v = ws.cell(header_row, c).value
        head.append(v if isinstance(v, str) else get_column_letter(c))
    rows = [["row"] + head]
    for r in range(r0, r1 + 1):
        rows.append([r] + [cell_text(ws.cell(r, c).value) for c in cols])
    return csv_text(rows)


def pivot_records(path, n=1):
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    z = zipfile.ZipFile(path)
    d = ET.fromstring(z.read(f"xl/pivotCache/pivotCacheDefinition{n}.xml"))
    fields = d.findall("m:cacheFields/m:cacheField", ns)
    shared = [[float(i.get("v")) for i in f.findall("m:sharedItems/m:n", ns)] for f in fields]
    rows = [["record"] + [f.get("name") for f in fields]]
    recs = ET.fromstring(z.read(f"xl/pivotCache/pivotCacheRecords{n}.xml"))
    for k, r in enumerate(recs.findall("m:r", ns), 1):
        vals = [shared[j][int(c.get("v"))] if c.tag.endswith("}x") else float(c.get("v"))
                for j, c in enumerate(r)]
        rows.append([k] + [repr(v) for v in vals])
    return csv_text(rows)


def every_file(workbooks):
    """Yields (relative path, text) for every golden file the sources give."""
    books = {}

    def book(tag, name):
        key = (tag, name)
        if key not in books:
            path = os.path.join(workbooks, SOURCES[key])
            books[key] = openpyxl.load_workbook(path, data_only=True) if os.path.exists(path) else None
        return books[key]

    for (tag, name) in sorted(SOURCES):
        wb = book(tag, name)
        if wb is None:
            continue
        for ws in wb.worksheets:
            yield f"grid/{tag}__{name}__{sanitise(ws.title)}.csv", lambda ws=ws: grid(ws)
    for tag, name, sheet, a1, header_row, part in TABLES:
        wb = book(tag, name)
        if wb is None:
            continue
        suffix = f"__{part}" if part else ""
        yield (f"{tag}__{name}__{sanitise(sheet)}{suffix}.csv",
               lambda ws=wb[sheet], a1=a1, h=header_row: table(ws, a1, h))
    path = os.path.join(workbooks, SOURCES[PIVOT[:2]])
    if os.path.exists(path):
        yield PIVOT[2], lambda: pivot_records(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="compare, write nothing")
    mode.add_argument("--write", action="store_true", help="rewrite the folder's files")
    ap.add_argument("golden", help="a folder of golden files (and grid/)")
    ap.add_argument("workbooks", help="the folder of the workbooks (see SOURCES)")
    a = ap.parse_args()
    present = {os.path.relpath(os.path.join(d, f), a.golden)
               for d, _, fs in os.walk(a.golden) for f in fs if f.endswith(".csv")}
    done, bad = set(), []
    for rel, text in every_file(a.workbooks):
        if rel not in present:
            continue
        t = text()
        path = os.path.join(a.golden, rel)
        if a.write:
            with open(path, "w", newline="") as fh:
                fh.write(t)
        elif open(path, newline="").read() != t:
            bad.append(rel)
        done.add(rel)
    for rel in sorted(bad):
        print(f"differs: {rel}")
    for rel in sorted(present - done):
        print(f"not regenerated (its workbook is not in {a.workbooks}): {rel}")
    print(f"{len(done) - len(bad)} of {len(present)} files {'written' if a.write else 'identical'}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
