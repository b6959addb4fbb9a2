"""``.npz`` input sets: model inputs and labels in one file, checked when read."""

import numpy as np
import pytest

from ristretto_sim.data.npz import InputSet, is_npz, load_inputs
from ristretto_sim.errors import DataError


def test_reads_x_y_or_inputs_labels(tmp_path):
    x = np.arange(24, dtype=np.int8).reshape(4, 3, 2)
    np.savez(tmp_path / "a.npz", x=x, y=np.array([0, 1, 2, 1]))
    np.savez(tmp_path / "b.npz", inputs=x, labels=np.array([0, 1, 2, 1], dtype=np.uint8))
    for name in ("a.npz", "b.npz"):
        s = load_inputs(tmp_path / name)
        assert np.array_equal(s.x, x) and s.x.dtype == np.int8 and s.y.dtype == np.int64 and len(s) == 4
        assert s.name == name[0]
    assert is_npz("kws_test.NPZ") and not is_npz("mnist") and not is_npz(None)


@pytest.mark.parametrize("arrays, match", [
    ({"x": np.zeros((3, 2))}, "needs x .*and y"),
    ({"x": np.zeros((3, 2)), "y": np.zeros(2, dtype=int)}, r"y has shape \(2,\); it must be \(3,\)"),
    ({"x": np.zeros((3, 2)), "y": np.zeros(3)}, "integer class labels"),
    ({"x": np.zeros(3), "y": np.zeros(3, dtype=int)}, r"x has shape \(3,\)"),
])
def test_bad_files_name_the_problem(tmp_path, arrays, match):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=match):
        load_inputs(tmp_path / "bad.npz")


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(DataError, match="no such file.*np.savez"):
        load_inputs(tmp_path / "none.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_inputs(tmp_path / "junk.npz")
    with pytest.raises(DataError, match="must be"):
        InputSet(np.zeros((2, 2)), np.zeros((2, 1), dtype=int), "mem")
