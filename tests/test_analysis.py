"""analysis/: every script's figure and CSV are checked in beside each other and embedded by the README, and one
script (the quickest, deterministic one) regenerates its CSV exactly from the public API."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "analysis" / "figures"


def test_every_analysis_figure_has_its_csv_and_is_embedded_by_the_readme():
    readme = (ROOT / "README.md").read_text()
    embedded = set(re.findall(r"!\[[^\]]*\]\((analysis/figures/[^)]+\.png)\)", readme))
    assert all((ROOT / p).is_file() for p in embedded), embedded
    for script in sorted((ROOT / "analysis").glob("*.py")):
        assert script.name in (ROOT / "analysis" / "README.md").read_text(), script.name
        assert script.name in (ROOT / "Makefile").read_text(), f"make analysis does not run {script.name}"
    for png in sorted(FIGURES.glob("*.png")):
        assert png.with_suffix(".csv").is_file(), png.name
        assert f"analysis/figures/{png.name}" in embedded, f"the README does not show {png.name}"
    assert "analysis/figures/pareto_lenet/pareto_accuracy_vs_energy.png" in embedded


def test_energy_breakdown_regenerates_its_checked_in_csv(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1"}
    subprocess.run([sys.executable, str(ROOT / "analysis" / "energy_breakdown.py"), "--out", str(tmp_path)],
                   check=True, cwd=ROOT, capture_output=True, env=env)
    assert (tmp_path / "energy_breakdown.csv").read_text() == (FIGURES / "energy_breakdown.csv").read_text()
    assert (tmp_path / "energy_breakdown.png").stat().st_size > 10_000
