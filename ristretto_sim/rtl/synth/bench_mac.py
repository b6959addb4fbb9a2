"""``BenchMac``: a minimal registered fixed-point MAC, the synthesis driver's own test subject.

``acc <= clear ? 0 : en ? acc + a * w : acc``, the product exact, the sum wrapped to the accumulator's width (the
emulator's ``Overflow.WRAP``). Port widths and signedness come from the fixed-point datapath's formats. It has
no bias preload, saturation or systolic pass-through: it exists so the synthesis driver, its tests and the sweep
have a real clocked arithmetic design of every width before the full PE generators are registered for the sweep
(``sweep.SweepEntry`` takes any formats -> Verilog callable).
"""

from __future__ import annotations

from amaranth import Module, Signal, signed, unsigned
from amaranth.back import verilog
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ristretto_sim.emulator import LayerFormats
from ristretto_sim.emulator.datapaths import select


def _check(formats) -> None:
    if not isinstance(formats, LayerFormats):
        raise TypeError(f"formats={formats!r} must be a LayerFormats")
    datapath = select(formats)
    if datapath.name != "fixed":
        raise ValueError(f"formats={formats}: BenchMac is a fixed-point MAC, not a {datapath.name} datapath")
    if formats.accumulator is None:
        raise ValueError("formats.accumulator=None: declare the accumulator the MAC registers")


def _shape(fmt):
    return signed(fmt.bits) if fmt.signed else unsigned(fmt.bits)


class BenchMac(wiring.Component):
    """The MAC of the module docstring for a fixed-point ``LayerFormats`` with a declared accumulator."""

    def __new__(cls, formats: LayerFormats, *args, **kwargs):
        # validated before the object exists: Amaranth warns about a component created but never elaborated
        _check(formats)
        return super().__new__(cls, formats, *args, src_loc_at=kwargs.pop("src_loc_at", 0) + 1, **kwargs)

    def __init__(self, formats: LayerFormats):
        datapath = select(formats)
        self.formats = formats
        self.acc_format = datapath.accumulator_for(1)
        super().__init__({
            "a": In(_shape(datapath.inputs)),
            "w": In(_shape(datapath.weights)),
            "en": In(1),
            "clear": In(1),
            "acc": Out(_shape(self.acc_format)),
        })

    def elaborate(self, platform):
        m = Module()
        product = Signal(signed(self.a.shape().width + self.w.shape().width + 1))
        m.d.comb += product.eq(self.a * self.w)
        with m.If(self.clear):
            m.d.sync += self.acc.eq(0)
        with m.Elif(self.en):
            m.d.sync += self.acc.eq(self.acc + product)
        return m


def bench_mac_verilog(formats: LayerFormats, top: str) -> str:
    """Verilog of a ``BenchMac`` for ``formats`` as module ``top`` (no source paths in the text)."""
    return verilog.convert(BenchMac(formats), name=top, emit_src=False)
