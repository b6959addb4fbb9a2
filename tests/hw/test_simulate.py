"""simulate(): formats drive traffic, bit-serial cycles, plan/PE fit, reports in every form."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ristretto_sim.emulator import LayerFormats
from ristretto_sim.errors import ModelError, PlanError
from ristretto_sim.formats import FixedPoint
from ristretto_sim.hw.config import PEConfig
from ristretto_sim.hw.layers import ConvShape, ConvTransposeShape, GemmShape
from ristretto_sim.hw.simulate import simulate

from .conftest import make_config


def fmts(w_bits, in_bits=8):
    return LayerFormats(
        FixedPoint(in_bits, 0), FixedPoint(w_bits, 0), outputs=FixedPoint(in_bits, 0), accumulator="int32"
    )


@settings(max_examples=80, deadline=None)
@given(
    m=st.integers(1, 64),
    n=st.integers(1, 64),
    k=st.integers(1, 128),
    R=st.integers(2, 16),
    C=st.integers(2, 16),
    df=st.sampled_from(["os", "ws", "is"]),
    bits=st.sampled_from([16, 8, 4, 2]),
    bw=st.sampled_from([None, 2.0, 16.0]),
)
def test_halving_weight_bits_halves_weight_dram_bytes_when_fetched_once(m, n, k, R, C, df, bits, bw):
    cfg = make_config(R, C, df, bandwidth=bw, kb=256)  # everything fits: weights fetched once
    cfg = cfg.replace(pe=PEConfig("fixed_mac", "int16", "int16", "int32"))
    layer = GemmShape("g", m, n, k)
    wide = simulate([layer], fmts(bits), cfg).layers[0]
    narrow = simulate([layer], fmts(bits // 2), cfg).layers[0]
    assert wide.dram_filter_bytes == math.ceil(k * n * bits / 8)
    assert narrow.dram_filter_bytes == math.ceil(k * n * bits / 2 / 8)
    assert narrow.dram_filter_bytes <= math.ceil(wide.dram_filter_bytes / 2)
    if (k * n * bits) % 16 == 0:
        assert 2 * narrow.dram_filter_bytes == wide.dram_filter_bytes
    # bit-parallel: compute cycles and PE arithmetic energy do not depend on the layer's widths
    assert narrow.compute_cycles == wide.compute_cycles
    assert narrow.energy.arithmetic_pj == pytest.approx(wide.energy.arithmetic_pj)


@settings(max_examples=40, deadline=None)
@given(
    m=st.integers(1, 64),
    n=st.integers(1, 64),
    k=st.integers(1, 200),
    bits=st.sampled_from([8, 4, 2]),
    df=st.sampled_from(["os", "ws", "is"]),
)
def test_halving_weight_bits_never_more_than_half_in_general(m, n, k, bits, df):
    cfg = make_config(8, 8, df, kb=2)  # small buffers: refetches
    layer = GemmShape("g", m, n, k)
    try:
        wide = simulate([layer], fmts(bits), cfg).layers[0]
    except Exception as exc:  # a tile that does not fit 2 KB is a legitimate refusal
        assert "too small for one tile" in str(exc)
        return
    narrow = simulate([layer], fmts(bits // 2), cfg).layers[0]
    assert narrow.dram_filter_bytes <= math.ceil(wide.dram_filter_bytes / 2)


def test_bit_serial_cycles_scale_with_bits():
    pe = PEConfig("fixed_mac", "int8", "int8", "int32", precision="serial", bits_per_cycle=1)
    cfg = make_config(8, 8, "os", kb=256).replace(pe=pe)
    layer = GemmShape("g", 8, 8, 100)  # one fold: cycles = T * bits + R + C - 3
    for bits in (8, 4, 2):
        row = simulate([layer], fmts(8, in_bits=bits), cfg).layers[0]
        assert row.compute_cycles == 100 * bits + 8 + 8 - 3
    pe2 = PEConfig("fixed_mac", "int8", "int8", "int32", precision="serial", bits_per_cycle=2)
    row = simulate([layer], fmts(8, in_bits=5), cfg.replace(pe=pe2)).layers[0]
    assert row.compute_cycles == 100 * 3 + 13


def test_layer_formats_must_fit_the_pe():
    cfg = make_config()
    with pytest.raises(PlanError, match=r"layer 'g': weights format fixed16.0 does not fit"):
        simulate([GemmShape("g", 4, 4, 4)], fmts(16), cfg)
    with pytest.raises(PlanError, match="minifloat|does not fit"):
        simulate([GemmShape("g", 4, 4, 4)], LayerFormats("e4m3", "e4m3", outputs="e4m3", accumulator="fp16"), cfg)
    fp_cfg = cfg.replace(pe=PEConfig("minifloat", "bf16", "bf16", "fp32"))
    ok = simulate([GemmShape("g", 4, 4, 4)], LayerFormats("e4m3", "e4m3", outputs="bf16", accumulator="fp32"), fp_cfg)
    assert ok.layers[0].dram_filter_bytes == 16
    with pytest.raises(
        PlanError, match="weights format fp16 does not fit the minifloat-float PE's weights datapath"
    ):
        simulate([GemmShape("g", 4, 4, 4)], LayerFormats("e5m2", "fp16", outputs="bf16", accumulator="fp32"), fp_cfg)


def test_plan_per_layer_and_unknown_names():
    cfg = make_config(kb=256)
    layers = [GemmShape("a", 8, 8, 8), GemmShape("b", 8, 8, 8)]
    plan = {"a": fmts(8), "b": fmts(4)}
    r = simulate(layers, plan, cfg)
    assert (r.layer("a").dram_filter_bytes, r.layer("b").dram_filter_bytes) == (64, 32)
    with pytest.raises(PlanError, match="lacks: c"):
        simulate(layers, {"c": fmts(4)}, cfg)
    with pytest.raises(ModelError, match="unique"):
        simulate([layers[0], layers[0]], None, cfg)


def test_shift_pe_with_power_of_two_weights():
    pe = PEConfig("shift", "int8", "pow2[-8,0]", "fixed24.0")
    cfg = make_config(kb=256).replace(pe=pe)
    f = LayerFormats("int8", "pow2[-4,0]", outputs="int8", accumulator="fixed24.0")
    row = simulate([GemmShape("g", 8, 8, 8)], f, cfg).layers[0]
    assert row.dram_filter_bytes == 64 * f.weights.bits // 8
    int_row = simulate([GemmShape("g", 8, 8, 8)], None, make_config(kb=256)).layers[0]
    assert row.energy.arithmetic_pj < int_row.energy.arithmetic_pj


def test_grouped_conv_is_groups_gemms():
    cfg = make_config(8, 8, "os", kb=256)
    dw = ConvShape("dw", 16, 16, 32, 32, kernel=3, padding=1, groups=32)
    p = dw.problem()
    assert (p.m, p.n, p.k, p.groups) == (256, 1, 9, 32)
    row = simulate([dw], None, cfg).layers[0]
    single = simulate([GemmShape("g", 256, 1, 9)], None, cfg).layers[0]
    assert row.compute_cycles == 32 * single.compute_cycles
    assert row.macs == 32 * 256 * 9


def test_conv_transpose_reports_wasted_macs():
    layer = ConvTransposeShape("up", 4, 4, 8, 8, kernel=3, stride=2, padding=1, output_padding=1)
    assert (layer.out_h, layer.out_w) == (8, 8)
    p = layer.problem()
    assert p.executed_macs == 64 * 8 * 72
    # each input pixel times each tap that lands inside the 8x8 output, per in/out channel pair
    assert p.useful_macs == 8 * 8 * sum(
        1
        for y in range(4)
        for x in range(4)
        for ty in range(3)
        for tx in range(3)
        if 0 <= 2 * y - 1 + ty < 8 and 0 <= 2 * x - 1 + tx < 8
    )
    row = simulate([layer], None, make_config(kb=256)).layers[0]
    assert row.wasted_macs == p.executed_macs - p.useful_macs > 0


def test_keep_activations_on_chip_cuts_dram_traffic():
    layers = [
        ConvShape("c1", 16, 16, 8, 8, kernel=3, padding=1),
        ConvShape("c2", 16, 16, 8, 8, kernel=3, padding=1),
    ]
    cfg = make_config(8, 8, "os", kb=64)
    through = simulate(layers, None, cfg)
    kept = simulate(layers, None, cfg.replace(keep_activations_on_chip=True))
    act = 16 * 16 * 8
    assert through.layer("c1").dram_ofmap_bytes == act and kept.layer("c1").dram_ofmap_bytes == 0
    assert kept.layer("c2").dram_ifmap_bytes == 0 < through.layer("c2").dram_ifmap_bytes
    assert kept.layer("c2").dram_ofmap_bytes == act  # the network output still leaves


def test_report_forms(tmp_path):
    layers = [ConvShape("c1", 16, 16, 3, 8, kernel=3), GemmShape("fc", 1, 10, 64)]
    r = simulate(layers, None, make_config(8, 8, "ws", bandwidth=4.0, latency=10))
    d = json.loads(r.to_json())
    assert [x["name"] for x in d["layers"]] == ["c1", "fc"]
    for key in (
        "name",
        "total_cycles",
        "compute_cycles",
        "stall_cycles",
        "dram_read_bytes",
        "dram_write_bytes",
    ):
        assert key in d["layers"][0] and key in d["total"]
    assert set(d["layers"][0]["energy_pj"]) == {"arithmetic", "registers", "vector", "sram", "dram", "leakage", "total"}
    assert d["total"]["total_cycles"] == sum(x["total_cycles"] for x in d["layers"])
    assert d["total"]["energy_pj"]["total"] == pytest.approx(
        sum(x["energy_pj"]["total"] for x in d["layers"])
    )
    assert d["leakage_modelled"] is True and d["leakage"]["total_mw"] > 0
    df = r.to_dataframe()
    assert list(df["name"]) == ["c1", "fc", "total"]
    r.to_csv(tmp_path / "r.csv")
    text = (tmp_path / "r.csv").read_text().splitlines()
    assert text[0].startswith("name,kind,") and len(text) == 4
    row = r.layers[0]
    assert row.latency_s == pytest.approx(row.total_cycles / 1e9)
    assert 0 < row.utilization <= row.compute_utilization <= 1


def test_plots(tmp_path):
    from ristretto_sim.hw.plots import plot_report

    r = simulate([ConvShape("c1", 16, 16, 3, 8, kernel=3), GemmShape("fc", 1, 10, 64)], None, make_config())
    plot_report(r, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000
