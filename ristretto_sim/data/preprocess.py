"""How raw pixels become network inputs: ``Preprocessing`` (Caffe's ``transform_param`` order).

``x = (pixel - mean) * scale``, then an optional centre crop, exactly as Caffe's ``DataTransformer`` does in
the TEST phase: the mean (one value per channel, or a whole mean image from a ``mean_file``) is subtracted
first, then the result is multiplied by ``scale``. Preprocessing belongs to a model's description (Caffe
LeNet: ``scale = 1/256``; ONNX mnist-8: ``1/255``), never to the dataset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Preprocessing:
    """Pixel transform ``(pixel - mean) * scale`` followed by an optional centre crop.

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
        Side of the square centre crop (TEST phase); 0 for none.
    """

    scale: float = 1.0
    mean: tuple[float, ...] = ()
    mean_image: np.ndarray | None = None
    crop_size: int = 0

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

    def __eq__(self, other):
        if not isinstance(other, Preprocessing):
            return NotImplemented
        same_image = (self.mean_image is None and other.mean_image is None) or (
            self.mean_image is not None and other.mean_image is not None
            and np.array_equal(self.mean_image, other.mean_image))
        mine, theirs = (self.scale, self.mean, self.crop_size), (other.scale, other.mean, other.crop_size)
        return mine == theirs and same_image

    def __hash__(self):
        return hash((self.scale, self.mean, self.crop_size))

    def output_shape(self, shape: tuple[int, int, int]) -> tuple[int, int, int]:
        """Shape ``(C, H, W)`` of a preprocessed image of raw shape ``shape``."""
        c, h, w = shape
        if self.crop_size:
            if self.crop_size > h or self.crop_size > w:
                raise ValueError(f"crop_size={self.crop_size} exceeds the image size {h}x{w}")
            return c, self.crop_size, self.crop_size
        return c, h, w

    def __call__(self, pixels) -> np.ndarray:
        """Apply the transform to a batch of raw pixels ``(N, C, H, W)``; returns float32 NCHW."""
        x = np.asarray(pixels)
        if x.ndim != 4:
            raise ValueError(f"pixels must be NCHW (4-D), got shape {x.shape}")
        x = x.astype(np.float32)
        c = x.shape[1]
        if self.mean_image is not None:
            if self.mean_image.shape != x.shape[1:]:
                raise ValueError(f"mean_image shape {self.mean_image.shape} does not match "
                                 f"images {x.shape[1:]}")
            x = x - self.mean_image
        elif self.mean:
            if len(self.mean) not in (1, c):
                raise ValueError(f"{len(self.mean)} mean values for {c} channels")
            mean = np.asarray(self.mean, dtype=np.float32)
            x = x - (mean[0] if mean.size == 1 else mean.reshape(1, c, 1, 1))
        if self.scale != 1.0:
            x = x * np.float32(self.scale)
        if self.crop_size:
            _, _, h, w = x.shape
            _, ch, cw = self.output_shape(x.shape[1:])
            top, left = (h - ch) // 2, (w - cw) // 2  # Caffe TEST phase: centre crop, integer division
            x = x[:, :, top:top + ch, left:left + cw]
        return np.ascontiguousarray(x, dtype=np.float32)
