"""The synthesis sweep: PE kinds x formats x targets into the results table, resumable.

A ``SweepEntry`` is one design to synthesize: a PE kind, its ``LayerFormats``, and a ``formats, top -> Verilog``
callable (any generator; the registered ones are the ``rtl`` PEs). ``GENERATORS`` maps a kind to its callable:
``fixed`` (``FixedMacPE``), ``shift`` (``ShiftPE``), ``minifloat`` (``MinifloatMacPE``, the exact Kulisch
register) and ``affine`` (``AffineMacPE``, TFLite's int8 MAC), each the Verilog of
``rtl.export.verilog_for(PESpec(formats, k=KULISCH_K))`` (the PE kind's ``pe_formats``): the full PE with bias
preload, clear/enable, overflow flag and systolic operand pass-through. ``width_series(widths)`` makes one fixed
entry per operand width (the accumulator ``2n + 8`` bits: the products' ``2n`` plus 8 guard bits, which is the int8
MAC with a 24-bit accumulator of the ``hdl/`` catalogue), ``SHIFT_FORMATS``, ``MINIFLOAT_FORMATS`` and
``AFFINE_FORMATS`` add a few shift PEs, the catalogue's minifloats and the affine PEs, and ``PRESET_FORMATS`` the
formats of the accelerator presets so the cost model finds them. ``run_sweep`` writes the table after every
finished result and skips results already in it (same design, target and settings).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ristretto_sim.emulator import LayerFormats
from ristretto_sim.emulator.datapaths import select
from ristretto_sim.formats import FixedPoint
from ristretto_sim.rtl.export import verilog_for
from ristretto_sim.rtl.generate import layer_spec
from ristretto_sim.rtl.spec import PESpec
from ristretto_sim.rtl.synth.design import Design
from ristretto_sim.rtl.synth.driver import synthesize
from ristretto_sim.rtl.synth.table import ResultsTable
from ristretto_sim.rtl.synth.targets import SynthOptions, Target

VerilogGenerator = Callable[[LayerFormats, str], str]

#: reduction length a PE is sized for when its formats leave the accumulator to the datapath (the Kulisch
#: register of a minifloat PE): the catalogue's ``hdl/`` minifloat PEs use the same
KULISCH_K = 1024


#: what a table row's formats text adds for an affine PE that folds its input zero point into the bias or holds its
#: zero points in registers (``zero_point="fold"`` / ``"register"``: the same formats, other circuits);
#: ``hw.synth_area`` looks rows up the same way
ZERO_POINT_SUFFIX = {"fold": " (zero point folded)", "register": " (zero points in registers)"}


def pe_spec(formats: LayerFormats, zero_point: str = "subtract") -> PESpec:
    """The ``PESpec`` a sweep entry's formats make (sized for ``KULISCH_K`` products; the PE kind's
    ``pe_formats``, as for a plan's layer; an affine PE's ``zero_point``)."""
    return layer_spec(formats, KULISCH_K, zero_point)


def resolved(formats: LayerFormats) -> LayerFormats:
    """``formats`` with the accumulator the PE registers declared (so the row's formats name it)."""
    return formats if formats.accumulator is not None else replace(formats, accumulator=pe_spec(formats).accumulator)


@dataclass(frozen=True)
class PEGenerator:
    """``formats, top -> Verilog`` of the ``rtl`` PE of one datapath (``datapath``: its registered name)."""

    datapath: str
    zero_point: str = "subtract"

    def __call__(self, formats: LayerFormats, top: str) -> str:
        spec = pe_spec(formats, self.zero_point)
        if spec.kind != self.datapath:
            raise ValueError(f"{formats_text(formats)} selects the {spec.kind} datapath, not {self.datapath}; "
                             f"use the PE kind of those formats")
        return verilog_for(spec, name=top)

    def describe(self) -> str:
        zp = "" if self.zero_point == "subtract" else f", zero_point={self.zero_point!r}"
        return f"ristretto_sim.rtl.export.verilog_for(PESpec(formats, k={KULISCH_K}{zp})) [{self.datapath}]"


#: kind (the spec's ``KIND:``) -> ``formats, top -> Verilog``
GENERATORS: dict[str, VerilogGenerator] = {
    "fixed": PEGenerator("fixed"),
    "shift": PEGenerator("shift"),
    "minifloat": PEGenerator("minifloat-kulisch"),
    "affine": PEGenerator("affine"),
    "affine-fold": PEGenerator("affine", "fold"),
    "affine-register": PEGenerator("affine", "register"),
    "minifloat-float": PEGenerator("minifloat-float"),
}

#: operand widths of the default sweep
WIDTHS = tuple(range(2, 17))

#: formats of the accelerator presets (ristretto_sim.hw.presets) with fixed-point PEs
PRESET_FORMATS = (
    LayerFormats("int8", "int8", accumulator="fixed32.0"),
    LayerFormats("int16", "int16", accumulator="fixed32.0"),
)

#: shift PEs: activations fixed n.(n/2) times pow2[-7,0] weights with the lossless shifter and the datapath's
#: accumulator for KULISCH_K products, plus the hdl/ catalogue's 12-bit shifter into fixed20.11
SHIFT_FORMATS = (
    LayerFormats("fixed4.2", "pow2[-7,0]"),
    LayerFormats("fixed8.4", "pow2[-7,0]"),
    LayerFormats("fixed16.8", "pow2[-7,0]"),
    LayerFormats("fixed8.4", "pow2[-7,0]", accumulator="fixed20.11", shifter_bits=12),
)

#: minifloat PEs of the catalogue (exact products into a Kulisch register for KULISCH_K products)
MINIFLOAT_FORMATS = (
    LayerFormats("fp4_e2m1", "fp4_e2m1"),
    LayerFormats("e4m3fn", "e4m3fn"),
    LayerFormats("e5m2", "e5m2"),
)

#: affine (TFLite int8) PEs: the cost model's (hw.PEKind.AFFINE: unit scales, zero points 0, what ``pe_for`` gives
#: an int8 TFLite model), and the input zero points of real layers, constants of the PE: -128 (after a ReLU; a
#: sign-bit flip) and 89 (the MLPerf Tiny autoencoder's input: a 9-bit constant adder)
AFFINE_FORMATS = tuple(
    LayerFormats(f"affine8[s=1.0,z={z}]", "affine8[s=1.0,z=0]", accumulator="fixed32.0") for z in (0, -128, 89)
)

#: affine PEs that fold the input zero point into the bias (symmetric weights: a raw-code 8 x 8 multiplier whatever
#: the zero point; the preload carries it), for the cost model's PE (zero points 0) and the autoencoder's input (89)
AFFINE_FOLD_FORMATS = tuple(
    LayerFormats(f"affine8[s=1.0,z={z}]", "affine8[s=1.0,z=0]", accumulator="fixed32.0") for z in (0, 89)
)

#: minifloat PEs with a float accumulator (one rounding per addition): FP8 products into fp16 and bf16
MINIFLOAT_FLOAT_FORMATS = (
    LayerFormats("e4m3fn", "e4m3fn", accumulator="fp16"),
    LayerFormats("e5m2", "e5m2", accumulator="fp16"),
    LayerFormats("e4m3", "e4m3", accumulator="bf16"),
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
        object.__setattr__(self, "formats", resolved(self.formats))
        if not callable(self.generator):
            raise TypeError(f"generator={self.generator!r} must be a callable (formats, top) -> Verilog")

    @property
    def top(self) -> str:
        def tag(fmt):
            return re.sub(r"[^A-Za-z0-9]+", "_", str(fmt)).strip("_")

        f = self.formats
        top = f"{self.kind}_pe_{tag(f.inputs)}_{tag(f.weights)}_{tag(f.accumulator)}"
        if f.shifter_bits is not None:
            top += f"_sh{f.shifter_bits}"
        return top.replace("-", "_")

    @property
    def operand_bits(self) -> int:
        return max(self.formats.inputs.bits, self.formats.weights.bits)

    @property
    def row_formats(self) -> str:
        """The formats text of the entry's table rows (``ZERO_POINT_SUFFIX`` for a folding or register affine PE)."""
        return formats_text(self.formats) + ZERO_POINT_SUFFIX.get(getattr(self.generator, "zero_point", ""), "")

    def design(self) -> Design:
        text = self.generator(self.formats, self.top)
        return Design.from_verilog(text, self.top, kind=select(self.formats).name, formats=self.row_formats,
                                   operand_bits=self.operand_bits)


def width_series(kind: str = "fixed", widths: Iterable[int] = WIDTHS) -> tuple[SweepEntry, ...]:
    """One entry per operand width ``n``: ``fixed n.0 x fixed n.0 -> fixed (2n+8).0`` (module docstring)."""
    if kind not in GENERATORS:
        raise ValueError(f"kind={kind!r} has no registered generator; known: {', '.join(sorted(GENERATORS))}")
    if kind != "fixed":
        raise ValueError(f"kind={kind!r}: the width series is of fixed-point MACs; give kind='fixed'")
    entries = []
    for n in widths:
        if isinstance(n, bool) or not isinstance(n, int) or n < 2:
            raise ValueError(f"widths: {n!r} must be an integer >= 2")
        fmts = LayerFormats(FixedPoint(n, 0), FixedPoint(n, 0), accumulator=FixedPoint(2 * n + 8, 0))
        entries.append(SweepEntry(kind, fmts, GENERATORS[kind], series=f"{kind} nxn acc 2n+8"))
    return tuple(entries)


def default_entries(widths: Iterable[int] = WIDTHS) -> tuple[SweepEntry, ...]:
    """The fixed-point width series, the presets' formats, the shift PEs and the minifloat PEs."""
    entries = list(width_series("fixed", widths))
    entries += [SweepEntry("fixed", f, GENERATORS["fixed"]) for f in PRESET_FORMATS]
    # the lossless shifters are one series (accumulator: the datapath's for KULISCH_K products); a narrowed
    # shifter is another design, kept out of that fit
    entries += [SweepEntry("shift", f, GENERATORS["shift"], series="" if f.shifter_bits else "shift pow2[-7,0]")
                for f in SHIFT_FORMATS]
    entries += [SweepEntry("minifloat", f, GENERATORS["minifloat"]) for f in MINIFLOAT_FORMATS]
    entries += [SweepEntry("affine", f, GENERATORS["affine"]) for f in AFFINE_FORMATS]
    entries += [SweepEntry("affine-fold", f, GENERATORS["affine-fold"]) for f in AFFINE_FOLD_FORMATS]
    # a register PE's circuit depends on the code formats only (its zero points are inputs): one entry, z = 0
    entries += [SweepEntry("affine-register", f, GENERATORS["affine-register"]) for f in AFFINE_FORMATS[:1]]
    entries += [SweepEntry("minifloat-float", f, GENERATORS["minifloat-float"]) for f in MINIFLOAT_FLOAT_FORMATS]
    return tuple(entries)


def _describe(generator) -> str:
    describe = getattr(generator, "describe", None)
    if callable(describe):
        return describe()
    return f"{generator.__module__}.{getattr(generator, '__qualname__', type(generator).__qualname__)}"


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
              "generators": {e.kind: _describe(e.generator) for e in entries},
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
    """A sweep entry from ``KIND:INPUTS,WEIGHTS,ACCUMULATOR`` (e.g. ``fixed:int8,int8,fixed24.0``), or
    ``KIND:INPUTS,WEIGHTS`` for the datapath's own accumulator (``minifloat:e4m3fn,e4m3fn``: the Kulisch register)."""
    kind, sep, rest = str(spec).partition(":")
    parts = [p.strip() for p in re.split(r",(?![^\[]*\])", rest)]  # pow2[-8,-1] keeps its comma
    if not sep or len(parts) not in (2, 3) or not all(parts):
        raise ValueError(
            f"{spec!r} is neither a Verilog file or folder nor a PE spec KIND:INPUTS,WEIGHTS[,ACCUMULATOR] "
            f"(e.g. fixed:int8,int8,fixed24.0 or minifloat:e4m3fn,e4m3fn; kinds: {', '.join(sorted(GENERATORS))})"
        )
    kind = kind.strip()
    if kind not in GENERATORS:
        known = ", ".join(sorted(GENERATORS))
        raise ValueError(f"{spec!r}: PE kind {kind!r} has no registered generator; known: {known}")
    accumulator = parts[2] if len(parts) == 3 else None
    return SweepEntry(kind, LayerFormats(parts[0], parts[1], accumulator=accumulator), GENERATORS[kind])

