"""The emulator's speed against its peers, measured side by side in one run (one thread each, best of ``--repeats``):

* Caffe LeNet on all 10,000 MNIST test images (``../shared/data``): our float32, the exact 8-bit DFP emulator on
  the integer kernels, Ristretto mode (fake-quantized float32) and the exact run at 32 bits on 70 to 75-bit
  accumulators, against onnxruntime's float32 run of the same network (``ristretto_sim.bench.network``);
* the exact int8 GEMM (4096 x 1152 x 128, 32-bit saturating accumulator) against NumPy float32 and APyTypes'
  fixed-point matmul, bit-identical (``ristretto_sim.bench.gemm``).

Writes ``emulator_speed.csv`` (case, contender, seconds, multiple of the reference) and ``emulator_speed.png`` into
``--out``. The figures vary with the machine's load; the ratios, measured alternating, vary less.
"""

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ristretto_sim.bench.gemm import run_gemm_benchmark  # noqa: E402
from ristretto_sim.bench.network import run as run_network_benchmark  # noqa: E402

#: contenders of the network case, in plot order (the bench's ``time_s`` keys), and their labels
NETWORK = (("onnxruntime", "onnxruntime float32"), ("float", "ristretto-sim float32"),
           ("exact", "exact DFP8 (integer kernels)"), ("ristretto", "Ristretto mode"),
           ("exact_wide", "exact 32-bit (limb path)"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="analysis/figures")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    net = run_network_benchmark(args.repeats)
    gemm = run_gemm_benchmark(repeats=max(3, args.repeats))
    rows = []
    ref = net["time_s"]["onnxruntime"]
    for key, label in NETWORK:
        t = net["time_s"][key]
        rows.append({"case": f"LeNet, {net['images']:,} MNIST images", "contender": label, "seconds": t,
                     "over_reference": t / ref, "reference": "onnxruntime float32"})
    g_ref = gemm["float32_matmul_ms"] / 1e3
    for label, ms in (("NumPy float32", gemm["float32_matmul_ms"]), ("exact int8 (integer kernel)",
                                                                      gemm["exact_fixed_ms"]),
                      ("APyTypes fixed point", gemm.get("apytypes_matmul_ms"))):
        if ms is None:
            continue
        rows.append({"case": "int8 GEMM 4096x1152x128", "contender": label, "seconds": ms / 1e3,
                     "over_reference": ms / 1e3 / g_ref, "reference": "NumPy float32"})
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    for ax, case in zip(axes, dict.fromkeys(r["case"] for r in rows), strict=True):
        sel = [r for r in rows if r["case"] == case]
        ax.barh([r["contender"] for r in sel], [r["seconds"] for r in sel], color="tab:blue")
        for i, r in enumerate(sel):
            ax.text(r["seconds"], i, f"  {r['over_reference']:.2f}x", va="center", fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel("seconds, one thread (log scale)")
        ax.set_title(f"{case}: multiples of {sel[0]['reference']}", fontsize=10)
        ax.set_xlim(right=max(r["seconds"] for r in sel) * 4)
        ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(out / "emulator_speed.png", dpi=100)
    with open(out / "emulator_speed.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {out / 'emulator_speed.png'} and .csv ({len(rows)} rows)")


if __name__ == "__main__":
    main()
