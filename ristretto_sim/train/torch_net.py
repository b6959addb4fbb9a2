"""A ``Network`` as a differentiable torch module with Ristretto's TRAIN-phase quantization (reference §6).

``QuantTrainNet(network, plan)`` holds the **shadow weights** (full-precision float32 copies of every layer's
weights, the only trainable parameters) and runs the network's layers in order with torch ops that compute what
``runtime.float_ops`` computes (same pooling windows, padding, LRN and Caffe ceil-mode rules).

Forward pass (``forward(x, step=t)``, the TRAIN phase):

* the weights and biases of every planned Conv/ConvTranspose/Dense layer are quantized on the fly with **seeded
  stochastic rounding**, with exactly the bits of the format's own quantizer: exact-mode plans use
  ``fmt.quantize(w, "stochastic", rng=key)``, ristretto-mode plans ``emulator.ristretto_quantize(w, fmt,
  "stochastic", rng=key)`` (bias in the weights' format, float for power-of-two weights, §1.3 and §3). Exact-mode
  biases use the plan's ``bias`` format, or stay float when it has none. The key of step ``t`` is
  ``StochasticKey(seed + t, offset)`` with ``offset`` the flat index of the tensor's first element in the
  concatenation of all quantized tensors (weight then bias, layers in network order): every element of every
  tensor of a step gets its own draw, and a run is reproducible from its seed;
* activations stay float (Ristretto's TRAIN phase); ``quantize_activations=True`` is the named extension that
  also rounds planned layers' inputs and outputs with the plan's (nearest) rounding, as the TEST phase does;
* gradients are straight-through: the quantizer's backward is the identity (no clipping mask), so the gradient
  with respect to the quantized weights updates the shadow weights.

``forward(x)`` without a step is the TEST-phase forward: the plan's own rounding for the weights (and the
activations when ``quantize_activations``). Quantization runs in NumPy on the CPU copies of the tensors (the
format objects are the single source of truth), so the bits are the emulator's by construction.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ristretto_sim.emulator import Mode, ristretto_quantize
from ristretto_sim.emulator.datapaths.ristretto import RistrettoFloat32
from ristretto_sim.errors import ModelError
from ristretto_sim.formats import Rounding, StochasticKey
from ristretto_sim.graph.layers import (
    LRN,
    WEIGHTED,
    Activation,
    ActivationKind,
    Concat,
    Conv,
    Dense,
    Eltwise,
    EltwiseOp,
    Flatten,
    LRNRegion,
    Pool,
    PoolKind,
    Reshape,
    Scale,
    Softmax,
)
from ristretto_sim.graph.network import Network
from ristretto_sim.graph.plan import QuantPlan


class _StraightThrough(torch.autograd.Function):
    """``y = q(x)`` computed by a NumPy function; the gradient passes through unchanged."""

    @staticmethod
    def forward(ctx, x, fn):
        y = fn(x.detach().cpu().numpy().astype(np.float64))
        return torch.from_numpy(np.asarray(y, dtype=np.float32)).to(x.device)

    @staticmethod
    def backward(ctx, grad):
        return grad, None


def straight_through(x: torch.Tensor, fn) -> torch.Tensor:
    """``fn`` (NumPy, float64 in) applied to ``x`` in the forward pass, identity in the backward pass."""
    return _StraightThrough.apply(x, fn)


class QuantTrainNet(torch.nn.Module):
    """The network with shadow weights and TRAIN-phase weight quantization (module docstring).

    Parameters
    ----------
    network : Network
    plan : QuantPlan
    mode : emulator.Mode or str, optional
        Whose quantizers: ``exact`` (format objects) or ``ristretto`` (Ristretto's); default the plan's.
    seed : int
        Base seed of the stochastic rounding keys.
    quantize_activations : bool
        The extension: also round planned layers' inputs and outputs in the forward pass.

    Raises
    ------
    ModelError
        If the network has a layer type this module cannot run (the message names it).
    """

    def __init__(self, network: Network, plan: QuantPlan, *, mode=None, seed: int = 0,
                 quantize_activations: bool = False):
        super().__init__()
        if not isinstance(network, Network):
            raise TypeError(f"network={network!r} must be a Network")
        if not isinstance(plan, QuantPlan):
            raise TypeError(f"plan={plan!r} must be a QuantPlan")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed={seed!r} must be an integer")
        plan.check(network)
        supported = WEIGHTED + (Pool, Activation, LRN, Flatten, Reshape, Softmax, Eltwise, Concat, Scale)
        for layer in network.layers:
            if not isinstance(layer, supported):
                raise ModelError(f"layer {layer.name!r} ({layer.op_type}) is not supported by fine-tuning")
        self.network = network
        self.plan = plan
        self.mode = plan.mode if mode is None else Mode.coerce(mode, "mode")
        self.seed = int(seed)
        self.quantize_activations = bool(quantize_activations)
        self.shadow = torch.nn.ParameterDict()
        self._keys: dict[str, str] = {}
        for lname, group in network.params.items():
            for pname, arr in group.items():
                key = f"{len(self._keys)}"
                self._keys[f"{lname}.{pname}"] = key
                self.shadow[key] = torch.nn.Parameter(torch.from_numpy(np.array(arr, dtype=np.float32)))
        # flat offsets of the quantized tensors (stochastic keys)
        self._offsets: dict[str, int] = {}
        total = 0
        for layer in network.layers:
            if isinstance(layer, WEIGHTED) and layer.name in plan:
                for pname in ("weight", "bias"):
                    if pname in network.params[layer.name]:
                        self._offsets[f"{layer.name}.{pname}"] = total
                        total += int(network.params[layer.name][pname].size)

    # ------------------------------------------------------------------ parameters
    def param(self, layer: str, name: str) -> torch.nn.Parameter:
        """The shadow weight ``layer.name``."""
        return self.shadow[self._keys[f"{layer}.{name}"]]

    def shadow_params(self) -> dict[str, dict[str, np.ndarray]]:
        """The current shadow weights as ``{layer: {param: float32 array}}`` (for ``Network.replace``)."""
        out: dict[str, dict[str, np.ndarray]] = {}
        for full, key in self._keys.items():
            lname, pname = full.rsplit(".", 1)
            out.setdefault(lname, {})[pname] = self.shadow[key].detach().cpu().numpy().copy()
        return out

    def key(self, step: int, layer: str, param: str) -> StochasticKey:
        """The stochastic rounding key of ``layer.param`` at training step ``step``."""
        return StochasticKey(self.seed + int(step), self._offsets[f"{layer}.{param}"])

    def _quantizer(self, layer: str, param: str, step: int | None):
        """NumPy function quantizing ``layer.param`` (None: the tensor stays float)."""
        formats = self.plan.layer_formats(layer)
        fw = formats.weights
        rounding = Rounding.STOCHASTIC if step is not None else formats.rounding
        rng = self.key(step, layer, param) if step is not None else None
        if self.mode is Mode.RISTRETTO:
            if param == "bias" and RistrettoFloat32(formats).bias_format is None:
                return None  # Ristretto keeps the bias of power-of-two layers float
            return lambda a: ristretto_quantize(a, fw, rounding, rng=rng).astype(np.float64)
        fmt = fw if param == "weight" else formats.bias
        if fmt is None:
            return None
        return lambda a: fmt.quantize(a, rounding, rng=rng)

    def quantized_params(self, step: int | None = None) -> dict[str, dict[str, np.ndarray]]:
        """The weights the forward pass of ``step`` uses (float64 arrays; TEST phase when ``step`` is None)."""
        out = self.shadow_params()
        for lname, group in out.items():
            if lname not in self.plan or not isinstance(self.network.layer(lname), WEIGHTED):
                continue
            for pname, arr in group.items():
                fn = self._quantizer(lname, pname, step)
                group[pname] = arr.astype(np.float64) if fn is None else fn(arr.astype(np.float64))
        return out

    def _weight(self, layer, pname: str, step):
        p = self.param(layer.name, pname)
        if layer.name not in self.plan:
            return p
        fn = self._quantizer(layer.name, pname, step)
        return p if fn is None else straight_through(p, fn)

    def _act(self, x, fmt, layer_name: str):
        if fmt is None or not self.quantize_activations:
            return x
        rounding = self.plan.rounding_of(layer_name)
        if rounding is Rounding.STOCHASTIC:
            raise ValueError(f"layer {layer_name!r}: activation quantization with stochastic rounding needs a seed")
        if self.mode is Mode.RISTRETTO:
            return straight_through(x, lambda a: ristretto_quantize(a, fmt, rounding).astype(np.float64))
        overflow = self.plan.overflow_of(layer_name)
        return straight_through(x, lambda a: fmt.quantize(a, rounding, overflow))

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor, step: int | None = None, keep: bool = False):
        """Run the network on an NCHW float32 batch; ``step`` selects the TRAIN phase (module docstring).

        Returns the single output tensor, or with ``keep`` the dict of every tensor.
        """
        net = self.network
        env = {net.input.name: x}
        for layer in net.layers:
            ins = [env[t] for t in layer.inputs]
            entry = self.plan.get(layer.name)
            if entry is not None and entry.inputs is not None:
                if isinstance(layer, WEIGHTED):
                    ins[0] = self._act(ins[0], entry.inputs, layer.name)
                else:
                    ins = [self._act(t, entry.inputs, layer.name) for t in ins]
            out = self._layer(layer, ins, step)
            if entry is not None and entry.outputs is not None:
                out = self._act(out, entry.outputs, layer.name)
            env[layer.output] = out
        if keep:
            return env
        if len(net.outputs) != 1:
            raise ValueError(f"network {net.name!r} has {len(net.outputs)} outputs; use keep=True")
        return env[net.outputs[0]]

    def _layer(self, layer, ins, step):
        x = ins[0]
        n = x.shape[0]
        params = self.network.params.get(layer.name, {})
        if isinstance(layer, WEIGHTED):
            w = self._weight(layer, "weight", step)
            b = self._weight(layer, "bias", step) if "bias" in params else None
            if isinstance(layer, Dense):
                return F.linear(x.reshape(n, -1), w, b)
            t, lft, bot, r = layer.pads
            if isinstance(layer, Conv):
                xp = F.pad(x, (lft, r, t, bot))
                return F.conv2d(xp, w, b, stride=layer.stride, dilation=layer.dilation, groups=layer.groups)
            y = F.conv_transpose2d(x, w, None, stride=layer.stride, dilation=layer.dilation, groups=layer.groups)
            oh, ow = layer.output_padding
            y = F.pad(y, (0, ow, 0, oh))
            y = y[:, :, t : y.shape[2] - bot, lft : y.shape[3] - r]
            return y if b is None else y + b.reshape(1, -1, 1, 1)
        if isinstance(layer, Pool):
            return self._pool(layer, x)
        if isinstance(layer, Activation):
            k = layer.kind
            if k is ActivationKind.RELU:
                return F.relu(x)
            if k is ActivationKind.LEAKY_RELU:
                return F.leaky_relu(x, layer.alpha)
            if k is ActivationKind.SIGMOID:
                return torch.sigmoid(x)
            if k is ActivationKind.TANH:
                return torch.tanh(x)
            return torch.clamp(x, layer.low, layer.high)
        if isinstance(layer, LRN):
            return self._lrn(layer, x)
        if isinstance(layer, (Flatten, Reshape)):
            return x.reshape((n,) + tuple(self.network.shape(layer.output)))
        if isinstance(layer, Softmax):
            if layer.flatten:
                return torch.softmax(x.reshape(*x.shape[: layer.axis], -1), dim=-1).reshape(x.shape)
            return torch.softmax(x, dim=layer.axis)
        if isinstance(layer, Scale):
            shape = [1] * x.dim()
            shape[layer.axis] = layer.channels
            out = x * self.param(layer.name, "weight").reshape(shape)
            if "bias" in params:
                out = out + self.param(layer.name, "bias").reshape(shape)
            return out
        if isinstance(layer, Concat):
            return torch.cat(ins, dim=layer.axis)
        return self._eltwise(layer, ins)

    def _pool(self, layer: Pool, x):
        kernel, stride, pads = layer.window(tuple(x.shape[1:]))
        ho, wo = self.network.shape(layer.output)[1:]
        (kh, kw), (sh, sw) = kernel, stride
        t, lft, b, r = pads
        h, w = x.shape[2], x.shape[3]
        eh = max(0, (ho - 1) * sh + kh - (h + t + b))
        ew = max(0, (wo - 1) * sw + kw - (w + lft + r))
        big = (lft, r + ew, t, b + eh)

        def slices(xp):
            for ky in range(kh):
                for kx in range(kw):
                    yield xp[:, :, ky : ky + sh * (ho - 1) + 1 : sh, kx : kx + sw * (wo - 1) + 1 : sw]

        if layer.kind is PoolKind.MAX:
            xp = F.pad(x, big, value=-float("inf"))
            out = None
            for s in slices(xp):
                out = s if out is None else torch.maximum(out, s)
            return out
        xp = F.pad(x, big, value=0.0)
        total = sum(slices(xp))
        mask = torch.zeros((1, 1, h + t + b + eh, w + lft + r + ew), dtype=x.dtype)
        if layer.count_include_pad:
            mask[:, :, : h + t + b, : w + lft + r] = 1.0
        else:
            mask[:, :, t : t + h, lft : lft + w] = 1.0
        count = sum(slices(mask))
        return total / torch.clamp(count, min=1.0)

    def _lrn(self, layer: LRN, x):
        sq = x * x
        size = layer.size
        if layer.region is LRNRegion.ACROSS_CHANNELS:
            lo, hi = (size - 1) // 2, size // 2
            padded = F.pad(sq, (0, 0, 0, 0, lo, hi))
            c = x.shape[1]
            s = sum(padded[:, i : i + c] for i in range(size))
            scale = layer.k + (layer.alpha / size) * s
        else:
            p = (size - 1) // 2
            padded = F.pad(sq, (p, size - 1 - p, p, size - 1 - p))
            s = F.avg_pool2d(padded, size, stride=1) * (size * size)
            scale = layer.k + (layer.alpha / (size * size)) * s
        return x / torch.pow(scale, layer.beta)

    def _eltwise(self, layer: Eltwise, ins):
        if layer.constant_index is not None:
            c = torch.from_numpy(np.asarray(self.network.params[layer.name]["constant"], dtype=np.float32))
            operands = [c, ins[0]] if layer.constant_index == 0 else [ins[0], c]
        else:
            operands = list(ins)
        if layer.coeffs is not None:
            operands = [o * float(k) for o, k in zip(operands, layer.coeffs, strict=True)]
        ops = {
            EltwiseOp.ADD: torch.add,
            EltwiseOp.SUB: torch.sub,
            EltwiseOp.MUL: torch.mul,
            EltwiseOp.DIV: torch.div,
            EltwiseOp.MAX: torch.maximum,
        }
        out = operands[0]
        for o in operands[1:]:
            out = ops[layer.op](out, o)
        return out
