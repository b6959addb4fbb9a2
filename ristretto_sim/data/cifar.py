"""CIFAR-10 from the standard distribution: the python batches (``cifar-10-batches-py``) or the binary ones.

Python version: pickled dicts ``data_batch_1`` .. ``data_batch_5`` and ``test_batch`` with ``data`` (N x
3072 uint8, channel-major RGB) and ``labels``; ``batches.meta`` names the classes. Binary version:
``data_batch_{1..5}.bin`` and ``test_batch.bin``, records of 1 label byte + 3072 pixel bytes;
``batches.meta.txt`` names the classes. The pickles are read with a restricted unpickler that only rebuilds
plain containers and NumPy arrays. ``load_cifar10`` reads a split into memory; ``CifarSource`` reads it a batch
at a time (binary records at the batch's offset; one python batch file unpickled at a time), holding the labels.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ristretto_sim.data.dataset import Dataset
from ristretto_sim.data.source import ImageSource, check_batch_size
from ristretto_sim.errors import DataError

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_RECORD_BYTES = 1 + 3 * 32 * 32
_BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
HOW_TO_GET = ("put the CIFAR-10 batches there: the python version (cifar-10-python.tar.gz, unpacked to "
              "cifar-10-batches-py/) or the binary version (cifar-10-binary.tar.gz, unpacked to "
              "cifar-10-batches-bin/) "
              "from https://www.cs.toronto.edu/~kriz/cifar.html; ristretto-sim never downloads")

_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR-10 batch")


def _resolve(directory: Path) -> Path:
    for sub in ("", "cifar-10-batches-py", "cifar-10-batches-bin"):
        d = directory / sub if sub else directory
        if (d / "test_batch").is_file() or (d / "test_batch.bin").is_file():
            return d
    raise DataError(f"{directory}: no CIFAR-10 batches (test_batch or test_batch.bin); {HOW_TO_GET}")


def _read_python_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        batch = _SafeUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise DataError(f"{path}: not a CIFAR-10 python batch ({exc})") from None
    if not isinstance(batch, dict):
        raise DataError(f"{path}: not a CIFAR-10 python batch (no dict)")
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise DataError(f"{path}: CIFAR-10 batch lacks 'data' or 'labels'")
    data = np.asarray(batch["data"], dtype=np.uint8)
    labels = np.asarray(batch["labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (data.shape[0],):
        raise DataError(f"{path}: data shape {data.shape} / labels shape {labels.shape} are not CIFAR-10's")
    return data.reshape(-1, 3, 32, 32), labels


def _read_binary_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    if raw.size == 0 or raw.size % _RECORD_BYTES:
        raise DataError(f"{path}: {raw.size} bytes is not a whole number of "
                        f"{_RECORD_BYTES}-byte CIFAR-10 records")
    records = raw.reshape(-1, _RECORD_BYTES)
    return records[:, 1:].reshape(-1, 3, 32, 32), records[:, 0].astype(np.int64)


def load_cifar10(directory, split: str = "test") -> Dataset:
    """Load CIFAR-10 from a directory holding the python or the binary batches.

    Parameters
    ----------
    directory : str or os.PathLike
        The batch directory, or its parent (``cifar-10-batches-py``/``-bin`` is looked up inside).
    split : {"test", "train"}
        ``"test"`` (``test_batch``, 10,000 images) or ``"train"`` (the five data batches).

    Returns
    -------
    Dataset
        Images ``(N, 3, 32, 32)`` uint8 RGB, labels ``(N,)``.

    Raises
    ------
    DataError
        Missing directory or batches (the message says where to get them), or malformed files.
    """
    images, labels = [], []
    root, binary, paths = split_files(directory, split)
    for path in paths:
        x, y = read_batch(path, binary)
        images.append(x)
        labels.append(y)
    labels = np.concatenate(labels)
    check_labels(labels, root)
    return Dataset(np.concatenate(images), labels, name="cifar10", split=split, source=str(root),
                   pixel_max=255.0, classes=CLASSES)


def split_files(directory, split: str) -> tuple[Path, bool, list[Path]]:
    """``(batch directory, binary?, the split's batch files)``; ``DataError`` saying where to get missing ones."""
    if split not in _BATCHES:
        raise ValueError(f"split={split!r} must be one of {sorted(_BATCHES)}")
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"CIFAR-10 directory {directory} does not exist: {HOW_TO_GET}")
    root = _resolve(directory)
    binary = not (root / "test_batch").is_file()
    paths = []
    for stem in _BATCHES[split]:
        path = root / (stem + ".bin" if binary else stem)
        if not path.is_file():
            raise DataError(f"{root}: missing {path.name} for the {split} split; {HOW_TO_GET}")
        paths.append(path)
    return root, binary, paths


def read_batch(path: Path, binary: bool) -> tuple[np.ndarray, np.ndarray]:
    """One batch file's images ``(N, 3, 32, 32)`` uint8 and labels."""
    return (_read_binary_batch if binary else _read_python_batch)(path)


def check_labels(labels: np.ndarray, root: Path) -> None:
    """``DataError`` unless every label is a class index 0..9."""
    if labels.size and labels.max() > 9:
        raise DataError(f"{root}: label {int(labels.max())} outside 0..9")


class CifarSource(ImageSource):
    """One CIFAR-10 split read a batch at a time. Binary batches: the labels are read at once (one byte per
    3,073-byte record) and each batch's records at their offset; python batches: each file is unpickled once to
    count its images and take its labels, and again, one file at a time, when its images are read. The checks
    and messages are ``load_cifar10``'s."""

    def __init__(self, directory, split: str = "test"):
        root, self.binary, self.paths = split_files(directory, split)
        labels, self.counts = [], []
        for path in self.paths:
            y = self._binary_labels(path) if self.binary else _read_python_batch(path)[1]
            labels.append(y)
            self.counts.append(len(y))
        self.labels = np.concatenate(labels)
        check_labels(self.labels, root)
        self.labels.flags.writeable = False
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)
        self.name, self.split, self.source = "cifar10", split, str(root)
        self.shape, self.dtype = (3, 32, 32), np.dtype(np.uint8)

    @staticmethod
    def _binary_labels(path: Path) -> np.ndarray:
        size = path.stat().st_size
        if size == 0 or size % _RECORD_BYTES:
            raise DataError(f"{path}: {size} bytes is not a whole number of "
                            f"{_RECORD_BYTES}-byte CIFAR-10 records")
        labels = []
        with open(path, "rb") as f:  # the first byte of every record, 1,024 records at a time
            while chunk := f.read(1024 * _RECORD_BYTES):
                labels.append(np.frombuffer(chunk, dtype=np.uint8)[::_RECORD_BYTES])
        return np.concatenate(labels).astype(np.int64)

    @property
    def classes(self) -> tuple[str, ...]:
        return CLASSES

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def batches(self, batch_size: int, start: int = 0, limit: int | None = None
                ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        batch_size = check_batch_size(batch_size)
        stop = self.stop(start, limit)
        loaded: tuple[int, np.ndarray] | None = None  # the python batch file in memory: (index, images)
        for first in range(start, stop, batch_size):
            last = min(first + batch_size, stop)
            parts = []
            for k in range(int(np.searchsorted(self.offsets, first, "right")) - 1, len(self.paths)):
                lo, hi = max(first, int(self.offsets[k])), min(last, int(self.offsets[k + 1]))
                if lo >= hi:
                    break
                a, b = lo - int(self.offsets[k]), hi - int(self.offsets[k])
                if self.binary:
                    parts.append(self._binary_images(self.paths[k], a, b))
                else:
                    if loaded is None or loaded[0] != k:
                        loaded = None  # drop the previous file before unpickling the next
                        loaded = (k, _read_python_batch(self.paths[k])[0])
                    parts.append(loaded[1][a:b])
            images = parts[0] if len(parts) == 1 else np.concatenate(parts)
            del parts
            yield images, self.labels[first:last]
            del images  # not held while the next batch is read

    @staticmethod
    def _binary_images(path: Path, a: int, b: int) -> np.ndarray:
        try:
            raw = np.fromfile(path, dtype=np.uint8, count=(b - a) * _RECORD_BYTES, offset=a * _RECORD_BYTES)
        except OSError as exc:
            raise DataError(f"{path}: cannot read ({exc})") from None
        if raw.size != (b - a) * _RECORD_BYTES:
            raise DataError(f"{path}: the file ended inside record {a + raw.size // _RECORD_BYTES}")
        return raw.reshape(-1, _RECORD_BYTES)[:, 1:].reshape(-1, 3, 32, 32)
