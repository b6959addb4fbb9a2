"""The names of the trimming search's options: trimming modes (with Ristretto's pre-2016 aliases), parameter
groups, and the granularity of the widths.

``TrimmingMode`` accepts Ristretto's names (``dynamic_fixed_point``, ``minifloat``,
``integer_power_of_2_weights``) and the pre-2016 ones (``fixed_point``, ``mini_floating_point``,
``power_of_2_weights``), which are aliases of the current modes (the V1 semantics are not reproduced).
"""

from __future__ import annotations

from ristretto_sim.enums import NamedEnum

#: Ristretto's pre-2016 (V1) trimming-mode names -> the current names
MODE_ALIASES = {
    "fixed_point": "dynamic_fixed_point",
    "mini_floating_point": "minifloat",
    "power_of_2_weights": "integer_power_of_2_weights",
}


class TrimmingMode(NamedEnum):
    """What the search trims: ``dynamic_fixed_point``, ``minifloat`` or ``integer_power_of_2_weights``."""

    DYNAMIC_FIXED_POINT = "dynamic_fixed_point"
    MINIFLOAT = "minifloat"
    INTEGER_POWER_OF_2_WEIGHTS = "integer_power_of_2_weights"

    @classmethod
    def aliases(cls) -> dict[str, str]:
        return MODE_ALIASES

    @classmethod
    def label(cls) -> str:
        return "a trimming mode"


class Group(NamedEnum):
    """A parameter group of the dynamic-fixed-point search: conv weights, FC weights, layer activations."""

    CONV = "conv"
    FC = "fc"
    ACTIVATIONS = "activations"


class Granularity(NamedEnum):
    """``group``: one width per group (Ristretto); ``layer``: per-layer widths (an extension)."""

    GROUP = "group"
    LAYER = "layer"


#: the widths Ristretto tries, in order (reference §4 step 4)
RISTRETTO_WIDTHS = (16, 8, 4, 2, 1)
#: the width chosen when the widest tried width already fails
FALLBACK_BITS = 32
