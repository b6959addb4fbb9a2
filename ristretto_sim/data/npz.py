"""Labelled model inputs in a NumPy ``.npz`` file, for models whose inputs no image loader produces: an int8 model's
input codes (MLPerf Tiny's keyword-spotting features, ship no dataset), in the model file's own layout.

The file holds ``x`` (``(N, ...)``: one model input per sample, as the model file takes it: NHWC for a TFLite
model) and ``y`` (``(N,)`` integer class labels); ``inputs``/``labels`` are accepted as the same arrays'
names. ``np.savez("kws_test.npz", x=codes, y=labels)`` writes one. ``load_inputs`` checks the file and returns an
``InputSet``; the arrays are read into memory (``np.load``), not pickled objects (``allow_pickle=False``).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ristretto_sim.errors import DataError

#: accepted names of the two arrays
X_KEYS, Y_KEYS = ("x", "inputs"), ("y", "labels")


@dataclass(frozen=True, eq=False)
class InputSet:
    """Model inputs ``x`` (``(N, ...)``, model layout) and labels ``y`` (``(N,)`` int64) from ``source``."""

    x: np.ndarray
    y: np.ndarray
    source: str

    def __post_init__(self):
        x, y = np.asarray(self.x), np.asarray(self.y)
        if x.ndim < 2:
            raise DataError(f"{self.source}: x has shape {x.shape}; it must be (N, ...), one model input per sample")
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(f"{self.source}: y has shape {y.shape}; it must be ({len(x)},), one label per sample")
        if y.dtype.kind not in "iu":
            raise DataError(f"{self.source}: y must hold integer class labels, got dtype {y.dtype}")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y.astype(np.int64))

    @property
    def name(self) -> str:
        return Path(self.source).stem

    def __len__(self) -> int:
        return len(self.x)


def is_npz(spec) -> bool:
    """Whether a ``--data`` spec names an ``.npz`` file."""
    return isinstance(spec, (str, Path)) and str(spec).lower().endswith(".npz")


def load_inputs(path) -> InputSet:
    """Read an ``.npz`` input set (module docstring); ``DataError`` naming the file and what is wrong."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file (an .npz with x, the model inputs, and y, their labels: "
                        "np.savez(path, x=inputs, y=labels))")
    try:
        with np.load(p, allow_pickle=False) as f:
            keys = set(f.files)
            xk = next((k for k in X_KEYS if k in keys), None)
            yk = next((k for k in Y_KEYS if k in keys), None)
            if xk is None or yk is None:
                raise DataError(f"{p}: holds {', '.join(sorted(keys)) or 'no arrays'}; it needs x (or inputs) and y "
                                "(or labels)")
            x, y = f[xk], f[yk]
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"{p}: not a readable .npz file ({exc})") from None
    return InputSet(x, y, str(p))
