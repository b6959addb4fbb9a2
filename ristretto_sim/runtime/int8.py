"""Running an int8 model on its codes, as the TFLite interpreter does: int8 (or uint8) tensors in the model's own
layout in, int8 tensors out, every intermediate by its name in the model file when asked (like the interpreter's
``experimental_preserve_all_tensors``).

The plan is the model's embedded one (``graph.plan.embedded_plan``: every tensor's affine format) unless another
is given; the run is exact mode (``executor``): the MAC layers on the emulator's ``affine`` datapath, the other
layers on TFLite's integer operators (``affine_ops``). Tensors the network adds (names with ``#``: a fused
activation's input, a transpose to NHWC) are not returned. Image tensors are returned NHWC for a model that takes
NHWC input (TFLite), as the network's NCHW otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ristretto_sim.errors import PlanError
from ristretto_sim.graph.network import Layout, Network
from ristretto_sim.graph.plan import QuantPlan, embedded_plan
from ristretto_sim.runtime.affine_ops import affine_formats
from ristretto_sim.runtime.executor import run_network


@dataclass(frozen=True, eq=False)
class Int8Result:
    """Output codes by tensor name (``outputs``), the kept intermediate codes (``tensors``), and the run's
    per-layer statistics (``layer_stats``) and notes."""

    outputs: dict
    tensors: dict
    layer_stats: dict
    notes: tuple

    @property
    def output(self) -> np.ndarray:
        if len(self.outputs) != 1:
            raise ValueError(f"the network has {len(self.outputs)} outputs: {list(self.outputs)}")
        return next(iter(self.outputs.values()))


def int8_plan(network: Network, plan: QuantPlan | None = None) -> QuantPlan:
    """``plan``, else the network's embedded plan (``PlanError`` if it has none)."""
    if plan is not None:
        return plan
    found = embedded_plan(network)
    if found is None:
        raise PlanError(f"network {network.name!r} carries no int8 plan (import an int8 TFLite model, or give one)")
    return found


def is_int8(network: Network) -> bool:
    """Whether the network carries an embedded int8 plan (an imported int8 TFLite model)."""
    return embedded_plan(network) is not None


def input_codes_origin(network: Network) -> str:
    """Where an int8 model's input codes come from, for messages: the TFLite interpreter takes them as they are;
    an ONNX integer model's graph makes them with its input ``QuantizeLinear``, which the import leaves out."""
    if network.metadata.get("format") == "onnx-qlinear":
        return "as the graph's input QuantizeLinear makes them"
    return "as the TFLite interpreter takes them"


def _model_layout(network: Network, codes: np.ndarray) -> np.ndarray:
    if network.input_layout is Layout.NHWC and codes.ndim == 4:
        return codes.transpose(0, 2, 3, 1)
    return codes


def _dtype(fmt):
    return np.dtype(f"{'int' if fmt.signed else 'uint'}{max(8, 1 << (fmt.bits - 1).bit_length())}")


def model_tensors(network: Network) -> tuple[str, ...]:
    """The tensors of ``network`` that are tensors of its model file (every name without ``#``)."""
    return tuple(t for t in network.tensor_shapes if "#" not in t)


def run_int8(network: Network, x, plan: QuantPlan | None = None, *, keep: Iterable[str] = (),
             batch_size: int = 256) -> Int8Result:
    """Run ``network`` on the integer codes ``x`` (``(N, ...)`` in the model's layout; one sample without the batch
    axis is accepted) and return its output codes (and the ``keep`` tensors' codes, ``"*"``: all of the model
    file's tensors).

    Raises
    ------
    PlanError
        If the network has no int8 plan or a tensor asked for has no affine format.
    ValueError
        If ``x`` is not integers within the input format's codes, or does not fit the input shape.
    """
    plan = int8_plan(network, plan)
    formats = affine_formats(network, plan)
    name = network.input.name
    fin = formats.get(name)
    if fin is None:
        raise PlanError(f"network {network.name!r}: the plan gives its input {name!r} no affine format")
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"input must be integer codes ({_dtype(fin)}), got dtype {arr.dtype}; quantize float "
                         f"inputs with {fin.short()}.encode first")
    keep = (keep,) if isinstance(keep, str) else tuple(keep)
    wanted = model_tensors(network) if "*" in keep else keep
    for t in wanted:
        if t not in formats:
            raise PlanError(f"tensor {t!r} has no affine format in the plan (tensors: {', '.join(formats)})")
    values = fin.decode(arr.astype(np.int64))
    res = run_network(network, values, plan, "exact", record=False, keep=wanted, layout="model",
                      batch_size=batch_size)

    def codes(t, v):
        f = formats[t]
        return _model_layout(network, f.encode(v)).astype(_dtype(f))

    outputs = {t: codes(t, v) for t, v in res.outputs.items()}
    tensors = {t: codes(t, v) for t, v in res.tensors.items() if t in wanted}
    if name in wanted:  # as given, in the model's layout
        tensors[name] = (arr[None] if arr.ndim == len(network.input.shape) else arr).astype(_dtype(fin))
    return Int8Result(outputs, tensors, res.layer_stats, res.notes)


@dataclass(frozen=True)
class TensorDifference:
    """How one tensor differs between two runs over a set of inputs: codes compared, codes that differ, the
    largest difference in codes, the inputs on which it differs."""

    name: str
    shape: tuple
    codes: int
    differing: int
    max_abs: int
    inputs_differing: int

    def as_dict(self) -> dict:
        return {"tensor": self.name, "shape": list(self.shape), "codes": self.codes, "differing": self.differing,
                "max_abs_difference": self.max_abs, "inputs_differing": self.inputs_differing}


def tensor_differences(runs) -> list[TensorDifference]:
    """Per tensor, how ``ours`` differs from ``theirs`` over ``runs``: pairs of dicts (tensor name -> codes), one
    pair per input; tensors missing from ``theirs`` are skipped."""
    acc: dict = {}
    for ours, theirs in runs:
        for t, a in ours.items():
            if t not in theirs:
                continue
            b = theirs[t]
            if a.shape != b.shape:
                raise ValueError(f"tensor {t!r}: shape {a.shape} here, {b.shape} in the interpreter")
            d = np.abs(a.astype(np.int64) - b.astype(np.int64))
            n, k, m, i = acc.get(t, (0, 0, 0, 0))
            nz = int(np.count_nonzero(d))
            acc[t] = (n + d.size, k + nz, max(m, int(d.max()) if d.size else 0), i + (nz > 0))
            acc.setdefault(("shape", t), a.shape)
    return [TensorDifference(t, tuple(acc[("shape", t)]), *v) for t, v in acc.items() if not isinstance(t, tuple)]
