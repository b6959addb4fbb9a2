"""Candidates: the plan a point builds and the PE derived from it (the widest format per operand)."""

import pytest

from ristretto_sim.formats import FixedPoint
from ristretto_sim.search.joint import CandidateError, SearchSpace


def _build(problem, widths, **common):
    space = SearchSpace.from_dict({"kind": ["fixed", "minifloat", "pow2"]}, SearchSpace.default(problem.base))
    types = problem.builder.types
    params = space.point(widths, types, {"kind": "fixed", "accumulator.bits": 32, **common})
    return problem.builder.build(space.resolve(params, types))


def test_uniform_int8_runs_on_the_int8_pe(lenet_problem):
    cand = _build(lenet_problem, {n: (8, 8) for n in lenet_problem.builder.types})
    pe = cand.config.pe
    assert (pe.kind.value, pe.inputs.bits, pe.weights.bits, pe.accumulator.bits) == ("fixed_mac", 8, 8, 32)
    entry = cand.plan.layers["conv1"]
    assert entry.accumulator == FixedPoint(32, entry.inputs.frac_bits + entry.weights.frac_bits)


def test_a_narrow_layer_saves_memory_traffic_but_not_mac_energy_on_a_wide_pe(lenet_problem):
    types = lenet_problem.builder.types
    int8 = _build(lenet_problem, {n: (8, 8) for n in types})
    one_narrow = _build(lenet_problem, {n: ((4, 8) if n == "ip1" else (8, 8)) for n in types})
    all_narrow = _build(lenet_problem, {n: (4, 8) for n in types})
    assert one_narrow.config.pe.weights.bits == 8  # the widest layer sets the PE
    assert all_narrow.config.pe.weights.bits == 4
    r8, r1, r4 = (lenet_problem.cost(c) for c in (int8, one_narrow, all_narrow))
    assert r1.total.energy.arithmetic_pj == r8.total.energy.arithmetic_pj
    assert r1.total.dram_read_bytes < r8.total.dram_read_bytes
    assert r4.total.energy.arithmetic_pj < r8.total.energy.arithmetic_pj
    assert r4.area["total_um2"] < r8.area["total_um2"] == r1.area["total_um2"]


def test_minifloat_and_pow2_candidates_get_their_pe_kinds(lenet_problem):
    types = lenet_problem.builder.types
    mf = _build(lenet_problem, {n: (8, 8) for n in types}, kind="minifloat", **{"minifloat.exp_bits": 4})
    assert mf.config.pe.kind.value == "minifloat" and str(mf.config.pe.weights) == "e4m3"
    p2 = _build(lenet_problem, {n: (4, 8) for n in types}, kind="pow2")
    assert p2.config.pe.kind.value == "shift"
    m = lenet_problem.measure(p2)
    assert 0.5 < m.accuracy <= 1.0 and m.energy_pj > 0


def test_a_minifloat_split_wider_than_its_bits_is_no_candidate(lenet_problem):
    types = lenet_problem.builder.types
    with pytest.raises(CandidateError, match="no plan for this point"):
        _build(lenet_problem, {n: (3, 8) for n in types}, kind="minifloat", **{"minifloat.exp_bits": 5})


def test_equal_candidates_share_a_key_and_other_arrays_do_not(lenet_problem):
    types = lenet_problem.builder.types
    a = _build(lenet_problem, {n: (8, 8) for n in types})
    b = _build(lenet_problem, {n: (8, 8) for n in types}, **{"pow2.exp_min": -6})  # unused by the fixed kind
    c = _build(lenet_problem, {n: (8, 8) for n in types}, **{"array.rows": 32})
    assert lenet_problem.key(a) == lenet_problem.key(b) == lenet_problem.key(c)
    assert lenet_problem.key(a, "test") != lenet_problem.key(a)


def test_buffers_and_a_bit_serial_pe_come_from_the_choice(lenet_problem):
    space = SearchSpace.from_dict({"array": {"buffer_kb": [8, 256]}, "pe": {"precision": ["parallel", "serial"],
                                                                          "bits_per_cycle": [2]}},
                                  SearchSpace.default(lenet_problem.base))
    types = lenet_problem.builder.types
    widths = {n: (8, 8) for n in types}

    def build(**common):
        params = space.point(widths, types, {"accumulator.bits": 32, **common})
        return lenet_problem.builder.build(space.resolve(params, types))

    parallel = build(**{"array.buffer_kb": 256, "pe.precision": "parallel"})
    serial = build(**{"array.buffer_kb": 256, "pe.precision": "serial"})
    small = build(**{"array.buffer_kb": 8, "pe.precision": "parallel"})
    assert parallel.config.ifmap.capacity_bytes == parallel.config.ofmap.capacity_bytes == 256 * 1024
    assert small.config.filter.capacity_bytes == 8 * 1024
    assert serial.config.pe.precision.value == "serial" and serial.config.pe.bits_per_cycle == 2
    p, s, b = (lenet_problem.cost(c) for c in (parallel, serial, small))
    # 8-bit inputs, 2 bits a cycle: 4 cycles a MAC on the array
    assert s.total.compute_cycles > 3 * p.total.compute_cycles
    assert b.total.dram_read_bytes > p.total.dram_read_bytes  # ip1's weights no longer fit: refetched
    assert lenet_problem.key(parallel) != lenet_problem.key(small) != lenet_problem.key(serial)
