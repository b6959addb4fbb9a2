"""onnxruntime's integer Add and pooling (``emulator.onnxruntime_ops``) against onnxruntime's CPU kernels, code for
code: random int8 and uint8 configurations and scales chosen to make exact ties (where the evaluation order and the
moment the zero point is added decide the last code)."""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from ristretto_sim.emulator.onnxruntime_ops import qlinear_add, qlinear_avg_pool, qlinear_global_avg_pool
from ristretto_sim.emulator.pooling import PoolGeometry
from ristretto_sim.formats import Affine

ort = pytest.importorskip("onnxruntime")
F32 = np.float32
DTYPES = {True: (np.int8, TensorProto.INT8), False: (np.uint8, TensorProto.UINT8)}


def _session(node, inputs, out_shape, signed, consts):
    dt, tt = DTYPES[signed]
    inits = [numpy_helper.from_array(np.array(F32(v) if k.startswith("s") else dt(v)), k) for k, v in consts.items()]
    graph = helper.make_graph([node], "op", [helper.make_tensor_value_info(n, tt, s) for n, s in inputs],
                              [helper.make_tensor_value_info("y", tt, out_shape)], inits)
    opsets = [helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def _fmt(scale, zp, signed):
    return Affine(8, float(F32(scale)), int(zp), signed=signed)


def _configs(seed, n):
    rng = np.random.default_rng(seed)
    for i in range(n):
        signed = bool(i % 2)
        lo, hi = (-128, 127) if signed else (0, 255)
        scales = [float(F32(10 ** rng.uniform(-3, 0))) for _ in range(3)]
        zps = [int(rng.integers(lo, hi + 1)) for _ in range(3)]
        yield signed, scales, zps, rng


# ties: equal scales (halves), and a ratio of 2 (quarters)
ADD_TIES = [(True, [0.5, 0.5, 1.0], [3, -5, -7]), (False, [0.5, 0.5, 1.0], [130, 127, 121]),
            (True, [0.1, 0.1, 0.2], [1, 2, -3]), (False, [0.25, 0.75, 0.5], [128, 0, 255])]


def _check_add(signed, scales, zps, rng, n=20000):
    lo, hi = (-128, 127) if signed else (0, 255)
    dt = DTYPES[signed][0]
    s = _session(helper.make_node("QLinearAdd", ["a", "sa", "za", "b", "sb", "zb", "sy", "zy"], ["y"],
                                  domain="com.microsoft"), [("a", [n]), ("b", [n])], [n], signed,
                 dict(zip(["sa", "sb", "sy", "za", "zb", "zy"], scales + zps, strict=True)))
    a, b = (rng.integers(lo, hi + 1, n).astype(dt) for _ in range(2))
    want = s.run(None, {"a": a, "b": b})[0].astype(np.int64)
    f = [_fmt(sc, z, signed) for sc, z in zip(scales, zps, strict=True)]
    got = qlinear_add(a, f[0], b, f[1], f[2]).codes
    assert np.array_equal(got, want), int(np.count_nonzero(got != want))


@pytest.mark.parametrize("seed", range(3))
def test_qlinear_add_random_configurations(seed):
    for signed, scales, zps, rng in _configs(seed, 6):
        _check_add(signed, scales, zps, rng)


@pytest.mark.parametrize("signed, scales, zps", ADD_TIES)
def test_qlinear_add_ties(signed, scales, zps):
    _check_add(signed, scales, zps, np.random.default_rng(1))


def _check_pool(signed, sx, sy, zx, zy, rng, *, kernel=None, pads=0, include_pad=False, hw=(9, 9)):
    lo, hi = (-128, 127) if signed else (0, 255)
    dt = DTYPES[signed][0]
    n, c = 16, 8
    x = rng.integers(lo, hi + 1, (n, c, *hw)).astype(dt)
    fin, fout = _fmt(sx, zx, signed), _fmt(sy, zy, signed)
    consts = {"sx": sx, "sy": sy, "zx": zx, "zy": zy}
    if kernel is None:
        node = helper.make_node("QLinearGlobalAveragePool", ["x", "sx", "zx", "sy", "zy"], ["y"],
                                domain="com.microsoft", channels_last=0)
        got = qlinear_global_avg_pool(x, fin, fout).codes
    else:
        geom = PoolGeometry(kernel, kernel, (pads,) * 4)
        node = helper.make_node("QLinearAveragePool", ["x", "sx", "zx", "sy", "zy"], ["y"], domain="com.microsoft",
                                kernel_shape=[kernel] * 2, strides=[kernel] * 2, pads=[pads] * 4,
                                count_include_pad=int(include_pad))
        got = qlinear_avg_pool(x, fin, fout, geom, include_pad).codes
    want = _session(node, [("x", list(x.shape))], list(got.shape), signed, consts).run(None, {"x": x})[0]
    assert np.array_equal(got, want.astype(np.int64)), int(np.count_nonzero(got != want))


@pytest.mark.parametrize("signed, sx, sy, kernel, pads, include_pad", [
    (True, 0.5, 0.5, 2, 0, False), (False, 0.5, 0.5, 2, 0, False), (True, 0.1, 0.1, 2, 0, False),
    (True, 0.3, 0.6, 3, 1, False), (False, 0.3, 0.6, 3, 1, True), (True, 0.02, 0.03, 2, 0, False),
    (False, 0.02, 0.03, 2, 0, False)])
def test_qlinear_average_pool_with_ties(signed, sx, sy, kernel, pads, include_pad):
    """Odd output zero points: the zero point is added before the rounding."""
    zx, zy = (3, -7) if signed else (130, 121)
    _check_pool(signed, sx, sy, zx, zy, np.random.default_rng(kernel), kernel=kernel, pads=pads,
                include_pad=include_pad)


@pytest.mark.parametrize("signed, sx, sy, hw", [
    (True, 0.5, 0.5, (1, 2)), (False, 0.25, 0.5, (2, 2)), (True, 0.1, 0.1, (1, 2)), (False, 0.3, 0.6, (2, 3)),
    (True, 0.02, 0.03, (7, 7))])
def test_qlinear_global_average_pool_with_ties(signed, sx, sy, hw):
    zx, zy = (3, -7) if signed else (130, 121)
    _check_pool(signed, sx, sy, zx, zy, np.random.default_rng(5), hw=hw)


def test_random_pool_configurations():
    for signed, scales, zps, rng in _configs(7, 8):
        _check_pool(signed, scales[0], scales[1], zps[0], zps[1], rng, kernel=2)
        _check_pool(signed, scales[0], scales[1], zps[0], zps[1], rng, hw=(5, 4))


def test_per_channel_formats_are_refused():
    pc = Affine(8, (0.1, 0.2), 0)
    with pytest.raises(ValueError, match="per-tensor scales only"):
        qlinear_add(np.zeros(2), pc, np.zeros(2), _fmt(0.1, 0, True), _fmt(0.1, 0, True))
