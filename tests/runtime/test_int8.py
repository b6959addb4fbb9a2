"""``runtime.int8``: an int8 model run on its codes (generated TFLite file), its errors, and the per-tensor
differences ``compare --against`` prints."""

import numpy as np
import pytest

import ristretto_sim as rs
from ristretto_sim.errors import PlanError
from ristretto_sim.runtime.int8 import is_int8, run_int8, tensor_differences
from tests.graph.tiny_models import tiny_classifier
from tests.io.tflite import builder as tb


@pytest.fixture
def net(tmp_path):
    path = tmp_path / "fc.tflite"
    path.write_bytes(tb.fc_model(np.random.default_rng(2), softmax=True))
    return rs.load_model(path)


def test_codes_in_codes_out_for_a_batch_and_a_single_sample(net):
    x = np.random.default_rng(0).integers(-128, 128, (4, 12)).astype(np.int8)
    batch = run_int8(net, x, keep="*")
    assert batch.output.dtype == np.int8 and batch.output.shape == (4, 5)
    assert set(batch.tensors) == {"x", "y"} and np.array_equal(batch.tensors["x"], x)
    one = run_int8(net, x[1])
    assert np.array_equal(one.output, batch.output[1:2])
    assert is_int8(net) and np.array_equal(rs.run(net, x), batch.output)


def test_float_input_and_networks_without_a_plan_are_refused(net, tmp_path):
    with pytest.raises(ValueError, match="input must be integer codes .int8."):
        run_int8(net, np.zeros((1, 12), np.float32))
    float_net = rs.load_model(tiny_classifier(tmp_path / "tiny.onnx"))
    assert not is_int8(float_net)
    with pytest.raises(PlanError, match="carries no int8 plan"):
        run_int8(float_net, np.zeros((1, 1, 28, 28), np.int8))
    with pytest.raises(PlanError, match="has no affine format"):
        run_int8(net, np.zeros((1, 12), np.int8), keep=("nope",))


def test_rs_run_refuses_a_mode_or_layout_an_int8_model_does_not_have(tmp_path):
    path = tmp_path / "conv.tflite"
    path.write_bytes(tb.conv_model(np.random.default_rng(3), c=3, o=4, hw=(6, 5)))
    conv = rs.load_model(path)
    x = np.random.default_rng(0).integers(-128, 128, (2, 6, 5, 3)).astype(np.int8)  # NHWC, as the file takes it
    with pytest.raises(ValueError, match="mode='exact'.*not mode='ristretto'"):
        rs.run(conv, x, mode="ristretto")
    with pytest.raises(ValueError, match=r"model file's layout \(NHWC\), not layout='nchw'"):
        rs.run(conv, x.transpose(0, 3, 1, 2), layout="nchw")
    assert np.array_equal(rs.run(conv, x, layout="nhwc"), rs.run(conv, x))


def test_tensor_differences_count_codes_and_inputs():
    a = {"t": np.array([[1, 2, 3]], np.int8), "only_ours": np.zeros(2, np.int8)}
    b = {"t": np.array([[1, 0, 7]], np.int8)}
    (d,) = tensor_differences([(a, b), (b, b)])  # "only_ours" is not in the interpreter's tensors: skipped
    assert (d.name, d.codes, d.differing, d.max_abs, d.inputs_differing) == ("t", 6, 2, 4, 1)
