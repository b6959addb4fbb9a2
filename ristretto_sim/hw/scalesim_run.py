"""Run the real SCALE-Sim (``scalesim`` 3.0 from PyPI) in its own virtual environment, side by side.

SCALE-Sim needs ``numpy<2.4``, so it lives in a separate environment (``make scalesim-venv`` creates
``.venv-scalesim``); it is run as a subprocess with that environment's Python. ``find_scalesim_python``
locates it (``$RISTRETTO_SCALESIM_PYTHON`` wins) and returns ``None`` when it is absent, so callers can skip
with a reason.
"""

from __future__ import annotations

import csv
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ristretto_sim.hw.config import AcceleratorConfig
from ristretto_sim.hw.scalesim_cfg import write_scalesim_cfg
from ristretto_sim.hw.topology import write_topology

_SCRIPT = """
import sys
from scalesim.scale_sim import scalesim
s = scalesim(save_disk_space=True, verbose=False, config=sys.argv[1], topology=sys.argv[2],
             layout=sys.argv[3], input_type_gemm=sys.argv[5] == "gemm")
s.run_scale(top_path=sys.argv[4])
"""


def find_scalesim_python() -> Path | None:
    """The Python of an environment where ``import scalesim`` works, or ``None``."""
    candidates = []
    if os.environ.get("RISTRETTO_SCALESIM_PYTHON"):
        candidates.append(Path(os.environ["RISTRETTO_SCALESIM_PYTHON"]))
    repo = Path(__file__).resolve().parents[2]
    candidates.append(repo / ".venv-scalesim" / "bin" / "python")
    for py in candidates:
        if py.is_file():
            ok = subprocess.run([str(py), "-c", "import scalesim"], capture_output=True).returncode == 0
            if ok:
                return py
    return None


@dataclass(frozen=True)
class ScaleSimLayer:
    """One row of SCALE-Sim's reports (cycles; SRAM and DRAM counts in words)."""

    total_cycles: int
    stall_cycles: int
    sram_ifmap_reads: int
    sram_filter_reads: int
    sram_ofmap_writes: int
    dram_ifmap_reads: int
    dram_filter_reads: int
    dram_ofmap_writes: int
    mapping_efficiency_pct: float
    compute_util_pct: float

    @property
    def compute_cycles(self) -> int:
        return self.total_cycles - self.stall_cycles


def run_scalesim(
    layers, config: AcceleratorConfig, *, python: Path | None = None, timeout_s: float = 3600
) -> tuple[list[ScaleSimLayer], float]:
    """Run SCALE-Sim (CALC mode) on ``layers`` and ``config``; return its rows and the wall time in seconds.

    Raises
    ------
    FileNotFoundError
        If no environment with ``scalesim`` is found.
    RuntimeError
        If SCALE-Sim fails (its stderr is included).
    """
    python = python or find_scalesim_python()
    if python is None:
        raise FileNotFoundError(
            "no SCALE-Sim environment: run `make scalesim-venv` or set RISTRETTO_SCALESIM_PYTHON"
        )
    layers = list(layers)
    gemm = all(type(x).__name__ == "GemmShape" for x in layers)
    with tempfile.TemporaryDirectory(prefix="scalesim-") as tmp:
        tmp = Path(tmp)
        write_scalesim_cfg(config, tmp / "arch.cfg", run_name="run")
        write_topology(layers, tmp / "topo.csv")
        (tmp / "layout.csv").write_text("Layer name,\n")
        (tmp / "out").mkdir()
        start = time.perf_counter()
        proc = subprocess.run(
            [
                str(python),
                "-c",
                _SCRIPT,
                str(tmp / "arch.cfg"),
                str(tmp / "topo.csv"),
                str(tmp / "layout.csv"),
                str(tmp / "out"),
                "gemm" if gemm else "conv",
            ],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            cwd=tmp,
        )
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"SCALE-Sim failed: {proc.stderr.strip()[-2000:]}")
        compute = _rows(tmp / "out" / "run" / "COMPUTE_REPORT.csv")
        access = _rows(tmp / "out" / "run" / "DETAILED_ACCESS_REPORT.csv")
    out = []
    for c, a in zip(compute, access, strict=True):
        out.append(
            ScaleSimLayer(
                total_cycles=int(float(c[2])),
                stall_cycles=int(float(c[3])),
                sram_ifmap_reads=int(float(a[3])),
                sram_filter_reads=int(float(a[6])),
                sram_ofmap_writes=int(float(a[9])),
                dram_ifmap_reads=int(float(a[12])),
                dram_filter_reads=int(float(a[15])),
                dram_ofmap_writes=int(float(a[18])),
                mapping_efficiency_pct=float(c[5]),
                compute_util_pct=float(c[6]),
            )
        )
    return out, wall


def _rows(path: Path) -> list[list[str]]:
    with open(path) as fh:
        rows = [[v.strip() for v in r if v.strip() != ""] for r in csv.reader(fh)]
    return [r for r in rows[1:] if r]
