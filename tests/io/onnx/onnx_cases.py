"""Helpers for the ONNX importer tests: onnx's own node test cases, made importable, and small graphs."""

from __future__ import annotations

import functools

import numpy as np
import onnx
from onnx import helper, numpy_helper


@functools.lru_cache(maxsize=1)
def node_cases() -> dict[str, list]:
    """onnx's node test cases (onnx.backend.test.case.node), single-node ones grouped by op type."""
    import warnings

    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = collect_testcases(None)
    out: dict[str, list] = {}
    for c in cases:
        nodes = c.model.graph.node
        if len(nodes) == 1 and c.data_sets:
            out.setdefault(nodes[0].op_type, []).append(c)
    return out


def with_constant_operands(model: onnx.ModelProto, inputs: list[np.ndarray]) -> onnx.ModelProto | None:
    """The case's model with every graph input but the first turned into an initializer holding the test data.

    None when the first input is not a float tensor (the importer needs a float network input).
    """
    g = model.graph
    if not g.input or g.input[0].type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        return None
    m = onnx.ModelProto()
    m.CopyFrom(model)
    keep = m.graph.input[0]
    try:
        inits = [
            numpy_helper.from_array(np.asarray(v), name=vi.name)
            for vi, v in zip(g.input[1:], inputs[1:], strict=False)
        ]
    except (NotImplementedError, TypeError, ValueError):  # sequences, optionals: not tensors
        return None
    del m.graph.input[:]
    m.graph.input.append(keep)
    m.graph.initializer.extend(inits)
    return m


def single_node_model(
    op_type: str,
    x_shape,
    inits: dict,
    attrs: dict | None = None,
    opset: int = 13,
    n_outputs: int = 1,
    input_names=None,
) -> onnx.ModelProto:
    """A model ``y = op(x, *inits)`` with float input ``x`` of ``x_shape`` and constant initializers."""
    names = input_names or (["x"] + list(inits))
    node = helper.make_node(
        op_type, names, [f"y{i}" if i else "y" for i in range(n_outputs)], **(attrs or {})
    )
    graph = helper.make_graph(
        [node],
        "t",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, list(x_shape))],
        [helper.make_empty_tensor_value_info("y")],
        [numpy_helper.from_array(np.asarray(v), name=k) for k, v in inits.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def reference(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    """Output of onnx's reference implementation."""
    from onnx.reference import ReferenceEvaluator

    name = model.graph.input[0].name
    return np.asarray(ReferenceEvaluator(model).run(None, {name: x})[0])
