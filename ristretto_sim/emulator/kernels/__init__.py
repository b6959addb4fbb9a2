"""Exact integer GEMM kernels of outside libraries (onnxruntime, torch) behind one protocol, each proven exact on
this machine by a self-test before use, with exact BLAS as the fallback (:mod:`.registry` has the choice).

``exact_sum.exact_matmul`` and the layer paths ask a :class:`Backends` object for the kernel; callers pass one
(``backends=``) or get :func:`default_backends`.
"""

from ristretto_sim.emulator.kernels.base import INT32_LIMIT, IntegerKernel
from ristretto_sim.emulator.kernels.registry import (
    BACKEND_ENV,
    BLAS,
    KERNELS,
    Backends,
    BackendStatus,
    backend_names,
    check_backend_name,
    default_backends,
    register,
    select_backends,
)
from ristretto_sim.emulator.kernels.selftest import self_test

__all__ = ["BACKEND_ENV", "BLAS", "INT32_LIMIT", "KERNELS", "BackendStatus", "Backends", "IntegerKernel",
           "backend_names", "check_backend_name", "default_backends", "register", "select_backends", "self_test"]
