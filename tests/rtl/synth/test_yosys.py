"""Counts from Yosys' ``stat -json`` reports (parsing only; the tools run in test_driver)."""

import pytest

from ristretto_sim.rtl.synth import SynthesisToolError, Target
from ristretto_sim.rtl.synth.yosys import resources


def _stat(cells, transistors=None):
    design = {"num_cells_by_type": cells}
    if transistors is not None:
        design["estimated_num_transistors"] = transistors
    return {"design": design}


def test_ice40_and_ecp5_cells_map_to_the_row_counts():
    ice = resources(_stat({"SB_LUT4": 87, "SB_CARRY": 13, "SB_DFFESR": 10, "SB_DFF": 6, "SB_MAC16": 1}), Target.ICE40)
    assert (ice.luts, ice.carries, ice.ffs, ice.dsps, ice.brams) == (87, 13, 16, 1, 0)
    ecp = resources(_stat({"LUT4": 5, "CCU2C": 8, "TRELLIS_FF": 16, "MULT18X18D": 1, "PFUMX": 2}), Target.ECP5)
    assert (ecp.luts, ecp.carries, ecp.ffs, ecp.dsps) == (5, 8, 16, 1)
    assert dict(ecp.cells)["PFUMX"] == 2


def test_generic_count_must_be_complete():
    r = resources(_stat({"$_NAND_": 10, "$_DFF_P_": 2}, "64"), Target.GENERIC)
    assert (r.transistors, r.ffs) == (64, 2)
    with pytest.raises(SynthesisToolError, match=r"incomplete \(40\+\).*\$_SDFFE_PP0P_"):
        resources(_stat({"$_NAND_": 10, "$_SDFFE_PP0P_": 2}, "40+"), Target.GENERIC)
