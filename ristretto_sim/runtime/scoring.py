"""Scoring a network on a dataset: top-1/top-5 accuracy (classifiers) or PSNR (autoencoders).

``score_network(network, data, plan=None, ...)`` reads the raw images a batch at a time from ``data`` (a
``data.ImageSource``, which reads them from their files, or a ``Dataset`` in memory), preprocesses each batch with
the model's own ``Preprocessing`` (or the one given, for models that do not carry theirs), runs it on one
``Executor`` (float, or under the plan in ``exact``/``ristretto`` mode; each layer prepared once), adds its
top-1/top-5 hits or squared errors and merges its per-layer records into the running ones, and drops it: memory
holds one batch, whatever the size of the set. Returns a ``Score``, with the run's notes (e.g. a bias format
Ristretto mode replaced, softmax in float). Progress is reported through an optional callback
``progress(images_done, images_total)``; nothing is printed."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ristretto_sim.data.dataset import Dataset
from ristretto_sim.data.preprocess import Preprocessing
from ristretto_sim.data.source import ImageSource, as_source
from ristretto_sim.errors import DataError, ModelError
from ristretto_sim.graph.network import Network
from ristretto_sim.graph.plan import QuantPlan
from ristretto_sim.runtime.executor import Executor, sample_shape
from ristretto_sim.runtime.records import LayerRecord, RunResult, merge_results


@dataclass(frozen=True)
class Score:
    """Result of ``score_network``.

    Attributes
    ----------
    model, dataset : str
        Names (network name; dataset name and split).
    mode : str
        ``"float"``, ``"exact"`` or ``"ristretto"``.
    images : int
    top1, top5 : float or None
        Accuracies (classification); None for reconstruction.
    psnr_db : float or None
        Reconstruction: PSNR over the whole set, ``10 log10(peak^2 / MSE)`` with the MSE over every pixel of
        every image and peak = the largest preprocessed pixel value (1.0 for pixel/255).
    seconds : float
        Wall time of the runs.
    records : dict
        Per-layer ``LayerRecord`` over the whole dataset (ranges, overflow counts).
    notes : tuple of str
        What the run did that a reader of the figures must know (``RunResult.notes``).
    auc : float or None
        Reconstruction scored on an ``.npz`` set whose labels mark normal (0) and anomalous (1) samples: the area
        under the ROC curve of the per-sample reconstruction error as the anomaly score (MLPerf Tiny's anomaly
        detection metric); None otherwise.
    """

    model: str
    dataset: str
    mode: str
    images: int
    top1: float | None = None
    top5: float | None = None
    psnr_db: float | None = None
    seconds: float = 0.0
    records: dict[str, LayerRecord] = field(default_factory=dict, compare=False, repr=False)
    notes: tuple[str, ...] = ()
    auc: float | None = None

    @property
    def overflows(self) -> int:
        return sum(r.overflows for r in self.records.values())

    def as_dict(self) -> dict:
        """JSON-able summary (``top1``, ``top5``, ``images``, ``mode``, ... and per-layer overflow counts)."""
        d = {
            "model": self.model,
            "dataset": self.dataset,
            "mode": self.mode,
            "images": self.images,
            "top1": self.top1,
            "top5": self.top5,
            "psnr_db": "inf" if self.psnr_db == math.inf else self.psnr_db,
            "seconds": round(self.seconds, 3),
            "overflows": self.overflows,
        }
        d["layers"] = {
            name: {
                "output_min": r.output_min,
                "output_max": r.output_max,
                "overflows": r.overflows,
                **({"stats": r.stats.as_dict()} if r.stats is not None else {}),
            }
            for name, r in self.records.items()
            if r.quantized
        }
        if self.auc is not None:  # an anomaly-labelled reconstruction set only
            d["auc"] = self.auc
        if self.notes:
            d["notes"] = list(self.notes)
        return d


def resolve_preprocess(network: Network, preprocess: Preprocessing | None) -> Preprocessing:
    """The preprocessing to use: the given one, else the model's, else ``ModelError`` asking for it."""
    if preprocess is not None:
        return preprocess
    if network.preprocess is not None:
        return network.preprocess
    raise ModelError(
        f"model {network.name!r} does not say how raw pixels become its input; give the "
        "preprocessing (CLI: --input-scale S [--input-mean M], e.g. --input-scale 0.00392157 for "
        "pixel/255)"
    )


#: images per batch when none is asked for: at most this many, and at most ``DEFAULT_BATCH_BYTES`` of preprocessed
#: float64 input, so an ImageNet-size image (3x227x227, 1.2 MB in float64) runs 54 at a time and the emulator's
#: integer codes and patch chunks of one batch stay within a few hundred MB
DEFAULT_BATCH_IMAGES = 256
DEFAULT_BATCH_BYTES = 64 * 2**20


def default_batch_size(input_shape) -> int:
    """The batch size scoring uses when none is given, for a network input of ``input_shape`` (one image)."""
    per_image = 8 * int(np.prod(input_shape))
    return max(1, min(DEFAULT_BATCH_IMAGES, DEFAULT_BATCH_BYTES // max(per_image, 1)))


def checked_source(network: Network, dataset, preprocess: Preprocessing | None = None):
    """``(source, preprocessing)`` for running ``network`` on ``dataset`` (an ``ImageSource`` or a ``Dataset``):
    the preprocessing resolved (``resolve_preprocess``) and checked to give the network's input shape.

    Raises
    ------
    DataError
        If the preprocessed images do not have the network's input shape.
    """
    if not isinstance(dataset, (Dataset, ImageSource)):
        raise TypeError(f"dataset={dataset!r} must be a ristretto_sim.data.Dataset or ImageSource")
    source = as_source(dataset)
    pre = resolve_preprocess(network, preprocess)
    want = network.input.shape
    try:
        got = pre.output_shape(source.shape)
    except ValueError as exc:
        raise DataError(f"dataset {source.name!r}: {exc}") from exc
    if tuple(got) != tuple(want):
        raise DataError(
            f"dataset {source.name!r} images of shape {source.shape} (after preprocessing {got}) do "
            f"not match model {network.name!r} input {want}"
        )
    return source, pre


def score_network(
    network: Network,
    dataset: ImageSource | Dataset,
    plan: QuantPlan | None = None,
    mode=None,
    *,
    preprocess: Preprocessing | None = None,
    limit: int | None = None,
    batch_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    rng=None,
) -> Score:
    """Score ``network`` on the first ``limit`` images of ``dataset`` (raw images: an ``ImageSource`` read batch by
    batch, or a ``Dataset``), float or under ``plan``; ``batch_size`` images are read, preprocessed and run at a
    time (default: ``default_batch_size`` of the network's input, 256 for MNIST/CIFAR-size images).

    Raises
    ------
    DataError
        If the preprocessed images do not have the network's input shape.
    ModelError
        If no preprocessing is known (see ``resolve_preprocess``).
    """
    source, pre = checked_source(network, dataset, preprocess)
    want = network.input.shape
    if batch_size is None:
        batch_size = default_batch_size(want)
    n = source.count(limit)
    if n == 0:
        raise DataError(f"dataset {source.name!r} has no images to score")
    top1 = top5 = 0
    sse, pixels = 0.0, 0
    merged: RunResult | None = None
    peak = None
    start = time.perf_counter()
    done = 0
    executor = Executor(network, batch_size=batch_size)
    for images, labels in source.batches(batch_size, limit=n):
        x = pre(images, start=done)  # each image's own index: a mirroring transform draws the same per image
        res = executor.run(x, plan, mode, record=True, rng=rng)
        out = np.asarray(res.output, dtype=np.float64)
        # only the records are kept: the batch's outputs and tensors go with it
        records = RunResult({}, res.mode, res.records, notes=res.notes)
        merged = records if merged is None else merge_results([merged, records])
        if network.task == "classification":
            if out.ndim != 2:
                out = out.reshape(out.shape[0], -1)
            hits = topk_hits(out, labels)
            top1, top5 = top1 + hits[0], top5 + hits[1]
        else:
            if out.shape != x.shape:
                raise ModelError(
                    f"reconstruction model {network.name!r} outputs {out.shape[1:]}, input is {x.shape[1:]}"
                )
            peak = float(pre(np.full((1, *source.shape), source.pixel_max)).max()) if peak is None else peak
            sse += float(np.sum((out - x.astype(np.float64)) ** 2))
            pixels += int(out.size)
        done += len(images)
        del images, x, res, out
        if progress is not None:
            progress(done, n)
    seconds = time.perf_counter() - start
    name = f"{source.name}/{source.split}"
    mode_name = merged.mode
    if network.task == "classification":
        return Score(network.name, name, mode_name, n, top1 / n, top5 / n, None, seconds, merged.records,
                     merged.notes)
    mse = sse / pixels
    psnr_db = math.inf if mse == 0 else 10.0 * math.log10(peak**2 / mse)
    return Score(network.name, name, mode_name, n, None, None, psnr_db, seconds, merged.records, merged.notes)



def score_inputs(network: Network, inputs, plan: QuantPlan | None = None, mode=None, *, limit: int | None = None,
                 batch_size: int | None = None, progress: Callable[[int, int], None] | None = None) -> Score:
    """Score ``network`` on an ``InputSet`` (``data.npz``: model inputs in the model file's layout, labels) over
    its first ``limit`` samples: a classifier's top-1 and top-5; a reconstruction model's PSNR of its outputs
    against its inputs (real values: an int8 model's codes decoded with their formats; peak = the largest input
    magnitude), and with labels 0 (normal) and 1 (anomalous) the ROC AUC of the per-sample squared error.

    An int8 model (an embedded int8 plan) given integer ``x`` runs its own arithmetic (or ``plan``'s affine
    formats) on those codes, as the TFLite interpreter takes them (``runtime.int8.run_int8``), and ranks its
    output codes; otherwise ``x`` holds the network's real-valued inputs, run in float or under ``plan``.

    Raises
    ------
    DataError
        If the inputs do not fit the model (shape, float inputs for an int8 model: the message gives the input's
        scale and zero point).
    """
    from ristretto_sim.runtime.int8 import input_codes_origin, int8_plan, is_int8, run_int8

    n = len(inputs) if limit is None else min(limit, len(inputs))
    if n == 0:
        raise DataError(f"input set {inputs.source} has no samples to score")
    want = tuple(network.input.shape)
    model_shape = sample_shape(want, network.input_layout)
    if tuple(inputs.x.shape[1:]) != model_shape:
        raise DataError(f"{inputs.source}: x holds samples of shape {inputs.x.shape[1:]}; model {network.name!r} "
                        f"takes {model_shape} (its file's layout)")
    integer = inputs.x.dtype.kind in "iu"
    own = is_int8(network) and (integer or plan is None)
    if own and not integer:
        from ristretto_sim.runtime.affine_ops import affine_formats

        fin = affine_formats(network, int8_plan(network))[network.input.name]
        raise DataError(f"{inputs.source}: x holds {inputs.x.dtype} values; int8 model {network.name!r} takes its "
                        f"input codes ({fin.short()}: code = round(x / scale) + zero point), "
                        f"{input_codes_origin(network)}")
    if network.task != "classification":
        return _score_reconstruction(network, inputs, n, plan, mode, own, batch_size or default_batch_size(want),
                                     progress)
    batch_size = batch_size or default_batch_size(want)
    top1 = top5 = 0
    notes: tuple = ()
    mode_name = "exact"  # an int8 model's own arithmetic; else the executor's run says
    executor = None if own else Executor(network, batch_size=batch_size)
    start = time.perf_counter()
    for b0 in range(0, n, batch_size):
        x, labels = inputs.x[b0:min(n, b0 + batch_size)], inputs.y[b0:min(n, b0 + batch_size)]
        if own:
            res = run_int8(network, x, plan, batch_size=batch_size)
            out, notes = res.output, res.notes
        else:
            r = executor.run(np.asarray(x, dtype=np.float32), plan, mode, record=False, layout="model")
            out, notes, mode_name = r.output, r.notes, r.mode
        hits = topk_hits(np.asarray(out, dtype=np.float64).reshape(len(x), -1), labels)
        top1, top5 = top1 + hits[0], top5 + hits[1]
        if progress is not None:
            progress(min(n, b0 + batch_size), n)
    seconds = time.perf_counter() - start
    return Score(network.name, inputs.name, mode_name, n, top1 / n, top5 / n, None, seconds, {}, tuple(notes))


def _score_reconstruction(network: Network, inputs, n: int, plan, mode, own: bool, batch_size: int,
                          progress) -> Score:
    """``score_inputs`` for a reconstruction model: PSNR over the set, and the anomaly AUC when labelled."""
    from ristretto_sim.runtime.int8 import int8_plan, run_int8

    fin = fout = None
    if own:
        from ristretto_sim.runtime.affine_ops import affine_formats

        formats = affine_formats(network, int8_plan(network, plan))
        fin, fout = formats[network.input.name], formats[network.outputs[0]]
    executor = None if own else Executor(network, batch_size=batch_size)
    errors, peak, notes, mode_name = [], 0.0, (), "exact"
    start = time.perf_counter()
    for b0 in range(0, n, batch_size):
        x = inputs.x[b0:min(n, b0 + batch_size)]
        if own:
            res = run_int8(network, x, plan, batch_size=batch_size)
            real_in, real_out, notes = fin.decode(x), fout.decode(res.output), res.notes
        else:
            r = executor.run(np.asarray(x, dtype=np.float32), plan, mode, record=False, layout="model")
            real_in, real_out, notes, mode_name = x, r.output, r.notes, r.mode
        real_in = np.asarray(real_in, np.float64).reshape(len(x), -1)
        real_out = np.asarray(real_out, np.float64).reshape(len(x), -1)
        if real_in.shape != real_out.shape:
            raise DataError(f"reconstruction model {network.name!r} outputs {real_out.shape[1]} values per sample "
                            f"for {real_in.shape[1]} inputs")
        errors.append(np.mean((real_out - real_in) ** 2, axis=1))
        peak = max(peak, float(np.abs(real_in).max()))
        if progress is not None:
            progress(min(n, b0 + batch_size), n)
    seconds = time.perf_counter() - start
    err = np.concatenate(errors)
    mse = float(err.mean())
    psnr_db = math.inf if mse == 0 else 10.0 * math.log10(peak**2 / mse) if peak > 0 else -math.inf
    labels = inputs.y[:n]
    auc = roc_auc(err, labels == 1) if set(np.unique(labels)) == {0, 1} else None
    return Score(network.name, inputs.name, mode_name, n, None, None, psnr_db, seconds, {}, tuple(notes), auc=auc)


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` ranking the ``positive`` samples above the others: the
    Mann-Whitney probability that a positive outscores a negative, ties counting one half."""
    scores, positive = np.asarray(scores, np.float64), np.asarray(positive, bool)
    pos, neg = scores[positive], scores[~positive]
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("the ROC AUC needs both positive and negative samples")
    order = np.sort(neg)
    below = np.searchsorted(order, pos, side="left")
    ties = np.searchsorted(order, pos, side="right") - below
    return float((below.sum() + 0.5 * ties.sum()) / (len(pos) * len(neg)))


def topk_hits(out: np.ndarray, labels: np.ndarray) -> tuple[int, int]:
    """How many rows of the scores ``out`` (N, classes) rank their label first, and within the first five (ties
    keep the lower class index first)."""
    order = np.argsort(-out, axis=1, kind="stable")[:, :5]
    return int(np.count_nonzero(order[:, 0] == labels)), int(np.count_nonzero((order == labels[:, None]).any(axis=1)))
