"""Wall time of one ``hw.simulate`` call per network (the cost of one candidate's cycle/energy figures in the
joint search): the bundled models and ResNet-18's layer shapes on the 32x32 edge array, best of ``--repeat``.

Writes ``cycle_model_speed.csv`` and ``cycle_model_speed.png`` into ``--out``.
"""

import argparse
import csv
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ristretto_sim import load_model  # noqa: E402
from ristretto_sim.bench.simulate import resnet18_layers  # noqa: E402
from ristretto_sim.hw import preset, simulate  # noqa: E402
from ristretto_sim.hw.network import layers_from_network  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", default="analysis/figures")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = preset("edge-32x32-int8")
    nets = {name: layers_from_network(load_model(name))[0] for name in ("lenet", "cifar10_full_lrn", "ae_deconv")}
    nets["resnet18 shapes"] = resnet18_layers()
    rows = []
    for name, layers in nets.items():
        best = float("inf")
        for _ in range(args.repeat):
            t = time.perf_counter()
            report = simulate(layers, None, config)
            best = min(best, time.perf_counter() - t)
        rows.append({"network": name, "layers": len(layers), "macs": report.total.macs,
                     "cycles": report.total.total_cycles, "seconds": best})
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar([r["network"] for r in rows], [1e3 * r["seconds"] for r in rows])
    ax.set_ylabel(f"simulate, ms per network (best of {args.repeat})")
    fig.tight_layout()
    fig.savefig(out / "cycle_model_speed.png", dpi=100)
    with open(out / "cycle_model_speed.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {out / 'cycle_model_speed.png'} and .csv: " + ", ".join(
        f"{r['network']} {1e3 * r['seconds']:.1f} ms" for r in rows))


if __name__ == "__main__":
    main()
