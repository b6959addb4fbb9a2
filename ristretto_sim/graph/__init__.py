"""Network structure: layer specs, ``Network``, ``QuantPlan``, importers/exporters, running a network.

Modules: ``layers`` (frozen layer specs), ``network`` (``Network``, ``TensorSpec``, ``Layout``), ``plan``
(``QuantPlan``, ``LayerPlan`` and the plan YAML file), ``onnx_import`` (``load_onnx``), ``onnx_export``
(``Network.to_onnx``), ``kernels`` (NumPy kernels), ``float_runner`` (float32 execution), ``runner``
(``run_network``: float, exact and ristretto modes with per-layer records), ``calibrate`` (a first dynamic
fixed point plan), ``scoring`` (top-1/top-5/PSNR), ``compare`` (float vs ristretto vs exact per layer); the
Caffe importer lives in ``caffe_import``. ``QuantPlan``, ``LayerPlan``, ``load_onnx`` and ``run_network`` are
also importable from here (lazily, so importing the layer specs stays light).
"""

from ristretto_sim.graph.layers import (
    LAYER_TYPES,
    LRN,
    Activation,
    ActivationKind,
    Concat,
    Conv,
    ConvTranspose,
    Dense,
    Eltwise,
    EltwiseOp,
    Flatten,
    Layer,
    LRNRegion,
    Pad,
    PadMode,
    Pool,
    PoolKind,
    PRelu,
    Reshape,
    Scale,
    Softmax,
    Transpose,
)
from ristretto_sim.graph.network import Folding, LayerInfo, Layout, Network, TensorSpec

_LAZY = {
    "QuantPlan": "ristretto_sim.graph.plan",
    "LayerPlan": "ristretto_sim.graph.plan",
    "load_onnx": "ristretto_sim.io.onnx.importer",
    "run_network": "ristretto_sim.runtime.runner",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ristretto_sim.graph' has no attribute {name!r}")


__all__ = [
    "LAYER_TYPES",
    "LRN",
    "Activation",
    "ActivationKind",
    "Concat",
    "Conv",
    "ConvTranspose",
    "Dense",
    "Eltwise",
    "EltwiseOp",
    "Flatten",
    "Folding",
    "LRNRegion",
    "Layer",
    "LayerInfo",
    "LayerPlan",
    "Layout",
    "Network",
    "PRelu",
    "Pad",
    "PadMode",
    "Pool",
    "QuantPlan",
    "PoolKind",
    "Reshape",
    "Scale",
    "Softmax",
    "TensorSpec",
    "Transpose",
    "load_onnx",
    "run_network",
]
