"""Design-space sweeps and side-by-side comparison of accelerators.

A sweep axis is ``name=v1,v2,...`` (``SweepAxis.parse``); the names are registered in ``AXES``, each a function
that returns the config with that value: ``rows``, ``cols``, ``dataflow``, ``buffer_kb`` (all three buffers),
``ifmap_kb``, ``filter_kb``, ``ofmap_kb``, ``bandwidth`` (bytes/cycle, ``none`` for unlimited), ``latency``,
``prefetch_depth``, ``write_policy`` (``fifo``, ``reads_first``), ``lanes`` (vector unit), ``clock_mhz``. ``sweep``
walks the cartesian product of the axes and yields each point with its report, so a caller can save results as they
come. ``comparison`` lays out the network totals (with the roofline bound and ``cycles / bound``) of several reports
side by side.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

from ristretto_sim.errors import ConfigError
from ristretto_sim.hw.config import AcceleratorConfig
from ristretto_sim.hw.enums import Dataflow, WritePolicy


def _int(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"--sweep {name}: {text!r} is not an integer") from None


def _float(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"--sweep {name}: {text!r} is not a number") from None


def _float_or_none(text: str, name: str):
    if text.lower() in ("none", "unlimited", "inf"):
        return None
    return _float(text, name)


def _buffers(names):
    return lambda c, kb: c.with_buffers_kb(kb, names)


#: axis name -> (parse one value, apply it to a config)
AXES = {
    "rows": (_int, lambda c, v: c.replace(rows=v)),
    "cols": (_int, lambda c, v: c.replace(cols=v)),
    "dataflow": (lambda t, n: Dataflow.coerce(t, "--sweep dataflow").value, lambda c, v: c.replace(dataflow=v)),
    "buffer_kb": (_int, _buffers(("ifmap", "filter", "ofmap"))),
    "ifmap_kb": (_int, _buffers(("ifmap",))),
    "filter_kb": (_int, _buffers(("filter",))),
    "ofmap_kb": (_int, _buffers(("ofmap",))),
    "bandwidth": (_float_or_none, lambda c, v: c.with_bandwidth(v)),
    "latency": (_int, lambda c, v: c.replace(dram=replace(c.dram, latency_cycles=v))),
    "prefetch_depth": (_int, lambda c, v: c.replace(dram=replace(c.dram, prefetch_depth=v))),
    "write_policy": (
        lambda t, n: WritePolicy.coerce(t, "--sweep write_policy").value,
        lambda c, v: c.replace(dram=replace(c.dram, write_policy=v)),
    ),
    "lanes": (_int, lambda c, v: c.replace(vector=replace(c.vector, lanes=v))),
    "clock_mhz": (_float, lambda c, v: c.replace(clock_mhz=v)),
}


@dataclass(frozen=True)
class SweepAxis:
    """One swept parameter and its values."""

    name: str
    values: tuple

    @classmethod
    def parse(cls, text: str) -> SweepAxis:
        """``name=v1,v2,...``; ``ConfigError`` naming the axis and listing the known ones."""
        name, sep, values = text.partition("=")
        name = name.strip().lower()
        if not sep or not values.strip():
            raise ConfigError(f"--sweep {text!r} must read NAME=V1,V2,... (e.g. rows=8,16,32)")
        if name not in AXES:
            raise ConfigError(f"--sweep {name!r} is not a sweep axis; known: {', '.join(AXES)}")
        parse = AXES[name][0]
        return cls(name, tuple(parse(v.strip(), name) for v in values.split(",") if v.strip()))

    def apply(self, config: AcceleratorConfig, value) -> AcceleratorConfig:
        try:
            return AXES[self.name][1](config, value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"--sweep {self.name}={value}: {exc}") from None


def sweep_points(config: AcceleratorConfig, axes) -> list[tuple[dict, AcceleratorConfig]]:
    """Every point of the cartesian product of ``axes`` as (values by axis name, config)."""
    axes = list(axes)
    points = []
    for values in itertools.product(*(a.values for a in axes)):
        c = config
        for axis, value in zip(axes, values, strict=True):
            c = axis.apply(c, value)
        point = dict(zip((a.name for a in axes), values, strict=True))
        points.append((point, c.replace(name=f"{config.name} " + " ".join(f"{k}={v}" for k, v in point.items()))))
    return points


def sweep(layers, plan, config: AcceleratorConfig, axes, **options):
    """Yield (point, report) for each point of the sweep (``sweep_points``); ``options`` go to ``simulate``."""
    from ristretto_sim.hw.simulate import simulate

    for point, c in sweep_points(config, axes):
        yield point, simulate(layers, plan, c, **options)


#: the rows of a comparison: (label, how to read it from a report)
COMPARED = (
    ("total cycles", lambda r: r.total.total_cycles),
    ("compute cycles", lambda r: r.total.compute_cycles),
    ("stall cycles", lambda r: r.total.stall_cycles),
    ("bound cycles", lambda r: r.total.bound_cycles),
    ("cycles / bound", lambda r: round(r.total.roofline_attainment, 4)),
    ("utilisation %", lambda r: round(100 * r.total.utilization, 2)),
    ("latency ms", lambda r: round(r.total.latency_s * 1e3, 5)),
    ("DRAM read B", lambda r: r.total.dram_read_bytes),
    ("DRAM write B", lambda r: r.total.dram_write_bytes),
    ("energy uJ", lambda r: round(r.total.energy.total_pj / 1e6, 4)),
    ("  PE arithmetic uJ", lambda r: round(r.total.energy.arithmetic_pj / 1e6, 4)),
    ("  PE registers uJ", lambda r: round(r.total.energy.registers_pj / 1e6, 4)),
    ("  vector unit uJ", lambda r: round(r.total.energy.vector_pj / 1e6, 4)),
    ("  SRAM uJ", lambda r: round(r.total.energy.sram_pj / 1e6, 4)),
    ("  DRAM uJ", lambda r: round(r.total.energy.dram_pj / 1e6, 4)),
    ("  leakage uJ", lambda r: round(r.total.energy.leakage_pj / 1e6, 4)),
    ("area mm^2", lambda r: round(r.area["total_um2"] / 1e6, 4)),
    ("clock MHz", lambda r: r.config["clock_mhz"]),
)


def comparison(reports: dict) -> list[tuple[str, list]]:
    """The network totals of ``reports`` (name -> Report) side by side: (row label, one value per report)."""
    return [(label, [get(r) for r in reports.values()]) for label, get in COMPARED]
