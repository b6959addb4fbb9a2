"""The formal check (``rtl.formal``): SymbiYosys proves small fixed-point, minifloat, affine (constant, folded and
register zero points) and shift PEs equal to the reference built from the emulator's products and accumulator
contract, in every reachable state; a mutated PE fails the proof. Each kind is proven with its own solver
(``formal_solver``): z3, and cvc5 for the shift PE (z3 did not finish the base case of even a 3-bit x pow2[-2,0]
shift PE within 15 minutes here; cvc5 takes 1 s)."""

import shutil

import pytest

from ristretto_sim.formats import PowerOfTwo
from ristretto_sim.rtl import fixed_pe, shift_pe
from ristretto_sim.rtl.formal import (
    MAX_INDEX_BITS,
    SOLVERS,
    FormalToolError,
    ProductTable,
    prove,
    sby_command,
    solver_for,
)
from ristretto_sim.rtl.pe import Product

from .helpers import spec


def _missing(solver: str) -> str | None:
    try:
        sby_command()
    except FormalToolError as exc:
        return str(exc)
    return None if shutil.which(solver) else f"{solver} (the solver) is not installed: {SOLVERS[solver]}"


MISSING = _missing("z3")
needs_tools = pytest.mark.skipif(MISSING is not None, reason=f"formal check skipped: {MISSING}")
needs_cvc5 = pytest.mark.skipif(_missing("cvc5") is not None, reason=f"formal check skipped: {_missing('cvc5')}")


@pytest.mark.parametrize("inputs, weights, acc, overflow", [
    ("fixed3.1", "fixed3.1", "fixed6.2", "saturate"),
    ("ufixed3.0", "fixed3.2", "fixed5.2", "wrap"),
])
@needs_tools
def test_fixed_mac_pes_are_proven(inputs, weights, acc, overflow, tmp_path):
    result = prove(spec(inputs, weights, acc, overflow=overflow), workdir=tmp_path)
    assert result.passed, result.log


@pytest.mark.slow
@pytest.mark.parametrize("s", [
    spec("fixed5.2", "fixed5.2", "fixed12.4", overflow="saturate"),
    spec("fixed5.2", "ufixed5.3", "fixed9.5", overflow="wrap"),
    spec("fp4_e2m1", "fp4_e2m1", k=8),
    spec("e4m3fn", "fp4_e2m1", k=4),
], ids=["fixed5-sat", "fixed5-wrap", "fp4", "e4m3fn-x-fp4"])
@needs_tools
def test_every_pe_kind_is_proven(s, tmp_path):
    result = prove(s, workdir=tmp_path)
    assert result.passed, result.log


class SaturatesOneShort(fixed_pe.FixedMacPE):
    """A mutant: the upper saturation bound one code below the accumulator's largest."""

    def add(self, m, base, product):
        from amaranth.hdl import Const, Mux

        acc = self.spec.accumulator
        v = base + product.value
        hi = acc.max_code - 1
        clamped = Mux(v > hi, Const(hi), Mux(v < acc.min_code, Const(acc.min_code), v))
        return clamped, (v > hi) | (v < acc.min_code)


class DropsTheLowBit(fixed_pe.FixedMacPE):
    """A mutant: the product loses its lowest bit when both operands are odd."""

    def product(self, m, a, w):
        return Product((a * w) & ~1)


@pytest.mark.parametrize("mutant", [SaturatesOneShort, DropsTheLowBit])
@needs_tools
def test_a_mutated_pe_fails_the_proof(mutant, tmp_path):
    s = spec("fixed3.1", "fixed3.1", "fixed6.2", overflow="saturate")
    result = prove(s, pe=mutant(s), workdir=tmp_path)
    assert not result.passed and result.status.startswith("FAIL"), result.status


def test_the_table_holds_the_emulators_products():
    s = spec("fixed3.1", "ufixed2.0", "fixed6.1", overflow="saturate")
    table = ProductTable.of(s)
    for a in range(-4, 4):
        for w in range(4):
            assert table.products[((a & 7) << 2) | w] == a * w
    with pytest.raises(ValueError, match=f"at most {MAX_INDEX_BITS}"):
        ProductTable.of(spec("fixed9.4", "fixed9.4", "fixed24.8"))


AFFINE_OUT = "affine8[s=1.0,z=0]"


@pytest.mark.parametrize("inputs, weights", [
    ("affine3[s=1.0,z=-2]", "affine3[s=1.0,z=0]"),
    ("affine4[s=1.0,z=5]", "affine4[s=1.0,z=-1]"),
    pytest.param("affine5[s=1.0,z=-16]", "affine5[s=1.0,z=3]", marks=pytest.mark.slow),  # about 20 s
])
@needs_tools
def test_affine_pes_are_proven(inputs, weights, tmp_path):
    """The affine PE's int32 register wraps and its products fit it: the table is the PE's own golden step."""
    result = prove(spec(inputs, weights, outputs=AFFINE_OUT), workdir=tmp_path)
    assert result.passed, result.log


@needs_tools
def test_an_affine_pe_without_its_input_zero_point_fails_the_proof(tmp_path):
    from tests.rtl.test_affine_pe import ForgetsInputZeroPoint

    s = spec("affine4[s=1.0,z=5]", "affine4[s=1.0,z=-1]", outputs=AFFINE_OUT)
    result = prove(s, pe=ForgetsInputZeroPoint(s), workdir=tmp_path)
    assert not result.passed and result.status.startswith("FAIL"), result.status


@needs_tools
def test_a_folded_affine_pe_is_proven_and_the_subtracting_one_is_not_it(tmp_path):
    from dataclasses import replace

    s = replace(spec("affine4[s=1.0,z=5]", "affine4[s=1.0,z=0]", outputs=AFFINE_OUT), zero_point="fold")
    assert prove(s, workdir=tmp_path / "fold").passed
    from ristretto_sim.rtl.affine_pe import AffineMacPE

    result = prove(s, pe=AffineMacPE(replace(s, zero_point="subtract")), workdir=tmp_path / "subtract")
    assert not result.passed and result.status.startswith("FAIL"), result.status


SHIFT_PES = {
    "3-bit x pow2[-2,0], saturating": spec("fixed3.1", PowerOfTwo(-2, 0), acc="fixed6.3"),
    "4-bit x pow2[-3,0], saturating": spec("fixed4.2", PowerOfTwo(-3, 0), acc="fixed9.5"),
    "unsigned 4-bit x pow2[-3,2] without zero": spec("ufixed4.4", PowerOfTwo(-3, 2, has_zero=False), acc="fixed12.7"),
}
SHIFT_PES_SLOW = {
    "5-bit x pow2[-4,1], wrapping": spec("fixed5.2", PowerOfTwo(-4, 1), acc="fixed10.6", overflow="wrap"),
    "6-bit x pow2[-6,-1], 7-bit shifter": spec("fixed6.3", PowerOfTwo(-6, -1), acc="fixed9.6", shifter_bits=7),
}


@needs_cvc5
@pytest.mark.parametrize("name", list(SHIFT_PES) + [pytest.param(n, marks=pytest.mark.slow) for n in SHIFT_PES_SLOW])
def test_shift_pes_are_proven_with_cvc5(name, tmp_path):
    """1-3 s each here (the slow ones 8 and 18 s): the barrel shifter with what falls off both ends, the sign in the
    adder's carry-in, saturation or wrap after every addition."""
    s = {**SHIFT_PES, **SHIFT_PES_SLOW}[name]
    assert solver_for(s) == "cvc5"
    result = prove(s, workdir=tmp_path)
    assert result.passed, result.log


class ForgetsTheCarry(shift_pe.ShiftPE):
    """A mutant: a negative weight's product loses the carry-in that completes its two's complement."""

    def product(self, m, a, w):
        p = super().product(m, a, w)
        return Product(p.value, 0, p.flags)


@needs_cvc5
def test_a_mutated_shift_pe_fails_the_proof(tmp_path):
    s = SHIFT_PES["3-bit x pow2[-2,0], saturating"]
    result = prove(s, pe=ForgetsTheCarry(s), workdir=tmp_path)
    assert not result.passed and result.status.startswith("FAIL"), result.status


def test_a_missing_solver_is_named_with_its_fix(monkeypatch):
    import ristretto_sim.rtl.formal as formal

    monkeypatch.setattr(formal.shutil, "which", lambda name: None)
    with pytest.raises(FormalToolError, match="cvc5 not found: .*apt-get install cvc5"):
        prove(SHIFT_PES["3-bit x pow2[-2,0], saturating"])


@needs_tools
def test_a_register_zero_point_pe_is_proven_at_the_range_ends(tmp_path):
    """The register zero-point PE with ``za``/``zw`` held at the layer's zero points (the ends of the 4-bit code
    range, the widest centred operands) against that layer's table."""
    from dataclasses import replace

    s = replace(spec("affine4[s=1.0,z=-8]", "affine4[s=1.0,z=7]", outputs=AFFINE_OUT), zero_point="register")
    result = prove(s, workdir=tmp_path)
    assert result.passed, result.log
