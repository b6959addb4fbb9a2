"""The search space: its YAML form, its parameters and the one-line errors of a bad file."""

import pytest

from ristretto_sim.errors import ConfigError
from ristretto_sim.search.joint import SearchSpace
from ristretto_sim.search.joint.space import EXACT

TYPES = {"conv1": "conv", "conv2": "conv", "ip1": "fc", "ip2": "fc"}


def test_default_round_trips_through_yaml(tmp_path):
    space = SearchSpace()
    path = tmp_path / "space.yaml"
    path.write_text(space.to_yaml())
    assert SearchSpace.from_yaml(path) == space


def test_layer_granularity_gives_every_layer_its_choices():
    params = SearchSpace().parameters(TYPES)
    for name in TYPES:
        assert params[f"{name}.weight_bits"] == (2, 3, 4, 5, 6, 8, 16)
        assert params[f"{name}.act_bits"] == (4, 5, 6, 8, 16)
    assert params["accumulator.bits"] == (32, EXACT)
    assert "minifloat.exp_bits" not in params  # only the fixed kind is in the default space


def test_group_granularity_and_a_layer_of_its_own():
    space = SearchSpace.from_dict({"granularity": "group", "groups": {"ip1": {"weight_bits": [2, 3]}}})
    groups = space.layer_groups(TYPES)
    assert groups == {"conv": ("conv1", "conv2"), "ip1": ("ip1",), "fc": ("ip2",)}
    params = space.parameters(TYPES)
    assert params["ip1.weight_bits"] == (2, 3)
    assert params["ip1.act_bits"] == (4, 5, 6, 8, 16)  # unset keys keep the type group's values
    choice = space.resolve({"conv.weight_bits": 4, "conv.act_bits": 6, "ip1.weight_bits": 2}, TYPES)
    assert choice.widths["conv1"] == choice.widths["conv2"] == (4, 6)
    assert choice.widths["ip1"] == (2, 4)
    assert choice.acc_bits is None or choice.acc_bits == 32


def test_point_and_with_values_make_a_seed_a_point_of_the_space():
    space = SearchSpace.from_dict({"groups": {"conv": {"weight_bits": [4]}, "fc": {"weight_bits": [4]}}})
    params = space.point({n: (8, 8) for n in TYPES}, TYPES, {"accumulator.bits": 32})
    wider = space.with_values(params, TYPES)
    assert wider.parameters(TYPES)["conv1.weight_bits"] == (4, 8)
    choice = wider.resolve(params, TYPES)
    assert set(choice.widths.values()) == {(8, 8)} and choice.acc_bits == 32


def test_grid_size_is_the_product_of_the_choices():
    groups = {"conv": {"weight_bits": [4, 8], "act_bits": [8]}, "fc": {"weight_bits": [2, 4, 8], "act_bits": [8]}}
    space = SearchSpace.from_dict({"granularity": "group", "groups": groups, "accumulator": {"bits": [32]},
                                   "array": {"rows": [16, 32]}})
    assert space.size(TYPES) == 2 * 3 * 2


@pytest.mark.parametrize("data, message", [
    ({"colour": ["red"]}, "unknown key space.colour"),
    ({"groups": {"conv": {"weight_bit": [4]}}}, "unknown key groups.conv.weight_bit"),
    ({"accumulator": {"bits": []}}, "accumulator.bits is an empty list"),
    ({"groups": {"conv": {"act_bits": []}}}, "groups.conv.act_bits is an empty list"),
    ({"kind": ["float"]}, "kind value 'float' must be one of fixed, minifloat, pow2"),
    ({"array": {"dataflow": ["rs"]}}, "array.dataflow value 'rs'"),
    ({"accumulator": {"bits": ["wide"]}}, "accumulator.bits value 'wide' must be an integer or exact"),
    ({"granularity": "net"}, "granularity 'net'"),
    ({"kind": ["pow2"], "pow2": {"exp_min": [2], "exp_max": [-1, 0]}}, "leave no exponent range"),
])
def test_bad_space_is_one_clear_error(data, message):
    with pytest.raises(ConfigError) as info:
        SearchSpace.from_dict(data)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_group_naming_no_layer_is_an_error():
    space = SearchSpace.from_dict({"groups": {"conv9": {"weight_bits": [4]}}})
    with pytest.raises(ConfigError, match="unknown key groups.conv9: neither conv, fc nor a weighted layer"):
        space.parameters(TYPES)


def test_bad_yaml_file_names_the_file(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("kind: [fixed\n")
    with pytest.raises(ConfigError, match="s.yaml: not valid YAML"):
        SearchSpace.from_yaml(path)
    path.write_text("pow2: {exp_min: []}\n")
    with pytest.raises(ConfigError, match=r"s.yaml: search space: pow2.exp_min is an empty list"):
        SearchSpace.from_yaml(path)


def test_buffers_and_pe_clocking_are_choices_only_when_declared(tmp_path):
    assert not any(k.startswith("pe.") or k == "array.buffer_kb" for k in SearchSpace().parameters(TYPES))
    assert "pe" not in SearchSpace().to_dict() and "buffer_kb" not in SearchSpace().to_dict()["array"]
    space = SearchSpace.from_dict({"array": {"buffer_kb": [16, 64]},
                                   "pe": {"precision": ["parallel", "serial"], "bits_per_cycle": [1, 4]}})
    params = space.parameters(TYPES)
    assert params["array.buffer_kb"] == (16, 64) and params["pe.precision"] == ("parallel", "serial")
    assert "pe.serial_operand" not in params
    choice = space.resolve({"array.buffer_kb": 64, "pe.precision": "serial", "pe.bits_per_cycle": 4}, TYPES)
    assert (choice.buffer_kb, choice.precision, choice.bits_per_cycle, choice.serial_operand) == (64, "serial", 4,
                                                                                                  None)
    path = tmp_path / "space.yaml"
    path.write_text(space.to_yaml())
    assert SearchSpace.from_yaml(path) == space
    with pytest.raises(ConfigError, match="pe.precision value 'half' must be one of parallel, serial"):
        SearchSpace.from_dict({"pe": {"precision": ["half"]}})
    with pytest.raises(ConfigError, match="unknown key pe.lanes"):
        SearchSpace.from_dict({"pe": {"lanes": [4]}})
