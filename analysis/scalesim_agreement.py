"""Agreement with the real SCALE-Sim 3.0: the convolution and fully connected layers of the bundled LeNet and
cifar10_full_lrn, on 8x8, 16x16 and 32x32 arrays in the three dataflows (64 KB per operand buffer, unlimited
bandwidth: SCALE-Sim's CALC mode).

Per layer it records SCALE-Sim's compute cycles and SRAM reads (run in its own environment, ``make scalesim-venv``),
ristretto-sim's under ``scalesim_compatible=True`` (SCALE-Sim's serial fold lengths; these must be equal, and the
script fails if one is not) and ristretto-sim's default model (consecutive folds pipelined), and the wall time of
both tools per network. SCALE-Sim does not pad: a padded convolution is given to both tools as the unpadded
convolution of its padded input, the same GEMM. Writes ``scalesim_agreement.{png,csv}`` into ``--out``.
"""

import argparse
import csv
import dataclasses
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ristretto_sim import load_model  # noqa: E402
from ristretto_sim.hw import AcceleratorConfig, BufferConfig, ConvShape, GemmShape, simulate  # noqa: E402
from ristretto_sim.hw.network import layers_from_network  # noqa: E402
from ristretto_sim.hw.scalesim_run import find_scalesim_python, run_scalesim  # noqa: E402

NETWORKS = ("lenet", "cifar10_full_lrn")
ARRAYS = (8, 16, 32)
DATAFLOWS = ("os", "ws", "is")


def scalesim_layers(network) -> list:
    """The array layers of ``network`` as SCALE-Sim can take them (padding folded into the input size)."""
    out = []
    for x in layers_from_network(network)[0]:
        if isinstance(x, ConvShape):
            top, bottom, left, right = x.padding
            out.append(dataclasses.replace(x, h=x.h + top + bottom, w=x.w + left + right, padding=0))
        elif isinstance(x, GemmShape):
            out.append(x)
    return out


def config(size: int, dataflow: str) -> AcceleratorConfig:
    kb64 = BufferConfig(65536)
    return AcceleratorConfig(size, size, dataflow, ifmap=kb64, filter=kb64, ofmap=kb64,
                             name=f"scale_{size}x{size}_{dataflow}_calc")


def run_scalesim_mixed(layers, cfg, python):
    """SCALE-Sim takes one layer form per run: convolutions and GEMMs go separately, rows back in order."""
    rows, wall = {}, 0.0
    for form in (ConvShape, GemmShape):
        part = [x for x in layers if isinstance(x, form)]
        if part:
            got, seconds = run_scalesim(part, cfg, python=python)
            rows.update({x.name: r for x, r in zip(part, got, strict=True)})
            wall += seconds
    return [rows[x.name] for x in layers], wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="analysis/figures")
    args = ap.parse_args()
    python = find_scalesim_python()
    if python is None:
        raise SystemExit("no SCALE-Sim environment: run `make scalesim-venv` first")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, totals = [], []
    for name in NETWORKS:
        layers = scalesim_layers(load_model(name))
        for size in ARRAYS:
            for df in DATAFLOWS:
                cfg = config(size, df)
                theirs, t_theirs = run_scalesim_mixed(layers, cfg, python)
                start = time.perf_counter()
                compatible = simulate(layers, None, cfg, scalesim_compatible=True)
                t_ours = time.perf_counter() - start
                default = simulate(layers, None, cfg)
                for x, ref, c, d in zip(layers, theirs, compatible.layers, default.layers, strict=True):
                    row = {"network": name, "array": f"{size}x{size}", "dataflow": df, "layer": x.name,
                           "scalesim_compute_cycles": ref.compute_cycles,
                           "compatible_compute_cycles": c.compute_cycles,
                           "default_compute_cycles": d.compute_cycles,
                           "scalesim_sram_reads_words": ref.sram_ifmap_reads + ref.sram_filter_reads,
                           "compatible_sram_reads_words": c.edge_ifmap_reads_words + c.edge_filter_reads_words}
                    if (row["scalesim_compute_cycles"] != row["compatible_compute_cycles"]
                            or row["scalesim_sram_reads_words"] != row["compatible_sram_reads_words"]):
                        raise SystemExit(f"disagreement with SCALE-Sim: {row}")
                    rows.append(row)
                totals.append({"network": name, "array": f"{size}x{size}", "dataflow": df,
                               "scalesim_compute_cycles": sum(r.compute_cycles for r in theirs),
                               "default_compute_cycles": default.total.compute_cycles,
                               "scalesim_s": t_theirs, "ristretto_sim_s": t_ours})
    with open(out / "scalesim_agreement.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    labels = [f"{t['network'].split('_')[0]}\n{t['array']} {t['dataflow']}" for t in totals]
    ax = axes[0]
    ax.bar(range(len(totals)), [t["default_compute_cycles"] / t["scalesim_compute_cycles"] for t in totals],
           color="#1f77b4", label="default (folds pipelined)")
    ax.axhline(1.0, c="k", lw=1, label="scalesim_compatible: equal on every layer")
    ax.set_xticks(range(len(totals)), labels, fontsize=5.5, rotation=90)
    ax.set_ylabel("compute cycles / SCALE-Sim's")
    ax.set_ylim(0, 1.3)
    ax.legend(fontsize=7, loc="upper center", ncol=2)
    ax = axes[1]
    ax.bar(range(len(totals)), [t["scalesim_s"] / max(t["ristretto_sim_s"], 1e-9) for t in totals], color="#ff7f0e")
    ax.set_yscale("log")
    ax.set_xticks(range(len(totals)), labels, fontsize=5.5, rotation=90)
    ax.set_ylabel("SCALE-Sim wall time / ristretto-sim's")
    fig.tight_layout()
    fig.savefig(out / "scalesim_agreement.png", dpi=100)
    speed = sorted(t["scalesim_s"] / max(t["ristretto_sim_s"], 1e-9) for t in totals)
    ratio = sorted(t["default_compute_cycles"] / t["scalesim_compute_cycles"] for t in totals)
    print(f"wrote {out / 'scalesim_agreement.png'} and .csv: {len(rows)} layer runs equal to SCALE-Sim under "
          f"scalesim_compatible; default/SCALE-Sim compute cycles {ratio[0]:.3f}-{ratio[-1]:.3f}; "
          f"SCALE-Sim {speed[0]:.0f}-{speed[-1]:.0f}x slower")


if __name__ == "__main__":
    main()
