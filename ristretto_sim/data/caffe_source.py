"""The data a Caffe data layer names: ``DataSource`` (phase, layer, source path, backend, batch size) and loading it.

A prototxt's ``Data`` layer reads ``data_param.source`` with ``data_param.backend`` (``LEVELDB``, Caffe's default
when unset, or ``LMDB``) in batches of ``data_param.batch_size``; train_val files have one per phase (TRAIN: the
training set, TEST: the validation set). Caffe opens the source relative to the *current directory* (the
examples are run from Caffe's root: ``examples/mnist/mnist_test_lmdb``); ``DataSource.candidates`` tries that
first, then relative to the prototxt's directory. LMDB and LevelDB sources of ``Data`` layers are read
(``lmdb_source``, ``leveldb_source``); anything else (``ImageData`` lists, HDF5) is a ``DataError`` saying how to go
on.
The Caffe importer (``io.caffe.importer``) builds these; this module only reads files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ristretto_sim.data.dataset import Dataset
from ristretto_sim.data.leveldb_source import INSTALL_PLYVEL, is_leveldb, plyvel_module, read_leveldb
from ristretto_sim.data.lmdb_source import INSTALL_LMDB, is_lmdb, lmdb_module, read_lmdb
from ristretto_sim.errors import DataError

PHASES = ("TRAIN", "TEST")
BACKENDS = ("LMDB", "LEVELDB")
OR_DATA = ("or pass --data (a directory of IDX files or CIFAR-10 batches, an LMDB or LevelDB directory, or a "
           "dataset name)")


@dataclass(frozen=True)
class DataSource:
    """One data layer of one phase of a Caffe prototxt.

    Parameters
    ----------
    phase : {"TRAIN", "TEST"}
    layer : str
        The data layer's name.
    type : str
        Its Caffe type (``Data``, ``ImageData``, ``MemoryData``, ...).
    source : str
        ``data_param.source`` (or ``image_data_param.source``) as written; empty when the layer names none.
    backend : str or None
        ``"LMDB"`` or ``"LEVELDB"`` for a ``Data`` layer (Caffe's default ``LEVELDB`` when unset), else None.
    batch_size : int or None
        The layer's ``batch_size``.
    prototxt : str
        The file that declares the layer (sources are also looked for beside it).
    """

    phase: str
    layer: str
    type: str
    source: str = ""
    backend: str | None = None
    batch_size: int | None = None
    prototxt: str = ""

    def __post_init__(self):
        if self.phase not in PHASES:
            raise ValueError(f"phase={self.phase!r} must be one of {PHASES}")
        if self.backend is not None and self.backend not in BACKENDS:
            raise ValueError(f"backend={self.backend!r} must be one of {BACKENDS} or None")
        if self.batch_size is not None:
            if isinstance(self.batch_size, bool) or int(self.batch_size) != self.batch_size or self.batch_size < 1:
                raise ValueError(f"batch_size={self.batch_size!r} must be a positive integer or None")
            object.__setattr__(self, "batch_size", int(self.batch_size))
        for name in ("layer", "type", "source", "prototxt"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"{name} must be a string")

    @property
    def where(self) -> str:
        """``"Data layer 'mnist' (TEST phase) of lenet_train_test.prototxt"``, for messages."""
        return f"{self.type} layer {self.layer!r} ({self.phase} phase)" + (
            f" of {self.prototxt}" if self.prototxt else "")

    def candidates(self) -> tuple[Path, ...]:
        """Where the source is looked for: as written (relative to the current directory, as Caffe opens it),
        then relative to the prototxt's directory."""
        p = Path(self.source)
        if p.is_absolute() or not self.prototxt:
            return (p,)
        beside = Path(self.prototxt).parent / p
        return (p,) if beside == p else (p, beside)

    def locate(self) -> Path | None:
        """The first candidate that exists, or None."""
        return next((c for c in self.candidates() if c.exists()), None)

    def describe(self) -> str:
        """``"LMDB examples/mnist/mnist_test_lmdb"``."""
        return f"{self.backend or self.type} {self.source}"


#: per backend: (is it one?, what marks it, its package, package check, how to install, reader)
_BACKENDS = {
    "LMDB": (is_lmdb, "no data.mdb in it", "lmdb", lmdb_module, INSTALL_LMDB, read_lmdb),
    "LEVELDB": (is_leveldb, "no CURRENT and MANIFEST files in it", "plyvel", plyvel_module, INSTALL_PLYVEL,
                read_leveldb),
}


def load_source(source: DataSource, limit: int | None = None) -> Dataset:
    """Read the first ``limit`` images of a data layer's LMDB or LevelDB source, in Caffe's read order.

    Raises
    ------
    DataError
        A layer type that is not read, a source that is not found (the message lists the paths tried), or the
        ``lmdb``/``plyvel`` package missing (the message says how to install it); each message also offers
        ``--data``.
    """
    if source.type != "Data":
        raise DataError(f"{source.where}: {source.type} sources are not read; {OR_DATA}")
    if not source.source:
        raise DataError(f"{source.where} names no data_param.source; {OR_DATA}")
    backend = source.backend or "LEVELDB"
    is_kind, mark, package, module, install, reader = _BACKENDS[backend]
    name = "LMDB" if backend == "LMDB" else "LevelDB"
    tried = ", ".join(str(c.absolute()) for c in source.candidates())
    path = source.locate()
    if path is None:
        raise DataError(f"{source.where}: {name} source {source.source!r} not found (looked for {tried}; Caffe "
                        "opens it relative to the current directory): run from the directory its path is relative to "
                        f"(Caffe's root for the Caffe examples), {OR_DATA}")
    if not is_kind(path):
        other = " (it is an LMDB: set backend: LMDB)" if backend == "LEVELDB" and is_lmdb(path) else (
            " (it is a LevelDB: set backend: LEVELDB)" if backend == "LMDB" and is_leveldb(path) else "")
        raise DataError(f"{source.where}: {path} is not a {name} ({mark}){other}; {OR_DATA}")
    try:
        module()
    except DataError:
        raise DataError(f"{source.where}: reading the {name} source {str(path.absolute())!r} needs the {package} "
                        f"package: {install}; {OR_DATA}") from None
    return reader(path, limit)
