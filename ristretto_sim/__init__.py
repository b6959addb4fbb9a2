"""ristretto-sim: hardware/quantization co-design of CNN accelerators.

One description of every layer's number formats drives a bit-accurate emulator, a cycle-level accelerator model, area
and energy estimates and verified RTL. The subpackages, from the bottom of the import order up:
``formats`` (what a number is), ``emulator`` (what integer/minifloat hardware computes), ``graph`` (networks),
``hw`` (cycle and energy model), ``rtl`` (Amaranth generators), ``search`` (trimming and joint search), ``cli``.
"""

__version__ = "0.1.0"
