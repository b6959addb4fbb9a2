"""A regular (non-editable) install carries the bundled models and data files, and finds them."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(ROOT), "-w", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    if proc.returncode != 0 and "No module named" in proc.stderr and "setuptools" in proc.stderr:
        pytest.skip("setuptools is not installed in this environment, so no wheel can be built without network")
    assert proc.returncode == 0, proc.stderr
    (whl,) = out.glob("*.whl")
    return whl


def test_wheel_contains_models_and_data_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for model in ("lenet", "cifar10_full_lrn", "ae_deconv"):
        assert f"ristretto_sim/_assets/models/{model}/{model}.onnx" in names
        assert f"ristretto_sim/_assets/models/{model}/README.md" in names
    assert "ristretto_sim/hw/data/energy_45nm.yaml" in names
    assert "ristretto_sim/_assets/hdl/synth_results.json" in names  # the cost model's synthesis table
    assert not any("__pycache__" in n for n in names)


def test_installed_package_finds_its_assets(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    code = ("import ristretto_sim.assets as a; p = a.asset_path('models', 'lenet', 'lenet.onnx'); "
            "print(p); assert '_assets' in str(p) and p.is_file()")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(target)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert str(target) in proc.stdout
