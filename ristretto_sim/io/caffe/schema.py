"""The part of Caffe's ``caffe.proto`` (Ristretto fork) that the Caffe importer reads, and ``Message``.

``MESSAGES`` maps each message name to its fields: field number -> ``Field(name, type, repeated)``, where
``type`` is a scalar type (``"string"``, ``"bytes"``, ``"bool"``, ``"int32"``, ``"uint32"``, ``"int64"``,
``"uint64"``, ``"float"``, ``"double"``), ``"enum:<Name>"`` (values kept as the enum member's *name*, e.g.
``"MAX"``), or another message name. ``DEFAULTS`` holds the proto2 ``[default = ...]`` values. Fields not
listed here (fillers, solver settings, data sources of unsupported layers) are skipped by the binary decoder
and kept untyped by the text parser.

Both the binary decoder (``wire``) and the text parser (``text``) produce ``Message`` objects,
so the importer reads a prototxt and a caffemodel the same way. Field numbers follow
``src/caffe/proto/caffe.proto`` of pmgysel/caffe (``quantization_param = 148``, Ristretto's
``QuantizationParameter`` fields 1..12).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Field:
    """One field of a message: its name, type (scalar, ``enum:<Name>`` or message name) and cardinality."""

    name: str
    type: str
    repeated: bool = False


def _f(name: str, type_: str, repeated: bool = False) -> Field:
    return Field(name, type_, repeated)


R = True  # repeated

ENUMS: dict[str, dict[int, str]] = {
    "Phase": {0: "TRAIN", 1: "TEST"},
    "PoolMethod": {0: "MAX", 1: "AVE", 2: "STOCHASTIC"},
    "RoundMode": {0: "CEIL", 1: "FLOOR"},
    "NormRegion": {0: "ACROSS_CHANNELS", 1: "WITHIN_CHANNEL"},
    "EltwiseOp": {0: "PROD", 1: "SUM", 2: "MAX"},
    "Engine": {0: "DEFAULT", 1: "CAFFE", 2: "CUDNN"},
    "Precision": {0: "DYNAMIC_FIXED_POINT", 1: "MINIFLOAT", 2: "INTEGER_POWER_OF_2_WEIGHTS"},
    "Rounding": {0: "NEAREST", 1: "STOCHASTIC"},
    "DB": {0: "LEVELDB", 1: "LMDB"},
    "V1LayerType": {
        0: "NONE", 35: "ABSVAL", 1: "ACCURACY", 30: "ARGMAX", 2: "BNLL", 3: "CONCAT", 37: "CONTRASTIVE_LOSS",
        4: "CONVOLUTION", 5: "DATA", 39: "DECONVOLUTION", 6: "DROPOUT", 32: "DUMMY_DATA", 7: "EUCLIDEAN_LOSS",
        25: "ELTWISE", 38: "EXP", 8: "FLATTEN", 9: "HDF5_DATA", 10: "HDF5_OUTPUT", 28: "HINGE_LOSS",
        11: "IM2COL",
        12: "IMAGE_DATA", 13: "INFOGAIN_LOSS", 14: "INNER_PRODUCT", 15: "LRN", 29: "MEMORY_DATA",
        16: "MULTINOMIAL_LOGISTIC_LOSS", 34: "MVN", 17: "POOLING", 26: "POWER", 18: "RELU", 19: "SIGMOID",
        27: "SIGMOID_CROSS_ENTROPY_LOSS", 36: "SILENCE", 20: "SOFTMAX", 21: "SOFTMAX_LOSS", 22: "SPLIT",
        33: "SLICE",
        23: "TANH", 24: "WINDOW_DATA", 31: "THRESHOLD",
    },
}

#: V1 layer type enum name -> the type string of the new ``layer`` format
V1_TYPE_NAMES = {
    "ABSVAL": "AbsVal", "ACCURACY": "Accuracy", "ARGMAX": "ArgMax", "BNLL": "BNLL", "CONCAT": "Concat",
    "CONTRASTIVE_LOSS": "ContrastiveLoss", "CONVOLUTION": "Convolution", "DATA": "Data",
    "DECONVOLUTION": "Deconvolution", "DROPOUT": "Dropout", "DUMMY_DATA": "DummyData",
    "EUCLIDEAN_LOSS": "EuclideanLoss", "ELTWISE": "Eltwise", "EXP": "Exp", "FLATTEN": "Flatten",
    "HDF5_DATA": "HDF5Data", "HDF5_OUTPUT": "HDF5Output", "HINGE_LOSS": "HingeLoss", "IM2COL": "Im2col",
    "IMAGE_DATA": "ImageData", "INFOGAIN_LOSS": "InfogainLoss", "INNER_PRODUCT": "InnerProduct", "LRN": "LRN",
    "MEMORY_DATA": "MemoryData", "MULTINOMIAL_LOGISTIC_LOSS": "MultinomialLogisticLoss", "MVN": "MVN",
    "POOLING": "Pooling", "POWER": "Power", "RELU": "ReLU", "SIGMOID": "Sigmoid",
    "SIGMOID_CROSS_ENTROPY_LOSS": "SigmoidCrossEntropyLoss", "SILENCE": "Silence", "SOFTMAX": "Softmax",
    "SOFTMAX_LOSS": "SoftmaxWithLoss", "SPLIT": "Split", "SLICE": "Slice", "TANH": "TanH",
    "WINDOW_DATA": "WindowData", "THRESHOLD": "Threshold",
}

# layer-specific parameter messages shared by LayerParameter and V1LayerParameter
_PARAMS = {
    "accuracy_param": "AccuracyParameter", "batch_norm_param": "BatchNormParameter",
    "concat_param": "ConcatParameter", "convolution_param": "ConvolutionParameter",
    "data_param": "DataParameter",
    "dropout_param": "DropoutParameter", "eltwise_param": "EltwiseParameter",
    "flatten_param": "FlattenParameter",
    "inner_product_param": "InnerProductParameter", "input_param": "InputParameter",
    "lrn_param": "LRNParameter",
    "pooling_param": "PoolingParameter", "relu_param": "ReLUParameter", "scale_param": "ScaleParameter",
    "softmax_param": "SoftmaxParameter", "transform_param": "TransformationParameter",
    "quantization_param": "QuantizationParameter", "memory_data_param": "MemoryDataParameter",
    "image_data_param": "ImageDataParameter", "prelu_param": "PReLUParameter", "power_param": "PowerParameter",
    "bias_param": "BiasParameter", "reshape_param": "ReshapeParameter",
}
_LAYER_NUMBERS = {
    "transform_param": 100, "accuracy_param": 102, "batch_norm_param": 139, "concat_param": 104,
    "convolution_param": 106, "data_param": 107, "dropout_param": 108, "eltwise_param": 110,
    "flatten_param": 135,
    "image_data_param": 115, "inner_product_param": 117, "input_param": 143, "lrn_param": 118,
    "memory_data_param": 119, "pooling_param": 121, "relu_param": 123, "scale_param": 142,
    "softmax_param": 125,
    "quantization_param": 148, "power_param": 122, "prelu_param": 131, "reshape_param": 133, "bias_param": 141,
}
_V1_NUMBERS = {
    "accuracy_param": 27, "concat_param": 9, "convolution_param": 10, "data_param": 11, "dropout_param": 12,
    "eltwise_param": 24, "image_data_param": 15, "inner_product_param": 17, "lrn_param": 18,
    "memory_data_param": 22, "pooling_param": 19, "relu_param": 30, "softmax_param": 39,
    "transform_param": 36, "power_param": 21,
}

MESSAGES: dict[str, dict[int, Field]] = {
    "NetParameter": {1: _f("name", "string"), 3: _f("input", "string", R), 8: _f("input_shape", "BlobShape",
                                                                                 R),
                     4: _f("input_dim", "int32", R), 6: _f("state", "NetState"),
                     100: _f("layer", "LayerParameter", R), 2: _f("layers", "V1LayerParameter", R)},
    "NetState": {1: _f("phase", "enum:Phase"), 2: _f("level", "int32"), 3: _f("stage", "string", R)},
    "NetStateRule": {1: _f("phase", "enum:Phase"), 2: _f("min_level", "int32"), 3: _f("max_level", "int32"),
                     4: _f("stage", "string", R), 5: _f("not_stage", "string", R)},
    "BlobShape": {1: _f("dim", "int64", R)},
    "BlobProto": {7: _f("shape", "BlobShape"), 5: _f("data", "float", R), 8: _f("double_data", "double", R),
                  1: _f("num", "int32"), 2: _f("channels", "int32"), 3: _f("height", "int32"),
                  4: _f("width", "int32")},
    "LayerParameter": {1: _f("name", "string"), 2: _f("type", "string"), 3: _f("bottom", "string", R),
                       4: _f("top", "string", R), 10: _f("phase", "enum:Phase"), 7: _f("blobs", "BlobProto",
                                                                                       R),
                       8: _f("include", "NetStateRule", R), 9: _f("exclude", "NetStateRule", R),
                       **{n: _f(k, _PARAMS[k]) for k, n in _LAYER_NUMBERS.items()}},
    "V1LayerParameter": {4: _f("name", "string"), 5: _f("type", "enum:V1LayerType"), 2: _f("bottom",
                                                                                           "string", R),
                         3: _f("top", "string", R), 6: _f("blobs", "BlobProto", R),
                         32: _f("include", "NetStateRule", R), 33: _f("exclude", "NetStateRule", R),
                         **{n: _f(k, _PARAMS[k]) for k, n in _V1_NUMBERS.items()}},
    "TransformationParameter": {1: _f("scale", "float"), 2: _f("mirror", "bool"), 3: _f("crop_size",
                                                                                        "uint32"),
                                4: _f("mean_file", "string"), 5: _f("mean_value", "float", R)},
    "DataParameter": {1: _f("source", "string"), 4: _f("batch_size", "uint32"), 8: _f("backend", "enum:DB"),
                      2: _f("scale", "float"), 3: _f("mean_file", "string"), 5: _f("crop_size", "uint32"),
                      6: _f("mirror", "bool")},
    "MemoryDataParameter": {1: _f("batch_size", "uint32"), 2: _f("channels", "uint32"), 3: _f("height",
                                                                                              "uint32"),
                            4: _f("width", "uint32")},
    "ImageDataParameter": {1: _f("source", "string"), 4: _f("batch_size", "uint32"), 9: _f("new_height",
                                                                                           "uint32"),
                           10: _f("new_width", "uint32"), 11: _f("is_color", "bool")},
    "InputParameter": {1: _f("shape", "BlobShape", R)},
    "AccuracyParameter": {1: _f("top_k", "uint32"), 2: _f("axis", "int32"), 3: _f("ignore_label", "int32")},
    "ConcatParameter": {2: _f("axis", "int32"), 1: _f("concat_dim", "uint32")},
    "BatchNormParameter": {1: _f("use_global_stats", "bool"), 2: _f("moving_average_fraction", "float"),
                           3: _f("eps", "float")},
    "ConvolutionParameter": {1: _f("num_output", "uint32"), 2: _f("bias_term", "bool"), 3: _f("pad",
                                                                                              "uint32", R),
                             4: _f("kernel_size", "uint32", R), 6: _f("stride", "uint32", R),
                             18: _f("dilation", "uint32", R), 9: _f("pad_h", "uint32"), 10: _f("pad_w",
                                                                                               "uint32"),
                             11: _f("kernel_h", "uint32"), 12: _f("kernel_w", "uint32"),
                             13: _f("stride_h", "uint32"), 14: _f("stride_w", "uint32"), 5: _f("group",
                                                                                               "uint32"),
                             15: _f("engine", "enum:Engine"), 16: _f("axis", "int32"),
                             17: _f("force_nd_im2col", "bool")},
    "DropoutParameter": {1: _f("dropout_ratio", "float")},
    "EltwiseParameter": {1: _f("operation", "enum:EltwiseOp"), 2: _f("coeff", "float", R),
                         3: _f("stable_prod_grad", "bool")},
    "FlattenParameter": {1: _f("axis", "int32"), 2: _f("end_axis", "int32")},
    "InnerProductParameter": {1: _f("num_output", "uint32"), 2: _f("bias_term", "bool"), 5: _f("axis",
                                                                                               "int32"),
                              6: _f("transpose", "bool")},
    "LRNParameter": {1: _f("local_size", "uint32"), 2: _f("alpha", "float"), 3: _f("beta", "float"),
                     4: _f("norm_region", "enum:NormRegion"), 5: _f("k", "float"), 6: _f("engine",
                                                                                         "enum:Engine")},
    "PoolingParameter": {1: _f("pool", "enum:PoolMethod"), 4: _f("pad", "uint32"), 9: _f("pad_h", "uint32"),
                         10: _f("pad_w", "uint32"), 2: _f("kernel_size", "uint32"), 5: _f("kernel_h",
                                                                                          "uint32"),
                         6: _f("kernel_w", "uint32"), 3: _f("stride", "uint32"), 7: _f("stride_h", "uint32"),
                         8: _f("stride_w", "uint32"), 11: _f("engine", "enum:Engine"),
                         12: _f("global_pooling", "bool"), 13: _f("round_mode", "enum:RoundMode")},
    "ReLUParameter": {1: _f("negative_slope", "float"), 2: _f("engine", "enum:Engine")},
    "ScaleParameter": {1: _f("axis", "int32"), 2: _f("num_axes", "int32"), 4: _f("bias_term", "bool")},
    "SoftmaxParameter": {1: _f("engine", "enum:Engine"), 2: _f("axis", "int32")},
    "PReLUParameter": {2: _f("channel_shared", "bool")},
    "PowerParameter": {1: _f("power", "float"), 2: _f("scale", "float"), 3: _f("shift", "float")},
    "BiasParameter": {1: _f("axis", "int32"), 2: _f("num_axes", "int32")},
    "ReshapeParameter": {1: _f("shape", "BlobShape"), 2: _f("axis", "int32"), 3: _f("num_axes", "int32")},
    "QuantizationParameter": {1: _f("precision", "enum:Precision"), 2: _f("rounding_scheme", "enum:Rounding"),
                              3: _f("bw_layer_in", "uint32"), 4: _f("bw_layer_out", "uint32"),
                              5: _f("bw_params", "uint32"), 6: _f("fl_layer_in", "int32"),
                              7: _f("fl_layer_out", "int32"), 8: _f("fl_params", "int32"),
                              9: _f("mant_bits", "uint32"), 10: _f("exp_bits", "uint32"),
                              11: _f("exp_min", "int32"), 12: _f("exp_max", "int32")},
}

#: field name -> Field, per message (for the text parser)
BY_NAME: dict[str, dict[str, Field]] = {m: {f.name: f for f in fs.values()} for m, fs in MESSAGES.items()}

DEFAULTS: dict[str, dict[str, object]] = {
    "NetState": {"phase": "TEST", "level": 0},
    "TransformationParameter": {"scale": 1.0, "mirror": False, "crop_size": 0},
    "DataParameter": {"scale": 1.0, "crop_size": 0, "mirror": False, "backend": "LEVELDB"},
    "AccuracyParameter": {"top_k": 1, "axis": 1},
    "ConcatParameter": {"axis": 1, "concat_dim": 1},
    "BatchNormParameter": {"moving_average_fraction": 0.999, "eps": 1e-5},
    "ConvolutionParameter": {"bias_term": True, "pad_h": 0, "pad_w": 0, "group": 1, "engine": "DEFAULT",
                             "axis": 1,
                             "force_nd_im2col": False},
    "DropoutParameter": {"dropout_ratio": 0.5},
    "EltwiseParameter": {"operation": "SUM", "stable_prod_grad": True},
    "FlattenParameter": {"axis": 1, "end_axis": -1},
    "InnerProductParameter": {"bias_term": True, "axis": 1, "transpose": False},
    "LRNParameter": {"local_size": 5, "alpha": 1.0, "beta": 0.75, "norm_region": "ACROSS_CHANNELS", "k": 1.0},
    "PoolingParameter": {"pool": "MAX", "pad": 0, "pad_h": 0, "pad_w": 0, "stride": 1,
                         "global_pooling": False, "round_mode": "CEIL"},
    "ReLUParameter": {"negative_slope": 0.0},
    "ScaleParameter": {"axis": 1, "num_axes": 1, "bias_term": False},
    "SoftmaxParameter": {"axis": 1},
    "PReLUParameter": {"channel_shared": False},
    "PowerParameter": {"power": 1.0, "scale": 1.0, "shift": 0.0},
    "BiasParameter": {"axis": 1, "num_axes": 1},
    "ReshapeParameter": {"axis": 0, "num_axes": -1},
    "QuantizationParameter": {"precision": "DYNAMIC_FIXED_POINT", "rounding_scheme": "NEAREST",
                              "bw_layer_in": 32,
                              "bw_layer_out": 32, "bw_params": 32, "fl_layer_in": 16, "fl_layer_out": 16,
                              "fl_params": 16, "mant_bits": 23, "exp_bits": 8, "exp_min": -8, "exp_max": -1},
    "BlobProto": {"num": 0, "channels": 0, "height": 0, "width": 0},
}


class Message:
    """A decoded protobuf message: field name -> list of values (every field as a list, last one wins).

    Scalars are Python ``int``/``float``/``bool``/``str``; enum values are the member names; sub-messages are
    ``Message``; ``BlobProto.data``/``double_data`` are accumulated as NumPy arrays. ``line`` is the 1-based
    line in a prototxt (0 for binary files), for error messages.
    """

    __slots__ = ("type_name", "fields", "line")

    def __init__(self, type_name: str, line: int = 0):
        self.type_name = type_name
        self.fields: dict[str, list] = {}
        self.line = line

    def add(self, name: str, value) -> None:
        """Append one value of field ``name``."""
        self.fields.setdefault(name, []).append(value)

    def has(self, name: str) -> bool:
        """Whether field ``name`` was set."""
        return bool(self.fields.get(name))

    def get(self, name: str, default=None):
        """The value of a singular field: the last one set, else the proto default, else ``default``."""
        values = self.fields.get(name)
        if values:
            return values[-1]
        return DEFAULTS.get(self.type_name, {}).get(name, default)

    def all(self, name: str) -> list:
        """Every value of a repeated field (empty list when unset)."""
        return list(self.fields.get(name, ()))

    def sub(self, name: str) -> Message:
        """A singular sub-message, or an empty one of the right type when unset (so defaults apply)."""
        value = self.get(name)
        if isinstance(value, Message):
            return value
        fields = BY_NAME.get(self.type_name, {})
        return Message(fields[name].type if name in fields else name, self.line)

    def array(self, name: str) -> np.ndarray:
        """A repeated numeric field as one float64 (``double_data``) or float32 array."""
        parts = self.fields.get(name, ())
        arrays = [np.atleast_1d(np.asarray(p)) for p in parts]
        if not arrays:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(arrays)

    def __repr__(self) -> str:
        return f"Message({self.type_name}, {sorted(self.fields)})"
