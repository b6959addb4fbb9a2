"""The network IR: layer specs, ``Network``, ``QuantPlan`` (no file formats, no execution).

Modules: ``layers`` (frozen layer specs: shapes and parameters, no arithmetic), ``network`` (``Network``,
``TensorSpec``, ``Layout``), ``plan`` (``QuantPlan``, ``LayerPlan`` and the plan YAML file). Reading and writing
model files is ``ristretto_sim.io``; running a network is ``ristretto_sim.runtime``. ``QuantPlan`` and
``LayerPlan`` are also importable from here (lazily, so importing the layer specs stays light).
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
]
