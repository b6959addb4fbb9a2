"""Scoring a candidate plan the way Ristretto does: the mean over TEST batches of the first output's accuracy.

``Evaluator`` holds the scoring images (already preprocessed), their labels and the arithmetic, and returns an
``Evaluation`` per plan: the score (mean over batches of the per-batch top-k accuracy, as Caffe's
``test_score[0] / iterations``, with its float32 arithmetic), per-layer overflow counts, and the time taken.
Runs reuse unchanged prefixes (``runtime.executor.Executor`` holding the images: its prefix cache).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from ristretto_sim.emulator import Mode
from ristretto_sim.errors import DataError
from ristretto_sim.graph.network import Network
from ristretto_sim.graph.plan import QuantPlan
from ristretto_sim.runtime.executor import Executor


@dataclass(frozen=True)
class Evaluation:
    """The score of one plan.

    Attributes
    ----------
    accuracy : float
        Mean over batches of the batch top-k accuracy (a fraction).
    overflows : mapping of str to int
        Exact mode: accumulator overflows per layer; ristretto mode: output saturations per layer.
    saturations : mapping of str to int
        Output saturations per layer.
    seconds : float
    """

    accuracy: float
    overflows: Mapping[str, int] = field(default_factory=dict)
    saturations: Mapping[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "accuracy", float(self.accuracy))
        object.__setattr__(self, "overflows", MappingProxyType(dict(self.overflows)))
        object.__setattr__(self, "saturations", MappingProxyType(dict(self.saturations)))


class Evaluator:
    """Score plans on fixed images.

    Parameters
    ----------
    network : Network
    x : array_like
        Scoring images after preprocessing, in file order.
    labels : array_like of int
    batch_size : int
        TEST batch size (the score is the mean of per-batch accuracies).
    mode : emulator.Mode or str
        Arithmetic of quantized runs.
    cpu_compat : bool
        Ristretto mode: Ristretto's CPU quirks.
    output : str, optional
        Tensor scored (default: the network's first output).
    top_k : int
        Accuracy@k of the scored tensor.
    cache_bytes : int, optional
        Memory bound of the prefix cache (default: the executor's, ``runtime.executor.DEFAULT_CACHE_BYTES``).
    """

    def __init__(self, network: Network, x, labels, *, batch_size: int = 100, mode=Mode.RISTRETTO,
                 cpu_compat: bool = False, output: str | None = None, top_k: int = 1,
                 cache_bytes: int | None = None):
        self.network = network
        self.labels = np.asarray(labels, dtype=np.int64)
        if len(self.labels) == 0:
            raise DataError("no images to score")
        if len(self.labels) != len(x):
            raise ValueError(f"{len(x)} images but {len(self.labels)} labels")
        self.batch_size = int(batch_size)
        self.mode = Mode.coerce(mode, "mode")
        self.cpu_compat = bool(cpu_compat)
        self.output = network.outputs[0] if output is None else output
        if self.output not in network.tensor_shapes:
            raise ValueError(f"score output {self.output!r} is not a tensor of {network.name!r} (outputs: "
                             f"{', '.join(network.outputs)})")
        self.top_k = int(top_k)
        self.executor = Executor(network, x, batch_size=self.batch_size, cache_bytes=cache_bytes)
        self.evaluations = 0

    @property
    def images(self) -> int:
        return len(self.labels)

    def accuracy_of(self, logits: np.ndarray) -> float:
        """Mean over batches of the batch top-k accuracy, in float32 as Caffe and Ristretto computed it."""
        out = np.asarray(logits, dtype=np.float64).reshape(len(logits), -1)
        if self.top_k == 1:
            hit = np.argmax(out, axis=1) == self.labels
        else:
            order = np.argsort(-out, axis=1, kind="stable")[:, : self.top_k]
            hit = (order == self.labels[:, None]).any(axis=1)
        # Caffe's Accuracy layer: float32 hits / count per batch; Ristretto's tool: a float32 running sum of the
        # batch scores divided by the number of batches (RunForwardBatches)
        total = np.float32(0.0)
        batches = 0
        for i in range(0, len(hit), self.batch_size):
            part = hit[i:i + self.batch_size]
            total = np.float32(total + np.float32(np.count_nonzero(part)) / np.float32(len(part)))
            batches += 1
        return float(np.float32(total / np.float32(batches)))

    def evaluate(self, plan: QuantPlan | None) -> Evaluation:
        """Score ``plan`` (None: the float32 baseline)."""
        start = time.perf_counter()
        if plan is not None and plan.mode is not self.mode:
            plan = plan.with_mode(self.mode)
        res = self.executor.run(plan=plan, cpu_compat=self.cpu_compat, record=False, keep=(self.output,))
        self.evaluations += 1
        acc = self.accuracy_of(res.tensor(self.output))
        return Evaluation(acc, {k: v.accumulator_overflows for k, v in res.layer_stats.items()},
                          {k: v.output_saturations for k, v in res.layer_stats.items()},
                          time.perf_counter() - start)
