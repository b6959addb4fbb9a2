import numpy as np
import pytest

from ristretto_sim.emulator.lrn import ristretto_lrn
from ristretto_sim.formats import ristretto_minifloat


def _lrn_scalar_reference(x, size, alpha, beta, k, e, m):
    """Caffe's LRNFillScale GPU kernel transcribed literally, one (n, h, w) column at a time."""

    def q(v):
        return ristretto_minifloat(np.float32(v), e, m)[()]

    f32 = np.float32
    n_, c_, h_, w_ = x.shape
    out = np.zeros_like(x, dtype=np.float32)
    post_pad = size - (size - 1) // 2 - 1
    for n in range(n_):
        for h in range(h_):
            for w in range(w_):
                col = [q(x[n, c, h, w]) for c in range(c_)]
                scale = [f32(0)] * c_
                accum = f32(0)
                head = 0
                while head < post_pad and head < c_:
                    accum = q(accum + q(col[head] * col[head]))
                    head += 1
                while head < c_:
                    accum = q(accum + q(col[head] * col[head]))
                    if head - size >= 0:
                        accum = q(accum - q(col[head - size] * col[head - size]))
                    scale[head - post_pad] = q(f32(k) + q(accum * f32(alpha / size)))
                    head += 1
                while head < c_ + post_pad:
                    if head - size >= 0:
                        accum = q(accum - q(col[head - size] * col[head - size]))
                    scale[head - post_pad] = q(f32(k) + q(accum * f32(alpha / size)))
                    head += 1
                for c in range(c_):
                    out[n, c, h, w] = q(col[c] * q(f32(scale[c]) ** f32(-beta)))
    return out


@pytest.mark.parametrize("size,channels", [(5, 8), (3, 3), (5, 2), (1, 4)])
def test_matches_the_caffe_kernel_order(size, channels):
    rng = np.random.default_rng(size * 10 + channels)
    x = (rng.normal(size=(2, channels, 3, 2)) * 20).astype(np.float32)
    got = ristretto_lrn(x, size, 1e-4, 0.75, 1.0, 4, 3)
    want = _lrn_scalar_reference(x, size, 1e-4, 0.75, 1.0, 4, 3)
    assert np.array_equal(got, want)


def test_quantization_changes_the_result():
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(1, 6, 4, 4)) * 30).astype(np.float32)
    strict = ristretto_lrn(x, 5, 1e-2, 0.75, 2.0, 5, 2)
    wide = ristretto_lrn(x, 5, 1e-2, 0.75, 2.0, 8, 23)  # float32 itself: Ristretto's default 23/8 is the identity
    sq = np.pad(x.astype(np.float64) ** 2, ((0, 0), (2, 2), (0, 0), (0, 0)))
    ref = x / (2.0 + 1e-2 / 5 * sum(sq[:, i : i + 6] for i in range(5))) ** 0.75
    assert np.allclose(wide, ref, rtol=1e-5)
    assert not np.array_equal(strict, wide)
    assert np.array_equal(ristretto_minifloat(strict, 5, 2), strict)  # every output is on the minifloat grid


def test_bad_size():
    with pytest.raises(ValueError, match="size="):
        ristretto_lrn(np.zeros((1, 2, 1, 1)), 0, 1e-4, 0.75, 1.0, 4, 3)
