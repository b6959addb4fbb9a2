"""The packed integer weights file (``.rsw``): every quantized weight and bias at its exact bit-width.

What Ristretto's users asked for (``reference/ristretto.md`` section 8): the integer codes a fixed-point accelerator
loads, in a small file, instead of float shadow weights. ``save_packed(path, tensors)`` writes the codes of
``io.weights.quantized.quantized_tensors(network, plan)``; ``load_packed(path)`` reads them back, and
``load_packed(path).decode()`` gives, bit for bit, the values the emulator computes with.

File layout (version 1; all multi-byte integers little-endian)::

    offset 0        8 bytes   magic  b"RSWPACK1"
    offset 8        4 bytes   H: length of the header, uint32
    offset 12       H bytes   header: a UTF-8 JSON object (below)
    offset 12 + H   P bytes   payload: the tensors' bitstreams, back to back, each starting on a byte boundary

The header::

    {"version": 1, "model": "lenet", "mode": "exact", "bit_order": "lsb-first", "byte_order": "little",
     "layout": "row-major", "payload_bytes": P,
     "tensors": [{"layer": "conv1", "param": "weight", "shape": [20, 1, 5, 5], "format": "fixed8.7",
                  "bits": 8, "code": "twos-complement", "offset": 0, "nbytes": 500}, ...]}

* ``format`` is the format's text form (``ristretto_sim.formats.parse_format`` reads it back; per-channel fixed
  point is ``fixed8.(7,6,...)``, fractions along axis 0), or ``float32`` for a bias kept in IEEE binary32.
* ``code`` says how to read a ``bits``-wide code: ``twos-complement`` (signed fixed point: the value is
  ``code * 2**-frac``; a signed affine format, int8 models: ``(code - zero_point) * scale``), or ``unsigned``: an
  unsigned fixed-point or affine integer, a minifloat bit pattern
  (``sign | exponent | mantissa``, sign in the MSB), a power-of-two code (``sign << (bits-1) | magnitude``:
  magnitude 0 is zero when the format has zero, magnitude ``k`` is ``2**(exp_min + k - has_zero)``), or a
  binary32 bit pattern.
* A tensor's ``n`` codes (row-major: OIHW for convolution weights, ``(C_in, C_out/groups, kH, kW)`` for transposed
  convolutions, ``(out, in)`` for dense layers) form a dense **LSB-first** bitstream: bit ``j`` of code ``i`` is
  stream bit ``i * bits + j``, and stream bit ``s`` is bit ``s % 8`` (the LSB is bit 0) of byte ``s // 8`` of the
  tensor. The last byte is zero-padded, so a tensor takes ``ceil(n * bits / 8)`` bytes. For 8, 16 and 32 bits
  this is exactly a little-endian int8/int16/int32 array. Widths 1 to 64 are supported.
* ``offset`` is the tensor's first byte within the payload.

Errors: a file that is not a packed weights file, or whose header does not match its payload, raises
``ModelError`` naming the file.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ristretto_sim.errors import FormatError, ModelError
from ristretto_sim.formats import parse_format
from ristretto_sim.io.weights.quantized import FLOAT32, QuantizedTensor, quantized_tensors, twos_complement

MAGIC = b"RSWPACK1"
VERSION = 1
MAX_BITS = 64
_HEAD = struct.Struct("<8sI")


def _stream_bytes(count: int, bits: int) -> int:
    """Bytes of the bitstream of ``count`` codes of ``bits`` bits (the last byte zero-padded)."""
    return -(-count * bits // 8)


def pack_bits(codes, bits: int) -> bytes:
    """The LSB-first bitstream of integer codes at ``bits`` bits each (two's complement for negative codes).

    Parameters
    ----------
    codes : array_like of int
        Codes, flattened in C order; each must fit ``bits`` bits (signed or unsigned).
    bits : int
        Code width, 1..64.
    """
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= MAX_BITS:
        raise ValueError(f"bits={bits!r} must be an integer in 1..{MAX_BITS}")
    c = np.asarray(codes).ravel()
    if c.dtype.kind not in "iu":
        raise TypeError(f"codes must be integers, got dtype {c.dtype}")
    if c.size and (int(c.min()) < -(1 << (bits - 1)) or int(c.max()) >= (1 << bits)):
        raise ValueError(f"codes in [{int(c.min())}, {int(c.max())}] do not fit {bits} bits")
    u = c.astype(np.int64).view(np.uint64) if c.dtype.kind == "i" else c.astype(np.uint64)
    if bits < 64:
        u = u & np.uint64((1 << bits) - 1)
    if bits % 8 == 0:  # whole bytes: the bitstream is the little-endian integer array
        return u.astype("<u8").view(np.uint8).reshape(-1, 8)[:, : bits // 8].tobytes()
    shifts = np.arange(bits, dtype=np.uint64)
    bit_matrix = ((u[:, None] >> shifts) & np.uint64(1)).astype(np.uint8)
    return np.packbits(bit_matrix.ravel(), bitorder="little").tobytes()


def unpack_bits(data, bits: int, count: int, *, signed: bool) -> np.ndarray:
    """Inverse of ``pack_bits``: ``count`` codes of ``bits`` bits from ``data`` (int64; sign-extended if
    ``signed``; a 64-bit unsigned code above ``2**63 - 1`` is returned as its two's complement int64)."""
    if not 1 <= bits <= MAX_BITS:
        raise ValueError(f"bits={bits!r} must be in 1..{MAX_BITS}")
    buf = np.frombuffer(bytes(data), dtype=np.uint8)
    need = _stream_bytes(count, bits)
    if buf.size < need:
        raise ValueError(f"{count} codes of {bits} bits need {need} bytes, got {buf.size}")
    if bits % 8 == 0:
        nb = bits // 8
        wide = np.zeros((count, 8), dtype=np.uint8)
        wide[:, :nb] = buf[: count * nb].reshape(count, nb)
        u = wide.view("<u8").ravel().astype(np.uint64)
    else:
        bit_matrix = np.unpackbits(buf[:need], count=count * bits, bitorder="little").reshape(count, bits)
        u = np.zeros(count, dtype=np.uint64)
        for j in range(bits):  # one vectorised pass per bit position, not per element
            u |= bit_matrix[:, j].astype(np.uint64) << np.uint64(j)
    if signed and bits < 64:
        shift = np.uint64(64 - bits)
        return (u << shift).view(np.int64) >> np.int64(64 - bits)
    return u.view(np.int64)


def _code_kind(t: QuantizedTensor) -> str:
    return "twos-complement" if t.signed else "unsigned"


@dataclass(frozen=True, eq=False)
class PackedWeights:
    """The contents of a packed weights file.

    Attributes
    ----------
    tensors : tuple of QuantizedTensor
        In file order.
    model : str
        The model's name.
    mode : str
        The arithmetic whose weights were packed (``exact`` or ``ristretto``).
    """

    tensors: tuple[QuantizedTensor, ...]
    model: str = ""
    mode: str = "exact"

    def __post_init__(self):
        object.__setattr__(self, "tensors", tuple(self.tensors))
        for t in self.tensors:
            if not isinstance(t, QuantizedTensor):
                raise TypeError(f"tensors must be QuantizedTensor objects, got {t!r}")
        names = [t.name for t in self.tensors]
        if len(set(names)) != len(names):
            raise ValueError(f"tensors are named twice: {sorted({n for n in names if names.count(n) > 1})}")

    def tensor(self, layer: str, param: str = "weight") -> QuantizedTensor:
        """The tensor ``layer.param`` (``KeyError`` naming it if absent)."""
        for t in self.tensors:
            if t.layer == layer and t.param == param:
                return t
        raise KeyError(f"no tensor {layer}.{param} (tensors: {', '.join(t.name for t in self.tensors)})")

    def decode(self) -> dict[str, dict[str, np.ndarray]]:
        """``{layer: {param: float64 values}}``: the quantized weights the emulator uses."""
        out: dict[str, dict[str, np.ndarray]] = {}
        for t in self.tensors:
            out.setdefault(t.layer, {})[t.param] = t.values()
        return out

    def header(self) -> dict:
        """The JSON header (module docstring)."""
        entries, offset = [], 0
        for t in self.tensors:
            nbytes = _stream_bytes(int(t.codes.size), t.fmt.bits)
            entries.append(
                {
                    "layer": t.layer,
                    "param": t.param,
                    "shape": list(t.shape),
                    "format": str(t.fmt),
                    "bits": int(t.fmt.bits),
                    "code": _code_kind(t),
                    "offset": offset,
                    "nbytes": nbytes,
                }
            )
            offset += nbytes
        return {
            "version": VERSION,
            "model": self.model,
            "mode": self.mode,
            "bit_order": "lsb-first",
            "byte_order": "little",
            "layout": "row-major",
            "payload_bytes": offset,
            "tensors": entries,
        }

    def to_bytes(self) -> bytes:
        """The whole file."""
        for t in self.tensors:
            if t.fmt.bits > MAX_BITS:
                raise ValueError(f"{t.name}: {t.fmt} has {t.fmt.bits} bits; at most {MAX_BITS} can be packed")
        head = json.dumps(self.header(), separators=(",", ":")).encode()
        payload = b"".join(pack_bits(t.codes, t.fmt.bits) for t in self.tensors)
        return _HEAD.pack(MAGIC, len(head)) + head + payload

    def save(self, path) -> int:
        """Write the file; return its size in bytes."""
        data = self.to_bytes()
        Path(path).write_bytes(data)
        return len(data)


def pack_network(network, plan, *, mode=None, rng=None) -> PackedWeights:
    """``PackedWeights`` of a network's planned layers (see ``io.weights.quantized.quantized_tensors``)."""
    from ristretto_sim.emulator import Mode

    mode = plan.mode if mode is None else Mode.coerce(mode, "mode")
    tensors = quantized_tensors(network, plan, mode=mode, rng=rng)
    return PackedWeights(tensors, model=network.name, mode=mode.value)


def save_packed(path, tensors: Iterable[QuantizedTensor] | PackedWeights, *, model: str = "", mode="exact") -> int:
    """Write a packed weights file; return its size in bytes."""
    packed = tensors if isinstance(tensors, PackedWeights) else PackedWeights(tuple(tensors), model, str(mode))
    return packed.save(path)


def _fail(path, msg: str):
    raise ModelError(f"{path}: {msg}")


def parse_packed(data: bytes, source: str = "<bytes>") -> PackedWeights:
    """Read the bytes of a packed weights file (``ModelError`` naming ``source`` if malformed)."""
    if len(data) < _HEAD.size or data[:8] != MAGIC:
        _fail(source, f"not a ristretto-sim packed weights file (no {MAGIC!r} magic)")
    _, hlen = _HEAD.unpack_from(data)
    if _HEAD.size + hlen > len(data):
        _fail(source, f"truncated header ({hlen} bytes announced, {len(data) - _HEAD.size} present)")
    try:
        header = json.loads(data[_HEAD.size : _HEAD.size + hlen].decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        _fail(source, f"header is not valid JSON ({exc})")
    if not isinstance(header, Mapping) or header.get("version") != VERSION:
        _fail(source, f"unsupported version {header.get('version') if isinstance(header, Mapping) else '?'!r}")
    if header.get("bit_order") != "lsb-first" or header.get("byte_order") != "little":
        _fail(source, "only lsb-first bit order and little-endian byte order are defined")
    payload = data[_HEAD.size + hlen :]
    if len(payload) != header.get("payload_bytes"):
        _fail(source, f"payload has {len(payload)} bytes, header says {header.get('payload_bytes')}")
    entries = header.get("tensors", [])
    if not isinstance(entries, list):
        _fail(source, f"'tensors' is {type(entries).__name__}, not a list")
    tensors = []
    for i, e in enumerate(entries):
        try:
            name = f"{e['layer']}.{e['param']}"
            text, bits, shape = e["format"], int(e["bits"]), tuple(int(d) for d in e["shape"])
            offset, nbytes = int(e["offset"]), int(e["nbytes"])
        except (KeyError, TypeError, ValueError, OverflowError) as exc:  # OverflowError: int() of JSON's 1e400
            _fail(source, f"tensor entry {i} is malformed ({exc!r})")
        try:
            fmt = FLOAT32 if text == "float32" else parse_format(text)
        except FormatError as exc:
            _fail(source, f"tensor {name}: {exc}")
        if fmt.bits != bits:
            _fail(source, f"tensor {name}: format {text} has {fmt.bits} bits, header says {bits}")
        if any(d < 0 for d in shape):
            _fail(source, f"tensor {name}: negative dimension in shape {shape}")
        count = math.prod(shape)  # Python integers: an absurd declared shape must not wrap around
        if nbytes != _stream_bytes(count, bits) or offset < 0 or offset + nbytes > len(payload):
            _fail(source, f"tensor {name}: {nbytes} bytes at offset {offset} do not hold {count} {bits}-bit codes")
        signed = twos_complement(fmt)
        if e.get("code") != ("twos-complement" if signed else "unsigned"):
            _fail(source, f"tensor {name}: code {e.get('code')!r} does not match format {text}")
        codes = unpack_bits(payload[offset : offset + nbytes], bits, count, signed=signed).reshape(shape)
        try:
            tensor = QuantizedTensor(e["layer"], e["param"], fmt, codes)
            tensor.values()  # a code no value of the format has (a power of two's unused magnitudes) is malformed
        except (TypeError, ValueError) as exc:
            _fail(source, f"tensor {name}: {exc}")
        tensors.append(tensor)
    return PackedWeights(tuple(tensors), model=str(header.get("model", "")), mode=str(header.get("mode", "")))


def load_packed(path) -> PackedWeights:
    """Read a packed weights file (``ModelError`` naming the file if missing or malformed)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"packed weights file {path} does not exist")
    return parse_packed(path.read_bytes(), str(path))
