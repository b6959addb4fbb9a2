"""Copies of the bundled LeNet ONNX file, as a fine-tuning run would leave them: same structure, other weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from ristretto_sim.assets import asset_path


def lenet_copy(dst) -> Path:
    """The bundled LeNet's ONNX file, copied byte for byte to ``dst``."""
    dst = Path(dst)
    dst.write_bytes((asset_path("models", "lenet") / "lenet.onnx").read_bytes())
    return dst


def change_weights(path, seed: int = 0, initializer: str = "ip2.weight") -> Path:
    """Rewrite the ONNX file ``path`` in place with ``initializer`` replaced by seeded random values (LeNet: about
    0.1 top-1, like the issue's randomised caffemodel)."""
    model = onnx.load(str(path))
    for init in model.graph.initializer:
        if init.name == initializer:
            w = numpy_helper.to_array(init)
            new = np.random.default_rng(seed).normal(0.0, 0.05, w.shape).astype(w.dtype)
            init.CopyFrom(numpy_helper.from_array(new, init.name))
            break
    else:
        raise KeyError(f"{path} has no initializer {initializer!r}")
    onnx.save(model, str(path))
    return Path(path)
