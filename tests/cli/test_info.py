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


def test_long_layer_names_print_as_short_labels_and_json_keeps_them(capsys):
    from tests.io.tflite.litert import SHARED_TFLITE

    path = SHARED_TFLITE / "kws_ref_model.tflite"
    if not path.exists():
        pytest.skip("../shared/data/tflite (MLPerf Tiny models) is not present")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    rows = [line.split()[0] for line in out.splitlines()[2:24]]
    assert rows[:3] == ["0:conv:activation_conv2d", "1:activation:activation_conv2d", "2:conv:activation_1"]
    assert len(set(rows)) == len(rows) and max(map(len, rows)) <= 32
    assert "--json gives the full names" in out
    assert main(["info", str(path), "--json"]) == 0
    assert all(len(r["name"]) > 32 for r in json.loads(capsys.readouterr().out)["layers"][:18])


def test_a_reader_that_closes_the_pipe_early_gets_no_traceback(tmp_path):
    """``ristretto-sim ... | head -1``: the command stops quietly (status 141) when its reader goes away."""
    import subprocess
    import sys

    topo = tmp_path / "t.csv"
    rows = "".join(f"conv{i}, 12, 12, 3, 3, 8, 8, 1,\n" for i in range(300))
    topo.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
                    "Strides,\n" + rows)
    repo = Path(__file__).resolve().parents[2]
    p = subprocess.Popen([sys.executable, "-m", "ristretto_sim.cli", "simulate", "-t", str(topo), "--arch",
                          "edge-32x32-int8", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=repo)
    p.stdout.readline()
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait() == 141 and "Traceback" not in err and err == ""


def test_a_per_channel_affine_format_prints_summarised_and_json_keeps_every_scale(tmp_path, capsys):
    import numpy as np

    from tests.io.tflite import builder as tb

    path = tmp_path / "conv.tflite"
    path.write_bytes(tb.conv_model(np.random.default_rng(3), c=3, o=8, k=3, per_channel=True))
    assert main(["info", str(path), "--plan", "embedded"]) == 0
    assert "affine8[8 scales on axis 0]" in capsys.readouterr().out
    assert main(["info", str(path), "--plan", "embedded", "--json"]) == 0
    weights = json.loads(capsys.readouterr().out)["layers"][0]["formats"]["weights"]
    assert weights.startswith("affine8[s=(") and weights.count(",") >= 8
