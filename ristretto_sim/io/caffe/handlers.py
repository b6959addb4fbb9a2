"""The handler of each Caffe layer type (registered by name with ``caffe_handler``; the importer looks a layer's
type up in ``HANDLERS``): what the layer becomes (the module docstring of ``importer`` lists them).

Handlers are methods of ``LayerHandlers``, the base of ``importer.CaffeImporter``, which owns the state and the
helpers they call: ``err``, ``emit`` (a layer spec with its output shape), ``tensor``, ``in_shape``, ``add_input``,
``layer_blobs``, ``fit``, ``axis``-like checks, and the import's records (aliases, heads, preprocessing).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ristretto_sim.data.preprocess import Preprocessing
from ristretto_sim.graph.layers import (
    LRN,
    Activation,
    Concat,
    Conv,
    ConvTranspose,
    Dense,
    Eltwise,
    Flatten,
    LRNRegion,
    Pool,
    PRelu,
    Reshape,
    Scale,
    Softmax,
)
from ristretto_sim.io.caffe.files import blob_shape, read_mean_file
from ristretto_sim.io.caffe.layer_types import (
    ALIAS_TYPES,
    CONV_TYPES,
    DECONV_TYPES,
    FC_TYPES,
    HEAD_TYPES,
    INPUT_TYPES,
    LRN_TYPES,
    SOURCE_HINTS,
)
from ristretto_sim.io.caffe.net_layers import NetLayer, data_source_of
from ristretto_sim.io.caffe.records import Head, InPlace

HANDLERS: dict[str, Callable] = {}


def caffe_handler(*types: str):
    """Register the decorated ``LayerHandlers`` method as the handler of the Caffe layer ``types``: it turns one such
    layer into layer specs (``emit``), network inputs, aliases or heads."""

    def register(method):
        for t in types:
            if t in HANDLERS:
                raise RuntimeError(f"Caffe layer type {t!r} has two handlers: {HANDLERS[t].__name__} and "
                                   f"{method.__name__}")
            HANDLERS[t] = method
        return method

    return register



class LayerHandlers:
    """The layer handlers (each registered for its Caffe types); the importer subclass supplies the state and the
    helpers (module docstring)."""

    @caffe_handler(*INPUT_TYPES)
    def data_layer(self, layer: NetLayer) -> None:
        msg = layer.msg
        if not layer.tops:
            raise self.err(layer, "data layer has no top")
        if layer.type == "Input":
            shapes = [tuple(int(d) for d in s.all("dim")) for s in msg.sub("input_param").all("shape")]
            if len(shapes) not in (1, len(layer.tops)):
                raise self.err(layer, f"{len(shapes)} shapes for {len(layer.tops)} tops")
            for i, top in enumerate(layer.tops):
                s = shapes[0] if len(shapes) == 1 else shapes[i]
                if len(s) < 2:
                    raise self.err(layer, f"input shape {s} lacks the batch axis")
                self.add_input(layer, top, s[1:])
            return
        tp = msg.sub("transform_param")
        dp = msg.sub("data_param")
        scale = tp.get("scale") if tp.has("scale") else dp.get("scale")
        crop = tp.get("crop_size") if tp.has("crop_size") else dp.get("crop_size")
        mirror = bool(tp.get("mirror") if tp.has("mirror") else dp.get("mirror"))
        mean = tuple(float(v) for v in tp.all("mean_value"))
        mean_file = tp.get("mean_file") if tp.has("mean_file") else dp.get("mean_file")
        mean_image = None
        if mean_file:
            if mean:
                raise self.err(layer, "transform_param sets both mean_file and mean_value (Caffe forbids it)")
            mean_image = read_mean_file(self.resolve(layer, mean_file))
        try:
            self.preprocess = Preprocessing(scale=scale, mean=mean, mean_image=mean_image, crop_size=crop,
                                            mirror=mirror)
        except ValueError as exc:
            raise self.err(layer, f"transform_param: {exc}") from None
        shape = self.data_shape(layer, mean_image, crop, mean)
        try:
            per_sample = self.preprocess.output_shape(shape)
        except ValueError as exc:
            raise self.err(layer, str(exc)) from None
        self.add_input(layer, layer.tops[0], per_sample)
        for top in layer.tops[1:]:
            self.label_blobs.add(top)
        if self.data_source is None:
            self.data_source = data_source_of(layer, self.phase, self.path)

    def resolve(self, layer: NetLayer, name: str) -> Path:
        p = Path(name)
        candidates = [p] if p.is_absolute() else [self.path.parent / p, Path.cwd() / p]
        for c in candidates:
            if c.is_file():
                return c
        raise self.err(layer, f"mean_file {name!r} not found (looked in {', '.join(map(str, candidates))})")

    def data_shape(self, layer: NetLayer, mean_image, crop: int, mean: tuple[float, ...]) -> tuple[int, ...]:
        """Raw (uncropped) per-sample shape of a Data-like layer's images."""
        if self.input_shape is not None:
            shape = tuple(int(d) for d in self.input_shape)
            if crop and self.preprocess is not None and len(shape) == 3 and shape[1:] == (crop, crop):
                return shape  # the user gave the cropped shape; treat it as the raw size (no-op crop)
            return shape
        if mean_image is not None:
            return mean_image.shape
        md = layer.msg.sub("memory_data_param")
        if layer.type == "MemoryData" and md.has("channels"):
            return (md.get("channels"), md.get("height"), md.get("width"))
        im = layer.msg.sub("image_data_param")
        if layer.type == "ImageData" and im.get("new_height", 0) and im.get("new_width", 0):
            return (3 if im.get("is_color", True) else 1, im.get("new_height"), im.get("new_width"))
        msg = layer.msg
        source = msg.sub("data_param").get("source") or msg.sub("image_data_param").get("source") or ""
        for key, shape in SOURCE_HINTS:
            if key in source.lower() and (not crop or crop <= shape[1]):
                return shape
        if crop:
            channels = len(mean) if len(mean) > 1 else self.first_conv_channels(layer)
            if channels:
                return (channels, crop, crop)
        raise self.err(layer, "the data layer does not say its image size; pass input_shape=(C, H, W)")

    def first_conv_channels(self, data_layer: NetLayer) -> int | None:
        for layer in self.all_layers:
            if layer.type in CONV_TYPES and data_layer.tops[0] in layer.bottoms:
                src = self.blobs.get(layer.name)
                if src is not None and src.all("blobs"):
                    shape = blob_shape(src.all("blobs")[0])
                    group = layer.msg.sub("convolution_param").get("group")
                    if len(shape) == 4:
                        return shape[1] * group
        return None

    # ---------------------------------------------------------------- layer kinds
    @caffe_handler(*CONV_TYPES)
    def convolution(self, layer: NetLayer) -> None:
        self.conv(layer, transpose=False)

    @caffe_handler(*DECONV_TYPES)
    def deconvolution(self, layer: NetLayer) -> None:
        self.conv(layer, transpose=True)

    def conv(self, layer: NetLayer, transpose: bool) -> None:
        p = layer.msg.sub("convolution_param")
        if p.get("axis") != 1:
            raise self.err(layer, f"convolution axis {p.get('axis')} is not supported (only 1)")
        c = self.in_shape(layer)
        if len(c) != 3:
            raise self.err(layer, f"expects a (C, H, W) input, got {c}")

        def pair(name, h, w, default):
            vals = p.all(name)
            if p.has(h) or p.has(w):
                return (int(p.get(h, default)), int(p.get(w, default)))
            if not vals:
                return (default, default)
            if len(vals) == 1:
                return (int(vals[0]), int(vals[0]))
            if len(vals) == 2:
                return (int(vals[0]), int(vals[1]))
            raise self.err(layer, f"{name} has {len(vals)} values; only 2-D convolution is supported")

        kernel = pair("kernel_size", "kernel_h", "kernel_w", 0)
        if min(kernel) < 1:
            raise self.err(layer, "kernel_size (or kernel_h/kernel_w) is required")
        stride = pair("stride", "stride_h", "stride_w", 1)
        pad = pair("pad", "pad_h", "pad_w", 0)
        dil = p.all("dilation")
        dilation = (1, 1) if not dil else ((dil[0], dil[0]) if len(dil) == 1 else (dil[0], dil[1]))
        group = int(p.get("group"))
        num_output = p.get("num_output")
        if not num_output:
            raise self.err(layer, "num_output is required")
        bias = bool(p.get("bias_term"))
        blobs = self.layer_blobs(layer, (1 + bias, 1 + bias))
        cin = c[0]
        if transpose:
            wshape = (cin, num_output // group, *kernel)
        else:
            wshape = (num_output, cin // max(group, 1), *kernel)
        params = {"weight": self.fit(layer, blobs[0] if blobs else None, wshape, "weight")}
        if bias:
            params["bias"] = self.fit(layer, blobs[1] if blobs else None, (num_output,), "bias")
        common = dict(in_channels=cin, out_channels=num_output, kernel=kernel, stride=stride,
                      pads=(pad[0], pad[1], pad[0], pad[1]), dilation=dilation, groups=group, bias=bias)
        self.emit(layer, ConvTranspose if transpose else Conv, params, **common)

    @caffe_handler(*FC_TYPES)
    def inner_product(self, layer: NetLayer) -> None:
        p = layer.msg.sub("inner_product_param")
        if p.get("axis") != 1:
            raise self.err(layer, f"InnerProduct axis {p.get('axis')} is not supported (only 1)")
        n_in = math.prod(self.in_shape(layer))
        n_out = p.get("num_output")
        if not n_out:
            raise self.err(layer, "num_output is required")
        bias = bool(p.get("bias_term"))
        blobs = self.layer_blobs(layer, (1 + bias, 1 + bias))
        if p.get("transpose"):
            w = self.fit(layer, blobs[0] if blobs else None, (n_in, n_out), "weight").T.copy()
        else:
            w = self.fit(layer, blobs[0] if blobs else None, (n_out, n_in), "weight")
        params = {"weight": w}
        if bias:
            params["bias"] = self.fit(layer, blobs[1] if blobs else None, (n_out,), "bias")
        self.emit(layer, Dense, params, in_features=n_in, out_features=n_out, bias=bias)

    @caffe_handler("Pooling")
    def pooling(self, layer: NetLayer) -> None:
        p = layer.msg.sub("pooling_param")
        kind = p.get("pool")
        if kind not in ("MAX", "AVE"):
            raise self.err(layer, f"pool: {kind} is not supported (MAX, AVE)")
        shape = self.in_shape(layer)
        if p.get("global_pooling"):
            if p.get("pad") or p.get("pad_h") or p.get("pad_w") or p.get("stride") != 1:
                raise self.err(layer, "global_pooling requires pad 0 and stride 1 (Caffe's check)")
            self.emit(layer, Pool, kind="max" if kind == "MAX" else "avg", global_pool=True,
                      ceil_mode=True, count_include_pad=True)
            return
        if p.has("kernel_h") or p.has("kernel_w"):
            kernel = (p.get("kernel_h", 0), p.get("kernel_w", 0))
        else:
            kernel = (p.get("kernel_size", 0),) * 2
        if min(kernel) < 1:
            raise self.err(layer, "kernel_size (or kernel_h and kernel_w) is required")
        stride = (p.get("stride_h"), p.get("stride_w")) if p.has("stride_h") or p.has("stride_w") \
            else (p.get("stride"),) * 2
        pad = (p.get("pad_h"), p.get("pad_w")) if p.has("pad_h") or p.has("pad_w") else (p.get("pad"),) * 2
        if pad[0] >= kernel[0] or pad[1] >= kernel[1]:
            raise self.err(layer, f"pad {pad} must be smaller than the kernel {kernel} (Caffe's check)")
        if len(shape) != 3:
            raise self.err(layer, f"expects a (C, H, W) input, got {shape}")
        self.emit(layer, Pool, kind="max" if kind == "MAX" else "avg", kernel=kernel, stride=stride,
                  pads=(pad[0], pad[1], pad[0], pad[1]), ceil_mode=p.get("round_mode") != "FLOOR",
                  count_include_pad=True)

    @caffe_handler(*LRN_TYPES)
    def lrn(self, layer: NetLayer) -> None:
        p = layer.msg.sub("lrn_param")
        size = int(p.get("local_size"))
        if size % 2 == 0:
            raise self.err(layer, f"local_size {size} must be odd (Caffe's check)")
        region = p.get("norm_region")
        k = float(p.get("k"))
        if region == "WITHIN_CHANNEL":
            k = 1.0  # Caffe's WITHIN_CHANNEL path (power layer shift 1) ignores k
        self.emit(layer, LRN, size=size, alpha=float(p.get("alpha")), beta=float(p.get("beta")), k=k,
                  region=LRNRegion(region.lower()))

    def axis(self, layer: NetLayer, axis: int, rank: int) -> int:
        a = axis + rank if axis < 0 else axis
        if not 1 <= a < rank:
            raise self.err(layer,
                           f"axis {axis} is not supported for a rank-{rank} blob (the batch axis is 0)")
        return a

    @caffe_handler("BatchNorm")
    def batch_norm(self, layer: NetLayer) -> None:
        p = layer.msg.sub("batch_norm_param")
        if p.has("use_global_stats") and not p.get("use_global_stats") and self.phase == "TEST":
            raise self.err(layer, "use_global_stats: false normalises with batch statistics, which inference "
                                  "cannot reproduce")
        shape = self.in_shape(layer)
        c = shape[0]
        blobs = self.layer_blobs(layer, (3, 3))
        if blobs:
            mean = self.fit(layer, blobs[0], (c,), "mean").astype(np.float64)
            var = self.fit(layer, blobs[1], (c,), "variance").astype(np.float64)
            factor = float(np.asarray(blobs[2]).ravel()[0]) if np.asarray(blobs[2]).size else 0.0
            inv = 0.0 if factor == 0 else 1.0 / factor
            w = 1.0 / np.sqrt(var * inv + float(p.get("eps")))
            b = -mean * inv * w
        else:
            w, b = np.ones(c), np.zeros(c)
        self.emit(layer, Scale, {"weight": w.astype(np.float32), "bias": b.astype(np.float32)},
                  channels=c, axis=1, bias=True)

    @caffe_handler("Scale")
    def scale(self, layer: NetLayer) -> None:
        p = layer.msg.sub("scale_param")
        if len(layer.bottoms) != 1:
            raise self.err(layer, "Scale with the factor as a second bottom is not supported")
        shape = self.in_shape(layer)
        if p.get("axis") != 1 or p.get("num_axes") != 1:
            raise self.err(layer, "only Scale over the channel axis (axis 1, num_axes 1) is supported")
        c = shape[0]
        bias = bool(p.get("bias_term"))
        blobs = self.layer_blobs(layer, (1 + bias, 1 + bias))
        params = {"weight": self.fit(layer, blobs[0] if blobs else None, (c,), "scale")}
        if bias:
            params["bias"] = self.fit(layer, blobs[1] if blobs else None, (c,), "bias")
        self.emit(layer, Scale, params, channels=c, axis=1, bias=bias)

    @caffe_handler("Bias")
    def bias(self, layer: NetLayer) -> None:
        p = layer.msg.sub("bias_param")
        if len(layer.bottoms) != 1:
            raise self.err(layer, "Bias with the bias as a second bottom is not supported")
        if p.get("axis") != 1 or p.get("num_axes") != 1:
            raise self.err(layer, "only Bias over the channel axis (axis 1, num_axes 1) is supported")
        c = self.in_shape(layer)[0]
        blobs = self.layer_blobs(layer, (1, 1))
        b = self.fit(layer, blobs[0] if blobs else None, (c,), "bias")
        self.emit(layer, Scale, {"weight": np.ones(c, dtype=np.float32), "bias": b}, channels=c, axis=1, bias=True)

    @caffe_handler("Power")
    def power(self, layer: NetLayer) -> None:
        p = layer.msg.sub("power_param")
        power, scale, shift = float(p.get("power")), float(p.get("scale")), float(p.get("shift"))
        if power != 1.0:
            raise self.err(layer, f"power: {power:g} is not supported (only power: 1, the affine shift + scale * x)")
        c = self.in_shape(layer)[0]
        self.emit(layer, Scale, {"weight": np.full(c, scale, dtype=np.float32),
                                 "bias": np.full(c, shift, dtype=np.float32)}, channels=c, axis=1, bias=True)

    @caffe_handler("PReLU")
    def prelu(self, layer: NetLayer) -> None:
        shape = self.in_shape(layer)
        shared = bool(layer.msg.sub("prelu_param").get("channel_shared"))
        c = 1 if shared else shape[0]
        blobs = self.layer_blobs(layer, (1, 1))
        slope = self.fit(layer, blobs[0] if blobs else None, (c,), "slope")
        if not shared:  # one slope per channel (axis 1), broadcast over the spatial axes
            slope = slope.reshape((c,) + (1,) * (len(shape) - 1))
        self.emit(layer, PRelu, {"slope": slope})

    @caffe_handler("Reshape")
    def reshape(self, layer: NetLayer) -> None:
        p = layer.msg.sub("reshape_param")
        per_sample = self.in_shape(layer)
        full = ("N",) + tuple(per_sample)  # "N": the batch size
        rank = len(full)
        dims = [int(d) for d in p.sub("shape").all("dim")]
        axis, num_axes = int(p.get("axis")), int(p.get("num_axes"))
        start = axis + rank + 1 if axis < 0 else axis
        end = rank if num_axes == -1 else start + num_axes
        if not 0 <= start <= end <= rank:
            raise self.err(layer, f"axis {axis} / num_axes {num_axes} do not fit a rank-{rank} blob")
        new = []
        for i, d in enumerate(dims):
            if d == 0:
                if start + i >= end:
                    raise self.err(layer, f"dim {i} is 0 (copy) but the input has no axis {start + i} to copy")
                new.append(full[start + i])
            elif d >= -1:
                new.append(d)
            else:
                raise self.err(layer, f"dim {d} is invalid (give a size, 0 to copy or -1 to infer)")
        out = list(full[:start]) + new + list(full[end:])
        total = math.prod(per_sample)
        if out.count(-1) > 1:
            raise self.err(layer, "only one dim may be -1")
        if not out or out[0] not in ("N", -1) or "N" in out[1:]:
            raise self.err(layer, f"reshape to {tuple(out)} must keep the batch axis first (dim 0: 0)")
        rest = out[1:]
        if out[0] == -1:  # the batch inferred: the per-sample size must stay the same
            if math.prod(rest) != total:
                raise self.err(layer, f"reshape to {tuple(out)} would change the batch size ({total} values per "
                                      f"sample, {math.prod(rest)} asked)")
        elif -1 in rest:
            known = math.prod(d for d in rest if d != -1)
            if known == 0 or total % known:
                raise self.err(layer, f"cannot infer -1: {total} values per sample do not split into {rest}")
            rest[rest.index(-1)] = total // known
        self.emit(layer, Reshape, shape=tuple(rest))

    @caffe_handler(*ALIAS_TYPES)
    def alias(self, layer: NetLayer) -> None:
        if len(layer.bottoms) != 1:
            raise self.err(layer, f"takes one bottom, got {layer.bottoms}")
        src = self.tensor(layer, layer.bottoms[0])
        if layer.type == "Dropout" and len(layer.tops) != 1:
            raise self.err(layer, f"takes one top, got {layer.tops}")
        for top in layer.tops:
            if top == layer.bottoms[0]:
                dropout = layer.type == "Dropout"
                ratio = float(layer.msg.sub("dropout_param").get("dropout_ratio")) if dropout else None
                self.inplace.append(InPlace(layer.name, top, src, src, layer.type, ratio))
            else:
                if top in self.current:
                    raise self.err(layer, f"top {top!r} overwrites another blob (only in-place writes may)")
                self.current[top] = src
                self.aliases[top] = src
        self.consumed.add(src)

    @caffe_handler(*HEAD_TYPES)
    def head(self, layer: NetLayer) -> None:
        if layer.type == "Silence":
            for b in layer.bottoms:
                self.consumed.add(self.tensor(layer, b))
            return
        if not layer.bottoms:
            raise self.err(layer, "has no bottom")
        scored = self.tensor(layer, layer.bottoms[0])
        top_k = int(layer.msg.sub("accuracy_param").get("top_k")) if layer.type == "Accuracy" else 1
        self.heads.append(Head(layer.name, layer.type, scored, top_k))

    @caffe_handler("ReLU")
    def relu(self, layer: NetLayer) -> None:
        slope = float(layer.msg.sub("relu_param").get("negative_slope"))
        if slope:
            self.emit(layer, Activation, kind="leaky_relu", alpha=slope)
        else:
            self.emit(layer, Activation, kind="relu")

    @caffe_handler("Sigmoid", "TanH")
    def sigmoid_tanh(self, layer: NetLayer) -> None:
        self.emit(layer, Activation, kind="sigmoid" if layer.type == "Sigmoid" else "tanh")

    @caffe_handler("Concat")
    def concat(self, layer: NetLayer) -> None:
        p = layer.msg.sub("concat_param")
        ax = p.get("axis") if p.has("axis") or not p.has("concat_dim") else p.get("concat_dim")
        self.emit(layer, Concat, axis=self.axis(layer, ax, len(self.in_shape(layer)) + 1))

    @caffe_handler("Eltwise")
    def eltwise(self, layer: NetLayer) -> None:
        p = layer.msg.sub("eltwise_param")
        op = {"PROD": "mul", "SUM": "add", "MAX": "max"}[p.get("operation")]
        coeffs = p.all("coeff") or None
        if coeffs is not None and op != "add":
            raise self.err(layer, "coeff is only allowed with operation SUM")
        if coeffs is not None and len(coeffs) != len(layer.bottoms):
            raise self.err(layer, f"{len(coeffs)} coeff values for {len(layer.bottoms)} bottoms")
        self.emit(layer, Eltwise, op=op, coeffs=tuple(coeffs) if coeffs else None)

    @caffe_handler("Flatten")
    def flatten(self, layer: NetLayer) -> None:
        p = layer.msg.sub("flatten_param")
        rank = len(self.in_shape(layer)) + 1
        a, e = self.axis(layer, p.get("axis"), rank), p.get("end_axis")
        e = e + rank if e < 0 else e
        if e == rank - 1:
            self.emit(layer, Flatten, axis=a)
        else:
            s = self.in_shape(layer)
            new = s[:a - 1] + (math.prod(s[a - 1:e]),) + s[e:]
            self.emit(layer, Reshape, shape=new)

    @caffe_handler("Softmax")
    def softmax(self, layer: NetLayer) -> None:
        p = layer.msg.sub("softmax_param")
        rank = len(self.in_shape(layer)) + 1
        self.emit(layer, Softmax, axis=self.axis(layer, p.get("axis"), rank), flatten=False)

