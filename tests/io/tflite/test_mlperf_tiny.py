"""The three MLPerf Tiny int8 reference models (``../shared/data/tflite``): every int8 tensor equals LiteRT's
reference kernels bit for bit, on extreme (all -128, all 127), random and real-looking inputs; the MAC counts of
the published models."""

import numpy as np
import pytest

import ristretto_sim as rs
from ristretto_sim.graph.plan import embedded_plan
from tests.io.tflite.litert import MODELS, SHARED_TFLITE, all_tensors, inputs, interpreter

pytestmark = pytest.mark.skipif(not SHARED_TFLITE.exists(),
                                reason="../shared/data/tflite (MLPerf Tiny models) is not present")

# MACs per inference counted from the imported layers (Conv: outputs x K; Dense: in x out). MLPerf Tiny (Banbury
# et al., "MLPerf Tiny Benchmark", NeurIPS 2021 Datasets and Benchmarks, Table 1) quotes 2.7 M (DS-CNN KWS),
# 7.5 M (MobileNetV1 0.25 VWW) and 0.26 M (FC autoencoder).
MACS = {"kws_ref_model": 2_656_768, "vww_96_int8": 7_489_664, "ad01_int8": 264_192}


def _check(name: str, n_random: int, seed: int = 0, make=None):
    path = SHARED_TFLITE / f"{name}.tflite"
    net = rs.load_model(path)
    it = interpreter(path)
    shape = tuple(it.get_input_details()[0]["shape"])
    compared = 0
    for x in (inputs(shape, n_random, seed) if make is None else make(shape)):
        ref = all_tensors(it, x)
        ours = rs.run_tensors(net, x)
        assert set(ours) <= set(ref)
        assert len(ours) >= len(net.layers) // 2  # the model's activations, not a subset that happens to agree
        for t, codes in ours.items():
            assert codes.dtype == ref[t].dtype and codes.shape == ref[t].shape, t
            assert np.array_equal(codes, ref[t]), f"{name}: tensor {t!r} differs in {(codes != ref[t]).sum()} codes"
            compared += 1
        assert np.array_equal(rs.run(net, x), ref[net.outputs[0]])
    return compared


@pytest.mark.parametrize("name", MODELS)
def test_every_int8_tensor_equals_the_reference_kernels(name):
    assert _check(name, 3) > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_every_int8_tensor_equals_the_reference_kernels_on_many_inputs(name):
    assert _check(name, 40, seed=11) > 0


def _real_looking(shape, seed: int = 5):
    """Inputs with the structure of real ones, unlike uniform noise: smooth fields (noise blurred over the
    spatial axes, as images and spectrogram features are), codes in a narrow band around a mid value, Gaussian
    codes, a gradient image; each spanning its range as a calibrated input does."""
    rng = np.random.default_rng(seed)

    def spread(x, lo=-128, hi=127):
        x = (x - x.min()) / (np.ptp(x) + 1e-12)
        return np.round(lo + x * (hi - lo)).astype(np.int8)

    def smooth(passes):
        x = rng.normal(size=shape)
        for axis in [a for a in (1, 2) if a < len(shape) and shape[a] > 1]:
            for _ in range(passes):
                x = (x + np.roll(x, 1, axis) + np.roll(x, -1, axis)) / 3
        return x

    for passes in (1, 3, 8):
        yield spread(smooth(passes))
    yield spread(smooth(4), -40, 30)
    yield np.clip(np.round(rng.normal(0, 20, shape)), -128, 127).astype(np.int8)
    if len(shape) == 4:
        ramp = np.linspace(-128, 127, shape[1] * shape[2]).reshape(1, shape[1], shape[2], 1)
        yield np.broadcast_to(np.round(ramp), shape).astype(np.int8)


@pytest.mark.parametrize("name", MODELS)
def test_every_int8_tensor_equals_the_reference_kernels_on_real_looking_inputs(name):
    assert _check(name, 0, make=_real_looking) > 0


@pytest.mark.parametrize("name", MODELS)
def test_macs_are_the_published_workloads(name):
    net = rs.load_model(SHARED_TFLITE / f"{name}.tflite")
    assert net.total_macs == MACS[name]


def test_the_embedded_plan_holds_every_tensor_format():
    net = rs.load_model(SHARED_TFLITE / "vww_96_int8.tflite")
    plan = embedded_plan(net)
    first = plan.get(net.layers[0].name)
    assert str(first.inputs) == "affine8[s=0.003921568859368563,z=-128]"
    assert first.weights.per_channel and first.weights.channels == 8 and str(first.accumulator) == "fixed32.0"
    assert rs.load_plan  # the plan re-reads from its own text
    from ristretto_sim.graph.plan import QuantPlan

    assert QuantPlan.from_yaml(plan.to_yaml(), net) == plan
