"""Caffe LMDB sources: Datum records written as convert_mnist_data does and read back in key order."""

import io
import sys

import numpy as np
import pytest

from ristretto_sim.data import load_dataset, read_lmdb, write_datum_lmdb
from ristretto_sim.data.lmdb_source import decode_datum, encode_datum, is_lmdb
from ristretto_sim.data.protowire import length_field, varint_field
from ristretto_sim.errors import DataError

lmdb = pytest.importorskip("lmdb", reason="the optional lmdb package is not installed (pip install lmdb)")


def digits(n=30, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 1, 5, 4), dtype=np.uint8), rng.integers(0, 10, n)


def test_round_trip_in_key_order(tmp_path):
    images, labels = digits()
    path = write_datum_lmdb(tmp_path / "db", images, labels)
    assert is_lmdb(path) and not is_lmdb(tmp_path)
    d = read_lmdb(path)
    assert d.images.dtype == np.uint8 and d.images.shape == (30, 1, 5, 4)
    np.testing.assert_array_equal(d.images, images)
    np.testing.assert_array_equal(d.labels, labels)
    assert (d.split, d.source, d.name) == ("all", str(path), "db")
    env = lmdb.open(str(path), readonly=True, lock=False)
    with env.begin() as txn:
        keys = [k for k, _ in txn.cursor()]
    env.close()
    assert keys == [b"%08d" % i for i in range(30)]  # convert_mnist_data's keys
    for spec in (str(path), f"lmdb:{path}"):
        np.testing.assert_array_equal(load_dataset(spec).images, images)
    with pytest.raises(ValueError, match="only the 'all' split"):
        load_dataset(path, "test")
    with pytest.raises(FileExistsError):
        write_datum_lmdb(path, images, labels)


def test_limit_reads_only_the_first_records(tmp_path, monkeypatch):
    images, labels = digits(50)
    path = write_datum_lmdb(tmp_path / "db", images, labels)
    import ristretto_sim.data.lmdb_source as src

    decoded = []
    real = src.decode_datum
    monkeypatch.setattr(src, "decode_datum", lambda buf: decoded.append(1) or real(buf))
    d = load_dataset(path, limit=7)
    assert len(d) == 7 and len(decoded) == 7
    np.testing.assert_array_equal(d.images, images[:7])
    assert len(read_lmdb(path, 500)) == 50


def test_float_data_records(tmp_path):
    x = (np.arange(3 * 2 * 2 * 3, dtype=np.float32).reshape(3, 2, 2, 3) - 5) / 7
    path = write_datum_lmdb(tmp_path / "f", x, np.array([1, 2, 3]))
    d = read_lmdb(path)
    assert d.images.dtype == np.float32
    np.testing.assert_array_equal(d.images, x)
    # packed float_data (proto3 style) decodes too
    packed = varint_field(1, 1) + varint_field(2, 1) + varint_field(3, 2) + length_field(
        6, np.array([0.5, -2], "<f4").tobytes()) + varint_field(5, 4)
    datum = decode_datum(packed)
    np.testing.assert_array_equal(datum.float_data, [0.5, -2])
    assert datum.label == 4


def test_datum_fields_and_unknown_fields():
    img = np.arange(6, dtype=np.uint8).reshape(1, 2, 3)
    buf = encode_datum(img, 7) + varint_field(9, 3)  # an unknown field is skipped
    d = decode_datum(buf)
    assert (d.channels, d.height, d.width, d.label, d.encoded) == (1, 2, 3, 7, False)
    assert d.data == img.tobytes() and d.float_data is None
    assert decode_datum(encode_datum(img, -1)).label == -1


def _encoded_db(tmp_path):
    from PIL import Image

    rgb = np.zeros((4, 5, 3), dtype=np.uint8)
    rgb[..., 0] = 200  # red
    rgb[1, 2] = (10, 20, 30)
    png = io.BytesIO()
    Image.fromarray(rgb).save(png, format="PNG")
    path = tmp_path / "enc"
    path.mkdir()
    env = lmdb.open(str(path), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b"00000000", length_field(4, png.getvalue()) + varint_field(5, 3) + varint_field(7, 1))
    env.close()
    return path, rgb


def test_encoded_records_decoded_as_opencv_does(tmp_path):
    pytest.importorskip("PIL", reason="Pillow is not installed (pip install pillow; matplotlib normally brings it)")
    path, rgb = _encoded_db(tmp_path)
    d = read_lmdb(path)
    assert d.images.shape == (1, 3, 4, 5) and d.labels.tolist() == [3]
    np.testing.assert_array_equal(d.images[0], rgb[..., ::-1].transpose(2, 0, 1))  # BGR, as cv::imdecode


def test_encoded_records_without_pillow(tmp_path, monkeypatch):
    pytest.importorskip("PIL", reason="Pillow is not installed (pip install pillow; matplotlib normally brings it)")
    path, _ = _encoded_db(tmp_path)
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(DataError, match=r"record 0 \(key '00000000'\).*encoded.*pip install pillow"):
        read_lmdb(path)


def test_missing_lmdb_package_says_how_to_install(tmp_path, monkeypatch):
    images, labels = digits(3)
    path = write_datum_lmdb(tmp_path / "db", images, labels)
    monkeypatch.setitem(sys.modules, "lmdb", None)
    with pytest.raises(DataError, match=r"lmdb package: pip install 'ristretto-sim\[lmdb\]'"):
        read_lmdb(path)
    with pytest.raises(DataError, match="lmdb package"):
        write_datum_lmdb(tmp_path / "other", images, labels)


def test_bad_sources(tmp_path):
    with pytest.raises(DataError, match="no data.mdb"):
        read_lmdb(tmp_path)
    with pytest.raises(DataError, match="no data.mdb"):
        load_dataset(f"lmdb:{tmp_path / 'nowhere'}")
    path = tmp_path / "junk"
    path.mkdir()
    env = lmdb.open(str(path), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b"00000000", encode_datum(np.zeros((1, 2, 2), np.uint8), 1))
        txn.put(b"00000001", encode_datum(np.zeros((1, 3, 2), np.uint8), 1))
        txn.put(b"00000002", b"\xff")
    env.close()
    with pytest.raises(DataError, match=r"record 1 \(key '00000001'\).*shape \(1, 3, 2\)"):
        read_lmdb(path)
    assert len(read_lmdb(path, 1)) == 1
    with pytest.raises(ValueError, match="limit"):
        read_lmdb(path, -1)
