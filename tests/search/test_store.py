"""``ScoreStore``: scores saved under the run's key, reused only under the same key, each reuse counted once."""

import json

from ristretto_sim.search.evaluate import Evaluation
from ristretto_sim.search.fingerprint import STATE_FORMAT
from ristretto_sim.search.store import ResumeState, ScoreStore

KEY = {"network": "n1", "weights": "w1", "data": "d1"}


def test_scores_are_saved_under_the_key_and_reused_once_each(tmp_path):
    path = tmp_path / "s.json"
    store = ScoreStore(path, KEY)
    assert store.state() == ResumeState(str(path))
    store.put("a", Evaluation(0.5, {"l": 1}, {"l": 2}, 1.5))
    store.put("b", Evaluation(0.25))
    data = json.loads(path.read_text())
    assert data["version"] == STATE_FORMAT and data["key"] == KEY and set(data["results"]) == {"a", "b"}
    again = ScoreStore(path, dict(KEY))
    assert again.reuse("a") == Evaluation(0.5, {"l": 1}, {"l": 2}, 1.5)
    assert again.reuse("a") is not None and again.reuse("missing") is None
    again.put("c", Evaluation(0.1))
    assert again.reuse("c") == Evaluation(0.1)  # scored in this run: not a reuse
    assert again.state() == ResumeState(str(path), saved=2, reused=1)


def test_another_key_starts_empty_names_the_parts_and_overwrites(tmp_path):
    path = tmp_path / "s.json"
    ScoreStore(path, KEY).put("a", Evaluation(0.5))
    other = ScoreStore(path, {**KEY, "weights": "w2", "data": "d2"})
    assert other.reuse("a") is None
    st = other.state()
    assert st.changed == ("weights", "data") and st.reason == "weights, data changed" and st.discarded == 1
    assert st.started_afresh and st.saved == 0
    # a part the file has and the run has not (or the reverse) is a difference too
    assert ScoreStore(path, {"network": "n1", "weights": "w1"}).state().changed == ("data",)
    other.put("b", Evaluation(0.3))
    assert set(json.loads(path.read_text())["results"]) == {"b"}
    assert ScoreStore(path, {**KEY, "weights": "w2", "data": "d2"}).state().saved == 1


def test_non_string_key_values_are_hashed(tmp_path):
    path = tmp_path / "s.json"
    ScoreStore(path, {"options": {"seed": 0}}).put("a", Evaluation(0.5))
    assert ScoreStore(path, {"options": {"seed": 0}}).state().saved == 1
    assert ScoreStore(path, {"options": {"seed": 1}}).state().changed == ("options",)


def test_a_malformed_score_is_not_half_used(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"version": STATE_FORMAT, "key": KEY, "results": {"a": {"accuracy": 0.5},
                                                                                  "b": {"overflows": {}}}}))
    store = ScoreStore(path, KEY)
    assert store.results == {} and store.state().reason.startswith("holds a malformed score (KeyError")


def test_memory_only_store():
    store = ScoreStore()
    store.put("a", Evaluation(0.5))
    assert store.reuse("a") == Evaluation(0.5) and store.state() == ResumeState()
