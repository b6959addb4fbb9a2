"""quantize without data: the prototxt's LMDB sources, Caffe's TRAIN transform in the statistics pass (ristretto
mode), the TEST transform in exact mode and for scoring, and the transforms in the resume configuration."""

import numpy as np
import pytest

from ristretto_sim.data import Preprocessing, load_idx, write_datum_lmdb
from ristretto_sim.search import quantize, session
from tests.search.lenet_data import LENET_PROTOTXT, LENET_WEIGHTS, MNIST, mnist_images

pytest.importorskip("lmdb", reason="the optional lmdb package is not installed (pip install lmdb)")
SCALE = 0.00390625


@pytest.fixture
def padded_lenet(tmp_path, monkeypatch):
    """LeNet whose sources hold the MNIST digits padded to 32x32, cropped back to 28 (TRAIN: random crop and
    mirror; TEST: the centre crop, which is the original digit)."""
    d = load_idx(MNIST, "test").take(300)
    padded = np.pad(d.images, ((0, 0), (0, 0), (2, 2), (2, 2)))
    for name in ("mnist_train_lmdb", "mnist_test_lmdb"):
        write_datum_lmdb(tmp_path / "examples" / "mnist" / name, padded, d.labels)
    text = LENET_PROTOTXT.read_text()
    assert text.count("scale: 0.00390625") == 2
    text = text.replace("scale: 0.00390625", "scale: 0.00390625\n    crop_size: 28\n    mirror: true", 1)
    text = text.replace("scale: 0.00390625\n  }", "scale: 0.00390625\n    crop_size: 28\n  }", 1)
    proto = tmp_path / "lenet_pad.prototxt"
    proto.write_text(text)
    monkeypatch.chdir(tmp_path)
    return proto, padded


class Stop(Exception):
    pass


def captured_statistics_input(monkeypatch, proto, **kw):
    seen = {}

    def capture(net, x, **kwargs):
        seen.update(net=net, x=x, **kwargs)
        raise Stop

    monkeypatch.setattr(session, "collect_statistics", capture)
    with pytest.raises(Stop):
        quantize(str(proto), weights=LENET_WEIGHTS, iterations=1, calibration_batches=2, **kw)
    return seen


def test_ristretto_statistics_pass_sees_the_train_transform(padded_lenet, monkeypatch):
    proto, padded = padded_lenet
    seen = captured_statistics_input(monkeypatch, proto, seed=3)
    train = Preprocessing(scale=SCALE, crop_size=28, mirror=True)
    assert seen["net"].preprocess == train and seen["batch_size"] == 64 and seen["seed"] == 3
    np.testing.assert_array_equal(seen["x"], train(padded[:128], phase="TRAIN", seed=3))
    centre = mnist_images(128).astype(np.float32) * np.float32(SCALE)
    assert not np.array_equal(seen["x"], centre)
    other = captured_statistics_input(monkeypatch, proto, seed=4)
    assert not np.array_equal(other["x"], seen["x"])


def test_exact_statistics_pass_sees_the_test_transform(padded_lenet, monkeypatch):
    proto, _ = padded_lenet
    seen = captured_statistics_input(monkeypatch, proto, mode="exact", seed=3)
    np.testing.assert_array_equal(seen["x"], mnist_images(128).astype(np.float32) * np.float32(SCALE))


def test_sources_header_data_and_seed_in_the_resume_state(padded_lenet, tmp_path):
    proto, _ = padded_lenet
    state = tmp_path / "s.json"
    kw = dict(weights=LENET_WEIGHTS, iterations=1, calibration_batches=1, trimming_mode="integer_power_of_2_weights",
              state_path=state)
    res = quantize(str(proto), **kw)
    assert (res.images, res.batch_size, res.calibration_images) == (100, 100, 64)
    assert res.scored_on == "LMDB examples/mnist/mnist_test_lmdb"
    assert res.calibrated_on == "LMDB examples/mnist/mnist_train_lmdb"
    assert dict(res.transforms) == {"scored": "TEST transform: centre crop 28",
                                    "calibration": "TRAIN transform: random crop 28, mirror, seed 0"}
    assert res.as_json()["data"]["transforms"] == dict(res.transforms)
    assert quantize(str(proto), **kw).resumed > 0
    assert quantize(str(proto), **kw, seed=1).resumed == 0  # another seed: other crops, nothing reused
    # scoring the centre crop of the padded digits = scoring the digits themselves
    plain = quantize(str(LENET_PROTOTXT), load_idx(MNIST, "test"), weights=LENET_WEIGHTS, iterations=1,
                     calibration_batches=1, trimming_mode="integer_power_of_2_weights")
    assert plain.baseline == res.baseline


def test_without_data_or_source(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="--data is required: model lenet has no Data layer"):
        quantize("lenet", iterations=1)
    with pytest.raises(ValueError, match="split='test': without data"):
        quantize(str(LENET_PROTOTXT), weights=LENET_WEIGHTS, split="test")
