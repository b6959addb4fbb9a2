"""onnxruntime run on an ONNX integer model (operator or QDQ form), every int8/uint8 tensor kept: the other side of
``compare MODEL.onnx --against onnxruntime``.

The imported network's integer tensors become graph outputs (int8 or uint8 as their formats say: onnxruntime's
``com.microsoft`` ops have no inferred types), so one run gives them all. The imported network takes the codes after
the graph input's ``QuantizeLinear``; onnxruntime takes the float input, so a batch of codes ``q`` is given as ``(q
- z) * s`` in float32, which that ``QuantizeLinear`` maps back to ``q`` (``rint((q - z) * s / s) = q - z``: the
float32 error is far below half a code). onnxruntime's CPU kernels requantize as ``rint(float32(acc) * float32(s_x *
s_w / s_y))`` (measured here on LeNet quantized by its own ``quantize_static``: that formula reproduces its
QLinearConv on 11.5 million outputs), where ONNX's definition, which the import follows, forms the product in
float64: outputs a hair from a tie may differ by one code.
"""

from __future__ import annotations

import numpy as np

from ristretto_sim.errors import ModelError
from ristretto_sim.formats import Affine


class OnnxRuntime:
    """onnxruntime's CPU session of an ONNX integer model with the integer tensors ``formats`` names (tensor name ->
    its ``Affine`` format, as the import gives them) as outputs; ``input_format`` is the codes' format."""

    def __init__(self, path, input_format: Affine, formats: dict):
        try:
            import onnx
            import onnxruntime as ort
            from onnx import TensorProto, helper
        except ImportError as exc:
            raise ModelError(f"comparing against onnxruntime needs onnx and onnxruntime: {exc}") from None
        model = onnx.load(str(path))
        produced = {o for n in model.graph.node for o in n.output}
        present = {o.name for o in model.graph.output}
        for name, fmt in formats.items():
            if name in produced and name not in present:  # contrib ops (QGemm) have no inferred type: the format's
                elem = TensorProto.INT8 if fmt.signed else TensorProto.UINT8
                model.graph.output.append(helper.make_tensor_value_info(name, elem, None))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"{path}: onnxruntime cannot load it: {exc}") from None
        self._input = self._session.get_inputs()[0]
        self.input_format = input_format

    def tensors(self, codes: np.ndarray) -> dict:
        """Every integer tensor by name after running the input codes ``codes`` (one sample, the model's shape)."""
        f = self.input_format
        x = np.asarray(codes)
        feed = x if "int" in self._input.type else (
            (x.astype(np.float32) - np.float32(f.zero_point)) * np.float32(f.scale))
        if feed.ndim == len(self._input.shape) - 1:
            feed = feed[None]
        values = self._session.run(None, {self._input.name: feed})
        out = {}
        for meta, v in zip(self._session.get_outputs(), values, strict=True):
            if v.dtype in (np.int8, np.uint8):
                out[meta.name] = v
        return out
