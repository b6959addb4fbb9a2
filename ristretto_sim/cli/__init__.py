"""The ``ristretto-sim`` command: the only code that parses arguments, prints or exits.

Each subcommand is a module in ``ristretto_sim.cli.commands`` defining ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; they are discovered, so adding a command is adding a file.
User mistakes (domain errors, bad parameters, missing files) print one ``error:`` line and exit with status 2;
``--traceback`` shows the full traceback instead. Anything else (a ``TypeError`` included) is a bug inside the
library and shows its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from ristretto_sim import __version__
from ristretto_sim.errors import RistrettoSimError

# A TypeError is not among them: the CLI hands the library the types it documents, so one from inside the
# library is a bug and keeps its traceback.
USER_ERRORS = (RistrettoSimError, ValueError, FileNotFoundError, IsADirectoryError,
               PermissionError, NotADirectoryError, FileExistsError)


def _commands():
    from ristretto_sim.cli import commands

    found = []
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        found.append(importlib.import_module(f"{commands.__name__}.{info.name}"))
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ristretto-sim",
        description="Hardware/quantization co-design of CNN accelerators.",
    )
    parser.add_argument("--version", action="version", version=f"ristretto-sim {__version__}")
    parser.add_argument("--traceback", action="store_true", help="show full tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _commands():
        p = sub.add_parser(module.NAME, help=module.HELP, description=getattr(module, "DESCRIPTION", module.HELP))
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as exc:
        if args.traceback:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2


def entry() -> None:  # pragma: no cover - console-script wrapper
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader closed the pipe (``ristretto-sim info M | head``): stop quietly, as a Unix tool does;
        # stdout goes to devnull so the interpreter's final flush does not raise again
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 141  # 128 + SIGPIPE, the shell's status for a piped command cut short
    sys.exit(code)
