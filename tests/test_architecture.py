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
