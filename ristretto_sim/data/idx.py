"""MNIST and Fashion-MNIST from IDX files (``*-idx3-ubyte`` images, ``*-idx1-ubyte`` labels, raw or ``.gz``).

The IDX header is big-endian: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions,
then one 32-bit size per dimension. A directory holding the standard four files has a ``train`` and a
``test`` split; one holding only the ``t10k-*`` files is the test split. ``load_idx`` reads a split into memory;
``IdxSource`` reads its images a batch at a time (plain reads at the batch's offset, or one pass through the gzip
stream), holding only the labels.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ristretto_sim.data.dataset import Dataset
from ristretto_sim.data.source import ImageSource, check_batch_size
from ristretto_sim.errors import DataError

_DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
           0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_PREFIX = {"train": "train", "test": "t10k"}
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

HOW_TO_GET = (
    "put the IDX files (t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz], plus train-* for "
    "the training split) in that directory; MNIST is published at "
    "https://yann.lecun.com/exdb/mnist/ (mirror: "
    "github.com/kelas/mnist), Fashion-MNIST at github.com/zalandoresearch/fashion-mnist or in Debian's "
    "'dataset-fashion-mnist' package (files in /usr/share/datasets/fashion-mnist/); "
    "ristretto-sim never downloads"
)


def read_idx(path) -> np.ndarray:
    """Read one IDX file (raw or gzip-compressed) into an array of its declared shape and type.

    Parameters
    ----------
    path : str or os.PathLike
        The file; gzip compression is detected from the content, not the name.

    Returns
    -------
    numpy.ndarray
        Native-endian array (``uint8`` for MNIST files).

    Raises
    ------
    DataError
        If the file is missing, truncated or not an IDX file.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read IDX file ({exc.strerror or exc})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(f"{path}: corrupt gzip data ({exc})") from None
    dtype, shape, header = parse_header(raw, path)
    count = int(np.prod(shape, dtype=np.int64))
    if len(raw) - header != count * dtype.itemsize:
        raise DataError(f"{path}: IDX payload has {len(raw) - header} bytes, header {shape} needs "
                        f"{count * dtype.itemsize}")
    return np.frombuffer(raw, dtype=dtype, count=count, offset=header).astype(dtype.newbyteorder("="))\
        .reshape(shape)


def parse_header(raw: bytes, path) -> tuple[np.dtype, tuple[int, ...], int]:
    """``(big-endian dtype, shape, header length)`` from the first bytes of an IDX file (at least the whole
    header); ``DataError`` naming ``path`` when they are not an IDX header."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES or raw[3] == 0:
        raise DataError(f"{path}: not an IDX file (bad magic {raw[:4].hex() or 'empty'})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: IDX header truncated")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    return _DTYPES[raw[2]], shape, header


def _find(directory: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (directory / name).is_file():
            return directory / name
    return None


def idx_splits(directory) -> tuple[str, ...]:
    """The splits (``"train"``, ``"test"``) whose image and label files are both present in ``directory``."""
    directory = Path(directory)
    return tuple(split for split, prefix in _PREFIX.items()
                 if _find(directory, f"{prefix}-images-idx3-ubyte")
                 and _find(directory, f"{prefix}-labels-idx1-ubyte"))


def load_idx(directory, split: str = "test", *, name: str | None = None) -> Dataset:
    """Load MNIST or Fashion-MNIST from a directory of IDX files.

    Parameters
    ----------
    directory : str or os.PathLike
        Directory holding ``{train,t10k}-{images-idx3,labels-idx1}-ubyte`` files, raw or ``.gz``.
    split : {"test", "train"}
        Which split to load.
    name : str, optional
        Dataset name for reports; default ``"fashion-mnist"`` when the directory name contains "fashion",
        otherwise ``"mnist"``. Fashion-MNIST gets its class names.

    Returns
    -------
    Dataset
        Images ``(N, 1, 28, 28)`` uint8, labels ``(N,)``.

    Raises
    ------
    DataError
        If the directory or the split's files are missing (the message says where to put them and where to get
        them), or the files are malformed or disagree in length.
    """
    img_path, lbl_path = split_files(directory, split)
    images = read_idx(img_path)
    labels = read_idx(lbl_path)
    if images.ndim != 3:
        raise DataError(f"{img_path}: expected a 3-D image array (N, rows, cols), got shape {images.shape}")
    check_labels(labels, images.shape[0], img_path, lbl_path)
    name = dataset_name(directory, name)
    return Dataset(images[:, None, :, :], labels.astype(np.int64), name=name, split=split,
                   source=str(directory), pixel_max=255.0, classes=classes_of(name))


def split_files(directory, split: str) -> tuple[Path, Path]:
    """The image and label files of ``split`` in ``directory``; ``DataError`` saying where to put them."""
    directory = Path(directory)
    if split not in _PREFIX:
        raise ValueError(f"split={split!r} must be one of {sorted(_PREFIX)}")
    if not directory.is_dir():
        raise DataError(f"dataset directory {directory} does not exist: {HOW_TO_GET}")
    prefix = _PREFIX[split]
    img_path = _find(directory, f"{prefix}-images-idx3-ubyte")
    lbl_path = _find(directory, f"{prefix}-labels-idx1-ubyte")
    if img_path is None or lbl_path is None:
        have = idx_splits(directory)
        raise DataError(f"{directory}: no {split} split ({prefix}-images-idx3-ubyte[.gz] and "
                        f"{prefix}-labels-idx1-ubyte[.gz]); splits present: {', '.join(have) or 'none'}; "
                        f"{HOW_TO_GET}")
    return img_path, lbl_path


def check_labels(labels: np.ndarray, count: int, img_path: Path, lbl_path: Path) -> None:
    """``DataError`` unless ``labels`` are ``count`` digits 0..9 (one per image of ``img_path``)."""
    if labels.ndim != 1 or labels.shape[0] != count:
        raise DataError(f"{lbl_path}: {labels.shape[0] if labels.ndim == 1 else labels.shape} labels for "
                        f"{count} images in {img_path.name}")
    if labels.size and labels.max() > 9:
        raise DataError(f"{lbl_path}: label {int(labels.max())} outside 0..9")


def dataset_name(directory, name: str | None) -> str:
    """``name``, or ``"fashion-mnist"`` when the directory's path contains "fashion", else ``"mnist"``."""
    if name is not None:
        return name
    return "fashion-mnist" if "fashion" in str(Path(directory).resolve()).lower() else "mnist"


def classes_of(name: str) -> tuple[str, ...]:
    """Fashion-MNIST's class names for ``"fashion-mnist"``, the digits otherwise."""
    return FASHION_CLASSES if name == "fashion-mnist" else tuple(str(i) for i in range(10))


def load_fashion_mnist(split: str = "test", directory=None) -> Dataset:
    """Fashion-MNIST from ``directory`` (default: Debian's ``/usr/share/datasets/fashion-mnist``)."""
    return load_idx(FASHION_MNIST_DIR if directory is None else directory, split, name="fashion-mnist")


_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_ERRORS = (OSError, EOFError, zlib.error)


def _open_payload(path: Path, gz: bool):
    return gzip.open(path, "rb") if gz else open(path, "rb")


class IdxSource(ImageSource):
    """One split of an IDX directory, read a batch at a time: the image file is read at each batch's offset
    (raw) or through one pass of its gzip stream (``.gz``); the labels (one byte each) are read at once.

    The checks and messages are ``load_idx``'s: the header, the payload size (a ``.gz`` file's from its gzip
    trailer; a stream that then ends early or is corrupt raises ``DataError`` when the batch is read, and the
    CRC of a stream read to its end is checked after its last batch), the label count and range.
    """

    def __init__(self, directory, split: str = "test", *, name: str | None = None):
        directory = Path(directory)
        self.path, lbl_path = split_files(directory, split)
        self.gz = self._read_start(self.path)[:2] == _GZIP_MAGIC
        head = self._header_bytes()
        dtype, shape, self.header = parse_header(head, self.path)
        if len(shape) != 3:
            raise DataError(f"{self.path}: expected a 3-D image array (N, rows, cols), got shape {shape}")
        self.file_dtype = dtype
        self.length = shape[0]
        self.shape = (1, shape[1], shape[2])
        self.dtype = dtype.newbyteorder("=")
        self._check_payload()
        labels = read_idx(lbl_path)
        check_labels(labels, self.length, self.path, lbl_path)
        self.labels = labels.astype(np.int64)
        self.labels.flags.writeable = False
        self.name = dataset_name(directory, name)
        self.split, self.source = split, str(directory)

    @property
    def classes(self) -> tuple[str, ...]:
        return classes_of(self.name)

    def __len__(self) -> int:
        return self.length

    @staticmethod
    def _read_start(path: Path) -> bytes:
        try:
            with open(path, "rb") as f:
                return f.read(2)
        except OSError as exc:
            raise DataError(f"{path}: cannot read IDX file ({exc.strerror or exc})") from None

    def _header_bytes(self) -> bytes:
        try:
            with _open_payload(self.path, self.gz) as f:
                head = f.read(4)
                return head + (f.read(4 * head[3]) if len(head) == 4 else b"")
        except _GZIP_ERRORS as exc:
            raise DataError(f"{self.path}: corrupt gzip data ({exc})") from None

    def _check_payload(self) -> None:
        need = self.length * int(np.prod(self.shape)) * self.file_dtype.itemsize
        size = self.path.stat().st_size
        if self.gz:  # the trailer's ISIZE: the uncompressed length modulo 2^32
            with open(self.path, "rb") as f:
                f.seek(max(size - 4, 0))
                isize = int.from_bytes(f.read(4), "little")
            if (self.header + need) % (1 << 32) == isize:
                return
            have = isize - self.header
        elif size - self.header == need:
            return
        else:
            have = size - self.header
        raise DataError(f"{self.path}: IDX payload has {have} bytes, header {(self.length, *self.shape[1:])} needs "
                        f"{need}")

    def batches(self, batch_size: int, start: int = 0, limit: int | None = None
                ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        batch_size = check_batch_size(batch_size)
        stop = self.stop(start, limit)
        if stop <= start:
            return
        per_image = int(np.prod(self.shape)) * self.file_dtype.itemsize
        try:
            with _open_payload(self.path, self.gz) as f:
                f.seek(self.header + start * per_image)  # a gzip stream decompresses up to there once
                for first in range(start, stop, batch_size):
                    n = min(batch_size, stop - first)
                    raw = f.read(n * per_image)
                    if len(raw) != n * per_image:
                        raise DataError(f"{self.path}: the IDX payload ends inside image "
                                        f"{first + len(raw) // per_image}")
                    images = np.frombuffer(raw, dtype=self.file_dtype).astype(self.dtype)
                    del raw
                    yield images.reshape(n, *self.shape), self.labels[first:first + n]
                    del images  # not held while the next batch is read
                if stop == self.length and self.gz and f.read(1):  # reading to the end checks the gzip CRC
                    raise DataError(f"{self.path}: the gzip stream holds more than the IDX payload")
        except _GZIP_ERRORS as exc:
            raise DataError(f"{self.path}: corrupt gzip data ({exc})") from None
