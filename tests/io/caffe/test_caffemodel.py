"""Writing a caffemodel: our Caffe importer reads back the same weights, with or without a reference file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ristretto_sim import load_model
from ristretto_sim.io.caffe.caffemodel import blob_proto, caffemodel_bytes, save_caffemodel
from ristretto_sim.io.caffe.wire import decode_message

CAFFE = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "caffe-lenet"
needs_caffe = pytest.mark.skipif(not (CAFFE / "lenet_iter_10000.caffemodel").exists(),
                                 reason="shared Caffe LeNet not present")


def test_blob_proto_wire_format():
    data = blob_proto(np.array([[1.0, -2.0]], np.float32))
    msg = decode_message(data, "BlobProto")
    assert list(msg.get("shape").all("dim")) == [1, 2]
    assert np.array_equal(np.asarray(msg.all("data"), np.float32).ravel(), [1.0, -2.0])
    with pytest.raises(ValueError, match="does not hold"):
        blob_proto(np.zeros(3), (2, 2))


@needs_caffe
@pytest.mark.parametrize("use_reference", [True, False])
def test_caffe_lenet_round_trip(tmp_path, use_reference):
    ref = CAFFE / "lenet_iter_10000.caffemodel"
    net = load_model(CAFFE / "lenet.prototxt", ref)
    changed = {k: {p: (v * 1.5).astype(np.float32) for p, v in g.items()} for k, g in net.params.items()}
    net2 = net.replace(params=changed)
    n = save_caffemodel(net2, tmp_path / "w.caffemodel", reference=ref if use_reference else None)
    assert n == (tmp_path / "w.caffemodel").stat().st_size
    back = load_model(CAFFE / "lenet.prototxt", tmp_path / "w.caffemodel")
    for k, g in changed.items():
        for p, v in g.items():
            assert np.array_equal(back.params[k][p], v), (k, p)


def test_folded_networks_are_refused(tmp_path):
    from ristretto_sim.graph.network import Folding

    net = load_model("lenet")
    folded = net.replace(foldings=(Folding("bn1", "conv1"),))
    with pytest.raises(ValueError, match="bn1"):
        caffemodel_bytes(folded)
