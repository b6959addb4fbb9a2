"""``LayerKind`` and ``LayerOp``: which weighted operation a layer is and its shape facts (output channels,
reduction length K, products), derived once from the operands so every datapath reads the same numbers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ristretto_sim.emulator.im2col import ConvGeometry, transposed_as_direct
from ristretto_sim.enums import NamedEnum


class LayerKind(NamedEnum):
    """The layer types the emulator computes with a datapath."""

    LINEAR = "linear"
    CONV2D = "conv2d"
    CONV_TRANSPOSE2D = "conv_transpose2d"


def as_float(x, name: str) -> np.ndarray:
    """``x`` as float64 (real numbers only: ``TypeError`` naming ``name`` otherwise)."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def reduction_length(kind: LayerKind, w_shape, geometry: ConvGeometry | None) -> int:
    """K, the products summed into one output: in_features; C/groups x kh x kw; C_in/groups x kh x kw for a
    transposed convolution (its weights are ``(C_in, C_out/groups, kh, kw)``)."""
    if kind is LayerKind.LINEAR:
        return int(w_shape[1])
    if kind is LayerKind.CONV2D:
        return int(w_shape[1] * w_shape[2] * w_shape[3])
    return int(w_shape[0] // geometry.groups * w_shape[2] * w_shape[3])


def output_channels(kind: LayerKind, w_shape, geometry: ConvGeometry | None) -> int:
    """Output channels (features) of the layer, from its weight shape."""
    if kind is LayerKind.CONV_TRANSPOSE2D:
        return int(w_shape[1] * geometry.groups)
    return int(w_shape[0])


@dataclass(frozen=True)
class LayerOp:
    """One weighted operation: its kind, its convolution geometry (None for linear layers), its weight shape,
    and what follows from them.

    Attributes
    ----------
    n_out : int
        Output channels (features).
    k : int
        Reduction length.
    channel_axis : int
        Axis of the output channels in the output (1 for NCHW; the last axis of a linear layer's output is
        given by the input's rank, see :meth:`output_axis`).
    """

    kind: LayerKind
    geometry: ConvGeometry | None
    w_shape: tuple

    @classmethod
    def of(cls, kind, w: np.ndarray, geometry: ConvGeometry | None = None) -> LayerOp:
        """Validate ``kind``/``geometry`` (linear layers take none; convolutions default to stride 1, no
        padding) and build the op for weights ``w``."""
        kind = LayerKind.coerce(kind, "kind")
        if kind is LayerKind.LINEAR:
            if geometry is not None:
                raise ValueError("geometry is for convolutions; a linear layer takes none")
        else:
            geometry = ConvGeometry() if geometry is None else geometry
            if not isinstance(geometry, ConvGeometry):
                raise TypeError(f"geometry={geometry!r} must be a ConvGeometry")
        return cls(kind, geometry, tuple(np.shape(w)))

    @property
    def n_out(self) -> int:
        return output_channels(self.kind, self.w_shape, self.geometry)

    @property
    def k(self) -> int:
        return reduction_length(self.kind, self.w_shape, self.geometry)

    @property
    def linear(self) -> bool:
        return self.kind is LayerKind.LINEAR

    def output_axis(self, ndim: int) -> int:
        """Axis of the output channels in an output of rank ``ndim``."""
        return ndim - 1 if self.linear else 1

    def check_shapes(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> None:
        """``ValueError`` naming the mismatch when ``x``, ``w`` and ``b`` do not fit each other."""
        kind, g = self.kind, self.geometry
        if kind is LayerKind.LINEAR:
            if w.ndim != 2:
                raise ValueError(f"weights must be (out_features, in_features), got shape {w.shape}")
            if x.ndim < 1 or x.shape[-1] != w.shape[1]:
                raise ValueError(
                    f"shape mismatch: input {x.shape} has {x.shape[-1] if x.ndim else 0} features, "
                    f"weights {w.shape} expect {w.shape[1]}"
                )
        else:
            if x.ndim != 4 or w.ndim != 4:
                raise ValueError(f"input must be NCHW and weights 4-D; got {x.shape} and {w.shape}")
            groups = g.groups
            if kind is LayerKind.CONV2D:
                if w.shape[1] * groups != x.shape[1] or w.shape[0] % groups:
                    raise ValueError(
                        f"shape mismatch: weights {w.shape} with groups={groups} need {w.shape[1] * groups} "
                        f"input channels; input {x.shape}"
                    )
            elif w.shape[0] != x.shape[1] or w.shape[0] % groups:
                raise ValueError(f"shape mismatch: weights {w.shape} need {w.shape[0]} input channels; input {x.shape}")
        if b is not None and b.shape != (self.n_out,):
            raise ValueError(f"bias has shape {b.shape}, expected ({self.n_out},)")

    def macs(self, x: np.ndarray, n_outputs: int) -> int:
        """Products computed: outputs x K; for a transposed convolution, every input pixel times every kernel tap
        (the zeros the direct form inserts are not counted)."""
        if self.kind is LayerKind.CONV_TRANSPOSE2D:
            w = self.w_shape
            return int(x.size) * int(w[1] * w[2] * w[3])
        return n_outputs * self.k

    def direct_operands(self, x, w):
        """``(x, w, pad, geometry)`` of the direct convolution computing this conv / transposed conv."""
        if self.kind is LayerKind.CONV2D:
            return x, w, self.geometry.padding, self.geometry
        return transposed_as_direct(x, w, self.geometry)
