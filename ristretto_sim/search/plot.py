"""The accuracy-vs-bit-width figure of a trimming search (like the original's figures): one line per group,
the float baseline and the margin threshold. matplotlib is imported only when a plot is drawn."""

from __future__ import annotations

from pathlib import Path

from ristretto_sim.search.result import QuantizeResult


def plot_result(result: QuantizeResult, path) -> Path:
    """Draw ``result``'s sweeps (accuracy in % against bit-width, log2 axis) into ``path`` (PNG, SVG or PDF by
    the suffix) and return the path."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    try:
        labels = {"conv": "CONV weights", "fc": "FC weights", "activations": "layer activations",
                  "minifloat": "minifloat", "pow2": "power-of-two weights"}
        starred = False
        for name, sw in result.sweeps.items():
            bits = list(sw.tried)
            ax.plot(bits, [100 * a for a in sw.tried.values()], marker="o", label=labels.get(name, name))
            if sw.chosen in sw.tried:
                ax.plot([sw.chosen], [100 * sw.tried[sw.chosen]], marker="*", markersize=14, color="k",
                        linestyle="none", label=None if starred else "chosen")
                starred = True
        ax.axhline(100 * result.baseline, color="gray", linestyle="--", label="float32 baseline")
        ax.axhline(100 * result.baseline - result.margin, color="red", linestyle=":",
                   label=f"baseline - margin ({result.margin:g} pt)")
        ax.set_xscale("log", base=2)
        all_bits = sorted({b for sw in result.sweeps.values() for b in sw.tried})
        if all_bits:
            ax.set_xticks(all_bits)
            ax.set_xticklabels([str(b) for b in all_bits])
        ax.set_xlabel("bit-width")
        ax.set_ylabel("accuracy (%)")
        low = min([100 * a for sw in result.sweeps.values() for a in sw.tried.values()] + [100 * result.baseline])
        ax.set_ylim(max(0.0, min(low, 100 * result.baseline - 4 * max(result.margin, 0.5)) - 1), 100.5)
        ax.set_title(f"{result.trimming_mode.value}, {result.mode.value} mode: accuracy vs bit-width")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)
    return path
