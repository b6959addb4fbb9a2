"""Float and quantized runners: exact mode against an independent int64 reference, Ristretto's in-place
quantization of shared tensors, records of ranges and overflows, batch chunking."""

from pathlib import Path

import numpy as np
import pytest

from ristretto_sim.errors import PlanError
from ristretto_sim.formats import FixedPoint
from ristretto_sim.graph import Activation, Conv, Dense, Eltwise, Network, Pool, TensorSpec
from ristretto_sim.graph.plan import LayerPlan, QuantPlan
from ristretto_sim.runtime.calibrate import dynamic_fixed_point_plan
from ristretto_sim.runtime.executor import run, run_float, run_network

RNG = np.random.default_rng(7)


def small_net():
    layers = (
        Conv(
            name="conv",
            inputs=("x",),
            outputs=("c",),
            in_channels=2,
            out_channels=3,
            kernel=(3, 3),
            stride=(2, 1),
            pads=(1, 0, 1, 1),
            groups=1,
        ),
        Activation(name="relu", inputs=("c",), outputs=("r",), kind="relu"),
        Pool(name="pool", inputs=("r",), outputs=("p",), kind="max", kernel=2, stride=2, ceil_mode=True),
        Dense(name="fc", inputs=("p",), outputs=("y",), in_features=3 * 2 * 4, out_features=5),
    )
    params = {
        "conv": {"weight": RNG.normal(0, 0.4, (3, 2, 3, 3)), "bias": RNG.normal(0, 0.2, 3)},
        "fc": {"weight": RNG.normal(0, 0.3, (5, 24)), "bias": RNG.normal(0, 0.2, 5)},
    }
    return Network("small", (TensorSpec("x", (2, 6, 8)),), layers, ("y",), params)


def round_half_even_shift(acc: np.ndarray, shift: int) -> np.ndarray:
    """acc * 2**-shift rounded to nearest even (int64 exact)."""
    if shift <= 0:
        return acc << -shift
    q = acc >> shift  # floor
    rem = acc - (q << shift)
    half = 1 << (shift - 1)
    up = (rem > half) | ((rem == half) & (q % 2 == 1))
    return q + up


def reference_exact(net, x, plan):
    """Independent int64 model of the exact fixed-point pipeline (nearest-even, saturating, wide acc.)."""

    def enc(v, f):
        return np.clip(np.rint(np.ldexp(v.astype(np.float64), f.frac_bits)), f.min_code, f.max_code).astype(np.int64)

    def out_stage(acc, acc_frac, fo):
        q = round_half_even_shift(acc, acc_frac - fo.frac_bits)
        return np.ldexp(np.clip(q, fo.min_code, fo.max_code).astype(np.float64), -fo.frac_bits)

    e = plan.get("conv")
    xi = enc(x, e.inputs)
    wi = enc(net.params["conv"]["weight"], e.weights)
    af = e.inputs.frac_bits + e.weights.frac_bits
    bi = round_half_even_shift(enc(net.params["conv"]["bias"], e.bias), e.bias.frac_bits - af)
    xp = np.pad(xi, ((0, 0), (0, 0), (1, 1), (0, 1)))
    n, ho, wo = x.shape[0], 3, 7
    acc = np.zeros((n, 3, ho, wo), np.int64) + bi.reshape(1, 3, 1, 1)
    for oy in range(ho):
        for ox in range(wo):
            patch = xp[:, :, 2 * oy : 2 * oy + 3, ox : ox + 3]
            acc[:, :, oy, ox] += np.einsum("nchw,ochw->no", patch, wi)
    c = out_stage(acc, af, e.outputs)
    r = np.maximum(c, 0)
    rp = np.pad(r, ((0, 0), (0, 0), (0, 1), (0, 1)), constant_values=-np.inf)  # ceil mode: 3x7 -> 2x4
    p = rp.reshape(n, 3, 2, 2, 4, 2).max(axis=(3, 5))
    assert p.shape == (n, 3, 2, 4)
    return p


def test_exact_mode_matches_int64_reference():
    net = Network(
        "small",
        (TensorSpec("x", (2, 6, 8)),),
        small_net().layers[:3],
        ("p",),
        {"conv": small_net().params["conv"]},
    )
    plan = QuantPlan({"conv": LayerPlan("fixed8.5", "fixed8.6", "fixed16.9", "fixed8.4", "fixed32.11")})
    x = RNG.normal(0, 1.5, (4, 2, 6, 8))
    ours = run(net, x, plan)
    ref = reference_exact(net, x, plan)
    np.testing.assert_array_equal(ours, ref)
    assert ours.dtype == np.float64


def test_float_run_network_equals_run_float_and_records_ranges():
    net = small_net()
    x = RNG.normal(size=(5, 2, 6, 8)).astype(np.float32)
    res = run_network(net, x)
    assert res.mode == "float"
    np.testing.assert_array_equal(res.output, run_float(net, x)["y"])
    rec = res.records["relu"]
    assert rec.output_min == 0.0 and rec.input_min < 0 and rec.output_max == rec.input_max


def test_records_overflows_and_chunking_is_invisible():
    net = small_net()
    x = RNG.normal(0, 3, (37, 2, 6, 8)).astype(np.float32)
    plan = QuantPlan(
        {
            "conv": LayerPlan("fixed8.4", "fixed8.6", None, "fixed8.5", "fixed12.10"),
            "fc": LayerPlan("fixed8.5", "fixed8.6", "fixed32.11", "fixed8.3", "fixed32.11"),
            "pool": LayerPlan(outputs="fixed3.1"),
        }
    )
    whole = run_network(net, x, plan, batch_size=1000)
    parts = run_network(net, x, plan, batch_size=8)
    np.testing.assert_array_equal(whole.output, parts.output)
    conv = whole.records["conv"]
    assert conv.stats.accumulator_overflows > 0 and conv.stats.mode.value == "exact"
    assert conv.stats.accumulator_overflows == parts.records["conv"].stats.accumulator_overflows
    pool = whole.records["pool"]
    assert pool.output_saturations > 0 and pool.output_max <= FixedPoint(3, 1).max
    assert whole.total_overflows == parts.total_overflows > 0
    # pool outputs are on the fixed3.1 grid
    p = run_network(net, x, plan, keep=["p"]).tensors["p"]
    np.testing.assert_array_equal(p * 2, np.round(p * 2))


def test_ristretto_mode_quantizes_shared_inputs_in_place():
    # x feeds a planned conv first and then an identity-like branch (max with itself) that runs later
    layers = (
        Conv(
            name="conv",
            inputs=("x",),
            outputs=("c",),
            in_channels=1,
            out_channels=1,
            kernel=(1, 1),
            bias=False,
        ),
        Eltwise(name="late", inputs=("x", "x"), outputs=("l",), op="max"),
        Eltwise(name="sum", inputs=("c", "l"), outputs=("y",), op="add"),
    )
    net = Network("shared", (TensorSpec("x", (1, 2, 2)),), layers, ("y",), {"conv": {"weight": np.ones((1, 1, 1, 1))}})
    plan = QuantPlan({"conv": LayerPlan("fixed8.2", "fixed8.6", outputs="fixed16.8")})
    x = np.array([[[[0.1, 0.3], [1.13, -0.6]]]], np.float32)
    late = run_network(net, x, plan, "ristretto", keep=["l"]).tensors["l"]
    np.testing.assert_array_equal(late, np.round(x * 4) / 4)  # the later reader saw the rounded blob
    late = run_network(net, x, plan, "exact", keep=["l"]).tensors["l"]
    np.testing.assert_array_equal(late, x)  # exact mode: no side effects


def test_ristretto_and_exact_agree_closely_and_calibration_plan():
    net = small_net()
    x = RNG.normal(size=(16, 2, 6, 8)).astype(np.float32)
    plan = dynamic_fixed_point_plan(net, x, 8)
    assert set(plan.layers) == {"conv", "fc"}
    ex, ri, fl = run(net, x, plan, "exact"), run(net, x, plan, "ristretto"), run(net, x)
    assert ri.dtype == np.float32
    lsb = plan.get("fc").outputs.lsb
    assert np.abs(ex - ri).max() <= 2 * lsb  # same grids; only rounding of float32 sums may differ
    assert np.abs(ex - fl).max() < 0.5 * np.abs(fl).max()


def test_plan_errors_and_input_shape():
    net = small_net()
    with pytest.raises(PlanError, match="nope"):
        run(net, np.zeros((1, 2, 6, 8)), QuantPlan({"nope": LayerPlan(outputs="fixed8.0")}))
    with pytest.raises(ValueError, match=r"does not match network 'small'"):
        run(net, np.zeros((1, 3, 6, 8)))
    assert run(net, np.zeros((2, 6, 8))).shape == (1, 5)  # a single sample gets a batch axis


SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.mark.skipif(
    not (SHARED / "caffe-lenet").exists() or not (SHARED / "mnist").exists(),
    reason="shared Caffe LeNet / MNIST not present",
)
def test_caffe_lenet_8bit_exact_and_ristretto_modes_on_mnist():
    from ristretto_sim.data import load_dataset
    from ristretto_sim.io.caffe.importer import load_caffe

    d = SHARED / "caffe-lenet"
    net = load_caffe(d / "lenet_train_test.prototxt", d / "lenet_iter_10000.caffemodel")
    data = load_dataset(SHARED / "mnist").take(400)
    x = net.preprocess(data.images)
    plan = dynamic_fixed_point_plan(net, x[:100], 8)
    outs = {
        m: run_network(net, x, plan if m != "float" else None, None if m == "float" else m)
        for m in ("float", "exact", "ristretto")
    }
    top1 = {m: float(np.mean(r.output.reshape(len(x), -1).argmax(1) == data.labels)) for m, r in outs.items()}
    assert top1["float"] >= 0.98 and top1["exact"] >= 0.96 and abs(top1["exact"] - top1["ristretto"]) <= 0.01
    assert outs["exact"].records["conv1"].stats.datapath == "fixed"
