"""QONNX export: the float ONNX model (``io.onnx.exporter.to_onnx``) with the plan's formats as QONNX quantizer nodes.

Read against qonnx 1.0.0's own semantics (``qonnx.custom_op.general.intquant.int_quant`` and
``floatquant.float_quant``):

* **Fixed point** -> ``Quant`` (domain ``qonnx.custom_op.general``) with scale ``2**-frac_bits`` (per-channel
  fractions: a scale per output channel, weights only), zero point 0, the format's bit width, ``signed`` from the
  format and always ``narrow=0``. qonnx clamps to the integer range and then rounds, which equals our
  round-then-saturate for every rounding below.
* **Rounding**: ``NEAREST_EVEN`` -> ``ROUND``, ``NEAREST_AWAY`` -> ``HALF_UP`` (qonnx's HALF_UP is
  ``sign(x) * floor(|x| + 0.5)``: ties away from zero), ``TOWARD_ZERO`` -> ``DOWN``, ``FLOOR`` -> ``FLOOR``,
  ``CEIL`` -> ``CEIL``; ``STOCHASTIC`` and ``NEAREST_UP`` (no qonnx mode) are a ``ValueError`` naming the layer.
* A **1-bit signed** fixed-point format is a ``ValueError`` naming the layer: qonnx turns 1-bit signed Quant
  into a bipolar {-1, +1} quantizer, which is not a 1-bit two's complement number {-1, 0}.
* **IEEE-style minifloats** (subnormals on; exact mode) -> ``FloatQuant`` with scale 1, the exponent and mantissa
  widths, the format's bias and ``max_val`` = the format's largest finite value, ``has_subnormal=1``,
  ``has_inf``/``has_nan`` from the format's specials and ``saturation=0`` when it has specials (overflow goes to
  Inf/NaN like the emulator's natural overflow), 1 when it has none.
* **Affine integers** (int8 models' activations) -> ``Quant`` with the format's scale and zero point, bit width and
  ``signed``, ``narrow=0``: qonnx's ``(clip(round(x / scale + zeropt)) - zeropt) * scale`` is the format's own
  quantization (the zero point is an integer). Their weights and biases are pre-quantized initializers (below).
  The model's integer requantization (TFLite's fixed-point multiplier) becomes a float rescale and one
  rounding, so an output may differ from the emulator's by one code.
* **Power-of-two weights, affine weights and Ristretto minifloat weights** (ristretto mode, or minifloats without
  subnormals) have no QONNX quantizer: their initializers are replaced by the quantized values (pre-quantized
  weights); such *activations*, except affine ones, are a ``ValueError`` naming the layer.

What is quantized is what the emulator quantizes for each planned layer: Conv/ConvTranspose/Dense layers get a
quantizer on their input, weights, bias and output; other planned layers on their inputs and output. In exact mode
an average pooling layer that the executor computes in integers (``runtime.exact_ops``: sum times ``1/n`` rounded
to the plan's reciprocal format, requantized to its ``outputs`` or its input's format) is exported as that
arithmetic: a depthwise ``Conv`` with a kernel of ones (the window sum), a ``Mul`` in float64 by the rounded
reciprocals (one per output position) and a ``Quant`` to the output format, then a ``Cast`` back to float32;
bit-exact while a window sum stays below ``2**24`` codes. The bias
takes the plan's ``bias`` format, else the accumulator's (exact mode, fixed-point and shift datapaths: the preload
grid), else stays float; in ristretto mode it takes the weights' format (float for power-of-two weights).
Input quantizers are inserted per consumer, the exact mode's semantics: Ristretto's in-place rounding of a
blob shared with a later non-Ristretto reader is not reproduced. The integer GEMMs become float ONNX
Conv/Gemm, so accumulator width and saturation inside the sum are not modelled (a real accumulator that can
overflow will differ); outputs agree with the emulator's within one output LSB.

To execute the file with qonnx (``qonnx.core.onnx_exec.execute_onnx``), export it with a fixed ``batch`` and run
qonnx's ``InferShapes`` transformation first: its executor needs static shapes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ristretto_sim.emulator import Mode, ristretto_quantize
from ristretto_sim.emulator.pooling import window_counts
from ristretto_sim.formats import Affine, FixedPoint, Minifloat, PowerOfTwo, Rounding, Specials
from ristretto_sim.graph.layers import WEIGHTED, Pool, PoolKind
from ristretto_sim.graph.network import Network
from ristretto_sim.graph.plan import QuantPlan
from ristretto_sim.graph.tensor_formats import average_fits, fixed, tensor_formats
from ristretto_sim.io.onnx.exporter import to_onnx
from ristretto_sim.io.weights.quantized import Float32Format, layer_tensors

QONNX_DOMAIN = "qonnx.custom_op.general"

ROUNDING_MODES = {
    Rounding.NEAREST_EVEN: "ROUND",
    Rounding.NEAREST_AWAY: "HALF_UP",
    Rounding.TOWARD_ZERO: "DOWN",
    Rounding.FLOOR: "FLOOR",
    Rounding.CEIL: "CEIL",
}


def qonnx_rounding(rounding, layer: str) -> str:
    """The qonnx ``rounding_mode`` of a ``Rounding`` (``ValueError`` naming ``layer`` if there is none)."""
    rounding = Rounding.coerce(rounding, "rounding")
    if rounding not in ROUNDING_MODES:
        raise ValueError(
            f"layer {layer!r}: rounding {rounding.value!r} has no QONNX rounding mode "
            f"(supported: {', '.join(r.value for r in ROUNDING_MODES)})"
        )
    return ROUNDING_MODES[rounding]


def _is_ieee_minifloat(fmt, mode: Mode) -> bool:
    return isinstance(fmt, Minifloat) and fmt.subnormals and mode is Mode.EXACT


class _Builder:
    def __init__(self, inits):
        self.inits = inits
        self.names = {i.name for i in inits}

    def const(self, name: str, value) -> str:
        from onnx import numpy_helper

        base, i = name, 1
        while name in self.names:
            i += 1
            name = f"{base}_{i}"
        self.names.add(name)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    def quant_node(self, fmt, src: str, dst: str, layer: str, what: str, rounding, mode: Mode, axis_shape=None):
        """A Quant/FloatQuant node computing ``dst`` from ``src`` in ``fmt`` (or a ValueError naming the layer)."""
        from onnx import helper

        tag = f"{layer}/{what}_quant"
        rmode = qonnx_rounding(rounding, layer)
        if isinstance(fmt, FixedPoint):
            if fmt.signed and fmt.bits == 1:
                raise ValueError(
                    f"layer {layer!r}: {what} format {fmt} is 1-bit signed, which qonnx executes as a bipolar "
                    "{-1, +1} quantizer, not two's complement {-1, 0}; use 2 bits or an unsigned format"
                )
            frac = np.asarray(fmt.frac_bits, dtype=np.int64)
            if fmt.per_channel:
                if axis_shape is None:
                    raise ValueError(
                        f"layer {layer!r}: per-channel {what} format {fmt} cannot be exported to QONNX "
                        "(per-channel scales are supported for weights and biases only)"
                    )
                frac = frac.reshape(axis_shape)
            scale = self.const(f"{tag}/scale", np.ldexp(1.0, -frac))
            zero = self.const(f"{tag}/zeropt", 0.0)
            bits = self.const(f"{tag}/bitwidth", float(fmt.bits))
            return helper.make_node(
                "Quant", [src, scale, zero, bits], [dst], name=tag, domain=QONNX_DOMAIN,
                signed=int(fmt.signed), narrow=0, rounding_mode=rmode,
            )
        if isinstance(fmt, Affine):
            if fmt.per_channel and axis_shape is None:
                raise ValueError(
                    f"layer {layer!r}: per-channel {what} format {fmt.short()} cannot be exported to QONNX "
                    "(per-channel scales are supported for weights and biases only)"
                )
            if fmt.signed and fmt.bits == 1:
                raise ValueError(f"layer {layer!r}: {what} format {fmt.short()} is 1-bit signed (qonnx: bipolar)")
            scale, zero = fmt.scale_array(), fmt.zero_point_array().astype(np.float64)
            if fmt.per_channel:
                shape = [1] * len(axis_shape)
                shape[fmt.axis] = -1
                scale, zero = scale.reshape(shape), zero.reshape(shape)
            else:
                scale, zero = float(fmt.scale), float(fmt.zero_point)
            return helper.make_node(
                "Quant",
                [src, self.const(f"{tag}/scale", scale), self.const(f"{tag}/zeropt", zero),
                 self.const(f"{tag}/bitwidth", float(fmt.bits))],
                [dst], name=tag, domain=QONNX_DOMAIN, signed=int(fmt.signed), narrow=0, rounding_mode=rmode,
            )
        if _is_ieee_minifloat(fmt, mode):
            ins = [
                src,
                self.const(f"{tag}/scale", 1.0),
                self.const(f"{tag}/exponent_bitwidth", float(fmt.exp_bits)),
                self.const(f"{tag}/mantissa_bitwidth", float(fmt.man_bits)),
                self.const(f"{tag}/exponent_bias", float(fmt.bias)),
                self.const(f"{tag}/max_val", fmt.max),
            ]
            return helper.make_node(
                "FloatQuant", ins, [dst], name=tag, domain=QONNX_DOMAIN, rounding_mode=rmode,
                has_inf=int(fmt.has_inf), has_nan=int(fmt.has_nan), has_subnormal=1,
                saturation=int(fmt.specials is Specials.NONE),
            )
        kind = "power-of-two" if isinstance(fmt, PowerOfTwo) else (
            "Ristretto minifloat" if mode is Mode.RISTRETTO else "minifloat without subnormals"
        )
        raise ValueError(
            f"layer {layer!r}: {what} format {fmt} ({kind}) has no QONNX quantizer; only weights in such "
            "formats can be exported (as pre-quantized initializers)"
        )


def to_qonnx(network: Network, plan: QuantPlan, path=None, *, mode=None, opset: int = 13, batch: int | None = None):
    """Export ``network`` under ``plan`` as a QONNX model (module docstring); save it to ``path`` if given.

    Parameters
    ----------
    network : Network
    plan : QuantPlan
        Checked against the network (``PlanError``).
    path : str or os.PathLike, optional
    mode : emulator.Mode or str, optional
        ``exact`` or ``ristretto`` (default: the plan's).
    opset : int
        Default-domain opset of the float graph.
    batch : int, optional
        Fixed batch size (default symbolic).

    Returns
    -------
    onnx.ModelProto

    Raises
    ------
    ValueError
        For formats or roundings QONNX cannot express (the message names the layer).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if not isinstance(plan, QuantPlan):
        raise TypeError(f"plan={plan!r} must be a QuantPlan")
    mode = plan.mode if mode is None else Mode.coerce(mode, "mode")
    plan.check(network)
    model = to_onnx(network, opset=opset, batch=batch)
    graph = model.graph
    inits = list(graph.initializer)
    b = _Builder(inits)
    before: dict[str, list] = {}  # layer name -> quantizer nodes to place before its first node
    after: dict[str, list] = {}  # tensor name -> quantizer node placed right after the node writing it
    renames: dict[str, dict[str, str]] = {}  # layer -> {tensor read: quantized tensor}
    out_renames: dict[str, str] = {}  # tensor written -> pre-quantization name
    init_values: dict[str, np.ndarray] = {}

    averages = _integer_averages(network, plan) if mode is Mode.EXACT else {}
    for layer in network.layers:
        entry = plan.get(layer.name)
        if layer.name in averages and (entry is None or entry.outputs is None):
            y = layer.output  # exact mode's integer average, requantized to its input's format
            pre = f"{y}/pre_quant"
            out_renames[y] = pre
            after[y] = [b.quant_node(averages[layer.name], pre, y, layer.name, "outputs",
                                     plan.rounding_of(layer.name), mode)]
        if entry is None:
            continue
        name = layer.name
        rounding = plan.rounding_of(name)
        weighted = isinstance(layer, WEIGHTED)
        reads = layer.inputs[:1] if weighted else layer.inputs
        quant_reads = {}
        if entry.inputs is not None:
            for t in reads:
                q = f"{t}/quant_{name}"
                before.setdefault(name, []).append(
                    b.quant_node(entry.inputs, t, q, name, "inputs", rounding, mode)
                )
                quant_reads[t] = q
        if weighted:
            _weights(network, plan, layer, mode, rounding, b, before, quant_reads, init_values)
        renames[name] = quant_reads
        if entry.outputs is not None:
            y = layer.output
            pre = f"{y}/pre_quant"
            out_renames[y] = pre
            after[y] = [b.quant_node(entry.outputs, pre, y, name, "outputs", rounding, mode)]

    for name in averages:  # the requantization runs on the exact float64 product; later layers read float32
        y = network.layer(name).output
        quant = after[y][0]
        quant.output[0] = f"{y}/quant64"
        after[y].append(helper.make_node("Cast", [f"{y}/quant64"], [y], name=f"{name}/to_float", to=TensorProto.FLOAT))
    nodes = []
    seen_layers = set()
    for node in graph.node:
        owner = node.name.split("/")[0]
        new = onnx.NodeProto()
        new.CopyFrom(node)
        if owner in renames:
            if owner not in seen_layers:
                nodes.extend(before.get(owner, []))
                seen_layers.add(owner)
            for i, t in enumerate(new.input):
                if t in renames[owner]:
                    new.input[i] = renames[owner][t]
        for i, t in enumerate(new.output):
            if t in out_renames:
                new.output[i] = out_renames[t]
        if owner in averages and new.op_type in ("AveragePool", "GlobalAveragePool"):
            nodes.extend(_integer_average_nodes(network, plan, network.layer(owner), new.input[0], new.output[0], b))
        else:
            nodes.append(new)
        for t in node.output:
            nodes.extend(after.get(t, []))
    inits = [numpy_helper.from_array(init_values[i.name], i.name) if i.name in init_values else i for i in b.inits]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(inits)
    model.opset_import.append(helper.make_opsetid(QONNX_DOMAIN, 1))
    helper.set_model_props(
        model,
        {p.key: p.value for p in model.metadata_props} | {"quantization": f"ristretto-sim plan, {mode.value} mode"},
    )
    if path is not None:
        onnx.save(model, str(Path(path)))
    return model


def _integer_averages(network: Network, plan: QuantPlan) -> dict:
    """The average pooling layers exact mode computes in integers (``runtime.exact_ops``): layer name -> the format
    of its output (its ``outputs``, else its input's)."""
    formats = tensor_formats(network, plan)
    out = {}
    for layer in network.layers:
        if not (isinstance(layer, Pool) and layer.kind is PoolKind.AVG):
            continue
        entry = plan.get(layer.name)
        fin = formats.get(layer.inputs[0]) if entry is None or entry.inputs is None else fixed(entry.inputs)
        if fin is None or not average_fits(layer, fin, plan.reciprocal_of(layer.name), network.shape(layer.inputs[0])):
            continue
        if entry is not None and entry.outputs is not None:
            if fixed(entry.outputs) is None:
                continue
            out[layer.name] = entry.outputs
        else:
            out[layer.name] = fin
    return out


def _integer_average_nodes(network: Network, plan: QuantPlan, layer: Pool, x: str, y: str, b: _Builder) -> list:
    """The integer average as ONNX nodes computing its exact product ``y`` in float64: the window sum (a depthwise
    convolution with a kernel of ones, exact in float32 for sums below 2**24 codes), then a product with ``1/n``
    rounded to the reciprocal format (one value per output position); the output quantizer follows."""
    from onnx import TensorProto, helper, numpy_helper

    in_shape = network.shape(layer.inputs[0])
    c, h, w = in_shape
    geom = layer.geometry(in_shape)
    (kh, kw), (sh, sw), (t, left, bottom, right) = geom.kernel, geom.stride, geom.padding
    ho, wo = network.shape(layer.output)[1:]
    eh = max(0, (ho - 1) * sh + kh - (h + t + bottom))  # ceil mode: windows past the padding, clipped
    ew = max(0, (wo - 1) * sw + kw - (w + left + right))
    rounding = plan.rounding_of(layer.name)
    rounding = Rounding.NEAREST_EVEN if rounding is Rounding.STOCHASTIC else rounding
    counts = window_counts(h, w, geom, layer.count_include_pad)
    recip = plan.reciprocal_of(layer.name).quantize(1.0 / counts.astype(np.float64), rounding)
    ones = b.const(f"{layer.name}/window_ones", np.ones((c, 1, kh, kw)))
    r_name = f"{layer.name}/reciprocal"
    b.inits.append(numpy_helper.from_array(recip.reshape(1, 1, ho, wo).astype(np.float64), r_name))
    b.names.add(r_name)
    s32, s64 = f"{layer.name}/window_sum", f"{layer.name}/window_sum64"
    return [
        helper.make_node("Conv", [x, ones], [s32], name=f"{layer.name}/sum", group=c, kernel_shape=[kh, kw],
                         strides=[sh, sw], pads=[t, left, bottom + eh, right + ew]),
        helper.make_node("Cast", [s32], [s64], name=f"{layer.name}/to_double", to=TensorProto.DOUBLE),
        helper.make_node("Mul", [s64, r_name], [y], name=f"{layer.name}/times_reciprocal"),
    ]


def _weights(network, plan, layer, mode, rounding, b: _Builder, before, quant_reads, init_values) -> None:
    """Quantizers (or pre-quantized initializers) for a weighted layer's weight and bias."""
    name = layer.name
    formats = plan.layer_formats(name)
    params = network.params[name]
    w = params["weight"]
    wshape = (-1,) + (1,) * (w.ndim - 1)
    # the codes the emulator uses, for the bias format actually applied (bias / accumulator / weights / float)
    tensors = {t.param: t for t in layer_tensors(network, plan, name, mode=mode)}
    fw = formats.weights
    if isinstance(fw, FixedPoint) or _is_ieee_minifloat(fw, mode):
        q = f"{name}.weight/quant"
        before.setdefault(name, []).append(
            b.quant_node(fw, f"{name}.weight", q, name, "weights", rounding, mode, axis_shape=wshape)
        )
        quant_reads[f"{name}.weight"] = q
    else:  # power of two, Ristretto / subnormal-free minifloat: pre-quantized initializer
        if mode is Mode.RISTRETTO:
            init_values[f"{name}.weight"] = ristretto_quantize(w, fw, rounding).astype(np.float32)
        else:
            init_values[f"{name}.weight"] = tensors["weight"].values().astype(np.float32)
    if "bias" not in params:
        return
    bias_t = tensors["bias"]
    fb = bias_t.fmt
    if isinstance(fb, Float32Format):
        return
    if isinstance(fb, FixedPoint) or _is_ieee_minifloat(fb, mode):
        q = f"{name}.bias/quant"
        before.setdefault(name, []).append(
            b.quant_node(fb, f"{name}.bias", q, name, "bias", rounding, mode, axis_shape=(-1,))
        )
        quant_reads[f"{name}.bias"] = q
    else:
        init_values[f"{name}.bias"] = bias_t.values().astype(np.float32)
