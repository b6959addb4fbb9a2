"""The statistics pass and Ristretto's integer-length rules (reference §1.4)."""

import math

import numpy as np
import pytest

from ristretto_sim.formats import ristretto_integer_length
from ristretto_sim.io.caffe.importer import load_caffe_model
from ristretto_sim.runtime.executor import run_network
from ristretto_sim.search import LayerRange, collect_statistics
from tests.search.lenet_data import LENET_PROTOTXT, LENET_WEIGHTS, mnist_images


@pytest.mark.parametrize(("maximum", "il_act", "il_w"), [
    (100.0, 7, 8), (64.0, 6, 7), (64.0001, 7, 8), (0.5, -1, 0), (0.3, -1, 0), (1.0, 0, 1), (3.99, 2, 3)])
def test_integer_length_rules(maximum, il_act, il_w):
    r = LayerRange("x", maximum, maximum, maximum)
    assert r.integer_lengths() == (il_act, il_act, il_w)
    assert il_act == math.ceil(math.log2(maximum)) and il_w == math.ceil(math.log2(maximum) + 1)
    assert ristretto_integer_length(maximum, weights=False) == il_act


def test_activation_max_saturates_weights_do_not():
    # max_out = 100 gives il 7: with 8 bits fl = 1, the largest value is 63.5 (reference §1.4 example)
    il_in, il_out, il_w = LayerRange("x", 100.0, 100.0, 100.0).integer_lengths()
    assert (8 - il_out) == 1 and (2**7 - 1) * 2.0 ** -(8 - il_out) == 63.5
    assert (2**7 - 1) * 2.0 ** -(8 - il_w) >= 100.0


def test_zero_maximum_names_the_layer():
    with pytest.raises(ValueError, match="conv9"):
        LayerRange("conv9", 0.0, 1.0, 1.0).integer_lengths()


def test_lenet_statistics_read_after_the_whole_pass():
    """TRAIN-phase LeNet: ip1's output blob is rewritten by the in-place ReLU, so max_out is the post-ReLU max."""
    train = load_caffe_model(LENET_PROTOTXT, LENET_WEIGHTS, phase="TRAIN")
    x = train.network.preprocess(mnist_images(640))
    quirky = collect_statistics(train.network, x, batch_size=64, inplace=train.inplace)
    clean = collect_statistics(train.network, x, batch_size=64)
    ref = run_network(train.network, x, keep=["*"]).tensors
    pre_relu = float(np.max(np.abs(ref["ip1"])))
    post_relu = float(np.max(ref["relu1"]))
    assert quirky["ip1"].max_out == pytest.approx(post_relu, rel=1e-6)
    assert clean["ip1"].max_out == pytest.approx(pre_relu, rel=1e-6)
    assert quirky["ip2"].max_in == quirky["ip1"].max_out  # the same blob
    assert quirky["conv1"].max_in == pytest.approx(float(x.max()))
    w = train.network.params["conv2"]["weight"]
    assert quirky["conv2"].max_params == float(np.max(np.abs(w)))  # the bias is ignored
    assert quirky.images == 640 and quirky.inplace_quirks


def test_train_phase_dropout_scales_the_blob(tmp_path):
    text = open(LENET_PROTOTXT).read().replace(
        'layer {\n  name: "ip2"',
        'layer {\n  name: "drop1"\n  type: "Dropout"\n  bottom: "ip1"\n  top: "ip1"\n'
        '  dropout_param { dropout_ratio: 0.5 }\n}\nlayer {\n  name: "ip2"', 1)
    proto = tmp_path / "lenet_dropout.prototxt"
    proto.write_text(text)
    train = load_caffe_model(proto, LENET_WEIGHTS, phase="TRAIN")
    assert any(w.op == "Dropout" for w in train.inplace)
    x = train.network.preprocess(mnist_images(128))
    with_drop = collect_statistics(train.network, x, batch_size=64, inplace=train.inplace, seed=1)
    no_drop = collect_statistics(train.network, x, batch_size=64,
                                 inplace=[w for w in train.inplace if w.op != "Dropout"])
    ratio = with_drop["ip2"].max_in / no_drop["ip2"].max_in
    assert 1.5 < ratio <= 2.0 + 1e-6  # x2 on the kept elements (reference: CaffeNet fc6/fc7, SqueezeNet conv10)
    again = collect_statistics(train.network, x, batch_size=64, inplace=train.inplace, seed=1)
    assert again.as_dict() == with_drop.as_dict()
