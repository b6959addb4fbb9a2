"""Network structure: layer specs, ``Network``, ``QuantPlan``, importers/exporters, running a network.

Modules: ``layers`` (frozen layer specs), ``network`` (``Network``, ``TensorSpec``, ``Layout``), ``plan``
(``QuantPlan`` and its YAML file), ``onnx_import`` (``load_onnx``), ``onnx_export`` (``Network.to_onnx``),
``kernels`` (float32 NumPy kernels), ``runner`` (float and quantized execution). Heavy modules are imported
lazily.
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
    "Layout",
    "Network",
    "PRelu",
    "Pad",
    "PadMode",
    "Pool",
    "PoolKind",
    "Reshape",
    "Scale",
    "Softmax",
    "TensorSpec",
    "Transpose",
]
