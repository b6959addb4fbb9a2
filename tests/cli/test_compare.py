"""``ristretto-sim compare``."""

import json

from ristretto_sim.cli import main
from tests.graph.tiny_models import PLAN_8BIT, tiny_classifier


def test_compare_json_table_csv_plot(tmp_path, capsys):
    model = tiny_classifier(tmp_path / "tiny.onnx")
    plan = tmp_path / "p.yaml"
    plan.write_text(PLAN_8BIT)
    assert main(["compare", str(model), "--plan", str(plan), "--limit", "64", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["images"] == 64 and set(res["agreement"]) == {
        "float_vs_ristretto",
        "float_vs_exact",
        "exact_vs_ristretto",
    }
    rows = {r["name"]: r for r in res["layers"]}
    assert rows["conv"]["quantized"] and not rows["relu"]["quantized"]
    assert rows["conv"]["sqnr_exact_db"] > 10 and rows["fc"]["max_err_exact"] > 0
    assert 0.5 <= res["agreement"]["exact_vs_ristretto"] <= 1.0 and set(res["accuracy"]) == {
        "float",
        "ristretto",
        "exact",
    }
    csv, png = tmp_path / "c.csv", tmp_path / "c.png"
    assert (
        main(
            [
                "compare",
                str(model),
                "--plan",
                str(plan),
                "--limit",
                "32",
                "--csv",
                str(csv),
                "--plot",
                str(png),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "top-1 agreement" in out and "SQNR" in out
    assert csv.read_text().startswith("name,") and png.stat().st_size > 1000


def test_compare_needs_a_plan_that_fits(tmp_path, capsys):
    model = tiny_classifier(tmp_path / "tiny.onnx")
    plan = tmp_path / "p.yaml"
    plan.write_text("version: 1\nlayers:\n  conv9: {inputs: fixed8.0, weights: fixed8.7}\n")
    assert main(["compare", str(model), "--plan", str(plan)]) == 2
    err = capsys.readouterr().err
    assert "p.yaml:3" in err and "conv9" in err


def test_compare_an_onnx_integer_model_against_onnxruntime(tmp_path, capsys):
    """LeNet in onnxruntime's operator form (uint8, per-tensor: bit-exact here) against onnxruntime's CPU kernels,
    every integer tensor including the QGemm outputs; the wrong oracle for the file is one line."""
    from tests.io.onnx.test_qlinear import ort_quantized_lenet

    path = ort_quantized_lenet(tmp_path / "lenet_u8.onnx", qdq=False, signed=False, per_channel=False)
    assert main(["compare", str(path), "--against", "onnxruntime", "--inputs", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    names = {t["tensor"] for t in out["tensors"]}
    assert out["inputs"] == 6 and {"conv1_quantized", "ip1_quantized", "ip2_quantized"} <= names
    assert out["tensors_differing"] == 0 and all(t["codes"] > 0 for t in out["tensors"])
    assert main(["compare", str(path), "--against", "onnxruntime", "--inputs", "1"]) == 0
    text = capsys.readouterr().out
    assert "onnxruntime's CPU kernels on 3 inputs (all 0, all 255" in text and "0 of 8 integer tensors differ" in text
    assert main(["compare", str(path), "--against", "tflite-ref"]) == 2
    assert "for " + str(path) + " use --against onnxruntime" in capsys.readouterr().err
