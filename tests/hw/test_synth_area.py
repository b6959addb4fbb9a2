"""Synthesis-based PE area and FPGA resources, read from the packaged ``hdl/`` results table."""

import json

import pytest

from ristretto_sim.assets import asset_path
from ristretto_sim.errors import ConfigError
from ristretto_sim.hw import AcceleratorConfig, GemmShape, PEConfig, area, simulate
from ristretto_sim.hw.energy import default_table, pe_area_um2
from ristretto_sim.hw.synth_area import NAND2_UM2, FPGATarget, results_path
from tests.hw.conftest import make_config

INT8 = PEConfig("fixed_mac", "int8", "int8", "int32")


def _row(formats, target, **match):
    rows = json.loads(asset_path("hdl", "synth_results.json").read_text())["rows"]
    return next(r for r in rows if r["formats"] == formats and r["target"] == target
                and all(r[k] == v for k, v in match.items()))


def test_the_table_is_package_data():
    assert results_path() == asset_path("hdl", "synth_results.json") and results_path().is_file()


def test_synthesis_pe_area_is_nand2_equivalents_and_reports_its_ratio():
    cfg = make_config(4, 4, pe=INT8, pe_area="synthesis")
    row = _row("fixed8.0 x fixed8.0 -> fixed32.0", "generic")
    a = area(cfg)
    assert a.pe_um2 == pytest.approx(row["transistors"] / 4 * NAND2_UM2)
    assert a.array_um2 == pytest.approx(16 * a.pe_um2)
    table_pe = pe_area_um2(INT8, default_table())
    d = a.to_dict()
    assert d["pe_area_source"] == "synthesis" and d["pe_transistors"] == row["transistors"]
    assert d["table_pe_um2"] == pytest.approx(table_pe)
    assert d["synthesis_to_table_ratio"] == pytest.approx(a.pe_um2 / table_pe)
    assert d["source"].startswith(f"PE: synthesis of {row['top']}") and "Nangate45" in d["source"]
    # the PE leaks on the area the report uses
    layers = [GemmShape("fc", 1, 64, 32)]
    table = default_table()
    synth = simulate(layers, None, cfg).leakage["pe_uw"]
    plain = simulate(layers, None, make_config(4, 4, pe=INT8)).leakage["pe_uw"]
    assert synth == pytest.approx(table.pe_leakage_uw(a.pe_um2))
    assert plain == pytest.approx(table.pe_leakage_uw(table_pe)) and synth > plain


@pytest.mark.parametrize("pe, kind", [
    (PEConfig("minifloat", "e4m3fn", "e4m3fn", "fixed47.18"), "minifloat-kulisch"),
    (PEConfig("shift", "fixed8.4", "pow2[-7,0]", "fixed20.11"), "shift"),
    (PEConfig("affine", "affine8[s=1.0,z=0]", "affine8[s=1.0,z=0]", "fixed32.0"), "affine"),
    (PEConfig("minifloat", "e4m3fn", "e4m3fn", "fp16"), "minifloat-float"),
])
def test_minifloat_shift_and_affine_pes_find_their_synthesized_rows(pe, kind):
    """Kulisch and float-accumulator minifloat PEs, shift and affine PEs: the cost model's area is the row's."""
    row = _row(f"{pe.inputs} x {pe.weights} -> {pe.accumulator}", "generic")
    assert row["kind"] == kind
    d = area(make_config(4, 4, pe=pe, pe_area="synthesis")).to_dict()
    assert d["pe_transistors"] == row["transistors"]
    assert d["pe_um2"] == pytest.approx(row["transistors"] / 4 * NAND2_UM2)


def test_a_folding_affine_pe_finds_its_own_rows():
    """Folding the input zero point into the bias is another circuit (a raw-code multiplier): its rows are marked,
    and the cost model's folding PE takes them, not the subtracting PE's."""
    sub = PEConfig("affine", "affine8[s=1.0,z=0]", "affine8[s=1.0,z=0]", "fixed32.0")
    fold = PEConfig("affine", "affine8[s=1.0,z=0]", "affine8[s=1.0,z=0]", "fixed32.0", zero_point="fold")
    a, b = (area(make_config(4, 4, pe=pe, pe_area="synthesis")).to_dict()["pe_transistors"] for pe in (sub, fold))
    assert a == _row("affine8[s=1.0,z=0] x affine8[s=1.0,z=0] -> fixed32.0", "generic")["transistors"]
    assert b == _row("affine8[s=1.0,z=0] x affine8[s=1.0,z=0] -> fixed32.0 (zero point folded)",
                     "generic")["transistors"]
    assert b != a


def test_no_row_is_of_the_bench_mac():
    """The lookup takes the first matching row: every row must be of the rtl PEs the sweep registers."""
    data = json.loads(asset_path("hdl", "synth_results.json").read_text())
    assert "bench_mac" not in json.dumps(data["config"])
    assert all(r["top"].startswith(("fixed_pe_", "shift_pe_", "minifloat_pe_", "affine_pe_", "affine_fold_pe_",
                                    "affine_register_pe_", "minifloat_float_pe_")) for r in data["rows"])
    keys = [(r["kind"], r["formats"], r["target"], r["device"], r["dsp"]) for r in data["rows"]]
    assert len(keys) == len(set(keys))


def test_table_area_is_unchanged_by_default():
    d = area(make_config(4, 4, pe=INT8)).to_dict()
    assert set(d) == {"pe_um2", "array_um2", "sram_um2", "vector_um2", "total_um2", "source"}
    assert d["pe_um2"] == pytest.approx(pe_area_um2(INT8, default_table()))


def test_fpga_target_gives_resources_and_the_slower_clock():
    row = _row("fixed8.0 x fixed8.0 -> fixed32.0", "ice40", device="hx8k")
    fast = make_config(4, 4, pe=INT8, fpga="ice40-hx8k", clock_mhz=1000.0)
    report = simulate([GemmShape("g", 16, 16, 16)], None, fast)
    fpga = report.area["fpga"]
    assert fpga["array"]["luts"] == 16 * row["luts"] and fpga["per_pe"]["ffs"] == row["ffs"]
    assert fpga["clock_mhz"] == row["fmax_mhz"] == report.config["clock_mhz"]
    assert fpga["configured_clock_mhz"] == 1000.0
    assert report.total.latency_s == pytest.approx(report.total.total_cycles / (row["fmax_mhz"] * 1e6))
    slow = make_config(4, 4, pe=INT8, fpga="ice40-hx8k", clock_mhz=10.0)
    assert simulate([GemmShape("g", 16, 16, 16)], None, slow).config["clock_mhz"] == 10.0


def test_ecp5_prefers_dsp_rows_unless_nodsp():
    dsp = area(make_config(2, 2, pe=INT8, fpga="ecp5-25k")).to_dict()["fpga"]
    fabric = area(make_config(2, 2, pe=INT8, fpga="ecp5-25k-nodsp")).to_dict()["fpga"]
    assert dsp["dsp"] and dsp["per_pe"]["dsps"] >= 1
    assert not fabric["dsp"] and fabric["per_pe"]["dsps"] == 0 and fabric["per_pe"]["luts"] > dsp["per_pe"]["luts"]


def test_missing_rows_and_bad_targets_are_clear_errors():
    wide = PEConfig("fixed_mac", "int8", "int8", "fixed40.0")
    with pytest.raises(ConfigError, match=r"no generic \(CMOS\) synthesis result for the fixed PE fixed8.0 x "
                                          r"fixed8.0 -> fixed40.0 .*ristretto-sim synth --sweep"):
        area(make_config(2, 2, pe=wide, pe_area="synthesis"))
    with pytest.raises(ValueError, match="fpga='xc7a35t' is not an FPGA target"):
        make_config(2, 2, fpga="xc7a35t")
    with pytest.raises(ValueError, match="pe_area='asic'"):
        make_config(2, 2, pe_area="asic")
    assert str(FPGATarget.parse("ECP5-25K-nodsp")) == "ecp5-25k-nodsp"


def test_yaml_round_trip_keeps_the_new_fields_and_omits_defaults(tmp_path):
    cfg = make_config(2, 2, pe=INT8, pe_area="synthesis", fpga="ice40-up5k")
    back = AcceleratorConfig.from_yaml(cfg.to_yaml(tmp_path / "a.yaml"))
    assert back == cfg and back.to_dict()["fpga"] == "ice40-up5k"
    assert "pe_area" not in make_config(2, 2).to_dict() and "fpga" not in make_config(2, 2).to_dict()


def test_simulate_command_names_its_area_source(tmp_path, capsys):
    from ristretto_sim.cli import main

    arch = tmp_path / "arch.yaml"
    make_config(8, 8, pe=INT8, pe_area="synthesis", fpga="ecp5-25k").to_yaml(arch)
    topo = tmp_path / "t.csv"
    topo.write_text("Layer, M, N, K,\ng, 16, 16, 16,\n")
    assert main(["simulate", "--topology", str(topo), "--gemm", "--arch", str(arch)]) == 0
    out = capsys.readouterr().out
    assert "area source: PE: synthesis of fixed_pe_fixed8_0_fixed8_0_fixed32_0" in out
    assert "x the table's" in out and "FPGA ecp5 25k:" in out
    assert main(["simulate", "--topology", str(topo), "--gemm", "--arch", "edge-32x32-int8"]) == 0
    assert "area source: horowitz45 area table" in capsys.readouterr().out


def test_synth_table_names_the_table_area_and_fpga_read(tmp_path):
    # a table of its own with one row of the shipped one, its transistor count doubled
    shipped = json.loads(results_path().read_text())
    row = {**_row("fixed8.0 x fixed8.0 -> fixed32.0", "generic")}
    row["transistors"] *= 2
    own = tmp_path / "mine.json"
    own.write_text(json.dumps({**shipped, "rows": [row]}))
    cfg = make_config(2, 2, pe=INT8, pe_area="synthesis")
    mine = cfg.replace(synth_table=own)
    assert mine.synth_table == str(own) and "synth_table" not in cfg.to_dict()
    assert area(mine).pe_um2 == pytest.approx(2 * area(cfg).pe_um2)
    assert AcceleratorConfig.from_yaml(mine.to_yaml(tmp_path / "a.yaml")) == mine
    with pytest.raises(ConfigError, match=r"no ice40-hx8k synthesis result .* in .*mine.json"):
        area(mine.replace(fpga="ice40-hx8k"))
    with pytest.raises(TypeError, match="synth_table=3"):
        cfg.replace(synth_table=3)
