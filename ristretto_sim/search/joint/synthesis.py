"""Synthesis-based area for the joint search: every candidate's PE synthesized on demand.

A candidate's PE is derived from its plan (the widest formats over its layers), so a search meets PEs the shipped
results table (``hdl/synth_results.json``) does not hold. When the accelerator asks for synthesis (``pe_area:
synthesis``, or an ``fpga`` target), ``PESynthesis`` keeps a results table of the search's own (``OUT/
synth_results.json``, started as a copy of the shipped one), and before a candidate is costed synthesizes its PE
with the ``rtl`` generators (``rtl.synth.sweep.run_sweep``: Yosys' generic CMOS count for the area; the FPGA target
for its LUTs, FFs, DSPs and Fmax) unless the table has it. The table is written after every result, so an
interrupted search keeps what it synthesized, and each PE is synthesized once per output folder: the workers of a
parallel search (``--workers``, or several machines on one folder) take an exclusive lock on ``OUT/
synth_results.json.lock`` while they check and extend the table, so one synthesizes a PE while the others wait for
its row instead of synthesizing it again (and no worker's table write drops another's row).
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

from ristretto_sim.emulator import LayerFormats
from ristretto_sim.hw import AcceleratorConfig
from ristretto_sim.hw.synth_area import FPGATarget, PEArea, pe_rows, results_path
from ristretto_sim.rtl.synth.sweep import GENERATORS, SweepEntry, run_sweep
from ristretto_sim.rtl.synth.targets import SynthOptions, Target

#: the ``hw`` datapath name of a PE -> the synthesis generator's kind
_GENERATOR_OF = {"fixed": "fixed", "shift": "shift", "minifloat-kulisch": "minifloat"}


def needs_synthesis(config: AcceleratorConfig) -> bool:
    """Whether costing ``config`` reads the synthesis table (PE area from synthesis, or an FPGA target)."""
    return config.pe_area is PEArea.SYNTHESIS or config.fpga is not None


def targets_of(config: AcceleratorConfig) -> tuple[SynthOptions, ...]:
    """The synthesis runs ``config``'s figures need: generic CMOS for the area, the FPGA part for ``fpga``."""
    out = []
    if config.pe_area is PEArea.SYNTHESIS:
        out.append(SynthOptions(Target.GENERIC))
    if config.fpga is not None:
        fpga = FPGATarget.parse(config.fpga)
        out.append(SynthOptions(Target(fpga.family), device=fpga.device, dsp=fpga.dsp))
    return tuple(out)


class PESynthesis:
    """The search's synthesis results table at ``path`` (module docstring)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.synthesized = 0  # results this process added

    def prepare(self) -> None:
        """Start the table as a copy of the shipped one, unless it exists (a resumed search keeps its own)."""
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(results_path(), self.path)

    def _has(self, config: AcceleratorConfig, options: SynthOptions) -> bool:
        found = pe_rows(config.pe, options.target.value, self.path)
        if options.target is Target.GENERIC:
            return any(r.get("transistors") is not None for r in found)
        return any(r["device"] == options.device and bool(r["dsp"]) == options.dsp for r in found)

    @contextmanager
    def _locked(self):
        """Hold the table's lock file exclusively (POSIX ``flock``; where it is missing, no lock)."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def ensure(self, config: AcceleratorConfig) -> int:
        """Synthesize ``config``'s PE on every target its figures need and the table lacks; the number run."""
        if all(self.path.exists() and self._has(config, o) for o in targets_of(config)):
            return 0  # the common case: no lock needed to read a table that is only ever extended
        with self._locked():
            self.prepare()
            missing = [o for o in targets_of(config) if not self._has(config, o)]
            if not missing:
                return 0
            return self._synthesize(config, missing)

    def _synthesize(self, config: AcceleratorConfig, missing: list) -> int:
        pe = config.pe
        kind = _GENERATOR_OF.get(pe.datapath.name)
        if kind is None:
            raise NotImplementedError(f"the {pe.datapath.name} PE has no RTL generator to synthesize")
        formats = LayerFormats(pe.inputs, pe.weights, accumulator=pe.accumulator, shifter_bits=pe.shifter_bits)
        entry = SweepEntry(kind, formats, GENERATORS[kind], series="joint search")
        run_sweep([entry], missing, self.path)
        self.synthesized += len(missing)
        return len(missing)
