"""onnxruntime's ``MatMulInteger`` (uint8 activations x int8 weights -> int32), the ONNX ecosystem's reference
runtime, as an :class:`~ristretto_sim.emulator.kernels.base.IntegerKernel`.

One ``InferenceSession`` per kernel object, built once (about 5 ms here) with symbolic M, K and N, so every
shape reuses it; a call then costs about 10 us of overhead (measured on this machine: 1,000 calls on a 16x32 by
32x8 product in 10 ms). Signed activations are offset by 128 (the base class's exact identity), and the offset
goes to ``MatMulInteger`` as A's zero point, so the int32 result is already ``a @ w`` (on this project's machine
the 4096 x 1152 x 128 int8 GEMM took 1.35 ms so, against 1.77 ms with the correction subtracted afterwards in
int64). On x86 CPUs
without VNNI, onnxruntime's uint8 x int8 path sums pairs of products into int16 with saturation (its
documentation recommends ``reduce_range`` for this); the self-test exposes it, and the kernel is then refused.
"""

from __future__ import annotations

import numpy as np

from ristretto_sim.emulator.kernels.base import IntegerKernel

#: the serialized ONNX model ``Y = MatMulInteger(A: uint8[M, K], B: int8[K, N], Z: uint8[]) -> int32[M, N]`` (IR 8,
#: opset 13; ``Z`` is A's zero point, so ``Y = (A - Z) @ B``), as ``onnx.helper`` builds it (a test rebuilds it and
#: compares); held as bytes so that using the kernel does not import the ``onnx`` package (1.4 s here, against
#: 0.26 s for onnxruntime)
MATMUL_INTEGER_MODEL = (
    b"\x08\x08\x12\x00:\x7f\n\x1b\n\x01A\n\x01B\n\x01Z\x12\x01Y\"\rMatMulInteger\x12\x0ematmul_integerZ\x15\n"
    b"\x01A\x12\x10\n\x0e\x08\x02\x12\n\n\x03\x12\x01M\n\x03\x12\x01KZ\x15\n\x01B\x12\x10\n\x0e\x08\x03\x12\n\n"
    b"\x03\x12\x01K\n\x03\x12\x01NZ\x0b\n\x01Z\x12\x06\n\x04\x08\x02\x12\x00b\x15\n\x01Y\x12\x10\n\x0e\x08\x06"
    b"\x12\n\n\x03\x12\x01M\n\x03\x12\x01NB\x04\n\x00\x10\r"
)


class OnnxruntimeKernel(IntegerKernel):
    """``MatMulInteger`` on onnxruntime's CPU execution provider (module docstring)."""

    name = "onnxruntime"
    a_dtype = np.uint8
    zero_point = True

    def load(self) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if self.threads is not None:
            opts.intra_op_num_threads = self.threads
            opts.inter_op_num_threads = self.threads
        self._session = ort.InferenceSession(MATMUL_INTEGER_MODEL, opts, providers=["CPUExecutionProvider"])
        self.version = ort.__version__

    def product(self, a, w, zero_point=0):
        return self._session.run(None, {"A": a, "B": w, "Z": np.array(zero_point, dtype=np.uint8)})[0]
