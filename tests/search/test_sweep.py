"""Ristretto's sweep rules on exact, made-up accuracies."""

import pytest

from ristretto_sim.search import FALLBACK_BITS, RISTRETTO_WIDTHS, SweepResult, passes, run_sweep


def test_pass_rule_is_acc_plus_margin_over_100_ge_baseline():
    assert passes(0.98, 0.99, 1.0)  # 0.98 + 0.01 >= 0.99 (in double)
    assert not passes(0.9799, 0.99, 1.0)
    assert passes(0.99, 0.99, 0.0)
    assert not passes(0.5, 0.99, 2.0)


def test_stops_right_after_first_failure_and_records_it():
    table = {16: 0.99, 8: 0.985, 4: 0.95, 2: 0.99, 1: 0.99}  # 2 and 1 would pass, but are never tried
    seen = []
    res = run_sweep("conv", lambda b: seen.append(b) or table[b], 0.99, 1.0)
    assert seen == [16, 8, 4]
    assert dict(res.tried) == {16: 0.99, 8: 0.985, 4: 0.95}
    assert res.chosen == 8 and not res.fell_back


def test_all_pass_chooses_one_bit():
    res = run_sweep("fc", lambda b: 0.99, 0.99, 0.0)
    assert list(res.tried) == list(RISTRETTO_WIDTHS) and res.chosen == 1


def test_sixteen_fails_falls_back_to_32():
    res = run_sweep("activations", lambda b: 0.1, 0.99, 2.0)
    assert dict(res.tried) == {16: 0.1} and res.chosen == FALLBACK_BITS and res.fell_back
    assert res.as_dict() == {"tried": {"16": 0.1}, "chosen": 32}


def test_resumed_widths_are_not_rescored_and_new_ones_reported():
    scored, reported = [], []
    res = run_sweep("conv", lambda b: scored.append(b) or 0.5, 0.99, 1.0, done={16: 0.99, 8: 0.99},
                    on_result=lambda b, a: reported.append((b, a)))
    assert scored == [4] and reported == [(4, 0.5)] and res.chosen == 8


def test_sweep_result_validates():
    with pytest.raises(ValueError, match="fraction"):
        SweepResult("conv", {16: 99.0}, 16)
    with pytest.raises(ValueError, match="name"):
        SweepResult("", {}, 16)
