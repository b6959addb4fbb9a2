"""``ristretto-sim export``."""

import json

import numpy as np
import pytest

from ristretto_sim import load_model, load_plan
from ristretto_sim.cli import main
from ristretto_sim.io.weights.packed import load_packed, pack_network
from tests.graph.tiny_models import PLAN_8BIT, tiny_classifier


@pytest.fixture
def model_and_plan(tmp_path):
    plan = tmp_path / "p.yaml"
    plan.write_text(PLAN_8BIT)
    return tiny_classifier(tmp_path / "tiny.onnx"), plan


def test_writes_all_three_and_prints_sizes(model_and_plan, tmp_path, capsys):
    model, plan = model_and_plan
    out = tmp_path / "out"
    out.mkdir()
    args = ["export", str(model), "--plan", str(plan), "--packed", str(out / "w.rsw"),
            "--c-header", str(out / "w.h"), "--qonnx", str(out / "w.onnx")]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "packed weights:" in text and "smaller than float32" in text and "QONNX model:" in text
    net = load_model(model)
    packed = load_packed(out / "w.rsw")
    ref = pack_network(net, load_plan(plan, net))
    for a, b in zip(packed.tensors, ref.tensors, strict=True):
        assert a.name == b.name and np.array_equal(a.codes, b.codes)
    assert "#define TINY_CONV_WEIGHT_BITS 8" in (out / "w.h").read_text()
    assert (out / "w.onnx").stat().st_size > 0
    assert main(args[:6] + ["--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["packed"]["bytes"] == (out / "w.rsw").stat().st_size
    assert report["ratio_vs_float32"] == pytest.approx(report["float32_bytes"] / report["packed"]["bytes"])


def test_user_errors_are_one_line(model_and_plan, tmp_path, capsys):
    model, plan = model_and_plan
    assert main(["export", str(model), "--plan", str(plan)]) == 2
    assert "nothing to export" in capsys.readouterr().err
    stochastic = tmp_path / "s.yaml"
    stochastic.write_text(PLAN_8BIT.replace("nearest_even", "stochastic"))
    assert main(["export", str(model), "--plan", str(stochastic), "--qonnx", str(tmp_path / "q.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "layer 'conv'" in err and "stochastic" in err


def test_lenet_8bit_ratio(tmp_path, capsys):
    plan = tmp_path / "p8.yaml"
    assert main(["score", "lenet", "--dfp", "8", "--write-plan", str(plan), "--limit", "50"]) == 0
    capsys.readouterr()
    assert main(["export", "lenet", "--plan", str(plan), "--packed", str(tmp_path / "l.rsw"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ratio_vs_float32"] >= 3.9
