"""Writing a ``QuantPlan`` as a Ristretto-format Caffe prototxt (reference ``ristretto.md`` §1.5, §4 step 5).

Each planned layer becomes its Ristretto type (``Convolution`` -> ``ConvolutionRistretto``, ``InnerProduct`` ->
``FcRistretto``, ``Deconvolution`` -> ``DeconvolutionRistretto``, ``LRN`` -> ``LRNRistretto``) with a
``quantization_param`` whose fields are written in field-number order, as Ristretto's ``WriteProtoToTextFile``
does:

* dynamic fixed point: ``bw_layer_in, bw_layer_out, bw_params, fl_layer_in, fl_layer_out, fl_params`` (no
  ``precision`` line: DFP is the default);
* minifloat: ``precision: MINIFLOAT, mant_bits, exp_bits``;
* power-of-two weights: ``precision: INTEGER_POWER_OF_2_WEIGHTS, bw_layer_in, bw_layer_out, fl_layer_in,
  fl_layer_out, exp_min, exp_max``;
* ``rounding_scheme: STOCHASTIC`` only for stochastic rounding (NEAREST is the default).

With the model's own prototxt (``source``), its text is edited in place (types renamed, old
``quantization_param`` blocks replaced; comments, other layers and both phases kept). Without one (an ONNX or
bundled model), a deploy prototxt is generated from the ``Network`` (``Input`` layer; the preprocessing is noted in
a comment). ``ristretto_view(plan)`` is the part of a plan a prototxt can hold (what ``CaffeModel.quant_plan()``
reads back): Ristretto has no accumulator and puts the bias in the weights' format (float for power-of-two); a
minifloat LRN entry (with or without ``internal``) is written as ``LRNRistretto`` and reads back with its one
minifloat as ``inputs``, ``outputs`` and ``internal`` (strict minifloat LRN).
"""

from __future__ import annotations

import re
from pathlib import Path

from ristretto_sim.formats import FixedPoint, Minifloat, PowerOfTwo, Rounding
from ristretto_sim.graph.layers import (
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
    LRNRegion,
    Pool,
    PoolKind,
    PRelu,
    Reshape,
    Scale,
    Softmax,
    pool_output_size,
)
from ristretto_sim.graph.network import Network
from ristretto_sim.graph.plan import LayerPlan, QuantPlan

RENAME = {"Convolution": "ConvolutionRistretto", "InnerProduct": "FcRistretto",
          "Deconvolution": "DeconvolutionRistretto", "LRN": "LRNRistretto"}
RISTRETTO_TYPES = tuple(RENAME.values())


def _role_entry(entry: LayerPlan, rounding: Rounding) -> LayerPlan:
    if entry.weights is None:
        # only an LRN in minifloat can be a Ristretto layer without weights (quantization_fields): LRNRistretto,
        # whose one minifloat is read back as inputs, outputs and internal (strict minifloat LRN)
        mf = next((f for f in (entry.internal, entry.inputs, entry.outputs) if isinstance(f, Minifloat)), None)
        if mf is not None:
            return LayerPlan(mf, None, None, mf, rounding=rounding, internal=mf)
    bias = None if isinstance(entry.weights, PowerOfTwo) else entry.weights
    return LayerPlan(entry.inputs, entry.weights, bias, entry.outputs, rounding=rounding)


def ristretto_view(plan: QuantPlan) -> QuantPlan:
    """The plan as a Ristretto prototxt states it (mode ``ristretto``, no accumulators, bias in the weights'
    format, rounding per layer); ``load_caffe_model(written).quant_plan() == ristretto_view(plan)``."""
    layers = {name: _role_entry(e, plan.rounding_of(name)) for name, e in plan.layers.items()}
    return QuantPlan(layers, mode="ristretto")


def quantization_fields(name: str, entry: LayerPlan, rounding: Rounding) -> list[tuple[str, object]]:
    """The ``quantization_param`` fields of one layer, in field-number order (``ValueError`` naming the layer if
    Ristretto cannot express its formats)."""
    fin, fw, fout = entry.inputs, entry.weights, entry.outputs
    rounding = Rounding.coerce(rounding, "rounding")
    if rounding is Rounding.STOCHASTIC:
        scheme = [("rounding_scheme", "STOCHASTIC")]
    elif rounding in (Rounding.NEAREST_EVEN, Rounding.NEAREST_AWAY):
        scheme = []
    else:
        raise ValueError(f"layer {name!r}: Ristretto rounds NEAREST or STOCHASTIC, not {rounding.value}")

    def fixed(fmt, role):
        if not isinstance(fmt, FixedPoint) or fmt.per_channel or not fmt.signed:
            raise ValueError(f"layer {name!r}: {role} format {fmt} is not a signed per-tensor dynamic fixed point "
                             "format, which Ristretto needs here")
        return fmt

    if isinstance(fw, PowerOfTwo):
        fi, fo = fixed(fin, "inputs"), fixed(fout, "outputs")
        return [("precision", "INTEGER_POWER_OF_2_WEIGHTS"), *scheme, ("bw_layer_in", fi.bits),
                ("bw_layer_out", fo.bits), ("fl_layer_in", fi.frac_bits), ("fl_layer_out", fo.frac_bits),
                ("exp_min", fw.exp_min), ("exp_max", fw.exp_max)]
    if isinstance(fin, Minifloat) or isinstance(fw, Minifloat) or entry.internal is not None:
        fmts = [f for f in (fin, fw, fout, entry.internal) if f is not None]
        if any(not isinstance(f, Minifloat) for f in fmts) or len({(f.exp_bits, f.man_bits) for f in fmts}) != 1:
            raise ValueError(f"layer {name!r}: Ristretto's minifloat layers use one format for every tensor; "
                             f"got {', '.join(map(str, fmts))}")
        return [("precision", "MINIFLOAT"), *scheme, ("mant_bits", fmts[0].man_bits),
                ("exp_bits", fmts[0].exp_bits)]
    if fw is None:
        raise ValueError(f"layer {name!r}: a Ristretto layer without weights must be an LRN in minifloat")
    fi, fo, w = fixed(fin, "inputs"), fixed(fout, "outputs"), fixed(fw, "weights")
    return [*scheme, ("bw_layer_in", fi.bits), ("bw_layer_out", fo.bits), ("bw_params", w.bits),
            ("fl_layer_in", fi.frac_bits), ("fl_layer_out", fo.frac_bits), ("fl_params", w.frac_bits)]


def _param_text(fields: list[tuple[str, object]], indent: str) -> str:
    body = "".join(f"{indent}  {k}: {v}\n" for k, v in fields)
    return f"{indent}quantization_param {{\n{body}{indent}}}\n"


# ------------------------------------------------------------------------------------------ editing a prototxt
def _mask(text: str) -> str:
    """``text`` with comments blanked and string contents replaced by ``_`` (same length), so braces and keys
    can be found with plain scanning."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out[i:j] = " " * (j - i)
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out[i + 1:min(j, n)] = "_" * (min(j, n) - i - 1)
            i = j + 1
        else:
            i += 1
    return "".join(out)


def _match_brace(masked: str, open_at: int) -> int:
    depth = 0
    for k in range(open_at, len(masked)):
        if masked[k] == "{":
            depth += 1
        elif masked[k] == "}":
            depth -= 1
            if depth == 0:
                return k
    raise ValueError("unbalanced braces in the prototxt")


def _top_level_blocks(masked: str, key: str):
    """``(key_start, open_brace, close_brace)`` of every depth-0 ``key { ... }`` block."""
    depth = 0
    pattern = re.compile(rf"\b{key}\s*:?\s*{{")
    i = 0
    blocks = []
    while i < len(masked):
        c = masked[i]
        if depth == 0:
            m = pattern.match(masked, i)
            if m and (i == 0 or not (masked[i - 1].isalnum() or masked[i - 1] == "_")):
                open_at = m.end() - 1
                close = _match_brace(masked, open_at)
                blocks.append((i, open_at, close))
                i = close + 1
                continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        i += 1
    return blocks


def _direct_fields(text: str, masked: str, open_at: int, close: int):
    """Depth-1 scalar fields ``(key, value_text, value_span)`` and sub-blocks ``(key, start, close)`` of a block."""
    scalars, subs = [], []
    i = open_at + 1
    key_re = re.compile(r"([A-Za-z_]\w*)\s*(:?)\s*")
    while i < close:
        if masked[i].isspace() or masked[i] in ",;":
            i += 1
            continue
        m = key_re.match(masked, i)
        if not m:
            i += 1
            continue
        key, j = m.group(1), m.end()
        if masked[j] == "{" or masked[j] == "<":
            end = _match_brace(masked, j) if masked[j] == "{" else masked.index(">", j)
            subs.append((key, i, end))
            i = end + 1
            continue
        if masked[j] in "\"'":
            q = masked[j]
            end = masked.index(q, j + 1)
            scalars.append((key, text[j + 1:end], (j, end + 1)))
            i = end + 1
            continue
        m2 = re.compile(r"[^\s,;{}#]+").match(masked, j)
        if not m2:
            i = j + 1
            continue
        scalars.append((key, text[j:m2.end()], (j, m2.end())))
        i = m2.end()
    return scalars, subs


def edit_prototxt(text: str, plan: QuantPlan) -> str:
    """Return the prototxt ``text`` with ``plan``'s layers turned into Ristretto layers (module docstring)."""
    masked = _mask(text)
    if _top_level_blocks(masked, "layers") and not _top_level_blocks(masked, "layer"):
        raise ValueError("the prototxt uses the V1 'layers' format; Ristretto layers need the current 'layer' "
                         "format (upgrade it with Caffe's upgrade_net_proto_text)")
    edits = []  # (start, end, replacement)
    found = set()
    for start, open_at, close in _top_level_blocks(masked, "layer"):
        scalars, subs = _direct_fields(text, masked, open_at, close)
        names = [v for k, v, _ in scalars if k == "name"]
        types = [(v, span) for k, v, span in scalars if k == "type"]
        if not names or names[0] not in plan.layers:
            continue
        name = names[0]
        entry = plan.layers[name]
        if not types:
            raise ValueError(f"prototxt layer {name!r} has no type")
        ltype, span = types[0]
        if ltype in RENAME:
            new_type = RENAME[ltype]
        elif ltype in RISTRETTO_TYPES:
            new_type = ltype
        else:
            raise ValueError(f"plan layer {name!r} is a Caffe {ltype!r} layer; Ristretto quantizes only "
                             f"{', '.join(RENAME)}")
        fields = quantization_fields(name, entry, plan.rounding_of(name))
        if new_type == "LRNRistretto" and (not fields or fields[0] != ("precision", "MINIFLOAT")):
            raise ValueError(f"layer {name!r}: LRNRistretto supports only minifloat formats")
        found.add(name)
        edits.append((span[0], span[1], f'"{new_type}"'))
        for key, s, e in subs:
            if key == "quantization_param":
                line_start = text.rfind("\n", 0, s) + 1
                end = e + 1
                if text[end:end + 1] == "\n" and not text[line_start:s].strip():
                    s, end = line_start, end + 1
                edits.append((s, end, ""))
        line_start = text.rfind("\n", 0, close) + 1
        indent = "  " if not text[line_start:close].strip() else ""
        block_indent = re.match(r"[ \t]*", text[text.rfind("\n", 0, start) + 1:]).group(0)
        inner = block_indent + "  "
        if indent:
            edits.append((line_start, line_start, _param_text(fields, inner)))
        else:
            edits.append((close, close, "\n" + _param_text(fields, inner) + block_indent))
    missing = [n for n in plan.layers if n not in found]
    if missing:
        raise ValueError(f"plan layers {missing} are not layers of the prototxt")
    out = text
    for s, e, rep in sorted(edits, key=lambda t: (t[0], t[1]), reverse=True):
        out = out[:s] + rep + out[e:]
    return out


# ------------------------------------------------------------------------------------------ from a Network
def _pair(name: str, values, what: str) -> list[str]:
    h, w = values
    return [f"{name}: {h}"] if h == w else [f"{what}_h: {h}", f"{what}_w: {w}"]


def _symmetric(layer, pads) -> tuple[int, int]:
    top, left, bottom, right = pads
    if (top, left) != (bottom, right):
        raise ValueError(f"layer {layer.name!r}: asymmetric padding {pads} has no Caffe form")
    return top, left


def _caffe_rounding_differs(layer: Pool, shape) -> bool:
    """Caffe's ceil rule would give ``layer`` (a floor-mode pool on input ``shape``) another output size."""
    (kh, kw), (sh, sw), (t, lft, b, r) = layer.kernel, layer.stride, layer.pads
    return any(pool_output_size(n, k, s, p0, p1, True) != pool_output_size(n, k, s, p0, p1, False)
               for n, k, s, p0, p1 in ((shape[1], kh, sh, t, b), (shape[2], kw, sw, lft, r)))


def network_prototxt(network: Network, plan: QuantPlan | None = None) -> str:
    """A deploy prototxt of ``network`` (Input layer, blobs named after the tensors), with ``plan``'s layers
    in Ristretto form. Supports Conv, ConvTranspose, Dense, Pool, ReLU/Sigmoid/TanH, PRelu, Scale, LRN, Flatten,
    Reshape, Softmax, Concat and Eltwise; other layers raise ``ValueError`` naming them (also a floor-mode pool
    whose size Caffe's ceil rule would change is written with ``round_mode: FLOOR``, which BVLC Caffe reads but
    Ristretto's older Caffe does not, and an average pool that excludes padding has no Caffe form)."""
    plan = plan or QuantPlan({})
    inp = network.input
    out = [f'name: "{network.name}"']
    if network.preprocess is not None:
        pre = network.preprocess
        out.append(f"# input preprocessing (not part of an Input layer): (pixel - {list(pre.mean) or 0}) * "
                   f"{pre.scale}")
    dims = " ".join(f"dim: {d}" for d in (1, *inp.shape))
    out.append(f'layer {{\n  name: "{inp.name}"\n  type: "Input"\n  top: "{inp.name}"\n'
               f"  input_param {{ shape {{ {dims} }} }}\n}}")
    for layer in network.layers:
        lines: list[str] = []
        if isinstance(layer, (Conv, ConvTranspose)):
            ltype = "Convolution" if isinstance(layer, Conv) else "Deconvolution"
            ph, pw = _symmetric(layer, layer.pads)
            p = [f"num_output: {layer.out_channels}", *_pair("kernel_size", layer.kernel, "kernel"),
                 *_pair("stride", layer.stride, "stride")]
            if ph or pw:
                p += _pair("pad", (ph, pw), "pad")
            if layer.dilation != (1, 1):
                if layer.dilation[0] != layer.dilation[1]:
                    raise ValueError(f"layer {layer.name!r}: unequal dilation has no Caffe form")
                p.append(f"dilation: {layer.dilation[0]}")
            if layer.groups != 1:
                p.append(f"group: {layer.groups}")
            if not layer.bias:
                p.append("bias_term: false")
            lines.append("convolution_param { " + " ".join(p) + " }")
        elif isinstance(layer, Dense):
            ltype = "InnerProduct"
            p = [f"num_output: {layer.out_features}"] + ([] if layer.bias else ["bias_term: false"])
            lines.append("inner_product_param { " + " ".join(p) + " }")
        elif isinstance(layer, Pool):
            ltype = "Pooling"
            kind = "MAX" if layer.kind is PoolKind.MAX else "AVE"
            if layer.global_pool:
                lines.append(f"pooling_param {{ pool: {kind} global_pooling: true }}")
            else:
                ph, pw = _symmetric(layer, layer.pads)
                if kind == "AVE" and (ph or pw) and not layer.count_include_pad:
                    raise ValueError(f"layer {layer.name!r}: an average pool that leaves the padding out of its "
                                     "divisor has no Caffe form (Caffe's AVE counts it)")
                p = [f"pool: {kind}", *_pair("kernel_size", layer.kernel, "kernel"),
                     *_pair("stride", layer.stride, "stride")]
                if ph or pw:
                    p += _pair("pad", (ph, pw), "pad")
                if not layer.ceil_mode and _caffe_rounding_differs(layer, network.tensor_shapes[layer.inputs[0]]):
                    p.append("round_mode: FLOOR")
                lines.append("pooling_param { " + " ".join(p) + " }")
        elif isinstance(layer, PRelu):
            ltype = "PReLU"
            if network.params[layer.name]["slope"].size == 1:
                lines.append("prelu_param { channel_shared: true }")
        elif isinstance(layer, Scale):
            if layer.axis != 1:
                raise ValueError(f"layer {layer.name!r}: a Scale over axis {layer.axis} has no Caffe form here")
            ltype = "Scale"
            lines.append(f"scale_param {{ bias_term: {'true' if layer.bias else 'false'} }}")
        elif isinstance(layer, Reshape):
            ltype = "Reshape"
            dims = " ".join(f"dim: {d}" for d in (0, *layer.shape))
            lines.append(f"reshape_param {{ shape {{ {dims} }} }}")
        elif isinstance(layer, Activation):
            if layer.kind is ActivationKind.RELU:
                ltype = "ReLU"
            elif layer.kind is ActivationKind.LEAKY_RELU:
                ltype = "ReLU"
                lines.append(f"relu_param {{ negative_slope: {layer.alpha} }}")
            elif layer.kind in (ActivationKind.SIGMOID, ActivationKind.TANH):
                ltype = "Sigmoid" if layer.kind is ActivationKind.SIGMOID else "TanH"
            else:
                raise ValueError(f"layer {layer.name!r}: activation {layer.kind.value} has no Caffe layer")
        elif isinstance(layer, LRN):
            ltype = "LRN"
            region = "ACROSS_CHANNELS" if layer.region is LRNRegion.ACROSS_CHANNELS else "WITHIN_CHANNEL"
            lines.append(f"lrn_param {{ local_size: {layer.size} alpha: {layer.alpha} beta: {layer.beta} "
                         f"k: {layer.k} norm_region: {region} }}")
        elif isinstance(layer, Flatten):
            ltype = "Flatten"
            lines.append(f"flatten_param {{ axis: {layer.axis} }}")
        elif isinstance(layer, Softmax):
            ltype = "Softmax"
        elif isinstance(layer, Concat):
            ltype = "Concat"
            lines.append(f"concat_param {{ axis: {layer.axis} }}")
        elif isinstance(layer, Eltwise) and layer.op in (EltwiseOp.ADD, EltwiseOp.MUL, EltwiseOp.MAX):
            ltype = "Eltwise"
            op = {EltwiseOp.ADD: "SUM", EltwiseOp.MUL: "PROD", EltwiseOp.MAX: "MAX"}[layer.op]
            coeff = "".join(f" coeff: {c}" for c in (layer.coeffs or ()))
            lines.append(f"eltwise_param {{ operation: {op}{coeff} }}")
        else:
            raise ValueError(f"layer {layer.name!r} ({layer.op_type}) has no Caffe form in the prototxt writer")
        head = [f'  name: "{layer.name}"', f'  type: "{ltype}"']
        head += [f'  bottom: "{t}"' for t in layer.inputs] + [f'  top: "{t}"' for t in layer.outputs]
        out.append("layer {\n" + "\n".join(head + ["  " + s for s in lines]) + "\n}")
    return edit_prototxt("\n".join(out) + "\n", plan)


def write_ristretto_prototxt(plan: QuantPlan, path, *, source=None, network: Network | None = None) -> Path:
    """Write ``plan`` as a Ristretto prototxt at ``path``: the ``source`` prototxt edited, or a prototxt
    generated from ``network``. Returns the path."""
    if source is not None:
        text = edit_prototxt(Path(source).read_text(encoding="utf-8"), plan)
    elif network is not None:
        text = network_prototxt(network, plan)
    else:
        raise ValueError("give the model's prototxt (source) or its network")
    path = Path(path)
    path.write_text(text, encoding="utf-8")
    return path
