#!/usr/bin/env python3
"""Provenance of the embedded inputs: run once from crates/labs/data with the golden
folder beside the repository (../../../../shared/golden). Every file written here is an
*input* range of a workbook (typed constants, pasted randoms, pasted records), never a
formula output. Format: plain CSV of the range, one sheet row per line, blank cell = empty.

fastai/course22 carries no licence, so none of its ranges is written here: the labs read
them at run time from the user's copy (src/material.rs lists each range, as this script
lists the others).
"""
import csv, os, re

G = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../../shared/golden/grid")

def col_index(c):
    n = 0
    for ch in c:
        n = n * 26 + ord(ch) - 64
    return n

def col_name(n):
    s = ""
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s

def load(name):
    g = {}
    with open(os.path.join(G, name + ".csv"), newline="") as fh:
        r = csv.reader(fh)
        hdr = next(r)
        for row in r:
            for c, v in zip(hdr[1:], row[1:]):
                g[(col_index(c), int(row[0]))] = v
    return g

def rng(g, a1):
    m = re.match(r"([A-Z]+)(\d+):([A-Z]+)(\d+)", a1)
    c0, r0, c1, r1 = col_index(m[1]), int(m[2]), col_index(m[3]), int(m[4])
    return [[g.get((c, r), "") for c in range(c0, c1 + 1)] for r in range(r0, r1 + 1)]

def write(out, rows):
    with open(out + ".csv", "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        for row in rows:
            w.writerow(row)

def stack(*blocks):
    rows = []
    for b in blocks:
        rows.extend(b)
    return rows

# conv-example: the digit is the same in every version.
v3 = load("course-v3__conv-example__conv-example")
digit = rng(v3, "A2:AB29")
for other in ["courses__conv-example__conv-example", "course-v3__conv-example__conv-example_2",
              "course22__conv-example__conv-example", "course22__conv-example__conv-example_dropout"]:
    assert rng(load(other), "A2:AB29") == digit, other
write("conv_digit", digit)
# Filters: six 3x3 blocks stacked (1/1, 2/1, 1/2 on ch1, 1/2 on ch2, 2/2 on ch1, 2/2 on ch2).
for tag, name in [("v3", "course-v3__conv-example__conv-example")]:
    g = load(name)
    write(f"conv_{tag}_filters", stack(rng(g, "AD11:AF13"), rng(g, "AD38:AF40"), rng(g, "BI11:BK13"),
                                       rng(g, "BI15:BK17"), rng(g, "BI38:BK40"), rng(g, "BI42:BK44")))
    write(f"conv_{tag}_dense", stack(rng(g, "DN4:EL26"), rng(g, "DN33:EL55")))
assert rng(load("courses__conv-example__conv-example"), "AD11:AF13") == rng(v3, "AD11:AF13")
g = load("course-v3__conv-example__conv-example_2")
write("conv_v3_2_filters", stack(rng(g, "AD11:AF13"), rng(g, "BI11:BK13")))
# collab_filter
for tag in ["course-v3", "courses"]:
    short = {"course-v3": "v3", "courses": "c16"}[tag]
    g = load(f"{tag}__collab_filter__dotprod")
    write(f"collab_{short}_ratings", rng(g, "G1:V16"))
    write(f"collab_{short}_dotprod_movies", rng(g, "H19:V23"))
    write(f"collab_{short}_dotprod_users", rng(g, "B25:F39"))
    g = load(f"{tag}__collab_filter__bias")
    write(f"collab_{short}_bias_movies", rng(g, "H19:V24"))
    write(f"collab_{short}_bias_users", rng(g, "A26:F40"))
    g = load(f"{tag}__collab_filter__movielens_emb")
    write(f"collab_{short}_emb_records", rng(g, "I3:K208"))
    write(f"collab_{short}_emb_users", rng(g, "B4:G18"))
    write(f"collab_{short}_emb_movies", rng(g, "B22:G36"))
    g = load(f"{tag}__collab_filter__word_emb")
    write(f"collab_{short}_word_vocab", rng(g, "B4:G17"))
    write(f"collab_{short}_word_text", rng(g, "I3:I50"))
g = load("course-v3__collab_filter__movielens_1hot")
write("collab_v3_1hot_records", rng(g, "I3:M208"))
write("collab_v3_1hot_users", rng(g, "C4:G18"))
write("collab_v3_1hot_movies", rng(g, "C22:G36"))

# mom_bias
g = load("course-v3__mom_bias__Sheet1_2")
write("mom_bias_ewvar_x", rng(g, "B4:B56"))
with open(os.path.join(G, "../course-v3__mom_bias__Sheet1_3__pivot_cache_records.csv")) as fh:
    r = list(csv.reader(fh))[1:]
write("mom_bias_pivot_records", [row[1:] for row in r])
