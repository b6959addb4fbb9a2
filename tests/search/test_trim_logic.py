"""The search driver (``trim``) on a fake evaluator: sweeps, combined net, extensions, JSON and DataFrame."""

import json

import pytest

from ristretto_sim.search import PlanOptions, ScoreStore, trim
from ristretto_sim.search.plans import Q16_16
from ristretto_sim.search.trimming import BACKOFF, MINIFLOAT_SPLITS, PER_LAYER, POW2_RANGE, next_width
from tests.search.fakes import CONV, FC, FakeEvaluator, lenet, lenet_stats

# group thresholds: conv passes down to 4, fc down to 2, activations down to 8 (accuracies exact)
SWEEP = {"conv": {16: 0.99, 8: 0.99, 4: 0.985, 2: 0.90, 1: 0.1},
         "fc": {16: 0.99, 8: 0.99, 4: 0.99, 2: 0.982, 1: 0.5},
         "activations": {16: 0.99, 8: 0.986, 4: 0.70, 2: 0.1, 1: 0.1}}


def sweep_accuracy(widths, combined=0.95):
    conv = {widths[n][0] for n in CONV if n in widths}
    fc = {widths[n][0] for n in FC if n in widths}
    acts = {widths[n][1] for n in widths}
    touched = [(g, s) for g, s in (("conv", conv), ("fc", fc), ("activations", acts)) if s - {None}]
    if len(touched) == 1:
        g, s = touched[0]
        return SWEEP[g][min(s)]
    return combined


def test_dfp_sweeps_combined_and_json():
    ev = FakeEvaluator(sweep_accuracy)
    res = trim(lenet(), ev, lenet_stats(), margin=1.0)
    assert {k: dict(v.tried) for k, v in res.sweeps.items()} == {
        "conv": {16: 0.99, 8: 0.99, 4: 0.985, 2: 0.90}, "fc": dict(SWEEP["fc"]),
        "activations": {16: 0.99, 8: 0.986, 4: 0.70}}
    assert dict(res.chosen) == {"conv": 4, "fc": 2, "activations": 8}
    assert res.accuracy == 0.95 and res.within_margin is False
    # the combined net: every conv/fc layer with its group's widths, fl = B - il
    widths = ev.decode(res.plan)
    assert widths == {"conv1": (4, 8), "conv2": (4, 8), "ip1": (2, 8), "ip2": (2, 8)}
    il = lenet_stats().integer_lengths()
    for name, entry in res.plan.layers.items():
        il_in, il_out, il_w = il[name]
        assert entry.inputs.frac_bits == 8 - il_in and entry.outputs.frac_bits == 8 - il_out
        assert entry.weights.frac_bits == entry.weights.bits - il_w and entry.bias == entry.weights
    d = json.loads(json.dumps(res.as_json()))
    assert d["baseline"] == 0.99 and d["accuracy"] == 0.95 and d["margin"] == 1.0 and d["mode"] == "ristretto"
    assert d["sweeps"]["conv"] == {"16": 0.99, "8": 0.99, "4": 0.985, "2": 0.9}
    assert d["chosen"] == {"conv": 4, "fc": 2, "activations": 8}
    assert isinstance(d["seconds"], float) and d["trimming_mode"] == "dynamic_fixed_point"
    df = res.to_dataframe()
    assert list(df.columns) == ["stage", "group", "bits", "accuracy", "passes", "chosen"]
    assert len(df) == 1 + 4 + 5 + 3 + 1 and df.accuracy.between(0, 1).all()


def test_sweep_plans_keep_untrimmed_roles_at_q16_16_and_other_groups_float():
    ev = FakeEvaluator(sweep_accuracy)
    trim(lenet(), ev, lenet_stats(), margin=1.0)
    conv16 = ev.calls[1]
    assert conv16 == {"conv1": (16, None), "conv2": (16, None)}  # fc layers float, activations Q16.16
    fc16 = ev.calls[1 + 4]
    assert fc16 == {"ip1": (16, None), "ip2": (16, None)}
    acts16 = ev.calls[1 + 4 + 5]
    assert acts16 == {n: (None, 16) for n in ("conv1", "conv2", "ip1", "ip2")}


def test_weights_q16_16_in_activation_sweep():
    ev = FakeEvaluator(sweep_accuracy)
    res = trim(lenet(), ev, lenet_stats(), margin=1.0)
    assert res.sweeps["activations"].tried
    from ristretto_sim.search.plans import dfp_plan, group_widths

    plan = dfp_plan(lenet(), lenet_stats(), group_widths(lenet(), activations=8), PlanOptions())
    assert all(e.weights == Q16_16 for e in plan.layers.values())


def test_backoff_order_is_exact():
    # combined nets pass only when activations reach 16 bits
    def acc(widths):
        single = sweep_accuracy(widths, combined=None)
        if single is not None:
            return single
        return 0.99 if widths["conv1"][1] >= 16 else 0.95

    res = trim(lenet(), FakeEvaluator(acc), lenet_stats(), margin=1.0, backoff=True)
    assert res.extensions[0].name == BACKOFF
    steps = [(s.description, s.accuracy) for s in res.extensions[0].steps]
    # lowest sweep accuracy at chosen width: fc (0.982 @2) -> fc 4 (0.99), then conv (0.985 @4) -> conv 8 (0.99),
    # then activations (0.986 @8) -> 16, which passes
    assert steps == [("fc 2 -> 4", 0.95), ("conv 4 -> 8", 0.95), ("activations 8 -> 16", 0.99)]
    assert res.final_within_margin and res.within_margin is False
    assert dict(res.extensions[0].chosen) == {"conv": 8, "fc": 4, "activations": 16}


def test_per_layer_halves_units_by_macs_times_bits_then_backs_off():
    def acc(widths):
        single = sweep_accuracy(widths, combined=None)
        if single is not None:
            return single
        # only ip2's weights may go below the group width; everything else must stay
        base = {"conv1": (4, 8), "conv2": (4, 8), "ip1": (2, 8), "ip2": (2, 8)}
        ok = all(widths[n] == base[n] for n in ("conv1", "conv2", "ip1")) and widths["ip2"][1] == 8
        return 0.99 if ok else 0.5

    net = lenet()
    res = trim(net, FakeEvaluator(acc), lenet_stats(), margin=1.0, granularity="layer")
    ext = res.extensions[0]
    assert ext.name == PER_LAYER
    first = ext.steps[0].description
    assert first.startswith("conv2 ")  # conv2 has the most MACs
    assert dict(ext.chosen)["ip2"] == {"weights": 1, "activations": 8}
    assert ext.accuracy == 0.99


def test_minifloat_exponent_choice_and_mantissa_sweep():
    from ristretto_sim.search.statistics import LayerRange, RangeStatistics

    stats = RangeStatistics({n: LayerRange(n, 3.0, 600.0 if n == "ip2" else 5.0, 0.5)
                             for n in ("conv1", "conv2", "ip1", "ip2")})

    def acc(widths):
        fmt = {w for w, _ in widths.values()}
        assert len(fmt) == 1
        return {"e5m10": 0.99, "e5m2": 0.97}[fmt.pop()]

    ev = FakeEvaluator(acc)
    res = trim(lenet(), ev, stats, trimming_mode="mini_floating_point", margin=1.0)
    assert res.exp_bits == 5  # max 600 > 512
    assert dict(res.sweeps["minifloat"].tried) == {16: 0.99, 8: 0.97}  # 4 bits leave no mantissa: never tried
    assert dict(res.chosen) == {"bits": 16, "exp_bits": 5, "mant_bits": 10}
    assert res.accuracy == 0.99
    d = res.as_json()
    assert d["sweeps"] == {"minifloat": {"16": 0.99, "8": 0.97}} and d["exp_bits"] == 5


def test_minifloat_split_search():
    def acc(widths):
        fmt = {w for w, _ in widths.values()}.pop()
        return 0.99 if fmt in ("e4m3", "e5m10", "e2m13", "e3m12", "e4m11") else 0.5

    ev = FakeEvaluator(acc)
    res = trim(lenet(), ev, lenet_stats(), trimming_mode="minifloat", margin=1.0, minifloat_splits=True)
    ext = res.extensions[0]
    assert ext.name == MINIFLOAT_SPLITS
    assert dict(ext.chosen) == {"bits": 8, "exp_bits": 4, "mant_bits": 3}


def test_pow2_scored_once_and_range_search():
    def acc(widths):
        w = {v[0] for v in widths.values()}
        if w == {"pow2[-8,-1]"}:
            return 0.97
        return 0.99 if all(int(x.split(",")[1][:-1]) - int(x.split(",")[0][5:]) + 1 >= 8 for x in w) else 0.9

    ev = FakeEvaluator(acc)
    res = trim(lenet(), ev, lenet_stats(), trimming_mode="power_of_2_weights", margin=1.0, pow2_range=True)
    assert dict(res.sweeps["pow2"].tried) == {4: 0.97}
    assert res.chosen["weights"] == "pow2[-8,-1,nozero]" and res.chosen["activations"] == 8
    for e in res.plan.layers.values():
        assert e.bias is None and e.inputs.bits == 8 and e.outputs.bits == 8
    ext = res.extensions[0]
    assert ext.name == POW2_RANGE and ext.chosen["bits"] == 4 and ext.accuracy == 0.99
    assert [s.accepted for s in ext.steps] == [True, True, False]


def test_resume_from_store(tmp_path):
    path = tmp_path / "state.json"
    ev = FakeEvaluator(sweep_accuracy)
    first = trim(lenet(), ev, lenet_stats(), margin=1.0, store=ScoreStore(path, {"a": 1}))
    assert first.evaluations == len(ev.calls) and path.is_file()
    ev2 = FakeEvaluator(lambda w: pytest.fail("must not be scored again"), baseline=0.0)
    second = trim(lenet(), ev2, lenet_stats(), margin=1.0, store=ScoreStore(path, {"a": 1}))
    assert second.evaluations == 0 and second.resumed > 0
    assert second.as_json()["sweeps"] == first.as_json()["sweeps"]
    ev3 = FakeEvaluator(sweep_accuracy)
    trim(lenet(), ev3, lenet_stats(), margin=1.0, store=ScoreStore(path, {"a": 2}))  # other setup: recomputed
    assert len(ev3.calls) == len(ev.calls)


def test_exact_options_accumulator_and_bias():
    from ristretto_sim.search.plans import dfp_layer

    net, stats = lenet(), lenet_stats()
    e = dfp_layer(net, stats, "conv2", 8, 8, PlanOptions(mode="exact"))
    assert e.accumulator.bits == 8 + 8 + 9 + 1 and e.accumulator.frac_bits == e.inputs.frac_bits + e.weights.frac_bits
    assert e.bias == e.weights
    e = dfp_layer(net, stats, "conv2", 8, 8, PlanOptions(mode="exact", acc_bits=20, bias_at_accumulator=True))
    assert e.accumulator.bits == 20 and e.bias == e.accumulator
    e = dfp_layer(net, stats, "ip1", None, None, PlanOptions(mode="exact"))
    assert e.accumulator.bits == 75  # 32 + 32 + 10 + 1, within the emulator's 128 bits (the limb path)
    with pytest.raises(ValueError, match="exact"):
        PlanOptions(mode="ristretto", acc_bits=24)


def test_bad_arguments():
    ev = FakeEvaluator(sweep_accuracy)
    with pytest.raises(ValueError, match="trimming mode"):
        trim(lenet(), ev, lenet_stats(), trimming_mode="int4")
    with pytest.raises(ValueError, match="margin"):
        trim(lenet(), ev, lenet_stats(), margin=-1)
    with pytest.raises(ValueError, match="layer"):
        trim(lenet(), ev, lenet_stats(), trimming_mode="minifloat", granularity="layer")


def test_next_width_ladder():
    assert [next_width(b) for b in (1, 2, 4, 8, 16, 32)] == [2, 4, 8, 16, 32, 32]
