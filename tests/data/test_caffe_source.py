"""A Caffe data layer's source: where Caffe looks for it, what is read, and what each refusal says."""

import re
import sys

import numpy as np
import pytest

from ristretto_sim.data import write_datum_lmdb
from ristretto_sim.data.caffe_source import DataSource, load_source
from ristretto_sim.errors import DataError

pytest.importorskip("lmdb", reason="the optional lmdb package is not installed (pip install lmdb)")


def source(tmp_path, **kw):
    fields = dict(phase="TEST", layer="mnist", type="Data", source="examples/db", backend="LMDB", batch_size=10,
                  prototxt=str(tmp_path / "nets" / "net.prototxt"))
    fields.update(kw)
    return DataSource(**fields)


@pytest.fixture
def db(tmp_path):
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (20, 1, 4, 4), dtype=np.uint8), rng.integers(0, 10, 20)
    return images, labels


def test_found_from_the_current_directory_first_then_beside_the_prototxt(tmp_path, monkeypatch, db):
    images, labels = db
    src = source(tmp_path)
    write_datum_lmdb(tmp_path / "nets" / "examples" / "db", images[:5], labels[:5])
    monkeypatch.chdir(tmp_path)
    assert src.candidates()[0].as_posix() == "examples/db"
    d = load_source(src, limit=3)  # only beside the prototxt
    np.testing.assert_array_equal(d.images, images[:3])
    write_datum_lmdb(tmp_path / "examples" / "db", images, labels)  # now also in the current directory
    d = load_source(src)
    assert len(d) == 20 and d.source == "examples/db"  # as Caffe opens it
    assert src.describe() == "LMDB examples/db"
    absolute = source(tmp_path, source=str(tmp_path / "examples" / "db"))
    assert len(absolute.candidates()) == 1 and len(load_source(absolute, 4)) == 4


def test_refusals_say_what_was_looked_for_and_the_fix(tmp_path, monkeypatch, db):
    monkeypatch.chdir(tmp_path)
    tried = f"{tmp_path / 'examples' / 'db'}, {tmp_path / 'nets' / 'examples' / 'db'};"
    with pytest.raises(DataError, match=r"LMDB source 'examples/db' not found \(looked for " + re.escape(tried)
                       + r".*or pass --data"):
        load_source(source(tmp_path))
    with pytest.raises(DataError, match=r"LevelDB source 'examples/db' not found.*or pass --data"):
        load_source(source(tmp_path, backend="LEVELDB"))
    with pytest.raises(DataError, match=r"LevelDB source 'examples/db' not found"):
        load_source(source(tmp_path, backend=None))  # Caffe's default backend
    with pytest.raises(DataError, match="ImageData sources are not read; or pass --data"):
        load_source(source(tmp_path, type="ImageData", backend=None))
    with pytest.raises(DataError, match="names no data_param.source"):
        load_source(source(tmp_path, source=""))
    write_datum_lmdb(tmp_path / "examples" / "db", *db)
    with pytest.raises(DataError, match=r"is not a LevelDB .*\(it is an LMDB: set backend: LMDB\)"):
        load_source(source(tmp_path, backend="LEVELDB"))
    monkeypatch.setitem(sys.modules, "lmdb", None)
    with pytest.raises(DataError, match=r"Data layer 'mnist' \(TEST phase\) of .*net.prototxt: reading the LMDB "
                                        r"source '.*examples/db' needs the lmdb package: pip install "
                                        r"'ristretto-sim\[lmdb\]'.*or pass --data"):
        load_source(source(tmp_path))


def test_validation(tmp_path):
    with pytest.raises(ValueError, match="phase"):
        source(tmp_path, phase="VAL")
    with pytest.raises(ValueError, match="backend"):
        source(tmp_path, backend="HDF5")
    with pytest.raises(ValueError, match="batch_size"):
        source(tmp_path, batch_size=0)


def test_leveldb_sources_read_in_key_order(tmp_path, monkeypatch, db):
    pytest.importorskip("plyvel", reason="the optional plyvel package is not installed (pip install plyvel)")
    from ristretto_sim.data import load_dataset, read_leveldb, write_datum_leveldb

    images, labels = db
    write_datum_leveldb(tmp_path / "examples" / "db", images, labels)
    monkeypatch.chdir(tmp_path)
    d = load_source(source(tmp_path, backend="LEVELDB"), limit=7)
    np.testing.assert_array_equal(d.images, images[:7])
    np.testing.assert_array_equal(d.labels, labels[:7])
    assert len(load_source(source(tmp_path, backend=None))) == 20  # no backend: LevelDB, as in Caffe
    assert len(read_leveldb(tmp_path / "examples" / "db", limit=10**9)) == 20  # a large limit allocates nothing
    via_cli = load_dataset(f"leveldb:{tmp_path / 'examples' / 'db'}")
    np.testing.assert_array_equal(via_cli.images, images)
    assert len(load_dataset(tmp_path / "examples" / "db", limit=3)) == 3  # recognised from its files
    with pytest.raises(DataError, match=r"is not a LMDB .*\(it is a LevelDB: set backend: LEVELDB\)"):
        load_source(source(tmp_path, backend="LMDB"))
    monkeypatch.setitem(sys.modules, "plyvel", None)
    with pytest.raises(DataError, match=r"needs the plyvel package: pip install 'ristretto-sim\[leveldb\]'"):
        load_source(source(tmp_path, backend="LEVELDB"))
