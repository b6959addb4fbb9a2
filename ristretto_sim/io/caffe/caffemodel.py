"""Writing a network's weights as a binary Caffe ``.caffemodel`` (``NetParameter`` protobuf), pure Python + NumPy.

``save_caffemodel(network, path, reference=None)`` writes one ``LayerParameter`` (field 100 of ``NetParameter``)
per layer with weights: ``name`` (1), ``type`` (2: ``Convolution``, ``Deconvolution``, ``InnerProduct``, ``Scale``,
``PReLU``) and its ``blobs`` (7), each a ``BlobProto`` with ``shape`` (7: ``BlobShape.dim``, field 1, packed int64) and
packed float ``data`` (5), the encoding current Caffe writes. Caffe's ``CopyTrainedLayersFrom`` matches layers by
name and checks blob shapes, so the file loads into the original prototxt (this is how fine-tuned weights go back
to a Caffe or Ristretto user).

With ``reference`` (the caffemodel the network was imported from), every layer keeps the blob shapes of the
reference (legacy 4-D ``num/channels/height/width`` shapes, InnerProduct ``transpose: true`` blobs stored
``(in, out)``), and layers of the reference the network has no weights for are copied unchanged. Networks with
folded normalisation layers (``network.foldings``) cannot be written: their weights no longer match the
prototxt's layers (``ValueError`` naming the folding).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ristretto_sim.data.protowire import encode_varint as _varint
from ristretto_sim.data.protowire import length_field as _field
from ristretto_sim.graph.layers import Conv, ConvTranspose, Dense, PRelu, Scale
from ristretto_sim.graph.network import Network

_TYPES = {Conv: "Convolution", ConvTranspose: "Deconvolution", Dense: "InnerProduct", Scale: "Scale",
          PRelu: "PReLU"}


def blob_proto(array: np.ndarray, shape=None) -> bytes:
    """A ``BlobProto`` with ``shape`` (default: the array's) and packed float32 ``data``."""
    a = np.ascontiguousarray(array, dtype="<f4")
    shape = a.shape if shape is None else tuple(shape)
    if int(np.prod(shape, dtype=np.int64)) != a.size:
        raise ValueError(f"blob shape {shape} does not hold {a.size} values")
    dims = b"".join(_varint(int(d)) for d in shape)
    return _field(7, _field(1, dims)) + _field(5, a.tobytes())


def _layer(name: str, type_: str, blobs: list[bytes]) -> bytes:
    body = _field(1, name.encode()) + _field(2, type_.encode()) + b"".join(_field(7, b) for b in blobs)
    return _field(100, body)


def _reference_blobs(reference) -> dict[str, tuple[str, list[tuple[int, ...]]]]:
    """``{layer name: (type, [blob shapes])}`` of a reference caffemodel (legacy 4-D shapes included)."""
    from ristretto_sim.io.caffe.files import blob_shape, read_caffemodel

    msg = read_caffemodel(reference)
    out = {}
    for layer in list(msg.all("layer")) + list(msg.all("layers")):
        blobs = layer.all("blobs")
        if not blobs:
            continue
        name = layer.get("name")
        type_ = layer.get("type")
        out[str(name)] = (str(type_), [tuple(int(d) for d in blob_shape(b)) for b in blobs])
    return out


def caffemodel_bytes(network: Network, reference=None) -> bytes:
    """The binary ``NetParameter`` of ``network``'s weights (module docstring)."""
    if not isinstance(network, Network):
        raise TypeError(f"network={network!r} must be a Network")
    if network.foldings:
        f = network.foldings[0]
        raise ValueError(
            f"network {network.name!r} folded {f.kind} {f.folded!r} into {f.into!r}; its weights no longer match "
            "the prototxt's layers, so no caffemodel can be written (write ONNX instead)"
        )
    ref = _reference_blobs(reference) if reference is not None else {}
    out = [_field(1, network.name.encode())]
    written = set()
    for layer in network.layers:
        params = network.params.get(layer.name)
        if not params:
            continue
        type_ = next((t for cls, t in _TYPES.items() if isinstance(layer, cls)), None)
        if type_ is None:
            raise ValueError(f"layer {layer.name!r} ({layer.op_type}) has weights Caffe has no layer type for")
        if isinstance(layer, PRelu):  # one slope per channel (or one shared), stored flat
            arrays = [np.asarray(params["slope"]).reshape(-1)]
        else:
            arrays = [params["weight"]] + ([params["bias"]] if "bias" in params else [])
        shapes = [a.shape for a in arrays]
        if layer.name in ref:
            type_, ref_shapes = ref[layer.name]
            if len(ref_shapes) != len(arrays):
                raise ValueError(
                    f"layer {layer.name!r}: the reference caffemodel has {len(ref_shapes)} blobs, the network "
                    f"{len(arrays)}"
                )
            for i, (a, s) in enumerate(zip(arrays, ref_shapes, strict=True)):
                if i == 0 and isinstance(layer, Dense) and tuple(s) == a.shape[::-1] and a.shape[0] != a.shape[1]:
                    arrays[0] = a.T  # InnerProduct with transpose: true stores (in, out)
                if int(np.prod(s, dtype=np.int64)) != a.size:
                    raise ValueError(f"layer {layer.name!r}: blob {i} has shape {s} in the reference, "
                                     f"the network's has {a.shape}")
            shapes = ref_shapes
        out.append(_layer(layer.name, type_, [blob_proto(a, s) for a, s in zip(arrays, shapes, strict=True)]))
        written.add(layer.name)
    missing = sorted(set(ref) - written)
    if missing:
        raise ValueError(
            f"layers {missing} of the reference caffemodel have weights the network does not hold; "
            "cannot write a complete caffemodel"
        )
    return b"".join(out)


def save_caffemodel(network: Network, path, reference=None) -> int:
    """Write ``caffemodel_bytes(network, reference)`` to ``path``; return its size in bytes."""
    data = caffemodel_bytes(network, reference)
    Path(path).write_bytes(data)
    return len(data)


__all__ = ["blob_proto", "caffemodel_bytes", "save_caffemodel"]
