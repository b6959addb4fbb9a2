"""The energy/area model hits its published anchors, cites a source for every number, and keeps the
bit-parallel rule (datapath energy whatever the layer's formats)."""

import math
from pathlib import Path

import pytest
import yaml

from ristretto_sim.errors import ConfigError
from ristretto_sim.formats import Minifloat
from ristretto_sim.hw.config import BufferConfig, PEConfig
from ristretto_sim.hw.energy import (
    DEFAULT_TABLE,
    TechnologyTable,
    area,
    default_table,
    mac_energy,
    pe_area_um2,
)
from ristretto_sim.hw.enums import Dataflow
from ristretto_sim.hw.layers import GemmShape
from ristretto_sim.hw.simulate import simulate
from ristretto_sim.hw.vector import vector_area_um2

from .conftest import make_config

FP16, FP32 = Minifloat(5, 10), Minifloat(8, 23)


def test_anchors_are_hit():
    t = default_table()
    assert t.int_mul_pj(8, 8) == pytest.approx(0.2, abs=1e-6)
    assert t.int_mul_pj(32, 32) == pytest.approx(3.1, abs=1e-6)
    assert t.int_add_pj(8) == pytest.approx(0.03, abs=1e-5)
    assert t.int_add_pj(32) == pytest.approx(0.1, abs=1e-5)
    assert t.float_mul_pj(FP16, FP16) == pytest.approx(1.1)
    assert t.float_mul_pj(FP32, FP32) == pytest.approx(3.7)
    assert t.float_add_pj(16) == pytest.approx(0.4)
    assert t.float_add_pj(32) == pytest.approx(0.9)
    assert t.shift_pj(8, 8) == pytest.approx(0.024)
    for kb, pj in ((8, 10.0), (32, 20.0), (1024, 100.0)):
        assert t.sram_pj_per_access(BufferConfig(kb * 1024, word_bits=64)) == pytest.approx(pj)
    assert t.sram_pj_per_access(BufferConfig(8 * 1024, word_bits=16)) == pytest.approx(2.5)
    assert t.int_mul_um2(8, 8) == pytest.approx(282) and t.int_mul_um2(32, 32) == pytest.approx(3495)
    assert t.float_mul_um2(FP16, FP16) == pytest.approx(1640) and t.float_add_um2(32) == pytest.approx(4184)


def test_fp8_multiplier_is_between_int8_and_fp16():
    t = default_table()
    e4m3 = Minifloat(4, 3)
    assert t.int_mul_pj(8, 8) < t.float_mul_pj(e4m3, e4m3) < t.float_mul_pj(FP16, FP16)


def test_every_number_has_a_source():
    data = yaml.safe_load(Path(DEFAULT_TABLE).read_text())

    def walk(node, path):
        if isinstance(node, dict):
            has_number = any(
                isinstance(v, (int, float, list, dict)) and k != "source" for k, v in node.items()
            )
            if path and has_number and "area" != path[-1]:
                assert isinstance(node.get("source"), str) and len(node["source"]) > 10, path
            for k, v in node.items():
                if isinstance(v, dict) and k not in ("anchors_pj", "anchors_um2"):
                    walk(v, path + [k])

    walk(data, [])
    assert data["leakage_modelled"] is True


def test_bit_parallel_pe_energy_ignores_layer_formats_but_traffic_does_not():
    cfg = make_config(8, 8, "os", kb=256)
    layer = GemmShape("g", 32, 32, 64)
    from ristretto_sim.emulator import LayerFormats

    wide = simulate([layer], LayerFormats("int8", "int8", outputs="int8", accumulator="int32"), cfg).layers[0]
    narrow = simulate([layer], LayerFormats("int4", "int4", outputs="int4", accumulator="int32"), cfg).layers[0]
    assert narrow.energy.arithmetic_pj == wide.energy.arithmetic_pj
    assert narrow.energy.dram_pj < wide.energy.dram_pj
    assert narrow.energy.sram_pj < wide.energy.sram_pj


def test_wider_datapath_costs_more_and_serial_pays_per_cycle():
    t = default_table()
    e8 = mac_energy(PEConfig("fixed_mac", "int8", "int8", "int32"), Dataflow.OS, t)
    e16 = mac_energy(PEConfig("fixed_mac", "int16", "int16", "fixed48.0"), Dataflow.OS, t)
    assert e16.arithmetic_pj > e8.arithmetic_pj
    assert e8.arithmetic_pj == pytest.approx(0.2 + t.int_add_pj(32))
    serial = PEConfig("fixed_mac", "int8", "int8", "int32", precision="serial", bits_per_cycle=1)
    assert mac_energy(serial, Dataflow.OS, t, 4).arithmetic_pj == pytest.approx(
        4 * (t.int_mul_pj(1, 8) + t.int_add_pj(32))
    )


def test_area_model():
    cfg = make_config(4, 4)
    a = area(cfg)
    pe = pe_area_um2(cfg.pe, default_table())
    assert a.array_um2 == pytest.approx(16 * pe)
    assert a.total_um2 == pytest.approx(16 * pe + 3 * default_table().sram_um2(cfg.ifmap) + a.vector_um2)
    assert a.vector_um2 == pytest.approx(vector_area_um2(cfg.vector, default_table())) and a.vector_um2 > 0
    assert default_table().sram_um2(BufferConfig(8 * 1024)) == pytest.approx(0.029e6)


def test_dram_energy_override_and_custom_table(tmp_path):
    layer = GemmShape("g", 8, 8, 8)
    base = simulate([layer], None, make_config(kb=256)).layers[0]
    bits = base.dram_read_bits + base.dram_write_bits
    assert base.energy.dram_pj == pytest.approx(bits * 20.3125)
    cfg = make_config(kb=256)
    cfg = cfg.replace(dram=cfg.dram.__class__(None, 0, 8.0))
    assert simulate([layer], None, cfg).layers[0].energy.dram_pj == pytest.approx(bits * 8.0)
    data = yaml.safe_load(Path(DEFAULT_TABLE).read_text())
    data["leakage"]["pe_uw"] = 10.0
    data["leakage"]["sram_uw_per_kb"] = 0.0
    data["leakage"]["logic_nw_per_um2"] = 0.0  # the vector unit's logic then leaks nothing
    path = tmp_path / "leaky.yaml"
    path.write_text(yaml.safe_dump(data))
    table = TechnologyTable.from_yaml(path)
    report = simulate([layer], None, make_config(kb=256), technology=table)
    row = report.layers[0]
    assert report.leakage_modelled
    assert row.energy.leakage_pj == pytest.approx(64 * 10e-6 * row.latency_s * 1e12)
    del data["dram"]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="missing key dram"):
        TechnologyTable.from_yaml(path)


def test_sram_energy_grows_like_sqrt_capacity():
    t = default_table()
    small, big = (t.sram_pj_per_access(BufferConfig(kb * 1024)) for kb in (16, 256))
    assert 0.35 < math.log(big / small) / math.log(16) < 0.6


def test_leakage_is_pe_area_times_density_plus_sram_per_kb_over_the_latency():
    """Hand calculation from the default table: 10 nW/um^2 of PE area and 1700 uW per KB of SRAM, paid over each
    layer's latency; doubling the array doubles the array's share; SCALE-Sim mode leaves it out."""
    t = default_table()
    assert t.leak_logic_nw_per_um2 == 10.0 and t.leak_sram_uw_per_kb == 1700.0
    cfg = make_config(8, 8, "os", kb=64)
    layer = GemmShape("g", 16, 16, 32)
    report = simulate([layer], None, cfg)
    row = report.layers[0]
    pe_uw = 10.0 * pe_area_um2(cfg.pe, t) * 1e-3
    sram_uw = 1700.0 * 3 * 64
    assert report.leakage["pe_uw"] == pytest.approx(pe_uw)
    vector_uw = 10.0 * vector_area_um2(cfg.vector, t) * 1e-3
    total_uw = 64 * pe_uw + sram_uw + vector_uw
    assert report.leakage["total_mw"] == pytest.approx(total_uw * 1e-3)
    assert row.energy.leakage_pj == pytest.approx(total_uw * 1e-6 * row.latency_s * 1e12)
    big = simulate([layer], None, make_config(16, 8, "os", kb=64)).leakage
    assert big["array_mw"] == pytest.approx(2 * report.leakage["array_mw"])
    assert big["sram_mw"] == pytest.approx(report.leakage["sram_mw"])
    ss = simulate([layer], None, cfg, scalesim_compatible=True)
    assert ss.layers[0].energy.leakage_pj == 0 and not ss.leakage_modelled
