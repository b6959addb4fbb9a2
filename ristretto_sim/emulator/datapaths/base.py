"""The ``Datapath`` base class: the protocol every layer arithmetic follows, and what a datapath tells the other
packages (operand, product and accumulator widths; the arithmetic units it is built from; whether a layer's
datapath runs on it).

A datapath is made from one :class:`LayerFormats` (the plan's formats of a layer, or a PE's widest formats) and
is chosen from them by the registry (:mod:`~ristretto_sim.emulator.datapaths.registry`) alone. The same object
gives the software model (``emulate``) and every number the cost model and the RTL read, so they cannot
disagree (the model followed is Amaranth's ``lib/crc``: one ``Parameters`` object, ``compute()`` and
``create()``).

The protocol, owned here (``emulate`` = ``prepare`` then ``run``):

1. ``prepare(op, w, b, keys)``: what does not depend on the input, computed once per layer:
   :meth:`Datapath.prepare_weights` (hook) encodes the weights and preloads the bias;
2. ``run(prepared, x, keys)``: :meth:`Datapath.accumulate` (hook) encodes the input and accumulates the
   products over K into the accumulator; :meth:`Datapath.readout` (hook, default: the rounding shift and
   saturation of integer contents into the output format) reads it out; the base class collects
   :class:`LayerStats` (input saturations from the formats, weight/bias saturations from ``prepare``,
   accumulator overflows, NaN/Inf counts from the accumulation, output saturations from the readout).

A variant sets ``name`` and ``matches(formats)`` (its registration key and when the registry picks it) and
overrides:

* ``accumulate`` (required): how products are formed and accumulated;
* ``prepare_weights`` (required): how the weights and the bias enter the datapath;
* ``readout`` (optional): when the accumulator is not integer codes with a fraction;
* ``fast_run`` (optional): a faster path proven bit-identical to the general one (None when it cannot apply);
* ``accumulator_for`` and ``units`` (required): the accumulator format a layer of reduction length K uses, and
  the arithmetic units (multiplier, shifter, adder with their widths) one MAC takes, for the cost model;
* ``validate`` (optional): what the formats alone show to be wrong, before any layer is seen;
* ``kind_mismatch``, ``accumulator_mismatch`` and ``widest_accumulator`` (optional): whether a layer's datapath
  runs on this one when it describes a PE (``accepts``: the same kind, every operand and the accumulator fitting),
  and the PE accumulator that serves several layers (default: the widest).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ristretto_sim.emulator.datapaths.layer_formats import LayerFormats, Mode
from ristretto_sim.emulator.datapaths.operation import LayerOp
from ristretto_sim.emulator.datapaths.readout import integer_readout, out_of_range
from ristretto_sim.emulator.datapaths.results import LayerResult, LayerStats
from ristretto_sim.formats import Overflow, Rounding, fits_in, widest
from ristretto_sim.formats.base import NumberFormat
from ristretto_sim.formats.rounding import StochasticKey, stochastic_key


@dataclass(frozen=True)
class ArithmeticUnit:
    """One arithmetic unit of a PE, as the cost model prices it.

    Attributes
    ----------
    op : str
        ``int_mul``, ``int_add``, ``float_mul``, ``float_add`` or ``shift``.
    bits : tuple of int
        Its operand widths: ``(a_bits, b_bits)`` for a multiplier, ``(bits,)`` for an adder, ``(in_bits,
        shift_range)`` for a barrel shifter.
    formats : tuple of NumberFormat
        The formats behind the widths (float units are priced from exponent and mantissa widths).
    """

    op: str
    bits: tuple
    formats: tuple = ()


@dataclass(frozen=True, eq=False)
class Keys:
    """The stochastic-rounding keys of one layer call (all None for deterministic rounding)."""

    inputs: StochasticKey | None = None
    weights: StochasticKey | None = None
    bias: StochasticKey | None = None
    outputs: StochasticKey | None = None

    @classmethod
    def of(cls, rng, rounding: Rounding) -> Keys:
        """Four keys (inputs, weights, bias, outputs) from one seed; Nones when rounding is not stochastic."""
        if rounding is not Rounding.STOCHASTIC:
            return cls()
        key = stochastic_key(rng)
        return cls(*(StochasticKey(key.seed + 0x9E3779B9 * i, key.offset) for i in range(4)))

    @property
    def deterministic(self) -> bool:
        return self.inputs is None and self.outputs is None


#: the keys of deterministic rounding
NO_KEYS = Keys()


@dataclass(frozen=True, eq=False)
class Prepared:
    """What ``prepare`` computed for one layer: the op, the weights and bias as the datapath holds them
    (``weights``, ``bias``: variant-defined), their saturation counts, and the accumulator in use."""

    op: LayerOp
    weights: object
    bias: object
    weight_saturations: int
    bias_saturations: int
    accumulator: NumberFormat | None
    extra: object = None


@dataclass(frozen=True, eq=False)
class AccumulatorContents:
    """The accumulator after the last product, before the readout.

    Attributes
    ----------
    codes : ndarray of int64, WideInt or ndarray of float64
        Integer datapaths: the accumulator's integer codes (value = code x 2**-frac); float datapaths: the
        values (already read out when ``read_out``).
    frac : ndarray of int64 or None
        Integer datapaths: the fraction of each output channel.
    axis : int
        Axis of the output channels.
    name : str
        Text form of the accumulator (``fixed32.7``, ``kulisch48``, ``fp16``, ``float32``).
    overflows : int
        Outputs whose accumulator wrapped or saturated.
    read_out : bool
        The datapath's kernel already rounded the contents to the output format (minifloat MAC arrays read out
        in the same pass); ``saturations`` then holds the readout's saturation count.
    saturations, nan, inf : int
    """

    codes: object
    frac: np.ndarray | None
    axis: int
    name: str
    overflows: int = 0
    read_out: bool = False
    saturations: int = 0
    nan: int = 0
    inf: int = 0


@dataclass(frozen=True)
class Datapath:
    """A layer's arithmetic, made from its formats (module docstring: the protocol and the hooks).

    Parameters
    ----------
    formats : LayerFormats
    """

    name: ClassVar[str] = ""
    mode: ClassVar[Mode] = Mode.EXACT
    formats: LayerFormats

    # ------------------------------------------------------------------ registry hooks
    @classmethod
    def matches(cls, formats: LayerFormats) -> bool:  # pragma: no cover - interface
        """Whether these formats select this datapath (the registry asks each registered class in turn)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ what other packages read
    @property
    def inputs(self) -> NumberFormat:
        return self.formats.inputs

    @property
    def weights(self) -> NumberFormat:
        return self.formats.weights

    @property
    def input_bits(self) -> int:
        return self.formats.inputs.bits

    @property
    def weight_bits(self) -> int:
        return self.formats.weights.bits

    def accumulator_for(self, k: int, n_out: int = 1) -> NumberFormat:  # pragma: no cover - interface
        """The accumulator a layer of reduction length ``k`` uses: the declared one (validated), else the
        datapath's default."""
        raise NotImplementedError

    def validate(self) -> None:
        """``ValueError`` for what the formats alone show the datapath cannot run (default: nothing; shapes and K
        are checked when a layer is prepared)."""

    def accumulator_bits(self, k: int, n_out: int = 1) -> int:
        """Width of the accumulator register for reduction length ``k``."""
        return self.accumulator_for(k, n_out).bits

    def output_format(self, k: int, n_out: int = 1) -> NumberFormat:
        """The format the layer's outputs leave in: the declared output format, else the accumulator's."""
        out = self.formats.outputs
        return out if out is not None else self.accumulator_for(k, n_out)

    def product_bits(self) -> int:  # pragma: no cover - interface
        """Width of one product as the multiplier (or shifter) delivers it."""
        raise NotImplementedError

    def units(self, k: int, n_out: int = 1) -> tuple[ArithmeticUnit, ...]:  # pragma: no cover - interface
        """The arithmetic units one MAC of this datapath uses (priced by the cost model)."""
        raise NotImplementedError

    def readout_units(self) -> tuple[ArithmeticUnit, ...]:
        """The arithmetic units the readout uses once per output element, in the output stage (default: none)."""
        return ()

    def accepts(self, layer: Datapath, k: int, n_out: int = 1) -> str | None:
        """Whether ``layer``'s datapath runs on this one (a PE's): None if it does, else the reason: the same
        kind (``kind_mismatch``), operands that fit (``formats.fits_in``), an accumulator that fits
        (``accumulator_mismatch``)."""
        reason = self.kind_mismatch(layer)
        if reason is not None:
            return reason
        for what, fmt, dp in (("inputs", layer.inputs, self.inputs), ("weights", layer.weights, self.weights)):
            if not fits_in(fmt, dp):
                return f"{what} format {fmt} does not fit the {self.name} PE's {what} datapath {dp}"
        return self.accumulator_mismatch(layer, k, n_out)

    def kind_mismatch(self, layer: Datapath) -> str | None:
        """Why a layer of another datapath does not run on this PE (None when it is of this one)."""
        if layer.name == self.name:
            return None
        article = lambda w: ("an " if w[0] in "aeiou" else "a ") + w  # noqa: E731
        return f"{article(layer.name)} layer does not run on {article(self.name)} PE"

    def accumulator_mismatch(self, layer: Datapath, k: int, n_out: int = 1) -> str | None:
        """Why the layer's accumulator does not fit this PE's (default: ``formats.fits_in``), or None."""
        fmt, dp = layer.accumulator_for(k, n_out), self.accumulator_for(k, n_out)
        if fits_in(fmt, dp):
            return None
        return f"accumulator format {fmt} does not fit the {self.name} PE's accumulator datapath {dp}"

    def widest_accumulator(self, accumulators, inputs: NumberFormat, weights: NumberFormat) -> NumberFormat:
        """The accumulator of a PE (widest operand formats ``inputs``, ``weights``) that every layer accumulator
        in ``accumulators`` fits (default: the widest format, ``formats.widest``)."""
        return widest(accumulators, "accumulator")

    # ------------------------------------------------------------------ emulation protocol
    def emulate(self, op: LayerOp, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, rng=None) -> LayerResult:
        """The layer on float operands (``x``, ``w``, ``b`` as float64, shapes already checked)."""
        keys = Keys.of(rng, self.formats.rounding)
        try:
            prepared = self.prepare(op, w, b, keys)
        except ValueError:
            self.encode_inputs(x, keys)  # an input that cannot be encoded is reported before a weight problem
            raise
        return self.run(prepared, x, keys)

    def prepare(self, op: LayerOp, w: np.ndarray, b: np.ndarray | None, keys: Keys = NO_KEYS) -> Prepared:
        """Step 1 of the protocol: the weights and the bias as the datapath holds them."""
        return self.prepare_weights(op, w, b, keys)

    def run(self, prepared: Prepared, x: np.ndarray, keys: Keys = NO_KEYS, *, codes: bool = True,
            float32_values: bool = False, accumulator: bool = False) -> LayerResult:
        """Step 2 of the protocol: the layer on input ``x`` (float32 or float64, shape checked)."""
        if not accumulator:
            fast = self.fast_run(prepared, x, keys, codes, float32_values)
            if fast is not None:
                return fast
        x = x.astype(np.float64, copy=False)
        acc = self.accumulate(prepared, x, keys)
        if acc.read_out:
            values, out_codes, out_sat = acc.codes, self.output_codes(acc.codes) if codes else None, acc.saturations
        else:
            values, out_codes, out_sat = self.readout(prepared, acc, keys)
        stats = LayerStats(
            mode=self.mode,
            datapath=self.name,
            accumulator=acc.name,
            outputs=int(values.size),
            macs=prepared.op.macs(x, int(values.size)),
            accumulator_overflows=acc.overflows,
            output_saturations=out_sat,
            input_saturations=out_of_range(x, self.formats.inputs),
            weight_saturations=prepared.weight_saturations,
            bias_saturations=prepared.bias_saturations,
            nan_outputs=acc.nan,
            inf_outputs=acc.inf,
        )
        return LayerResult(values, stats, out_codes if codes else None, acc if accumulator else None)

    # ------------------------------------------------------------------ hooks
    def encode_inputs(self, x: np.ndarray, keys: Keys):
        """The input as the datapath takes it (default: the input format's codes, saturating)."""
        return self.formats.inputs.encode(x, self.formats.rounding, Overflow.SATURATE, keys.inputs)

    def prepare_weights(self, op: LayerOp, w, b, keys: Keys) -> Prepared:  # pragma: no cover - interface
        raise NotImplementedError

    def accumulate(self, prepared: Prepared, x: np.ndarray, keys: Keys) -> AccumulatorContents:  # pragma: no cover
        raise NotImplementedError

    def readout(self, prepared: Prepared, acc: AccumulatorContents, keys: Keys):
        """Accumulator contents -> ``(values, output codes or None, output saturations)``."""
        return integer_readout(acc.codes, acc.frac, self.formats, acc.axis, keys.outputs)

    def output_codes(self, values: np.ndarray):
        """Output codes of values already on the output grid (None where the format has none for them)."""
        return None

    def fast_run(self, prepared: Prepared, x, keys: Keys, codes: bool, float32_values: bool):
        """A faster bit-identical path, or None (default: none)."""
        return None
