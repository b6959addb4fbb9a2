"""The PE generators by datapath name: ``register_pe(name)`` (a class decorator) and ``pe_class(spec)``, so a
spec finds its generator without asking which format class it holds."""

from __future__ import annotations

_PES: dict[str, type] = {}


def register_pe(name: str):
    """Class decorator: the PE generator of the datapath registered as ``name``."""

    def deco(cls):
        if name in _PES:
            raise ValueError(f"a PE generator for datapath {name!r} is already registered")
        _PES[name] = cls
        cls.datapath_name = name
        return cls

    return deco


def pe_kinds() -> tuple[str, ...]:
    """Datapath names that have a PE generator."""
    return tuple(_PES)


def pe_class_named(name: str) -> type | None:
    """The generator class of the datapath registered as ``name`` (None when it has none)."""
    return _PES.get(name)


def pe_class(spec) -> type:
    """The generator class of ``spec``'s datapath (``ValueError`` naming the datapaths that have one)."""
    cls = _PES.get(spec.kind)
    if cls is None:
        raise ValueError(f"no RTL generator for the {spec.kind} datapath ({spec.formats.inputs} x "
                         f"{spec.formats.weights}, accumulator {spec.formats.accumulator}); generators exist for: "
                         f"{', '.join(_PES)}")
    return cls


def make_pe(spec):
    """The PE component of ``spec``."""
    return pe_class(spec)(spec)
