"""MNIST and Fashion-MNIST from IDX files (``*-idx3-ubyte`` images, ``*-idx1-ubyte`` labels, raw or ``.gz``).

The IDX header is big-endian: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions,
then one 32-bit size per dimension. A directory holding the standard four files has a ``train`` and a
``test`` split; one holding only the ``t10k-*`` files is the test split.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from ristretto_sim.data.dataset import Dataset
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
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES or raw[3] == 0:
        raise DataError(f"{path}: not an IDX file (bad magic {raw[:4].hex() or 'empty'})")
    dtype = _DTYPES[raw[2]]
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: IDX header truncated")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    count = int(np.prod(shape, dtype=np.int64))
    if len(raw) - header != count * dtype.itemsize:
        raise DataError(f"{path}: IDX payload has {len(raw) - header} bytes, header {shape} needs "
                        f"{count * dtype.itemsize}")
    return np.frombuffer(raw, dtype=dtype, count=count, offset=header).astype(dtype.newbyteorder("="))\
        .reshape(shape)


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
    images = read_idx(img_path)
    labels = read_idx(lbl_path)
    if images.ndim != 3:
        raise DataError(f"{img_path}: expected a 3-D image array (N, rows, cols), got shape {images.shape}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise DataError(f"{lbl_path}: {labels.shape[0] if labels.ndim == 1 else labels.shape} labels for "
                        f"{images.shape[0]} images in {img_path.name}")
    if labels.size and labels.max() > 9:
        raise DataError(f"{lbl_path}: label {int(labels.max())} outside 0..9")
    if name is None:
        name = "fashion-mnist" if "fashion" in str(directory.resolve()).lower() else "mnist"
    classes = FASHION_CLASSES if name == "fashion-mnist" else tuple(str(i) for i in range(10))
    return Dataset(images[:, None, :, :], labels.astype(np.int64), name=name, split=split,
                   source=str(directory), pixel_max=255.0, classes=classes)


def load_fashion_mnist(split: str = "test", directory=None) -> Dataset:
    """Fashion-MNIST from ``directory`` (default: Debian's ``/usr/share/datasets/fashion-mnist``)."""
    return load_idx(FASHION_MNIST_DIR if directory is None else directory, split, name="fashion-mnist")
