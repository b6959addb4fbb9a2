"""The reference catalogue checked into ``hdl/``: named PEs, an array and requantizers, each made from format
objects, exported with :func:`~ristretto_sim.rtl.export.verilog_for`, with a Verilog testbench and vectors from
the golden model (so each file simulates without Python: ``hdl/README.md``).

``write_catalog(root)`` regenerates every file (deterministic: fixed seeds, no source paths); a test does so and
fails on any difference from the checked-in files (the generator's version line aside).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ristretto_sim.emulator import fixed_matmul
from ristretto_sim.emulator.datapaths import LayerFormats
from ristretto_sim.formats import Affine, PowerOfTwo
from ristretto_sim.rtl import cosim
from ristretto_sim.rtl.array import SystolicArray
from ristretto_sim.rtl.export import verilog_for
from ristretto_sim.rtl.golden import golden_run
from ristretto_sim.rtl.registry import make_pe
from ristretto_sim.rtl.requantize import Requantize, RequantSpec
from ristretto_sim.rtl.spec import PESpec
from ristretto_sim.rtl.stream import gemm_stream, tile_mask, tile_outputs
from ristretto_sim.rtl.tflite_requantize import TfliteRequantize, TfliteRequantSpec
from ristretto_sim.rtl.vectors import random_trace

#: cycles of each PE testbench in ``hdl/``
TB_CYCLES = 2000


@dataclass(frozen=True)
class Entry:
    """One catalogue design: its file stem, what it is, and how it is made."""

    name: str
    description: str
    make: Callable[[], object]


def int8_mac() -> PESpec:
    return PESpec(LayerFormats("fixed8.7", "fixed8.7", accumulator="fixed24.14", overflow="saturate"))


ENTRIES = (
    Entry("int8_mac_acc24", "fixed8.7 x fixed8.7 MAC, fixed24.14 accumulator, saturating", lambda: int8_mac()),
    Entry("int4_mac", "fixed4.3 x fixed4.3 MAC, fixed12.6 accumulator, saturating",
          lambda: PESpec(LayerFormats("fixed4.3", "fixed4.3", accumulator="fixed12.6", overflow="saturate"))),
    Entry("e4m3fn_mac", "e4m3fn x e4m3fn MAC, exact Kulisch accumulator for K = 1024, NaN sticky flag",
          lambda: PESpec(LayerFormats("e4m3fn", "e4m3fn"), k=1024)),
    Entry("e5m2_mac", "e5m2 x e5m2 MAC, exact Kulisch accumulator for K = 1024, NaN/Inf sticky flags",
          lambda: PESpec(LayerFormats("e5m2", "e5m2"), k=1024)),
    Entry("pow2_shift_pe", "fixed8.4 x pow2[-7,0] shift-and-add PE, 12-bit barrel shifter, fixed20.11 accumulator",
          lambda: PESpec(LayerFormats("fixed8.4", PowerOfTwo(-7, 0), accumulator="fixed20.11", shifter_bits=12))),
    Entry("os_array_4x4_int8", "4x4 output-stationary array of the int8 MAC (K up to 1024) with its controller",
          lambda: SystolicArray(4, 4, PESpec(int8_mac().formats, k=1024))),
    Entry("requantize_acc24_int8", "fixed24.14 -> fixed8.4 requantizer, nearest-even, saturating",
          lambda: Requantize(RequantSpec(int8_mac().accumulator, LayerFormats("fixed8.4", "fixed8.4").inputs))),
    Entry("affine_int8_mac", "TFLite int8 MAC: (a + 128) * w, int32 accumulator preloaded with the bias, wrapping",
          lambda: PESpec(LayerFormats("affine8[s=1.0,z=-128]", "affine8[s=1.0,z=0]", outputs="affine8[s=1.0,z=0]"))),
    Entry("tflite_requantize_int8", "TFLite requantizer int32 -> int8 (z = -128): per-channel M0 and shift ports, "
          "double rounding, latency 1", lambda: TfliteRequantize(TfliteRequantSpec(Affine(8, 1.0, zero_point=-128)))),
)


def entry(name: str) -> Entry:
    """The catalogue entry ``name`` (``ValueError`` listing the names)."""
    for e in ENTRIES:
        if e.name == name:
            return e
    raise ValueError(f"no catalogue design {name!r}; the catalogue has: {', '.join(e.name for e in ENTRIES)}")


def _pe_bench(pe, module: str, out: Path):
    spec = pe.spec
    trace = random_trace(spec, TB_CYCLES, 1, seed=2026)
    g = golden_run(spec, trace)
    stim = {n: getattr(trace, n)[:, 0] for n in ("a", "w", "bias", "en", "load", "clear")}
    exp = {"acc": g.acc[:, 0], "overflow": g.overflow[:, 0]} | {f: v[:, 0] for f, v in g.flags.items()}
    cosim.write_testbench(pe, module, stim, exp, out)


def _array_bench(arr: SystolicArray, module: str, out: Path):
    f = arr.spec.formats
    rng = np.random.default_rng(2026)
    a = rng.integers(f.inputs.min_code, f.inputs.max_code + 1, (6, 40))
    w = rng.integers(f.weights.min_code, f.weights.max_code + 1, (40, 7))
    b = rng.integers(-(1 << 16), 1 << 16, 7)
    c = fixed_matmul(a, w, f.inputs, f.weights, accumulator=arr.spec.accumulator, overflow=f.overflow,
                     bias_codes=b).codes
    st = gemm_stream(arr, a, w, b)
    exp = tile_outputs(st, arr, c) | {"done": st.done.astype(np.int64)}
    cosim.write_testbench(arr, module, st.inputs, exp, out, mask=tile_mask(st, arr, c.shape), before_edge=True)


def _requant_bench(rq: Requantize, module: str, out: Path):
    acc = rq.spec.accumulator
    rng = np.random.default_rng(2026)
    codes = np.concatenate([rng.integers(acc.min_code, acc.max_code + 1, TB_CYCLES - 6),
                            [acc.min_code, acc.max_code, 0, -1, 1 << 9, (1 << 9) + (1 << 10)]])
    q, sat = rq.spec.golden(codes)
    cosim.write_testbench(rq, module, {"acc": codes}, {"out": q, "saturated": sat}, out, clocked=False)


def _vector_bench(comp, module: str, out: Path):
    stim, exp = comp.vectors(TB_CYCLES, seed=2026)
    cosim.write_testbench(comp, module, stim, exp, out)


def write_catalog(root) -> list[Path]:
    """Write every design as ``<root>/<name>.v`` and its testbench into ``<root>/tb/<name>/``; the paths."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    written = []
    for e in ENTRIES:
        made = e.make()
        comp = make_pe(made) if isinstance(made, PESpec) else made
        module = e.name
        path = root / f"{e.name}.v"
        path.write_text(verilog_for(comp, name=module))
        written.append(path)
        tb = root / "tb" / e.name
        if isinstance(made, PESpec):
            _pe_bench(comp, module, tb)
        elif isinstance(made, SystolicArray):
            _array_bench(comp, module, tb)
        elif isinstance(made, Requantize):
            _requant_bench(comp, module, tb)
        else:  # a clocked component that makes its own vectors (TfliteRequantize)
            _vector_bench(comp, module, tb)
        written.extend(sorted(tb.iterdir()))
    return written


if __name__ == "__main__":  # python -m ristretto_sim.rtl.catalog hdl
    import sys

    write_catalog(sys.argv[1] if len(sys.argv) > 1 else "hdl")
