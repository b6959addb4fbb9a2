"""``ristretto-sim finetune``."""

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="torch is not installed (extra 'train')")

from ristretto_sim import load_model, load_plan  # noqa: E402
from ristretto_sim.cli import main  # noqa: E402
from tests.graph.tiny_models import PLAN_8BIT, tiny_classifier  # noqa: E402

CAFFE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "caffe-lenet"


def test_onnx_model_and_plan_written(tmp_path, capsys):
    model = tiny_classifier(tmp_path / "tiny.onnx")
    plan = tmp_path / "p.yaml"
    plan.write_text(PLAN_8BIT)
    out, out_plan = tmp_path / "ft.onnx", tmp_path / "ft.yaml"
    args = ["finetune", str(model), "--plan", str(plan), "--iterations", "3", "--batch-size", "8",
            "--limit", "64", "--eval-limit", "50", "--out", str(out), "--write-plan", str(out_plan)]
    assert main(args + ["--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["metric"] == "top1" and 0 <= report["before"] <= 1 and 0 <= report["after"] <= 1
    assert report["train_images"] == 64 and report["eval_images"] == 50 and report["iterations"] == 3
    tuned = load_model(out)
    orig = load_model(model)
    assert not np.array_equal(tuned.params["conv"]["weight"], orig.params["conv"]["weight"])
    assert load_plan(out_plan, tuned) == load_plan(plan, orig)
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "before" in text and "after" in text and "activations float (as Ristretto)" in text


def test_user_errors(tmp_path, capsys):
    model = tiny_classifier(tmp_path / "tiny.onnx")
    plan = tmp_path / "p.yaml"
    plan.write_text(PLAN_8BIT)
    assert main(["finetune", str(model), "--plan", str(plan), "--out", str(tmp_path / "x.caffemodel")]) == 2
    assert "needs a Caffe input" in capsys.readouterr().err
    assert main(["finetune", str(model), "--plan", str(plan), "--out", str(tmp_path / "x.pt")]) == 2
    assert ".onnx or a .caffemodel" in capsys.readouterr().err


@pytest.mark.skipif(not (CAFFE / "lenet_iter_10000.caffemodel").exists(), reason="shared Caffe LeNet not present")
def test_caffe_lenet_writes_a_caffemodel(tmp_path, capsys):
    plan = tmp_path / "p.yaml"
    plan.write_text("""version: 1
mode: ristretto
defaults: {rounding: nearest_even, overflow: saturate}
layers:
  conv1: {inputs: fixed8.8, weights: fixed4.3, outputs: fixed8.6}
  conv2: {inputs: fixed8.6, weights: fixed4.5, outputs: fixed8.4}
  ip1:   {inputs: fixed8.4, weights: fixed4.6, outputs: fixed8.4}
  ip2:   {inputs: fixed8.4, weights: fixed4.4, outputs: fixed8.3}
""")
    out = tmp_path / "ft.caffemodel"
    proto, weights = CAFFE / "lenet_train_test.prototxt", CAFFE / "lenet_iter_10000.caffemodel"
    assert main(["finetune", str(proto), "--weights", str(weights), "--plan", str(plan), "--iterations", "2",
                 "--batch-size", "8", "--limit", "32", "--eval-limit", "40", "--out", str(out), "--json"]) == 0
    json.loads(capsys.readouterr().out)
    tuned = load_model(proto, out)
    orig = load_model(proto, weights)
    assert tuned.params["ip1"]["weight"].shape == orig.params["ip1"]["weight"].shape
    assert not np.array_equal(tuned.params["ip1"]["weight"], orig.params["ip1"]["weight"])


def test_caffe_lmdb_sources_and_the_train_transform(tmp_path, capsys, monkeypatch):
    """Without --data, a Caffe prototxt trains on its TRAIN LMDB source with Caffe's TRAIN transform (random crop
    of the 32x32-padded digits back to 28, random mirror) and is evaluated on its TEST source (centre crop)."""
    pytest.importorskip("lmdb", reason="the optional lmdb package is not installed (pip install lmdb)")
    from tests.search.lenet_data import LENET_PROTOTXT, LENET_WEIGHTS, MNIST

    if not MNIST.is_dir():
        pytest.skip(f"the shared MNIST test set is absent ({MNIST})")
    from ristretto_sim.data import load_idx, write_datum_lmdb

    d = load_idx(MNIST, "test").take(200)
    padded = np.pad(d.images, ((0, 0), (0, 0), (2, 2), (2, 2)))
    for name in ("mnist_train_lmdb", "mnist_test_lmdb"):
        write_datum_lmdb(tmp_path / "examples" / "mnist" / name, padded, d.labels)
    text = LENET_PROTOTXT.read_text()
    text = text.replace("scale: 0.00390625", "scale: 0.00390625\n    crop_size: 28\n    mirror: true", 1)
    text = text.replace("scale: 0.00390625\n  }", "scale: 0.00390625\n    crop_size: 28\n  }", 1)
    proto = tmp_path / "lenet_pad.prototxt"
    proto.write_text(text)
    plan = tmp_path / "p.yaml"
    plan.write_text("version: 1\nmode: ristretto\nlayers:\n  conv1: {inputs: fixed32.16, weights: fixed4.3}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["finetune", str(proto), "--weights", str(LENET_WEIGHTS), "--plan", str(plan), "--iterations", "2",
                 "--batch-size", "8", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert "mnist_train_lmdb" in report["train_dataset"] and report["train_images"] == 200
    assert report["train_transform"] == "TRAIN transform: random crop 28, mirror, seed 0"
    assert "mnist_test_lmdb" in report["eval_dataset"] and report["eval_images"] == 200
    assert report["before"] > 0.9  # the centre crop of the padded digits is the digit itself
