"""The LiteRT interpreter (``ai-edge-litert``, optional: only ``compare --against`` and the tests use it) run on a
TFLite file: every int8 tensor for an input, with TFLite's reference kernels (``BUILTIN_REF``, TFLite Micro's
arithmetic) or its default optimized kernels (``BUILTIN``, with XNNPACK)."""

from __future__ import annotations

import warnings

import numpy as np

from ristretto_sim.enums import NamedEnum
from ristretto_sim.errors import ModelError


class Kernels(NamedEnum):
    """Which LiteRT kernels compute: ``REFERENCE`` (``tflite-ref``) or ``DEFAULT`` (``tflite``)."""

    REFERENCE = "tflite-ref"
    DEFAULT = "tflite"


class LiteRT:
    """One LiteRT interpreter of ``path`` keeping every tensor (``experimental_preserve_all_tensors``)."""

    def __init__(self, path, kernels=Kernels.REFERENCE):
        try:
            from ai_edge_litert.interpreter import Interpreter, OpResolverType
        except ImportError:
            raise ModelError("comparing against the TFLite interpreter needs ai-edge-litert: pip install "
                             "ai-edge-litert (ristretto-sim itself never needs it)") from None
        self.kernels = Kernels.coerce(kernels, "kernels")
        kwargs = {"experimental_preserve_all_tensors": True}
        if self.kernels is Kernels.REFERENCE:
            kwargs["experimental_op_resolver_type"] = OpResolverType.BUILTIN_REF
        try:
            with warnings.catch_warnings():  # preserving every tensor is the point; LiteRT warns about its memory
                warnings.simplefilter("ignore", UserWarning)
                self._it = Interpreter(model_path=str(path), **kwargs)
            self._it.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{path}: the TFLite interpreter cannot load it: {exc}") from None
        self.input = self._it.get_input_details()[0]

    def tensors(self, x: np.ndarray) -> dict:
        """Every int8/uint8 activation tensor by name after running one input ``x`` (the model's shape)."""
        self._it.set_tensor(self.input["index"], np.asarray(x).astype(self.input["dtype"]))
        self._it.invoke()
        out = {}
        for t in self._it.get_tensor_details():
            if t["dtype"] in (np.int8, np.uint8):
                try:
                    out[t["name"]] = self._it.get_tensor(t["index"]).copy()
                except ValueError:
                    continue
        return out
