"""Real int8 layers of the MLPerf Tiny TFLite models (``../shared/data/tflite``) as the emulator's affine datapath
computes them: a fully connected layer of the anomaly-detection autoencoder (K = 640, input zero point 89, the
single-rounding readout) and the first 1x1 convolution of the keyword-spotting DS-CNN (per-channel weight scales,
the double-rounding readout), on generated input codes (the models ship without data). Each as an im2col GEMM:
input codes ``a`` (M, K), weight codes ``w`` (K, N), int32 bias codes, and the emulator's accumulator codes,
output codes and per-channel ``(M0, shift)``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import ristretto_sim as rs
from ristretto_sim.emulator.layer import PreparedLayer
from ristretto_sim.graph.plan import embedded_plan

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "tflite"
#: (model stem, index among its weighted layers, kind)
LAYERS = {"ad01_dense": ("ad01_int8", 0, "linear"), "kws_pointwise": ("kws_ref_model", 2, "conv2d")}


@dataclass(frozen=True, eq=False)
class AffineGemm:
    formats: object
    linear: bool
    a: np.ndarray
    w: np.ndarray
    bias: np.ndarray
    acc: np.ndarray
    out: np.ndarray
    multiplier: np.ndarray
    shift: np.ndarray


def affine_gemm(name: str, seed: int = 0) -> AffineGemm:
    stem, index, kind = LAYERS[name]
    path = DATA / f"{stem}.tflite"
    if not path.is_file():
        pytest.skip(f"{path} is absent (the shared MLPerf Tiny models)")
    net = rs.load_model(str(path))
    plan = embedded_plan(net)
    layer = [lay for lay in net.layers if "weight" in net.params.get(lay.name, {})][index]
    params = net.params[layer.name]
    f = plan.layer_formats(layer.name)
    geometry = None if kind == "linear" else layer.geometry
    prep = PreparedLayer(kind, params["weight"], params.get("bias"), f, geometry)
    wts = prep.datapath.prepare(prep.op, prep.weights, prep.bias)
    rng = np.random.default_rng(seed)
    fin = f.inputs
    if kind == "linear":
        codes = rng.integers(fin.min_code, fin.max_code + 1, (4, prep.op.k))
    else:
        assert params["weight"].shape[2:] == (1, 1)  # a 1x1 convolution: the im2col rows are the pixels
        codes = rng.integers(fin.min_code, fin.max_code + 1, (1, prep.op.k, 5, 5))
    x = fin.decode(codes)
    res = prep(x, accumulator=True)
    assert np.array_equal(prep.datapath.encode_inputs(x, None), codes)  # the generated codes are the layer's
    wc = (wts.weights.centred + f.weights.zero_point_array().reshape(-1, *([1] * (wts.weights.centred.ndim - 1))))
    wc = wc.reshape(prep.op.n_out, -1).astype(np.int64)
    acc, out = res.accumulator.codes, res.codes
    if kind == "linear":
        a = codes
    else:  # NCHW -> (pixels, channels)
        a = codes[0].reshape(prep.op.k, -1).T
        acc, out = acc[0].reshape(prep.op.n_out, -1).T, out[0].reshape(prep.op.n_out, -1).T
    return AffineGemm(f, kind == "linear", a.astype(np.int64), wc.T, np.asarray(wts.bias, np.int64),
                      np.asarray(acc, np.int64), np.asarray(out, np.int64), wts.weights.multiplier,
                      wts.weights.shift)
