"""The SimPy model: unlimited bandwidth costs nothing, finite bandwidth never beats the roofline, more
bandwidth never hurts (property tests over random layers and configs)."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from ristretto_sim.emulator import LayerFormats
from ristretto_sim.hw.config import BufferConfig
from ristretto_sim.hw.engine import run_layer
from ristretto_sim.hw.layers import ConvShape, GemmShape
from ristretto_sim.hw.mapping import schedule
from ristretto_sim.hw.simulate import simulate

from .conftest import make_config

INT8 = LayerFormats("int8", "int8", outputs="int8", accumulator="int32")

layers = st.one_of(
    st.builds(
        lambda m, n, k: GemmShape("g", m, n, k), st.integers(1, 96), st.integers(1, 96), st.integers(1, 160)
    ),
    st.builds(
        lambda hw, c, n, kk, s: ConvShape("c", hw, hw, c, n, kernel=min(kk, hw), stride=s),
        st.integers(3, 20),
        st.integers(1, 24),
        st.integers(1, 40),
        st.integers(1, 5),
        st.integers(1, 3),
    ),
)
configs = st.builds(
    lambda r, c, df, kb, bw, lat, db: make_config(r, c, df, bandwidth=bw, latency=lat, kb=kb).replace(
        ifmap=BufferConfig(kb * 1024, double_buffered=db), filter=BufferConfig(kb * 1024, double_buffered=db)
    ),
    st.integers(2, 16),
    st.integers(2, 16),
    st.sampled_from(["os", "ws", "is"]),
    st.sampled_from([4, 16, 256]),
    st.sampled_from([0.5, 1.0, 3.0, 8.0, 64.0]),
    st.sampled_from([0, 1, 20]),
    st.booleans(),
)


def test_unlimited_bandwidth_adds_no_stalls():
    cfg = make_config(8, 8, "ws", bandwidth=None, latency=0)
    sched = schedule(GemmShape("g", 100, 50, 70).problem(), INT8, cfg)
    t = run_layer(sched.compute_cycles, sched.read_bits, sched.write_bits, cfg)
    assert t.total_cycles == t.compute_cycles == sched.total_compute_cycles
    assert t.stall_cycles == 0


def test_one_transfer_costs_latency_plus_bytes_over_bandwidth():
    import numpy as np

    cfg = make_config(4, 4, "os", bandwidth=10.0, latency=7)
    t = run_layer(np.array([5]), np.array([8 * 95]), np.array([0]), cfg)
    # 95 bytes at 10 B/cycle -> 10 cycles, +7 latency, then 5 cycles of compute
    assert t.total_cycles == 10 + 7 + 5
    assert t.dram_busy_cycles == 10


def test_double_buffering_overlaps_fetch_with_compute():
    import numpy as np

    steps = 10
    comp, reads, writes = np.full(steps, 100), np.full(steps, 8 * 100), np.zeros(steps, dtype=int)
    cfg = make_config(4, 4, "os", bandwidth=1.0)
    double = run_layer(comp, reads, writes, cfg)
    single = run_layer(comp, reads, writes, cfg.replace(ifmap=BufferConfig(65536, double_buffered=False)))
    assert double.total_cycles == 100 + steps * 100  # first fetch exposed, the rest hidden
    assert single.total_cycles == steps * 200


@settings(max_examples=120, deadline=None)
@given(layer=layers, cfg=configs)
def test_cycles_at_least_roofline_and_compute(layer, cfg):
    row = simulate([layer], INT8, cfg).layers[0]
    bw = cfg.dram.bandwidth_bytes_per_cycle
    assert row.total_cycles >= row.compute_cycles
    assert row.total_cycles * bw * 8 >= row.dram_read_bits + row.dram_write_bits
    assert row.total_cycles >= math.ceil((row.dram_read_bits + row.dram_write_bits) / 8 / bw) - 1
    assert row.stall_cycles == row.total_cycles - row.compute_cycles


@settings(max_examples=120, deadline=None)
@given(layer=layers, cfg=configs)
def test_doubling_bandwidth_never_increases_cycles(layer, cfg):
    slow = simulate([layer], INT8, cfg).layers[0]
    fast = simulate([layer], INT8, cfg.with_bandwidth(2 * cfg.dram.bandwidth_bytes_per_cycle)).layers[0]
    unlimited = simulate([layer], INT8, cfg.with_bandwidth(None)).layers[0]
    assert fast.total_cycles <= slow.total_cycles
    assert fast.compute_cycles == slow.compute_cycles
    assert unlimited.total_cycles <= fast.total_cycles
    # traffic does not depend on bandwidth
    assert fast.dram_read_bits == slow.dram_read_bits


@settings(max_examples=120, deadline=None)
@given(layer=layers, cfg=configs)
def test_dram_traffic_never_below_compulsory(layer, cfg):
    row = simulate([layer], INT8, cfg).layers[0]
    p = layer.problem()
    assert row.dram_ifmap_bytes >= math.ceil(p.groups * p.input_elements * 8 / 8)
    assert row.dram_filter_bytes >= p.groups * p.weight_elements
    assert row.dram_ofmap_bytes == p.groups * p.output_elements  # finished outputs leave exactly once
    assert row.dram_read_bytes + row.dram_write_bytes >= row.compulsory_dram_bytes


def test_output_drain_overlaps_compute_only_with_a_double_buffered_ofmap():
    import numpy as np

    steps = 10
    comp, reads, writes = np.full(steps, 100), np.zeros(steps, dtype=int), np.full(steps, 8 * 100)
    cfg = make_config(4, 4, "os", bandwidth=1.0)
    double = run_layer(comp, reads, writes, cfg)
    single = run_layer(comp, reads, writes, cfg.replace(ofmap=BufferConfig(65536, double_buffered=False)))
    assert double.total_cycles == steps * 100 + 100  # the last drain is exposed
    assert single.total_cycles == steps * 200  # each step waits for the previous drain
    assert double.dram_busy_cycles == single.dram_busy_cycles == steps * 100
