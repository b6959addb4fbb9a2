"""Small ONNX models written with onnx.helper for API and CLI tests (no dependency on bundled files)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def tiny_classifier(path, *, preprocessing: bool = True, channels: int = 1, size: int = 28, seed: int = 0):
    """Conv 3x3/2 (4 maps) -> Relu -> MaxPool 2 -> Flatten -> Gemm (10 classes), saved to ``path``."""
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 0.5, (4, channels, 3, 3)).astype(np.float32)
    b1 = rng.normal(0, 0.1, 4).astype(np.float32)
    conv_out = (size - 3) // 2 + 1
    feat = 4 * (conv_out // 2) ** 2
    w2 = rng.normal(0, 0.2, (10, feat)).astype(np.float32)
    b2 = rng.normal(0, 0.1, 10).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["data", "w1", "b1"], ["conv"], name="conv", strides=[2, 2]),
        helper.make_node("Relu", ["conv"], ["relu"], name="relu"),
        helper.make_node("MaxPool", ["relu"], ["pool"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["pool"], ["flat"], name="flat"),
        helper.make_node("Gemm", ["flat", "w2", "b2"], ["logits"], name="fc", transB=1),
    ]
    inits = [numpy_helper.from_array(v, k) for k, v in {"w1": w1, "b1": b1, "w2": w2, "b2": b2}.items()]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", channels, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    if preprocessing:
        helper.set_model_props(
            model, {"preprocessing.scale": repr(1 / 255), "preprocessing.mean": "", "dataset": "mnist"}
        )
    onnx.save(model, str(path))
    return path


def tiny_autoencoder(path, gain: float = 0.9):
    """``y = gain * x`` on 1x28x28 images, a reconstruction model scored by PSNR."""
    nodes = [helper.make_node("Mul", ["data", "g"], ["y"], name="scale")]
    graph = helper.make_graph(
        nodes,
        "ae",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [numpy_helper.from_array(np.array(gain, np.float32), "g")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    helper.set_model_props(model, {"preprocessing.scale": repr(1 / 255), "task": "reconstruction"})
    onnx.save(model, str(path))
    return path


PLAN_8BIT = """version: 1
mode: exact
defaults: {rounding: nearest_even, overflow: saturate}
layers:
  conv: {inputs: fixed8.7, weights: fixed8.6, bias: fixed32.13, outputs: fixed8.4, accumulator: fixed32.13}
  fc:   {inputs: fixed8.4, weights: fixed8.7, bias: fixed32.11, outputs: fixed8.3, accumulator: fixed32.11}
"""
