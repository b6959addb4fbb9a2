"""The integer-kernel layer: every available backend bit-identical to int64 products (corner cases, chunk
boundaries), the self-test rejecting a kernel that saturates int16 pair sums, the choice and its forcing."""

import numpy as np
import pytest

from ristretto_sim.emulator import fixed_matmul
from ristretto_sim.emulator.exact_sum import exact_matmul
from ristretto_sim.emulator.kernels import (
    BACKEND_ENV,
    KERNELS,
    IntegerKernel,
    default_backends,
    select_backends,
    self_test,
)
from ristretto_sim.emulator.kernels.onnxruntime_kernel import MATMUL_INTEGER_MODEL
from ristretto_sim.errors import ConfigError
from ristretto_sim.formats import FixedPoint


def _usable():
    names = ["blas"]
    for name, cls in KERNELS.items():
        if self_test(cls(1)) is None:
            names.append(name)
    return names


USABLE = _usable()


class PairSaturating(IntegerKernel):
    """What onnxruntime's x86 uint8 x int8 path does without VNNI: pairs of products summed into int16 with
    saturation, then added in int32."""

    name = "pair-saturating"

    def load(self):
        pass

    def product(self, a, w):
        p = a.astype(np.int32)[:, :, None] * w.astype(np.int32)[None, :, :]  # (M, K, N)
        k = p.shape[1]
        if k % 2:
            p = np.concatenate([p, np.zeros_like(p[:, :1])], axis=1)
        pairs = np.clip(p[:, 0::2] + p[:, 1::2], -(2**15), 2**15 - 1)
        return pairs.sum(axis=1, dtype=np.int32)


class Broken(IntegerKernel):
    name = "broken"

    def load(self):
        raise ImportError("no such library")


class ShortChunks(IntegerKernel):
    """An exact kernel (NumPy int64) whose chunk limit is tiny, to exercise the chunking of K."""

    name = "short"
    a_dtype = np.uint8

    def load(self):
        self.calls = []

    def chunk_k(self, a_abs_max, w_abs_max):
        return 7

    def product(self, a, w):
        self.calls.append(a.shape[1])
        return (a.astype(np.int64) @ w.astype(np.int64)).astype(np.int32)


class ShortChunksZeroPoint(ShortChunks):
    """:class:`ShortChunks` whose GEMM subtracts the activations' zero point itself (as onnxruntime's does)."""

    name = "short-zp"
    zero_point = True

    def load(self):
        self.calls, self.zero_points = [], []

    def product(self, a, w, zero_point=0):
        self.calls.append(a.shape[1])
        self.zero_points.append(zero_point)
        return ((a.astype(np.int64) - zero_point) @ w.astype(np.int64)).astype(np.int32)


@pytest.mark.parametrize("k", [1, 7, 15])
@pytest.mark.parametrize("lo, hi, zero_point", [(-128, 127, 128), (-100, 27, 100), (0, 255, 0), (200, 300, 0)])
def test_a_zero_point_kernel_is_given_the_offset(k, lo, hi, zero_point):
    """The offset goes to the library as a zero point when it is one of its codes (an offset of -200 is not: the
    base class corrects the sums itself), and the result is exact either way."""
    kernel = ShortChunksZeroPoint()
    rng = np.random.default_rng(k)
    a = rng.integers(lo, hi + 1, size=(5, k))
    a = a.astype(np.int8) if (lo, hi) == (-128, 127) else a
    w = rng.integers(-128, 128, size=(k, 3)).astype(np.int8)
    got = kernel.matmul(a, w, (lo, hi), 128)
    assert np.array_equal(got, a.astype(np.int64) @ w.astype(np.int64))
    assert set(kernel.zero_points) == {zero_point} and sum(kernel.calls) == k


def test_the_self_test_rejects_int16_pair_saturation():
    reason = self_test(PairSaturating())
    assert reason is not None and "not exact" in reason and "signed extreme codes" in reason
    chosen = select_backends(kernels={"pair-saturating": PairSaturating})
    assert chosen.name == "blas" and chosen.kernel is None
    assert chosen.report()["tried"][0] == {"name": "pair-saturating", "exact": False, "reason": reason}
    with pytest.raises(ValueError, match="not exact on this machine"):
        select_backends("pair-saturating", kernels={"pair-saturating": PairSaturating})


def test_a_kernel_that_cannot_load_is_reported_and_skipped():
    chosen = select_backends(kernels={"broken": Broken, "short": ShortChunks})
    assert chosen.name == "short"
    assert chosen.tried[0].reason == "cannot be loaded: ImportError: no such library"


@pytest.mark.parametrize("k", [1, 6, 7, 8, 14, 15, 50])
def test_chunks_of_k_at_the_boundary(k):
    kernel = ShortChunks()
    rng = np.random.default_rng(k)
    a = rng.integers(-128, 128, size=(5, k)).astype(np.int8)
    w = rng.integers(-128, 128, size=(k, 3)).astype(np.int8)
    got = kernel.matmul(a, w, (-128, 127), 128)
    assert np.array_equal(got, a.astype(np.int64) @ w.astype(np.int64))
    assert all(c <= 7 for c in kernel.calls) and sum(kernel.calls) == k


def test_chunk_length_keeps_int32_sums_exact():
    kernel = ShortChunks()
    assert IntegerKernel.chunk_k(kernel, 255, 128) == (2**31 - 1) // (255 * 128)
    assert IntegerKernel.chunk_k(kernel, 255, 128) * 255 * 128 < 2**31


def test_offsets_move_codes_into_the_kernel_range():
    k = ShortChunks()
    assert k.offset_for(-128, 127) == 128 and k.offset_for(0, 255) == 0 and k.offset_for(-3, 100) == 3
    assert k.offset_for(-200, 100) is None


@pytest.mark.parametrize("backend", USABLE)
def test_every_backend_is_exact_on_corner_cases(backend):
    b = select_backends(backend, threads=1)
    rng = np.random.default_rng(3)
    cases = [
        (np.full((4, 1000), 127, np.int8), np.full((1000, 3), 127, np.int8)),  # all-max operands
        (np.full((4, 1000), -128, np.int8), np.full((1000, 3), -128, np.int8)),
        (rng.integers(-128, 128, (3, 1)).astype(np.int8), rng.integers(-128, 128, (1, 5)).astype(np.int8)),  # K=1
        (rng.integers(0, 256, (6, 77)).astype(np.uint8), rng.integers(-128, 128, (77, 4)).astype(np.int8)),
        (rng.integers(-60, 61, (9, 300)), rng.integers(-128, 128, (300, 2))),  # int64 codes
        (rng.integers(-128, 128, (2, 5, 40)).astype(np.int8), rng.integers(-128, 128, (2, 40, 3)).astype(np.int8)),
    ]
    for a, w in cases:
        want = np.matmul(a.astype(np.int64), w.astype(np.int64))
        assert np.array_equal(exact_matmul(a, w, backends=b), want)


@pytest.mark.parametrize("backend", USABLE)
@pytest.mark.parametrize("mode", ["saturate", "wrap"])
def test_fixed_matmul_identical_on_every_backend(backend, mode):
    rng = np.random.default_rng(7)
    a = rng.integers(-128, 128, (33, 500)).astype(np.int8)
    w = rng.integers(-128, 128, (500, 9)).astype(np.int8)
    i8 = FixedPoint(8, 0)
    ref = fixed_matmul(a, w, i8, i8, accumulator=FixedPoint(16, 0), overflow=mode,
                       backends=select_backends("blas"))
    got = fixed_matmul(a, w, i8, i8, accumulator=FixedPoint(16, 0), overflow=mode, backends=select_backends(backend))
    assert np.array_equal(got.codes, ref.codes) and got.overflow_count == ref.overflow_count


def test_forcing_by_name_and_environment(monkeypatch):
    monkeypatch.setenv(BACKEND_ENV, "blas")
    assert default_backends().name == "blas" and default_backends().forced == "blas"
    assert default_backends() is default_backends()  # remembered for the process (explicitly)
    monkeypatch.setenv(BACKEND_ENV, "tpu")
    with pytest.raises(ConfigError, match="RISTRETTO_SIM_BACKEND='tpu' is not one of onnxruntime, torch, blas"):
        default_backends()
    monkeypatch.delenv(BACKEND_ENV)
    assert default_backends("blas").name == "blas"
    assert default_backends().name == USABLE[1] if len(USABLE) > 1 else "blas"


def test_matmul_integer_model_is_what_onnx_builds():
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    a = helper.make_tensor_value_info("A", TensorProto.UINT8, ["M", "K"])
    b = helper.make_tensor_value_info("B", TensorProto.INT8, ["K", "N"])
    y = helper.make_tensor_value_info("Y", TensorProto.INT32, ["M", "N"])
    z = helper.make_tensor_value_info("Z", TensorProto.UINT8, [])
    graph = helper.make_graph([helper.make_node("MatMulInteger", ["A", "B", "Z"], ["Y"])], "matmul_integer", [a, b, z],
                              [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    model.producer_name = ""
    onnx.checker.check_model(model)
    assert model.SerializeToString() == MATMUL_INTEGER_MODEL


@pytest.mark.parametrize("backend", [b for b in USABLE if b != "blas"])
def test_every_kernel_is_exact_at_its_own_chunk_boundary(backend):
    """K one past the longest chunk whose int32 sums cannot overflow, with the extreme codes (255 x -128 for a
    uint8 kernel, -128 x -128 for an int8 one): one int32 sum over all of K would wrap; the kernel's chunks must
    not."""
    kernel = select_backends(backend, threads=1).kernel
    lo, hi = kernel.a_range
    a_code = hi if lo == 0 else lo
    kc = kernel.chunk_k(max(-lo, hi), 128)
    for k in (kc, kc + 1):
        a = np.full((2, k), a_code, dtype=kernel.a_dtype)
        w = np.full((k, 3), -128, dtype=np.int8)
        want = np.full((2, 3), a_code * -128 * k, dtype=np.int64)
        assert abs(int(want[0, 0])) > 2**31 - 1 or k == kc  # past the boundary one int32 sum would overflow
        assert np.array_equal(kernel.matmul(a, w, (lo, hi), 128), want)
