"""The formal check (``rtl.formal``): SymbiYosys proves small fixed-point, minifloat and affine PEs equal to the
reference built from the emulator's products and accumulator contract, in every reachable state; a mutated PE
fails the proof.

The shift PE is not in the list: z3 did not finish the base case of even a 3-bit x pow2[-2,0] shift PE within
15 minutes here (the proofs above take 3-130 s); the shift PE is held to the emulator by the exhaustive and random
simulations of tests/rtl/test_shift_pe.py instead."""

import shutil

import pytest

from ristretto_sim.rtl import fixed_pe
from ristretto_sim.rtl.formal import MAX_INDEX_BITS, FormalToolError, ProductTable, prove, sby_command
from ristretto_sim.rtl.pe import Product

from .helpers import spec

try:
    sby_command()
    MISSING = None if shutil.which("z3") else "z3 (the solver) is not installed: apt-get install z3"
except FormalToolError as exc:
    MISSING = str(exc)
needs_tools = pytest.mark.skipif(MISSING is not None, reason=f"formal check skipped: {MISSING}")


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
