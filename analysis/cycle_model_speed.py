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
from ristretto_sim.hw import ConvShape, GemmShape, preset, simulate  # noqa: E402
from ristretto_sim.hw.network import layers_from_network  # noqa: E402


def resnet18_shapes():
    """ResNet-18's 20 convolutions and its classifier at 224x224 (He et al., CVPR 2016, Table 1)."""
    layers = [ConvShape("conv1", 224, 224, 3, 64, kernel=7, stride=2, padding=3)]
    size, cin = 56, 64
    for stage, cout in enumerate((64, 128, 256, 512)):
        for block in range(2):
            stride = 2 if stage > 0 and block == 0 else 1
            out = size // stride
            layers.append(ConvShape(f"s{stage}b{block}a", size, size, cin, cout, kernel=3, stride=stride, padding=1))
            layers.append(ConvShape(f"s{stage}b{block}b", out, out, cout, cout, kernel=3, padding=1))
            if stride == 2:
                layers.append(ConvShape(f"s{stage}b{block}down", size, size, cin, cout, kernel=1, stride=2))
            size, cin = out, cout
    layers.append(GemmShape("fc", 1, 1000, 512))
    return layers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", default="analysis/figures")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = preset("edge-32x32-int8")
    nets = {name: layers_from_network(load_model(name))[0] for name in ("lenet", "cifar10_full_lrn", "ae_deconv")}
    nets["resnet18 shapes"] = resnet18_shapes()
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
