"""The one executor: prefix cache (bounded, reports when full), cpu_compat on every path, NHWC input of ONNX
models against onnxruntime, exact mode's integer average pooling / Add / Concat, and the ristretto-mode bias
notice."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import ristretto_sim as rs
from ristretto_sim.emulator import PoolGeometry, avg_pool2d
from ristretto_sim.errors import PlanError
from ristretto_sim.formats import FixedPoint, PowerOfTwo, ristretto_fixed_point, ristretto_power_of_two
from ristretto_sim.graph import Concat, Conv, Dense, Eltwise, Flatten, Network, Pool, TensorSpec
from ristretto_sim.graph.plan import DEFAULT_RECIPROCAL, LayerPlan, QuantPlan
from ristretto_sim.runtime.executor import Executor, run_network
from ristretto_sim.runtime.prefix_cache import PrefixCache

RNG = np.random.default_rng(99)


def chain_net() -> Network:
    """conv -> avg pool -> fc, a Caffe-like chain."""
    layers = (
        Conv(name="conv", inputs=("x",), outputs=("c",), in_channels=2, out_channels=4, kernel=(3, 3),
             pads=(1, 1, 1, 1)),
        Pool(name="pool", inputs=("c",), outputs=("p",), kind="avg", kernel=3, stride=2, ceil_mode=True,
             count_include_pad=True),
        Flatten(name="flat", inputs=("p",), outputs=("f",)),
        Dense(name="fc", inputs=("f",), outputs=("y",), in_features=4 * 4 * 4, out_features=5),
    )
    params = {
        "conv": {"weight": RNG.normal(0, 0.4, (4, 2, 3, 3)).astype(np.float32),
                 "bias": RNG.normal(0, 0.2, 4).astype(np.float32)},
        "fc": {"weight": RNG.normal(0, 0.3, (5, 64)).astype(np.float32),
               "bias": RNG.normal(0, 0.2, 5).astype(np.float32)},
    }
    return Network("chain", (TensorSpec("x", (2, 8, 8)),), layers, ("y",), params)


CONV = LayerPlan("fixed8.5", "fixed8.6", "fixed16.11", "fixed8.4", "fixed24.11")
FC = LayerPlan("fixed8.4", "fixed8.6", "fixed16.10", "fixed8.3", "fixed24.10")


# ---------------------------------------------------------------------- prefix cache


def test_prefix_cache_skips_unchanged_layers_and_changes_no_result():
    net = chain_net()
    x = RNG.normal(size=(30, 2, 8, 8)).astype(np.float32)
    ex = Executor(net, x, batch_size=10)
    both = QuantPlan({"conv": CONV, "fc": FC}, mode="ristretto")
    first = ex.run(plan=both)
    assert first.layers_run == 3 * 4
    other_fc = QuantPlan({"conv": CONV, "fc": LayerPlan("fixed8.4", "fixed4.3", "fixed4.3", "fixed8.3")},
                         mode="ristretto")
    second = ex.run(plan=other_fc)
    assert second.layers_run == 3 * 1  # conv, pool, flatten came from the cache
    fresh = run_network(net, x, other_fc, batch_size=10, record=False)
    np.testing.assert_array_equal(second.output, fresh.output)
    assert second.layer_stats["conv"] == fresh.layer_stats["conv"]  # a cached prefix keeps its statistics
    again = ex.run(plan=both)
    np.testing.assert_array_equal(again.output, first.output)
    assert not ex.cache.stats().full and ex.cache.stats().hits >= 2


def test_prefix_cache_is_bounded_and_says_when_it_is_full():
    net = chain_net()
    x = RNG.normal(size=(20, 2, 8, 8)).astype(np.float32)
    tiny = Executor(net, x, batch_size=10, cache_bytes=1000)  # smaller than one snapshot
    plan = QuantPlan({"conv": CONV, "fc": FC}, mode="exact")
    out = tiny.run(plan=plan).output
    stats = tiny.cache.stats()
    assert stats.full and stats.refused > 0 and stats.bytes <= 1000 and stats.as_dict()["full"] is True
    np.testing.assert_array_equal(tiny.run(plan=plan).output, out)
    c = PrefixCache(100)
    assert c.put("a", 1, 60) and c.put("b", 2, 60)  # "a" dropped to make room
    assert c.get("a") is None and c.get("b") == 2 and c.stats().evicted == 1 and c.stats().full
    with pytest.raises(ValueError, match="max_bytes"):
        PrefixCache(-1)


# ---------------------------------------------------------------------- cpu_compat on every path


def test_cpu_compat_pow2_quirk_on_the_one_call_path_too():
    net = chain_net()
    x = RNG.normal(size=(6, 2, 8, 8)).astype(np.float32)
    pw = PowerOfTwo(-8, -1, has_zero=False)
    plan = QuantPlan({"fc": LayerPlan("fixed8.4", pw, None, "fixed8.3")}, mode="ristretto")
    held = Executor(net, x, batch_size=3).run(plan=plan, cpu_compat=True).output
    once = run_network(net, x, plan, cpu_compat=True, record=False).output
    np.testing.assert_array_equal(held, once)
    f = run_network(net, x, keep=["f"], record=False).tensor("f")
    p = net.params["fc"]
    wq = ristretto_power_of_two(p["weight"], -8, -1, cpu_compat=True)
    ref = (np.matmul(f, np.ascontiguousarray(wq.T)) + p["bias"]).astype(np.float32)  # activations not quantized
    np.testing.assert_array_equal(once, ref)
    gpu = run_network(net, x, plan, record=False).output
    assert np.all(gpu * 8 == np.rint(gpu * 8)) and not np.array_equal(gpu, ref)


# ---------------------------------------------------------------------- NHWC input


def _nhwc_model():
    from onnx import TensorProto, helper, numpy_helper

    w = RNG.normal(size=(4, 3, 3, 3)).astype(np.float32)
    b = RNG.normal(size=4).astype(np.float32)
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["t", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["y"]),
    ]
    g = helper.make_graph(nodes, "nhwc", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 6, 5, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 4, 1, 1])],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def test_nhwc_onnx_model_takes_nhwc_batches_like_onnxruntime():
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")
    from ristretto_sim.graph import Layout
    from ristretto_sim.io.onnx.importer import load_onnx

    model = _nhwc_model()
    net = load_onnx(model)
    assert net.input_layout is Layout.NHWC and net.input.shape == (3, 6, 5)
    x = RNG.normal(size=(7, 6, 5, 3)).astype(np.float32)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    want = sess.run(None, {"x": x})[0]
    got = rs.run(net, x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(rs.run(net, x.transpose(0, 3, 1, 2), layout="nchw"), got)
    np.testing.assert_array_equal(rs.run(net, x[0]), got[:1])  # one sample without the batch axis
    with pytest.raises(ValueError, match="looks channels-first: pass layout='nchw'"):
        rs.run(net, x.transpose(0, 3, 1, 2))
    with pytest.raises(ValueError, match="model file takes NHWC: pass layout='model'"):
        run_network(net, x)  # the library's executor takes the network's NCHW unless told


# ---------------------------------------------------------------------- exact integer operators


def test_exact_average_pooling_is_the_emulators_integer_average():
    net = chain_net()
    x = RNG.normal(size=(5, 2, 8, 8)).astype(np.float32)
    plan = QuantPlan({"conv": CONV, "fc": FC})
    res = run_network(net, x, plan, keep=["c", "p"])
    c = res.tensor("c")
    fmt = FixedPoint(8, 4)
    ref = avg_pool2d(fmt.encode(c), fmt, PoolGeometry(3, 2, 0, ceil_mode=True), reciprocal=DEFAULT_RECIPROCAL,
                     out_fmt=fmt, count_include_pad=True)
    np.testing.assert_array_equal(res.tensor("p"), fmt.decode(ref.codes))
    assert res.records["pool"].output_saturations == ref.saturations
    # the plan states another reciprocal: a different (coarser) average
    coarse = plan.replace(layers={**plan.layers, "pool": LayerPlan(reciprocal="ufixed4.3")})
    p4 = run_network(net, x, coarse, keep=["p"]).tensor("p")
    ref4 = avg_pool2d(fmt.encode(c), fmt, PoolGeometry(3, 2, 0, ceil_mode=True), reciprocal=FixedPoint(4, 3, False),
                      out_fmt=fmt, count_include_pad=True)
    np.testing.assert_array_equal(p4, fmt.decode(ref4.codes))
    assert not np.array_equal(p4, res.tensor("p"))
    # ristretto mode pools in float32, as Caffe did
    ri = run_network(net, x, plan, "ristretto", keep=["c", "p"])
    assert ri.tensor("p").dtype == np.float32
    with pytest.raises(PlanError, match="'reciprocal' applies to average pooling layers only"):
        QuantPlan({"flat": LayerPlan(reciprocal="ufixed16.15")}).check(net)


def test_exact_global_average_pooling_and_a_pool_outputs_format():
    layers = (
        Conv(name="conv", inputs=("x",), outputs=("c",), in_channels=1, out_channels=3, kernel=(1, 1)),
        Pool(name="gap", inputs=("c",), outputs=("g",), kind="avg", global_pool=True),
    )
    params = {"conv": {"weight": RNG.normal(size=(3, 1, 1, 1)).astype(np.float32),
                       "bias": np.zeros(3, np.float32)}}
    net = Network("gap", (TensorSpec("x", (1, 5, 7)),), layers, ("g",), params)
    x = RNG.normal(size=(4, 1, 5, 7)).astype(np.float32)
    fout = FixedPoint(6, 5)
    plan = QuantPlan({"conv": LayerPlan("fixed8.5", "fixed8.6", None, "fixed10.6"),
                      "gap": LayerPlan(outputs=fout, reciprocal="ufixed12.11")})
    res = run_network(net, x, plan, keep=["c"])
    fin = FixedPoint(10, 6)
    ref = avg_pool2d(fin.encode(res.tensor("c")), fin, PoolGeometry((5, 7)), reciprocal=FixedPoint(12, 11, False),
                     out_fmt=fout)
    np.testing.assert_array_equal(res.output, fout.decode(ref.codes))
    assert res.records["gap"].output_saturations == ref.saturations


def _two_branch(op_layer) -> Network:
    layers = (
        Conv(name="a", inputs=("x",), outputs=("ya",), in_channels=1, out_channels=2, kernel=(1, 1), bias=False),
        Conv(name="b", inputs=("x",), outputs=("yb",), in_channels=1, out_channels=2, kernel=(1, 1), bias=False),
        op_layer,
    )
    params = {"a": {"weight": RNG.normal(size=(2, 1, 1, 1)).astype(np.float32)},
              "b": {"weight": RNG.normal(size=(2, 1, 1, 1)).astype(np.float32)}}
    return Network("branches", (TensorSpec("x", (1, 3, 3)),), layers, (op_layer.outputs[0],), params)


def test_exact_add_aligns_fractions_exactly_and_concat_requantizes():
    fa, fb = FixedPoint(8, 2), FixedPoint(12, 9)
    plan = {"a": LayerPlan("fixed8.5", "fixed8.6", None, fa), "b": LayerPlan("fixed8.5", "fixed8.6", None, fb)}
    x = RNG.normal(0, 2, size=(6, 1, 3, 3)).astype(np.float32)
    add = _two_branch(Eltwise(name="add", inputs=("ya", "yb"), outputs=("s",), op="add"))
    res = run_network(add, x, QuantPlan(plan), keep=["ya", "yb"])
    exact = [[Fraction(float(u)) + Fraction(float(v)) for u, v in zip(a, b, strict=True)]
             for a, b in zip(res.tensor("ya").reshape(6, -1), res.tensor("yb").reshape(6, -1), strict=True)]
    assert [[Fraction(float(v)) for v in row] for row in res.output.reshape(6, -1)] == exact  # the exact sum
    fo = FixedPoint(6, 3)
    out = run_network(add, x, QuantPlan({**plan, "add": LayerPlan(outputs=fo)})).output
    want = fo.quantize(np.array([[float(v) for v in row] for row in exact]))
    np.testing.assert_array_equal(out.reshape(6, -1), want)
    cat = _two_branch(Concat(name="cat", inputs=("ya", "yb"), outputs=("k",), axis=1))
    res = run_network(cat, x, QuantPlan(plan), keep=["ya", "yb"])
    np.testing.assert_array_equal(res.output, np.concatenate([res.tensor("ya"), res.tensor("yb")], axis=1))
    fo = FixedPoint(5, 2)
    res = run_network(cat, x, QuantPlan({**plan, "cat": LayerPlan(outputs=fo)}), keep=["ya", "yb"])
    want = np.concatenate([fo.quantize(res.tensor("ya")), fo.quantize(res.tensor("yb"))], axis=1)
    np.testing.assert_array_equal(res.output, want)
    codes = np.rint(np.ldexp(np.concatenate([res.tensor("ya"), res.tensor("yb")]), fo.frac_bits))
    sat = int(np.count_nonzero((codes > fo.max_code) | (codes < fo.min_code)))  # requantize's count: rounded codes
    assert res.records["cat"].output_saturations == sat > 0


def test_softmax_note_in_exact_mode():
    from ristretto_sim.graph import Softmax

    layers = (Dense(name="fc", inputs=("x",), outputs=("z",), in_features=4, out_features=3),
              Softmax(name="prob", inputs=("z",), outputs=("p",), axis=1))
    net = Network("soft", (TensorSpec("x", (4,)),), layers, ("p",),
                  {"fc": {"weight": RNG.normal(size=(3, 4)).astype(np.float32), "bias": np.zeros(3, np.float32)}})
    plan = QuantPlan({"fc": LayerPlan("fixed8.4", "fixed8.6", None, "fixed8.4")})
    x = RNG.normal(size=(2, 4)).astype(np.float32)
    assert any("softmax (prob) computes in float64" in n for n in run_network(net, x, plan).notes)
    assert not run_network(net, x, plan, "ristretto").notes and not run_network(net, x).notes


# ---------------------------------------------------------------------- bias notice


def test_ristretto_mode_says_which_bias_format_it_used():
    net = chain_net()
    x = RNG.normal(size=(4, 2, 8, 8)).astype(np.float32)
    plan = QuantPlan({"conv": CONV, "fc": LayerPlan("fixed8.4", "fixed8.6", "fixed8.6", "fixed8.3")},
                     mode="ristretto")
    res = run_network(net, x, plan)
    assert len(res.notes) == 1
    (note,) = res.notes
    assert "'conv'" in note and "fixed8.6, the weights' format, not the plan's fixed16.11" in note
    # and that is what it computed: the bias rounded to the weights' format
    b = net.params["conv"]["bias"]
    assert res.records["conv"].stats.bias_saturations == int(np.count_nonzero(np.abs(b) > FixedPoint(8, 6).max))
    c = run_network(net, x, plan, keep=["c"]).tensor("c")
    c_ref = run_network(net, x, plan.replace(layers={**plan.layers, "conv": LayerPlan(
        CONV.inputs, CONV.weights, CONV.weights, CONV.outputs)}), keep=["c"]).tensor("c")
    np.testing.assert_array_equal(c, c_ref)
    assert not run_network(net, x, plan, "exact").notes  # exact mode uses the plan's bias format
    pw = QuantPlan({"fc": LayerPlan("fixed8.4", PowerOfTwo(-8, -1, has_zero=False), "fixed8.6", "fixed8.3")},
                   mode="ristretto")
    (note,) = run_network(net, x, pw).notes
    assert "'fc'" in note and "kept the bias in float32" in note


def test_score_and_cli_print_the_notes(tmp_path, capsys):
    from ristretto_sim.cli import main

    plan = tmp_path / "p.yaml"
    plan.write_text("""version: 1
mode: ristretto
layers:
  conv1: {inputs: fixed8.8, weights: fixed8.7, bias: fixed32.15, outputs: fixed8.6}
""")
    score = rs.score("lenet", plan=str(plan), limit=50)
    assert any("'conv1'" in n and "fixed8.7" in n for n in score.notes)
    assert score.as_dict()["notes"] == list(score.notes)
    assert main(["score", "lenet", "--plan", str(plan), "--limit", "50"]) == 0
    assert "note: layer 'conv1': ristretto mode quantized the bias to fixed8.7" in capsys.readouterr().out


# ---------------------------------------------------------------------- rules written once


def test_rules_written_once():
    from ristretto_sim.emulator import default_accumulator, pooling
    from ristretto_sim.graph import layers as L
    from ristretto_sim.runtime.calibrate import no_overflow_accumulator

    assert L.pool_output_size is pooling.pool_output_size
    # Caffe's ceil mode drops a last window starting in the padding only when the input is padded
    assert PoolGeometry(1, 3, 0, ceil_mode=True).output_size(5, 5) == (3, 3)
    assert L.Pool(name="p", inputs=("x",), outputs=("y",), kind="max", kernel=1, stride=3,
                  ceil_mode=True).output_shapes(((1, 5, 5),)) == ((1, 3, 3),)
    net = chain_net()
    fin, fw = FixedPoint(8, 5), FixedPoint(8, 6)
    assert no_overflow_accumulator(net, "conv", fin, fw) == default_accumulator(fin, fw, 2 * 3 * 3)
    per_channel = FixedPoint(8, (6, 5, 6, 7))
    assert no_overflow_accumulator(net, "conv", fin, per_channel) == default_accumulator(fin, per_channel, 18, 4)
    with pytest.raises(PlanError, match=r"'fc'.*wider than the emulator's 128 bits"):
        no_overflow_accumulator(net, "fc", FixedPoint(64, 0), FixedPoint(64, 0))
    assert math.ceil(math.log2(64)) + 64 + 64 + 1 > 128


def test_float_convolutions_are_the_emulators_im2col():
    from ristretto_sim.emulator.ristretto_mode import float32_conv2d

    net = chain_net()
    x = RNG.normal(size=(3, 2, 8, 8)).astype(np.float32)
    c = run_network(net, x, keep=["c"], record=False).tensor("c")
    layer, p = net.layer("conv"), net.params["conv"]
    want = float32_conv2d(x, p["weight"], layer.geometry) + p["bias"].reshape(1, -1, 1, 1)
    np.testing.assert_array_equal(c, want)
    # a ristretto-mode layer is the same float32 im2col GEMM on the trimmed operands
    plan = QuantPlan({"conv": LayerPlan("fixed8.4", "fixed8.6", None, "fixed8.4")}, mode="ristretto")
    xq, wq = ristretto_fixed_point(x, 8, 4), ristretto_fixed_point(p["weight"], 8, 6)
    y = float32_conv2d(xq, wq, layer.geometry) + ristretto_fixed_point(p["bias"], 8, 6).reshape(1, -1, 1, 1)
    np.testing.assert_array_equal(run_network(net, x, plan, keep=["c"]).tensor("c"), ristretto_fixed_point(y, 8, 4))


def test_an_average_too_wide_for_int64_computes_in_float_and_says_so():
    net = chain_net()
    x = RNG.normal(size=(3, 2, 8, 8)).astype(np.float32)
    wide = QuantPlan({"conv": LayerPlan("fixed8.5", "fixed8.6", None, "fixed32.20"), "fc": FC,
                      "pool": LayerPlan(reciprocal="ufixed32.31")})
    res = run_network(net, x, wide, keep=["c", "p"])
    (note,) = res.notes
    assert "'pool'" in note and "more than 62 bits" in note
    from ristretto_sim.runtime.float_ops import pool2d

    layer = net.layer("pool")
    want = pool2d(res.tensor("c"), layer.kind, *layer.window((4, 8, 8)), (4, 4), True)
    np.testing.assert_array_equal(res.tensor("p"), want)
