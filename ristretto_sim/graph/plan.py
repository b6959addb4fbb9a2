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
Ristretto's single ``quantization_param`` states them) and ``reciprocal`` (average pooling layers only, a per-tensor
fixed-point format: in exact mode the layer sums its window exactly and multiplies by ``1/n`` rounded to this format,
``emulator.avg_pool2d``; default ``DEFAULT_RECIPROCAL``, ``ufixed16.15``, which holds ``1/1`` exactly). Block
style (one key per line) works as well as the flow style above. The file is YAML with one convenience: format
texts containing brackets or parentheses (``pow2[-8,-1]``, ``fixed8.(7,6)``, ``e4m3[bias=8]``) need no quotes
inside ``{...}``.

Default formats and layer patterns (for converted networks with long layer names)::

  defaults: {rounding: nearest_even, overflow: saturate, inputs: fixed16.8, weights: fixed8.7, outputs: fixed16.8}
  layers:
    "model/dense*/MatMul": {weights: fixed8.8}
    model/conv2d/Conv2D:   {inputs: ufixed8.8}

- ``defaults`` may carry the format keys ``inputs``, ``weights``, ``bias``, ``outputs``, ``accumulator`` and
  ``product`` besides ``rounding`` and ``overflow``. Its formats apply to every weighted layer (``Conv``,
  ``ConvTranspose``, ``Dense``: ``graph.layers.WEIGHTED``) of the network, listed or not, and to no other layer.
- A layer key that is not the name of a layer and contains ``*``, ``?`` or ``[`` is a pattern, matched against
  whole layer names with ``fnmatch.fnmatchcase`` (case-sensitive; ``*`` also matches ``/``; ``[abc]``, ``[!abc]``).
  Quote a key in YAML when it starts with ``*``, ``?`` or ``[`` (``"*/Conv2D"``). A key that names a layer is that
  layer's entry and nothing else, even if it contains these characters.
- Keys merge one by one, the most specific source first: the layer's own entry, then the patterns matching it in
  file order (the first one that sets a key wins), then ``defaults`` (weighted layers only); ``rounding`` and
  ``overflow`` not set by any of them are the plan's defaults. A layer that no key names and no pattern matches,
  and that is not a weighted layer under default formats, runs in float.
- Errors: a pattern that matches no layer of the network; a pattern giving weight formats (``weights``, ``bias``,
  ``accumulator``, ``product``) that matches a layer without weights (narrow the pattern; default formats are the
  way to reach every weighted layer). Every merged entry then passes the checks of an explicit one.

Patterns and default formats need the network: ``QuantPlan.bind(network)`` returns the equivalent plan listing
every quantized layer by name (in network order, with empty ``defaults``), which is what the executors, ``hw`` and
the exporters read through ``get``, ``layer_formats``, ``in`` and ``layers``. ``QuantPlan.from_yaml(text,
network)`` and ``QuantPlan.load(path, network)`` (hence ``ristretto_sim.load_plan`` and the CLI's ``--plan``)
return the bound plan; without a network they return the plan as written, whose ``to_yaml()`` writes the patterns
and default formats back. A plan with neither is its own binding. ``check(network)``, which every consumer calls,
raises for an unbound plan whose patterns or default formats would change what a layer runs, so such a plan can
never run with those layers silently in float.

Errors (``PlanError``) name the file and line: unknown keys, formats that do not parse, unknown layers, and,
when a network is given, layers the network lacks, weight formats on layers without weights, weighted layers
without input or weight formats, ``internal`` on a layer that is not an ACROSS_CHANNELS LRN, and the pattern
errors above (a merged entry's error names the line and the pattern or defaults it came from).
``QuantPlan.to_yaml()`` writes the canonical form above, and ``QuantPlan.from_yaml(plan.to_yaml()) == plan``; a
file already in canonical form is written back unchanged.

The plan describes tensor formats only; the PE datapath belongs to the accelerator description."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, dataclass, field, fields
from fnmatch import fnmatchcase
from pathlib import Path
from types import MappingProxyType

from ristretto_sim.emulator import LayerFormats, Mode
from ristretto_sim.emulator.datapaths import select
from ristretto_sim.errors import FormatError, PlanError
from ristretto_sim.formats import FixedPoint, Minifloat, Overflow, Rounding, parse_format
from ristretto_sim.formats.base import NumberFormat, check_int, require
from ristretto_sim.graph.layers import LRN, WEIGHTED, LRNRegion, Pool, PoolKind

PLAN_VERSION = 1
FORMAT_KEYS = ("inputs", "weights", "bias", "outputs", "accumulator")
LAYER_KEYS = FORMAT_KEYS + ("rounding", "overflow", "product", "internal", "shifter_bits", "reciprocal")
#: the reciprocal of exact-mode average pooling when the plan states none: 16 bits, one integer bit (1/1 is exact)
DEFAULT_RECIPROCAL = FixedPoint(16, 15, signed=False)
#: the ``Network.metadata`` key of a plan the model file carries (an int8 TFLite model's affine formats, as YAML)
EMBEDDED_PLAN = "embedded_plan"

TOP_KEYS = ("version", "mode", "defaults", "layers")
#: the format keys ``defaults`` may carry (applied to every weighted layer)
DEFAULT_FORMAT_KEYS = FORMAT_KEYS + ("product",)
DEFAULT_KEYS = ("rounding", "overflow") + DEFAULT_FORMAT_KEYS
#: characters that make a layer key that names no layer a glob pattern
PATTERN_CHARS = "*?["


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
    shifter_bits : int or None
        Shift-and-add datapaths (power-of-two weights, keyword-only): the barrel shifter's output width (None:
        lossless), as ``emulator.LayerFormats.shifter_bits``.
    internal : Minifloat or None
        LRN layers only (keyword-only): the format of every intermediate of Ristretto's strict minifloat LRN
        (``LRNRistretto``, reference ``ristretto.md`` §5); the runners then compute the layer with
        ``emulator.ristretto_lrn``. Ristretto's minifloat is used (``exp_bits``/``man_bits``, round to nearest even,
        whatever ``rounding`` says).
    reciprocal : FixedPoint or None
        Average pooling layers only (keyword-only): the per-tensor fixed-point format of ``1/n`` in exact mode's
        integer average (None: ``DEFAULT_RECIPROCAL``).
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
    shifter_bits: int | None = None
    reciprocal: FixedPoint | None = None

    def __post_init__(self):
        for name in FORMAT_KEYS + ("product", "internal", "reciprocal"):
            object.__setattr__(self, name, _fmt(getattr(self, name), name))
        if self.reciprocal is not None:
            require(self.reciprocal, FixedPoint, "reciprocal", "a per-tensor fixed-point format, e.g. ufixed16.15")
            if self.reciprocal.per_channel:
                raise TypeError(f"reciprocal={self.reciprocal} must be a per-tensor fixed-point format, e.g. "
                                "ufixed16.15")
        if self.product is not None:
            require(self.product, Minifloat, "product", "a minifloat format")
        if self.internal is not None:
            require(self.internal, Minifloat, "internal", "a minifloat format (Ristretto's LRNRistretto)")
        if self.shifter_bits is not None:
            bits = check_int(self.shifter_bits, "shifter_bits", minimum=1, maximum=62)
            object.__setattr__(self, "shifter_bits", bits)
        if self.rounding is not None:
            object.__setattr__(self, "rounding", Rounding.coerce(self.rounding, "rounding"))
        if self.overflow is not None:
            object.__setattr__(self, "overflow", Overflow.coerce(self.overflow, "overflow"))

    @property
    def has_weight_formats(self) -> bool:
        """True when any of weights, bias, accumulator, product, shifter_bits is set (only weighted layers take
        them)."""
        return any(getattr(self, k) is not None for k in ("weights", "bias", "accumulator", "product", "shifter_bits"))

    def items(self) -> list[tuple[str, object]]:
        """The set entries, in canonical key order, as (key, value)."""
        return [
            (f.name, getattr(self, f.name))
            for f in fields(self)
            if f.name in LAYER_KEYS and getattr(self, f.name) is not None
        ]


@dataclass(frozen=True)
class QuantPlan:
    """Layer name (or pattern) -> ``LayerPlan``, with the mode, the default rounding/overflow and default formats.

    Parameters
    ----------
    layers : mapping of str to LayerPlan (or dict of its fields)
        Keys are layer names or glob patterns (module docstring); layers no key reaches run in float (unless
        ``defaults`` gives weighted layers formats). The order matters for patterns: the first match wins.
    mode : emulator.Mode or str
        ``"exact"`` or ``"ristretto"`` (keyword-only; default exact).
    rounding : Rounding or str
        Default rounding (nearest_even).
    overflow : Overflow or str
        Default overflow (saturate).
    defaults : LayerPlan or dict of its fields
        Default formats of every weighted layer (keyword-only; only ``inputs``, ``weights``, ``bias``,
        ``outputs``, ``accumulator``, ``product``). Empty by default. Patterns and default formats take effect
        through ``bind(network)``.
    """

    layers: Mapping[str, LayerPlan] = field(default_factory=dict)
    _: KW_ONLY
    mode: Mode = Mode.EXACT
    rounding: Rounding = Rounding.NEAREST_EVEN
    overflow: Overflow = Overflow.SATURATE
    defaults: LayerPlan = field(default_factory=LayerPlan)

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
        defaults = LayerPlan(**self.defaults) if isinstance(self.defaults, Mapping) else self.defaults
        if not isinstance(defaults, LayerPlan):
            raise TypeError(f"defaults={defaults!r} must be a LayerPlan or a dict")
        extra = [k for k, _ in defaults.items() if k not in DEFAULT_FORMAT_KEYS]
        if extra:
            raise ValueError(
                f"defaults may only carry the formats {', '.join(DEFAULT_FORMAT_KEYS)}, not {', '.join(extra)} "
                "(the default rounding and overflow are QuantPlan(rounding=, overflow=))"
            )
        object.__setattr__(self, "defaults", defaults)

    def __eq__(self, other):
        if not isinstance(other, QuantPlan):
            return NotImplemented
        return (
            dict(self.layers) == dict(other.layers)
            and list(self.layers) == list(other.layers)
            and (self.mode, self.rounding, self.overflow, self.defaults)
            == (other.mode, other.rounding, other.overflow, other.defaults)
        )

    def __hash__(self):
        return hash((tuple(self.layers.items()), self.mode, self.rounding, self.overflow, self.defaults))

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

    def reciprocal_of(self, name: str) -> FixedPoint:
        """The reciprocal format of average pooling layer ``name`` in exact mode (``DEFAULT_RECIPROCAL`` unless the
        plan states one)."""
        entry = self.layers.get(name)
        return entry.reciprocal if entry is not None and entry.reciprocal is not None else DEFAULT_RECIPROCAL

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
                shifter_bits=e.shifter_bits,
            )
        except (ValueError, TypeError) as exc:
            raise PlanError(f"plan layer {name!r}: {exc}") from None

    def replace(self, **changes) -> QuantPlan:
        """A copy with ``layers``, ``mode``, ``rounding``, ``overflow`` or ``defaults`` replaced."""
        kw = {
            "layers": dict(self.layers),
            "mode": self.mode,
            "rounding": self.rounding,
            "overflow": self.overflow,
            "defaults": self.defaults,
        }
        kw.update(changes)
        return QuantPlan(**kw)

    def with_mode(self, mode) -> QuantPlan:
        return self.replace(mode=mode)

    # ------------------------------------------------------------------ binding
    def bind(self, network, *, lines: Mapping[str | None, int] | None = None, source: str = "plan") -> QuantPlan:
        """The plan resolved for ``network``: every quantized layer listed by its name (module docstring).

        Patterns and default formats are merged into per-layer entries (in the network's layer order, with
        empty ``defaults``); a plan without either is returned as it is. Raises ``PlanError`` for keys naming no
        layer, patterns matching none, pattern weight formats on layers without weights, and every check an
        explicit entry must pass. ``lines`` maps keys to their line in ``source`` (``None``: the defaults line),
        for the messages.
        """
        lines = lines or {}
        names = set(network.layer_names)
        patterns: list[tuple[str, LayerPlan, frozenset[str]]] = []
        for key, entry in self.layers.items():
            if key in names:
                continue
            if not any(c in key for c in PATTERN_CHARS):
                raise PlanError(f"{_where(source, lines, key)}: layer {key!r} is not in model {network.name!r} "
                                f"(its layers: {_some_names(network)})")
            matched = frozenset(n for n in network.layer_names if fnmatchcase(n, key))
            if not matched:
                raise PlanError(f"{_where(source, lines, key)}: pattern {key!r} matches no layer of model "
                                f"{network.name!r} (its layers: {_some_names(network)})")
            if entry.has_weight_formats:
                plain = [network.layer(n) for n in network.layer_names if n in matched]
                plain = [layer for layer in plain if not isinstance(layer, WEIGHTED)]
                if plain:
                    shown = ", ".join(f"{layer.name!r} ({layer.op_type})" for layer in plain[:5])
                    raise PlanError(
                        f"{_where(source, lines, key)}: pattern {key!r} gives weight formats but matches "
                        f"{len(plain)} layer(s) without weights: {shown}{', ...' if len(plain) > 5 else ''}; "
                        "narrow the pattern (default formats reach every weighted layer)"
                    )
            patterns.append((key, entry, matched))
        has_defaults = bool(self.defaults.items())
        if not patterns and not has_defaults:
            self._check_entries(network, lambda name: _where(source, lines, name))
            return self
        bound: dict[str, LayerPlan] = {}
        origin: dict[str, str | None] = {}
        for layer in network.layers:
            sources = [(layer.name, self.layers[layer.name])] if layer.name in self.layers else []
            sources += [(key, entry) for key, entry, matched in patterns if layer.name in matched]
            if has_defaults and isinstance(layer, WEIGHTED):
                sources.append((None, self.defaults))
            if not sources:
                continue
            merged: dict[str, object] = {}
            for _, entry in sources:
                for k, v in entry.items():
                    merged.setdefault(k, v)
            try:
                bound[layer.name] = LayerPlan(**merged)
            except (TypeError, ValueError) as exc:
                raise PlanError(f"{_where(source, lines, sources[0][0])}: layer {layer.name!r}: {exc}") from None
            origin[layer.name] = sources[0][0]

        def where(name):
            key = origin[name]
            via = "" if key == name else " (defaults)" if key is None else f" (pattern {key!r})"
            return _where(source, lines, key) + via

        plan = self.replace(layers=bound, defaults=LayerPlan())
        plan._check_entries(network, where)
        return plan

    # ------------------------------------------------------------------ checks
    def check(self, network, *, lines: Mapping[str | None, int] | None = None, source: str = "plan") -> None:
        """Raise ``PlanError`` if the plan does not fit ``network`` as it is (see module docstring).

        Runs every check of ``bind(network)``; a plan whose patterns or default formats change what some layer
        runs is refused too (its entries are not the layers' formats until bound), with the way to bind it.
        """
        bound = self.bind(network, lines=lines, source=source)
        if bound is not self and dict(bound.layers) != dict(self.layers):
            raise PlanError(
                f"{source}: the plan has layer patterns or default formats that are not bound to model "
                f"{network.name!r}: use plan.bind(network) (QuantPlan.load(path, network) and "
                "ristretto_sim.load_plan(path, network) return the bound plan)"
            )

    def _check_entries(self, network, where: Callable[[str], str]) -> None:
        """The checks of explicit entries (every key names a layer of ``network``)."""
        for name, entry in self.layers.items():
            layer = network.layer(name)
            weighted = isinstance(layer, WEIGHTED)
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
            if entry.reciprocal is not None and not (isinstance(layer, Pool) and layer.kind is PoolKind.AVG):
                raise PlanError(
                    f"{where(name)}: layer {name!r} ({layer.op_type}): 'reciprocal' applies to average pooling "
                    "layers only"
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
                    datapath = select(self.layer_formats(name))
                except (PlanError, ValueError) as exc:
                    raise PlanError(f"{where(name)}: {exc}") from None
                try:
                    datapath.validate()
                except ValueError as exc:
                    raise PlanError(f"{where(name)}: layer {name!r} {exc}") from None

    # ------------------------------------------------------------------ YAML
    def to_yaml(self) -> str:
        """The canonical plan file text (module docstring)."""
        defaults = [f"rounding: {self.rounding.value}", f"overflow: {self.overflow.value}"]
        defaults += [f"{k}: {v}" for k, v in self.defaults.items()]
        out = [
            f"version: {PLAN_VERSION}",
            f"mode: {self.mode.value}",
            f"defaults: {{{', '.join(defaults)}}}",
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
        """Parse plan text; with ``network``, the plan bound to it (``bind``; ``PlanError`` naming lines)."""
        plan, lines = _parse(text, source)
        if network is not None:
            plan = plan.bind(network, lines=lines, source=source)
        return plan

    @classmethod
    def load(cls, path, network=None) -> QuantPlan:
        """Read a plan file (``PlanError`` if missing or malformed); with ``network``, bound to it."""
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


def _where(source: str, lines: Mapping[str | None, int], key: str | None) -> str:
    return f"{source}:{lines[key]}" if key in lines else source


def _some_names(network) -> str:
    names = network.layer_names
    return ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")


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
# (a whole token: a key such as ``model/conv[12]`` or ``conv[12]*`` is a block-style plain scalar, left alone)
_BRACKETED = re.compile(r"(?<![^\s{,])([A-Za-z][\w.+-]*(?:\[[^\]\n]*\]|\.\([^)\n]*\)))(?=[\s,}:]|$)")


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
        problem = getattr(exc, "problem", None) or str(exc)
        hint = "; quote a layer pattern that starts with * or ?, e.g. \"*/Conv2D\"" if "alias" in problem else ""
        raise PlanError(f"{at}: not valid YAML ({problem}){hint}") from exc
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
    layers, lines = {}, {}
    if "defaults" in top:
        dnode = top["defaults"][1]
        lines[None] = dnode.start_mark.line + 1
        formats = {}
        for dk, dv in mapping(dnode, "defaults"):
            if dk.value not in DEFAULT_KEYS:
                raise PlanError(
                    f"{line(dk)}: unknown key {dk.value!r} in defaults (expected: {', '.join(DEFAULT_KEYS)})"
                )
            value = scalar(dv, f"defaults.{dk.value}")
            try:
                if dk.value in DEFAULT_FORMAT_KEYS:
                    formats[dk.value] = parse_format(value)
                else:
                    enum = Rounding if dk.value == "rounding" else Overflow
                    kw[dk.value] = enum.coerce(value, dk.value)
            except (FormatError, ValueError) as exc:
                raise PlanError(f"{line(dv)}: defaults {dk.value}: {exc}") from None
        try:
            kw["defaults"] = LayerPlan(**formats)
        except (TypeError, ValueError) as exc:
            raise PlanError(f"{line(dnode)}: defaults: {exc}") from None
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
                    elif key == "shifter_bits":
                        if not value.isdigit():
                            raise ValueError(f"shifter_bits={value!r} must be a whole number of bits")
                        entry[key] = int(value)
                    else:
                        entry[key] = parse_format(value)
                except (FormatError, ValueError) as exc:
                    raise PlanError(f"{line(ev)}: layer {name!r} {key}: {exc}") from None
            try:
                layers[name] = LayerPlan(**entry)
            except (TypeError, ValueError) as exc:
                raise PlanError(f"{line(lk)}: layer {name!r}: {exc}") from None
    return QuantPlan(layers, **kw), lines


def embedded_plan(network) -> QuantPlan | None:
    """The plan the model file of ``network`` carries (``metadata[EMBEDDED_PLAN]``), bound to it; None if none."""
    text = network.metadata.get(EMBEDDED_PLAN)
    if text is None:
        return None
    return QuantPlan.from_yaml(text, network, source=f"{network.name} (embedded plan)")
