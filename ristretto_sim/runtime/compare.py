"""Where do the modes diverge: float vs ``ristretto`` vs ``exact``, layer by layer.

``compare_modes(network, x, plan)`` runs the same batch in float32, in ``ristretto`` mode and in ``exact``
mode (in chunks, keeping every tensor of a chunk) and accumulates per layer output: the SQNR (dB) and the
largest absolute error of each quantized mode against float, the largest difference between the two quantized
modes, and the overflow/saturation counts each mode recorded. It also reports how often the modes agree on the
top-1 class (and their accuracies when labels are given), the reciprocal format each average pooling layer uses
in exact mode, and the runs' notes (e.g. softmax computed in float, a bias format Ristretto mode replaced).
``compare_source`` does the same on raw images read from their files a batch at a time (what the CLI runs: memory
holds one batch whatever the number of images). ``Comparison.to_frame()`` gives a pandas DataFrame and
``plot_comparison`` a per-layer figure."""

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
    n = len(x)
    labels = None if labels is None else np.asarray(labels)[:n]
    chunks = ((x[i:i + batch_size], None if labels is None else labels[i:i + batch_size])
              for i in range(0, n, batch_size))
    return _compare(network, chunks, n, plan, labelled=labels is not None, batch_size=batch_size,
                    progress=progress, isolate=isolate)


def compare_source(
    network: Network, dataset, plan: QuantPlan, *, preprocess=None, limit: int | None = None,
    batch_size: int = 128, progress=None, isolate: bool = False, labelled: bool = True,
) -> Comparison:
    """``compare_modes`` on the first ``limit`` raw images of ``dataset`` (a ``data.ImageSource``, read from its
    files a batch at a time, or a ``Dataset``), preprocessed per batch by ``preprocess`` (default: the model's),
    so memory holds one batch's tensors whatever the number of images. ``labelled``: report accuracies."""
    from ristretto_sim.runtime.scoring import checked_source

    source, pre = checked_source(network, dataset, preprocess)
    n = source.count(limit)

    def chunks():
        done = 0
        for images, labels in source.batches(batch_size, limit=n):
            count = len(images)
            x = pre(images, start=done)
            del images  # the raw batch goes before the next one is read
            yield x, labels
            done += count

    return _compare(network, chunks(), n, plan, labelled=labelled, batch_size=batch_size, progress=progress,
                    isolate=isolate)


def _compare(network: Network, chunks, n: int, plan: QuantPlan, *, labelled: bool, batch_size: int, progress,
             isolate: bool) -> Comparison:
    """The comparison over ``chunks`` (``(x, labels)`` pairs, ``n`` images in all)."""
    plan.check(network)
    tally = _Tally(network)
    executor = Executor(network, batch_size=batch_size)
    done = 0
    for xb, yb in chunks:
        tally.add(_runs(executor, xb, plan, isolate), network, yb if labelled else None)
        done += len(xb)
        if progress is not None:
            progress(done, n)
    return tally.result(network, plan, done, labelled, isolate)


def _runs(executor: Executor, xb, plan: QuantPlan, isolate: bool) -> dict[str, dict]:
    """``{mode: {"run": RunResult, "own": tensors or None}}`` of one chunk in the three modes; with ``isolate``,
    ``own`` holds each quantized layer's own output computed from the float run's inputs."""
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
    return {m: {"run": r, "own": own.get(m)} for m, r in runs.items()}


class _Tally:
    """Per-layer sums and maxima over chunks, the top-1 classes and labels seen, the runs' notes."""

    def __init__(self, network: Network):
        self.acc = {layer.name: {"sig": 0.0, "nr": 0.0, "ne": 0.0, "mr": 0.0, "me": 0.0, "md": 0.0, "or": 0,
                                 "oe": 0, "ae": 0} for layer in network.layers}
        self.top = {m: [] for m in MODES}
        self.labels: list[np.ndarray] = []
        self.notes: dict[str, None] = {}

    def add(self, runs: dict[str, dict], network: Network, labels) -> None:
        for m in ("ristretto", "exact"):
            self.notes.update(dict.fromkeys(runs[m]["run"].notes))

        def tensor(m, t):
            r, own = runs[m]["run"], runs[m]["own"]
            if own is not None:
                return own[t]
            return r.outputs.get(t, r.tensors.get(t))

        for layer in network.layers:
            get = {m: np.asarray(tensor(m, layer.output), dtype=np.float64) for m in MODES}
            a = self.acc[layer.name]
            f = get["float"]
            a["sig"] += float(np.sum(f * f))
            dr, de = get["ristretto"] - f, get["exact"] - f
            a["nr"] += float(np.sum(dr * dr))
            a["ne"] += float(np.sum(de * de))
            a["mr"] = max(a["mr"], float(np.max(np.abs(dr))) if dr.size else 0.0)
            a["me"] = max(a["me"], float(np.max(np.abs(de))) if de.size else 0.0)
            a["md"] = max(a["md"], float(np.max(np.abs(get["exact"] - get["ristretto"]))) if de.size else 0.0)
            a["or"] += runs["ristretto"]["run"].records[layer.name].overflows
            a["oe"] += runs["exact"]["run"].records[layer.name].overflows
            st = runs["exact"]["run"].records[layer.name].stats
            a["ae"] += int(st.accumulator_overflows) if st is not None else 0
        for m in MODES:
            out = np.asarray(tensor(m, network.outputs[0]) if runs[m]["own"] is not None else runs[m]["run"].output)
            self.top[m].append(out.reshape(len(out), -1).argmax(axis=1))
        if labels is not None:
            self.labels.append(np.asarray(labels))

    def result(self, network: Network, plan: QuantPlan, n: int, labelled: bool, isolate: bool) -> Comparison:
        rows = []
        for layer in network.layers:
            a = self.acc[layer.name]
            rows.append(LayerComparison(layer.name, layer.op_type, layer.name in plan, _sqnr(a["sig"], a["nr"]),
                                        _sqnr(a["sig"], a["ne"]), a["mr"], a["me"], a["md"], a["or"], a["oe"],
                                        a["ae"]))
        cls = {m: np.concatenate(v) for m, v in self.top.items()}
        agreement = {
            "float_vs_ristretto": float(np.mean(cls["float"] == cls["ristretto"])),
            "float_vs_exact": float(np.mean(cls["float"] == cls["exact"])),
            "exact_vs_ristretto": float(np.mean(cls["exact"] == cls["ristretto"])),
        }
        accuracy = {}
        if labelled:
            labels = np.concatenate(self.labels)
            accuracy = {m: float(np.mean(cls[m] == labels)) for m in MODES}
        reciprocals = {layer.name: str(plan.reciprocal_of(layer.name)) for layer in network.layers
                       if isinstance(layer, Pool) and layer.kind is PoolKind.AVG}
        return Comparison(network.name, n, tuple(rows), agreement, accuracy, reciprocals, tuple(self.notes), isolate)


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
