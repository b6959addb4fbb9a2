"""The LiteRT interpreter as an oracle (test dependency only): every int8 tensor of a TFLite model for one input,
computed by TFLite's reference kernels (``BUILTIN_REF``, the arithmetic of TFLite Micro) or its default optimized
kernels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[3]
SHARED_TFLITE = REPO.parent / "shared" / "data" / "tflite"
MODELS = ("kws_ref_model", "vww_96_int8", "ad01_int8")


def interpreter(path, reference: bool = True):
    litert = pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert (test extra) is not installed")
    kwargs = {"experimental_preserve_all_tensors": True}
    if reference:
        kwargs["experimental_op_resolver_type"] = litert.OpResolverType.BUILTIN_REF
    it = litert.Interpreter(model_path=str(path), **kwargs)
    it.allocate_tensors()
    return it


def all_tensors(it, x: np.ndarray) -> dict:
    """The interpreter's int8/uint8 tensors (activations, not constants) by name after running ``x``."""
    d = it.get_input_details()[0]
    it.set_tensor(d["index"], x.astype(d["dtype"]))
    it.invoke()
    out = {}
    for t in it.get_tensor_details():
        if t["dtype"] in (np.int8, np.uint8):
            try:
                out[t["name"]] = it.get_tensor(t["index"]).copy()
            except ValueError:  # a tensor without data
                continue
    return out


def inputs(shape, n: int, seed: int = 0):
    """All -128, all 127, then ``n`` random int8 inputs."""
    rng = np.random.default_rng(seed)
    yield np.full(shape, -128, np.int8)
    yield np.full(shape, 127, np.int8)
    for _ in range(n):
        yield rng.integers(-128, 128, shape).astype(np.int8)
