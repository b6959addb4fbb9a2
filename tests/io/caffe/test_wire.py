"""Protobuf wire decoding of Caffe NetParameter: hand-encoded messages (packed and unpacked floats, legacy
blob dims, V1 layers, unknown fields, negative int32) and the real LeNet caffemodel."""

import struct
from pathlib import Path

import numpy as np
import pytest

from ristretto_sim.io.caffe.wire import WireError, decode_message, decode_net

SHARED = Path(__file__).resolve().parents[4] / "shared" / "data"
LENET_WEIGHTS = SHARED / "caffe-lenet" / "lenet_iter_10000.caffemodel"


# ------------------------------------------------------------------ a tiny protobuf encoder for the tests
def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def key(field: int, wire: int) -> bytes:
    return varint(field << 3 | wire)


def ld(field: int, payload: bytes) -> bytes:
    return key(field, 2) + varint(len(payload)) + payload


def vint(field: int, value: int) -> bytes:
    return key(field, 0) + varint(value)


def string(field: int, s: str) -> bytes:
    return ld(field, s.encode())


def f32(field: int, value: float) -> bytes:
    return key(field, 5) + struct.pack("<f", value)


def blob(values, shape=None, legacy=None, packed=True) -> bytes:
    values = np.asarray(values, dtype=np.float32).ravel()
    out = b""
    if shape is not None:
        out += ld(7, ld(1, b"".join(varint(d) for d in shape)))  # BlobShape.dim, packed
    if legacy is not None:
        out += b"".join(vint(n, d) for n, d in zip((1, 2, 3, 4), legacy, strict=True))
    if packed:
        out += ld(5, values.astype("<f4").tobytes())
    else:
        out += b"".join(f32(5, float(v)) for v in values)
    return out


def layer(name: str, type_: str, bottoms=(), tops=(), blobs=(), extra=b"") -> bytes:
    body = string(1, name) + string(2, type_)
    body += b"".join(string(3, b) for b in bottoms) + b"".join(string(4, t) for t in tops)
    body += b"".join(ld(7, b) for b in blobs)
    return ld(100, body + extra)


def net(name: str, *layers: bytes) -> bytes:
    return string(1, name) + b"".join(layers)


# ------------------------------------------------------------------ tests
def test_packed_and_unpacked_floats_agree():
    values = np.linspace(-3, 3, 37, dtype=np.float32)
    for packed in (True, False):
        msg = decode_message(blob(values, shape=(37,), packed=packed), "BlobProto")
        np.testing.assert_array_equal(msg.array("data"), values)
        assert msg.sub("shape").all("dim") == [37]


def test_unpacked_run_followed_by_other_fields():
    values = np.arange(5, dtype=np.float32)
    data = blob(values, packed=False) + vint(1, 1) + vint(2, 5)  # then legacy num / channels
    msg = decode_message(data, "BlobProto")
    np.testing.assert_array_equal(msg.array("data"), values)
    assert (msg.get("num"), msg.get("channels"), msg.get("height")) == (1, 5, 0)


def test_layers_unknown_fields_negative_ints_and_enums():
    conv = ld(106, vint(1, 20) + vint(4, 5) + vint(2, 0))  # num_output 20, kernel 5, bias_term false
    quant = ld(148, vint(6, -3 & (2**64 - 1)) + vint(1, 1))  # fl_layer_in -3 (sign-extended), MINIFLOAT
    unknown = ld(999, b"\x01\x02") + key(998, 1) + b"\0" * 8 + key(997, 5) + b"\0" * 4 + vint(996, 7)
    data = net("n", layer("c", "ConvolutionRistretto", ["data"], ["c"], [blob([1, 2], shape=(2,))],
                          conv + quant + unknown))
    msg = decode_net(data)
    (lay,) = msg.all("layer")
    assert lay.get("name") == "c" and lay.all("bottom") == ["data"]
    cp = lay.sub("convolution_param")
    assert cp.get("num_output") == 20 and cp.all("kernel_size") == [5] and cp.get("bias_term") is False
    assert cp.get("group") == 1  # proto default
    q = lay.sub("quantization_param")
    assert q.get("fl_layer_in") == -3 and q.get("precision") == "MINIFLOAT" and q.get("bw_params") == 32


def test_v1_layers():
    v1 = ld(2, string(4, "ip") + vint(5, 14) + string(2, "x") + string(3, "ip")
            + ld(6, blob(np.ones(6), legacy=(1, 1, 2, 3))))
    msg = decode_net(v1)
    (lay,) = msg.all("layers")
    assert lay.get("type") == "INNER_PRODUCT" and lay.all("top") == ["ip"]
    (b,) = lay.all("blobs")
    assert (b.get("height"), b.get("width")) == (2, 3)


@pytest.mark.parametrize("data,match", [
    (b"\x0a\x05ab", "runs past the end"),
    (b"\x80", "truncated varint"),
    (b"\x0b", "groups"),
    (b"\x00\x01", "field number 0"),
    (ld(100, ld(7, key(5, 5) + b"\x00\x00")), "truncated fixed32"),
])
def test_malformed(data, match):
    with pytest.raises(WireError, match=match):
        decode_net(data)


def test_wire_type_mismatch():
    with pytest.raises(WireError, match="sent as a varint"):
        decode_net(vint(1, 3))  # NetParameter.name is a string


@pytest.mark.skipif(not LENET_WEIGHTS.is_file(), reason="../shared/data/caffe-lenet not present")
def test_real_lenet_caffemodel():
    msg = decode_net(LENET_WEIGHTS.read_bytes())
    assert msg.get("name") == "LeNet"
    layers = {lay.get("name"): lay for lay in msg.all("layer")}
    assert list(layers) == ["mnist", "conv1", "pool1", "conv2", "pool2", "ip1", "relu1", "ip2", "loss"]
    (w, b) = layers["ip1"].all("blobs")
    assert w.sub("shape").all("dim") == [500, 800] and w.array("data").size == 400000
    assert b.array("data").dtype == np.float32
    assert np.isfinite(w.array("data")).all() and 0 < np.abs(w.array("data")).max() < 10
