"""What a run returns: per-layer ``LayerRecord``s (ranges, emulator statistics, saturation counts) and the
``RunResult`` (outputs, kept tensors, records, the emulator statistics of planned weighted layers, notes), and
``merge_results``, which joins the results of consecutive batches of one run."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import numpy as np

from ristretto_sim.emulator import LayerStats


@dataclass(frozen=True)
class LayerRecord:
    """What one layer did in one run (over the whole batch).

    Attributes
    ----------
    name, op_type : str
    quantized : bool
        The layer had a plan entry (and the run was quantized).
    input_min, input_max : float
        Range of the first input as the layer received it (before its own input quantization).
    output_min, output_max : float
        Range of the output.
    stats : emulator.LayerStats or None
        Emulator statistics of planned Conv/ConvTranspose/Dense layers (accumulator overflows, saturations).
    input_saturations, output_saturations : int
        For planned layers without weights and exact-mode integer operators (average pooling, Add, Concat): values
        outside the range of the ``inputs``/``outputs`` format.
    """

    name: str
    op_type: str
    quantized: bool
    input_min: float
    input_max: float
    output_min: float
    output_max: float
    stats: LayerStats | None = None
    input_saturations: int = 0
    output_saturations: int = 0

    @property
    def max_abs_input(self) -> float:
        return max(abs(self.input_min), abs(self.input_max))

    @property
    def max_abs_output(self) -> float:
        return max(abs(self.output_min), abs(self.output_max))

    @property
    def overflows(self) -> int:
        """Accumulator overflows plus output saturations (the events a hardware designer must look at)."""
        if self.stats is not None:
            return int(self.stats.accumulator_overflows + self.stats.output_saturations)
        return int(self.output_saturations)

    def as_dict(self) -> dict:
        d = {
            "name": self.name,
            "op_type": self.op_type,
            "quantized": self.quantized,
            "input_min": self.input_min,
            "input_max": self.input_max,
            "output_min": self.output_min,
            "output_max": self.output_max,
            "input_saturations": self.input_saturations,
            "output_saturations": self.output_saturations,
        }
        if self.stats is not None:
            d["stats"] = self.stats.as_dict()
        return d


@dataclass(frozen=True, eq=False)
class RunResult:
    """Outputs of a run and what the run observed.

    Attributes
    ----------
    outputs : dict of str to ndarray
        The network's outputs.
    mode : str
        ``"float"``, ``"exact"`` or ``"ristretto"``.
    records : dict of str to LayerRecord
        Per layer, when the run recorded them.
    tensors : dict of str to ndarray
        Kept tensors other than the outputs.
    layer_stats : dict of str to emulator.LayerStats
        The emulator statistics of every planned Conv/ConvTranspose/Dense layer (recorded or not).
    notes : tuple of str
        What the run did that a reader of its numbers must know (e.g. a plan's bias format that Ristretto mode
        replaced by the weights' format, float layers in exact mode).
    layers_run : int
        Layer evaluations computed, summed over batches (the rest came from the prefix cache).
    """

    outputs: dict[str, np.ndarray]
    mode: str
    records: dict[str, LayerRecord] = field(default_factory=dict)
    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    layer_stats: dict[str, LayerStats] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    layers_run: int = 0

    @property
    def output(self) -> np.ndarray:
        """The single output (``ValueError`` if the network has several)."""
        if len(self.outputs) != 1:
            raise ValueError(f"the network has {len(self.outputs)} outputs: {list(self.outputs)}")
        return next(iter(self.outputs.values()))

    def tensor(self, name: str) -> np.ndarray:
        """An output or kept tensor by name (``KeyError`` naming the kept ones otherwise)."""
        if name in self.outputs:
            return self.outputs[name]
        if name in self.tensors:
            return self.tensors[name]
        raise KeyError(f"tensor {name!r} was not kept (outputs: {list(self.outputs)}, kept: {list(self.tensors)})")

    @property
    def total_overflows(self) -> int:
        return sum(r.overflows for r in self.records.values())


def sum_stats(stats: list[LayerStats]) -> LayerStats:
    """One ``LayerStats`` from those of consecutive batches: integer counts summed, the rest from the first."""
    first = stats[0]
    ints = {
        f.name: sum(getattr(s, f.name) for s in stats)
        for f in fields(first)
        if isinstance(getattr(first, f.name), int) and not isinstance(getattr(first, f.name), bool)
    }
    return replace(first, **ints)


def merge_records(parts: list[dict[str, LayerRecord]]) -> dict[str, LayerRecord]:
    """Per-layer records of consecutive batches merged: ranges joined, statistics and saturations summed."""
    if not parts:
        return {}
    records = {}
    for name, r0 in parts[0].items():
        rs = [p[name] for p in parts]
        stats = None if r0.stats is None else sum_stats([r.stats for r in rs])
        records[name] = LayerRecord(
            name,
            r0.op_type,
            r0.quantized,
            min(r.input_min for r in rs),
            max(r.input_max for r in rs),
            min(r.output_min for r in rs),
            max(r.output_max for r in rs),
            stats,
            sum(r.input_saturations for r in rs),
            sum(r.output_saturations for r in rs),
        )
    return records


def merge_results(parts: list[RunResult]) -> RunResult:
    """One ``RunResult`` from the results of consecutive batches of one run: outputs and kept tensors
    concatenated along the batch axis, each layer's input/output ranges merged, its integer statistics and
    saturation counts summed, notes joined (each once)."""
    first = parts[0]
    outputs = {t: np.concatenate([p.outputs[t] for p in parts]) for t in first.outputs}
    tensors = {t: np.concatenate([p.tensors[t] for p in parts]) for t in first.tensors}
    stats = {name: sum_stats([p.layer_stats[name] for p in parts]) for name in first.layer_stats}
    notes = tuple(dict.fromkeys(n for p in parts for n in p.notes))
    return RunResult(outputs, first.mode, merge_records([p.records for p in parts]), tensors, stats, notes,
                     sum(p.layers_run for p in parts))
