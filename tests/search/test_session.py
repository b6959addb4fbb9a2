"""``load_for_search`` and ``quantize`` given a model loaded once (what the CLI does)."""

import pytest

from ristretto_sim.emulator import Mode
from ristretto_sim.search import SearchModel, load_for_search, quantize
from tests.search.lenet_data import LENET_PROTOTXT, LENET_WEIGHTS, MNIST


def test_caffe_model_loaded_for_each_mode():
    rist = load_for_search(LENET_PROTOTXT, LENET_WEIGHTS, mode="ristretto")
    assert isinstance(rist, SearchModel) and rist.mode is Mode.RISTRETTO
    assert rist.stats_network is not rist.network  # the TRAIN-phase net runs the statistics pass
    assert [i.layer for i in rist.inplace] == ["relu1"] and set(rist.sources) == {"TRAIN", "TEST"}
    assert rist.heads and rist.heads[0].op == "Accuracy"
    exact = load_for_search(LENET_PROTOTXT, LENET_WEIGHTS, mode="exact")
    assert exact.stats_network is exact.network and exact.inplace == ()


def test_a_loaded_model_must_match_the_mode_and_weights():
    exact = load_for_search(LENET_PROTOTXT, LENET_WEIGHTS, mode="exact")
    with pytest.raises(ValueError, match="loaded for mode 'exact'"):
        quantize(exact, MNIST, mode="ristretto")
    with pytest.raises(ValueError, match="loaded with weights"):
        quantize(exact, MNIST, weights="other.caffemodel", mode="exact")
