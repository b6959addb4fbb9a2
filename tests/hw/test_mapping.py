"""Mapping: SCALE-Sim's closed forms for all three dataflows, folds, and the per-fold schedule."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ristretto_sim.emulator import LayerFormats
from ristretto_sim.errors import ConfigError
from ristretto_sim.hw.layers import ConvShape, GemmShape
from ristretto_sim.hw.mapping import (
    folding,
    pipelined_fold_cycles,
    scalesim_compute_cycles,
    scalesim_sram_words,
    schedule,
)
from ristretto_sim.hw.simulate import SCALESIM_FORMATS, simulate

from .conftest import make_config

INT8 = LayerFormats("int8", "int8", outputs="int8", accumulator="int32")


def reference_cycles(m, n, k, R, C, df):
    """The table of reference/systolic-timing.md, written out independently."""
    if df == "os":
        return math.ceil(m / R) * math.ceil(n / C) * (k + R + C - 2) - 1
    if df == "ws":
        return math.ceil(k / R) * math.ceil(n / C) * (2 * R + C + m - 2) - 1
    return math.ceil(k / R) * math.ceil(m / C) * (2 * R + C + n - 2) - 1


# Values read from real SCALE-Sim 3.0.0 runs (CALC mode), see test_scalesim_oracle.py for the live comparison.
@pytest.mark.parametrize(
    "layer, R, C, df, cycles",
    [
        (ConvShape("a", 12, 10, 3, 10, kernel=3), 8, 4, "ws", 1175),
        (ConvShape("b", 9, 9, 5, 7, kernel=2, stride=2, ceil_mode=True), 8, 4, "ws", 257),
        (GemmShape("g", 12, 10, 3), 8, 4, "ws", 89),
    ],
)
def test_recorded_scalesim_runs(layer, R, C, df, cycles):
    report = simulate([layer], None, make_config(R, C, df), scalesim_compatible=True)
    assert report.layers[0].compute_cycles == cycles
    assert report.layers[0].total_cycles == cycles


@settings(max_examples=300, deadline=None)
@given(
    m=st.integers(1, 300),
    n=st.integers(1, 300),
    k=st.integers(1, 300),
    R=st.integers(1, 40),
    C=st.integers(1, 40),
    df=st.sampled_from(["os", "ws", "is"]),
)
def test_closed_form_equals_reference_table(m, n, k, R, C, df):
    assert scalesim_compute_cycles(m, n, k, R, C, df) == reference_cycles(m, n, k, R, C, df)


@settings(max_examples=150, deadline=None)
@given(
    m=st.integers(1, 200),
    n=st.integers(1, 200),
    k=st.integers(1, 200),
    R=st.integers(1, 33),
    C=st.integers(1, 33),
    df=st.sampled_from(["os", "ws", "is"]),
)
def test_scalesim_compatible_schedule_sums_to_closed_form(m, n, k, R, C, df):
    cfg = make_config(R, C, df, kb=1024)
    sched = schedule(GemmShape("x", m, n, k).problem(), SCALESIM_FORMATS, cfg, scalesim_compatible=True)
    assert sched.total_compute_cycles == reference_cycles(m, n, k, R, C, df)
    f = folding(m, n, k, R, C, df)
    assert sched.folds == f.folds


@pytest.mark.parametrize("df", ["os", "ws", "is"])
@pytest.mark.parametrize("R, C", [(32, 32), (8, 16), (16, 8), (1, 1), (128, 128), (12, 14)])
def test_conv_layers_unlimited_bandwidth_match_closed_form(df, R, C):
    layers = [
        ConvShape("conv1", 227, 227, 3, 96, kernel=11, stride=4, ceil_mode=True),
        ConvShape("conv2", 27, 27, 96, 256, kernel=5, ceil_mode=True),
        ConvShape("fc", 1, 1, 512, 10, kernel=1),
        ConvShape("odd", 31, 17, 7, 33, kernel=(3, 5), stride=2, ceil_mode=True),
    ]
    report = simulate(layers, None, make_config(R, C, df, kb=4096), scalesim_compatible=True)
    for layer, row in zip(layers, report.layers, strict=True):
        p = layer.problem()
        expected = reference_cycles(p.m, p.n, p.k, R, C, df)
        assert row.compute_cycles == expected
        assert row.stall_cycles == 0
        assert row.scalesim_compute_cycles == expected


def test_ceil_mode_output_size_is_scalesims():
    # SCALE-Sim: E = ceil((H - F + s) / s); 9x9 input, 2x2 filter, stride 2 -> 5 (a valid conv gives 4)
    assert ConvShape("x", 9, 9, 1, 1, kernel=2, stride=2, ceil_mode=True).out_h == 5
    assert ConvShape("x", 9, 9, 1, 1, kernel=2, stride=2).out_h == 4


@pytest.mark.parametrize("df", ["os", "ws", "is"])
def test_sram_counts_closed_form(df):
    m, n, k, R, C = 100, 70, 45, 16, 8
    words = scalesim_sram_words(m, n, k, R, C, df)
    fr_m, fc_n, fr_k, fc_m = math.ceil(m / R), math.ceil(n / C), math.ceil(k / R), math.ceil(m / C)
    expected = {
        "os": (m * k * fc_n, k * n * fr_m, m * n + fr_m * fc_n * (R + C)),
        "ws": (m * k * fc_n, k * n, m * n * fr_k),
        "is": (m * k, k * n * fc_m, m * n * fr_k),
    }[df]
    assert (words["ifmap_reads"], words["filter_reads"], words["ofmap_writes"]) == expected
    report = simulate(
        [GemmShape("g", m, n, k)], None, make_config(R, C, df, kb=1024), scalesim_compatible=True
    )
    row = report.layers[0]
    assert (row.edge_ifmap_reads_words, row.edge_filter_reads_words, row.edge_ofmap_writes_words) == expected


@settings(max_examples=100, deadline=None)
@given(
    m=st.integers(1, 300),
    n=st.integers(1, 300),
    k=st.integers(1, 300),
    R=st.integers(1, 33),
    C=st.integers(1, 33),
    df=st.sampled_from(["os", "ws", "is"]),
)
def test_pipelined_folds_never_slower_and_equal_for_one_fold(m, n, k, R, C, df):
    f = folding(m, n, k, R, C, df)
    pipelined = int(pipelined_fold_cycles(f, f.t).sum())
    serial = reference_cycles(m, n, k, R, C, df)
    assert pipelined <= serial
    if f.folds == 1:
        assert pipelined == serial
    assert pipelined >= f.folds * f.t - 1  # the stream itself is never hidden


def test_mapping_efficiency():
    f = folding(100, 70, 45, 16, 8, "os")
    assert f.mapping_efficiency == pytest.approx(100 * 70 / (7 * 16 * 9 * 8))


def test_four_bit_weights_pack_two_per_byte():
    layer = GemmShape("g", 16, 64, 64)
    cfg = make_config(8, 8, "os", kb=1024)
    f8 = schedule(layer.problem(), INT8, cfg)
    f4 = schedule(layer.problem(), LayerFormats("int8", "int4", outputs="int8", accumulator="int32"), cfg)
    assert f8.dram_bits["filter"] == 64 * 64 * 8
    assert f4.dram_bits["filter"] == 64 * 64 * 4


def test_partial_sums_travel_at_accumulator_width():
    # ws with K > R: partial sums cross the ofmap SRAM at 32 bits, final outputs at 8 bits
    layer = GemmShape("g", 4096, 8, 64)
    fr = 64 // 8
    sched = schedule(layer.problem(), INT8, make_config(8, 8, "ws", kb=1024))
    assert sched.sram_bits["ofmap_writes"] == 4096 * 8 * ((fr - 1) * 32 + 8)
    assert sched.sram_bits["ofmap_reads"] >= 4096 * 8 * (fr - 1) * 32
    assert sched.dram_bits["psum_write"] == sched.dram_bits["psum_read"] == 0
    assert sched.dram_bits["ofmap"] == 4096 * 8 * 8
    # SCALE-Sim sends every partial sum to DRAM (in its one-byte words)
    compat = schedule(
        layer.problem(), SCALESIM_FORMATS, make_config(8, 8, "ws", kb=1024), scalesim_compatible=True
    )
    assert compat.dram_bits["psum_write"] == 4096 * 8 * (fr - 1) * 8
    assert compat.dram_bits["psum_read"] == 0


def test_streamed_dimension_is_chunked_so_partial_sums_fit():
    # 4096 x 8 partial sums of 32 bits = 128 KB do not fit 8 KB (half of 16 KB): M is cut into chunks of
    # 8192 * 8 / (8 * 32) = 256 rows, and each chunk runs all row folds
    layer = GemmShape("g", 4096, 8, 64)
    small = schedule(layer.problem(), INT8, make_config(8, 8, "ws", kb=16))
    assert small.folds == 16 * 8
    assert small.dram_bits["psum_write"] == small.dram_bits["psum_read"] == 0
    assert small.dram_bits["ofmap"] == 4096 * 8 * 8
    assert small.dram_bits["filter"] == 64 * 8 * 8  # weights fit the filter buffer: fetched once
    assert small.sram_words["filter_reads"] == 64 * 8 * 16  # but loaded into the array once per chunk
    big = schedule(layer.problem(), INT8, make_config(8, 8, "ws", kb=1024))
    assert big.folds == 8
    # chunks of 256 >= R keep the array busy: only the fill/drain is paid once
    assert small.total_compute_cycles == big.total_compute_cycles


def test_buffer_too_small_for_one_tile_names_the_buffer():
    cfg = make_config(32, 32, "ws", kb=64).replace(filter=make_config().filter.__class__(1000))
    with pytest.raises(ConfigError, match=r"filter\.capacity_bytes=1000 is too small for one tile"):
        simulate([GemmShape("g", 64, 64, 64)], None, cfg)
    cfg = make_config(32, 32, "os").replace(ofmap=make_config().ofmap.__class__(100))
    with pytest.raises(ConfigError, match=r"ofmap\.capacity_bytes=100"):
        simulate([GemmShape("g", 64, 64, 64)], None, cfg)


def test_streamed_tile_larger_than_half_buffer_is_chunked_and_refetched():
    layer = GemmShape("g", 64, 64, 4096)  # os: ifmap tile 8 x 4096 bytes = 32 KB > 4 KB half
    cfg = make_config(8, 8, "os", kb=8)
    sched = schedule(layer.problem(), INT8, cfg)
    assert len(sched.compute_cycles) > sched.folds
    assert sched.total_compute_cycles == int(
        pipelined_fold_cycles(folding(64, 64, 4096, 8, 8, "os"), 4096).sum()
    )
    # every fold refetches both streamed tiles
    assert sched.dram_bits["ifmap"] == 64 * 4096 * 8 * 8
    assert sched.dram_bits["filter"] == 64 * 4096 * 8 * 8
    assert np.all(sched.read_bits >= 0)


def test_grouped_layer_equals_scalesims_expanded_depthwise_rows():
    # SCALE-Sim expands a "DP" row into one single-channel layer per channel; the grouped layer sums them
    grouped = ConvShape("DP1", 14, 14, 16, 16, kernel=3, groups=16, ceil_mode=True)
    single = ConvShape("DP1Channel_0", 14, 14, 1, 1, kernel=3, ceil_mode=True)
    for df in ("os", "ws", "is"):
        cfg = make_config(8, 4, df, kb=256)
        g = simulate([grouped], None, cfg, scalesim_compatible=True).layers[0]
        s = simulate([single], None, cfg, scalesim_compatible=True).layers[0]
        assert g.compute_cycles == g.scalesim_compute_cycles == 16 * s.compute_cycles
