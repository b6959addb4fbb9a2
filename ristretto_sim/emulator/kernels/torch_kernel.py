"""``torch._int_mm`` (int8 x int8 -> int32) as an :class:`~ristretto_sim.emulator.kernels.base.IntegerKernel`,
when torch is installed (it is an optional extra). Unsigned activations are offset by -128 (the base class's
exact identity). Torch's thread count is the caller's business (``torch.set_num_threads``): a kernel object
never changes it, so ``threads`` is not applied here and the report says torch's own count."""

from __future__ import annotations

import numpy as np

from ristretto_sim.emulator.kernels.base import IntegerKernel


class TorchKernel(IntegerKernel):
    """``torch._int_mm`` on the CPU (module docstring)."""

    name = "torch"
    a_dtype = np.int8

    def load(self) -> None:
        import torch

        if not hasattr(torch, "_int_mm"):
            raise ImportError(f"torch {torch.__version__} has no _int_mm")
        self._torch = torch
        self.version = torch.__version__

    def product(self, a, w):
        t = self._torch
        # torch tensors share the arrays' memory and must be writable (it only reads them): copy read-only views
        a, w = (x if x.flags.writeable else x.copy() for x in (a, w))
        return t._int_mm(t.from_numpy(a), t.from_numpy(w)).numpy()
