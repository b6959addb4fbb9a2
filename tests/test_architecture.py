"""The import layers of ARCHITECTURE.md (cli -> bench -> ... -> formats), checked by import-linter."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_layers_contract_is_kept():
    exe = Path(sys.executable).with_name("lint-imports")
    if not exe.exists():
        found = shutil.which("lint-imports")
        if found is None:
            pytest.skip("import-linter is not installed "
                              "(it is in the test extra: pip install -e '.[test]')")
        exe = Path(found)
    proc = subprocess.run([str(exe), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 kept, 0 broken" in proc.stdout


def test_library_modules_never_print():
    """Only the cli package prints; the rest of the library returns values (checked on the source text)."""
    offenders = []
    for path in (ROOT / "ristretto_sim").rglob("*.py"):
        rel = path.relative_to(ROOT / "ristretto_sim")
        if rel.parts[0] == "cli":
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith("print(") or " print(" in stripped.split("#")[0] and "def " not in stripped:
                offenders.append(f"{rel}:{i}: {stripped}")
    assert not offenders, "\n".join(offenders)


def _imports(path: Path):
    import ast

    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name, []


def test_cli_commands_do_not_import_each_other():
    """What two commands share lives in a module of its own under cli/, not in one of the commands."""
    offenders = []
    for path in sorted((ROOT / "ristretto_sim" / "cli" / "commands").glob("*.py")):
        for line, module, _ in _imports(path):
            if module.startswith("ristretto_sim.cli.commands"):
                offenders.append(f"{path.name}:{line}: imports {module}")
    assert not offenders, "\n".join(offenders)


# private names imported across modules (none left: keep it so)
KNOWN_PRIVATE_IMPORTS: set = set()


def test_no_module_imports_another_modules_private_names():
    found = set()
    for path in sorted((ROOT / "ristretto_sim").rglob("*.py")):
        rel = path.relative_to(ROOT / "ristretto_sim").as_posix()
        for _, module, names in _imports(path):
            if module.startswith("ristretto_sim"):
                found.update((rel, module, n) for n in names if n.startswith("_") and not n.startswith("__"))
    assert found - KNOWN_PRIVATE_IMPORTS == set(), "make these public or move them where they belong"
