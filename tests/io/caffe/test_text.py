"""Prototxt (protobuf text format) parsing: syntax variants, schema typing, errors with line numbers."""

from pathlib import Path

import numpy as np
import pytest

from ristretto_sim.io.caffe.text import TextFormatError, parse_text

SHARED = Path(__file__).resolve().parents[4] / "shared" / "data"


def test_syntax_variants():
    text = """
    name: 'a' "b"   # adjacent strings concatenate
    input: "data" input_dim: 1 input_dim: 3, input_dim: 0x10; input_dim: 16
    layer <
      name: "c\\tq\\101"
      type: "Convolution"
      convolution_param: { num_output: 8 kernel_size: [3, 3] bias_term: false }
      lrn_param { alpha: 1e-4 beta: .75 k: 2f norm_region: WITHIN_CHANNEL }
      include { phase: TEST }
      my_extension { whatever: 3 deep { x: "y" } }
      blobs { data: [1, -2.5, inf] shape { dim: 3 } }
    >
    """
    net = parse_text(text)
    assert net.get("name") == "ab"
    assert net.all("input_dim") == [1, 3, 16, 16]
    (lay,) = net.all("layer")
    assert lay.get("name") == "c\tqA" and lay.line == 4
    cp = lay.sub("convolution_param")
    assert cp.all("kernel_size") == [3, 3] and cp.get("bias_term") is False and cp.get("group") == 1
    lrn = lay.sub("lrn_param")
    assert lrn.get("alpha") == pytest.approx(1e-4) and lrn.get("beta") == 0.75 and lrn.get("k") == 2.0
    assert lrn.get("norm_region") == "WITHIN_CHANNEL" and lrn.get("local_size") == 5
    assert lay.all("include")[0].get("phase") == "TEST"
    assert lay.get("my_extension").get("deep").get("x") == "y"  # unknown fields kept untyped
    (b,) = lay.all("blobs")
    np.testing.assert_array_equal(b.array("data"), np.array([1, -2.5, np.inf], np.float32))


@pytest.mark.parametrize("text,match", [
    ("layer { name: \"x\"", "line 1: unexpected end of file, '}' missing"),
    ("name: \"x\"\nlayer { type: 3 }", "line 2: field 'type' expects a quoted string"),
    ("layer {\n convolution_param { num_output: -1 } }", "line 2: field 'num_output' is unsigned"),
    ("layer { pooling_param { pool: MEDIAN } }", "MEDIAN.*MAX, AVE, STOCHASTIC"),
    ("layer { convolution_param { bias_term: maybe } }", "expects true/false"),
    ("layer { convolution_param { kernel_size: 2.5 } }", "not an integer"),
    ("layer: 3", "is a message"),
    ("name { }", "is a string, not a message"),
    ("name \"x\"", "expected ':'"),
    ("name: \"unterminated", "unexpected character"),
])
def test_errors_name_the_line(text, match):
    with pytest.raises(TextFormatError, match=match):
        parse_text(text)


@pytest.mark.skipif(not (SHARED / "ristretto").is_dir(), reason="../shared/data/ristretto not present")
def test_real_ristretto_prototxt_parses():
    net = parse_text((SHARED / "ristretto" / "squeezenet_v1.0_dfp8_quantized.prototxt").read_text())
    layers = net.all("layer")
    assert len(layers) == 70
    types = [lay.get("type") for lay in layers]
    assert types.count("ConvolutionRistretto") == 26 and types.count("Concat") == 8
    conv1 = next(lay for lay in layers if lay.get("name") == "conv1")
    q = conv1.sub("quantization_param")
    assert [q.get(k) for k in ("bw_layer_in", "fl_layer_in", "fl_layer_out", "fl_params")] == [8, 0, -3, 7]
    assert q.get("precision") == "DYNAMIC_FIXED_POINT" and q.get("rounding_scheme") == "NEAREST"
