"""``pe.zero_point``: an affine PE that subtracts the input zero point per MAC (default) or folds it into the bias
(a plain raw-code MAC, the int8 fixed PE's price); asymmetric weights add the row-sum unit; ``simulate`` of an int8
TFLite model on a folding PE is cheaper and computes the same."""

import json
from pathlib import Path

import pytest

from ristretto_sim.cli import main
from ristretto_sim.errors import ConfigError
from ristretto_sim.hw import AcceleratorConfig, Dataflow, PEConfig, ZeroPoint, preset
from ristretto_sim.hw.energy import default_table, mac_energy, pe_area_um2, readout_pj

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "tflite"
INT8 = "affine8[s=1.0,z=0]"
UINT8 = "uaffine8[s=1.0,z=128]"


def _pe(zp, fmt=INT8):
    return PEConfig("affine", fmt, fmt, "fixed32.0", zero_point=zp)


def test_default_subtracts_and_fold_is_validated():
    assert PEConfig("affine", INT8, INT8, "fixed32.0").zero_point is ZeroPoint.SUBTRACT
    assert "zero_point" not in _pe("subtract").to_dict() and _pe("fold").to_dict()["zero_point"] == "fold"
    with pytest.raises(ValueError, match="pe.zero_point='fold' is for affine PEs"):
        PEConfig(zero_point="fold")
    with pytest.raises(ValueError, match="pe.zero_point"):
        _pe("halve")


def test_yaml_round_trip_and_one_line_error():
    c = preset("edge-32x32-int8").replace(pe=_pe("fold"))
    assert AcceleratorConfig.from_yaml(c.to_yaml()) == c
    with pytest.raises(ConfigError, match="pe.zero_point"):
        AcceleratorConfig.from_dict({"rows": 2, "cols": 2, "pe": {"zero_point": "fold"}})


def test_fold_prices_the_int8_fixed_pe():
    t = default_table()
    fixed, sub, fold = preset("edge-32x32-int8").pe, _pe("subtract"), _pe("fold")
    pes = {"fixed": fixed, "sub": sub, "fold": fold}
    e = {n: mac_energy(pe, Dataflow.OS, t).arithmetic_pj for n, pe in pes.items()}
    assert e["fold"] == pytest.approx(e["fixed"]) and e["fold"] == pytest.approx(0.300, abs=5e-4)
    assert e["sub"] == pytest.approx(0.324, abs=1e-3)
    assert pe_area_um2(fold, t) == pytest.approx(pe_area_um2(fixed, t)) and pe_area_um2(fold, t) < pe_area_um2(sub, t)
    assert readout_pj(fold, t) == readout_pj(sub, t)  # the folded bias costs nothing at run time


def test_asymmetric_weights_pay_the_row_sum_unit():
    t = default_table()
    sub, fold = _pe("subtract", UINT8), _pe("fold", UINT8)
    add32 = t.int_add_pj(32)
    # folded: 8x8 multiplier + int32 add + the int32 row-sum add, against a 9x9 multiplier + int32 add
    assert mac_energy(fold, Dataflow.OS, t).arithmetic_pj == pytest.approx(t.int_mul_pj(8, 8) + 2 * add32)
    assert mac_energy(sub, Dataflow.OS, t).arithmetic_pj == pytest.approx(t.int_mul_pj(9, 9) + add32)
    assert readout_pj(fold, t) == pytest.approx(readout_pj(sub, t) + t.int_mul_pj(32, 8) + add32)
    assert pe_area_um2(fold, t) == pytest.approx(pe_area_um2(_pe("fold"), t) + t.int_add_um2(32))


@pytest.mark.parametrize("stem", ["ad01_int8", "kws_ref_model"])
def test_cli_simulate_with_a_folding_pe_is_cheaper(stem, tmp_path, capsys):
    path = DATA / f"{stem}.tflite"
    if not path.is_file():
        pytest.skip(f"{path} is absent (the shared MLPerf Tiny models)")
    reports = {}
    for zp in ("subtract", "fold"):
        arch = tmp_path / f"{zp}.yaml"
        preset("edge-32x32-int8").replace(pe=_pe(zp)).to_yaml(arch)
        assert main(["simulate", str(path), "--arch", str(arch), "--json"]) == 0
        reports[zp] = json.loads(capsys.readouterr().out)
    sub, fold = (reports[z]["total"] for z in ("subtract", "fold"))
    assert fold["macs"] == sub["macs"] and fold["total_cycles"] == sub["total_cycles"]
    assert fold["energy_pj"]["arithmetic"] == pytest.approx(sub["energy_pj"]["arithmetic"] * 0.300 / 0.3245, rel=2e-3)
    assert reports["fold"]["config"]["pe"]["zero_point"] == "fold"


def test_register_zero_points_cost_what_subtracting_costs_and_have_their_own_synthesized_rows():
    """Zero points in configuration registers (one PE for every layer): the same subtractors and multiplier as
    the subtracting PE, so the same pJ and table area; its synthesized rows are its own."""
    from ristretto_sim.hw.energy import area
    from ristretto_sim.hw.synth_area import pe_formats_text
    from tests.hw.conftest import make_config

    t = default_table()
    sub, reg = _pe("subtract"), _pe("register")
    assert reg.to_dict()["zero_point"] == "register" and AcceleratorConfig.from_yaml(
        preset("edge-32x32-int8").replace(pe=reg).to_yaml()).pe == reg
    assert mac_energy(reg, Dataflow.OS, t).arithmetic_pj == mac_energy(sub, Dataflow.OS, t).arithmetic_pj
    assert pe_area_um2(reg, t) == pe_area_um2(sub, t) and readout_pj(reg, t) == readout_pj(sub, t)
    assert pe_formats_text(reg) == pe_formats_text(sub) + " (zero points in registers)"
    a, b = (area(make_config(4, 4, pe=pe, pe_area="synthesis")).to_dict()["pe_transistors"] for pe in (sub, reg))
    assert b > a  # subtracting a register costs more than subtracting the constant 0
