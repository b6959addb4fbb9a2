"""Caffe LeNet and the MNIST test set from the shared test data (tests skip when it is absent)."""

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")
LENET_PROTOTXT = DATA / "caffe-lenet" / "lenet_train_test.prototxt"
LENET_WEIGHTS = DATA / "caffe-lenet" / "lenet_iter_10000.caffemodel"
MNIST = DATA / "mnist"

if not (LENET_PROTOTXT.is_file() and LENET_WEIGHTS.is_file() and MNIST.is_dir()):
    pytest.skip("the shared Caffe LeNet / MNIST test data is absent", allow_module_level=True)


def mnist_images(n: int):
    from ristretto_sim.data import load_idx

    return load_idx(MNIST, "test").take(n).images
