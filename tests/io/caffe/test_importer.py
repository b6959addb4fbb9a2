"""Caffe importer: layer semantics against direct re-implementations of Caffe's forward loops, in-place and
phase handling, V1 files, errors, Ristretto quantization; Caffe LeNet scored on the real MNIST test set."""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from ristretto_sim.errors import ModelError
from ristretto_sim.formats import FixedPoint, Minifloat, PowerOfTwo, Rounding
from ristretto_sim.graph import Conv, ConvTranspose, Dense, Pool, Scale
from ristretto_sim.graph.plan import QuantPlan
from ristretto_sim.io.caffe.importer import load_caffe, load_caffe_model
from ristretto_sim.runtime.executor import run_float

SHARED = Path(__file__).resolve().parents[4] / "shared" / "data"
LENET = SHARED / "caffe-lenet"
SQUEEZE = SHARED / "ristretto" / "squeezenet_v1.0_dfp8_quantized.prototxt"

_spec = importlib.util.spec_from_file_location("_caffe_encoder",
                                               Path(__file__).with_name("test_wire.py"))
enc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(enc)


def write(tmp_path, text: str, weights: bytes | None = None):
    proto = tmp_path / "net.prototxt"
    proto.write_text(text)
    if weights is None:
        return proto, None
    model = tmp_path / "net.caffemodel"
    model.write_bytes(weights)
    return proto, model


def input_layer(shape, top="data"):
    dims = " ".join(f"dim: {d}" for d in shape)
    return f'layer {{ name: "in" type: "Input" top: "{top}" input_param {{ shape {{ {dims} }} }} }}\n'


# ------------------------------------------------------------------ Caffe reference loops (PoolingLayer etc.)
def caffe_pool(x, kind, k, s, p):
    n, c, h, w = x.shape
    ph = int(math.ceil((h + 2 * p - k) / s)) + 1
    pw = int(math.ceil((w + 2 * p - k) / s)) + 1
    if p:
        if (ph - 1) * s >= h + p:
            ph -= 1
        if (pw - 1) * s >= w + p:
            pw -= 1
    out = np.zeros((n, c, ph, pw), np.float64)
    for i in range(ph):
        for j in range(pw):
            hs, ws = i * s - p, j * s - p
            he, we = min(hs + k, h + p), min(ws + k, w + p)
            size = (he - hs) * (we - ws)
            win = x[:, :, max(hs, 0):min(he, h), max(ws, 0):min(we, w)]
            out[:, :, i, j] = win.max(axis=(2, 3)) if kind == "MAX" else win.sum(axis=(2, 3)) / size
    return out


def caffe_lrn(x, size, alpha, beta, k, region):
    n, c, h, w = x.shape
    pre = (size - 1) // 2
    sq = x.astype(np.float64) ** 2
    if region == "ACROSS_CHANNELS":
        scale = np.empty_like(sq)
        for ch in range(c):
            lo, hi = max(ch - pre, 0), min(ch - pre + size, c)
            scale[:, ch] = k + alpha / size * sq[:, lo:hi].sum(axis=1)
        return x / scale ** beta
    padded = np.pad(sq, ((0, 0), (0, 0), (pre, pre), (pre, pre)))
    avg = np.zeros_like(sq)
    for i in range(h):
        for j in range(w):
            avg[:, :, i, j] = padded[:, :, i:i + size, j:j + size].sum(axis=(2, 3)) / (size * size)
    return x * (1 + alpha * avg) ** -beta


def caffe_deconv(x, wt, b, s, p):
    n, cin, h, w = x.shape
    _, cout, k, _ = wt.shape
    full = np.zeros((n, cout, (h - 1) * s + k, (w - 1) * s + k))
    for i in range(h):
        for j in range(w):
            full[:, :, i * s:i * s + k, j * s:j * s + k] += np.einsum("nc,cokl->nokl", x[:, :, i, j], wt)
    out = full[:, :, p:full.shape[2] - p, p:full.shape[3] - p]
    return out + b.reshape(1, -1, 1, 1)


# ------------------------------------------------------------------ pooling, LRN, deconvolution, BN
@pytest.mark.parametrize("h,k,s,p", [(7, 2, 2, 0), (6, 3, 2, 1), (7, 3, 2, 1), (5, 3, 3, 2), (8, 3, 2, 0),
                                     (13, 3, 2, 0)])
@pytest.mark.parametrize("kind", ["MAX", "AVE"])
def test_pooling_matches_caffe_loops(tmp_path, h, k, s, p, kind):
    text = input_layer((2, 3, h, h)) + (
        f'layer {{ name: "pool" type: "Pooling" bottom: "data" top: "pool" '
        f'pooling_param {{ pool: {kind} kernel_size: {k} stride: {s} pad: {p} }} }}')
    proto, _ = write(tmp_path, text)
    network = load_caffe(proto)
    x = np.random.default_rng(h * 10 + k).normal(size=(2, 3, h, h)).astype(np.float32)
    ref = caffe_pool(x.astype(np.float64), kind, k, s, p)
    assert network.shape("pool") == ref.shape[1:]
    np.testing.assert_allclose(run_float(network, x)["pool"], ref, rtol=1e-6, atol=1e-6)
    spec = network.layer("pool")
    assert isinstance(spec, Pool) and spec.ceil_mode and spec.count_include_pad


def test_global_pooling(tmp_path):
    text = input_layer((1, 4, 5, 3)) + (
        'layer { name: "gp" type: "Pooling" bottom: "data" top: "gp" '
        'pooling_param { pool: AVE global_pooling: true } }')
    network = load_caffe(write(tmp_path, text)[0])
    x = np.random.default_rng(0).normal(size=(2, 4, 5, 3)).astype(np.float32)
    assert network.shape("gp") == (4, 1, 1)
    np.testing.assert_allclose(run_float(network, x)["gp"][:, :, 0, 0], x.mean(axis=(2, 3)), rtol=1e-5)


@pytest.mark.parametrize("region,size,k", [("ACROSS_CHANNELS", 5, 2.0), ("ACROSS_CHANNELS", 3, 1.0),
                                           ("WITHIN_CHANNEL", 3, 1.0), ("WITHIN_CHANNEL", 5, 7.0)])
def test_lrn_matches_caffe(tmp_path, region, size, k):
    text = input_layer((1, 6, 5, 5)) + (
        f'layer {{ name: "norm" type: "LRN" bottom: "data" top: "norm" lrn_param {{ local_size: {size} '
        f'alpha: 0.3 beta: 0.75 k: {k} norm_region: {region} }} }}')
    network = load_caffe(write(tmp_path, text)[0])
    x = np.random.default_rng(size).normal(size=(2, 6, 5, 5)).astype(np.float32) * 2
    ref = caffe_lrn(x.astype(np.float64), size, 0.3, 0.75, k, region)  # WITHIN_CHANNEL ignores k, as Caffe
    np.testing.assert_allclose(run_float(network, x)["norm"], ref, rtol=2e-5, atol=1e-6)


def test_deconvolution_and_weights_from_caffemodel(tmp_path):
    rng = np.random.default_rng(3)
    wt = rng.normal(size=(3, 2, 4, 4)).astype(np.float32)
    b = rng.normal(size=2).astype(np.float32)
    text = input_layer((1, 3, 4, 4)) + (
        'layer { name: "up" type: "Deconvolution" bottom: "data" top: "up" '
        'convolution_param { num_output: 2 kernel_size: 4 stride: 2 pad: 1 } }')
    weights = enc.net("n", enc.layer("up", "Deconvolution", blobs=[enc.blob(wt, shape=wt.shape),
                                                                     enc.blob(b, shape=b.shape)]))
    network = load_caffe(*write(tmp_path, text, weights))
    assert isinstance(network.layer("up"), ConvTranspose) and network.shape("up") == (2, 8, 8)
    x = rng.normal(size=(2, 3, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(run_float(network, x)["up"], caffe_deconv(x, wt, b, 2, 1), rtol=1e-5,
                               atol=1e-5)


def test_batchnorm_divides_by_the_third_blob_then_scale(tmp_path):
    rng = np.random.default_rng(4)
    mean, var = rng.normal(size=3), rng.uniform(0.5, 2, size=3)
    factor = 999.5
    gamma, beta = rng.normal(size=3), rng.normal(size=3)
    text = input_layer((1, 3, 2, 2)) + (
        'layer { name: "bn" type: "BatchNorm" bottom: "data" top: "data" batch_norm_param { eps: 0.001 } }\n'
        'layer { name: "sc" type: "Scale" bottom: "data" top: "data" scale_param { bias_term: true } }')
    weights = enc.net("n",
                      enc.layer("bn", "BatchNorm", blobs=[enc.blob(mean * factor, shape=(3,)),
                                                         enc.blob(var * factor, shape=(3,)),
                                                         enc.blob([factor], shape=(1,))]),
                      enc.layer("sc", "Scale", blobs=[enc.blob(gamma, shape=(3,)), enc.blob(beta,
                                                                                            shape=(3,))]))
    model = load_caffe_model(*write(tmp_path, text, weights))
    network = model.network
    assert [type(lay) for lay in network.layers] == [Scale, Scale]
    assert network.outputs == ("sc",) and network.source_names == {"bn": "data", "sc": "data"}
    assert [(r.layer, r.before, r.after) for r in model.inplace] == [("bn", "data", "bn"), ("sc", "bn", "sc")]
    x = rng.normal(size=(2, 3, 2, 2)).astype(np.float32)
    ref = ((x - mean.reshape(1, 3, 1, 1)) / np.sqrt(var.reshape(1, 3, 1, 1) + 0.001)
           * gamma.reshape(1, 3, 1, 1) + beta.reshape(1, 3, 1, 1))
    np.testing.assert_allclose(run_float(network, x)["sc"], ref, rtol=1e-4, atol=1e-5)


def test_eltwise_concat_split_and_inplace_chain(tmp_path):
    rng = np.random.default_rng(5)
    w = rng.normal(size=(4, 2, 1, 1)).astype(np.float32)
    text = input_layer((1, 2, 3, 3)) + """
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
            convolution_param { num_output: 4 kernel_size: 1 bias_term: false } }
    layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" relu_param { negative_slope: 0.1 } } layer {
    name: "drop" type: "Dropout" bottom: "conv" top: "conv" dropout_param { dropout_ratio: 0.3 } } layer {
    name: "split" type: "Split" bottom: "conv" top: "a" top: "b" }
    layer { name: "sum" type: "Eltwise" bottom: "a" bottom: "b" top: "sum" eltwise_param { coeff: 2 coeff:
    -0.5 } } layer { name: "prod" type: "Eltwise" bottom: "a" bottom: "sum" top: "prod" eltwise_param {
    operation: PROD } } layer { name: "max" type: "Eltwise" bottom: "a" bottom: "prod" top: "max"
    eltwise_param { operation: MAX } } layer { name: "cat" type: "Concat" bottom: "sum" bottom: "max" top:
    "cat" }
    layer { name: "flat" type: "Flatten" bottom: "cat" top: "flat" }
    layer { name: "prob" type: "Softmax" bottom: "flat" top: "prob" }
    """
    weights = enc.net("n", enc.layer("conv", "Convolution", blobs=[enc.blob(w, shape=w.shape)]))
    model = load_caffe_model(*write(tmp_path, text, weights))
    net = model.network
    assert [lay.name for lay in net.layers] == ["conv", "relu", "sum", "prod", "max", "cat", "flat", "prob"]
    assert net.layer("sum").inputs == ("relu", "relu")  # Dropout and Split alias, no layer
    assert model.aliases == {"a": "relu", "b": "relu"}
    assert [(r.layer, r.before, r.after, r.ratio) for r in model.inplace] == [
        ("relu", "conv", "relu", None), ("drop", "relu", "relu", 0.3)]
    assert net.outputs == ("prob",) and net.shape("cat") == (8, 3, 3) and net.shape("flat") == (72,)
    x = rng.normal(size=(2, 2, 3, 3)).astype(np.float32)
    c = np.einsum("oi,nihw->nohw", w[:, :, 0, 0], x)
    r = np.where(c > 0, c, 0.1 * c)
    s = 2 * r - 0.5 * r
    m = np.maximum(r, r * s)
    flat = np.concatenate([s, m], axis=1).reshape(2, -1)
    e = np.exp(flat - flat.max(axis=1, keepdims=True))
    np.testing.assert_allclose(run_float(net, x)["prob"], e / e.sum(axis=1, keepdims=True), rtol=1e-4,
                               atol=1e-7)


def test_v1_prototxt_and_caffemodel_with_legacy_dims(tmp_path):
    rng = np.random.default_rng(6)
    w = rng.normal(size=(5, 12)).astype(np.float32)
    b = rng.normal(size=5).astype(np.float32)
    text = """name: "old"
    input: "data"
    input_dim: 1 input_dim: 3 input_dim: 2 input_dim: 2
    layers { name: "ip" type: INNER_PRODUCT bottom: "data" top: "ip" inner_product_param { num_output: 5 } }
    layers { name: "relu" type: RELU bottom: "ip" top: "ip" }
    """
    v1_layer = enc.ld(2, enc.string(4, "ip") + enc.vint(5, 14) + enc.ld(6, enc.blob(w, legacy=(1, 1, 5, 12)))
                      + enc.ld(6, enc.blob(b, legacy=(1, 1, 1, 5), packed=False)))
    network = load_caffe(*write(tmp_path, text, enc.string(1, "old") + v1_layer))
    assert network.name == "old" and network.input.shape == (3, 2, 2) and network.outputs == ("relu",)
    assert isinstance(network.layer("ip"), Dense)
    x = rng.normal(size=(4, 3, 2, 2)).astype(np.float32)
    np.testing.assert_allclose(run_float(network, x)["relu"], np.maximum(x.reshape(4, -1) @ w.T + b, 0),
                               rtol=1e-5, atol=1e-6)


def test_phase_stage_and_level_rules(tmp_path):
    text = input_layer((1, 1, 4, 4)) + """
    layer { name: "p_test" type: "Pooling" bottom: "data" top: "p" include { phase: TEST }
            pooling_param { kernel_size: 2 stride: 2 } }
    layer { name: "p_train" type: "Pooling" bottom: "data" top: "p" include { phase: TRAIN }
            pooling_param { kernel_size: 4 } }
    layer { name: "deep" type: "Pooling" bottom: "p" top: "q" include { stage: "deep" min_level: 1 }
            pooling_param { kernel_size: 1 } }
    layer { name: "not_fast" type: "ReLU" bottom: "p" top: "r" exclude { stage: "fast" } }
    """
    proto, _ = write(tmp_path, text)
    assert [lay.name for lay in load_caffe(proto).layers] == ["p_test", "not_fast"]
    assert [lay.name for lay in load_caffe(proto, phase="TRAIN").layers] == ["p_train", "not_fast"]
    assert [lay.name for lay in load_caffe(proto, stages=["deep"], level=1).layers] == ["p_test", "deep",
                                                                                       "not_fast"]
    assert [lay.name for lay in load_caffe(proto, stages=["deep", "fast"]).layers] == ["p_test"]


def test_ristretto_layer_types_and_precisions(tmp_path):
    rng = np.random.default_rng(7)
    text = input_layer((1, 2, 4, 4)) + """
    layer { name: "c" type: "ConvolutionRistretto" bottom: "data" top: "c"
            convolution_param { num_output: 2 kernel_size: 1 }
            quantization_param { precision: MINIFLOAT mant_bits: 3 exp_bits: 4 rounding_scheme: STOCHASTIC } }
    layer { name: "n" type: "LRNRistretto" bottom: "c" top: "n" lrn_param { local_size: 3 }
            quantization_param { precision: MINIFLOAT mant_bits: 10 exp_bits: 5 } }
    layer { name: "d" type: "DeconvolutionRistretto" bottom: "n" top: "d" convolution_param { num_output: 2
            kernel_size: 2 stride: 2 } quantization_param { precision: INTEGER_POWER_OF_2_WEIGHTS bw_layer_in:
            8 fl_layer_in: 4 bw_layer_out: 8 fl_layer_out: 2 exp_min: -6 exp_max: 0 } }
    layer { name: "f" type: "FcRistretto" bottom: "d" top: "f" inner_product_param { num_output: 3 } }
    """
    blobs = {"c": [(2, 2, 1, 1), (2,)], "d": [(2, 2, 2, 2), (2,)], "f": [(3, 128), (3,)]}
    weights = enc.net("n", *[enc.layer(name, "x", blobs=[enc.blob(rng.normal(size=s),
                                                                  shape=s) for s in shapes])
                             for name, shapes in blobs.items()])
    model = load_caffe_model(*write(tmp_path, text, weights))
    assert list(model.quantization) == ["c", "n", "d", "f"]
    assert isinstance(model.network.layer("c"), Conv)
    mf = Minifloat(4, 3, subnormals=False, specials="none")
    qc = model.quantization["c"]
    assert qc.precision == "MINIFLOAT" and qc.rounding is Rounding.STOCHASTIC
    assert qc.formats() == {"inputs": mf, "weights": mf, "bias": mf, "outputs": mf}
    qn = model.quantization["n"]
    assert set(qn.formats()) == {"inputs", "outputs", "internal"} and qn.internal.man_bits == 10
    qd = model.quantization["d"]
    assert qd.weights == PowerOfTwo(-6, 0, has_zero=False) and qd.bias is None
    assert (qd.inputs, qd.outputs) == (FixedPoint(8, 4), FixedPoint(8, 2))
    qf = model.quantization["f"]  # no quantization_param: Ristretto's defaults, Q16.16 in 32 bits
    assert qf.formats() == {role: FixedPoint(32, 16) for role in ("inputs", "weights", "bias", "outputs")}
    assert qf.rounding is Rounding.NEAREST_EVEN and qf.explicit == ()


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("body,match", [
    ('layer { name: "odd" type: "Crop" bottom: "data" top: "x" }',
     r"layer 'odd' \(Crop, line 2\).*not supported"),
    ('layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 2 '
     'kernel_size: 1 } }', "has no trained weights"),
    ('layer { name: "r" type: "ReLU" bottom: "nope" top: "r" }', "bottom 'nope' is not produced"),
    ('layer { name: "p" type: "Pooling" bottom: "data" top: "p" pooling_param { pool: STOCHASTIC '
     'kernel_size: 2 } }', "STOCHASTIC is not supported"),
    ('layer { name: "n" type: "LRNRistretto" bottom: "data" top: "n" }', "LRNRistretto supports only"),
    ('layer { name: "n" type: "LRN" bottom: "data" top: "n" lrn_param { local_size: 4 } }', "must be odd"),
    ('layer { name: "p" type: "Pooling" bottom: "data" top: "p" pooling_param { kernel_size: 2 pad: 2 } }',
     "smaller than the kernel"),
    ('layer { name: "a" type: "ReLU" bottom: "data" top: "a" }\nlayer { name: "a" type: "ReLU" bottom: "a" '
     'top: "b" }', "used twice"),
])
def test_errors_name_file_and_layer(tmp_path, body, match):
    proto, _ = write(tmp_path, input_layer((1, 2, 4, 4)) + body)
    with pytest.raises(ModelError, match=match) as exc:
        load_caffe(proto)
    assert str(proto) in str(exc.value)


def test_every_supported_layer_type_has_one_handler():
    """The dispatch table covers the layer types the importer has always read, and the error lists them."""
    from ristretto_sim.io.caffe.importer import SUPPORTED_TYPES

    assert set(SUPPORTED_TYPES) == {
        "Convolution", "ConvolutionRistretto", "Deconvolution", "DeconvolutionRistretto", "InnerProduct",
        "FcRistretto", "LRN", "LRNRistretto", "Data", "Input", "MemoryData", "ImageData", "DummyData", "HDF5Data",
        "WindowData", "Accuracy", "SoftmaxWithLoss", "EuclideanLoss", "SigmoidCrossEntropyLoss", "HingeLoss",
        "MultinomialLogisticLoss", "InfogainLoss", "ContrastiveLoss", "Silence", "Split", "Dropout", "Pooling",
        "ReLU", "Sigmoid", "TanH", "Concat", "Eltwise", "Flatten", "Softmax", "BatchNorm", "Scale", "Bias",
        "PReLU", "Power", "Reshape"}
    assert list(SUPPORTED_TYPES) == sorted(SUPPORTED_TYPES)


def test_file_level_errors(tmp_path):
    with pytest.raises(ModelError, match="cannot read"):
        load_caffe(tmp_path / "missing.prototxt")
    proto, model = write(tmp_path, input_layer((1, 1, 2, 2)) + "layer {", b"\x0a\x05ab")
    with pytest.raises(ModelError, match=r"net.prototxt: line 2: unexpected end of file"):
        load_caffe(proto)
    proto.write_text(input_layer((1, 1, 2, 2)))
    with pytest.raises(ModelError, match=r"net.caffemodel: not a binary Caffe NetParameter"):
        load_caffe(proto, model)
    proto.write_text('layer { name: "d" type: "Data" top: "data" top: "label" '
                     'data_param { source: "x_lmdb" } }'
                     '\nlayer { name: "r" type: "ReLU" bottom: "label" top: "r" }')
    with pytest.raises(ModelError, match="does not say its image size"):
        load_caffe(proto)
    with pytest.raises(ModelError, match="label top"):
        load_caffe(proto, input_shape=(1, 2, 2))
    with pytest.raises(ModelError, match="binary data; is it a .caffemodel"):
        load_caffe(model)


# ------------------------------------------------------------------ real files
@pytest.mark.skipif(not SQUEEZE.is_file(), reason="../shared/data/ristretto not present")
def test_squeezenet_ristretto_prototxt_every_layer_and_its_quantization():
    model = load_caffe_model(SQUEEZE, structure_only=True)
    net = model.network
    assert not model.weights_loaded
    assert net.input.shape == (3, 227, 227)
    assert net.preprocess.mean == (104.0, 117.0, 123.0) and net.preprocess.crop_size == 227
    assert len(net.layers) == 64  # 70 layers - 2 Data - Dropout - loss - 2 Accuracy
    assert net.outputs == ("pool10",) and net.shape("pool10") == (1000, 1, 1)
    assert net.shape("pool1") == (96, 55, 55)  # Caffe ceil mode: ceil((111 - 3) / 2) + 1
    assert [(h.layer, h.top_k) for h in model.heads] == [("accuracy", 1), ("accuracy_top5", 5)]
    assert len(model.quantization) == 26
    quants = model.quantization.values()
    assert all(q.precision == "DYNAMIC_FIXED_POINT" and q.weights.bits == 8 for q in quants)
    table = {  # reference ristretto.md §1.6
        "conv1": (0, -3, 7), "fire2/squeeze1x1": (-3, -4, 7), "fire8/squeeze1x1": (-3, -2, 6),
        "fire9/expand1x1": (-3, -2, 7), "fire9/expand3x3": (-3, -2, 7), "conv10": (-3, -3, 8),
    }
    for name, (fl_in, fl_out, fl_params) in table.items():
        q = model.quantization[name]
        assert (q.inputs, q.outputs, q.weights) == (FixedPoint(8, fl_in), FixedPoint(8, fl_out),
                                                    FixedPoint(8, fl_params)), name
        assert q.bias == q.weights
    # in-place: relu_conv10 rewrote conv10; drop9 (dropped) wrote fire9/concat in place, conv10 reads it
    relu10 = next(r for r in model.inplace if r.layer == "relu_conv10")
    assert (relu10.blob, relu10.before, relu10.after) == ("conv10", "conv10", "relu_conv10")
    drop9 = next(r for r in model.inplace if r.layer == "drop9")
    assert drop9.before == drop9.after == "fire9/concat" and drop9.ratio == 0.5
    assert net.layer("conv10").inputs == ("fire9/concat",)
    assert net.source_names["relu_conv10"] == "conv10"
    assert len(model.inplace) == 27  # 26 ReLUs + drop9
    train = load_caffe_model(SQUEEZE, structure_only=True, phase="TRAIN")
    assert [h.layer for h in train.heads] == ["loss"] and len(train.network.layers) == 64


@pytest.mark.skipif(not (LENET / "lenet_iter_10000.caffemodel").is_file(),
                    reason="../shared/data/caffe-lenet absent")
def test_caffe_lenet_structure_and_deploy_agree():
    weights = LENET / "lenet_iter_10000.caffemodel"
    model = load_caffe_model(LENET / "lenet_train_test.prototxt", weights)
    net = model.network
    assert [lay.name for lay in net.layers] == ["conv1", "pool1", "conv2", "pool2", "ip1", "relu1", "ip2"]
    assert net.preprocess.scale == 0.00390625 and net.input.shape == (1, 28, 28)
    assert net.outputs == ("ip2",) and net.total_macs == 2293000
    assert [(r.layer, r.blob, r.after) for r in model.inplace] == [("relu1", "ip1", "relu1")]
    deploy = load_caffe(LENET / "lenet.prototxt", weights)
    assert deploy.outputs == ("prob",) and deploy.preprocess is None
    x = np.random.default_rng(8).uniform(0, 1, size=(16, 1, 28, 28)).astype(np.float32)
    logits = run_float(net, x)["ip2"]
    prob = run_float(deploy, x)["prob"]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(prob, e / e.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-7)


NEED_MNIST = pytest.mark.skipif(
    not (LENET / "lenet_iter_10000.caffemodel").is_file() or not (SHARED / "mnist").is_dir(),
    reason="../shared/data/caffe-lenet or ../shared/data/mnist absent")


def lenet_correct(limit=None) -> int:
    from ristretto_sim.data import load_idx

    net = load_caffe(LENET / "lenet_train_test.prototxt", LENET / "lenet_iter_10000.caffemodel")
    data = load_idx(SHARED / "mnist").take(limit)
    correct = 0
    for images, labels in data.batches(1000):
        correct += int((run_float(net, net.preprocess(images))["ip2"].argmax(axis=1) == labels).sum())
    return correct


@NEED_MNIST
def test_caffe_lenet_on_the_first_1000_mnist_test_images():
    assert abs(lenet_correct(1000) - 989) <= 1  # measured: 989 / 1000 (pixel/256, the prototxt's transform)


@NEED_MNIST
@pytest.mark.slow
def test_caffe_lenet_scores_99_percent_on_the_mnist_test_set():
    # measured: 9904 / 10000 = 99.04 % top-1 (pixel/256, the prototxt's transform_param)
    assert abs(lenet_correct() - 9904) <= 2


@pytest.mark.skipif(not SQUEEZE.is_file(), reason="../shared/data/ristretto not present")
def test_squeezenet_quantization_as_a_quant_plan():
    model = load_caffe_model(SQUEEZE, structure_only=True)
    plan = model.quant_plan()
    assert plan.mode.value == "ristretto" and list(plan.layers) == list(model.quantization)
    entry = plan.layers["conv10"]
    assert (entry.inputs, entry.weights, entry.bias, entry.outputs) == (
        FixedPoint(8, -3), FixedPoint(8, 8), FixedPoint(8, 8), FixedPoint(8, -3))
    assert entry.rounding is Rounding.NEAREST_EVEN and entry.accumulator is None
    assert QuantPlan.from_yaml(plan.to_yaml(), model.network) == plan


def test_data_layer_transform_param_mean_file_and_crop(tmp_path):
    mean_image = np.arange(3 * 6 * 6, dtype=np.float32).reshape(1, 3, 6, 6)
    (tmp_path / "mean.binaryproto").write_bytes(enc.blob(mean_image, legacy=(1, 3, 6, 6)))
    text = """
    layer { name: "d" type: "Data" top: "data" top: "label" include { phase: TEST }
            transform_param { scale: 0.5 crop_size: 4 mean_file: "mean.binaryproto" }
            data_param { source: "val_lmdb" batch_size: 10 } }
    layer { name: "r" type: "ReLU" bottom: "data" top: "r" }
    layer { name: "acc" type: "Accuracy" bottom: "r" bottom: "label" top: "acc"
            accuracy_param { top_k: 5 } }
    """
    model = load_caffe_model(write(tmp_path, text)[0])
    net = model.network
    assert net.input.shape == (3, 4, 4) and net.outputs == ("r",)
    assert [(h.layer, h.top_k) for h in model.heads] == [("acc", 5)]
    pixels = np.full((1, 3, 6, 6), 200, np.uint8)
    expected = (200 - mean_image[:, :, 1:5, 1:5]) * 0.5  # mean subtracted, scaled, centre crop
    np.testing.assert_array_equal(net.preprocess(pixels), expected)
    text2 = text.replace("crop_size: 4 mean_file: \"mean.binaryproto\"",
                         "crop_size: 5 mean_value: 1 mean_value: 2")
    (tmp_path / "b").mkdir()
    net2 = load_caffe(write(tmp_path / "b", text2)[0], input_shape=(2, 7, 7))
    assert net2.input.shape == (2, 5, 5) and net2.preprocess.mean == (1.0, 2.0)
    with pytest.raises(ModelError, match="mean_file 'nope.binaryproto' not found"):
        load_caffe(write(tmp_path / "b", text.replace("mean.binaryproto", "nope.binaryproto"))[0])


@pytest.mark.parametrize("data_layer,shape", [
    ('type: "MemoryData" memory_data_param { batch_size: 4 channels: 2 height: 5 width: 6 }', (2, 5, 6)),
    ('type: "ImageData" image_data_param { source: "list.txt" new_height: 9 new_width: 7 }', (3, 9, 7)),
    ('type: "ImageData" image_data_param { source: "l.txt" new_height: 9 new_width: 7 is_color: false }',
     (1, 9, 7)),
    ('type: "Data" data_param { source: "examples/cifar10/cifar10_test_lmdb" }', (3, 32, 32)),
])
def test_data_layer_shapes(tmp_path, data_layer, shape):
    text = (f'layer {{ name: "d" {data_layer} top: "data" top: "label" }}\n'
            'layer { name: "r" type: "ReLU" bottom: "data" top: "r" }')
    assert load_caffe(write(tmp_path, text)[0]).input.shape == shape


def test_data_sources_per_phase_and_the_mirror(tmp_path):
    from ristretto_sim.io.caffe.importer import data_sources

    text = """
    layer { name: "train" type: "Data" top: "data" top: "label" include { phase: TRAIN }
            transform_param { scale: 0.5 crop_size: 4 mirror: true }
            data_param { source: "train_lmdb" batch_size: 32 backend: LMDB } }
    layer { name: "val" type: "Data" top: "data" top: "label" include { phase: TEST }
            transform_param { scale: 0.5 crop_size: 4 }
            data_param { source: "val_lmdb" batch_size: 10 } }
    layer { name: "r" type: "ReLU" bottom: "data" top: "r" }
    """
    proto = write(tmp_path, text)[0]
    found = data_sources(proto)
    assert set(found) == {"TRAIN", "TEST"}
    train, test = found["TRAIN"], found["TEST"]
    assert (train.layer, train.type, train.source, train.backend, train.batch_size) == (
        "train", "Data", "train_lmdb", "LMDB", 32)
    assert (test.layer, test.source, test.backend, test.batch_size) == ("val", "val_lmdb", "LEVELDB", 10)  # default
    assert test.prototxt == str(proto) and test.phase == "TEST"
    model = load_caffe_model(proto, input_shape=(3, 6, 6))
    assert model.data_source == test and model.network.preprocess.mirror is False
    train_model = load_caffe_model(proto, phase="TRAIN", input_shape=(3, 6, 6))
    assert train_model.data_source == train and train_model.network.preprocess.mirror is True
    # the deprecated data_param.mirror counts too; Input layers have no source
    legacy = text.replace("crop_size: 4 }\n            data_param { source: \"val_lmdb\"",
                          "crop_size: 4 }\n            data_param { mirror: true source: \"val_lmdb\"")
    (tmp_path / "b").mkdir()
    assert load_caffe(write(tmp_path / "b", legacy)[0], input_shape=(3, 6, 6)).preprocess.mirror is True
    (tmp_path / "c").mkdir()
    deploy = write(tmp_path / "c", input_layer((1, 1, 4, 4)) + 'layer { name: "r" type: "ReLU" bottom: "data" '
                   'top: "r" }')[0]
    assert data_sources(deploy) == {} and load_caffe_model(deploy).data_source is None


@pytest.mark.skipif(not (LENET / "lenet_train_test.prototxt").is_file(), reason="../shared/data/caffe-lenet absent")
def test_caffe_lenet_data_sources():
    from ristretto_sim.io.caffe.importer import data_sources

    found = data_sources(LENET / "lenet_train_test.prototxt")
    assert {p: (s.source, s.backend, s.batch_size) for p, s in found.items()} == {
        "TRAIN": ("examples/mnist/mnist_train_lmdb", "LMDB", 64),
        "TEST": ("examples/mnist/mnist_test_lmdb", "LMDB", 100)}


# ------------------------------------------------------------------ PReLU, Bias, Power, Reshape
def test_prelu_bias_power_and_reshape_match_caffe(tmp_path):
    rng = np.random.default_rng(11)
    slope, shared, bias = rng.normal(size=3), rng.normal(size=1), rng.normal(size=3)
    text = input_layer((2, 3, 4, 4)) + (
        'layer { name: "pr" type: "PReLU" bottom: "data" top: "pr" }\n'
        'layer { name: "bi" type: "Bias" bottom: "pr" top: "pr" }\n'
        'layer { name: "pw" type: "Power" bottom: "pr" top: "pw" power_param { scale: 0.5 shift: -1.25 } }\n'
        'layer { name: "rs" type: "Reshape" bottom: "pw" top: "rs" reshape_param { shape { dim: 0 dim: -1 '
        'dim: 8 } } }\n'
        'layer { name: "ps" type: "PReLU" bottom: "rs" top: "ps" prelu_param { channel_shared: true } }\n'
        'layer { name: "r2" type: "Reshape" bottom: "ps" top: "r2" reshape_param { axis: 1 shape { dim: 2 '
        'dim: -1 } } }\n')
    weights = enc.net("n", enc.layer("pr", "PReLU", blobs=[enc.blob(slope, shape=(3,))]),
                      enc.layer("bi", "Bias", blobs=[enc.blob(bias, shape=(3,))]),
                      enc.layer("ps", "PReLU", blobs=[enc.blob(shared, shape=(1,))]))
    network = load_caffe(*write(tmp_path, text, weights))
    assert network.tensor_shapes["rs"] == (6, 8) and network.tensor_shapes["r2"] == (2, 24)
    x = rng.normal(size=(2, 3, 4, 4)).astype(np.float32)
    # Caffe's forward loops: PReLU max(x,0) + a_c min(x,0); Bias x + b_c; Power (shift + scale x)^1
    s32, b32 = slope.astype(np.float32).reshape(1, 3, 1, 1), bias.astype(np.float32).reshape(1, 3, 1, 1)
    y = np.maximum(x, 0) + s32 * np.minimum(x, 0)
    y = np.float32(0.5) * (y + b32) + np.float32(-1.25)
    y = y.reshape(2, 6, 8)
    y = np.maximum(y, 0) + shared.astype(np.float32)[0] * np.minimum(y, 0)
    out = run_float(network, x)["r2"]
    np.testing.assert_allclose(out, y.reshape(2, 2, 24), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("body,match", [
    ('layer { name: "pw" type: "Power" bottom: "data" top: "p" power_param { power: 2 } }',
     "power: 2 is not supported"),
    ('layer { name: "rs" type: "Reshape" bottom: "data" top: "r" reshape_param { shape { dim: -1 dim: 4 } } }',
     "would change the batch size"),
    ('layer { name: "rs" type: "Reshape" bottom: "data" top: "r" reshape_param { shape { dim: 0 dim: -1 '
     'dim: -1 } } }', "only one dim may be -1"),
    ('layer { name: "rs" type: "Reshape" bottom: "data" top: "r" reshape_param { shape { dim: 0 dim: 5 '
     'dim: -1 } } }', "cannot infer -1"),
    ('layer { name: "b" type: "Bias" bottom: "data" bottom: "data" top: "b" }', "second bottom"),
])
def test_prelu_bias_power_reshape_errors(tmp_path, body, match):
    proto, _ = write(tmp_path, input_layer((1, 2, 4, 4)) + body)
    with pytest.raises(ModelError, match=match):
        load_caffe(proto, structure_only=True)
