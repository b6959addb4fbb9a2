"""The integer-kernel backends by name, and the choice of one for a process.

Backends, in order of preference: ``onnxruntime`` (``MatMulInteger``), ``torch`` (``torch._int_mm``, when torch
is installed), ``blas`` (no integer kernel: exact float32/float64 BLAS GEMMs in chunks, :mod:`~ristretto_sim.
emulator.exact_sum`; always available and exact by its bounds). A :class:`Backends` object is the choice: the
kernel in use (None for ``blas``) and, for every backend tried, whether it passed the self-test
(:mod:`~ristretto_sim.emulator.kernels.selftest`) and why not. Kernels that fail are never used.

:func:`select_backends` runs the self-tests every time it is called (about 10 ms per backend, plus the import of
its library). :func:`default_backends` is what the emulator uses when a caller passes no ``backends``: it
returns one ``Backends`` per forced name per process, through an explicit ``functools.cache`` (the only
process-wide memory in the emulator; ``default_backends.cache_clear()`` forgets it, and a ``Backends`` object
passed explicitly bypasses it). The forced name is the ``force`` argument, else the environment variable
``RISTRETTO_SIM_BACKEND`` (``blas``, ``onnxruntime`` or ``torch``), read when ``default_backends`` is called, so
a result can be reproduced on a chosen backend; a forced backend that fails its self-test is an error (with the
reason) instead of a silent fallback.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from ristretto_sim.emulator.kernels.base import IntegerKernel
from ristretto_sim.emulator.kernels.onnxruntime_kernel import OnnxruntimeKernel
from ristretto_sim.emulator.kernels.selftest import self_test
from ristretto_sim.emulator.kernels.torch_kernel import TorchKernel
from ristretto_sim.errors import ConfigError

#: environment variable that forces a backend
BACKEND_ENV = "RISTRETTO_SIM_BACKEND"
#: the backend without an integer kernel
BLAS = "blas"
#: integer kernels by name, in order of preference
KERNELS: dict[str, type[IntegerKernel]] = {}


def register(cls: type[IntegerKernel]) -> type[IntegerKernel]:
    """Register an integer kernel class under its ``name`` (appended to the order of preference)."""
    if not cls.name or cls.name == BLAS or cls.name in KERNELS:
        raise ValueError(f"kernel name {cls.name!r} is empty, reserved or already registered")
    KERNELS[cls.name] = cls
    return cls


register(OnnxruntimeKernel)
register(TorchKernel)


def backend_names() -> tuple[str, ...]:
    return tuple(KERNELS) + (BLAS,)


@dataclass(frozen=True)
class BackendStatus:
    """One backend tried: ``name``, ``exact`` (passed the self-test), ``reason`` (why not, else None)."""

    name: str
    exact: bool
    reason: str | None = None


@dataclass(frozen=True, eq=False)
class Backends:
    """The integer-kernel choice of a computation (module docstring).

    Attributes
    ----------
    kernel : IntegerKernel or None
        The kernel in use; None: exact BLAS (``blas``).
    tried : tuple of BackendStatus
        Every backend tried, in order, with its self-test result.
    forced : str or None
        The backend asked for (argument or ``RISTRETTO_SIM_BACKEND``), if any.
    """

    kernel: IntegerKernel | None
    tried: tuple[BackendStatus, ...] = ()
    forced: str | None = None

    @property
    def name(self) -> str:
        return BLAS if self.kernel is None else self.kernel.name

    def report(self) -> dict:
        """JSON-able: the backend in use, whether it was forced, every backend tried and why any was refused."""
        return {
            "name": self.name,
            "forced": self.forced,
            "version": getattr(self.kernel, "version", None),
            "tried": [{"name": s.name, "exact": s.exact, "reason": s.reason} for s in self.tried],
        }


def check_backend_name(name) -> str:
    """``name`` if it names a backend, else ``ValueError`` listing them."""
    if not isinstance(name, str) or name not in backend_names():
        raise ValueError(f"backend {name!r} is not one of {', '.join(backend_names())} "
                         f"(set {BACKEND_ENV} or pass backend= one of them)")
    return name


def select_backends(force: str | None = None, *, threads: int | None = None,
                    kernels: dict[str, type[IntegerKernel]] | None = None) -> Backends:
    """Self-test the kernels and choose one (module docstring); runs the self-tests on every call.

    Parameters
    ----------
    force : str, optional
        ``blas``, ``onnxruntime`` or ``torch``: only that backend (``ValueError`` with the self-test's reason if it
        is not exact here).
    threads : int, optional
        Threads each kernel library may use per product (None: its default).
    kernels : dict, optional
        Kernel classes to try instead of the registered ones (tests).
    """
    pool = KERNELS if kernels is None else kernels
    if force is not None:
        if force != BLAS and force not in pool:
            check_backend_name(force)
        if force == BLAS:
            return Backends(None, (BackendStatus(BLAS, True),), force)
        kernel = pool[force](threads)
        reason = self_test(kernel)
        if reason is not None:
            raise ValueError(f"backend {force!r} was asked for but is not exact on this machine: {reason}")
        return Backends(kernel, (BackendStatus(force, True),), force)
    tried = []
    for name, cls in pool.items():
        kernel = cls(threads)
        reason = self_test(kernel)
        tried.append(BackendStatus(name, reason is None, reason))
        if reason is None:
            return Backends(kernel, tuple(tried))
    tried.append(BackendStatus(BLAS, True))
    return Backends(None, tuple(tried))


def default_backends(force: str | None = None, *, threads: int | None = 1) -> Backends:
    """The process's ``Backends`` for ``force`` (else ``$RISTRETTO_SIM_BACKEND``, else the fastest exact one),
    self-tested once per process and remembered (module docstring). Kernels run one thread per product by default
    (the emulator's GEMMs are small and the executor runs batches in parallel with ``workers``; the benchmarks
    limit BLAS to the same count)."""
    if force is None:
        force = os.environ.get(BACKEND_ENV) or None
        if force is not None and force not in backend_names():
            # a setting of the environment, not of any layer or call: say so (``ConfigError``, one line)
            raise ConfigError(f"{BACKEND_ENV}={force!r} is not one of {', '.join(backend_names())}; set it to one "
                              "of them or unset it")
    if force is not None:
        check_backend_name(force)
    return _remembered(force, threads)


@functools.cache
def _remembered(force: str | None, threads: int | None) -> Backends:
    return select_backends(force, threads=threads)


#: forget the remembered choices (the next ``default_backends`` call runs the self-tests again)
default_backends.cache_clear = _remembered.cache_clear
