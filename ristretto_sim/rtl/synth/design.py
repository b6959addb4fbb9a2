"""``Design``: the Verilog a synthesis run reads (sources and top module) and what it implements.

The driver takes Verilog, not generator objects: the ``rtl`` generators' export, the ``hdl/`` catalogue and a
user's own files all enter the same way. ``kind`` and ``formats`` label the result row (the emulator datapath's
name and its formats as text), ``operand_bits`` is the abscissa of the table's fitted scaling coefficients.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# a module with a port list: testbenches (``module tb;``) have none and are never a synthesis top
_MODULE = re.compile(r"^\s*module\s+(\\?[A-Za-z_][\w$]*)\s*(?:#\s*\((?:[^()]|\([^()]*\))*\)\s*)?\(\s*[^)\s]", re.M)


def modules_with_ports(text: str) -> list[str]:
    """Names of the modules in Verilog ``text`` that have ports, in order."""
    return [m.group(1).lstrip("\\") for m in _MODULE.finditer(text)]


@dataclass(frozen=True)
class Design:
    """Verilog sources and a top module to synthesize.

    Parameters
    ----------
    top : str
        The top module's name.
    sources : tuple of (name, text)
        Verilog files (name for messages and Yosys' logs, text the contents).
    kind : str
        What the design is, e.g. the emulator datapath's name (``fixed``, ``shift``, ``minifloat-kulisch``).
    formats : str
        Its formats as text, e.g. ``fixed8.0 x fixed8.0 -> fixed24.0``.
    operand_bits : int, optional
        The operand width the table's scaling fits use.
    """

    top: str
    sources: tuple[tuple[str, str], ...]
    kind: str = "verilog"
    formats: str = ""
    operand_bits: int | None = None

    def __post_init__(self):
        if not isinstance(self.top, str) or not re.fullmatch(r"[A-Za-z_][\w$]*", self.top):
            raise ValueError(f"top={self.top!r} must be a Verilog module name")
        sources = tuple((str(n), str(t)) for n, t in self.sources)
        if not sources:
            raise ValueError("sources=() must hold at least one Verilog file")
        object.__setattr__(self, "sources", sources)
        defined = {m for _, t in sources for m in modules_with_ports(t)}
        if self.top not in defined:
            raise ValueError(
                f"top={self.top!r} is not a module with ports in {', '.join(n for n, _ in sources)}; "
                f"found: {', '.join(sorted(defined)) or 'none'}"
            )
        if self.operand_bits is not None and (isinstance(self.operand_bits, bool) or self.operand_bits < 1):
            raise ValueError(f"operand_bits={self.operand_bits!r} must be a positive integer")

    @classmethod
    def from_verilog(cls, text: str, top: str | None = None, **labels) -> Design:
        """A design from one Verilog text; ``top`` defaults to its only module with ports."""
        if top is None:
            tops = modules_with_ports(text)
            if len(tops) != 1:
                raise ValueError(f"give top=: the Verilog defines {len(tops)} modules with ports ({', '.join(tops)})")
            top = tops[0]
        return cls(top, ((f"{top}.v", text),), **labels)

    @classmethod
    def from_path(cls, path: str | Path, top: str | None = None, **labels) -> Design:
        """A design from a Verilog file, or a folder of them (the ``rtl`` command writes ``DIR/<top>.v``).

        Without ``top``, a folder's top is the module named like its file (``<top>.v`` defining ``module
        <top>``) when exactly one file is so named; a file's top is its only module with ports.
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path} not found: give a Verilog file, a folder of them or a PE spec")
        files = sorted(path.glob("*.v")) + sorted(path.glob("*.sv")) if path.is_dir() else [path]
        if not files:
            raise FileNotFoundError(f"{path} holds no Verilog (.v or .sv) files")
        texts = {f: f.read_text() for f in files}
        if top is None:
            named = [f.stem for f, t in texts.items() if f.stem in modules_with_ports(t)]
            if len(named) == 1:
                top = named[0]
            else:
                tops = [m for t in texts.values() for m in modules_with_ports(t)]
                if len(tops) != 1:
                    raise ValueError(
                        f"{path}: cannot tell the top module (modules with ports: {', '.join(tops) or 'none'}); "
                        "give --top NAME"
                    )
                top = tops[0]
        # only the files that define modules with ports: a testbench beside the design is not synthesized
        sources = tuple((f.name, t) for f, t in texts.items() if modules_with_ports(t))
        return cls(top, sources, **labels)
