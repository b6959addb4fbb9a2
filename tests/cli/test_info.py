"""``ristretto-sim info``."""

import json
from pathlib import Path

import pytest

from ristretto_sim.cli import main
from tests.graph.tiny_models import tiny_classifier


def test_table_and_json(tmp_path, capsys):
    path = tiny_classifier(tmp_path / "tiny.onnx")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "conv  " in out and "Dense" in out and "preprocessing: x = (pixel - 0) * 0.00392157" in out
    assert "total: 7,524 MACs per image" in out  # conv 4*13*13*9 = 6084, fc 144*10 = 1440
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    macs = {row["name"]: row["macs"] for row in info["layers"]}
    assert macs["conv"] == 4 * 13 * 13 * 9 and macs["fc"] == 144 * 10
    assert info["total_macs"] == sum(macs.values()) and info["inputs"][0]["shape"] == [1, 28, 28]


def test_missing_model_is_one_line(tmp_path, capsys):
    assert main(["info", str(tmp_path / "nope.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "nope.onnx" in err


SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.mark.skipif(not (SHARED / "ristretto").exists(), reason="shared Ristretto SqueezeNet prototxt not present")
def test_prototxt_without_weights_shows_the_structure(capsys):
    path = SHARED / "ristretto" / "squeezenet_v1.0_dfp8_quantized.prototxt"
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert not info["weights_loaded"] and info["inputs"][0]["shape"] == [3, 227, 227]
    assert any(row["name"] == "conv10" and row["type"] == "Conv" for row in info["layers"])


def test_plan_columns(tmp_path, capsys):
    from tests.graph.tiny_models import PLAN_8BIT

    path = tiny_classifier(tmp_path / "tiny.onnx")
    plan = tmp_path / "p.yaml"
    plan.write_text(PLAN_8BIT)
    assert main(["info", str(path), "--plan", str(plan)]) == 0
    out = capsys.readouterr().out
    assert "fixed8.7  fixed8.6  fixed8.4  fixed32.13" in out and "plan: " in out
    assert main(["info", str(path), "--plan", str(plan), "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["layers"]}
    assert rows["fc"]["formats"]["weights"] == "fixed8.7" and rows["relu"]["formats"] == {}
