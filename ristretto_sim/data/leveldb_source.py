"""Caffe LevelDB data sources: ``Datum`` records read in key order into a ``Dataset``, and written.

``backend: LEVELDB`` is Caffe's default for a ``Data`` layer (``convert_mnist_data`` and ``convert_imageset``
wrote LevelDB before LMDB became the examples' choice). A LevelDB source is a directory holding ``CURRENT`` and
a ``MANIFEST-*`` file; its records are the same serialized ``caffe.Datum`` messages as in an LMDB
(``lmdb_source.decode_datum``), and Caffe's cursor visits them in LevelDB's bytewise key order, as
``read_leveldb`` does (``LevelDbSource``: the same, a batch at a time). Access uses the optional ``plyvel``
package (``pip install 'ristretto-sim[leveldb]'``, whose wheels bundle LevelDB); the rest of ristretto-sim works
without it.
"""

from __future__ import annotations

import itertools
import os
from contextlib import contextmanager
from pathlib import Path

from ristretto_sim.data.dataset import Dataset, check_limit
from ristretto_sim.data.lmdb_source import (
    DatumSource,
    check_new_database,
    encode_datum,
    optional_module,
    records_to_dataset,
)
from ristretto_sim.errors import DataError

INSTALL_PLYVEL = "pip install 'ristretto-sim[leveldb]' (or pip install plyvel)"


def plyvel_module():
    """The ``plyvel`` package, or ``DataError`` saying how to install it."""
    return optional_module("plyvel", "LevelDB", INSTALL_PLYVEL)


def is_leveldb(path) -> bool:
    """True for a LevelDB directory (one holding ``CURRENT`` and a ``MANIFEST-*`` file)."""
    p = Path(path)
    return (p / "CURRENT").is_file() and any(p.glob("MANIFEST-*"))


def read_leveldb(path, limit: int | None = None, *, name: str | None = None) -> Dataset:
    """Read the ``Datum`` records of a Caffe LevelDB source in key order (Caffe's read order).

    Parameters
    ----------
    path : str or os.PathLike
        The LevelDB directory, as a Caffe ``data_param.source`` names it.
    limit : int, optional
        Read only the first ``limit`` records (default: all).
    name : str, optional
        Dataset name for reports (default: the directory name).

    Raises
    ------
    DataError
        Not a LevelDB, no plyvel package, or malformed or inconsistent records (the message names the record).
    """
    check_limit(limit)
    path = Path(os.fspath(path))
    if not is_leveldb(path):
        raise DataError(f"{path}: not a LevelDB source (no CURRENT and MANIFEST files in that directory)")
    plyvel = plyvel_module()
    try:
        db = plyvel.DB(str(path), create_if_missing=False)
    except plyvel.Error as exc:
        raise DataError(f"{path}: cannot open the LevelDB ({exc})") from None
    try:
        # LevelDB keeps no record count: count the keys (up to the limit) first
        with db.iterator(include_value=False) as keys:
            count = sum(1 for _ in itertools.islice(keys, limit))
        with db.iterator() as records:
            return records_to_dataset(records, count, path, "LevelDB", name)
    finally:
        db.close()


def write_datum_leveldb(path, images, labels) -> Path:
    """Write images and labels as a Caffe LevelDB source, as ``convert_mnist_data --backend=leveldb`` does: keys
    ``"%08d"`` from 0, uncompressed ``Datum`` values. ``path`` must not exist or be empty."""
    x, y, path = check_new_database(path, images, labels)
    plyvel = plyvel_module()
    path.mkdir(parents=True, exist_ok=True)
    db = plyvel.DB(str(path), create_if_missing=True, error_if_exists=False)
    try:
        with db.write_batch() as batch:
            for i in range(len(x)):
                batch.put(b"%08d" % i, encode_datum(x[i], int(y[i])))
    finally:
        db.close()
    return path


class LevelDbSource(DatumSource):
    """A Caffe LevelDB source read a batch at a time (``DatumSource``); needs the optional ``plyvel`` package.
    LevelDB keeps no record count: ``len`` counts the keys (once), ``count(limit)`` only up to the limit."""

    kind = "LevelDB"

    def __init__(self, path, name: str | None = None):
        path = Path(os.fspath(path))
        if not is_leveldb(path):
            raise DataError(f"{path}: not a LevelDB source (no CURRENT and MANIFEST files in that directory)")
        self.plyvel = plyvel_module()
        super().__init__(path, name)

    @contextmanager
    def _db(self):
        try:
            db = self.plyvel.DB(str(self.path), create_if_missing=False)
        except self.plyvel.Error as exc:
            raise DataError(f"{self.path}: cannot open the LevelDB ({exc})") from None
        try:
            yield db
        finally:
            db.close()

    def count_records(self, limit: int | None) -> int:
        with self._db() as db, db.iterator(include_value=False) as keys:
            return sum(1 for _ in itertools.islice(keys, limit))

    def read_records(self, after: bytes | None, skip: int, count: int) -> list[tuple[bytes, bytes]]:
        with self._db() as db:
            if after is None and skip:
                with db.iterator(include_value=False) as keys:
                    after = next(itertools.islice(keys, skip - 1, skip), None)  # the last key skipped
                if after is None:
                    return []
            records = db.iterator() if after is None else db.iterator(start=after, include_start=False)
            with records:
                return list(itertools.islice(records, count))
