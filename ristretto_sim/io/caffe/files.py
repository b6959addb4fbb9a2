"""Reading Caffe's files: a text prototxt and a binary caffemodel into ``NetParameter`` messages, a mean
``binaryproto`` into an image, and a ``BlobProto`` into an array (every error a ``ModelError`` naming the file)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ristretto_sim.errors import ModelError
from ristretto_sim.io.caffe.schema import Message
from ristretto_sim.io.caffe.text import TextFormatError, parse_text
from ristretto_sim.io.caffe.wire import WireError, decode_message, decode_net


def read_prototxt(path) -> Message:
    """Parse a ``.prototxt`` file into a ``NetParameter`` message (``ModelError`` naming file and line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the Caffe network ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise ModelError(f"{path}: not a text prototxt (binary data; is it a .caffemodel?)") from exc
    if any(ord(c) < 32 and c not in "\t\n\r\f\v" for c in text[:4096]):
        raise ModelError(f"{path}: not a text prototxt (binary data; is it a .caffemodel?)")
    try:
        return parse_text(text, "NetParameter")
    except TextFormatError as exc:
        raise ModelError(f"{path}: {exc}") from exc


def read_caffemodel(path) -> Message:
    """Decode a binary ``.caffemodel`` into a ``NetParameter`` message (``ModelError`` naming the file)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the Caffe weights ({exc.strerror or exc})") from exc
    try:
        net = decode_net(data)
    except WireError as exc:
        raise ModelError(f"{path}: not a binary Caffe NetParameter ({exc})") from exc
    if not net.all("layer") and not net.all("layers"):
        raise ModelError(f"{path}: the caffemodel holds no layers")
    return net


def read_mean_file(path) -> np.ndarray:
    """Read a Caffe ``mean.binaryproto`` (a ``BlobProto``) as a ``(C, H, W)`` float32 image."""
    path = Path(path)
    try:
        blob = decode_message(path.read_bytes(), "BlobProto")
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the mean file ({exc.strerror or exc})") from None
    except WireError as exc:
        raise ModelError(f"{path}: not a binary BlobProto mean file ({exc})") from None
    arr = blob_array(blob, f"mean file {path}")
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 3:
        raise ModelError(f"{path}: mean image has shape {arr.shape}, expected (1, C, H, W) or (C, H, W)")
    return arr.astype(np.float32)


def blob_shape(blob: Message) -> tuple[int, ...]:
    """Shape of a ``BlobProto``: its ``shape`` field, else the legacy (num, channels, height, width)."""
    if blob.has("shape"):
        return tuple(int(d) for d in blob.sub("shape").all("dim"))
    legacy = tuple(int(blob.get(k)) for k in ("num", "channels", "height", "width"))
    return legacy if any(legacy) else ()


def blob_array(blob: Message, what: str) -> np.ndarray:
    """A ``BlobProto``'s values as an array of its declared shape (float32 ``data`` or float64 "
      "``double_data``)."""
    data = blob.array("double_data") if blob.has("double_data") else blob.array("data")
    shape = blob_shape(blob)
    count = math.prod(shape) if shape else data.size
    if data.size != count:
        raise ModelError(f"{what}: blob declares shape {shape} ({count} values) but holds {data.size}")
    return data.reshape(shape) if shape else data

