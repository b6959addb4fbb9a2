"""The affine PE kind on the three MLPerf Tiny int8 TFLite models: ``simulate MODEL.tflite`` runs their embedded
affine plan on an affine PE of the preset's array, with the MACs of the imported layers."""

import dataclasses
import json
from pathlib import Path

import pytest

from ristretto_sim.cli import main
from ristretto_sim.hw import PEConfig, PEKind, pe_for, preset, simulate

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "tflite"
#: MACs per inference of the imported layers (README, "Int8 models")
MACS = {"ad01_int8": 264_192, "kws_ref_model": 2_656_768, "vww_96_int8": 7_489_664}


def _model(stem: str) -> Path:
    path = DATA / f"{stem}.tflite"
    if not path.is_file():
        pytest.skip(f"{path} is absent (the shared MLPerf Tiny models)")
    return path


def test_affine_pe_config_is_the_affine_datapath():
    pe = PEConfig("affine", "affine8[s=1.0,z=0]", "affine8[s=1.0,z=0]", "fixed32.0")
    assert pe.kind is PEKind.AFFINE and pe.datapath.name == "affine"
    with pytest.raises(ValueError, match="needs a Affine"):
        PEConfig("affine", "int8", "int8", "int32")


@pytest.mark.parametrize("stem", ["ad01_int8", "kws_ref_model"])
def test_cli_simulate_tflite_uses_the_affine_pe(stem, capsys):
    assert main(["simulate", str(_model(stem)), "--arch", "edge-32x32-int8", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["config"]["pe"]["kind"] == "affine"
    assert report["total"]["macs"] == MACS[stem]
    assert report["total"]["energy_pj"]["arithmetic"] > 0


def test_python_simulate_with_the_embedded_plan():
    from ristretto_sim import load_model
    from ristretto_sim.graph.plan import embedded_plan
    from ristretto_sim.hw.network import layers_from_network

    net = load_model(str(_model("kws_ref_model")))
    layers, skipped = layers_from_network(net)
    plan = embedded_plan(net)
    plan = plan.replace(layers={k: v for k, v in plan.layers.items() if k not in set(skipped)})
    config = preset("edge-32x32-int8")
    config = config.replace(pe=pe_for(layers, plan, config))
    assert config.pe.kind is PEKind.AFFINE
    assert simulate(layers, plan, config).total.macs == MACS["kws_ref_model"]


def test_requantizer_is_priced_per_output_element():
    from ristretto_sim.hw import GemmShape
    from ristretto_sim.hw.energy import default_table, readout_pj

    pe = PEConfig("affine", "affine8[s=1.0,z=0]", "affine8[s=1.0,z=0]", "fixed32.0")
    table = default_table()
    per_output = readout_pj(pe, table)
    assert per_output > table.int_mul_pj(32, 32)  # the 32x32 high multiply and more
    assert readout_pj(preset("edge-32x32-int8").pe, table) == 0.0
    formats = "affine8[s=0.05,z=-3]", "affine8[s=0.01,z=0]"
    from ristretto_sim.emulator import LayerFormats

    f = LayerFormats(*formats, outputs="affine8[s=0.1,z=4]")
    config = preset("edge-32x32-int8").replace(pe=pe)
    small, wide = (simulate([GemmShape("g", 4, n, 64)], f, config).layers[0].energy.vector_pj for n in (8, 16))
    assert wide == pytest.approx(2 * small) and small == pytest.approx(4 * 8 * per_output)


def test_requantizers_are_in_the_area_one_per_vector_lane():
    from ristretto_sim.hw.energy import area, default_table, readout_area_um2

    table = default_table()
    pe = PEConfig("affine", "affine8[s=1.0,z=0]", "affine8[s=1.0,z=0]", "fixed32.0")
    one = readout_area_um2(pe, table)
    assert one > table.int_mul_um2(32, 32)  # the Q31 high multiply, the shifter and the adders
    for lanes in (4, 16):
        config = preset("edge-32x32-int8").replace(pe=pe)
        config = config.replace(vector=dataclasses.replace(config.vector, lanes=lanes))
        a = area(config, table)
        assert a.readout_um2 == pytest.approx(lanes * one) and a.to_dict()["readout_um2"] == a.readout_um2
        assert a.total_um2 == pytest.approx(a.array_um2 + sum(a.sram_um2.values()) + a.vector_um2 + a.readout_um2)
    fixed = area(preset("edge-32x32-int8"), table)
    assert fixed.readout_um2 == 0.0 and "readout_um2" not in fixed.to_dict()


def test_cli_zero_point_fold_on_the_swapped_affine_pe(capsys):
    model = str(_model("kws_ref_model"))
    energy = {}
    for zp in ("subtract", "fold"):
        assert main(["simulate", model, "--arch", "edge-32x32-int8", "--zero-point", zp, "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["config"]["pe"]["kind"] == "affine"
        assert report["config"]["pe"].get("zero_point", "subtract") == zp
        energy[zp] = report["total"]["energy_pj"]["arithmetic"]
    assert energy["fold"] < energy["subtract"]  # an 8 x 8 multiplier of raw codes instead of 9 x 8
    assert main(["simulate", "lenet", "--arch", "edge-32x32-int8", "--zero-point", "fold"]) == 2
    assert "--zero-point is for an affine PE" in capsys.readouterr().err
    assert main(["simulate", model, "-a", "edge-32x32-int8", "-a", "eyeriss-12x14-ws", "--zero-point", "fold"]) == 2
    assert "pe.zero_point in the accelerator YAML" in capsys.readouterr().err
