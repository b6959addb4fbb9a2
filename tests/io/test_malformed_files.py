"""Each kind of malformed file the fuzz test found, made by hand from a real file: the loader raises the project's
error naming the file (and keeps the foreign exception that revealed the problem as the cause, where there is one)."""

from __future__ import annotations

import json
import struct

import numpy as np
import onnx
import pytest

from ristretto_sim import load_model, load_plan
from ristretto_sim.errors import ModelError, PlanError
from ristretto_sim.io.caffe.importer import load_caffe_model
from ristretto_sim.io.weights.packed import load_packed, pack_network
from tests.io.fuzz_corpus import REPO, SEEDS, SHARED

CIFAR = REPO / "models" / "cifar10_full_lrn" / "cifar10_full_lrn.onnx"
LENET_PROTO = SHARED / "caffe-lenet" / "lenet_train_test.prototxt"
CAFFEMODEL = SHARED / "caffe-lenet" / "lenet_iter_10000.caffemodel"


def _edited_cifar(tmp_path, edit):
    model = onnx.load(str(CIFAR))
    edit(model.graph)
    path = tmp_path / "edited.onnx"
    onnx.save(model, str(path))
    return path


def _node(graph, name):
    return next(n for n in graph.node if n.name == name)


def _attr(node, name):
    return next(a for a in node.attribute if a.name == name)


def _drop_attr(node, name):
    keep = [a for a in node.attribute if a.name != name]
    del node.attribute[:]
    node.attribute.extend(keep)


def _retype_strides(g):
    a = _attr(_node(g, "pool1"), "strides")
    a.type = onnx.AttributeProto.FLOAT


def _zero_strides(g):
    a = _attr(_node(g, "pool1"), "strides")
    a.ints[:] = [0, 0]


def _vector_weight(g):
    w = next(i for i in g.initializer if i.name == "ip1.weight")
    w.dims[:] = [5760]


def _no_output_name(g):
    _node(g, "relu2").output[0] = ""


@pytest.mark.parametrize(("edit", "message"), [
    (lambda g: g.initializer[1].dims.__setitem__(0, 31), "initializer 'conv1.weight' is malformed"),
    (lambda g: setattr(g.initializer[1], "data_type", 0), "initializer 'conv1.weight' is malformed"),
    (_retype_strides, "attribute 'strides' has attribute type 1, expected 7"),
    (lambda g: _drop_attr(_node(g, "norm1"), "size"), r"required attribute\(s\) size missing"),
    (lambda g: _attr(_node(g, "norm1"), "size").ClearField("type"), "attribute 'size' has attribute type 0"),
    (lambda g: _node(g, "conv2").input.__delitem__(slice(1, None)),
     "has 1 inputs and 1 outputs; Conv takes at least 2"),
    (_zero_strides, "must be positive"),
    (_vector_weight, r"weight B of shape \(5760,\) is not a matrix"),
    (_no_output_name, "a node's first output, has no name"),
])
def test_malformed_onnx_names_the_file(tmp_path, edit, message):
    path = _edited_cifar(tmp_path, edit)
    with pytest.raises(ModelError, match=message) as info:
        load_model(path)
    assert str(path) in str(info.value)


def test_onnx_name_that_is_not_utf8(tmp_path):
    data = CIFAR.read_bytes()
    assert data.count(b"norm1") >= 1
    path = tmp_path / "bad-name.onnx"
    path.write_bytes(data.replace(b"norm1", b"norm\xff"))
    with pytest.raises(ModelError, match="not UTF-8 text") as info:
        load_model(path)
    assert str(path) in str(info.value)


def test_onnx_decode_error_is_the_cause(tmp_path):
    path = tmp_path / "cut.onnx"
    path.write_bytes(CIFAR.read_bytes()[:1000])
    with pytest.raises(ModelError, match="not a readable ONNX model") as info:
        load_model(path)
    assert info.value.__cause__ is not None


def test_structure_only_prototxt_does_not_allocate_a_mistyped_size(tmp_path):
    path = tmp_path / "huge.prototxt"
    path.write_text(LENET_PROTO.read_text().replace("num_output: 500", "num_output: 4294967296"))
    with pytest.raises(ModelError, match=r"would hold 3,435,973,836,800 values") as info:
        load_caffe_model(path, structure_only=True)
    assert str(path) in str(info.value) and "'ip1'" in str(info.value)


def test_caffemodel_blob_mismatch_names_the_caffemodel(tmp_path):
    # the prototxt says conv1 has no bias: the caffemodel's second blob does not belong there
    text = LENET_PROTO.read_text()
    conv1 = text.index('name: "conv1"')
    at = text.index("convolution_param {", conv1) + len("convolution_param {")
    path = tmp_path / "nobias.prototxt"
    path.write_text(text[:at] + "\n    bias_term: false" + text[at:])
    with pytest.raises(ModelError, match=f"has 2 weight blobs in {CAFFEMODEL}, expected 1"):
        load_model(path, CAFFEMODEL)


def test_plan_that_is_not_utf8(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_bytes((SEEDS / "lenet_dfp8.yaml").read_bytes().replace(b"fixed8.7", b"fixed8\xff7"))
    with pytest.raises(PlanError, match="not a text plan file") as info:
        load_plan(path)
    assert str(path) in str(info.value) and isinstance(info.value.__cause__, UnicodeDecodeError)


def _packed(tmp_path, plan: str, edit_header=None, edit_payload=None):
    network = load_model("cifar10_full_lrn")
    data = bytearray(pack_network(network, load_plan(SEEDS / plan, network), rng=0).to_bytes())
    (hlen,) = struct.unpack_from("<I", data, 8)
    header = json.loads(data[12:12 + hlen])
    payload = data[12 + hlen:]
    if edit_header:
        edit_header(header)
    if edit_payload:
        edit_payload(header, payload)
    text = json.dumps(header).replace("Infinity", "1e400").encode()
    path = tmp_path / "edited.rsw"
    path.write_bytes(bytes(data[:8]) + struct.pack("<I", len(text)) + text + bytes(payload))
    return path


def _tensor(header, name):
    return next(t for t in header["tensors"] if f"{t['layer']}.{t['param']}" == name)


@pytest.mark.parametrize(("edit_header", "message"), [
    (lambda h: _tensor(h, "conv1.weight").update(bits=float("inf")), "tensor entry 0 is malformed"),
    (lambda h: _tensor(h, "conv1.weight").update(shape=[-32, -1, 5, 5]), "negative dimension"),
    (lambda h: _tensor(h, "conv1.weight").update(shape=[2**62, 4, 1, 1]), "do not hold 18446744073709551616"),
    (lambda h: h.update(tensors={"a": 1}), "'tensors' is dict, not a list"),
])
def test_malformed_packed_header(tmp_path, edit_header, message):
    path = _packed(tmp_path, "cifar_dfp8.yaml", edit_header=edit_header)
    with pytest.raises(ModelError, match=message) as info:
        load_packed(path)
    assert str(path) in str(info.value)


def test_packed_code_outside_its_format(tmp_path):
    def set_unused_magnitude(header, payload):
        t = _tensor(header, "conv3.weight")  # pow2[-8,-1]: 9 magnitudes in 5-bit codes, so 0b01111 is unused
        assert t["format"] == "pow2[-8,-1]" and t["bits"] == 5
        payload[t["offset"]] = (payload[t["offset"]] & 0xE0) | 0x0F

    path = _packed(tmp_path, "cifar_mixed.yaml", edit_payload=set_unused_magnitude)
    with pytest.raises(ModelError, match=r"conv3.weight: invalid codes for pow2\[-8,-1\]") as info:
        load_packed(path)
    assert str(path) in str(info.value)
    assert np.isfinite(load_packed(_packed(tmp_path, "cifar_mixed.yaml")).decode()["conv3"]["weight"]).all()
