"""The ``IntegerKernel`` base class: exact products of 8-bit integer codes into int32 on a library's integer
GEMM.

The base class owns the protocol, :meth:`IntegerKernel.matmul`: activation codes of any 8-bit range (signed
``[-128, 127]`` or unsigned ``[0, 255]``) are moved into the range the library takes by adding a constant
``c`` (``(a + c) @ w = a @ w + c * sum_k w[k, :]``, an exact integer identity, so the correction is subtracted
after the product); K is cut into chunks short enough that no int32 partial sum can overflow (``Kc * max|a + c|
* max|w| < 2**31``, from the operands' ranges); chunk results are added in int64. A variant sets ``name`` and
``a_dtype`` (``uint8`` or ``int8``: what its GEMM takes for activations; weights are always int8) and overrides:

* ``load`` (required): import the library and build what every call reuses (onnxruntime sessions); raise
  ``ImportError`` (or any exception) when it cannot, the message saying why;
* ``product`` (required): ``a @ w`` of a C-contiguous ``(M, K)`` array of ``a_dtype`` and a ``(K, N)`` int8
  array, as int32, for K within the chunk limit. A variant whose GEMM takes an activation zero point sets
  ``zero_point = True``; ``product(a, w, zero_point=c)`` then gives ``(a - c) @ w`` and the base class leaves the
  correction to it.

Whether a kernel is exact on this machine is not assumed: :mod:`~ristretto_sim.emulator.kernels.selftest`
proves it before a kernel is used (:mod:`~ristretto_sim.emulator.kernels.registry`).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

#: int32 partial sums stay strictly below this in magnitude
INT32_LIMIT = 2**31 - 1
#: activations moved into the kernel's range per block of rows (fits the core's L2 cache with the block's sums)
MOVE_BLOCK_BYTES = 512 * 2**10


class IntegerKernel:
    """An exact 8-bit integer GEMM of one library (module docstring: the protocol and the hooks).

    Parameters
    ----------
    threads : int or None
        Threads the library may use for one product (None: its default). The library's own setting, per kernel
        object; no process-wide state is changed.
    """

    name: ClassVar[str] = ""
    a_dtype: ClassVar[type] = np.uint8
    #: ``product`` takes the activations' offset as a zero point (module docstring)
    zero_point: ClassVar[bool] = False

    def __init__(self, threads: int | None = None):
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ValueError(f"threads={threads!r} must be a positive integer or None")
        self.threads = threads
        self._loaded = False

    # ------------------------------------------------------------------ hooks
    def load(self) -> None:  # pragma: no cover - interface
        """Import the library and build reusable state; raise (with the reason) if it cannot be used."""
        raise NotImplementedError

    def product(self, a: np.ndarray, w: np.ndarray, zero_point: int = 0) -> np.ndarray:  # pragma: no cover
        """``(a - zero_point) @ w`` as int32 (``a``: (M, K) ``a_dtype``, ``w``: (K, N) int8, K within the chunk
        limit); ``zero_point`` is nonzero only if the class sets ``zero_point``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ protocol
    def ensure_loaded(self) -> None:
        if not self._loaded:
            self.load()
            self._loaded = True

    @property
    def a_range(self) -> tuple[int, int]:
        info = np.iinfo(self.a_dtype)
        return int(info.min), int(info.max)

    def offset_for(self, a_lo: int, a_hi: int) -> int | None:
        """The constant ``c`` that moves codes in ``[a_lo, a_hi]`` into the kernel's activation range (None if
        they span more than 8 bits)."""
        lo, hi = self.a_range
        if a_hi - a_lo > hi - lo:
            return None
        c = 0 if a_lo >= lo and a_hi <= hi else lo - a_lo
        return c

    def chunk_k(self, a_abs_max: int, w_abs_max: int) -> int:
        """Longest K whose int32 partial sums cannot overflow for these operand magnitudes."""
        p = max(1, a_abs_max * w_abs_max)
        return max(1, INT32_LIMIT // p)

    def matmul(self, a: np.ndarray, w: np.ndarray, a_range: tuple[int, int], w_abs_max: int) -> np.ndarray:
        """Exact ``a @ w`` as int64 for 2-D integer ``a`` with values in ``a_range`` (8-bit span) and ``w`` with
        ``|w| <= w_abs_max <= 128`` and values in int8 (``ValueError`` otherwise).

        Activations that must be moved into the kernel's range are moved a block of rows at a time (about
        :data:`MOVE_BLOCK_BYTES`), each block multiplied while it is still in cache and its int32 sums written
        into the int64 result, instead of a fresh moved copy of all of ``a`` (on this project's machine the 4096 x
        1152 x 128 int8 GEMM on onnxruntime took 1.58 ms so against 1.79 ms, alternating with float32 GEMMs).
        """
        self.ensure_loaded()
        c = self.offset_for(*a_range)
        if c is None or w_abs_max > 128:
            raise ValueError(f"{self.name}: operands beyond 8 bits (a in {a_range}, max|w| = {w_abs_max})")
        m, k = a.shape
        n = w.shape[1]
        wn = np.ascontiguousarray(w, dtype=np.int8) if w.dtype != np.int8 else np.ascontiguousarray(w)
        lo, hi = self.a_range
        kc = self.chunk_k(max(-lo, hi) if c else max(-a_range[0], a_range[1]), w_abs_max)
        # the library subtracts the offset itself when it is one of its activation codes (a zero point)
        zp = c if self.zero_point and lo <= c <= hi else 0
        corr = None if not c or zp else np.int64(c) * wn.sum(axis=0, dtype=np.int64)
        as_is = c == 0 and a.dtype == self.a_dtype
        rows = m if as_is else max(1, MOVE_BLOCK_BYTES // max(1, k))
        out = np.empty((m, n), dtype=np.int64)
        buf = None if as_is else np.empty((min(rows, m), k), dtype=self.a_dtype)  # one block's moved codes
        for r0 in range(0, m, rows):
            block = slice(r0, min(m, r0 + rows))
            an = np.ascontiguousarray(a[block]) if as_is else self._moved(a[block], c, buf[:block.stop - r0])
            dst = out[block]
            if k <= kc:
                y = self.product(an, wn, zp) if zp else self.product(an, wn)
                if corr is None:
                    dst[...] = y
                else:
                    np.subtract(y, corr, out=dst, dtype=np.int64)
                continue
            if corr is None:
                dst[...] = 0
            else:
                dst[...] = -corr
            for k0 in range(0, k, kc):
                part = (np.ascontiguousarray(an[:, k0:k0 + kc]), np.ascontiguousarray(wn[k0:k0 + kc]))
                dst += self.product(*part, zp) if zp else self.product(*part)
        return out

    def _moved(self, a: np.ndarray, c: int, out: np.ndarray) -> np.ndarray:
        """``a + c`` in the kernel's activation dtype, written into ``out`` (C-contiguous, of ``a``'s shape;
        reused block after block, which here saves 0.2 ms of the 1.4 ms GEMM above); exact: the values land in
        its range."""
        if a.dtype == np.int8 and self.a_dtype == np.uint8 and c == 128:
            np.bitwise_xor(a.view(np.uint8), np.uint8(0x80), out=out)  # a + 128 for every int8 code
        elif a.dtype == np.uint8 and self.a_dtype == np.int8 and c == -128:
            np.bitwise_xor(a, np.uint8(0x80), out=out.view(np.uint8))  # a - 128 for every uint8 code
        else:
            np.add(a, c, out=out, casting="unsafe")
        return out
