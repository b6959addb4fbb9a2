"""The datapath registry: every layer arithmetic by name, and the one place a layer's formats choose theirs.

``register`` (a class decorator) adds a :class:`~ristretto_sim.emulator.datapaths.base.Datapath` subclass under
its ``name``; ``select(formats, mode)`` asks the registered classes in registration order whether the formats
match (``Datapath.matches``) and returns the first that does, made from the formats. Ristretto mode has one
datapath of its own (``ristretto-float32``) whatever the formats.
"""

from __future__ import annotations

from ristretto_sim.emulator.datapaths.layer_formats import LayerFormats, Mode

_EXACT: dict[str, type] = {}
_RISTRETTO: dict[str, type] = {}


def register(cls):
    """Class decorator: register a datapath under ``cls.name`` (for the mode ``cls.mode``)."""
    table = _RISTRETTO if cls.mode is Mode.RISTRETTO else _EXACT
    if not cls.name or cls.name in _EXACT or cls.name in _RISTRETTO:
        raise ValueError(f"datapath name {cls.name!r} is empty or already registered")
    table[cls.name] = cls
    return cls


def names(mode=None) -> tuple[str, ...]:
    """The registered datapath names (of one mode, or all)."""
    if mode is None:
        return tuple(_EXACT) + tuple(_RISTRETTO)
    return tuple(_RISTRETTO if Mode.coerce(mode, "mode") is Mode.RISTRETTO else _EXACT)


def datapath_class(name: str) -> type:
    """The datapath class registered as ``name`` (``ValueError`` listing the names otherwise)."""
    cls = _EXACT.get(name) or _RISTRETTO.get(name)
    if cls is None:
        raise ValueError(f"no datapath named {name!r}; registered: {', '.join(names())}")
    return cls


def select(formats: LayerFormats, mode=Mode.EXACT):
    """The datapath ``formats`` select in ``mode`` (``ValueError`` if no registered datapath multiplies these
    operands)."""
    if not isinstance(formats, LayerFormats):
        raise TypeError(f"formats={formats!r} must be a LayerFormats")
    mode = Mode.coerce(mode, "mode")
    table = _RISTRETTO if mode is Mode.RISTRETTO else _EXACT
    for cls in table.values():
        if cls.matches(formats):
            return cls(formats)
    i, w = formats.inputs, formats.weights
    raise ValueError(
        f"no datapath multiplies inputs={i} by weights={w}: use fixed x fixed, fixed x pow2 or minifloat x minifloat"
    )
