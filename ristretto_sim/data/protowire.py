"""Protobuf wire-format primitives, message-agnostic: varints, length-delimited fields, runs of fixed-size values.

The wire format is a sequence of (tag, value) pairs, ``tag = field_number << 3 | wire_type``: 0 varint, 1
fixed64, 2 length-delimited (strings, bytes, sub-messages, packed repeated scalars), 5 fixed32. These helpers
serve both the Caffe ``NetParameter`` decoder (``io.caffe.wire``) and the ``Datum`` records of LMDB sources
(``data.lmdb_source``); they live here, in the lowest layer that reads protobuf, so neither duplicates them.
"""

from __future__ import annotations

import numpy as np


class WireError(ValueError):
    """Malformed protobuf bytes; the message names the byte offset and the field being read."""


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Decode the varint at ``buf[pos]``; returns ``(value, position after it)`` (``WireError`` if truncated)."""
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise WireError(f"truncated varint at byte {pos}")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError(f"varint longer than 10 bytes at byte {pos}")


def encode_varint(value: int) -> bytes:
    """The varint encoding of ``value`` (negative values as their 64-bit two's complement, as int32/int64 do)."""
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def length_field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2): tag, length, payload."""
    return encode_varint(number << 3 | 2) + encode_varint(len(payload)) + payload


def varint_field(number: int, value: int) -> bytes:
    """A varint field (wire type 0): tag and value."""
    return encode_varint(number << 3) + encode_varint(int(value))


def unpacked_run(buf: bytes, pos: int, end: int, tag_bytes: bytes, dtype: str,
                 size: int) -> tuple[np.ndarray, int]:
    """Decode a run of consecutive ``tag value`` pairs of one unpacked repeated fixed-size field with NumPy.

    The first value starts at ``pos`` (its tag ``tag_bytes`` already read); the run continues while the same
    tag follows. Returns ``(values, position after the run)``.
    """
    stride = len(tag_bytes) + size
    first = np.frombuffer(buf, dtype=dtype, count=1, offset=pos)
    pos += size
    n_max = (end - pos) // stride
    if n_max == 0:
        return first, pos
    view = np.frombuffer(buf, dtype=np.uint8, count=n_max * stride, offset=pos).reshape(n_max, stride)
    tag = np.frombuffer(tag_bytes, dtype=np.uint8)
    ok = np.all(view[:, :len(tag_bytes)] == tag, axis=1)
    n = int(n_max if ok.all() else np.argmin(ok))
    if n == 0:
        return first, pos
    rest = np.ascontiguousarray(view[:n, len(tag_bytes):]).view(dtype).ravel()
    return np.concatenate([first, rest]), pos + n * stride
