"""Where do the modes diverge: float vs ``ristretto`` vs ``exact``, layer by layer.

``compare_modes(network, x, plan)`` runs the same batch in float32, in ``ristretto`` mode and in ``exact``
mode (in chunks, keeping every tensor of a chunk) and accumulates per layer output: the SQNR (dB) and the
largest absolute error of each quantized mode against float, the largest difference between the two quantized
modes, and the overflow/saturation counts each mode recorded. It also reports how often the modes agree on the
top-1 class (and their accuracies when labels are given), the reciprocal format each average pooling layer uses
in exact mode, and the runs' notes (e.g. softmax computed in float, a bias format Ristretto mode replaced).
``Comparison.to_frame()`` gives a pandas DataFrame and ``plot_comparison`` a per-layer figure."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ristretto_sim.graph.layers import Pool, PoolKind
from ristretto_sim.graph.network import Network
from ristretto_sim.graph.plan import QuantPlan
from ristretto_sim.runtime.executor import Executor

MODES = ("float", "ristretto", "exact")


@dataclass(frozen=True)
class LayerComparison:
    """Per-layer figures of ``compare_modes`` (errors in the layer's output units)."""

    name: str
    op_type: str
    quantized: bool
    sqnr_ristretto_db: float
    sqnr_exact_db: float
    max_err_ristretto: float
    max_err_exact: float
    max_diff_exact_ristretto: float
    overflows_ristretto: int
    overflows_exact: int
    accumulator_overflows_exact: int

    def as_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Comparison:
    """Result of ``compare_modes``: per-layer rows, top-1 agreement between modes, accuracies if labelled, the
    exact-mode reciprocal format of every average pooling layer (``reciprocals``) and the runs' notes."""

    model: str
    images: int
    layers: tuple[LayerComparison, ...]
    agreement: dict[str, float]
    accuracy: dict[str, float] = field(default_factory=dict)
    reciprocals: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    isolated: bool = False

    def to_frame(self):
        """The per-layer rows as a pandas DataFrame indexed by layer name."""
        import pandas as pd

        return pd.DataFrame([row.__dict__ for row in self.layers]).set_index("name")

    def as_dict(self) -> dict:
        d = {
            "model": self.model,
            "images": self.images,
            "agreement": self.agreement,
            "accuracy": self.accuracy,
            "layers": [row.as_dict() for row in self.layers],
        }
        if self.reciprocals:
            d["avg_pool_reciprocals"] = dict(self.reciprocals)
        if self.notes:
            d["notes"] = list(self.notes)
        if self.isolated:
            d["isolated"] = True
        return d


def _sqnr(signal: float, noise: float) -> float:
    if noise == 0:
        return math.inf
    if signal == 0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


#: what each per-layer column means (``compare`` prints it under its table; ``--json`` carries it as ``legend``)
LEGEND = {
    "q": "* when the plan quantizes the layer",
    "SQNR_rist / SQNR_exact": "signal-to-quantization-noise ratio of the layer's output against the float32 run, "
                              "dB ('exact' = identical)",
    "maxerr_rist / maxerr_exact": "largest |quantized - float| of the layer's output, in its units",
    "max|ex-ri|": "largest difference between the exact and the ristretto output",
    "ovf_rist / ovf_exact": "accumulator overflows plus output saturations (an output whose rounded value is clamped "
                            "to its format), the same events in both modes",
    "acc_ovf": "exact mode's accumulator overflows alone (wrapped, or clipped at least once when saturating)",
}


def compare_modes(
    network: Network, x, plan: QuantPlan, labels=None, *, batch_size: int = 128, progress=None,
    isolate: bool = False,
) -> Comparison:
    """Compare float, ristretto and exact runs of ``network`` under ``plan`` on batch ``x`` (preprocessed).

    Parameters
    ----------
    labels : array_like of int, optional
        True classes, for accuracies.
    batch_size : int
        Images per chunk (every tensor of a chunk is kept in the three modes).
    progress : callable, optional
        ``progress(done, total)``.
    isolate : bool
        Feed every layer the float run's inputs (each quantized layer's error is its own, not what it inherits
        from earlier layers); the top-1 agreement and accuracies are then those of the isolated runs' outputs.
    """
    x = np.asarray(x)
    plan.check(network)
    n = len(x)
    acc = {
        layer.name: {
            "sig": 0.0,
            "nr": 0.0,
            "ne": 0.0,
            "mr": 0.0,
            "me": 0.0,
            "md": 0.0,
            "or": 0,
            "oe": 0,
            "ae": 0,
        }
        for layer in network.layers
    }
    top = {m: [] for m in MODES}
    notes: dict[str, None] = {}
    executor = Executor(network, batch_size=batch_size)
    for start in range(0, n, batch_size):
        xb = x[start : start + batch_size]
        runs = {"float": executor.run(xb, keep="*")}
        own: dict[str, dict] = {}
        for m in ("ristretto", "exact"):
            transform = None
            if isolate:
                ref = {**runs["float"].tensors, **runs["float"].outputs}
                own[m] = {}

                def transform(layer, out, seen=own[m], ref=ref):
                    seen[layer.output] = out  # the layer's own output, from float inputs
                    fed = ref.get(layer.output)
                    return out if fed is None else np.asarray(fed).astype(np.asarray(out).dtype, copy=False)

            runs[m] = executor.run(xb, plan, m, keep="*", transform=transform)
            notes.update(dict.fromkeys(runs[m].notes))
        for layer in network.layers:
            t = layer.output

            def tensor(m, r, t=t, own=own):
                if m in own:
                    return own[m][t]
                return r.outputs.get(t, r.tensors.get(t))

            get = {m: np.asarray(tensor(m, r), dtype=np.float64) for m, r in runs.items()}
            a = acc[layer.name]
            f = get["float"]
            a["sig"] += float(np.sum(f * f))
            dr, de = get["ristretto"] - f, get["exact"] - f
            a["nr"] += float(np.sum(dr * dr))
            a["ne"] += float(np.sum(de * de))
            a["mr"] = max(a["mr"], float(np.max(np.abs(dr))) if dr.size else 0.0)
            a["me"] = max(a["me"], float(np.max(np.abs(de))) if de.size else 0.0)
            a["md"] = max(a["md"], float(np.max(np.abs(get["exact"] - get["ristretto"]))) if de.size else 0.0)
            a["or"] += runs["ristretto"].records[layer.name].overflows
            a["oe"] += runs["exact"].records[layer.name].overflows
            st = runs["exact"].records[layer.name].stats
            a["ae"] += int(st.accumulator_overflows) if st is not None else 0
        for m, r in runs.items():
            out = np.asarray(own[m][network.outputs[0]] if m in own else r.output)
            top[m].append(out.reshape(len(out), -1).argmax(axis=1))
        if progress is not None:
            progress(min(start + batch_size, n), n)
    rows = []
    for layer in network.layers:
        a = acc[layer.name]
        rows.append(
            LayerComparison(
                layer.name,
                layer.op_type,
                layer.name in plan,
                _sqnr(a["sig"], a["nr"]),
                _sqnr(a["sig"], a["ne"]),
                a["mr"],
                a["me"],
                a["md"],
                a["or"],
                a["oe"],
                a["ae"],
            )
        )
    cls = {m: np.concatenate(v) for m, v in top.items()}
    agreement = {
        "float_vs_ristretto": float(np.mean(cls["float"] == cls["ristretto"])),
        "float_vs_exact": float(np.mean(cls["float"] == cls["exact"])),
        "exact_vs_ristretto": float(np.mean(cls["exact"] == cls["ristretto"])),
    }
    accuracy = {}
    if labels is not None:
        labels = np.asarray(labels)[:n]
        accuracy = {m: float(np.mean(cls[m] == labels)) for m in MODES}
    reciprocals = {layer.name: str(plan.reciprocal_of(layer.name)) for layer in network.layers
                   if isinstance(layer, Pool) and layer.kind is PoolKind.AVG}
    return Comparison(network.name, n, tuple(rows), agreement, accuracy, reciprocals, tuple(notes), isolate)


def plot_comparison(comparison: Comparison, path) -> None:
    """Per-layer SQNR of both quantized modes and their max difference, saved to ``path`` (PNG/PDF/SVG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.name for r in comparison.layers]
    clip = 200.0

    def val(v):
        return clip if math.isinf(v) and v > 0 else (-clip if math.isinf(v) else v)

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(max(6, 0.5 * len(names) + 2), 6), sharex=True)
    pos = np.arange(len(names))
    ax1.bar(pos - 0.2, [val(r.sqnr_ristretto_db) for r in comparison.layers], 0.4, label="ristretto vs float")
    ax1.bar(pos + 0.2, [val(r.sqnr_exact_db) for r in comparison.layers], 0.4, label="exact vs float")
    ax1.set_ylabel("SQNR (dB)")
    ax1.legend()
    ax2.bar(pos, [r.max_diff_exact_ristretto for r in comparison.layers], 0.6, color="tab:red")
    ax2.set_ylabel("max |exact - ristretto|")
    ax2.set_xticks(pos, names, rotation=60, ha="right")
    fig.suptitle(f"{comparison.model}: {comparison.images} images")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
