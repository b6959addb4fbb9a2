"""Caffe LMDB data sources: ``Datum`` records read in the database's key order into a ``Dataset``, and written.

An LMDB source (a directory holding ``data.mdb``) maps keys to serialized ``caffe.Datum`` messages: ``channels``
(1), ``height`` (2), ``width`` (3), ``data`` (4, the pixels as bytes, CHW), ``label`` (5), ``float_data`` (6,
repeated float) and ``encoded`` (7, ``data`` holds a JPEG/PNG file). Caffe's Data layer reads the records with
a cursor, in key order; so does ``read_lmdb`` ("file order"), and ``limit`` stops after the first records so a
1.2M-image database is not loaded to score 50 batches. Records with ``data`` give ``uint8`` pixels NCHW, records
with ``float_data`` ``float32``. Encoded records are decoded with Pillow (as OpenCV's ``imdecode`` does for Caffe:
colour images in BGR channel order, greyscale as one channel); without Pillow they raise ``DataError`` saying how
to install it.

``LmdbSource`` reads the same records a batch at a time (``DatumSource``: bounded memory for large sources).
``write_datum_lmdb`` writes what Caffe's ``convert_mnist_data`` writes: keys ``"%08d"`` from 0, uncompressed
``Datum`` values. LMDB access uses the optional ``lmdb`` package (``pip install 'ristretto-sim[lmdb]'``); the
rest of ristretto-sim works without it. LevelDB sources: ``leveldb_source`` (the same records).
"""

from __future__ import annotations

import importlib
import io
import os
from abc import abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ristretto_sim.data.dataset import Dataset, check_limit
from ristretto_sim.data.protowire import (
    WireError,
    length_field,
    read_varint,
    unpacked_run,
    varint_field,
)
from ristretto_sim.data.source import ImageSource, check_batch_size
from ristretto_sim.errors import DataError

INSTALL_LMDB = "pip install 'ristretto-sim[lmdb]' (or pip install lmdb)"
INSTALL_PILLOW = "pip install pillow"
_FLOAT_TAG = bytes([6 << 3 | 5])
_VARINT_FIELDS = {1: "channels", 2: "height", 3: "width", 5: "label", 7: "encoded"}


def optional_module(package: str, kind: str, install: str):
    """The optional ``package`` that reads Caffe ``kind`` sources, or ``DataError`` saying how to install it."""
    try:
        return importlib.import_module(package)
    except ImportError:
        raise DataError(f"reading Caffe {kind} sources needs the {package} package: {install}") from None


def lmdb_module():
    """The ``lmdb`` package, or ``DataError`` saying how to install it."""
    return optional_module("lmdb", "LMDB", INSTALL_LMDB)


def is_lmdb(path) -> bool:
    """True for an LMDB environment directory (one holding ``data.mdb``)."""
    return (Path(path) / "data.mdb").is_file()


@dataclass(frozen=True)
class Datum:
    """One decoded ``caffe.Datum``: the declared shape, the label and exactly one of ``data`` (bytes) and
    ``float_data`` (float32 array); ``encoded`` when ``data`` holds an image file."""

    channels: int = 0
    height: int = 0
    width: int = 0
    data: bytes = b""
    label: int = 0
    float_data: np.ndarray | None = None
    encoded: bool = False

    def __post_init__(self):
        for name in ("channels", "height", "width"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name}={getattr(self, name)!r} must be >= 0")
        if self.data and self.float_data is not None and len(self.float_data):
            raise ValueError("a Datum holds either data or float_data, not both")


def _signed32(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def decode_datum(buf: bytes) -> Datum:
    """Decode one serialized ``caffe.Datum`` (``WireError`` on malformed bytes; unknown fields are skipped)."""
    fields: dict[str, object] = {}
    floats: list[np.ndarray] = []
    pos, end = 0, len(buf)
    while pos < end:
        tag_start = pos
        key, pos = read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = read_varint(buf, pos)
            if number in _VARINT_FIELDS:
                fields[_VARINT_FIELDS[number]] = _signed32(value) if number == 5 else value
        elif wire == 2:
            length, pos = read_varint(buf, pos)
            if pos + length > end:
                raise WireError(f"length {length} at byte {tag_start} runs past the end of the Datum")
            if number == 4:
                fields["data"] = bytes(buf[pos:pos + length])
            elif number == 6:  # packed float_data
                if length % 4:
                    raise WireError(f"packed float_data of {length} bytes at byte {pos}")
                floats.append(np.frombuffer(buf, dtype="<f4", count=length // 4, offset=pos))
            pos += length
        elif wire == 5:
            if pos + 4 > end:
                raise WireError(f"truncated fixed32 at byte {pos}")
            if number == 6:  # unpacked float_data: one tag per value, as proto2 Caffe writes it
                values, pos = unpacked_run(buf, pos, end, buf[tag_start:pos], "<f4", 4)
                floats.append(values)
            else:
                pos += 4
        elif wire == 1:
            pos += 8
        else:
            raise WireError(f"invalid wire type {wire} at byte {tag_start} in a Datum")
    if pos != end:
        raise WireError(f"Datum overruns its length (ends at byte {pos}, expected {end})")
    float_data = np.concatenate(floats).astype(np.float32) if floats else None
    return Datum(channels=int(fields.get("channels", 0)), height=int(fields.get("height", 0)),
                 width=int(fields.get("width", 0)), data=fields.get("data", b""), label=int(fields.get("label", 0)),
                 float_data=float_data, encoded=bool(fields.get("encoded", 0)))


def encode_datum(image, label: int) -> bytes:
    """Serialize one ``(C, H, W)`` image as a ``caffe.Datum``: ``uint8`` pixels as ``data``, floats as unpacked
    ``float_data`` (as Caffe's proto2 code writes them)."""
    x = np.asarray(image)
    if x.ndim != 3:
        raise ValueError(f"image must be (C, H, W), got shape {x.shape}")
    c, h, w = (int(d) for d in x.shape)
    out = varint_field(1, c) + varint_field(2, h) + varint_field(3, w)
    if x.dtype == np.uint8:
        out += length_field(4, np.ascontiguousarray(x).tobytes())
    elif np.issubdtype(x.dtype, np.floating):
        runs = np.empty((x.size, 5), dtype=np.uint8)
        runs[:, 0] = _FLOAT_TAG[0]
        runs[:, 1:] = np.ascontiguousarray(x, dtype="<f4").reshape(-1, 1).view(np.uint8)
        out += runs.tobytes()
    else:
        raise TypeError(f"images must be uint8 (Datum.data) or floating point (Datum.float_data), got {x.dtype}")
    return out + varint_field(5, int(label))


def _decode_image(datum: Datum, where: str) -> np.ndarray:
    """An encoded record's image as ``(C, H, W)`` uint8, in OpenCV's channel order (BGR)."""
    try:
        from PIL import Image
    except ImportError:
        raise DataError(f"{where} is an encoded (JPEG/PNG) Datum; decoding it needs Pillow: {INSTALL_PILLOW}") \
            from None
    try:
        img = Image.open(io.BytesIO(datum.data))
        img.load()
    except Exception as exc:  # Pillow raises many types for corrupt files
        raise DataError(f"{where}: the encoded image cannot be decoded ({exc})") from None
    if img.mode not in ("L", "RGB", "RGBA"):
        img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
    arr = np.asarray(img, dtype=np.uint8)
    if arr.ndim == 2:
        return arr[None]
    return np.ascontiguousarray(arr[:, :, [2, 1, 0, 3][:arr.shape[2]]].transpose(2, 0, 1))


def _pixels(datum: Datum, where: str) -> np.ndarray:
    if datum.encoded:
        return _decode_image(datum, where)
    shape = (datum.channels, datum.height, datum.width)
    count = int(np.prod(shape))
    if datum.float_data is not None and len(datum.float_data):
        values = datum.float_data
    else:
        values = np.frombuffer(datum.data, dtype=np.uint8)
    if values.size != count or count == 0:
        raise DataError(f"{where}: the Datum declares {shape} but holds {values.size} values")
    return values.reshape(shape)


def read_lmdb(path, limit: int | None = None, *, name: str | None = None) -> Dataset:
    """Read the ``Datum`` records of a Caffe LMDB source, in key order (Caffe's read order).

    Parameters
    ----------
    path : str or os.PathLike
        The LMDB directory (holding ``data.mdb``), as a Caffe ``data_param.source`` names it.
    limit : int, optional
        Read only the first ``limit`` records (default: all).
    name : str, optional
        Dataset name for reports (default: the directory name).

    Returns
    -------
    Dataset
        ``uint8`` (``data``) or ``float32`` (``float_data``) images NCHW, integer labels, split ``"all"``,
        ``source`` the path as given.

    Raises
    ------
    DataError
        Missing directory, no lmdb package, malformed or inconsistent records, or encoded records without Pillow;
        the message names the record (its key) and the fix.
    """
    check_limit(limit)
    path = Path(os.fspath(path))
    if not is_lmdb(path):
        raise DataError(f"{path}: not an LMDB source (no data.mdb in that directory)")
    lmdb = lmdb_module()
    try:
        env = lmdb.open(str(path), readonly=True, lock=False, readahead=False, subdir=True, max_readers=1)
    except lmdb.Error as exc:
        raise DataError(f"{path}: cannot open the LMDB ({exc})") from None
    try:
        with env.begin(buffers=False) as txn:
            total = int(txn.stat()["entries"])
            count = total if limit is None else min(total, int(limit))
            return records_to_dataset(iter(txn.cursor()), count, path, "LMDB", name)
    finally:
        env.close()


def records_to_dataset(records, count: int, path: Path, kind: str, name: str | None = None) -> Dataset:
    """The first ``count`` ``(key, serialized Datum)`` pairs of a Caffe database, in the order given, as a
    ``Dataset`` (split ``"all"``, ``source`` the path); ``DataError`` naming the record for a malformed or
    inconsistent one. Shared by the LMDB and LevelDB readers."""
    images: np.ndarray | None = None
    labels: list[int] = []
    for i, (key, value) in enumerate(records):
        if i >= count:
            break
        pixels, label = record_image(i, key, value, path)
        if images is None:
            images = np.empty((count, *pixels.shape), dtype=image_dtype(pixels))
        else:
            check_like_first(pixels, images, i, key, path)
        images[i] = pixels
        labels.append(label)
    if images is None:
        raise DataError(f"{path}: no records to read (the {kind} is empty, or the limit is 0)")
    images = images[:len(labels)]
    label_arr = np.asarray(labels, dtype=np.int64)
    classes = tuple(str(i) for i in range(max(10, int(label_arr.max()) + 1)))
    pixel_max = 255.0 if images.dtype == np.uint8 else max(1.0, float(np.abs(images).max()))
    return Dataset(images, label_arr, name=name or path.name, split="all", source=str(path), pixel_max=pixel_max,
                   classes=classes)


def _where(i: int, key, path: Path) -> str:
    return f"{path}: record {i} (key {bytes(key).decode('latin-1')!r})"


def record_image(i: int, key, value, path: Path) -> tuple[np.ndarray, int]:
    """Record ``i`` (``key``, serialized ``value``) of a Caffe database as ``(pixels (C, H, W), label)``;
    ``DataError`` naming the record when it is not a ``Datum``, its pixels do not fill its shape or its label is
    negative."""
    where = _where(i, key, path)
    try:
        datum = decode_datum(value)
    except WireError as exc:
        raise DataError(f"{where} is not a caffe.Datum ({exc})") from None
    pixels = _pixels(datum, where)
    if datum.label < 0:
        raise DataError(f"{where}: negative label {datum.label}")
    return pixels, datum.label


def image_dtype(pixels: np.ndarray) -> np.dtype:
    """The array type a database's images are held in: ``uint8`` for ``data`` records, else ``float32``."""
    return np.dtype(np.uint8 if pixels.dtype == np.uint8 else np.float32)


def check_like_first(pixels: np.ndarray, images: np.ndarray, i: int, key, path: Path) -> None:
    """``DataError`` naming record ``i`` unless its pixels have the shape and kind of ``images``' (the first
    record's)."""
    if pixels.shape != images.shape[1:] or (pixels.dtype == np.uint8) != (images.dtype == np.uint8):
        raise DataError(f"{_where(i, key, path)} holds a {pixels.dtype} image of shape {pixels.shape}; the first "
                        f"record's is {images.dtype} {images.shape[1:]} (every record must match)")


class DatumSource(ImageSource):
    """A Caffe database of ``Datum`` records read a batch at a time, in key order (Caffe's cursor order).

    Each batch opens the database, positions a cursor after the last key of the previous batch, copies out its
    records and closes the database again, so neither the decoded set nor the file pages of the database's memory
    map accumulate; the records are decoded into one batch array. The first record (read when the source is
    opened) fixes the image shape and type; a later record that differs raises ``DataError`` naming it, as
    ``records_to_dataset`` does. ``pixel_max`` of ``float_data`` records and ``classes`` need every record: they
    are found in one pass when asked. Subclasses implement ``count_records`` and ``read_records``.
    """

    kind = "database"

    def __init__(self, path, name: str | None = None):
        self.path = Path(os.fspath(path))
        first = self.read_records(None, 0, 1)
        if not first:
            raise DataError(f"{self.path}: no records to read (the {self.kind} is empty)")
        pixels, _ = record_image(0, *first[0], self.path)
        self.shape, self.dtype = tuple(int(d) for d in pixels.shape), image_dtype(pixels)
        self.name, self.split, self.source = name or self.path.name, "all", str(self.path)
        self._length: int | None = None
        self._scanned: tuple[float, tuple[str, ...]] | None = None

    @abstractmethod
    def count_records(self, limit: int | None) -> int:
        """How many records there are (a count above ``limit`` may stop at ``limit``)."""

    @abstractmethod
    def read_records(self, after: bytes | None, skip: int, count: int) -> list[tuple[bytes, bytes]]:
        """Up to ``count`` ``(key, value)`` pairs in key order: those after key ``after``, or from the first
        record on, ``skip`` records skipped, when ``after`` is None. Opens and closes the database."""

    def __len__(self) -> int:
        if self._length is None:
            self._length = self.count_records(None)
        return self._length

    def count(self, limit: int | None = None) -> int:
        check_limit(limit)
        if limit is None or self._length is not None:
            return super().count(limit)
        return min(self.count_records(limit), limit)  # a LevelDB is counted key by key: up to the limit

    def batches(self, batch_size: int, start: int = 0, limit: int | None = None
                ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        batch_size = check_batch_size(batch_size)
        stop = self.stop(start, limit)
        after, pos = None, int(start)
        while pos < stop:
            records = self.read_records(after, pos if after is None else 0, min(batch_size, stop - pos))
            if not records:
                raise DataError(f"{self.path}: the {self.kind} ended at record {pos}, before the {stop} it had "
                                "when it was opened (was it changed while being read?)")
            images = np.empty((len(records), *self.shape), dtype=self.dtype)
            labels = np.empty(len(records), dtype=np.int64)
            for j, (key, value) in enumerate(records):
                pixels, labels[j] = record_image(pos + j, key, value, self.path)
                check_like_first(pixels, images, pos + j, key, self.path)
                images[j] = pixels
            after, pos = records[-1][0], pos + len(records)
            del records
            yield images, labels
            del images, labels  # not held while the next batch is read

    def _scan(self) -> tuple[float, tuple[str, ...]]:
        if self._scanned is None:
            peak, top = 1.0, 9
            for images, labels in self.batches(256):
                if self.dtype != np.uint8:
                    peak = max(peak, float(np.abs(images).max()))
                top = max(top, int(labels.max()))
            self._scanned = (255.0 if self.dtype == np.uint8 else peak), tuple(str(i) for i in range(top + 1))
        return self._scanned

    @property
    def pixel_max(self) -> float:
        return 255.0 if self.dtype == np.uint8 else self._scan()[0]

    @property
    def classes(self) -> tuple[str, ...]:
        return self._scan()[1]


class LmdbSource(DatumSource):
    """A Caffe LMDB source (a directory holding ``data.mdb``) read a batch at a time (``DatumSource``); needs the
    optional ``lmdb`` package."""

    kind = "LMDB"

    def __init__(self, path, name: str | None = None):
        path = Path(os.fspath(path))
        if not is_lmdb(path):
            raise DataError(f"{path}: not an LMDB source (no data.mdb in that directory)")
        self.lmdb = lmdb_module()
        super().__init__(path, name)

    @contextmanager
    def _transaction(self):
        try:
            env = self.lmdb.open(str(self.path), readonly=True, lock=False, readahead=False, subdir=True,
                                 max_readers=1)
        except self.lmdb.Error as exc:
            raise DataError(f"{self.path}: cannot open the LMDB ({exc})") from None
        try:
            with env.begin(buffers=False) as txn:
                yield txn
        finally:
            env.close()

    def count_records(self, limit: int | None) -> int:
        with self._transaction() as txn:
            return int(txn.stat()["entries"])

    def read_records(self, after: bytes | None, skip: int, count: int) -> list[tuple[bytes, bytes]]:
        out = []
        with self._transaction() as txn:
            cursor = txn.cursor()
            if after is None:
                ok = cursor.first()
                for _ in range(skip):  # moving over keys does not read the values' overflow pages
                    ok = ok and cursor.next()
            else:
                ok = cursor.set_range(after) and (cursor.key() != after or cursor.next())
            while ok and len(out) < count:
                out.append((cursor.key(), cursor.value()))
                ok = cursor.next()
        return out


def check_new_database(path, images, labels) -> tuple[np.ndarray, np.ndarray, Path]:
    """Validate what ``write_datum_*`` writes: NCHW images, one integer label each, a new (or empty) directory."""
    x = np.asarray(images)
    y = np.asarray(labels)
    if x.ndim != 4:
        raise ValueError(f"images must be NCHW (4-D), got shape {x.shape}")
    if y.shape != (x.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be {x.shape[0]} integers, got {y.dtype} {y.shape}")
    path = Path(os.fspath(path))
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise FileExistsError(f"{path} exists and is not an empty directory")
    return x, y, path


def write_datum_lmdb(path, images, labels, *, map_size: int | None = None) -> Path:
    """Write images and labels as a Caffe LMDB source, as ``convert_mnist_data`` does: keys ``"%08d"`` from 0,
    uncompressed ``Datum`` values (``uint8`` images as ``data``, float images as ``float_data``).

    Parameters
    ----------
    path : str or os.PathLike
        The LMDB directory to create; it must not exist or be empty (Caffe refuses to overwrite).
    images : array_like
        ``(N, C, H, W)``, ``uint8`` or floating point.
    labels : array_like
        ``(N,)`` integers.
    map_size : int, optional
        LMDB map size in bytes (default: generous for the data).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    x, y, path = check_new_database(path, images, labels)
    lmdb = lmdb_module()
    path.mkdir(parents=True, exist_ok=True)
    per_image = x[0].size * (1 if x.dtype == np.uint8 else 5) + 64 if len(x) else 64
    size = map_size or int(2 * per_image * max(len(x), 1) + (16 << 20))
    env = lmdb.open(str(path), map_size=size, subdir=True)
    try:
        with env.begin(write=True) as txn:
            for i in range(len(x)):
                txn.put(b"%08d" % i, encode_datum(x[i], int(y[i])))
    finally:
        env.close()
    return path
