"""The CLI on int8 TFLite files (generated ones, so the default suite needs no shared data): ``info``,
``simulate``, ``compare --against``, and the plan they embed."""

import json

import numpy as np
import pytest

from ristretto_sim.cli import main
from tests.io.tflite import builder as tb


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "conv.tflite"
    path.write_bytes(tb.conv_model(np.random.default_rng(3), c=3, o=8, k=3, stride=(2, 2), fused=3, hw=(9, 8)))
    return path


def test_info_counts_the_macs(model, capsys):
    assert main(["info", str(model), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    conv = info["layers"][0]
    assert conv["type"] == "Conv" and conv["macs"] == 8 * 5 * 4 * 27  # SAME, stride 2: 9x8 -> 5x4
    assert info["total_macs"] == conv["macs"]


def test_simulate_runs_the_int8_model_on_an_int8_array(model, capsys):
    assert main(["simulate", str(model), "--arch", "edge-32x32-int8", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total"]["macs"] == 8 * 5 * 4 * 27


def test_simulate_compares_and_sweeps_the_int8_model(model, tmp_path, capsys):
    """Several --arch and --sweep take each accelerator's array with the affine PE the plan needs, as one --arch
    does."""
    assert main(["simulate", str(model), "--arch", "edge-32x32-int8", "--arch", "eyeriss-12x14-ws"]) == 0
    out = capsys.readouterr().out
    assert "edge-32x32-int8" in out and "eyeriss-12x14-ws" in out and out.count("PE: the plan's affine") == 2
    files = ["--csv", str(tmp_path / "s.csv"), "--plot", str(tmp_path / "s.png")]
    assert main(["simulate", str(model), "--arch", "edge-32x32-int8", "--sweep", "rows=8,16", *files]) == 0
    out = capsys.readouterr().out
    assert "PE: the plan's affine" in out and (tmp_path / "s.png").exists()


@pytest.mark.parametrize("against", ["tflite-ref", "tflite"])
def test_compare_against_the_interpreter(model, capsys, against):
    pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert (test extra) is not installed")
    assert main(["compare", str(model), "--against", against, "--inputs", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["inputs"] == 5 and {t["tensor"] for t in out["tensors"]} == {"x", "y"}
    if against == "tflite-ref":
        assert out["tensors_differing"] == 0


def test_compare_needs_a_plan_or_against(model, capsys):
    assert main(["compare", str(model)]) == 2
    assert "--against tflite-ref|tflite" in capsys.readouterr().err
    assert main(["compare", str(model), "--against", "onnxruntime"]) == 2
    assert "--against onnxruntime compares an ONNX integer model (.onnx)" in capsys.readouterr().err


def test_score_takes_input_codes_from_an_npz(model, tmp_path, capsys):
    import ristretto_sim as rs
    from ristretto_sim.runtime.int8 import run_int8

    net = rs.load_model(model)
    x = np.random.default_rng(1).integers(-128, 128, (10, 9, 8, 3)).astype(np.int8)  # NHWC, as the file takes it
    y = run_int8(net, x).output.reshape(10, -1).argmax(axis=1)
    np.savez(tmp_path / "in.npz", x=x, y=y)
    if net.task == "classification":
        assert main(["score", str(model), "--data", str(tmp_path / "in.npz"), "--json"]) == 0
        res = json.loads(capsys.readouterr().out)
        assert res["top1"] == 1.0 and res["images"] == 10 and res["mode"] == "exact"
    assert main(["score", str(model)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "int8 input codes: give an .npz file" in err
    assert main(["info", str(model)]) == 0
    assert "an int8 model takes its input codes (score: --data FILE.npz" in capsys.readouterr().out


def test_export_writes_the_int8_weights_with_the_embedded_plan_by_default(model, tmp_path, capsys):
    import ristretto_sim as rs
    from ristretto_sim.cli.commands.export import _versus
    from ristretto_sim.graph.plan import embedded_plan
    from ristretto_sim.io.weights.packed import load_packed, pack_network

    out = tmp_path / "w.rsw"
    assert main(["export", str(model), "--packed", str(out), "--c-header", str(tmp_path / "w.h")]) == 0
    text = capsys.readouterr().out
    assert "exact-mode quantized weights" in text and "than the model file" in text
    net = rs.load_model(model)
    ref = pack_network(net, embedded_plan(net))
    got = load_packed(out)
    assert [t.name for t in got.tensors] == [t.name for t in ref.tensors]
    for a, b in zip(got.tensors, ref.tensors, strict=True):
        assert np.array_equal(a.codes, b.codes) and str(a.fmt) == str(b.fmt)
    assert _versus(4.0, "float32") == "4.00x smaller than float32"
    assert _versus(0.95, "the model file") == "1.05x larger than the model file"


def test_export_of_a_float_model_without_a_plan_says_what_to_give(capsys):
    assert main(["export", "lenet", "--packed", "w.rsw"]) == 2
    assert "export needs --plan PLAN.yaml" in capsys.readouterr().err


def test_compare_prints_long_tensor_names_as_short_labels(capsys):
    pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert (test extra) is not installed")
    from tests.io.tflite.litert import SHARED_TFLITE

    path = SHARED_TFLITE / "kws_ref_model.tflite"
    if not path.exists():
        pytest.skip("../shared/data/tflite (MLPerf Tiny models) is not present")
    assert main(["compare", str(path), "--against", "tflite-ref", "--inputs", "1"]) == 0
    rows = [line.split()[0] for line in capsys.readouterr().out.splitlines()[2:16]]
    assert rows[:3] == ["input_1", "1:tensor:activation_conv2d", "2:tensor:activation_1"]
    assert len(set(rows)) == 14 and max(map(len, rows)) <= 32
