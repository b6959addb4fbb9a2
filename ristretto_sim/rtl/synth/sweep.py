"""The synthesis sweep: PE kinds x formats x targets into the results table, resumable.

A ``SweepEntry`` is one design to synthesize: a PE kind, its ``LayerFormats``, and a ``formats, top -> Verilog``
callable (any generator: the ``rtl`` PEs, the bench MAC, a user's own). ``GENERATORS`` maps a kind to its callable;
``width_series(kind, widths)`` makes one entry per operand width (the accumulator ``2n + 8`` bits: the products'
``2n`` plus 8 guard bits, which is the int8 MAC with a 24-bit accumulator of the ``hdl/`` catalogue), and
``PRESET_FORMATS`` adds the formats of the accelerator presets so the cost model finds them. ``run_sweep`` writes
the table after every finished result and skips results already in it (same design, target and settings).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ristretto_sim.emulator import LayerFormats
from ristretto_sim.emulator.datapaths import select
from ristretto_sim.formats import FixedPoint
from ristretto_sim.rtl.synth.bench_mac import bench_mac_verilog
from ristretto_sim.rtl.synth.design import Design
from ristretto_sim.rtl.synth.driver import synthesize
from ristretto_sim.rtl.synth.table import ResultsTable
from ristretto_sim.rtl.synth.targets import SynthOptions, Target

VerilogGenerator = Callable[[LayerFormats, str], str]

#: kind -> ``formats, top -> Verilog``; the fixed-point kind is the bench MAC until a full PE generator registers
GENERATORS: dict[str, VerilogGenerator] = {"fixed": bench_mac_verilog}

#: operand widths of the default sweep
WIDTHS = tuple(range(2, 17))

#: formats of the accelerator presets (ristretto_sim.hw.presets) with fixed-point PEs
PRESET_FORMATS = (
    LayerFormats("int8", "int8", accumulator="fixed32.0"),
    LayerFormats("int16", "int16", accumulator="fixed32.0"),
)

#: the default sweep's targets: CMOS transistors, iCE40 HX8K (LUT fabric) and UP5K (DSPs), ECP5-25K with and
#: without DSPs
DEFAULT_TARGETS = (
    SynthOptions(Target.GENERIC),
    SynthOptions(Target.ICE40),
    SynthOptions(Target.ICE40, device="up5k"),
    SynthOptions(Target.ECP5),
    SynthOptions(Target.ECP5, dsp=False),
)


def formats_text(formats: LayerFormats) -> str:
    """``inputs x weights -> accumulator``, the results row's ``formats``."""
    return f"{formats.inputs} x {formats.weights} -> {formats.accumulator}"


@dataclass(frozen=True)
class SweepEntry:
    """One design of a sweep: a PE ``kind``, its ``formats`` and the ``generator`` that writes its Verilog."""

    kind: str
    formats: LayerFormats
    generator: VerilogGenerator
    series: str = ""

    def __post_init__(self):
        if not isinstance(self.formats, LayerFormats):
            raise TypeError(f"formats={self.formats!r} must be a LayerFormats")
        if not callable(self.generator):
            raise TypeError(f"generator={self.generator!r} must be a callable (formats, top) -> Verilog")

    @property
    def top(self) -> str:
        def tag(fmt):
            return re.sub(r"[^A-Za-z0-9]+", "_", str(fmt)).strip("_")

        f = self.formats
        return f"{self.kind}_pe_{tag(f.inputs)}_{tag(f.weights)}_{tag(f.accumulator)}".replace("-", "_")

    @property
    def operand_bits(self) -> int:
        return max(self.formats.inputs.bits, self.formats.weights.bits)

    def design(self) -> Design:
        text = self.generator(self.formats, self.top)
        return Design.from_verilog(text, self.top, kind=select(self.formats).name, formats=formats_text(self.formats),
                                   operand_bits=self.operand_bits)


def width_series(kind: str = "fixed", widths: Iterable[int] = WIDTHS) -> tuple[SweepEntry, ...]:
    """One entry per operand width ``n``: ``fixed n.0 x fixed n.0 -> fixed (2n+8).0`` (module docstring)."""
    if kind not in GENERATORS:
        raise ValueError(f"kind={kind!r} has no registered generator; known: {', '.join(sorted(GENERATORS))}")
    entries = []
    for n in widths:
        if isinstance(n, bool) or not isinstance(n, int) or n < 2:
            raise ValueError(f"widths: {n!r} must be an integer >= 2")
        fmts = LayerFormats(FixedPoint(n, 0), FixedPoint(n, 0), accumulator=FixedPoint(2 * n + 8, 0))
        entries.append(SweepEntry(kind, fmts, GENERATORS[kind], series=f"{kind} nxn acc 2n+8"))
    return tuple(entries)


def default_entries(widths: Iterable[int] = WIDTHS) -> tuple[SweepEntry, ...]:
    """The width series of every registered kind, plus the presets' formats."""
    entries = [e for kind in sorted(GENERATORS) for e in width_series(kind, widths)]
    entries += [SweepEntry("fixed", f, GENERATORS["fixed"]) for f in PRESET_FORMATS]
    return tuple(entries)


def _settings(options: SynthOptions) -> dict:
    return {"target": options.target.value, "device": options.device, "dsp": options.dsp,
            "seeds": list(options.seeds), "freq_mhz": options.freq_mhz}


def run_sweep(
    entries: Sequence[SweepEntry],
    targets: Sequence[SynthOptions],
    table_path: str | Path,
    *,
    workdir: str | Path | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> ResultsTable:
    """Synthesize every entry on every target into the table at ``table_path`` (JSON, with CSVs beside it).

    Results already in the table with the same key and settings are kept, not re-run; the table is written after
    every new result, so an interrupted sweep resumes where it stopped. ``progress(done, total, label)`` is
    called before each job (``done`` finished so far). ``workdir`` keeps every run's files.
    """
    table_path = Path(table_path)
    table = ResultsTable.read(table_path) if table_path.exists() else ResultsTable()
    config = {**table.config, "generated_by": "ristretto-sim synth --sweep (ristretto_sim.rtl.synth.sweep)",
              "generators": {e.kind: f"{e.generator.__module__}.{e.generator.__qualname__}" for e in entries},
              "targets": [_settings(o) for o in targets]}
    jobs = [(e, o) for e in entries for o in targets]
    for done, (entry, options) in enumerate(jobs):
        label = f"{entry.top} on {options.target.value}{' ' + options.device if options.device else ''}"
        if progress is not None:
            progress(done, len(jobs), label)
        key = (select(entry.formats).name, formats_text(entry.formats), entry.top, options.target.value,
               options.device, bool(options.dsp))
        old = table.find(key)
        if old is not None and (old.seeds, old.freq_target_mhz) == (options.seeds, options.freq_mhz):
            continue
        where = None if workdir is None else Path(workdir) / f"{entry.top}_{options.target.value}_{options.device}"
        result = synthesize(entry.design(), options, where)
        table = ResultsTable(table.with_row(replace(result, series=entry.series)).rows, config)
        table.write(table_path)
    if progress is not None:
        progress(len(jobs), len(jobs), "done")
    return table


def entry_from_spec(spec: str) -> SweepEntry:
    """A sweep entry from ``KIND:INPUTS,WEIGHTS,ACCUMULATOR`` (e.g. ``fixed:int8,int8,fixed24.0``)."""
    kind, sep, rest = str(spec).partition(":")
    parts = [p.strip() for p in re.split(r",(?![^\[]*\])", rest)]  # pow2[-8,-1] keeps its comma
    if not sep or len(parts) != 3 or not all(parts):
        raise ValueError(
            f"{spec!r} is neither a Verilog file or folder nor a PE spec KIND:INPUTS,WEIGHTS,ACCUMULATOR "
            f"(e.g. fixed:int8,int8,fixed24.0; kinds: {', '.join(sorted(GENERATORS))})"
        )
    kind = kind.strip()
    if kind not in GENERATORS:
        known = ", ".join(sorted(GENERATORS))
        raise ValueError(f"{spec!r}: PE kind {kind!r} has no registered generator; known: {known}")
    return SweepEntry(kind, LayerFormats(parts[0], parts[1], accumulator=parts[2]), GENERATORS[kind])
