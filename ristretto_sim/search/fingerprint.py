"""What a saved score depends on, as content digests: the resume key of a ``quantize`` run.

A score in the state file is the accuracy of one plan (stored under the plan's canonical YAML, which holds every
layer's formats and the arithmetic) on one network and one set of inputs. ``run_key`` names everything else it
depends on, as separate parts so that a stale state file can say which one changed:

* ``network``: the structure: input shapes, layer specs in order (type and every field), outputs; with a Caffe
  model in ``ristretto`` mode also the TRAIN-phase net of the statistics pass and its in-place writes. Not the
  name or the file path: a copied or renamed model is the same network.
* ``weights``: every parameter array (layer, name, dtype, shape, bytes), of both nets.
* ``data``: the images actually read (raw pixels as stored, with dtype and shape, and their labels), in order,
  and how many are read (a short set is read again from its start). Hashing the images themselves rather than
  the source files is exact (a source replaced in place is noticed, the same images from IDX or LMDB are the
  same data) and cheap: they are already in memory, and only the distinct images read are hashed (sha256 runs at
  about 1 GB/s; MNIST's 10,000 test images are 7.8 MB), which is negligible next to scoring a single net.
* ``preprocessing``: the scored and the statistics-pass ``Preprocessing`` (scale, mean, the mean image's bytes,
  crop, mirror) and their phases.
* ``options``: the rest of the setup a score depends on: arithmetic mode, CPU quirks, the scored tensor and its
  top-k, the batch sizes (a score is the mean of batch accuracies), the seed (crops, mirrors, Dropout of the
  statistics pass) and the accumulator options.
* ``tool version``: ``ristretto_sim.__version__`` and the state-file format.

The trimming mode, the margin, the widths, the granularity and the extensions are not part of the key: they choose
which plans are scored, not what a plan scores, so a run with another margin or trimming mode reuses the scores
(the float baseline, common plans) it shares with an earlier run. The statistics pass is covered by its inputs
(data, preprocessing, seed, calibration batch size and its net) although the plans it yields already carry its
outcome: a run with other statistics starts afresh rather than reusing a coincidentally equal plan.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Mapping

import numpy as np

import ristretto_sim
from ristretto_sim.data import Preprocessing
from ristretto_sim.graph.network import Network

#: the format of the state file; bump it when a stored value changes meaning
STATE_FORMAT = 2

#: the key's parts, in the order a message names them
PARTS = ("network", "weights", "data", "preprocessing", "options", "tool version")


def _plain(value):
    """``value`` as JSON-able data, exactly: dataclasses by type and fields, enums by value, arrays by digest."""
    if isinstance(value, enum.Enum):
        return [type(value).__name__, _plain(value.value)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [type(value).__name__, {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}]
    if isinstance(value, np.ndarray):
        return ["ndarray", array_digest(value)]
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return repr(value)  # exact: repr round-trips, and nan/inf stay distinct
    raise TypeError(f"cannot fingerprint {type(value).__name__} {value!r}")


def digest(value) -> str:
    """sha256 (hex) of ``value``'s canonical JSON form (``_plain``)."""
    text = json.dumps(_plain(value), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def array_digest(array: np.ndarray) -> str:
    """sha256 of an array's dtype, shape and bytes (C order)."""
    a = np.ascontiguousarray(array)
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def structure_digest(network: Network) -> str:
    """The network's inputs, layer specs in order and outputs (not its name, source or weights)."""
    return digest([network.inputs, network.layers, network.outputs])


def weights_digest(network: Network) -> str:
    """Every parameter array, by layer and name."""
    h = hashlib.sha256()
    for layer in sorted(network.params):
        for name in sorted(network.params[layer]):
            h.update(f"{layer}\0{name}\0{array_digest(network.params[layer][name])}\0".encode())
    return h.hexdigest()


def images_digest(images: np.ndarray, labels: np.ndarray, count: int) -> str:
    """``count`` images read in order from ``images`` (from the first again after the last) and their labels."""
    return digest([array_digest(images), array_digest(np.asarray(labels, dtype=np.int64)), int(count)])


def preprocess_digest(pre: Preprocessing, phase: str) -> str:
    """A ``Preprocessing`` (every field; the mean image by its bytes) applied in ``phase``."""
    return digest([pre, phase])


def run_key(*, network: Network, stats_network: Network, inplace, data, preprocessing, options) -> dict[str, str]:
    """The key of a ``quantize`` run (module docstring), ``{part: digest}`` over ``PARTS``.

    ``data`` and ``preprocessing`` are JSON-able descriptions built from ``images_digest`` and
    ``preprocess_digest``; ``options`` a JSON-able mapping."""
    nets = [network] if stats_network is network else [network, stats_network]
    structure = [structure_digest(n) for n in nets]
    if inplace:
        structure.append(_plain(inplace))
    return {
        "network": digest(structure),
        "weights": digest([weights_digest(n) for n in nets]),
        "data": digest(data),
        "preprocessing": digest(preprocessing),
        "options": digest(options),
        "tool version": f"ristretto-sim {ristretto_sim.__version__}, state format {STATE_FORMAT}",
    }


__all__ = ["PARTS", "STATE_FORMAT", "array_digest", "digest", "images_digest", "preprocess_digest", "run_key",
           "structure_digest", "weights_digest"]
