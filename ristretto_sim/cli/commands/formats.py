"""``ristretto-sim formats``: list the catalog, or describe formats given in the text form."""

from __future__ import annotations

import json

NAME = "formats"
HELP = "list the named formats, or describe formats given as text (e.g. fixed8.6 e4m3fn pow2[-8,-1])"


def add_arguments(p):
    p.add_argument("format", nargs="*", help="format texts to describe (default: the whole catalog)")
    p.add_argument("--values", action="store_true", help="also list every representable value (<= 8 bits)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args) -> int:
    from ristretto_sim.formats import CATALOG, parse_format

    fmts = [parse_format(t) for t in args.format] if args.format else list(dict.fromkeys(CATALOG.values()))
    rows = [f.describe() for f in fmts]
    if args.values:
        for f, row in zip(fmts, rows, strict=True):
            if f.bits <= 8:
                row["values"] = [float(v) for v in f.values()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'format':<22}{'kind':<12}{'bits':>5}{'min':>16}{'max':>16}  notes")
    for row in rows:
        notes = []
        if "lsb" in row:
            notes.append(f"lsb={row['lsb']:g}")
        if "min_normal" in row:
            notes.append(f"min_normal={row['min_normal']:g} min_sub={row['min_subnormal']:g} {row['specials']}")
        mn = row["min"] if isinstance(row["min"], float) else min(row["min"])
        mx = row["max"] if isinstance(row["max"], float) else max(row["max"])
        print(f"{row['format']:<22}{row['kind']:<12}{row['bits']:>5}{mn:>16.6g}{mx:>16.6g}  {' '.join(notes)}")
        if "values" in row:
            print("    values:", " ".join(f"{v:g}" for v in row["values"]))
    return 0
