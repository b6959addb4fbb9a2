"""``NamedEnum``: the base of every mode enum in ristretto-sim (rounding, dataflow, pooling kind, ...).

A member can be given as itself, as its value or as its name, case-insensitively and with ``-`` for ``_``
(``Rounding("nearest-even")``, ``Dataflow("OS")``); ``coerce`` does the same and raises a ``ValueError`` that names
the parameter and lists the choices. A subclass may accept extra names by overriding ``aliases()`` (alias ->
member value). ``str(member)`` is its value, the form plan and config files use. This module
imports nothing from the package, so every layer may use it.
"""

from __future__ import annotations

import enum


class NamedEnum(enum.Enum):
    """An enum that also accepts its member value or name as a string (module docstring)."""

    @classmethod
    def aliases(cls) -> dict[str, str]:
        """Other accepted names, alias -> member value (none by default)."""
        return {}

    @classmethod
    def label(cls) -> str:
        """How error messages name a value of this enum."""
        return f"a valid {cls.__name__}"

    @classmethod
    def _missing_(cls, value):
        if isinstance(value, str):
            key = value.strip().lower().replace("-", "_")
            key = cls.aliases().get(key, key)
            for member in cls:
                if member.value == key or member.name.lower() == key:
                    return member
        return None

    @classmethod
    def coerce(cls, value, name: str):
        """Return ``value`` as a member, or raise ``ValueError`` naming the parameter ``name``."""
        try:
            return cls(value)
        except ValueError:
            choices = ", ".join([str(m.value) for m in cls] + list(cls.aliases()))
            raise ValueError(f"{name}={value!r} is not {cls.label()}; choose one of: {choices}") from None

    def __str__(self) -> str:
        return str(self.value)
