"""Layer shapes as the accelerator sees them: convolutions, GEMMs and transposed convolutions.

These describe shapes only (no weights, no arithmetic). Each reduces to ``GemmProblem``: ``groups``
independent GEMMs of ``M x K`` by ``K x N``, with M = batch x output pixels, N = filters per group and
K = kernel height x kernel width x input channels per group, as SCALE-Sim forms them
(``reference/systolic-timing.md`` §5.1). A grouped convolution is ``groups`` GEMMs; a transposed convolution
is a convolution over the zero-inserted input, whose MACs on inserted zeros are reported as wasted.
"""

from __future__ import annotations

from dataclasses import dataclass

from ristretto_sim.formats.base import check_int


def _pair(value, name: str, minimum: int) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name}={value!r} must be an integer or a pair (height, width)")
        return (check_int(value[0], name, minimum=minimum), check_int(value[1], name, minimum=minimum))
    v = check_int(value, name, minimum=minimum)
    return (v, v)


def _pads(value) -> tuple[int, int, int, int]:
    if isinstance(value, (tuple, list)) and len(value) == 4:
        return tuple(check_int(v, "padding", minimum=0) for v in value)
    ph, pw = _pair(value, "padding", 0)
    return (ph, pw, ph, pw)


def _check_bias(bias) -> None:
    if not isinstance(bias, bool):
        raise TypeError(f"bias={bias!r} must be True or False")


def _check_name(name) -> str:
    if not isinstance(name, str) or not name:
        raise TypeError(f"name={name!r} must be a non-empty string")
    return name


@dataclass(frozen=True)
class GemmProblem:
    """What one layer asks of the array: ``groups`` GEMMs of ``(m x k) @ (k x n)``.

    Attributes
    ----------
    m, n, k : int
        GEMM sizes of one group (M ofmap pixels x batch, N filters per group, K reduction length).
    groups : int
        Number of independent GEMMs run one after another.
    input_elements, weight_elements, output_elements : int
        Distinct tensor elements of one group: what must cross DRAM at least once (compulsory traffic).
    executed_macs : int
        MACs the array performs over all groups (``groups * m * n * k``).
    useful_macs : int
        MACs that multiply a real input (smaller than ``executed_macs`` only for transposed convolutions).
    """

    m: int
    n: int
    k: int
    groups: int
    input_elements: int
    weight_elements: int
    output_elements: int
    executed_macs: int
    useful_macs: int

    @property
    def wasted_macs(self) -> int:
        """MACs on inserted zeros (transposed convolution)."""
        return self.executed_macs - self.useful_macs


@dataclass(frozen=True)
class ConvShape:
    """A 2-D convolution over an NHWC input.

    Parameters
    ----------
    name : str
        Layer name (unique within a network).
    h, w, c : int
        Input height, width and channels.
    n : int
        Number of filters (output channels).
    kernel, stride, dilation : int or (int, int)
        Per (height, width).
    padding : int, (int, int) or (int, int, int, int)
        Zeros added on both sides (one value, or per height and width), or (top, left, bottom, right) as
        ONNX pads; stored as the 4-tuple.
    groups : int
        Channel groups (``groups == c == n`` is depthwise).
    batch : int
        Images per inference.
    ceil_mode : bool
        Round the output size up, ``ceil((h + 2p - span) / s) + 1``, so the last window may hang over the
        input's end (reading nothing there). SCALE-Sim sizes its layers this way (``E = ceil((H - F + s) /
        s)``).
    bias : bool
        The layer adds a bias per output channel (fetched from DRAM with the weights).
    """

    name: str
    h: int
    w: int
    c: int
    n: int
    kernel: int | tuple[int, int] = 1
    stride: int | tuple[int, int] = 1
    padding: int | tuple[int, ...] = 0
    dilation: int | tuple[int, int] = 1
    groups: int = 1
    batch: int = 1
    ceil_mode: bool = False
    bias: bool = False

    def __post_init__(self):
        _check_name(self.name)
        _check_bias(self.bias)
        for field in ("h", "w", "c", "n", "groups", "batch"):
            object.__setattr__(self, field, check_int(getattr(self, field), field, minimum=1))
        if not isinstance(self.ceil_mode, bool):
            raise TypeError(f"ceil_mode={self.ceil_mode!r} must be True or False")
        object.__setattr__(self, "kernel", _pair(self.kernel, "kernel", 1))
        object.__setattr__(self, "stride", _pair(self.stride, "stride", 1))
        object.__setattr__(self, "padding", _pads(self.padding))
        object.__setattr__(self, "dilation", _pair(self.dilation, "dilation", 1))
        if self.c % self.groups or self.n % self.groups:
            raise ValueError(
                f"groups={self.groups} must divide c={self.c} and n={self.n} (layer {self.name!r})"
            )
        for axis, size in (("height", self.h), ("width", self.w)):
            i = 0 if axis == "height" else 1
            span = self.dilation[i] * (self.kernel[i] - 1) + 1
            padded = size + self.padding[i] + self.padding[i + 2]
            if span > padded:
                raise ValueError(
                    f"kernel={self.kernel} (span {span} with dilation {self.dilation[i]}) is larger than the "
                    f"padded input {axis} {padded} in layer {self.name!r}"
                )

    def _out(self, i: int) -> int:
        span = self.dilation[i] * (self.kernel[i] - 1) + 1
        room = (self.h, self.w)[i] + self.padding[i] + self.padding[i + 2] - span
        return (-(-room // self.stride[i]) if self.ceil_mode else room // self.stride[i]) + 1

    @property
    def out_h(self) -> int:
        return self._out(0)

    @property
    def out_w(self) -> int:
        return self._out(1)

    def problem(self) -> GemmProblem:
        """The layer as ``groups`` GEMMs: M = batch x out pixels, N = n / groups, K = kh x kw x c / groups."""
        g = self.groups
        m = self.batch * self.out_h * self.out_w
        n = self.n // g
        k = self.kernel[0] * self.kernel[1] * (self.c // g)
        touched_inputs = (
            self.batch
            * _touched(self.h, self.out_h, self.kernel[0], self.stride[0], self.padding[0], self.dilation[0])
            * _touched(self.w, self.out_w, self.kernel[1], self.stride[1], self.padding[1], self.dilation[1])
            * (self.c // g)
        )
        macs = g * m * n * k
        return GemmProblem(
            m=m,
            n=n,
            k=k,
            groups=g,
            input_elements=touched_inputs,
            weight_elements=k * n,
            output_elements=m * n,
            executed_macs=macs,
            useful_macs=macs,
        )


def _touched(size: int, out: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    """How many of ``size`` input positions along one axis some output window reads."""
    seen = set()
    for o in range(out):
        for t in range(kernel):
            i = o * stride - pad + t * dilation
            if 0 <= i < size:
                seen.add(i)
    return len(seen)


@dataclass(frozen=True)
class GemmShape:
    """A matrix product ``(m x k) @ (k x n)``: a fully connected layer (m = batch) or a SCALE-Sim GEMM row;
    ``bias``: n biases are fetched with the weights."""

    name: str
    m: int
    n: int
    k: int
    bias: bool = False

    def __post_init__(self):
        _check_name(self.name)
        _check_bias(self.bias)
        for field in ("m", "n", "k"):
            object.__setattr__(self, field, check_int(getattr(self, field), field, minimum=1))

    def problem(self) -> GemmProblem:
        macs = self.m * self.n * self.k
        return GemmProblem(
            m=self.m,
            n=self.n,
            k=self.k,
            groups=1,
            input_elements=self.m * self.k,
            weight_elements=self.k * self.n,
            output_elements=self.m * self.n,
            executed_macs=macs,
            useful_macs=macs,
        )


@dataclass(frozen=True)
class ConvTransposeShape:
    """A 2-D transposed convolution, run as a convolution over the zero-inserted, padded input.

    Parameters are PyTorch's ``ConvTranspose2d`` ones (``bias`` as ``ConvShape``'s): output size
    ``(h - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1``.
    """

    name: str
    h: int
    w: int
    c: int
    n: int
    kernel: int | tuple[int, int] = 1
    stride: int | tuple[int, int] = 1
    padding: int | tuple[int, int] = 0
    output_padding: int | tuple[int, int] = 0
    dilation: int | tuple[int, int] = 1
    groups: int = 1
    batch: int = 1
    bias: bool = False

    def __post_init__(self):
        _check_name(self.name)
        _check_bias(self.bias)
        for field in ("h", "w", "c", "n", "groups", "batch"):
            object.__setattr__(self, field, check_int(getattr(self, field), field, minimum=1))
        for field, minimum in (
            ("kernel", 1),
            ("stride", 1),
            ("padding", 0),
            ("output_padding", 0),
            ("dilation", 1),
        ):
            object.__setattr__(self, field, _pair(getattr(self, field), field, minimum))
        if self.c % self.groups or self.n % self.groups:
            raise ValueError(
                f"groups={self.groups} must divide c={self.c} and n={self.n} (layer {self.name!r})"
            )
        for i in range(2):
            span = self.dilation[i] * (self.kernel[i] - 1)
            if self.padding[i] > span:
                raise ValueError(
                    f"padding={self.padding} exceeds dilation*(kernel-1)={span} in layer {self.name!r}"
                )
            if self.output_padding[i] >= max(self.stride[i], self.dilation[i]):
                raise ValueError(
                    f"output_padding={self.output_padding} must be smaller than stride or dilation "
                    f"in layer {self.name!r}"
                )

    def _out(self, i: int) -> int:
        size = (self.h, self.w)[i]
        return (
            (size - 1) * self.stride[i]
            - 2 * self.padding[i]
            + self.dilation[i] * (self.kernel[i] - 1)
            + self.output_padding[i]
            + 1
        )

    @property
    def out_h(self) -> int:
        return self._out(0)

    @property
    def out_w(self) -> int:
        return self._out(1)

    def _useful_taps(self, i: int) -> int:
        """(input position, kernel tap) pairs along one axis that land inside the output."""
        size, out = (self.h, self.w)[i], self._out(i)
        count = 0
        for x in range(size):
            for t in range(self.kernel[i]):
                y = x * self.stride[i] - self.padding[i] + t * self.dilation[i]
                count += 0 <= y < out
        return count

    def problem(self) -> GemmProblem:
        g = self.groups
        m = self.batch * self.out_h * self.out_w
        n = self.n // g
        k = self.kernel[0] * self.kernel[1] * (self.c // g)
        executed = g * m * n * k
        useful = self.batch * self._useful_taps(0) * self._useful_taps(1) * (self.c // g) * n * g
        return GemmProblem(
            m=m,
            n=n,
            k=k,
            groups=g,
            input_elements=self.batch * self.h * self.w * (self.c // g),
            weight_elements=k * n,
            output_elements=m * n,
            executed_macs=executed,
            useful_macs=useful,
        )


LayerShape = ConvShape | GemmShape | ConvTransposeShape
