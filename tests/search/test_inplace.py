"""Ristretto mode quantizes a layer's input in place: later readers of a shared blob see it rounded."""

import numpy as np

from ristretto_sim.formats import FixedPoint, ristretto_fixed_point
from ristretto_sim.graph.layers import Conv, Pool, PoolKind
from ristretto_sim.graph.network import Network, TensorSpec
from ristretto_sim.graph.plan import LayerPlan, QuantPlan
from ristretto_sim.runtime.executor import Executor


def split_net(conv_first: bool) -> Network:
    """``data`` is read by a 1x1 conv and by a max pool (in the given order)."""
    conv = Conv(name="conv", inputs=("data",), outputs=("c",), in_channels=1, out_channels=1, kernel=(1, 1),
                bias=False)
    pool = Pool(name="pool", inputs=("data",), outputs=("p",), kind=PoolKind.MAX, kernel=(1, 1), stride=(1, 1))
    layers = (conv, pool) if conv_first else (pool, conv)
    return Network(name="split", inputs=(TensorSpec("data", (1, 2, 2)),), layers=layers, outputs=("c", "p"),
                   params={"conv": {"weight": np.ones((1, 1, 1, 1), np.float32)}})


def test_later_reader_sees_the_rounded_blob_earlier_one_does_not():
    x = np.array([[[[0.3, -1.26], [2.2, 0.74]]]], dtype=np.float32)
    fmt = FixedPoint(4, 1)
    plan = QuantPlan({"conv": LayerPlan(fmt, FixedPoint(8, 4), None, FixedPoint(16, 8), rounding="nearest_even")},
                     mode="ristretto")
    rounded = ristretto_fixed_point(x, 4, 1)
    after = Executor(split_net(conv_first=True), x).run(plan=plan, keep=["p"]).tensor("p")
    np.testing.assert_array_equal(after, rounded)  # the pool ran after the conv: it reads the rounded blob
    before = Executor(split_net(conv_first=False), x).run(plan=plan, keep=["p"]).tensor("p")
    np.testing.assert_array_equal(before, x)  # the pool ran first: float values
    exact = Executor(split_net(conv_first=True), x).run(plan=plan.with_mode("exact"), keep=["p"]).tensor("p")
    np.testing.assert_array_equal(exact, x)  # hardware does not overwrite its inputs
