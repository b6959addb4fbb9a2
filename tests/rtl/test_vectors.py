"""Test vectors: long traces laid end to end from segments stepped together are one valid trace (a sequential
golden run gives the same outputs); traces reach the corners they are meant to."""

import numpy as np
import pytest

from ristretto_sim.rtl.golden import Trace, golden_run
from ristretto_sim.rtl.vectors import long_vectors, random_trace
from tests.rtl.helpers import spec

FIELDS = ("a", "w", "bias", "en", "load", "clear")


@pytest.mark.parametrize("s", [spec("fixed8.4", "fixed8.7", "fixed14.11", overflow="wrap"), spec("e4m3", "e4m3", k=32),
                               spec("fixed8.4", "pow2[-6,-1]", "fixed14.8", shifter_bits=9)], ids=str)
def test_long_vectors_are_one_trace(s):
    trace, out = long_vectors(s, 900, seed=3, segment=200)
    assert trace.a.shape == (900, 1)
    seq = golden_run(s, trace)
    assert seq.first_difference(out) is None


def test_trace_corners():
    s = spec("fixed8.4", "fixed8.7", "fixed14.11")
    t = random_trace(s, 2000, 1, seed=0)
    assert (t.a == -128).any() and (t.a == 127).any() and (t.w == -128).any() and (t.w == 127).any()
    g = golden_run(s, t)
    acc = g.acc[:, 0]
    assert (acc == s.accumulator.max_code).any() and (acc == s.accumulator.min_code).any()  # both rails
    k1 = t.load[:-1, 0] & t.load[1:, 0] & t.en[1:, 0]
    assert k1.any()  # outputs of K = 1
    assert t.clear.any() and (~t.en).any()
    assert isinstance(Trace(*(getattr(t, f) for f in FIELDS)).column(0), Trace)
    assert np.array_equal(t.column(0).a, t.a)
