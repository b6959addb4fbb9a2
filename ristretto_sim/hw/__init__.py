"""The accelerator model: ``AcceleratorConfig``, layer mapping, SimPy cycle model, energy and area.

``simulate(layers, plan_or_formats, config)`` runs layer shapes (``ConvShape``, ``GemmShape``,
``ConvTransposeShape`` on the PE array, ``VectorShape`` on the vector unit; ``network.layers_from_network``
makes them from a model, ``read_topology`` from a SCALE-Sim topology) on an accelerator
(``AcceleratorConfig``, a ``preset`` or a SCALE-Sim ``.cfg`` via ``read_scalesim_cfg``) and returns a
``Report``. pandas and matplotlib are imported only by the functions that need them.
"""

from ristretto_sim.emulator import LayerFormats
from ristretto_sim.hw.config import (
    AcceleratorConfig,
    BufferConfig,
    DRAMConfig,
    PEConfig,
    VectorConfig,
    check_fits,
    datapath_for,
)
from ristretto_sim.hw.energy import TechnologyTable, area, default_table
from ristretto_sim.hw.enums import Dataflow, PEKind, Precision, SerialOperand, VectorOp, WritePolicy, ZeroPoint
from ristretto_sim.hw.layers import ConvShape, ConvTransposeShape, GemmProblem, GemmShape
from ristretto_sim.hw.mapping import folding, scalesim_compute_cycles, schedule
from ristretto_sim.hw.plan import PlanView
from ristretto_sim.hw.presets import PRESETS, preset
from ristretto_sim.hw.report import EnergyBreakdown, LayerReport, Report
from ristretto_sim.hw.scalesim_cfg import read_scalesim_cfg, write_scalesim_cfg
from ristretto_sim.hw.simulate import pe_for, simulate
from ristretto_sim.hw.sweep import SweepAxis, comparison, sweep
from ristretto_sim.hw.topology import read_topology, write_topology
from ristretto_sim.hw.vector import VectorShape


def load_accelerator(spec: str) -> AcceleratorConfig:
    """An ``AcceleratorConfig`` from a preset name, a YAML file or a SCALE-Sim ``.cfg``."""
    from pathlib import Path

    if spec.lower() in PRESETS:
        return preset(spec)
    path = Path(spec)
    if path.suffix.lower() == ".cfg":
        return read_scalesim_cfg(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        return AcceleratorConfig.from_yaml(path)
    raise ValueError(
        f"--arch {spec!r} is neither a preset ({', '.join(sorted(PRESETS))}) nor a .yaml/.yml/.cfg file"
    )


__all__ = [
    "PRESETS",
    "AcceleratorConfig",
    "BufferConfig",
    "ConvShape",
    "ConvTransposeShape",
    "DRAMConfig",
    "Dataflow",
    "EnergyBreakdown",
    "PlanView",
    "GemmProblem",
    "GemmShape",
    "LayerFormats",
    "LayerReport",
    "PEConfig",
    "PEKind",
    "Precision",
    "Report",
    "SerialOperand",
    "ZeroPoint",
    "SweepAxis",
    "TechnologyTable",
    "VectorConfig",
    "VectorOp",
    "VectorShape",
    "WritePolicy",
    "area",
    "check_fits",
    "comparison",
    "datapath_for",
    "default_table",
    "folding",
    "load_accelerator",
    "preset",
    "read_scalesim_cfg",
    "read_topology",
    "scalesim_compute_cycles",
    "schedule",
    "pe_for",
    "simulate",
    "sweep",
    "write_scalesim_cfg",
    "write_topology",
]
