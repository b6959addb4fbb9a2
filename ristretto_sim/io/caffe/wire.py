"""Protobuf binary wire-format decoding of Caffe's ``NetParameter`` (a ``.caffemodel``), pure Python + NumPy.

The wire format is a sequence of (tag, value) pairs, ``tag = field_number << 3 | wire_type``: 0 varint, 1
fixed64, 2 length-delimited (strings, bytes, sub-messages, packed repeated scalars), 5 fixed32. Fields are
typed by ``schema.MESSAGES``; unknown fields are skipped by wire type, so newer or forked
``caffe.proto`` files still decode. Repeated numeric fields may be packed (one length-delimited run, the
proto3-style encoding Caffe uses for ``BlobProto.data``) or unpacked (one tag per element, as very old
caffemodels store floats); long unpacked float runs are decoded with NumPy, not per element.
"""

from __future__ import annotations

import numpy as np

from ristretto_sim.data.protowire import WireError
from ristretto_sim.data.protowire import read_varint as _varint
from ristretto_sim.data.protowire import unpacked_run as _unpacked_run
from ristretto_sim.io.caffe.schema import ENUMS, MESSAGES, Message

_SCALAR_PACKED = {"float": ("<f4", 4), "double": ("<f8", 8)}
_VARINT_TYPES = {"int32", "int64", "uint32", "uint64", "bool"}

__all__ = ["WireError", "decode_message", "decode_net"]


def _signed(value: int, bits: int = 64) -> int:
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


def _convert_varint(value: int, type_: str):
    if type_ == "bool":
        return bool(value)
    if type_ in ("int32", "int64"):
        return _signed(value)  # int32 negatives are sign-extended to 64 bits on the wire
    if type_.startswith("enum:"):
        table = ENUMS[type_[5:]]
        return table.get(_signed(value), _signed(value))
    return value


def _packed_varints(buf: bytes, start: int, end: int) -> list[int]:
    out = []
    pos = start
    while pos < end:
        v, pos = _varint(buf, pos)
        out.append(v)
    if pos != end:
        raise WireError(f"packed varints overrun their length at byte {start}")
    return out


def decode_message(buf: bytes, type_name: str, start: int = 0, end: int | None = None) -> Message:
    """Decode ``buf[start:end]`` as a message of type ``type_name`` (see ``schema.MESSAGES``).

    Raises
    ------
    WireError
        On truncated or malformed bytes, or a field whose wire type contradicts the schema.
    """
    end = len(buf) if end is None else end
    schema = MESSAGES.get(type_name, {})
    msg = Message(type_name)
    pos = start
    while pos < end:
        tag_start = pos
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise WireError(f"field number 0 at byte {tag_start} in {type_name}")
        field = schema.get(number)
        if wire == 0:
            value, pos = _varint(buf, pos)
            if field is not None:
                if field.type in _VARINT_TYPES or field.type.startswith("enum:"):
                    msg.add(field.name, _convert_varint(value, field.type))
                else:
                    raise WireError(f"{type_name}.{field.name} ({field.type}) sent as a varint at byte "
                                    f"{tag_start}")
        elif wire == 1 or wire == 5:
            size = 8 if wire == 1 else 4
            if pos + size > end:
                raise WireError(f"truncated fixed{size * 8} value at byte {pos} in {type_name}")
            if field is None:
                pos += size
            elif field.type in _SCALAR_PACKED and _SCALAR_PACKED[field.type][1] == size:
                dtype = _SCALAR_PACKED[field.type][0]
                if field.repeated:
                    values, pos = _unpacked_run(buf, pos, end, buf[tag_start:tag_start + (pos - tag_start)],
                                                dtype, size)
                    msg.add(field.name, values)
                else:
                    msg.add(field.name, float(np.frombuffer(buf, dtype=dtype, count=1, offset=pos)[0]))
                    pos += size
            else:
                raise WireError(f"{type_name}.{field.name} ({field.type}) sent as fixed{size * 8} at byte "
                                f"{tag_start}")
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > end:
                raise WireError(f"length {length} at byte {tag_start} runs past the end of {type_name} "
                                f"(byte {end})")
            stop = pos + length
            if field is not None:
                t = field.type
                if t == "string":
                    try:
                        msg.add(field.name, buf[pos:stop].decode("utf-8"))
                    except UnicodeDecodeError:
                        raise WireError(f"{type_name}.{field.name} at byte {pos} is not UTF-8") from None
                elif t == "bytes":
                    msg.add(field.name, bytes(buf[pos:stop]))
                elif t in _SCALAR_PACKED:
                    dtype, size = _SCALAR_PACKED[t]
                    if length % size:
                        raise WireError(f"packed {t} run of {length} bytes at byte {pos} in {type_name}")
                    msg.add(field.name, np.frombuffer(buf, dtype=dtype, count=length // size,
                                                      offset=pos).copy())
                elif t in _VARINT_TYPES or t.startswith("enum:"):
                    for v in _packed_varints(buf, pos, stop):
                        msg.add(field.name, _convert_varint(v, t))
                elif t in MESSAGES:
                    msg.add(field.name, decode_message(buf, t, pos, stop))
                else:
                    raise WireError(f"{type_name}.{field.name}: unsupported type {t}")
            pos = stop
        elif wire in (3, 4):
            raise WireError(f"protobuf groups (wire type {wire}) are not supported, at byte {tag_start}")
        else:
            raise WireError(f"invalid wire type {wire} at byte {tag_start} in {type_name}")
    if pos != end:
        raise WireError(f"{type_name} overruns its length (ends at byte {pos}, expected {end})")
    return msg


def decode_net(data: bytes) -> Message:
    """Decode a whole binary ``NetParameter`` (the contents of a ``.caffemodel``)."""
    return decode_message(memoryview(data).tobytes() if not isinstance(data, bytes) else data, "NetParameter")
