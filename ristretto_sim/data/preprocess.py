"""How raw pixels become network inputs: ``Preprocessing`` (Caffe's ``transform_param`` and ``DataTransformer``).

``x = (pixel - mean) * scale`` on a crop of the image, optionally mirrored, as Caffe's ``DataTransformer`` does:
the mean (one value per channel, or a whole mean image from a ``mean_file``) is subtracted first, then the
result is multiplied by ``scale``. A mean image has the uncropped size and Caffe indexes it at the crop
offsets, which equals subtracting it and then cropping. The phase decides the crop and the mirror:

* TEST: the centre crop, offsets ``(h - crop) // 2`` and ``(w - crop) // 2`` (integer division);
* TRAIN: a random crop per image, ``h_off = Rand(h - crop + 1)``, ``w_off = Rand(w - crop + 1)``;
* both phases, when ``mirror`` is set: each image is flipped horizontally with probability 1/2
  (``do_mirror = mirror && Rand(2)``); without a crop the offsets are 0.

The random draws come from a seeded NumPy generator, not from Caffe's RNG (whose stream, a Boost mt19937 shared
with the rest of the net and the prefetch threads, cannot be reproduced): the same distribution, not the same
images. Each image's draws depend only on the seed and its index in the dataset (generators seeded with
``(seed, block)`` for blocks of 4096 images), so results are reproducible and independent of how the images are
split into chunks (``start`` gives a chunk's first index). Preprocessing belongs to a model's description (Caffe
LeNet: ``scale = 1/256``; ONNX mnist-8: ``1/255``), never to the dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Preprocessing:
    """Pixel transform ``(pixel - mean) * scale`` on a crop, optionally mirrored (module docstring).

    Parameters
    ----------
    scale : float
        Multiplier applied after the mean subtraction.
    mean : tuple of float
        Per-channel mean (Caffe's channel order); empty for none, one value for all channels.
    mean_image : numpy.ndarray or None
        A full ``(C, H, W)`` mean image (Caffe ``mean_file``); exclusive with ``mean``. Subtracted before
        cropping, as Caffe does (the mean image has the uncropped size).
    crop_size : int
        Side of the square crop (TEST phase: centred; TRAIN phase: at random offsets); 0 for none.
    mirror : bool
        Flip each image horizontally with probability 1/2 (Caffe's ``transform_param.mirror``, both phases).
    """

    scale: float = 1.0
    mean: tuple[float, ...] = ()
    mean_image: np.ndarray | None = None
    crop_size: int = 0
    mirror: bool = False

    def __post_init__(self):
        scale = float(self.scale)
        if not np.isfinite(scale):
            raise ValueError(f"scale={self.scale!r} must be finite")
        object.__setattr__(self, "scale", scale)
        mean = tuple(float(m) for m in np.atleast_1d(np.asarray(self.mean, dtype=np.float64)))
        object.__setattr__(self, "mean", mean)
        if self.mean_image is not None:
            if mean:
                raise ValueError("give either mean or mean_image, not both "
                                 "(Caffe forbids mean_file with mean_value)")
            img = np.asarray(self.mean_image, dtype=np.float32)
            if img.ndim != 3:
                raise ValueError(f"mean_image must be (C, H, W), got shape {img.shape}")
            img = img.copy()
            img.flags.writeable = False
            object.__setattr__(self, "mean_image", img)
        if isinstance(self.crop_size, bool) or int(self.crop_size) != self.crop_size or self.crop_size < 0:
            raise ValueError(f"crop_size={self.crop_size!r} must be a non-negative integer")
        object.__setattr__(self, "crop_size", int(self.crop_size))
        if not isinstance(self.mirror, (bool, np.bool_)):
            raise TypeError(f"mirror={self.mirror!r} must be a bool")
        object.__setattr__(self, "mirror", bool(self.mirror))

    def __eq__(self, other):
        if not isinstance(other, Preprocessing):
            return NotImplemented
        same_image = (self.mean_image is None and other.mean_image is None) or (
            self.mean_image is not None and other.mean_image is not None
            and np.array_equal(self.mean_image, other.mean_image))
        mine = (self.scale, self.mean, self.crop_size, self.mirror)
        theirs = (other.scale, other.mean, other.crop_size, other.mirror)
        return mine == theirs and same_image

    def __hash__(self):
        return hash((self.scale, self.mean, self.crop_size, self.mirror))

    def output_shape(self, shape: tuple[int, int, int]) -> tuple[int, int, int]:
        """Shape ``(C, H, W)`` of a preprocessed image of raw shape ``shape``."""
        c, h, w = shape
        if self.crop_size:
            if self.crop_size > h or self.crop_size > w:
                raise ValueError(f"crop_size={self.crop_size} exceeds the image size {h}x{w}")
            return c, self.crop_size, self.crop_size
        return c, h, w

    def is_random(self, phase: str = "TEST") -> bool:
        """The transform draws random numbers in ``phase`` (a mirror, or a TRAIN-phase crop)."""
        return self.mirror or (_phase(phase) == "TRAIN" and self.crop_size > 0)

    def describe(self, phase: str = "TEST", seed: int = 0) -> str:
        """``"TRAIN transform: random crop 227, mirror, seed 0"``, for reports."""
        phase = _phase(phase)
        parts = []
        if self.crop_size:
            parts.append(f"{'random' if phase == 'TRAIN' else 'centre'} crop {self.crop_size}")
        if self.mirror:
            parts.append("mirror")
        if self.is_random(phase):
            parts.append(f"seed {seed}")
        return f"{phase} transform: " + (", ".join(parts) if parts else "no crop, no mirror")

    def draws(self, count: int, size: tuple[int, int], *, phase: str = "TEST", seed: int = 0,
              start: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(flip, top, left)`` of images ``start .. start + count - 1`` of raw size ``size = (h, w)``: whether
        each is mirrored and its crop offsets (module docstring)."""
        phase = _phase(phase)
        h, w = (int(d) for d in size)
        _, ch, cw = self.output_shape((1, h, w))
        top = np.full(count, (h - ch) // 2, dtype=np.int64)
        left = np.full(count, (w - cw) // 2, dtype=np.int64)
        flip = np.zeros(count, dtype=bool)
        if not self.is_random(phase) or count == 0:
            return flip, top, left
        u = _uniforms(seed, start, count)
        if self.mirror:
            flip = u[:, 0] < 0.5
        if phase == "TRAIN" and self.crop_size:
            top = np.minimum((u[:, 1] * (h - ch + 1)).astype(np.int64), h - ch)
            left = np.minimum((u[:, 2] * (w - cw + 1)).astype(np.int64), w - cw)
        return flip, top, left

    def __call__(self, pixels, *, phase: str = "TEST", seed: int = 0, start: int = 0) -> np.ndarray:
        """Apply the transform to a batch of raw pixels ``(N, C, H, W)``; returns float32 NCHW.

        ``phase`` chooses Caffe's TEST (centre crop) or TRAIN (random crop) transform; ``seed`` and ``start`` (the
        index of the first image in its dataset) fix the random crops and mirrors.
        """
        x = np.asarray(pixels)
        if x.ndim != 4:
            raise ValueError(f"pixels must be NCHW (4-D), got shape {x.shape}")
        n, c, h, w = x.shape
        _, ch, cw = self.output_shape(x.shape[1:])
        mean_image = self.mean_image
        if mean_image is not None and mean_image.shape != x.shape[1:]:
            raise ValueError(f"mean_image shape {mean_image.shape} does not match images {x.shape[1:]}")
        flip, top, left = self.draws(n, (h, w), phase=phase, seed=seed, start=start)
        if not flip.any() and (n == 0 or (np.all(top == top[0]) and np.all(left == left[0]))):
            t, lo = (int(top[0]), int(left[0])) if n else (0, 0)
            x = x[:, :, t:t + ch, lo:lo + cw]
            if mean_image is not None:
                mean_image = mean_image[:, t:t + ch, lo:lo + cw]
        else:  # per-image offsets and flips: gather the crops (and the mean image at the same places)
            rows = (top[:, None] + np.arange(ch))[:, None, :, None]
            cols = left[:, None] + np.arange(cw)
            cols = np.where(flip[:, None], cols[:, ::-1], cols)[:, None, None, :]
            chans = np.arange(c)[None, :, None, None]
            x = x[np.arange(n)[:, None, None, None], chans, rows, cols]
            if mean_image is not None:
                mean_image = mean_image[chans, rows, cols]
        x = x.astype(np.float32)
        if mean_image is not None:
            x = x - mean_image
        elif self.mean:
            if len(self.mean) not in (1, c):
                raise ValueError(f"{len(self.mean)} mean values for {c} channels")
            mean = np.asarray(self.mean, dtype=np.float32)
            x = x - (mean[0] if mean.size == 1 else mean.reshape(1, c, 1, 1))
        if self.scale != 1.0:
            x = x * np.float32(self.scale)
        return np.ascontiguousarray(x, dtype=np.float32)


def override(base: Preprocessing | None, *, scale: float | None = None, mean=None) -> Preprocessing | None:
    """``base`` with a user's ``scale`` and/or ``mean`` (CLI ``--input-scale``/``--input-mean``) in place of its
    own: its crop and mirror are kept, a given mean replaces a mean image; ``base`` itself when neither is given;
    ``(pixel - mean) * scale`` from scratch (scale 1, no mean by default) when there is no base."""
    if scale is None and mean is None:
        return base
    if base is None:
        return Preprocessing(scale=1.0 if scale is None else scale, mean=() if mean is None else mean)
    changes = {} if scale is None else {"scale": scale}
    if mean is not None:
        changes.update(mean=mean, mean_image=None)
    return replace(base, **changes)


_BLOCK = 4096


def _phase(phase) -> str:
    p = str(phase).upper()
    if p not in ("TRAIN", "TEST"):
        raise ValueError(f"phase={phase!r} must be 'TRAIN' or 'TEST'")
    return p


def _uniforms(seed: int, start: int, count: int) -> np.ndarray:
    """``(count, 3)`` uniforms in [0, 1) for images ``start ..``: row i depends only on ``seed`` and ``start + i``."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative integer")
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or start < 0:
        raise ValueError(f"start={start!r} must be a non-negative integer")
    first, last = start // _BLOCK, (start + count - 1) // _BLOCK
    blocks = [np.random.default_rng([int(seed), b]).random((_BLOCK, 3)) for b in range(first, last + 1)]
    u = np.concatenate(blocks)
    offset = start - first * _BLOCK
    return u[offset:offset + count]
