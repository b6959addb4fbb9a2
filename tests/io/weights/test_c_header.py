"""C header export: a C program compiled with gcc decodes the codes and values ristretto-sim has."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from ristretto_sim.formats import FixedPoint
from ristretto_sim.io.weights.c_header import c_header, save_c_header
from ristretto_sim.io.weights.packed import PackedWeights, pack_network
from ristretto_sim.io.weights.quantized import QuantizedTensor
from tests.io.packed_cases import PLANS, plan, tiny_net  # noqa: F401 - fixture

GCC = shutil.which("gcc")
needs_gcc = pytest.mark.skipif(GCC is None, reason="gcc is not installed: the C header is not compiled")

PROGRAM = r"""
#include <stdio.h>
#include "weights.h"
int main(void) {
    for (int t = 0; t < TINY_N_TENSORS; t++) {
        const struct rsw_tensor *d = tiny_tensors[t];
        for (size_t i = 0; i < d->count; i++) {
            long long code = d->is_signed ? (long long)RSW_SCODE(d->data, d->bits, i)
                                          : (long long)RSW_UCODE(d->data, d->bits, i);
            printf("%s %zu %lld %a\n", d->name, i, code, rsw_value(d, i));
        }
    }
    return 0;
}
"""


def _compile_and_run(tmp_path, header: str) -> list[str]:
    (tmp_path / "weights.h").write_text(header)
    (tmp_path / "main.c").write_text(PROGRAM)
    exe = tmp_path / "main"
    subprocess.run(
        [GCC, "-std=c99", "-O1", "-Wall", "-Werror", "-o", str(exe), str(tmp_path / "main.c"), "-lm"],
        check=True,
        capture_output=True,
        text=True,
    )
    return subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.splitlines()


def _expected(packed: PackedWeights) -> list[str]:
    lines = []
    for t in packed.tensors:
        vals = t.values().ravel()
        for i, (c, v) in enumerate(zip(t.codes.ravel(), vals, strict=True)):
            lines.append((t.name, i, int(c), float(v)))
    return lines


def _parse(lines):
    out = []
    for line in lines:
        name, i, c, v = line.split()
        out.append((name, int(i), int(c), float.fromhex(v) if "nan" not in v else float("nan")))
    return out


@needs_gcc
@pytest.mark.parametrize("case", sorted(PLANS))
def test_c_program_decodes_every_code_and_value(tiny_net, tmp_path, case):  # noqa: F811
    packed = pack_network(tiny_net, plan(case, tiny_net), rng=3)
    got = _parse(_compile_and_run(tmp_path, c_header(packed, "tiny")))
    want = _expected(packed)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g[:3] == w[:3]
        assert g[3] == w[3] or (np.isnan(g[3]) and np.isnan(w[3])), (g, w)


@needs_gcc
def test_odd_widths_and_extremes(tmp_path):
    rng = np.random.default_rng(0)
    tensors = []
    for bits in (1, 3, 5, 6, 7, 12, 17, 31, 32, 57):
        fmt = FixedPoint(bits, bits // 2)
        codes = rng.integers(fmt.min_code, fmt.max_code, 29, endpoint=True)
        codes[:2] = (fmt.min_code, fmt.max_code)
        tensors.append(QuantizedTensor(f"l{bits}", "weight", fmt, codes))
        ufmt = FixedPoint(bits, 0, signed=False)
        tensors.append(QuantizedTensor(f"l{bits}", "bias", ufmt, rng.integers(0, ufmt.max_code, 29, endpoint=True)))
    packed = PackedWeights(tuple(tensors), model="tiny")
    got = _parse(_compile_and_run(tmp_path, c_header(packed)))
    assert [g[:3] for g in got] == [w[:3] for w in _expected(packed)]
    assert [g[3] for g in got] == [w[3] for w in _expected(packed)]


def test_header_text_and_width_limit(tiny_net, tmp_path):  # noqa: F811
    packed = pack_network(tiny_net, plan("fixed3-5", tiny_net))
    n = save_c_header(tmp_path / "w.h", packed, "my-net")
    text = (tmp_path / "w.h").read_text()
    assert n == len(text.encode())
    assert "#define MY_NET_CONV_WEIGHT_BITS 3" in text and "#define MY_NET_CONV_WEIGHT_FRAC 2" in text
    assert "format fixed3.2" in text and "RSW_SCODE" in text
    wide = PackedWeights((QuantizedTensor("l", "bias", FixedPoint(60, 0), np.zeros(2, np.int64)),))
    with pytest.raises(ValueError, match="l.bias.*60-bit"):
        c_header(wide)


@needs_gcc
def test_affine_codes_and_values_per_tensor_and_per_channel_on_any_axis(tmp_path):
    from ristretto_sim.formats import Affine

    rng = np.random.default_rng(4)
    cases = [
        ("dense", "weight", Affine(8, 0.0123456789, 3), (5, 7)),
        ("dense", "bias", Affine(32, tuple(rng.uniform(1e-6, 1e-3, 5)), 0), (5,)),
        ("conv", "weight", Affine(8, tuple(rng.uniform(1e-3, 0.1, 4)), tuple(rng.integers(-3, 4, 4))), (4, 2, 3, 3)),
        ("dw", "weight", Affine(8, tuple(rng.uniform(1e-3, 0.1, 6)), 0, axis=3), (1, 3, 3, 6)),  # depthwise: axis 3
        ("act", "weight", Affine(8, 0.5, 128, signed=False), (9,)),
        ("n4", "weight", Affine(4, 0.25, -2), (3, 3)),
    ]
    tensors = []
    for layer, param, fmt, shape in cases:
        codes = rng.integers(fmt.min_code, fmt.max_code, shape, endpoint=True)
        codes.flat[:2] = (fmt.min_code, fmt.max_code)
        tensors.append(QuantizedTensor(layer, param, fmt, codes))
    packed = PackedWeights(tuple(tensors), model="tiny")
    text = c_header(packed)
    assert "#define TINY_DENSE_WEIGHT_ZERO_POINT 3" in text and "tiny_dw_weight_scale[6]" in text
    got = _parse(_compile_and_run(tmp_path, text))
    want = _expected(packed)
    assert [g[:3] for g in got] == [w[:3] for w in want]
    assert [g[3] for g in got] == [w[3] for w in want]  # the same doubles


@needs_gcc
def test_an_int8_tflite_model_exports_a_header_that_decodes_its_weights(tmp_path):
    from pathlib import Path

    import ristretto_sim

    path = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "tflite" / "kws_ref_model.tflite"
    if not path.is_file():
        pytest.skip(f"{path} is not present (the shared test data)")
    net = ristretto_sim.load_model(path)
    from ristretto_sim.graph.plan import embedded_plan

    packed = pack_network(net, embedded_plan(net))
    got = _parse(_compile_and_run(tmp_path, c_header(packed, "tiny")))
    want = _expected(packed)
    assert [g[:3] for g in got] == [w[:3] for w in want]
    assert [g[3] for g in got] == [w[3] for w in want]
