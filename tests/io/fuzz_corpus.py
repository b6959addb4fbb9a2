"""Seeded mutations of real model, plan and weight files, for the loaders' fuzz test (``test_fuzz_loaders``).

A case is ``(kind, seed)``: ``build(kind, seed)`` picks one of the kind's seed files and applies one to three
mutations drawn from a NumPy ``Generator`` seeded by ``(kind, seed)``, so a failing case replays exactly::

    python -m tests.io.fuzz_corpus onnx 123            # describe case onnx/123 and write it to ./fuzz-onnx-00123.onnx

The seed files are real: the bundled models' ONNX files, ``../shared/data``'s ONNX MNIST, Caffe LeNet
(prototxt and caffemodel) and Ristretto-written SqueezeNet prototxt, the plans and the Ristretto prototxt in
``tests/io/seeds/`` (written by ``ristretto-sim score --dfp --write-plan`` and ``quantize --model_quantized``, and
one written by hand), and packed weight files that ``pack_network`` writes for a bundled model at run time.

Mutations (every kind gets the byte-level ones; text gets the text ones, binary protobuf the wire ones):

* bytes: bit flips, a truncation at a random offset, a run of random bytes inserted, a slice duplicated or
  deleted, a run overwritten with 0x00/0xFF/0x7F/0x80;
* protobuf wire (ONNX, caffemodel): a varint at a field boundary (tag, length, integer value: dims, attribute
  ints, enum values) replaced by an edge value (0, 1, 2**31, 2**63 - 1, 10**12, length +- 1, ...), keeping its
  width when it can so the enclosing lengths still hold; a short string (op or layer type, tensor name)
  replaced by another, same length when one exists; and, most often, an edit of the decoded message tree
  re-encoded with consistent lengths (a value set to an edge case, a field deleted, duplicated, moved or
  renumbered), so the mutation reaches the importer rather than stopping at the protobuf decoder;
* text (prototxt, plan, the packed file's JSON header): a number replaced by ``-3``, ``0``, ``99999999``,
  ``1e400``, ``nan``, ...; a word by another word of the format (layer types, keys, enum names) or one of the
  file's own words; a format text by a bad or extreme one (``fixed0.7``, ``e9m1``, ``pow2[-1,-8]``, ...); a
  line deleted, duplicated or swapped; one punctuation character inserted or deleted.
"""

from __future__ import annotations

import functools
import re
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
SEEDS = Path(__file__).resolve().parent / "seeds"

# ------------------------------------------------------------------------------------------------- seed files


@dataclass(frozen=True)
class SeedFile:
    """One real file the corpus mutates, and how its kind's loader reads it.

    ``loader`` names an entry of ``test_fuzz_loaders.LOADERS``; ``context`` is what that loader needs beside the
    mutated file (the prototxt of a caffemodel, the network of a plan). ``text`` says whether the text mutations
    apply (to the whole file, or for a packed file to its JSON header)."""

    kind: str
    name: str
    path: Path | None
    loader: str
    context: str = ""
    text: bool = False
    wire: bool = False

    @property
    def suffix(self) -> str:
        return Path(self.name).suffix


def seed_files() -> dict[str, list[SeedFile]]:
    """The seed files of every kind (``kind -> files``), in a fixed order."""
    lenet_tt = str(SHARED / "caffe-lenet" / "lenet_train_test.prototxt")
    return {
        "onnx": [
            SeedFile("onnx", "lenet.onnx", REPO / "models" / "lenet" / "lenet.onnx", "onnx", wire=True),
            SeedFile("onnx", "cifar10_full_lrn.onnx", REPO / "models" / "cifar10_full_lrn" / "cifar10_full_lrn.onnx",
                     "onnx", wire=True),
            SeedFile("onnx", "ae_deconv.onnx", REPO / "models" / "ae_deconv" / "ae_deconv.onnx", "onnx", wire=True),
            SeedFile("onnx", "mnist-8.onnx", SHARED / "onnx" / "mnist-8.onnx", "onnx", wire=True),
        ],
        "prototxt": [
            SeedFile("prototxt", "lenet.prototxt", SHARED / "caffe-lenet" / "lenet.prototxt", "caffe", text=True),
            SeedFile("prototxt", "lenet_train_test.prototxt", SHARED / "caffe-lenet" / "lenet_train_test.prototxt",
                     "caffe", text=True),
            SeedFile("prototxt", "squeezenet_v1.0_dfp8_quantized.prototxt",
                     SHARED / "ristretto" / "squeezenet_v1.0_dfp8_quantized.prototxt", "ristretto", text=True),
            SeedFile("prototxt", "caffe_lenet_dfp_quantized.prototxt", SEEDS / "caffe_lenet_dfp_quantized.prototxt",
                     "ristretto_weights", text=True),
        ],
        "caffemodel": [
            SeedFile("caffemodel", "lenet_iter_10000.caffemodel",
                     SHARED / "caffe-lenet" / "lenet_iter_10000.caffemodel", "caffemodel", context=lenet_tt, wire=True),
        ],
        "plan": [
            SeedFile("plan", p.name, p, "plan", context=_PLAN_NETWORKS[p.stem], text=True)
            for p in sorted(SEEDS.glob("*.yaml"))
        ],
        "packed": [
            SeedFile("packed", "cifar_dfp8.rsw", None, "packed", context="cifar10_full_lrn:cifar_dfp8.yaml", text=True),
            SeedFile("packed", "cifar_mixed.rsw", None, "packed", context="cifar10_full_lrn:cifar_mixed.yaml",
                     text=True),
            SeedFile("packed", "lenet_pow2.rsw", None, "packed", context="lenet:lenet_pow2.yaml", text=True),
        ],
    }


#: the network each seed plan belongs to (a bundled name, or ``caffe-lenet``)
_PLAN_NETWORKS = {
    "ae_dfp6": "ae_deconv",
    "caffe_lenet_dfp": "caffe-lenet",
    "caffe_lenet_minifloat": "caffe-lenet",
    "cifar_dfp8": "cifar10_full_lrn",
    "cifar_mixed": "cifar10_full_lrn",
    "lenet_dfp8": "lenet",
    "lenet_pow2": "lenet",
}

#: mutations per kind in the full (slow) run: 2,000 in all
COUNTS = {"onnx": 500, "prototxt": 450, "caffemodel": 300, "plan": 500, "packed": 250}


@functools.cache
def packed_bytes(context: str) -> bytes:
    """A real packed weights file: ``pack_network`` of a bundled model under one of the seed plans."""
    from ristretto_sim import load_model, load_plan
    from ristretto_sim.io.weights.packed import pack_network

    model, plan = context.split(":")
    network = load_model(model)
    return pack_network(network, load_plan(SEEDS / plan, network), rng=0).to_bytes()


def seed_bytes(seed: SeedFile) -> bytes:
    """The unmutated contents of a seed file."""
    if seed.path is None:
        return packed_bytes(seed.context)
    return _read(seed.path)


@functools.cache
def _read(path: Path) -> bytes:
    return path.read_bytes()


# ------------------------------------------------------------------------------------------------- byte mutations

_FILL = (0x00, 0xFF, 0x7F, 0x80)


def _pos(rng, n: int, hot: tuple[int, ...] | None = None) -> int:
    """An offset in ``[0, n)``; half the time near one of the ``hot`` offsets (the structure of a protobuf file,
    where a uniform offset would nearly always land in bulk float data)."""
    if hot and rng.random() < 0.5:
        return min(max(int(hot[int(rng.integers(0, len(hot)))]) + int(rng.integers(-4, 12)), 0), max(n - 1, 0))
    return int(rng.integers(0, max(n, 1)))


def flip_bits(data: bytearray, rng, hot) -> str:
    k = int(rng.integers(1, 9))
    offs = []
    for _ in range(k):
        if not data:
            break
        i = _pos(rng, len(data), hot)
        data[i] ^= 1 << int(rng.integers(0, 8))
        offs.append(i)
    return f"flip {len(offs)} bit(s) at {offs}"


def truncate(data: bytearray, rng, hot) -> str:
    at = _pos(rng, len(data), hot)
    del data[at:]
    return f"truncate at byte {at}"


def insert_bytes(data: bytearray, rng, hot) -> str:
    at = _pos(rng, len(data) + 1, hot)
    run = rng.integers(0, 256, size=int(rng.integers(1, 65)), dtype=np.uint8).tobytes()
    data[at:at] = run
    return f"insert {len(run)} random bytes at {at}"


def duplicate_run(data: bytearray, rng, hot) -> str:
    if not data:
        return "duplicate nothing (empty)"
    start = _pos(rng, len(data), hot)
    run = bytes(data[start:start + int(rng.integers(1, 257))])
    at = _pos(rng, len(data) + 1, hot)
    data[at:at] = run
    return f"duplicate {len(run)} bytes from {start} at {at}"


def delete_run(data: bytearray, rng, hot) -> str:
    start = _pos(rng, len(data), hot)
    n = int(rng.integers(1, 65))
    del data[start:start + n]
    return f"delete {n} bytes at {start}"


def fill_run(data: bytearray, rng, hot) -> str:
    start = _pos(rng, len(data), hot)
    n = int(rng.integers(1, 17))
    value = _FILL[int(rng.integers(0, len(_FILL)))]
    end = min(start + n, len(data))
    data[start:end] = bytes([value]) * (end - start)
    return f"overwrite {end - start} bytes at {start} with 0x{value:02x}"


BYTE_OPS = (flip_bits, truncate, insert_bytes, duplicate_run, delete_run, fill_run)

# ------------------------------------------------------------------------------------------------- protobuf wire


def _varint_at(buf: bytes, pos: int, end: int) -> tuple[int, int] | None:
    value, shift = 0, 0
    while pos < end and shift < 70:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
    return None


def _scan(buf: bytes, start: int, end: int, depth: int, out: list) -> bool:
    """Record every varint of a message at ``buf[start:end]`` (tags, lengths, values), recursing into payloads
    that parse as messages; False if the bytes are not a message."""
    found = []
    pos = start
    while pos < end:
        key = _varint_at(buf, pos, end)
        if key is None or key[0] >> 3 == 0:
            return False
        found.append((pos, key[1] - pos, "tag", key[0]))
        pos, wire = key[1], key[0] & 7
        if wire == 0:
            v = _varint_at(buf, pos, end)
            if v is None:
                return False
            found.append((pos, v[1] - pos, "varint", v[0]))
            pos = v[1]
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        elif wire == 2:
            n = _varint_at(buf, pos, end)
            if n is None or n[1] + n[0] > end:
                return False
            found.append((pos, n[1] - pos, "length", n[0]))
            pos = n[1]
            payload = buf[pos:pos + n[0]]
            if 0 < n[0] <= 64 and payload.isascii() and payload.decode().isprintable():
                found.append((pos, n[0], "string", 0))
            elif depth < 12 and n[0] >= 2:
                sub: list = []
                if _scan(buf, pos, pos + n[0], depth + 1, sub):
                    found.extend(sub)
            pos += n[0]
        else:
            return False
    if pos != end:
        return False
    out.extend(found)
    return True


@functools.cache
def wire_varints(data: bytes) -> tuple[tuple[int, int, str, int], ...]:
    """``(offset, width, role, value)`` of a protobuf file's structure: its varints (role tag, length or varint)
    and its short printable strings (role string, ``width`` bytes)."""
    out: list = []
    _scan(data, 0, len(data), 0, out)
    return tuple(out)


def _encode_varint(value: int, width: int | None = None) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            break
    if width is not None and len(out) < width:  # a non-minimal encoding of the same value keeps the width
        out[-1] |= 0x80
        out += b"\x80" * (width - len(out) - 1) + b"\x00"
    return bytes(out)


_EDGE_INTS = (0, 1, 2, 3, 7, 127, 128, 255, 65535, 2**31 - 1, 2**31, 2**32, 10**6, 10**9, 10**12, 2**62, 2**63 - 1,
              2**64 - 1, 2**64 - 3)


def edit_varint(data: bytearray, rng, hot) -> str:
    fields = wire_varints(bytes(data))
    if not fields:
        return flip_bits(data, rng, hot)
    fields = [f for f in fields if f[2] != "string"]
    off, width, role, value = fields[int(rng.integers(0, len(fields)))]
    if role == "tag":
        new = value ^ (1 << int(rng.integers(0, 7)))
    elif role == "length" and rng.random() < 0.6:
        new = max(0, value + int(rng.choice([-2, -1, 1, 2, 7, 1000])))
    else:
        new = int(_EDGE_INTS[int(rng.integers(0, len(_EDGE_INTS)))])
    enc = _encode_varint(new, width if rng.random() < 0.8 else None)
    data[off:off + width] = enc
    return f"{role} varint at byte {off}: {value} -> {new} ({len(enc)} bytes)"


def edit_binary_word(data: bytearray, rng, hot) -> str:
    strings = [f for f in wire_varints(bytes(data)) if f[2] == "string"]
    if not strings:
        return flip_bits(data, rng, hot)
    off, width, _, _ = strings[int(rng.integers(0, len(strings)))]
    old = bytes(data[off:off + width])
    same = [w for w in BINARY_WORDS if len(w) == len(old) and w != old]
    new = same[int(rng.integers(0, len(same)))] if same and rng.random() < 0.8 else \
        BINARY_WORDS[int(rng.integers(0, len(BINARY_WORDS)))]
    data[off:off + width] = new
    return f"string at byte {off}: {old!r} -> {new!r}"


BINARY_WORDS = tuple(w.encode() for w in (
    "Conv", "Relu", "Gemm", "Tanh", "Add", "Mul", "Sub", "Div", "Pad", "LRN", "Cast", "Clip", "MaxPool", "Softmax",
    "Reshape", "Flatten", "Sigmoid", "Squeeze", "Constant", "Identity", "Transpose", "Unsqueeze", "AveragePool",
    "ConvTranspose", "BatchNormalization", "GlobalAveragePool", "MatMul", "Concat", "Shape", "Gather", "Loop",
    "If", "Scan", "Resize", "Einsum", "Convolution", "InnerProduct", "Pooling", "ReLU", "Dropout", "Split",
    "kernel_shape", "strides", "pads", "group", "dilations", "axis", "perm", "alpha", "beta", "size", "bias",
    "conv1", "conv2", "ip1", "ip2", "pool1", "data", "label", "ai.onnx", "com.microsoft", "input", "output",
))

def _parse_tree(buf: bytes, start: int, end: int, depth: int) -> list | None:
    """A protobuf message as ``[[field number, wire type, value], ...]``: a varint's int, a fixed value's bytes, a
    length-delimited payload as a nested list when it parses as a message (else its bytes); None if not a
    message."""
    fields = []
    pos = start
    while pos < end:
        key = _varint_at(buf, pos, end)
        if key is None or key[0] >> 3 == 0:
            return None
        (number, wire), pos = divmod(key[0], 8), key[1]
        if wire == 0:
            v = _varint_at(buf, pos, end)
            if v is None:
                return None
            fields.append([number, 0, v[0]])
            pos = v[1]
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if pos + size > end:
                return None
            fields.append([number, wire, buf[pos:pos + size]])
            pos += size
        elif wire == 2:
            n = _varint_at(buf, pos, end)
            if n is None or n[1] + n[0] > end:
                return None
            pos = n[1]
            payload = buf[pos:pos + n[0]]
            sub = None
            if depth < 12 and n[0] >= 2 and not (payload.isascii() and payload.decode().isprintable()):
                sub = _parse_tree(buf, pos, pos + n[0], depth + 1)
            fields.append([number, 2, payload if sub is None else sub])
            pos += n[0]
        else:
            return None
    return fields if pos == end else None


def _serialize(fields: list) -> bytes:
    out = bytearray()
    for number, wire, value in fields:
        out += _encode_varint(number << 3 | wire)
        if wire == 0:
            out += _encode_varint(value)
        elif wire in (1, 5):
            out += value
        else:
            payload = _serialize(value) if isinstance(value, list) else value
            out += _encode_varint(len(payload)) + payload
    return bytes(out)


@functools.cache
def _tree(data: bytes) -> list | None:
    return _parse_tree(data, 0, len(data), 0)


def _copy(fields: list) -> list:
    return [[n, w, _copy(v) if isinstance(v, list) else v] for n, w, v in fields]


def _slots(fields: list, path: tuple = ()):
    """Every field of the tree as ``(containing list, index, path of field numbers)``."""
    for i, f in enumerate(fields):
        yield fields, i, path + (f[0],)
        if isinstance(f[2], list):
            yield from _slots(f[2], path + (f[0],))


_EDGE_FIXED = {4: [struct.pack("<f", v) for v in (0.0, -1.0, float("nan"), float("inf"), 1e30, -1e-30)],
               8: [struct.pack("<d", v) for v in (0.0, -1.0, float("nan"), float("-inf"), 1e300)]}


def edit_tree(data: bytearray, rng, hot) -> str:
    """Edit one field of the decoded message tree and re-encode it with consistent lengths, so the mutation
    reaches the importer instead of the protobuf decoder: a value set to an edge case, a field deleted,
    duplicated, moved, or renumbered."""
    tree = _tree(bytes(data))
    if tree is None:
        return edit_varint(data, rng, hot)
    tree = _copy(tree)
    slots = list(_slots(tree))
    fields, i, path = slots[int(rng.integers(0, len(slots)))]
    number, wire, value = fields[i]
    where = ".".join(map(str, path))
    how = int(rng.integers(0, 5))
    if how == 0 and wire == 0:
        new = int(_EDGE_INTS[int(rng.integers(0, len(_EDGE_INTS)))]) if rng.random() < 0.7 else \
            max(0, value + int(rng.choice([-2, -1, 1, 2])))
        fields[i][2] = new
        what = f"field {where}: {value} -> {new}"
    elif how == 0 and wire in (1, 5):
        options = _EDGE_FIXED[len(value)]
        fields[i][2] = options[int(rng.integers(0, len(options)))]
        what = f"field {where}: {value.hex()} -> {fields[i][2].hex()}"
    elif how == 0 and not isinstance(value, list) and len(value) <= 64:
        new = BINARY_WORDS[int(rng.integers(0, len(BINARY_WORDS)))] if rng.random() < 0.8 else b""
        fields[i][2] = new
        what = f"field {where}: {value!r} -> {new!r}"
    elif how == 1:
        del fields[i]
        what = f"delete field {where}"
    elif how == 2:
        fields.insert(int(rng.integers(0, len(fields) + 1)), _copy([fields[i]])[0])
        what = f"duplicate field {where}"
    elif how == 3:
        j = int(rng.integers(0, len(fields)))
        fields.insert(j, fields.pop(i))
        what = f"move field {where} from position {i} to {j}"
    else:
        others = sorted({f[0] for f in fields if f[1] == wire and f[0] != number}) or [number + 1]
        fields[i][0] = others[int(rng.integers(0, len(others)))]
        what = f"renumber field {where} as {fields[i][0]}"
    data[:] = _serialize(tree)
    return f"tree: {what}"


WIRE_OPS = (edit_varint, edit_binary_word, edit_tree, edit_tree, edit_tree)

# ------------------------------------------------------------------------------------------------- text mutations

_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w])")
_TEXT_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FORMAT_TEXT = re.compile(r"(?:u?fixed\d+\.(?:-?\d+|\([^)\n]*\))|e\d+m\d+(?:fn)?(?:\[[^\]\n]*\])?|pow2\[[^\]\n]*\]"
                          r"|fp\d+(?:_e\dm\d)?|bf16)")

NUMBERS = ("-3", "0", "1", "-1", "2", "99999999", "1e400", "-1e400", "nan", "inf", "-inf", "1e12", "1e-400",
           "2147483648", "4294967296", "-2147483649", "18446744073709551616", "0x7fffffff", "3.5", "-0", "00",
           "9" * 40, "1_000", "1e", ".", "-")

FORMATS = ("fixed0.7", "fixed8.99999999", "fixed99999999.0", "fixed1.0", "fixed65.3", "fixed8.-99", "ufixed0.0",
           "e9m1", "e0m0", "e1m0", "e31m31", "e4m3[bias=99999]", "e4m3[nosub,specials=bogus]", "e4m3fn[bias=-3]",
           "pow2[-1,-8]", "pow2[-99999999,99999999]", "pow2[0,0]", "pow2[-8]", "pow2[]", "fixed8.(7,)",
           "fixed8.(", "fixed8.()", "fixed8.(7,6,nan)", "fp64", "fp0", "e4m3fnuz", "fixed8.7.7", "fixed-8.7")

TEXT_WORDS = (
    # Caffe layer types and prototxt fields / enum names
    "Convolution", "ConvolutionRistretto", "InnerProduct", "FcRistretto", "Pooling", "ReLU", "LRN", "LRNRistretto",
    "Deconvolution", "Softmax", "SoftmaxWithLoss", "Accuracy", "Data", "Input", "Eltwise", "Concat", "Reshape",
    "BatchNorm", "Scale", "Power", "Split", "Dropout", "Python", "Crop", "layer", "layers", "bottom", "top", "name",
    "type", "num_output", "kernel_size", "stride", "pad", "group", "pool", "MAX", "AVE", "STOCHASTIC", "include",
    "phase", "TEST", "TRAIN", "convolution_param", "inner_product_param", "pooling_param", "quantization_param",
    "bw_layer_in", "fl_layer_out", "bw_params", "precision", "MINIFLOAT", "DYNAMIC_FIXED_POINT",
    "INTEGER_POWER_OF_2_WEIGHTS", "exp_bits", "mant_bits", "input_param", "shape", "dim", "transform_param",
    "global_pooling", "axis", "true", "false",
    # plan keys and values
    "version", "mode", "defaults", "layers", "inputs", "weights", "outputs", "accumulator", "rounding", "overflow",
    "product", "internal", "exact", "ristretto", "nearest_even", "stochastic", "saturate", "wrap", "null", "yes",
    # packed header keys
    "tensors", "format", "bits", "offset", "nbytes", "payload_bytes", "bit_order", "byte_order", "code", "param",
    "twos-complement", "unsigned", "float32", "lsb-first", "little",
    # garbage
    "x", "", "__init__", "NaN",
)

PUNCT = "{}[]:<>\"'#,;\t\\ -\n"


def _text_span(data: bytearray, seed: SeedFile) -> tuple[int, int]:
    """The part of the file the text mutations edit: all of it, or a packed file's JSON header."""
    if seed.kind == "packed" and len(data) >= 12 and data[:8] == b"RSWPACK1":
        (hlen,) = struct.unpack_from("<I", data, 8)
        return 12, min(len(data), 12 + hlen)
    return 0, len(data)


def _replace(data: bytearray, span, start: int, end: int, new: str, seed: SeedFile, rng) -> None:
    """Replace ``data[start:end]`` (text offsets relative to ``span``) and, in a packed file, usually fix the
    header length so the edit reaches the JSON parser."""
    a = span[0] + start
    b = span[0] + end
    enc = new.encode("utf-8")
    data[a:b] = enc
    if seed.kind == "packed" and span[0] == 12 and rng.random() < 0.8:
        struct.pack_into("<I", data, 8, span[1] - span[0] + len(enc) - (b - a))


def _pick(rng, seq):
    return seq[int(rng.integers(0, len(seq)))]


def edit_number(data: bytearray, rng, seed: SeedFile) -> str:
    span = _text_span(data, seed)
    text = data[span[0]:span[1]].decode("latin-1")
    found = list(_NUMBER.finditer(text))
    if not found:
        return edit_word(data, rng, seed)
    m = _pick(rng, found)
    new = _pick(rng, NUMBERS)
    _replace(data, span, m.start(), m.end(), new, seed, rng)
    return f"number at char {m.start()}: {m.group(0)!r} -> {new!r}"


def edit_word(data: bytearray, rng, seed: SeedFile) -> str:
    span = _text_span(data, seed)
    text = data[span[0]:span[1]].decode("latin-1")
    found = list(_TEXT_WORD.finditer(text))
    if not found:
        return flip_bits(data, rng, None)
    m = _pick(rng, found)
    new = _pick(rng, TEXT_WORDS) if rng.random() < 0.7 else _pick(rng, found).group(0)
    _replace(data, span, m.start(), m.end(), new, seed, rng)
    return f"word at char {m.start()}: {m.group(0)!r} -> {new!r}"


def edit_format(data: bytearray, rng, seed: SeedFile) -> str:
    span = _text_span(data, seed)
    text = data[span[0]:span[1]].decode("latin-1")
    found = list(_FORMAT_TEXT.finditer(text))
    if not found:
        return edit_number(data, rng, seed)
    m = _pick(rng, found)
    new = _pick(rng, FORMATS)
    _replace(data, span, m.start(), m.end(), new, seed, rng)
    return f"format at char {m.start()}: {m.group(0)!r} -> {new!r}"


def edit_lines(data: bytearray, rng, seed: SeedFile) -> str:
    span = _text_span(data, seed)
    text = data[span[0]:span[1]].decode("latin-1")
    lines = text.split("\n")
    i, j = int(rng.integers(0, len(lines))), int(rng.integers(0, len(lines)))
    how = int(rng.integers(0, 3))
    if how == 0:
        del lines[i]
        what = f"delete line {i + 1}"
    elif how == 1:
        lines.insert(j, lines[i])
        what = f"copy line {i + 1} before line {j + 1}"
    else:
        lines[i], lines[j] = lines[j], lines[i]
        what = f"swap lines {i + 1} and {j + 1}"
    _replace(data, span, 0, len(text), "\n".join(lines), seed, rng)
    return what


def edit_punct(data: bytearray, rng, seed: SeedFile) -> str:
    span = _text_span(data, seed)
    text = data[span[0]:span[1]].decode("latin-1")
    marks = [i for i, c in enumerate(text) if c in PUNCT]
    if marks and rng.random() < 0.5:
        i = _pick(rng, marks)
        _replace(data, span, i, i + 1, "", seed, rng)
        return f"delete {text[i]!r} at char {i}"
    i = int(rng.integers(0, len(text) + 1))
    c = _pick(rng, PUNCT)
    _replace(data, span, i, i, c, seed, rng)
    return f"insert {c!r} at char {i}"


TEXT_OPS = (edit_number, edit_number, edit_word, edit_word, edit_format, edit_lines, edit_punct)

# ------------------------------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    """One mutated file: which seed file, the mutations applied (in order) and the bytes."""

    kind: str
    seed: int
    source: SeedFile
    mutations: tuple[str, ...]
    data: bytes

    @property
    def filename(self) -> str:
        """The mutated file's name (it keeps the seed file's extension, which selects the loader)."""
        return f"fuzz-{self.kind}-{self.seed:05d}-{Path(self.source.name).stem}{self.source.suffix}"

    def describe(self) -> str:
        return f"{self.kind}/{self.seed} ({self.source.name}: {'; '.join(self.mutations)})"


def _hot(seed: SeedFile, data: bytes) -> tuple[int, ...] | None:
    """Offsets of a protobuf file's structure (its varints and strings), where byte mutations are aimed half the
    time."""
    if seed.wire:
        return tuple(f[0] for f in wire_varints(data))
    return None


def build(kind: str, seed: int) -> Case:
    """The mutated file of case ``(kind, seed)``, deterministically."""
    files = seed_files()[kind]
    rng = np.random.default_rng([zlib.crc32(kind.encode()), seed])
    source = files[int(rng.integers(0, len(files)))]
    original = seed_bytes(source)
    data = bytearray(original)
    hot = _hot(source, original)
    ops = list(BYTE_OPS)
    if source.wire:
        ops += list(WIRE_OPS) * 2
    if source.text:
        ops += list(TEXT_OPS) * (1 if source.kind == "packed" else 2)
    done = []
    for _ in range(int(rng.choice([1, 1, 1, 2, 2, 3]))):
        op = ops[int(rng.integers(0, len(ops)))]
        if op in TEXT_OPS:
            done.append(op(data, rng, source))
        else:
            done.append(op(data, rng, hot))
    return Case(kind, seed, source, tuple(done), bytes(data))


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in COUNTS:
        print(f"usage: python -m tests.io.fuzz_corpus {{{','.join(COUNTS)}}} SEED", file=sys.stderr)
        return 2
    case = build(argv[0], int(argv[1]))
    Path(case.filename).write_bytes(case.data)
    print(case.describe())
    print(f"written to {case.filename}; load it as the test does with the '{case.source.loader}' loader "
          f"({case.source.context or 'no other file'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
