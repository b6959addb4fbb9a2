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
