"""The joint search space: which number formats and which accelerator a candidate may have, read from YAML.

A space is a set of named categorical choices (an Optuna parameter each)::

    kind: [fixed]                 # fixed | minifloat | pow2, one kind for the whole network: one PE array
                                  # serves every layer, and hw.datapath_for rejects layers of different datapaths
    granularity: layer            # layer: every weighted layer its own choices; group: one per group
    groups:                       # conv, fc, or a layer's name (that layer then has its own choices)
      conv: {weight_bits: [2, 3, 4, 5, 6, 8, 16], act_bits: [4, 5, 6, 8, 16]}
      fc:   {weight_bits: [2, 3, 4, 5, 6, 8, 16], act_bits: [4, 5, 6, 8, 16]}
    minifloat: {exp_bits: [3, 4, 5]}          # kind minifloat: mantissa = bits - exp_bits - 1
    pow2: {exp_min: [-8, -7, -6], exp_max: [-1, 0]}   # kind pow2: weights 2^e, activations fixed point
    accumulator: {bits: [32, exact], overflow: [saturate]}   # fixed kind; exact = cannot
                                                                                 # overflow
    array: {rows: [32], cols: [32], dataflow: [os]}
    # optional (left out: the base accelerator's): on-chip buffers and how the PE is clocked
    #   array: {buffer_kb: [16, 64]}               # all three buffers (ifmap, filter, ofmap), KB
    #   pe: {precision: [parallel, serial], bits_per_cycle: [1, 2, 4], serial_operand: [inputs, weights]}

Every list is the values a candidate may take; a one-element list fixes the value. ``SearchSpace.parameters``
names each choice as ``group.weight_bits``, ``accumulator.bits``, ``array.rows``, ...; ``resolve`` turns one
assignment into a ``Choice`` (what a candidate is, before it is built into a plan and an accelerator by
``candidate.CandidateBuilder``). An unknown key, an empty list or a value of the wrong type raises
``ConfigError`` naming the key and what it may be.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ristretto_sim.errors import ConfigError

KINDS = ("fixed", "minifloat", "pow2")
GRANULARITIES = ("group", "layer")
OVERFLOWS = ("saturate", "wrap")
DATAFLOWS = ("os", "ws", "is")
TYPE_GROUPS = ("conv", "fc")
PRECISIONS = ("parallel", "serial")
SERIAL_OPERANDS = ("inputs", "weights")
#: accumulator.bits value of the accumulator that cannot overflow (the datapath's default)
EXACT = "exact"

_TOP_KEYS = ("kind", "granularity", "groups", "minifloat", "pow2", "accumulator", "array", "pe")
_GROUP_KEYS = ("weight_bits", "act_bits")
_SECTION_KEYS = {
    "minifloat": ("exp_bits",),
    "pow2": ("exp_min", "exp_max"),
    "accumulator": ("bits", "overflow"),
    "array": ("rows", "cols", "dataflow", "buffer_kb"),
    "pe": ("precision", "bits_per_cycle", "serial_operand"),
}


def _values(value, where: str, *, kind: str, allowed=None, minimum=None, maximum=None, extra=()) -> tuple:
    """A non-empty tuple of distinct values of one choice (a scalar is a one-element list)."""
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise ConfigError(f"search space: {where} is an empty list; give at least one value")
    out = []
    for v in items:
        if v in extra:
            pass
        elif kind == "int":
            if isinstance(v, bool) or not isinstance(v, int):
                raise ConfigError(f"search space: {where} value {v!r} must be an integer"
                                  + (f" or {', '.join(map(str, extra))}" if extra else ""))
            if minimum is not None and v < minimum or maximum is not None and v > maximum:
                raise ConfigError(f"search space: {where} value {v} must lie in {minimum}..{maximum}")
        elif allowed is not None and v not in allowed:
            raise ConfigError(f"search space: {where} value {v!r} must be one of {', '.join(allowed)}")
        if v not in out:
            out.append(v)
    return tuple(out)


def _mapping(value, where: str, keys) -> Mapping:
    if not isinstance(value, Mapping):
        raise ConfigError(f"search space: {where} must be a mapping with keys {', '.join(keys)}, got {value!r}")
    unknown = sorted(set(map(str, value)) - set(keys))
    if unknown:
        raise ConfigError(f"search space: unknown key {where}.{unknown[0]}; known: {', '.join(keys)}")
    return value


@dataclass(frozen=True)
class GroupSpace:
    """The widths one group of layers may take: weight bits and activation (input and output) bits."""

    weight_bits: tuple[int, ...] = (2, 3, 4, 5, 6, 8, 16)
    act_bits: tuple[int, ...] = (4, 5, 6, 8, 16)


@dataclass(frozen=True)
class Choice:
    """One point of the space: what a candidate is before it is built.

    Attributes
    ----------
    kind : str
        ``fixed``, ``minifloat`` or ``pow2``.
    widths : mapping of str to (int, int)
        Per weighted layer, ``(weight_bits, act_bits)``.
    exp_bits : int or None
        Minifloat exponent bits.
    pow2_range : (int, int) or None
        Power-of-two weight exponents ``(exp_min, exp_max)``.
    acc_bits : int or None
        Fixed kind: declared accumulator width (None: one that cannot overflow).
    overflow : str
        Accumulator overflow mode.
    rows, cols : int
    dataflow : str
    buffer_kb : int or None
        Capacity of each of the three buffers in KB (None: the base accelerator's).
    precision, serial_operand : str or None
        How the PE is clocked (None: the base accelerator's).
    bits_per_cycle : int or None
        Bit-serial PE: operand bits per cycle (None: the base accelerator's).
    """

    kind: str
    widths: Mapping[str, tuple[int, int]]
    exp_bits: int | None = None
    pow2_range: tuple[int, int] | None = None
    acc_bits: int | None = None
    overflow: str = "saturate"
    rows: int = 32
    cols: int = 32
    dataflow: str = "os"
    buffer_kb: int | None = None
    precision: str | None = None
    bits_per_cycle: int | None = None
    serial_operand: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "widths", MappingProxyType(dict(self.widths)))


@dataclass(frozen=True)
class SearchSpace:
    """A validated search space (module docstring). Build it with ``from_dict``/``from_yaml`` or ``default``."""

    kind: tuple[str, ...] = ("fixed",)
    granularity: str = "layer"
    groups: Mapping[str, GroupSpace] = field(default_factory=lambda: {g: GroupSpace() for g in TYPE_GROUPS})
    exp_bits: tuple[int, ...] = (3, 4, 5)
    exp_min: tuple[int, ...] = (-8, -7, -6)
    exp_max: tuple[int, ...] = (-1, 0)
    # 32 bits and the no-overflow width only by default: a narrower saturating accumulator is emulated one
    # addition at a time (slow) and changes LeNet's energy by under 1 % (DRAM traffic dominates)
    acc_bits: tuple[int | str, ...] = (32, EXACT)
    overflow: tuple[str, ...] = ("saturate",)
    rows: tuple[int, ...] = (32,)
    cols: tuple[int, ...] = (32,)
    dataflow: tuple[str, ...] = ("os",)
    buffer_kb: tuple[int, ...] = ()
    precision: tuple[str, ...] = ()
    bits_per_cycle: tuple[int, ...] = ()
    serial_operand: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "groups", MappingProxyType(dict(self.groups)))
        if self.granularity not in GRANULARITIES:
            raise ConfigError(f"search space: granularity {self.granularity!r} must be one of "
                              f"{', '.join(GRANULARITIES)}")
        if "pow2" in self.kind and min(self.exp_min) > max(self.exp_max):
            raise ConfigError(f"search space: pow2.exp_min {list(self.exp_min)} and exp_max {list(self.exp_max)} "
                              "leave no exponent range (every exp_min is above every exp_max)")

    # ------------------------------------------------------------------ file form
    @classmethod
    def default(cls, config=None) -> SearchSpace:
        """The default space; with an ``AcceleratorConfig`` its array size and dataflow are the only ones."""
        if config is None:
            return cls()
        return cls(rows=(config.rows,), cols=(config.cols,), dataflow=(config.dataflow.value,))

    @classmethod
    def from_dict(cls, data, base: SearchSpace | None = None) -> SearchSpace:
        """A space from its dict form; keys left out keep ``base``'s values (default: ``SearchSpace()``)."""
        base = base or cls()
        data = _mapping(data or {}, "space", _TOP_KEYS)
        kw: dict = {}
        if "kind" in data:
            kw["kind"] = _values(data["kind"], "kind", kind="str", allowed=KINDS)
        if "granularity" in data:
            g = data["granularity"]
            if g not in GRANULARITIES:
                raise ConfigError(f"search space: granularity {g!r} must be one of {', '.join(GRANULARITIES)}")
            kw["granularity"] = g
        if "groups" in data:
            groups = data["groups"]
            if not isinstance(groups, Mapping) or not groups:
                raise ConfigError("search space: groups must be a non-empty mapping of group names (conv, fc or a "
                                  "layer's name) to {weight_bits: [...], act_bits: [...]}")
            out = dict(base.groups)
            for name, g in groups.items():
                g = _mapping(g, f"groups.{name}", _GROUP_KEYS)
                old = out.get(str(name), GroupSpace())
                out[str(name)] = GroupSpace(
                    *(_values(g[k], f"groups.{name}.{k}", kind="int", minimum=1, maximum=32) if k in g
                      else getattr(old, k) for k in _GROUP_KEYS))
            kw["groups"] = out
        for section, keys in _SECTION_KEYS.items():
            if section not in data:
                continue
            sub = _mapping(data[section], section, keys)
            for key in keys:
                if key not in sub:
                    continue
                where = f"{section}.{key}"
                target = {"bits": "acc_bits"}.get(key, key)
                if key == "bits":
                    vals = _values(sub[key], where, kind="int", minimum=2, maximum=64, extra=(EXACT,))
                elif key == "overflow":
                    vals = _values(sub[key], where, kind="str", allowed=OVERFLOWS)
                elif key == "dataflow":
                    vals = _values(sub[key], where, kind="str", allowed=DATAFLOWS)
                elif key in ("rows", "cols"):
                    vals = _values(sub[key], where, kind="int", minimum=1, maximum=4096)
                elif key == "buffer_kb":
                    vals = _values(sub[key], where, kind="int", minimum=1, maximum=1 << 20)
                elif key == "bits_per_cycle":
                    vals = _values(sub[key], where, kind="int", minimum=1, maximum=64)
                elif key == "precision":
                    vals = _values(sub[key], where, kind="str", allowed=PRECISIONS)
                elif key == "serial_operand":
                    vals = _values(sub[key], where, kind="str", allowed=SERIAL_OPERANDS)
                elif key == "exp_bits":
                    vals = _values(sub[key], where, kind="int", minimum=1, maximum=8)
                else:
                    vals = _values(sub[key], where, kind="int", minimum=-64, maximum=64)
                kw[target] = vals
        merged = {f: getattr(base, f) for f in cls.__dataclass_fields__}
        merged.update(kw)
        return cls(**merged)

    @classmethod
    def from_yaml(cls, path, base: SearchSpace | None = None) -> SearchSpace:
        """Read a space file (keys left out keep ``base``'s values)."""
        from pathlib import Path

        import yaml

        try:
            data = yaml.safe_load(Path(path).read_text())
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
        try:
            return cls.from_dict(data, base)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    def to_dict(self) -> dict:
        out = {
            "kind": list(self.kind),
            "granularity": self.granularity,
            "groups": {n: {"weight_bits": list(g.weight_bits), "act_bits": list(g.act_bits)}
                       for n, g in self.groups.items()},
            "minifloat": {"exp_bits": list(self.exp_bits)},
            "pow2": {"exp_min": list(self.exp_min), "exp_max": list(self.exp_max)},
            "accumulator": {"bits": list(self.acc_bits), "overflow": list(self.overflow)},
            "array": {"rows": list(self.rows), "cols": list(self.cols), "dataflow": list(self.dataflow)},
        }
        # the optional choices only when declared, so a space without them reads (and signs its study) as before
        if self.buffer_kb:
            out["array"]["buffer_kb"] = list(self.buffer_kb)
        pe = {k: list(getattr(self, k)) for k in _SECTION_KEYS["pe"] if getattr(self, k)}
        if pe:
            out["pe"] = pe
        return out

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)

    # ------------------------------------------------------------------ parameters
    def layer_groups(self, layer_types: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
        """Group name -> the weighted layers it sets, for layers ``{name: "conv" | "fc"}`` in order.

        A layer named in ``groups`` is its own group; with granularity ``layer`` every layer is; otherwise a
        layer belongs to its type's group. ``ConfigError`` for a group that names neither a type nor a layer,
        or a layer whose group the space lacks."""
        unknown = sorted(set(self.groups) - set(TYPE_GROUPS) - set(layer_types))
        if unknown:
            raise ConfigError(f"search space: unknown key groups.{unknown[0]}: neither conv, fc nor a weighted layer "
                              f"of the network ({', '.join(layer_types)})")
        out: dict[str, list[str]] = {}
        for name, kind in layer_types.items():
            if name in self.groups or self.granularity == "layer":
                group = name
            else:
                group = kind
            if group not in out:
                out[group] = []
            out[group].append(name)
            if group not in self.groups and kind not in self.groups:
                raise ConfigError(f"search space: layer {name!r} ({kind}) has no group: add groups.{kind}")
        return {g: tuple(v) for g, v in out.items()}

    def group_space(self, group: str, layer_types: Mapping[str, str], members) -> GroupSpace:
        return self.groups.get(group) or self.groups[layer_types[members[0]]]

    def parameters(self, layer_types: Mapping[str, str]) -> dict[str, tuple]:
        """Every choice, ``{parameter name: values}``, in a fixed order (Optuna's parameter names)."""
        params: dict[str, tuple] = {"kind": self.kind}
        for group, members in self.layer_groups(layer_types).items():
            gs = self.group_space(group, layer_types, members)
            params[f"{group}.weight_bits"] = gs.weight_bits
            params[f"{group}.act_bits"] = gs.act_bits
        if "minifloat" in self.kind:
            params["minifloat.exp_bits"] = self.exp_bits
        if "pow2" in self.kind:
            params["pow2.exp_min"] = self.exp_min
            params["pow2.exp_max"] = self.exp_max
        if "fixed" in self.kind:
            params["accumulator.bits"] = self.acc_bits
        params["accumulator.overflow"] = self.overflow
        params["array.rows"] = self.rows
        params["array.cols"] = self.cols
        params["array.dataflow"] = self.dataflow
        if self.buffer_kb:
            params["array.buffer_kb"] = self.buffer_kb
        for key in _SECTION_KEYS["pe"]:
            if getattr(self, key):
                params[f"pe.{key}"] = getattr(self, key)
        return params

    def size(self, layer_types: Mapping[str, str]) -> int:
        n = 1
        for values in self.parameters(layer_types).values():
            n *= len(values)
        return n

    def resolve(self, params: Mapping, layer_types: Mapping[str, str]) -> Choice:
        """The ``Choice`` of one assignment of ``parameters`` (missing parameters take their first value)."""
        space = self.parameters(layer_types)
        p = {name: params.get(name, values[0]) for name, values in space.items()}
        widths = {}
        for group, members in self.layer_groups(layer_types).items():
            for name in members:
                widths[name] = (int(p[f"{group}.weight_bits"]), int(p[f"{group}.act_bits"]))
        kind = p["kind"]
        acc = p.get("accumulator.bits", EXACT)
        return Choice(
            kind=kind,
            widths=widths,
            exp_bits=int(p["minifloat.exp_bits"]) if kind == "minifloat" else None,
            pow2_range=(int(p["pow2.exp_min"]), int(p["pow2.exp_max"])) if kind == "pow2" else None,
            acc_bits=None if kind != "fixed" or acc == EXACT else int(acc),
            overflow=p["accumulator.overflow"],
            rows=int(p["array.rows"]),
            cols=int(p["array.cols"]),
            dataflow=p["array.dataflow"],
            buffer_kb=int(p["array.buffer_kb"]) if "array.buffer_kb" in p else None,
            precision=p.get("pe.precision"),
            bits_per_cycle=int(p["pe.bits_per_cycle"]) if "pe.bits_per_cycle" in p else None,
            serial_operand=p.get("pe.serial_operand"),
        )

    def with_values(self, params: Mapping, layer_types: Mapping[str, str]) -> SearchSpace:
        """This space widened so that ``params`` (e.g. the Ristretto greedy result) is one of its points."""
        data = self.to_dict()
        groups = self.layer_groups(layer_types)
        for name, value in params.items():
            section, _, key = name.partition(".")
            if name == "kind":
                lst = data["kind"]
            elif section in groups:
                if section not in data["groups"]:
                    gs = self.group_space(section, layer_types, groups[section])
                    data["groups"][section] = {"weight_bits": list(gs.weight_bits), "act_bits": list(gs.act_bits)}
                lst = data["groups"][section][key]
            else:
                lst = data.setdefault(section, {}).setdefault(key, [])
            if value not in lst:
                lst.append(value)
                if all(isinstance(v, int) for v in lst):
                    lst.sort()
        return SearchSpace.from_dict(data)

    def point(self, widths: Mapping[str, tuple[int, int]], layer_types: Mapping[str, str],
              common: Mapping | None = None) -> dict:
        """Parameters of the candidate with per-layer ``widths`` ``{layer: (weight_bits, act_bits)}`` and the
        ``common`` parameters given by name (``kind``, ``accumulator.bits``, ...; the rest take their first
        value); ``ConfigError`` when the layers of one group differ."""
        params = {name: values[0] for name, values in self.parameters(layer_types).items()}
        for group, members in self.layer_groups(layer_types).items():
            found = {widths[m] for m in members}
            if len(found) != 1:
                raise ConfigError(f"search space: the layers of group {group} ({', '.join(members)}) have different "
                                  f"widths {sorted(found)}; use granularity: layer")
            params[f"{group}.weight_bits"], params[f"{group}.act_bits"] = next(iter(found))
        for name, value in (common or {}).items():
            if name in params:
                params[name] = value
        return params

    def missing(self, params: Mapping, layer_types: Mapping[str, str]) -> str:
        """Which of ``params`` are not among the space's values (empty when ``params`` is a point of it)."""
        space = self.parameters(layer_types)
        bad = [f"{k}={v!r}" for k, v in params.items() if k in space and v not in space[k]]
        return ", ".join(bad)
