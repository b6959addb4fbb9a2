"""The SimPy model: unlimited bandwidth costs nothing, finite bandwidth never beats the roofline, more
bandwidth never hurts (property tests over random layers and configs)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ristretto_sim.emulator import LayerFormats
from ristretto_sim.hw.config import BufferConfig, DRAMConfig
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


def test_a_streamed_step_starts_on_its_first_slice_and_runs_no_faster_than_its_slices_arrive():
    cfg = make_config(4, 4, "os", bandwidth=10.0, latency=7)
    one = np.array([100]), np.array([8 * 1000]), np.array([0])
    # whole tile first: 100 cycles of transfer, the latency, then the compute
    assert run_layer(*one, cfg).total_cycles == 100 + 7 + 100
    # 100 slices of 10 bytes: the first is usable after 1 + 7 cycles, the array then keeps pace with the rest
    assert run_layer(*one, cfg, np.array([8 * 1000]), np.array([100])).total_cycles == 1 + 7 + 100
    # 10 compute cycles over 10 slices of 100 bytes: bandwidth-bound, ends 1 cycle after the last slice lands
    fast = run_layer(np.array([10]), one[1], one[2], cfg, np.array([8 * 1000]), np.array([10]))
    assert fast.total_cycles == 100 + 7 + 1
    # a 500-byte stationary part must land whole before the first of 100 streamed 5-byte slices
    mixed = run_layer(*one, cfg, np.array([8 * 500]), np.array([100]))
    assert mixed.total_cycles == math.ceil(505 / 10) + 7 + 100


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


# --------------------------------------------------------------------------- the pipelined DRAM channel
IP1_INT8 = LayerFormats("int8", "int8", outputs="int8", accumulator="int32")


def _ip1_config(latency: int, depth: int):
    from ristretto_sim.hw.config import DRAMConfig

    return make_config(16, 16, "ws", bandwidth=16.0, latency=latency, kb=64).replace(
        dram=DRAMConfig(16.0, latency, prefetch_depth=depth)
    )


def test_lenet_ip1_pays_dram_latency_once_not_per_fold():
    """Caffe LeNet ip1 (M=1, K=800, N=500) on a 16x16 ws int8 array, 64 KB double-buffered buffers, 16 B/cycle:
    with 100 cycles of latency and 16 outstanding reads it stays within a fill of max(compute, bytes / bw)."""
    ip1 = GemmShape("ip1", 1, 500, 800)
    fast = simulate([ip1], IP1_INT8, _ip1_config(0, 16)).layers[0]
    slow = simulate([ip1], IP1_INT8, _ip1_config(100, 16)).layers[0]
    roof = max(slow.compute_cycles, math.ceil((slow.dram_read_bytes + slow.dram_write_bytes) / 16))
    assert slow.total_cycles >= roof
    assert slow.total_cycles <= 1.01 * roof + 100
    assert 0 <= slow.total_cycles - fast.total_cycles <= 100
    serial = simulate([ip1], IP1_INT8, _ip1_config(100, 1)).layers[0]
    # one read in flight: every one of the 1600 weight tiles waits its 100 cycles
    assert serial.total_cycles > 1600 * 100


def test_prefetch_depth_is_validated():
    import pytest

    from ristretto_sim.hw.config import DRAMConfig

    with pytest.raises(ValueError, match=r"dram\.prefetch_depth=0 must be >= 1"):
        DRAMConfig(1.0, 10, prefetch_depth=0)
    with pytest.raises(TypeError, match=r"dram\.prefetch_depth"):
        DRAMConfig(1.0, 10, prefetch_depth=2.5)


deep_configs = st.builds(
    lambda r, c, df, bw, lat: make_config(r, c, df, bandwidth=bw, latency=lat, kb=256).replace(
        dram=DRAMConfig(bw, lat, prefetch_depth=4096)
    ),
    st.integers(2, 16),
    st.integers(2, 16),
    st.sampled_from(["os", "ws", "is"]),
    st.sampled_from([0.5, 1.0, 3.0, 8.0, 64.0]),
    st.sampled_from([0, 1, 20, 100]),
)


def _critical_path(sched, bw: float, latency: int) -> int:
    """The shortest time any prefetcher could take for these steps in this order: the channel's busy time, the
    compute, and every chain "reads of steps 0..j, the latency, the compute of steps j..k, the writes of steps
    k..end" (j <= k)."""
    rd = np.array([math.ceil(math.ceil(int(b) / 8) / bw) if b else 0 for b in sched.read_bits])
    wr = np.array([math.ceil(math.ceil(int(b) / 8) / bw) if b else 0 for b in sched.write_bits])
    comp = np.asarray(sched.compute_cycles)
    before = np.concatenate(([0], np.cumsum(comp)[:-1]))  # compute of the steps before j
    start = np.maximum.accumulate(np.cumsum(rd) + latency - before)  # best j <= k
    chains = start + before + comp + np.cumsum(wr[::-1])[::-1]
    return int(max(rd.sum() + wr.sum(), comp.sum(), chains.max()))


@settings(max_examples=150, deadline=None)
@given(layer=layers, cfg=deep_configs)
def test_enough_outstanding_requests_reach_the_roofline(layer, cfg):
    """Tiles that fit their buffers and enough reads in flight: never below max(compute, bytes / bandwidth); within
    5 % of the schedule's critical path (which is max(compute, bytes / bandwidth) when the walk spreads its
    reads, as LeNet ip1 above) latency only on that path."""
    row = simulate([layer], INT8, cfg).layers[0]
    bw, lat = cfg.dram.bandwidth_bytes_per_cycle, cfg.dram.latency_cycles
    moved = (row.dram_read_bits + row.dram_write_bits) / 8
    assert row.total_cycles >= max(row.compute_cycles, math.ceil(moved / bw) - 1)
    sched = schedule(layer.problem(), INT8, cfg)
    assert row.total_cycles <= 1.05 * _critical_path(sched, bw, lat)


@settings(max_examples=150, deadline=None)
@given(layer=layers, cfg=deep_configs, extra=st.sampled_from([1, 10, 100, 1000]))
def test_raising_latency_costs_only_the_fill(layer, cfg, extra):
    from dataclasses import replace

    base = simulate([layer], INT8, cfg).layers[0]
    later = cfg.replace(dram=replace(cfg.dram, latency_cycles=cfg.dram.latency_cycles + extra))
    more = simulate([layer], INT8, later).layers[0]
    # the fill; reads and writes interleave differently on the FIFO channel once latency separates them
    assert 0 <= more.total_cycles - base.total_cycles <= extra + 0.05 * base.total_cycles


@settings(max_examples=80, deadline=None)
@given(layer=layers, cfg=configs, depth=st.integers(1, 8))
def test_more_outstanding_requests_never_hurt_much_on_the_fifo_channel(layer, cfg, depth):
    shallow = simulate([layer], INT8, _with_policy(cfg, "fifo", prefetch_depth=depth)).layers[0]
    deep = simulate([layer], INT8, _with_policy(cfg, "fifo", prefetch_depth=2 * depth)).layers[0]
    # the FIFO channel's anomaly (test below): an array that runs ahead can queue a write before a read it
    # then waits for; rare (no case in 3,000 random draws) and small
    assert deep.total_cycles <= shallow.total_cycles + 0.01 * shallow.total_cycles
    assert deep.dram_read_bits == shallow.dram_read_bits


@settings(max_examples=100, deadline=None)
@given(
    m=st.integers(1, 8),
    n_tiles=st.integers(2, 40),
    k_tiles=st.integers(2, 60),
    size=st.sampled_from([8, 16, 32]),
    bw=st.sampled_from([4.0, 16.0, 64.0]),
    lat=st.sampled_from([0, 100, 500]),
)
def test_fully_connected_layers_reach_max_of_compute_and_bandwidth(m, n_tiles, k_tiles, size, bw, lat):
    """Fully connected layers like LeNet ip1 (weights streamed in whole tiles, evenly over the walk) with 64
    outstanding reads: within 3 % of max(compute, bytes / bandwidth) plus the pipeline fill and drain (one
    latency, the first step's reads, the last step's writes). (A walk whose last folds are partial ends in a
    compute-bound tail; ``test_enough_outstanding_requests_reach_the_roofline`` covers those.)"""
    cfg = make_config(size, size, "ws", kb=64).replace(dram=DRAMConfig(bw, lat, prefetch_depth=64))
    layer = GemmShape("fc", m, n_tiles * size, k_tiles * size)
    row = simulate([layer], INT8, cfg).layers[0]
    roof = max(row.compute_cycles, (row.dram_read_bytes + row.dram_write_bytes) / bw)
    sched = schedule(layer.problem(), INT8, cfg)
    fill = lat + math.ceil(int(sched.read_bits[0]) / 8 / bw) + math.ceil(int(sched.write_bits[-1]) / 8 / bw)
    assert roof - 1 <= row.total_cycles <= 1.03 * roof + fill


def test_prefetch_runs_ahead_only_as_far_as_the_prefetch_halves_hold():
    """Ten steps of 100 compute cycles, 1000 cycles latency, 16 outstanding reads, 64 KB ifmap and filter buffers
    (32 + 32 KB prefetch halves): 4 KB tiles are all requested at once and the latency is paid once; 40 KB
    tiles leave room for one tile ahead, so the latency is paid again every other step."""
    steps = 10
    comp, writes = np.full(steps, 100), np.zeros(steps, dtype=int)
    cfg = make_config(4, 4, "os", kb=64).replace(dram=DRAMConfig(1000.0, 1000, prefetch_depth=16))
    small = run_layer(comp, np.full(steps, 8 * 4096), writes, cfg)
    large = run_layer(comp, np.full(steps, 8 * 40960), writes, cfg)
    assert small.total_cycles == 5 + 1000 + steps * 100  # first 4 KB transfer, the latency, the compute
    assert large.total_cycles > (steps // 2) * 1000
    one = cfg.replace(dram=DRAMConfig(1000.0, 1000, prefetch_depth=1))
    shallow = run_layer(comp, np.full(steps, 8 * 4096), writes, one)
    assert shallow.total_cycles >= steps * 1000  # one read in flight: the latency of every tile is exposed


def test_deeper_prefetch_can_lose_a_cycle_on_the_fifo_channel():
    """The ``fifo`` channel serves requests in issue order (engine docstring): with 2 outstanding reads the array runs
    ahead, its third 50-byte write (issued at cycle 321) is booked before the last step's 4-byte read (issued at
    323) and that read waits behind it, so the layer ends 1 cycle later than with 1 outstanding read (474 vs 475
    cycles). A read-priority channel would not."""
    layer = ConvShape("c", 7, 7, 2, 8, kernel=3)
    cfg = make_config(8, 2, "ws", bandwidth=1.0, latency=0, kb=4).replace(
        ifmap=BufferConfig(4096, double_buffered=True), filter=BufferConfig(4096, double_buffered=True))
    one, two = (simulate([layer], INT8, _with_policy(cfg, "fifo", prefetch_depth=d)).layers[0] for d in (1, 2))
    assert (one.total_cycles, two.total_cycles) == (474, 475)


# --------------------------------------------------------------------------- bundled networks on every preset
def _walk_bound(run, bw: float, latency: int) -> int:
    """A lower bound for any in-order array fed in this walk order by this channel (streamed in slices or not):
    step j cannot end before the reads of steps 0..j have crossed the channel, the latency, and the compute of
    its last slice; the steps after it need their compute, and the writes of the steps from k on follow step k.
    It exceeds max(compute, bytes / bandwidth) when the walk front-loads its reads (an os fold streams a column
    fold's whole K x C filter block once, C bytes a cycle, before the row folds that reuse it)."""
    sched = run.schedule
    reads = -(-sched.read_bits // 8)
    reads[0] = -(-(int(sched.read_bits[0]) + run.bias_bits) // 8)
    rd = np.cumsum(np.ceil(reads / bw)).astype(np.int64)
    wr = np.ceil(-(-sched.write_bits // 8) / bw).astype(np.int64)
    comp = np.asarray(sched.compute_cycles, dtype=np.int64)
    tail = np.where(sched.stream_bits > 0, -(-comp // sched.slices), comp)
    upto = np.cumsum(comp)  # compute of steps 0..j
    start = np.maximum.accumulate(rd + latency + tail - upto)  # best j <= k
    return int((start + upto + np.cumsum(wr[::-1])[::-1]).max())


def _fill(run, bw: float, latency: int) -> int:
    """The pipeline fill and drain of a layer: the latency, the transfer of what its first step needs before it
    starts (its stationary part, the biases and its first slice) and of its last step's writes. (The array's
    own fill and drain, R + C - 2 cycles, are part of its compute cycles.)"""
    sched = run.schedule
    lead = int(sched.read_bits[0]) - int(sched.stream_bits[0]) + run.bias_bits
    first = lead + -(-int(sched.stream_bits[0]) // int(sched.slices[0]))
    return latency + math.ceil(math.ceil(first / 8) / bw) + math.ceil(math.ceil(int(sched.write_bits[-1]) / 8) / bw)


def _array_runs(model: str, cfg):
    """Each conv and fc layer of a bundled network alone on ``cfg`` (input from and output to DRAM) in the
    PE's formats, when its tiles fit their buffers (no streamed tile cut into chunks, no partial sum spilled)."""
    from ristretto_sim import load_model
    from ristretto_sim.hw.network import layers_from_network
    from ristretto_sim.hw.simulate import PlanView, layer_formats, simulate_layer
    from ristretto_sim.hw.vector import VectorShape

    plan = PlanView(None, cfg.pe.datapath_formats())
    layers, _ = layers_from_network(load_model(model))
    for layer in layers:
        if isinstance(layer, VectorShape):
            continue
        p = layer.problem()
        run = simulate_layer(layer, p, layer_formats(plan, layer, p, cfg, False), cfg, scalesim_compatible=False,
                             input_on_chip=False, output_on_chip=False)
        if len(run.schedule.compute_cycles) == run.schedule.folds and run.schedule.dram_bits["psum_write"] == 0:
            yield layer.name, run


def _deep(cfg, latency=None):
    """``cfg`` with enough outstanding reads (64) to cover its latency, optionally another latency."""
    from dataclasses import replace

    lat = cfg.dram.latency_cycles if latency is None else latency
    return cfg.replace(dram=replace(cfg.dram, latency_cycles=lat, prefetch_depth=64))


@pytest.mark.parametrize("preset_name", ["edge-32x32-int8", "tpu-mxu-128x128", "eyeriss-12x14-ws"])
@pytest.mark.parametrize("model", ["lenet", "cifar10_full_lrn", "ae_deconv"])
def test_bundled_layers_stay_within_a_fill_of_the_roofline(model, preset_name):
    """Every conv and fc layer of the bundled networks on every preset with enough outstanding reads, tiles
    fitting: never below max(compute, bytes / bandwidth); at most 5 % above it (or above the walk's own bound
    where the walk front-loads its reads, ``_walk_bound``) plus the fill (``_fill``); 100 more cycles of latency
    cost at most those 100 cycles (exactly, unless the channel is the bottleneck)."""
    from ristretto_sim.hw.presets import preset

    cfg = _deep(preset(preset_name))
    bw, lat = cfg.dram.bandwidth_bytes_per_cycle, cfg.dram.latency_cycles
    later = dict(_array_runs(model, _deep(cfg, lat + 100)))
    for name, run in _array_runs(model, cfg):
        t = run.timing
        moved = math.ceil(run.dram_read_bits / 8) + math.ceil(run.dram_write_bits / 8)
        bound = max(t.compute_cycles, math.ceil(moved / bw))
        assert t.total_cycles >= bound, name
        assert t.total_cycles <= 1.05 * max(bound, _walk_bound(run, bw, lat)) + _fill(run, bw, lat), name
        # a compute-bound layer pays the latency once; a bandwidth-bound one can hide some of it: its channel stays
        # busy (reads first, the writes in the idle time) while the first tile's latency passes
        extra = later[name].timing.total_cycles - t.total_cycles
        assert extra == 100 if t.dram_busy_cycles <= t.compute_cycles else 0 <= extra <= 100, name


def test_lenet_conv2_on_edge_is_held_by_its_first_fold():
    """Caffe LeNet conv2 (M=64, N=50, K=500) alone on edge-32x32-int8 (os, 16 B/cycle, 100 cycles latency): its
    first fold streams input rows (1,440 B) and the first 32 filters' K x 32 block (16,000 B) with the biases
    (200 B), 1,103 cycles of transfer for a 500-cycle fold; the three folds after it compute 1,561 cycles. No
    in-order array does better than 1,103 + 100 + 1 + 1,561 = 2,765 (then the last output tile, 36 cycles),
    whatever max(compute, bytes / bandwidth) = 2,061 says; the model takes exactly the walk's bound."""
    from ristretto_sim.hw.presets import preset

    cfg = preset("edge-32x32-int8")
    run = dict(_array_runs("lenet", cfg))["conv2"]
    t = run.timing
    assert t.compute_cycles == 2061
    assert t.total_cycles == _walk_bound(run, 16.0, 100) == 2801
    assert math.ceil((int(run.schedule.read_bits[0]) + run.bias_bits) / 8 / 16) == 1103


# --------------------------------------------------------------------------- the roofline bound, write policies
def _with_policy(cfg, policy, **dram):
    from dataclasses import replace

    return cfg.replace(dram=replace(cfg.dram, write_policy=policy, **dram))


@settings(max_examples=150, deadline=None)
@given(layer=layers, cfg=configs, policy=st.sampled_from(["fifo", "reads_first"]), depth=st.integers(1, 16))
def test_cycles_never_beat_the_roofline_bound(layer, cfg, policy, depth):
    report = simulate([layer], INT8, _with_policy(cfg, policy, prefetch_depth=depth))
    row, bw = report.layers[0], cfg.dram.bandwidth_bytes_per_cycle
    assert row.bound_cycles == max(row.compute_cycles, math.ceil((row.dram_read_bytes + row.dram_write_bytes) / bw))
    assert row.total_cycles >= row.bound_cycles
    assert row.roofline_attainment == row.total_cycles / row.bound_cycles >= 1.0
    assert report.total.bound_cycles == row.bound_cycles


@settings(max_examples=150, deadline=None)
@given(layer=layers, cfg=configs, depth=st.integers(1, 8))
def test_more_outstanding_requests_never_hurt_when_reads_go_first(layer, cfg, depth):
    shallow = simulate([layer], INT8, _with_policy(cfg, "reads_first", prefetch_depth=depth)).layers[0]
    deep = simulate([layer], INT8, _with_policy(cfg, "reads_first", prefetch_depth=2 * depth)).layers[0]
    assert deep.total_cycles <= shallow.total_cycles


def test_reads_first_lets_the_last_read_pass_the_queued_write():
    """The FIFO anomaly above on a read-priority channel (the default): the writes wait for the channel's idle
    time, the reads go first, and the layer takes 443 cycles with 1 or 2 outstanding reads (FIFO: 474, 475)."""
    layer = ConvShape("c", 7, 7, 2, 8, kernel=3)
    cfg = make_config(8, 2, "ws", bandwidth=1.0, latency=0, kb=4).replace(
        ifmap=BufferConfig(4096, double_buffered=True), filter=BufferConfig(4096, double_buffered=True))
    one, two = (simulate([layer], INT8, _with_policy(cfg, "reads_first", prefetch_depth=d)).layers[0].total_cycles
                for d in (1, 2))
    assert (one, two) == (443, 443)


def test_reads_first_serves_a_read_before_an_earlier_write_and_the_write_in_the_idle_time():
    """Two steps on 1 B/cycle: step 0 reads 10 bytes and writes 100, step 1 reads 10 (issued ahead). FIFO: the
    second read was issued before the write, so both orders agree; with a single-buffered input the second read
    is issued after the write and waits behind it (FIFO) or passes it (reads_first)."""
    cfg = make_config(4, 4, "os", bandwidth=1.0).replace(ifmap=BufferConfig(65536, double_buffered=False))
    comp, reads, writes = np.array([5, 5]), np.array([80, 80]), np.array([800, 0])
    fifo = run_layer(comp, reads, writes, _with_policy(cfg, "fifo"))
    first = run_layer(comp, reads, writes, _with_policy(cfg, "reads_first"))
    # fifo: read 0 [0, 10), step 0 [10, 15), write [15, 115), read 1 [115, 125), step 1 [125, 130)
    assert fifo.total_cycles == 130
    # reads_first: read 1 [15, 25) first, step 1 [25, 30), the write in the idle time [25, 125)
    assert first.total_cycles == 125
    assert fifo.dram_busy_cycles == first.dram_busy_cycles == 120


def test_a_single_buffered_ofmap_has_no_write_queue():
    """Without a drain half there is nowhere for a write to wait: reads_first books every write at once, as FIFO."""
    cfg = make_config(4, 4, "os", bandwidth=1.0).replace(ofmap=BufferConfig(65536, double_buffered=False))
    comp, reads, writes = np.full(6, 5), np.full(6, 8 * 20), np.full(6, 8 * 20)
    fifo = run_layer(comp, reads, writes, _with_policy(cfg, "fifo"))
    first = run_layer(comp, reads, writes, _with_policy(cfg, "reads_first"))
    assert first == fifo


def test_the_write_queue_drains_from_its_high_to_its_low_watermark():
    """Reads that keep the channel busy (1 KB drain half: 80 % = 819 B, 20 % = 204 B): 100-byte writes queue
    until the ninth passes 819 bytes, then the oldest seven go at once, before the next read."""
    from ristretto_sim.hw.engine import WRITE_HIGH_WATERMARK, WRITE_LOW_WATERMARK, DRAMChannel

    assert (WRITE_HIGH_WATERMARK, WRITE_LOW_WATERMARK) == (80, 20)
    import simpy

    env = simpy.Environment()
    ch = DRAMChannel(env, 1.0, 0, "reads_first", write_buffer_bytes=1024)
    ch.read(10_000)  # the channel is busy until 10,000
    ids = [ch.write(100) for _ in range(9)]
    assert [ch.end_of(i) for i in ids] == [10_000 + 100 * (k + 1) for k in range(7)] + [None, None]
    assert ch.read(10) == 10_710  # behind the drained writes, ahead of the two still queued
    ch.flush()
    assert [ch.end_of(i) for i in ids[7:]] == [10_810, 10_910]


@pytest.mark.parametrize("bandwidth", [None, 2.0])
def test_the_write_policy_leaves_scalesim_compatible_figures_alone(bandwidth):
    """--scalesim-compatible runs the channel in issue order whatever dram.write_policy says: the same report."""
    layers_ = [ConvShape("c1", 12, 12, 3, 8, kernel=3), GemmShape("fc", 1, 10, 200)]
    cfg = make_config(8, 8, "ws", bandwidth=bandwidth, latency=5)
    fifo, first = (simulate(layers_, None, _with_policy(cfg, p), scalesim_compatible=True) for p in
                   ("fifo", "reads_first"))
    assert fifo == first
    assert fifo.config["dram"]["write_policy"] == "fifo"
    assert all(x.compute_cycles == x.scalesim_compute_cycles for x in fifo.layers)
