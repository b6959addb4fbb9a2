"""``ristretto-sim search``: the default space, one-line errors, a small run's outputs, and resume after kill -9."""

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from ristretto_sim.cli import main
from ristretto_sim.search.joint import SearchSpace

SMALL = ["--validation-images", "100", "--test-images", "100", "--no-progress", "--population", "4"]
ROOT = Path(__file__).resolve().parents[2]


def test_show_space_prints_the_default(capsys):
    assert main(["search", "--show-space"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# ristretto-sim search space")
    assert SearchSpace.from_dict(yaml.safe_load(out)) == SearchSpace()


def test_show_space_with_a_space_file_merges_it(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text("array: {rows: [16, 32], dataflow: [os, ws]}\n")
    assert main(["search", "--space", str(path), "--show-space"]) == 0
    data = yaml.safe_load(capsys.readouterr().out)
    assert data["array"] == {"rows": [16, 32], "cols": [32], "dataflow": ["os", "ws"]}


@pytest.mark.parametrize("text, message", [("colour: red\n", "unknown key space.colour"),
                                           ("accumulator: {bits: []}\n", "accumulator.bits is an empty list")])
def test_bad_space_is_one_line(tmp_path, capsys, text, message):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    assert main(["search", "--space", str(path), "--show-space"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err and "s.yaml" in err


def test_bad_objective_and_sampler_are_one_line(tmp_path, capsys):
    assert main(["search", "--objectives", "accuracy,beauty", "--out", str(tmp_path)]) == 2
    assert "unknown objective 'beauty'" in capsys.readouterr().err
    assert main(["search", "--sampler", "annealing", "--out", str(tmp_path)]) == 2
    assert "known samplers are nsga2, tpe, random, grid" in capsys.readouterr().err
    for flag in ("--trials", "--workers", "--population", "--validation-images", "--test-images"):
        assert main(["search", flag, "0", "--out", str(tmp_path)]) == 2
        assert capsys.readouterr().err.strip() == f"error: {flag} 0: must be a positive integer"
    assert not list(tmp_path.iterdir())  # refused before any work


def test_small_search_writes_every_output_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["search", "lenet", "--trials", "4", "--out", str(out), *SMALL]) == 0
    text = capsys.readouterr().out
    assert "uniform int8" in text and "Pareto front:" in text
    with open(out / "pareto.csv") as fh:
        front = list(csv.DictReader(fh))
    assert front
    for row in front:
        assert (out / row["plan"]).is_file() and (out / row["accelerator"]).is_file()
        assert 0 <= float(row["test_accuracy"]) <= 1
    with open(out / "trials.csv") as fh:
        assert sum(r["state"] == "COMPLETE" for r in csv.DictReader(fh)) == 4
    for name in ("energy", "latency", "area"):
        assert (out / f"pareto_accuracy_vs_{name}.png").read_bytes()[:4] == b"\x89PNG"
    before = (out / "study.db").read_bytes()
    assert main(["search", "lenet", "--trials", "4", "--out", str(out), *SMALL]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "study.db").read_bytes() == before


def _complete(db: Path) -> set[int]:
    if not db.exists():
        return set()
    try:
        with sqlite3.connect(db) as c:
            return {r[0] for r in c.execute("select number from trials where state = 'COMPLETE'")}
    except sqlite3.OperationalError:  # the tables are still being made
        return set()


@pytest.mark.slow
def test_kill_9_then_resume_loses_no_finished_trial(tmp_path):
    out = tmp_path / "s"
    cmd = [sys.executable, "-m", "ristretto_sim.cli", "search", "lenet", "--out", str(out), *SMALL]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([*cmd, "--trials", "40"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 900
    while len(_complete(out / "study.db")) < 4 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = _complete(out / "study.db")
    assert len(done) >= 4
    target = len(done) + 2
    subprocess.run([*cmd, "--trials", str(target), "--resume"], env=env, check=True, capture_output=True,
                   timeout=900)
    after = _complete(out / "study.db")
    assert done <= after and len(after) == target


def test_the_progress_bar_of_a_resumed_study_starts_at_its_complete_trials(capsys):
    from ristretto_sim.cli.commands.search import _progress
    from ristretto_sim.search.joint.study import SearchProgress

    update, close = _progress(True, initial=20)
    update(SearchProgress(complete=21, target=25, front_size=3, hypervolume=1.5))
    close()
    err = capsys.readouterr().err
    assert "| 20/25" in err and "| 21/25" in err and "| 0/25" not in err and "front=3" in err


def test_the_energy_ratio_never_calls_more_energy_lower():
    from ristretto_sim.cli.commands.search import _energy_ratio

    assert _energy_ratio(2.3257) == "2.33x lower energy"
    assert _energy_ratio(86.588 / 86.971) == "1.004x more energy"  # a grid point on a smaller array than int8's
    assert _energy_ratio(1.0) == "the same energy"
