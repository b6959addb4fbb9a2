"""AcceleratorConfig: validation naming the field, YAML round trip, presets, PE fit rules."""

import pytest

from ristretto_sim.emulator import LayerFormats
from ristretto_sim.errors import ConfigError
from ristretto_sim.formats import FixedPoint, Minifloat
from ristretto_sim.hw.config import AcceleratorConfig, BufferConfig, DRAMConfig, PEConfig, check_fits
from ristretto_sim.hw.enums import Dataflow, PEKind
from ristretto_sim.hw.presets import PRESETS, preset


def test_zero_rows_is_an_error_naming_rows():
    with pytest.raises(ValueError, match=r"rows=0 must be >= 1"):
        AcceleratorConfig(0, 8)
    with pytest.raises(ValueError, match=r"cols=-3"):
        AcceleratorConfig(8, -3)


def test_negative_bandwidth_is_an_error_naming_the_field():
    with pytest.raises(ValueError, match=r"dram\.bandwidth_bytes_per_cycle=-4 must be > 0"):
        DRAMConfig(-4.0)
    with pytest.raises(ValueError, match=r"dram\.latency_cycles=-1"):
        DRAMConfig(1.0, -1)


def test_other_bad_fields():
    with pytest.raises(ValueError, match="dataflow='xs'"):
        AcceleratorConfig(8, 8, "xs")
    with pytest.raises(ValueError, match="clock_mhz=0"):
        AcceleratorConfig(8, 8, clock_mhz=0)
    with pytest.raises(ValueError, match="capacity_bytes=0"):
        BufferConfig(0)
    with pytest.raises(
        ValueError, match=r"pe\.weights=e4m3 is a Minifloat; a fixed_mac PE needs a FixedPoint"
    ):
        PEConfig("fixed_mac", "int8", "e4m3", "int32")
    with pytest.raises(TypeError, match="double_buffered"):
        BufferConfig(1024, double_buffered="yes")


def test_enums_accept_strings():
    cfg = AcceleratorConfig(4, 4, "WS", pe=PEConfig("minifloat", "e4m3", "e4m3", "fp16"))
    assert cfg.dataflow is Dataflow.WS and cfg.pe.kind is PEKind.MINIFLOAT
    assert isinstance(cfg.pe.weights, Minifloat)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_yaml_round_trip(name, tmp_path):
    cfg = preset(name)
    path = tmp_path / "arch.yaml"
    cfg.to_yaml(path)
    assert AcceleratorConfig.from_yaml(path) == cfg
    assert cfg.source  # every preset cites where its numbers come from


def test_yaml_errors_name_the_file_and_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("rows: 8\ncols: 8\nbogus: 1\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: unknown keys bogus"):
        AcceleratorConfig.from_yaml(path)
    path.write_text("rows: 0\ncols: 8\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: rows=0 must be >= 1"):
        AcceleratorConfig.from_yaml(path)
    path.write_text("rows: 8\ncols: 8\ndram: {bandwidth_bytes_per_cycle: -1}\n")
    with pytest.raises(ConfigError, match=r"dram\.bandwidth_bytes_per_cycle=-1"):
        AcceleratorConfig.from_yaml(path)
    path.write_text("rows: 8\ncols: 8\nifmap: {capacity_bytes: 10, size: 3}\n")
    with pytest.raises(ConfigError, match="unknown keys in ifmap: size"):
        AcceleratorConfig.from_yaml(path)


def test_preset_lookup():
    assert preset("edge-32x32-int8").num_pes == 1024
    assert preset("tpu-mxu-128x128").rows == 128
    assert preset("eyeriss-12x14-ws").num_pes == 168
    with pytest.raises(KeyError, match="known: "):
        preset("nope")


def test_fit_rules():
    pe = PEConfig("fixed_mac", "int8", "int8", "int32")
    check_fits(LayerFormats("int4", "int8", outputs="int8", accumulator="int32"), pe, "x")
    check_fits(LayerFormats("uint4", "int8", outputs="int8", accumulator="int32"), pe, "x")
    # fraction bits are free
    check_fits(LayerFormats(FixedPoint(8, 7), "int4", outputs="int8", accumulator="int32"), pe, "x")
    for bad in (
        LayerFormats("uint8", "int8", outputs="int8", accumulator="int32"),
        LayerFormats("int8", "int8", outputs="int8", accumulator="fixed40.0"),
    ):
        with pytest.raises(Exception, match="does not fit"):
            check_fits(bad, pe, "x")


def test_serial_cycles_per_mac():
    pe = PEConfig(
        "fixed_mac", "int8", "int8", "int32", precision="serial", bits_per_cycle=3, serial_operand="weights"
    )
    assert pe.cycles_per_mac(LayerFormats("int8", "int8", outputs="int8", accumulator="int32")) == 3
    assert pe.cycles_per_mac(LayerFormats("int8", "int4", outputs="int8", accumulator="int32")) == 2
    assert PEConfig().cycles_per_mac(LayerFormats("int8", "int4", outputs="int8", accumulator="int32")) == 1


def test_datapath_for_takes_the_widest_format_per_operand():
    from ristretto_sim.errors import PlanError
    from ristretto_sim.hw.config import datapath_for

    pe = datapath_for(
        [
            LayerFormats("int4", "int8", outputs="int8", accumulator="int16"),
            LayerFormats("uint8", "int4", outputs="int8", accumulator="int32"),
        ]
    )
    assert (str(pe.inputs), str(pe.weights), str(pe.accumulator)) == ("fixed9.0", "fixed8.0", "fixed32.0")
    assert pe.kind is PEKind.FIXED_MAC
    fp = datapath_for([LayerFormats("e4m3", "e5m2", outputs="e4m3", accumulator="fp16")])
    assert fp.kind is PEKind.MINIFLOAT and (fp.weights.exp_bits, fp.weights.man_bits) == (5, 2)
    sh = datapath_for(
        [
            LayerFormats("int8", "pow2[-4,0]", outputs="int8", accumulator="int32"),
            LayerFormats("int8", "pow2[-8,-2]", outputs="int8", accumulator="int32"),
        ]
    )
    assert sh.kind is PEKind.SHIFT and sh.weights.shift_range == 9
    with pytest.raises(PlanError, match="mix kinds"):
        datapath_for(
            [
                LayerFormats("int8", "int8", outputs="int8", accumulator="int32"),
                LayerFormats("int8", "e4m3", outputs="int8", accumulator="int32"),
            ]
        )


def test_a_minifloat_pe_may_round_its_products():
    from ristretto_sim.errors import PlanError
    from ristretto_sim.hw.config import datapath_for

    pe = PEConfig("minifloat", "e4m3", "e4m3", "fp16", product="fp16")
    assert pe.datapath.name == "minifloat-float" and pe.datapath.product_bits() == 16
    assert pe.datapath_formats().product == Minifloat(5, 10)
    # the YAML form keeps it
    cfg = AcceleratorConfig(4, 4, pe=pe)
    assert AcceleratorConfig.from_yaml(cfg.to_yaml()).pe == pe
    # a layer rounding to a narrower product runs on it; one with exact products needs exact products
    check_fits(LayerFormats("e4m3", "e4m3", accumulator="fp16", product="e5m2"), pe, "l")
    with pytest.raises(PlanError, match="products are exact.*rounds them to fp16"):
        check_fits(LayerFormats("e4m3", "e4m3", accumulator="fp16"), pe, "l")
    wide = LayerFormats("e4m3", "e4m3", accumulator="fp16", product="fp32")
    with pytest.raises(PlanError, match="product format fp32 does not fit"):
        check_fits(wide, pe, "l")
    exact_pe = PEConfig("minifloat", "e4m3", "e4m3", "fp16")
    check_fits(wide, exact_pe, "l")
    # the PE a plan needs: the widest rounding, or exact products as soon as one layer has them
    rounded = [LayerFormats("e4m3", "e4m3", accumulator="fp16", product=p) for p in ("e5m2", "fp16")]
    assert datapath_for(rounded).product == Minifloat(5, 10)
    assert datapath_for([*rounded, LayerFormats("e4m3", "e4m3", accumulator="fp16")]).product is None
    for bad in (dict(kind="fixed_mac", inputs="int8", weights="int8", accumulator="int32"),
                dict(kind="minifloat", inputs="e4m3", weights="e4m3", accumulator="fixed40.12")):
        with pytest.raises(ValueError, match="pe.product=fp16 is the rounded product"):
            PEConfig(**bad, product="fp16")


def test_the_readme_example_accelerator_reads():
    """The accelerator YAML shown in the README is a valid description."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = re.search(r"```yaml\n(# my_accel\.yaml\n.*?)```", readme, re.S)
    assert block, "the README's accelerator example is missing"
    cfg = AcceleratorConfig.from_yaml(block.group(1))
    assert (cfg.rows, cfg.cols, cfg.dram.prefetch_depth, cfg.vector.lanes) == (16, 16, 8, 16)
    assert str(cfg.pe.weights) == "fixed4.0" and cfg.ofmap.capacity_bytes == 32768


def test_a_missing_required_key_is_named_and_a_partial_buffer_keeps_its_default_capacity(tmp_path):
    with pytest.raises(ConfigError, match=r"^a.yaml: missing required keys rows$"):
        AcceleratorConfig.from_dict({"cols": 4}, "a.yaml")
    # the README's table: a buffer given in part takes the default of what it leaves out (512 KB for ifmap)
    cfg = AcceleratorConfig.from_dict({"rows": 4, "cols": 4, "ifmap": {"word_bits": 128},
                                       "ofmap": {"double_buffered": False}}, "a.yaml")
    assert cfg.ifmap == BufferConfig(512 * 1024, word_bits=128)
    assert cfg.ofmap.capacity_bytes == AcceleratorConfig(4, 4).ofmap.capacity_bytes == 256 * 1024
