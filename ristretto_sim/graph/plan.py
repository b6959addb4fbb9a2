"""``QuantPlan``: the number formats of every quantized layer, and the plan file (YAML) users edit by hand.

The plan file (version 1)::

  version: 1
  mode: exact                 # or ristretto
  defaults: {rounding: nearest_even, overflow: saturate}
  layers:
    conv1: {inputs: fixed8.0, weights: fixed8.7, bias: fixed32.7, outputs: fixed8.-3, accumulator: fixed32.7}
    ip1:   {inputs: e4m3fn, weights: pow2[-8,-1], outputs: fixed8.2}

Formats use the text form of ``ristretto_sim.formats`` (``parse_format``; ``str(fmt)`` is written back).
Per-layer keys: ``inputs``, ``weights``, ``bias``, ``outputs``, ``accumulator``, and optionally ``rounding``,
``overflow`` (overriding ``defaults``), ``product`` (minifloat datapaths with a float accumulator: the format
each product is rounded to) and ``internal`` (LRN layers only, a minifloat: run the layer in Ristretto's strict
minifloat LRN arithmetic, ``LRNRistretto``: every intermediate of the scale computation rounded to that format,
``emulator.ristretto_lrn``; ACROSS_CHANNELS only; ``inputs``/``outputs``, if given, must be the same format, as
Ristretto's single ``quantization_param`` states them). Block style (one key per line) works as well as the
flow style above. The file is YAML with one convenience: format texts containing brackets or parentheses
(``pow2[-8,-1]``, ``fixed8.(7,6)``, ``e4m3[bias=8]``) need no quotes inside ``{...}``.

Errors (``PlanError``) name the file and line: unknown keys, formats that do not parse, unknown layers, and,
when a network is given, layers the network lacks, weight formats on layers without weights, weighted layers
without input or weight formats, ``internal`` on a layer that is not an ACROSS_CHANNELS LRN.
``QuantPlan.to_yaml()`` writes the canonical form above, and ``QuantPlan.from_yaml(plan.to_yaml()) == plan``; a
file already in canonical form is written back unchanged.

The plan describes tensor formats only; the PE datapath belongs to the accelerator description."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field, fields
from pathlib import Path
from types import MappingProxyType

from ristretto_sim.emulator import LayerFormats, Mode
from ristretto_sim.errors import FormatError, PlanError
from ristretto_sim.formats import FixedPoint, Minifloat, Overflow, Rounding, parse_format
from ristretto_sim.formats.base import NumberFormat
from ristretto_sim.graph.layers import LRN, LRNRegion

PLAN_VERSION = 1
FORMAT_KEYS = ("inputs", "weights", "bias", "outputs", "accumulator")
LAYER_KEYS = FORMAT_KEYS + ("rounding", "overflow", "product", "internal")
TOP_KEYS = ("version", "mode", "defaults", "layers")
DEFAULT_KEYS = ("rounding", "overflow")
WEIGHTED_OPS = ("Conv", "ConvTranspose", "Dense")


def _fmt(value, name: str):
    if value is None or isinstance(value, NumberFormat):
        return value
    if isinstance(value, str):
        return parse_format(value)
    raise TypeError(f"{name}={value!r} must be a format object, a format text or None")


@dataclass(frozen=True)
class LayerPlan:
    """The formats of one layer (any of them may be None: not quantized / default).

    Parameters
    ----------
    inputs, weights, bias, outputs, accumulator : format, format text or None
        As in ``emulator.LayerFormats``. Layers without weights (pooling, activations, ...) may only have
        ``inputs`` and ``outputs``: the tensor is quantized to that format.
    rounding, overflow : Rounding, Overflow, str or None
        Per-layer overrides of the plan's defaults (keyword-only).
    product : Minifloat or None
        Rounding of each product in minifloat datapaths with a float accumulator (keyword-only).
    internal : Minifloat or None
        LRN layers only (keyword-only): the format of every intermediate of Ristretto's strict minifloat LRN
        (``LRNRistretto``, reference ``ristretto.md`` §5); the runners then compute the layer with
        ``emulator.ristretto_lrn``. Ristretto's minifloat is used (``exp_bits``/``man_bits``, round to nearest even,
        whatever ``rounding`` says).
    """

    inputs: NumberFormat | None = None
    weights: NumberFormat | None = None
    bias: NumberFormat | None = None
    outputs: NumberFormat | None = None
    accumulator: NumberFormat | None = None
    _: KW_ONLY
    rounding: Rounding | None = None
    overflow: Overflow | None = None
    product: Minifloat | None = None
    internal: Minifloat | None = None

    def __post_init__(self):
        for name in FORMAT_KEYS + ("product", "internal"):
            object.__setattr__(self, name, _fmt(getattr(self, name), name))
        if self.product is not None and not isinstance(self.product, Minifloat):
            raise TypeError(f"product={self.product} must be a minifloat format")
        if self.internal is not None and not isinstance(self.internal, Minifloat):
            raise TypeError(f"internal={self.internal} must be a minifloat format (Ristretto's LRNRistretto)")
        if self.rounding is not None:
            object.__setattr__(self, "rounding", Rounding.coerce(self.rounding, "rounding"))
        if self.overflow is not None:
            object.__setattr__(self, "overflow", Overflow.coerce(self.overflow, "overflow"))

    @property
    def has_weight_formats(self) -> bool:
        """True when any of weights, bias, accumulator, product is set (only weighted layers take them)."""
        return any(getattr(self, k) is not None for k in ("weights", "bias", "accumulator", "product"))

    def items(self) -> list[tuple[str, object]]:
        """The set entries, in canonical key order, as (key, value)."""
        return [
            (f.name, getattr(self, f.name))
            for f in fields(self)
            if f.name in LAYER_KEYS and getattr(self, f.name) is not None
        ]


@dataclass(frozen=True)
class QuantPlan:
    """Layer name -> ``LayerPlan``, with the mode and the default rounding/overflow.

    Parameters
    ----------
    layers : mapping of str to LayerPlan (or dict of its fields)
        Layers not listed run in float.
    mode : emulator.Mode or str
        ``"exact"`` or ``"ristretto"`` (keyword-only; default exact).
    rounding : Rounding or str
        Default rounding (nearest_even).
    overflow : Overflow or str
        Default overflow (saturate).
    """

    layers: Mapping[str, LayerPlan] = field(default_factory=dict)
    _: KW_ONLY
    mode: Mode = Mode.EXACT
    rounding: Rounding = Rounding.NEAREST_EVEN
    overflow: Overflow = Overflow.SATURATE

    def __post_init__(self):
        layers = {}
        for name, entry in dict(self.layers).items():
            if not isinstance(name, str) or not name:
                raise TypeError(f"layer name {name!r} must be a non-empty string")
            if isinstance(entry, Mapping):
                entry = LayerPlan(**entry)
            if not isinstance(entry, LayerPlan):
                raise TypeError(f"layers[{name!r}]={entry!r} must be a LayerPlan or a dict")
            layers[name] = entry
        object.__setattr__(self, "layers", MappingProxyType(layers))
        object.__setattr__(self, "mode", Mode.coerce(self.mode, "mode"))
        object.__setattr__(self, "rounding", Rounding.coerce(self.rounding, "rounding"))
        object.__setattr__(self, "overflow", Overflow.coerce(self.overflow, "overflow"))

    def __eq__(self, other):
        if not isinstance(other, QuantPlan):
            return NotImplemented
        return (
            dict(self.layers) == dict(other.layers)
            and list(self.layers) == list(other.layers)
            and (self.mode, self.rounding, self.overflow) == (other.mode, other.rounding, other.overflow)
        )

    def __hash__(self):
        return hash((tuple(self.layers.items()), self.mode, self.rounding, self.overflow))

    def __contains__(self, name: str) -> bool:
        return name in self.layers

    def get(self, name: str) -> LayerPlan | None:
        """The entry of layer ``name``, or None."""
        return self.layers.get(name)

    def rounding_of(self, name: str) -> Rounding:
        entry = self.layers.get(name)
        return entry.rounding if entry is not None and entry.rounding is not None else self.rounding

    def overflow_of(self, name: str) -> Overflow:
        entry = self.layers.get(name)
        return entry.overflow if entry is not None and entry.overflow is not None else self.overflow

    def layer_formats(self, name: str) -> LayerFormats:
        """The emulator's ``LayerFormats`` of a weighted layer (``PlanError`` without inputs or weights)."""
        e = self.layers.get(name)
        if e is None or e.inputs is None or e.weights is None:
            raise PlanError(f"plan layer {name!r} needs both 'inputs' and 'weights' formats to be emulated")
        try:
            return LayerFormats(
                e.inputs,
                e.weights,
                e.bias,
                e.outputs,
                e.accumulator,
                rounding=self.rounding_of(name),
                overflow=self.overflow_of(name),
                product=e.product,
            )
        except (ValueError, TypeError) as exc:
            raise PlanError(f"plan layer {name!r}: {exc}") from None

    def replace(self, **changes) -> QuantPlan:
        """A copy with ``layers``, ``mode``, ``rounding`` or ``overflow`` replaced."""
        kw = {
            "layers": dict(self.layers),
            "mode": self.mode,
            "rounding": self.rounding,
            "overflow": self.overflow,
        }
        kw.update(changes)
        return QuantPlan(**kw)

    def with_mode(self, mode) -> QuantPlan:
        return self.replace(mode=mode)

    # ------------------------------------------------------------------ checks
    def check(self, network, *, lines: Mapping[str, int] | None = None, source: str = "plan") -> None:
        """Raise ``PlanError`` if the plan does not fit ``network`` (see module docstring)."""
        lines = lines or {}

        def where(name):
            return f"{source}:{lines[name]}" if name in lines else source

        for name, entry in self.layers.items():
            if name not in network:
                known = ", ".join(network.layer_names[:20])
                raise PlanError(
                    f"{where(name)}: layer {name!r} is not in model {network.name!r} "
                    f"(its layers: {known}{', ...' if len(network.layers) > 20 else ''})"
                )
            layer = network.layer(name)
            weighted = layer.op_type in WEIGHTED_OPS
            if entry.internal is not None:
                if not isinstance(layer, LRN):
                    raise PlanError(
                        f"{where(name)}: layer {name!r} ({layer.op_type}): 'internal' (strict minifloat LRN) "
                        "applies to LRN layers only"
                    )
                if layer.region is not LRNRegion.ACROSS_CHANNELS:
                    raise PlanError(
                        f"{where(name)}: layer {name!r} (LRN {layer.region.name}): strict minifloat LRN "
                        "('internal', Ristretto's LRNRistretto) supports ACROSS_CHANNELS only (Ristretto is FATAL "
                        "on WITHIN_CHANNEL)"
                    )
                for key in ("inputs", "outputs"):
                    fmt = getattr(entry, key)
                    if fmt is not None and fmt != entry.internal:
                        raise PlanError(
                            f"{where(name)}: layer {name!r} {key} format {fmt} must equal its 'internal' format "
                            f"{entry.internal} (LRNRistretto uses one minifloat for every tensor) or be left out"
                        )
            if not weighted and entry.has_weight_formats:
                raise PlanError(
                    f"{where(name)}: layer {name!r} ({layer.op_type}) has no weights; only 'inputs' "
                    "and 'outputs' formats apply to it"
                )
            if weighted and (entry.inputs is None or entry.weights is None):
                raise PlanError(
                    f"{where(name)}: layer {name!r} ({layer.op_type}) needs both 'inputs' and 'weights' formats"
                )
            if weighted:
                try:
                    self.layer_formats(name).datapath  # noqa: B018 - validates the combination
                except (PlanError, ValueError) as exc:
                    raise PlanError(f"{where(name)}: {exc}") from None
                i, w, a = entry.inputs, entry.weights, entry.accumulator
                if (
                    isinstance(a, FixedPoint)
                    and isinstance(i, FixedPoint)
                    and isinstance(w, FixedPoint)
                    and not (i.per_channel or w.per_channel or a.per_channel)
                    and a.frac_bits != i.frac_bits + w.frac_bits
                ):
                    raise PlanError(
                        f"{where(name)}: layer {name!r} accumulator {a} must have inputs + weights "
                        f"fractional bits ({i.frac_bits} + {w.frac_bits} = {i.frac_bits + w.frac_bits}),"
                        f" e.g. fixed{a.bits}.{i.frac_bits + w.frac_bits}"
                    )

    # ------------------------------------------------------------------ YAML
    def to_yaml(self) -> str:
        """The canonical plan file text (module docstring)."""
        out = [
            f"version: {PLAN_VERSION}",
            f"mode: {self.mode.value}",
            f"defaults: {{rounding: {self.rounding.value}, overflow: {self.overflow.value}}}",
        ]
        if not self.layers:
            out.append("layers: {}")
            return "\n".join(out) + "\n"
        out.append("layers:")
        keys = {name: _yaml_key(name) for name in self.layers}
        width = max(len(k) for k in keys.values()) + 1
        for name, entry in self.layers.items():
            body = ", ".join(
                f"{k}: {v.value if hasattr(v, 'value') and not isinstance(v, NumberFormat) else v}"
                for k, v in entry.items()
            )
            out.append(f"  {(keys[name] + ':').ljust(width)} {{{body}}}")
        return "\n".join(out) + "\n"

    def save(self, path) -> Path:
        """Write ``to_yaml()`` to ``path``."""
        path = Path(path)
        path.write_text(self.to_yaml())
        return path

    @classmethod
    def from_yaml(cls, text: str, network=None, *, source: str = "plan") -> QuantPlan:
        """Parse plan text; with ``network``, also check the plan against it (``PlanError`` naming lines)."""
        plan, lines = _parse(text, source)
        if network is not None:
            plan.check(network, lines=lines, source=source)
        return plan

    @classmethod
    def load(cls, path, network=None) -> QuantPlan:
        """Read a plan file (``PlanError`` if missing or malformed)."""
        path = Path(path)
        if not path.is_file():
            raise PlanError(f"plan file {path} does not exist")
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PlanError(f"plan file {path} cannot be read ({exc.strerror or exc})") from exc
        except UnicodeDecodeError as exc:
            raise PlanError(f"{path}: not a text plan file (byte {exc.start} is not UTF-8)") from exc
        return cls.from_yaml(text, network, source=str(path))


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")


def _yaml_key(name: str) -> str:
    if _PLAIN_KEY.match(name) and name.lower() not in (
        "true",
        "false",
        "null",
        "yes",
        "no",
        "on",
        "off",
        "y",
        "n",
    ):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


# an unquoted format text with brackets/parentheses (they are flow indicators in YAML)
_BRACKETED = re.compile(r"(?<![\"'\w\[(])([A-Za-z][\w.+-]*(?:\[[^\]\n]*\]|\.\([^)\n]*\)))")


def _comment_start(line: str) -> int:
    """Index where a YAML comment starts (``#`` after whitespace, outside quotes), or ``len(line)``."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote and not (quote == '"' and i and line[i - 1] == "\\"):
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return i
    return len(line)


def _quote_outside_strings(code: str) -> str:
    """Quote unquoted bracketed format texts, leaving quoted strings alone."""
    parts = re.split(r"(\"(?:[^\"\\]|\\.)*\"|'(?:[^']|'')*')", code)
    return "".join(p if i % 2 else _BRACKETED.sub(lambda m: '"' + m.group(1) + '"', p) for i, p in enumerate(parts))


def _parse(text: str, source: str):
    import yaml

    if not isinstance(text, str):
        raise TypeError(f"plan text must be a string, got {type(text).__name__}")
    lines_in = text.split("\n")
    quoted = []
    for line in lines_in:
        cut = _comment_start(line)
        quoted.append(_quote_outside_strings(line[:cut]) + line[cut:])
    try:
        root = yaml.compose("\n".join(quoted), Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"{source}:{mark.line + 1}" if mark is not None else source
        raise PlanError(f"{at}: not valid YAML ({getattr(exc, 'problem', None) or exc})") from exc
    if root is None:
        raise PlanError(f"{source}: empty plan file")

    def line(node) -> str:
        return f"{source}:{node.start_mark.line + 1}"

    def mapping(node, what):
        if not isinstance(node, yaml.MappingNode):
            raise PlanError(f"{line(node)}: {what} must be a mapping")
        seen = set()
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                raise PlanError(f"{line(k)}: keys of {what} must be plain names")
            if k.value in seen:
                raise PlanError(f"{line(k)}: duplicate key {k.value!r} in {what}")
            seen.add(k.value)
            yield k, v

    def scalar(node, what) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise PlanError(f"{line(node)}: {what} must be a single value")
        return node.value

    top = {}
    for k, v in mapping(root, "the plan"):
        if k.value not in TOP_KEYS:
            raise PlanError(f"{line(k)}: unknown key {k.value!r} (expected: {', '.join(TOP_KEYS)})")
        top[k.value] = (k, v)
    if "version" not in top:
        raise PlanError(f"{source}:1: missing 'version: {PLAN_VERSION}'")
    k, v = top["version"]
    if scalar(v, "version") != str(PLAN_VERSION):
        raise PlanError(
            f"{line(v)}: unsupported plan version {v.value!r} (this ristretto-sim reads version {PLAN_VERSION})"
        )
    kw = {}
    if "mode" in top:
        k, v = top["mode"]
        try:
            kw["mode"] = Mode.coerce(scalar(v, "mode"), "mode")
        except ValueError as exc:
            raise PlanError(f"{line(v)}: {exc}") from None
    if "defaults" in top:
        for dk, dv in mapping(top["defaults"][1], "defaults"):
            if dk.value not in DEFAULT_KEYS:
                raise PlanError(
                    f"{line(dk)}: unknown key {dk.value!r} in defaults (expected: {', '.join(DEFAULT_KEYS)})"
                )
            enum = Rounding if dk.value == "rounding" else Overflow
            try:
                kw[dk.value] = enum.coerce(scalar(dv, dk.value), dk.value)
            except ValueError as exc:
                raise PlanError(f"{line(dv)}: {exc}") from None
    layers, lines = {}, {}
    if "layers" in top:
        node = top["layers"][1]
        if isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null"):
            node = yaml.MappingNode("tag:yaml.org,2002:map", [])
        for lk, lv in mapping(node, "layers"):
            name = lk.value
            lines[name] = lk.start_mark.line + 1
            entry = {}
            for ek, ev in mapping(lv, f"layer {name!r}"):
                key = ek.value
                if key not in LAYER_KEYS:
                    raise PlanError(
                        f"{line(ek)}: unknown key {key!r} for layer {name!r} (expected: {', '.join(LAYER_KEYS)})"
                    )
                value = scalar(ev, f"{name}.{key}")
                try:
                    if key == "rounding":
                        entry[key] = Rounding.coerce(value, "rounding")
                    elif key == "overflow":
                        entry[key] = Overflow.coerce(value, "overflow")
                    else:
                        entry[key] = parse_format(value)
                except (FormatError, ValueError) as exc:
                    raise PlanError(f"{line(ev)}: layer {name!r} {key}: {exc}") from None
            try:
                layers[name] = LayerPlan(**entry)
            except (TypeError, ValueError) as exc:
                raise PlanError(f"{line(lk)}: layer {name!r}: {exc}") from None
    return QuantPlan(layers, **kw), lines
