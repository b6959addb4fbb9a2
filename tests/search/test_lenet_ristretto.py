"""Caffe LeNet + the MNIST test set: the search reproduces Ristretto's algorithm, trim for trim."""

import numpy as np
import pytest

from ristretto_sim.formats import FixedPoint, fast_ristretto_fixed_point, ristretto_fixed_point
from ristretto_sim.graph.plan import LayerPlan, QuantPlan
from ristretto_sim.io.caffe.importer import load_caffe_model
from ristretto_sim.runtime.executor import Executor, run_network
from ristretto_sim.search import RISTRETTO_WIDTHS, passes, quantize
from tests.search.lenet_data import LENET_PROTOTXT, LENET_WEIGHTS, MNIST, mnist_images


@pytest.fixture(scope="module")
def lenet():
    return load_caffe_model(LENET_PROTOTXT, LENET_WEIGHTS)


@pytest.fixture(scope="module")
def result():
    return quantize(LENET_PROTOTXT, MNIST, weights=LENET_WEIGHTS, iterations=4, margin=1.0, mode="ristretto")


def test_fast_trim_equals_the_reference_bit_for_bit():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, s, 4000) for s in (1e-6, 1e-3, 0.1, 1, 30, 1e4)]).astype(np.float32)
    for bits in (1, 2, 3, 4, 8, 16, 24, 32):
        for fl in (-6, -1, 0, 1, 3, 7, 12, 16, 30, 40):
            ties = ((np.arange(-50, 50) + 0.5) * 2.0**-fl).astype(np.float32)
            v = np.concatenate([x, ties, [0.0, -0.0, np.inf, -np.inf]]).astype(np.float32)
            got = fast_ristretto_fixed_point(v, bits, fl)
            ref = ristretto_fixed_point(v, bits, fl)
            assert got.dtype == np.float32
            np.testing.assert_array_equal(got.view(np.uint32), ref.view(np.uint32), err_msg=f"{bits=} {fl=}")


def test_executor_equals_the_graph_runner(lenet):
    net = lenet.network
    x = net.preprocess(mnist_images(300))
    q = FixedPoint(8, 4)
    plan = QuantPlan({n: LayerPlan(q if n != "conv1" else FixedPoint(8, 8), FixedPoint(4, 4 + (n == "conv1")),
                                   FixedPoint(4, 4 + (n == "conv1")), FixedPoint(8, 3), rounding="nearest_even")
                      for n in ("conv1", "conv2", "ip1", "ip2")}, mode="ristretto")
    ex = Executor(net, x, batch_size=100)
    mine = ex.run(plan=plan).output
    ref = run_network(net, x, plan, batch_size=100, record=False).output
    np.testing.assert_array_equal(mine, ref)
    ex.run(plan=plan.replace(layers={k: v for k, v in plan.layers.items() if k.startswith("ip")}))
    again = ex.run(plan=plan)  # served partly from the prefix cache: same values
    np.testing.assert_array_equal(again.output, mine)
    threaded = Executor(net, x, batch_size=100, workers=2, cache_bytes=0).run(plan=plan).output
    np.testing.assert_array_equal(threaded, mine)
    exact = plan.with_mode("exact")
    np.testing.assert_array_equal(ex.run(plan=exact).output, run_network(net, x, exact, record=False).output)


def test_integer_lengths_and_formats_follow_ristretto(result):
    train = load_caffe_model(LENET_PROTOTXT, LENET_WEIGHTS, phase="TRAIN")
    x = train.network.preprocess(mnist_images(640))  # 10 TRAIN batches of 64
    r = run_network(train.network, x, keep=["*"])
    t = {**r.tensors, **r.outputs}
    post = {"conv1": "conv1", "conv2": "conv2", "ip1": "relu1", "ip2": "ip2"}  # in-place ReLU rewrote ip1
    ins = {"conv1": "data", "conv2": "pool1", "ip1": "pool2", "ip2": "relu1"}
    il = result.integer_lengths()
    for name in post:
        max_in = float(np.max(np.abs(t[ins[name]] if ins[name] != "data" else x)))
        max_out = float(np.max(np.abs(t[post[name]])))
        max_w = float(np.max(np.abs(train.network.params[name]["weight"])))
        assert il[name] == (int(np.ceil(np.log2(max_in))), int(np.ceil(np.log2(max_out))),
                            int(np.ceil(np.log2(max_w) + 1)))
    c = result.chosen
    for name, e in result.plan.layers.items():
        wb = c["conv"] if name.startswith("conv") else c["fc"]
        assert e.weights == FixedPoint(wb, wb - il[name][2]) and e.bias == e.weights
        assert e.inputs == FixedPoint(c["activations"], c["activations"] - il[name][0])
        assert e.outputs == FixedPoint(c["activations"], c["activations"] - il[name][1])
        assert e.accumulator is None


def test_sweeps_follow_the_stop_rule(result):
    assert result.images == 400 and result.calibration_images == 640 and result.batch_size == 100
    for sw in result.sweeps.values():
        tried = list(sw.tried)
        assert tried == list(RISTRETTO_WIDTHS[:len(tried)])
        ok = [passes(a, result.baseline, result.margin) for a in sw.tried.values()]
        assert all(ok[:-1]) and (ok[-1] is False or len(tried) == 5)
        assert sw.chosen == (tried[-2] if not ok[-1] else tried[-1]) if len(tried) > 1 else sw.chosen == 32
    # measured on the first 400 test images (Caffe LeNet, margin 1 point)
    assert dict(result.chosen) == {"conv": 2, "fc": 4, "activations": 4}


def test_every_accuracy_is_what_ristrettos_quantizers_give(result, lenet):
    """The combined net rescored with ``runtime.executor.run_network`` (a fresh executor: no prefix cache)."""
    net = lenet.network
    ds_x = net.preprocess(mnist_images(400))
    from ristretto_sim.data import load_idx

    labels = load_idx(MNIST, "test").take(400).labels
    out = run_network(net, ds_x, result.plan, batch_size=100, record=False).output
    per_batch = [np.mean(np.argmax(out[i:i + 100], 1) == labels[i:i + 100]) for i in range(0, 400, 100)]
    assert result.accuracy == float(np.float32(np.float32(sum(np.float32(a) for a in per_batch)) / np.float32(4)))
    base = run_network(net, ds_x, record=False).output
    assert result.baseline == pytest.approx(float(np.mean(np.argmax(base, 1) == labels)), abs=1e-7)


def test_exact_mode_accumulators(lenet):
    res = quantize(LENET_PROTOTXT, MNIST, weights=LENET_WEIGHTS, iterations=1, margin=1.0, mode="exact",
                   calibration_batches=2)
    assert res.mode.value == "exact" and all(v == 0 for v in res.overflows.values())
    for e in res.plan.layers.values():
        assert e.accumulator.frac_bits == e.inputs.frac_bits + e.weights.frac_bits
    # a declared narrow accumulator overflows, and the counts are reported per layer
    from ristretto_sim.search import Evaluator, PlanOptions
    from ristretto_sim.search.plans import dfp_plan, group_widths

    net = lenet.network
    widths = group_widths(net, conv=8, fc=8, activations=8)
    ev = Evaluator(net, net.preprocess(mnist_images(100)), np.zeros(100, dtype=np.int64), mode="exact")
    wide = ev.evaluate(dfp_plan(net, res.statistics, widths, PlanOptions(mode="exact")))
    narrow = ev.evaluate(dfp_plan(net, res.statistics, widths, PlanOptions(mode="exact", acc_bits=14)))
    assert sum(wide.overflows.values()) == 0 and sum(narrow.overflows.values()) > 0


def test_cpu_compat_leaves_pow2_activations_float(lenet):
    """Reference §3: Ristretto's CPU code quantizes no activation in power-of-two mode (GPU: 8-bit DFP)."""
    from ristretto_sim.formats import PowerOfTwo, ristretto_power_of_two

    net = lenet.network
    x = net.preprocess(mnist_images(50))
    w = PowerOfTwo(-8, -1, has_zero=False)
    plan = QuantPlan({"ip2": LayerPlan(FixedPoint(8, 4), w, None, FixedPoint(8, 3), rounding="nearest_even")},
                     mode="ristretto")
    ex = Executor(net, x, batch_size=25)
    hidden = ex.run(keep=["relu1"]).tensor("relu1")
    p = net.params["ip2"]
    wq = ristretto_power_of_two(p["weight"], -8, -1, cpu_compat=True)
    ref = (np.matmul(hidden, np.ascontiguousarray(wq.T)) + p["bias"].astype(np.float32)).astype(np.float32)
    np.testing.assert_array_equal(ex.run(plan=plan, cpu_compat=True).output, ref)
    gpu = ex.run(plan=plan).output
    assert not np.array_equal(gpu, ref)  # GPU semantics quantize the activations to 8-bit DFP
    assert np.all(gpu * 8 == np.rint(gpu * 8))


@pytest.mark.slow
def test_full_mnist_test_set_ristretto_mode():
    """Ristretto's LeNet setup: 100 TEST batches of 100 (all 10,000 images), 10 TRAIN batches of 64, margin 1."""
    res = quantize(LENET_PROTOTXT, MNIST, weights=LENET_WEIGHTS, iterations=100, margin=1.0, mode="ristretto")
    assert res.images == 10000 and res.baseline == pytest.approx(0.9904)
    assert dict(res.chosen) == {"conv": 2, "fc": 4, "activations": 8}
    assert {k: round(v, 4) for k, v in res.sweeps["conv"].tried.items()} == {
        16: 0.9904, 8: 0.9904, 4: 0.9905, 2: 0.9864, 1: 0.0892}
    assert res.accuracy == pytest.approx(0.9792) and res.within_margin is False
