"""Plots of a ``Report``: per-layer energy as stacked bars and per-layer cycles (compute and stall).

matplotlib is imported inside the function (non-interactive Agg backend), so importing ``hw`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

_PARTS = (
    ("arithmetic_pj", "PE arithmetic"),
    ("registers_pj", "registers"),
    ("sram_pj", "SRAM"),
    ("dram_pj", "DRAM"),
    ("leakage_pj", "leakage"),
)


def plot_report(report, path: str | Path) -> None:
    """Write a two-panel figure to ``path``: energy per layer (stacked by part, uJ) and cycles per layer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [x.name for x in report.layers]
    xs = range(len(names))
    fig, (ax_e, ax_c) = plt.subplots(2, 1, figsize=(max(6.0, 0.5 * len(names) + 2), 7), sharex=True)
    bottom = [0.0] * len(names)
    for attr, label in _PARTS:
        values = [getattr(x.energy, attr) / 1e6 for x in report.layers]
        if any(values):
            ax_e.bar(xs, values, bottom=bottom, label=label)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax_e.set_ylabel("energy (uJ)")
    ax_e.legend(fontsize="small")
    ax_e.set_title(f"{report.config.get('name', '')}: energy and cycles per layer")
    compute = [x.compute_cycles for x in report.layers]
    stall = [x.stall_cycles for x in report.layers]
    ax_c.bar(xs, compute, label="compute")
    ax_c.bar(xs, stall, bottom=compute, label="stall")
    ax_c.set_ylabel("cycles")
    ax_c.legend(fontsize="small")
    ax_c.set_xticks(list(xs))
    ax_c.set_xticklabels(names, rotation=60, ha="right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
