"""The Optuna study: seeds, COMPLETE-trial counting, resume, reuse of equal candidates, the grid sweep, errors."""

import pytest

from ristretto_sim.search.joint import Constraints, SearchSpace, objectives
from ristretto_sim.search.joint.study import JointSearch, SearchSettings, StudyError

SMALL = {"granularity": "group",
         "groups": {"conv": {"weight_bits": [4, 8], "act_bits": [8]}, "fc": {"weight_bits": [2, 4, 8],
                                                                             "act_bits": [8]}}}


def _search(problem, out, space=None, **kw):
    space = SearchSpace.from_dict(space or SMALL, SearchSpace.default(problem.base))
    settings = SearchSettings(out=out, objectives=objectives(["accuracy", "energy"]), population=4, **kw)
    return JointSearch(problem, space, settings)


def _complete(search):
    return {t.number: (tuple(t.params.items()), tuple(t.values)) for t in search.feasible_trials()}


def test_seeds_first_then_resume_keeps_every_finished_trial(lenet_problem, tmp_path):
    s = _search(lenet_problem, tmp_path, trials=5)
    front = s.run()
    assert s.complete() == 5
    first = sorted(s.study.trials, key=lambda t: t.number)[:len(s.seed_params)]
    assert [t.params for t in first] == list(s.seed_params.values())
    # every reference is measured; uniform 16-bit is no point of this space (weights up to 8 bits): a reference only
    assert set(s.reference_params) == {"uniform int8", "uniform 16-bit", "ristretto greedy"}
    assert "uniform int8" in s.seed_params and "uniform 16-bit" not in s.seed_params
    assert "16" in s.outside["uniform 16-bit"]
    assert set(s.references) == set(s.reference_params)
    assert all(lenet_problem.key(s.candidate(t.params)) == t.user_attrs["key"] for t in front)
    before = _complete(s)
    again = _search(lenet_problem, tmp_path, trials=7, resume=True)
    assert again.complete() == 5  # nothing lost on reopening
    again.run()
    assert again.complete() == 7
    after = _complete(again)
    assert {k: after[k] for k in before} == before
    for t in again.front():
        assert 0 <= again.test_accuracy(t) <= 1
        assert f"test:{t.user_attrs['key']}" in again.study.user_attrs


def test_an_existing_study_needs_resume_and_the_same_space(lenet_problem, tmp_path):
    _search(lenet_problem, tmp_path, trials=3).run()
    with pytest.raises(StudyError, match="already exists .* pass --resume"):
        _search(lenet_problem, tmp_path, trials=3)
    other = {**SMALL, "groups": {**SMALL["groups"], "conv": {"weight_bits": [4, 6], "act_bits": [8]}}}
    with pytest.raises(StudyError, match="was made with another space"):
        _search(lenet_problem, tmp_path, other, trials=3, resume=True)
    with pytest.raises(StudyError, match="no study 'other'"):
        _search(lenet_problem, tmp_path, trials=3, resume=True, study="other")


def test_equal_candidates_are_scored_once(lenet_problem, tmp_path):
    space = {**SMALL, "kind": ["fixed", "pow2"], "pow2": {"exp_min": [-8, -7], "exp_max": [-1]}}
    s = _search(lenet_problem, tmp_path, space, trials=4)
    p = dict(s.seed_params["uniform int8"])
    s.study.enqueue_trial({**p, "pow2.exp_min": -7})  # unused by a fixed-point candidate: the same candidate
    s.run()
    int8 = next(t for t in s.study.trials if t.params == p)
    twin = next(t for t in s.study.trials if t.params == {**p, "pow2.exp_min": -7})
    assert twin.user_attrs["reused"] is True and int8.user_attrs["reused"] is False
    assert twin.user_attrs["key"] == int8.user_attrs["key"]
    assert twin.values == int8.values


def test_grid_sweeps_every_point_once(lenet_problem, tmp_path):
    space = {"granularity": "group", "groups": {"conv": {"weight_bits": [8], "act_bits": [8]},
                                                "fc": {"weight_bits": [4, 8], "act_bits": [8]}},
             "accumulator": {"bits": [32]}, "array": {"rows": [16, 32], "cols": [32], "dataflow": ["os"]}}
    s = _search(lenet_problem, tmp_path, space, sampler="grid")
    size = s.space.size(s.types)
    assert size == 2 * 2
    assert s.target() == size
    s.run()
    keys = [tuple(sorted(t.params.items())) for t in s.study.trials if t.state.name == "COMPLETE"]
    assert len(keys) == len(set(keys)) == size


def test_a_constraint_no_candidate_meets_is_one_error_and_keeps_the_study(lenet_problem, tmp_path):
    s = _search(lenet_problem, tmp_path, trials=3, constraints=Constraints(area_budget_um2=1.0))
    with pytest.raises(StudyError, match=r"no candidate met the constraints \(--area-budget 1 um\^2\) in 3 "):
        s.run()
    assert s.complete() == 3  # the trials are kept, infeasible


def test_an_unreachable_storage_is_one_line(lenet_problem, tmp_path):
    with pytest.raises(StudyError, match="cannot be opened") as info:
        _search(lenet_problem, tmp_path, trials=3, storage="postgresql://nobody@127.0.0.1:1/none")
    assert "\n" not in str(info.value)


def test_a_postgresql_url_without_a_driver_uses_the_installed_one(monkeypatch):
    """SQLAlchemy 2.1 reads ``postgresql://`` as psycopg 3; the ``distributed`` extra installs psycopg2, so the
    README's ``--storage postgresql://USER@HOST/DB`` names it when psycopg 3 is absent."""
    import importlib.util

    from ristretto_sim.search.joint.study import sqlalchemy_url

    found = {"psycopg": None, "psycopg2": object()}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: found.get(name))
    assert sqlalchemy_url("postgresql://u@h:5432/db") == "postgresql+psycopg2://u@h:5432/db"
    for url in ("postgresql+psycopg://u@h/db", "sqlite:///x.db", "mysql://u@h/db"):
        assert sqlalchemy_url(url) == url
    found["psycopg"] = object()  # psycopg 3 installed: SQLAlchemy's own default stands
    assert sqlalchemy_url("postgresql://u@h/db") == "postgresql://u@h/db"


def test_a_space_whose_points_build_no_candidate_says_why(lenet_problem, tmp_path):
    """Every point infeasible (a minifloat split wider than its widths): the error gives the reason, not
    constraints that were never set."""
    space = {**SMALL, "kind": ["minifloat"], "minifloat": {"exp_bits": [7]},
             "groups": {"conv": {"weight_bits": [4], "act_bits": [4]}, "fc": {"weight_bits": [4], "act_bits": [4]}}}
    s = _search(lenet_problem, tmp_path, space, trials=2)
    with pytest.raises(StudyError, match=r"no point of the space builds a candidate \(\d+ trials tried: ") as info:
        s.run()
    assert "constraints" not in str(info.value) and "\n" not in str(info.value)


def test_two_local_workers_share_a_journal_file(lenet_problem, tmp_path):
    """``workers > 1`` without a storage URL: Optuna's journal file (SQLite is not for parallel writers); the
    forked worker's trials land in the same study, none twice, and the target counts them all."""
    import os

    s = _search(lenet_problem, tmp_path, trials=8, workers=2)
    assert s.url == f"journal:{tmp_path / 'study.journal'}" and not (tmp_path / "study.db").exists()
    s.run()
    trials = s.study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(done) >= 8 and len({t.number for t in trials}) == len(trials)
    pids = {t.user_attrs["worker"].rsplit(":", 1)[1] for t in done}
    assert str(os.getpid()) in pids and len(pids) == 2, pids  # this process and the forked worker


def test_a_failed_trial_is_one_log_line_and_a_ctrl_c_none():
    """Optuna logs a failed trial with its traceback; the search keeps the message line only, and nothing for the
    trial a Ctrl-C interrupted."""
    import logging
    import sys

    from ristretto_sim.search.joint.study import _TRIAL_LOGGER, _optuna

    _optuna()
    logger = logging.getLogger(_TRIAL_LOGGER)
    seen = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(self.format(record))

    handler = Keep()
    logger.addHandler(handler)
    try:
        for exc in (ValueError("bad point"), KeyboardInterrupt()):
            try:
                raise exc
            except BaseException:  # noqa: BLE001 - the test raises both kinds on purpose
                logger.warning(f"Trial 3 failed with parameters: {{}} because of the following error: {exc!r}.",
                               exc_info=sys.exc_info())
            logger.warning("Trial 3 failed with value None.")
    finally:
        logger.removeHandler(handler)
    assert seen == ["Trial 3 failed with parameters: {} because of the following error: ValueError('bad point').",
                    "Trial 3 failed with value None."]
