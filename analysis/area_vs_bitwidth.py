"""PE area against operand bit-width, from synthesis of the RTL (``hdl/synth_results.json``, written by
``make synth-sweep``) beside the cost model's Horowitz-table area of the same PE.

The fixed-point MAC PE with n-bit operands and a (2n+8)-bit accumulator, n = 2..16, as four figures: ASIC area
(Yosys generic CMOS transistors / 4 x a Nangate45 NAND2, and the 45 nm table area of ``hw.pe_area_um2``), iCE40 HX8K
LUTs (no DSPs), ECP5-25k LUTs without and with its 18x18 multipliers, and the nextpnr Fmax on each target. The shift
and minifloat PEs of the table are marked at their operand widths. Writes ``area_vs_bitwidth.{png,csv}``
into ``--out``; reads only the table, so it runs in a second.
"""

import argparse
import csv
import itertools
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ristretto_sim.hw import PEConfig  # noqa: E402
from ristretto_sim.hw.energy import default_table, pe_area_um2  # noqa: E402
from ristretto_sim.hw.synth_area import NAND2_UM2, TRANSISTORS_PER_NAND2, rows  # noqa: E402

SERIES = "fixed nxn acc 2n+8"
FPGAS = (("ice40", "hx8k", False, "iCE40 HX8K"), ("ecp5", "25k", False, "ECP5-25k, no DSP"),
         ("ecp5", "25k", True, "ECP5-25k, DSPs"), ("ice40", "up5k", True, "iCE40 UP5K, DSPs"))


def _key(family, device, dsp) -> str:
    """The CSV column prefix of one FPGA target."""
    return f"{family}_{device}_{'dsp' if dsp else 'nodsp'}"


def _find(table, kind, formats, target, device=None, dsp=None):
    for r in table:
        if (r["kind"], r["formats"], r["target"]) == (kind, formats, target) and device in (None, r["device"]) \
                and (dsp is None or bool(r["dsp"]) == dsp):
            return r
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--table", help="a synthesis results JSON (default: the shipped hdl/synth_results.json)")
    ap.add_argument("--out", default="analysis/figures")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = rows(args.table)
    tech = default_table()
    fixed = sorted((r for r in table if r.get("series") == SERIES and r["target"] == "generic"),
                   key=lambda r: r["operand_bits"])
    if not fixed:
        raise SystemExit(f"no '{SERIES}' rows in the synthesis table: run `make synth-sweep`")
    csv_rows = []
    for g in fixed:
        n = g["operand_bits"]
        pe = PEConfig("fixed_mac", f"fixed{n}.0", f"fixed{n}.0", f"fixed{2 * n + 8}.0")
        row = {"kind": "fixed", "operand_bits": n, "formats": g["formats"], "transistors": g["transistors"],
               "synthesis_um2": g["transistors"] / TRANSISTORS_PER_NAND2 * NAND2_UM2,
               "table_um2": pe_area_um2(pe, tech)}
        for fam, dev, dsp, _label in FPGAS:
            r = _find(table, "fixed", g["formats"], fam, dev, dsp)
            key = _key(fam, dev, dsp)
            row[f"{key}_luts"] = r["luts"] if r else None
            row[f"{key}_dsps"] = r["dsps"] if r else None
            row[f"{key}_fmax_mhz"] = r["fmax_mhz"] if r else None
        csv_rows.append(row)
    others = [r for r in table if r["kind"] != "fixed" and r["target"] == "generic"]
    for r in others:
        csv_rows.append({"kind": r["kind"], "operand_bits": r["operand_bits"], "formats": r["formats"],
                         "transistors": r["transistors"],
                         "synthesis_um2": r["transistors"] / TRANSISTORS_PER_NAND2 * NAND2_UM2})
    with open(out / "area_vs_bitwidth.csv", "w", newline="") as fh:
        keys: list[str] = []
        for r in csv_rows:
            keys += [k for k in r if k not in keys]
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(csv_rows)

    bits = [r["operand_bits"] for r in csv_rows if r["kind"] == "fixed"]
    fx = [r for r in csv_rows if r["kind"] == "fixed"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 6.2))
    ax = axes[0]
    ax.plot(bits, [r["synthesis_um2"] for r in fx], "o-", label="synthesis (Yosys CMOS, NAND2 eq.)")
    ax.plot(bits, [r["table_um2"] for r in fx], "s--", label="cost model table (Horowitz 45 nm)")
    for r, m in zip(others, itertools.cycle("^vD<>phX*P8sHd"), strict=False):
        ax.scatter([r["operand_bits"]], [r["transistors"] / TRANSISTORS_PER_NAND2 * NAND2_UM2], marker=m,
                   label=f"{r['kind']}: {r['formats']}", zorder=3)
    ax.set_yscale("log")
    ax.set_xlabel("operand bits n (accumulator 2n+8)")
    ax.set_ylabel("PE area (um^2, 45 nm)")
    # every other synthesized PE, one marker each: the legend below the panel, where it hides no point
    ax.legend(fontsize=5.5, loc="upper left", bbox_to_anchor=(0.0, -0.16), ncol=1)
    for ax, metric, ylabel in ((axes[1], "luts", "LUTs per PE"),
                               (axes[2], "fmax_mhz", "PE Fmax, nextpnr median over seeds (MHz)")):
        for fam, dev, dsp, label in FPGAS:
            ax.plot(bits, [r[f"{_key(fam, dev, dsp)}_{metric}"] for r in fx], "o-", ms=3, label=label)
        ax.set_xlabel("operand bits n")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "area_vs_bitwidth.png", dpi=100)
    first, last = fx[0], fx[-1]
    print(f"wrote {out / 'area_vs_bitwidth.png'} and .csv: fixed {first['operand_bits']}-bit "
          f"{first['synthesis_um2']:.0f} um^2 -> {last['operand_bits']}-bit {last['synthesis_um2']:.0f} um^2 "
          f"(synthesis), table {first['table_um2']:.0f} -> {last['table_um2']:.0f} um^2")


if __name__ == "__main__":
    main()
