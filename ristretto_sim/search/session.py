"""``quantize``: the whole ``ristretto-sim quantize`` job from files and dataset names to a ``QuantizeResult``.

Data, defined so results are reproducible (issue 4):

* the statistics pass reads the first ``calibration_batches`` x TRAIN batch size images of the calibration data
  in file order (Caffe LeNet: 10 x 64); in ``ristretto`` mode a Caffe model's statistics come from its
  TRAIN-phase net with the in-place quirks of reference §1.4, in ``exact`` mode from the scored net without them;
* scoring uses the first ``iterations`` x TEST batch size images of the data (fewer when the set is smaller);
  the score is the mean over batches of the batch top-1 (or top-k of the scored Accuracy layer).

Batch sizes come from a Caffe prototxt's Data layers (``data_param.batch_size`` of the TRAIN and TEST phases)
unless given; other models use 64 and 100.
"""

from __future__ import annotations

from pathlib import Path

from ristretto_sim.data import Dataset, load_dataset
from ristretto_sim.emulator import Mode
from ristretto_sim.errors import DataError, ModelError
from ristretto_sim.graph.network import Network
from ristretto_sim.graph.scoring import resolve_preprocess
from ristretto_sim.search.evaluate import Evaluator
from ristretto_sim.search.modes import RISTRETTO_WIDTHS, TrimmingMode
from ristretto_sim.search.plans import PlanOptions
from ristretto_sim.search.result import QuantizeResult
from ristretto_sim.search.statistics import collect_statistics
from ristretto_sim.search.store import ScoreStore
from ristretto_sim.search.trimming import trim

DEFAULT_TRAIN_BATCH = 64
DEFAULT_TEST_BATCH = 100


def caffe_batch_sizes(prototxt) -> dict[str, int]:
    """``{"TRAIN": n, "TEST": m}`` from the ``batch_size`` of a prototxt's data layers (phases without one are
    left out)."""
    from ristretto_sim.graph.caffe_import import read_prototxt

    net = read_prototxt(prototxt)
    found: dict[str, int] = {}
    for msg in net.all("layer") + net.all("layers"):
        size = None
        for sub in ("data_param", "image_data_param", "memory_data_param", "window_data_param"):
            if msg.has(sub) and msg.sub(sub).has("batch_size"):
                size = int(msg.sub(sub).get("batch_size"))
        if size is None:
            continue
        phases = [r.get("phase") for r in msg.all("include") if r.has("phase")] or ["TRAIN", "TEST"]
        for ph in phases:
            found.setdefault(str(ph), size)
    return found


def _is_caffe(model) -> bool:
    return isinstance(model, (str, Path)) and Path(model).suffix.lower() in (".prototxt", ".pbtxt")


def load_for_search(model, weights=None, *, mode=Mode.RISTRETTO):
    """``(network, stats_network, inplace, heads, batch_sizes)``: the scored net, the net the statistics pass
    runs (Caffe in ristretto mode: the TRAIN phase), its in-place writes, the Caffe heads and batch sizes."""
    mode = Mode.coerce(mode, "mode")
    if isinstance(model, Network):
        return model, model, (), (), {}
    if _is_caffe(model):
        from ristretto_sim.graph.caffe_import import load_caffe_model

        if weights is None:
            raise ModelError(f"{model}: a Caffe prototxt needs --weights (the .caffemodel) to be quantized")
        test = load_caffe_model(model, weights, phase="TEST")
        if mode is Mode.RISTRETTO:
            train = load_caffe_model(model, weights, phase="TRAIN")
            stats_net, inplace = train.network, train.inplace
        else:
            stats_net, inplace = test.network, ()
        return test.network, stats_net, inplace, test.heads, caffe_batch_sizes(model)
    from ristretto_sim import load_model

    net = load_model(model, weights)
    return net, net, (), (), {}


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


def _dataset(spec, split) -> Dataset:
    if isinstance(spec, Dataset):
        return spec
    return load_dataset(spec, split)


def quantize(
    model,
    data,
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
    progress=None,
) -> QuantizeResult:
    """Run Ristretto's trimming search on a model and a dataset.

    Parameters
    ----------
    model : str, os.PathLike or Network
        Caffe prototxt (with ``weights``), ONNX file or bundled model name.
    data : str, os.PathLike or Dataset
        Scoring data (``load_dataset`` spec); ``split`` selects its split.
    calibration_data : optional
        Statistics-pass data (default: ``data``), split ``calibration_split`` (default: ``split``).
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
        Seed of the TRAIN-phase Dropout masks of the statistics pass.
    preprocess : data.Preprocessing, optional
        How raw pixels become the input, for models that do not say (default: the model's own).
    state_path : path, optional
        Resume file: finished evaluations are saved there and reused by a rerun with the same setup.
    progress : callable, optional
        ``progress(trimming.Progress)`` after each evaluation.
    """
    mode = Mode.coerce(mode, "mode")
    trimming_mode = TrimmingMode.coerce(trimming_mode, "trimming_mode")
    for name, v in (("iterations", iterations), ("calibration_batches", calibration_batches)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name}={v!r} must be a positive integer")
    for name, v in (("batch_size", batch_size), ("calibration_batch_size", calibration_batch_size)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ValueError(f"{name}={v!r} must be a positive integer")
    if cpu_compat and mode is not Mode.RISTRETTO:
        raise ValueError("cpu_compat reproduces Ristretto's CPU code: it needs mode 'ristretto'")
    options = PlanOptions(mode=mode, acc_bits=acc_bits, bias_at_accumulator=bias_at_accumulator)
    network, stats_net, inplace, heads, sizes = load_for_search(model, weights, mode=mode)
    if network.task != "classification":
        raise ModelError(f"model {network.name!r} is a {network.task} model; quantize scores classifiers (top-1 of "
                         "the first Accuracy layer or of --score-output)")
    test_batch = batch_size or sizes.get("TEST", DEFAULT_TEST_BATCH)
    train_batch = calibration_batch_size or sizes.get("TRAIN", DEFAULT_TRAIN_BATCH)
    tensor, top_k, label = score_target(network, heads, score_output)
    pre = resolve_preprocess(network, preprocess)
    scored = _dataset(data, split)
    calib = scored if calibration_data is None and calibration_split is None else _dataset(
        data if calibration_data is None else calibration_data, calibration_split or split)
    scored = scored.take(iterations * test_batch)
    calib = calib.take(calibration_batches * train_batch)
    if len(scored) == 0 or len(calib) == 0:
        raise DataError("no images to score or to calibrate on")
    try:
        x = pre(scored.images)
        xc = pre(calib.images)
    except ValueError as exc:
        raise DataError(f"dataset {scored.name!r}: {exc}") from None
    if tuple(x.shape[1:]) != tuple(network.input.shape):
        raise DataError(f"dataset {scored.name!r} images become {tuple(x.shape[1:])} after preprocessing; model "
                        f"{network.name!r} takes {network.input.shape}")
    stats = collect_statistics(stats_net, xc, batch_size=train_batch, inplace=inplace, seed=seed)
    missing = [layer.name for layer in network.layers if layer.name in dict(network.params)
               and "weight" in network.params[layer.name] and layer.op_type in ("Conv", "ConvTranspose", "Dense")
               and layer.name not in stats.layers]
    if missing:
        raise ModelError(f"layers {missing} are in the TEST-phase net but not in the TRAIN-phase net, so the "
                         "statistics pass has no range for them (the original tool crashed here)")
    evaluator = Evaluator(network, x, scored.labels, batch_size=test_batch, mode=mode, cpu_compat=cpu_compat,
                          output=tensor, top_k=top_k)
    config = {
        "model": str(model) if not isinstance(model, Network) else model.name,
        "weights": None if weights is None else str(weights),
        "data": [getattr(scored, "source", str(data)), scored.split, len(scored)],
        "calibration": [calib.source, calib.split, len(calib), train_batch, seed],
        "batch_size": test_batch,
        "mode": mode.value,
        "cpu_compat": bool(cpu_compat),
        "score": [tensor, top_k, label],
        "preprocess": repr(pre),
    }
    store = ScoreStore(state_path, config)
    return trim(network, evaluator, stats, trimming_mode=trimming_mode, margin=margin, options=options,
                granularity=granularity, backoff=backoff, minifloat_splits=minifloat_splits, pow2_range=pow2_range,
                widths=widths, store=store, progress=progress)
