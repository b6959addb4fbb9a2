"""``ResultsTable``: rows and fits round-trip through JSON and CSV; fits recover the scaling they are fitted to."""

import csv
import json

import pytest

from ristretto_sim.rtl.synth import ResultsTable, SynthResult, fit_scaling


def _row(n, *, target="generic", luts=None, transistors=None, series="s"):
    return SynthResult(
        kind="fixed", formats=f"fixed{n}.0 x fixed{n}.0 -> fixed{2 * n + 8}.0", operand_bits=n, top=f"m{n}",
        target=target, device=None if target == "generic" else "hx8k", dsp=False, luts=luts, carries=None,
        ffs=2 * n + 8, dsps=None, brams=None, transistors=transistors, fmax_mhz=None if target == "generic" else 100.0,
        fmax_seeds_mhz=() if target == "generic" else (99.0, 100.0, 101.0),
        seeds=() if target == "generic" else (1, 2, 3), freq_target_mhz=None, harness_luts=None, harness_ffs=None,
        harness_carries=None, synth_s=1.0, pnr_s=0.0, yosys="y", nextpnr=None, series=series,
    )


def test_fit_recovers_an_exact_quadratic():
    rows = [_row(n, transistors=100 + 30 * n + 7 * n * n) for n in range(2, 9)]
    (ffs, tr) = fit_scaling(rows)
    assert (ffs.metric, tr.metric) == ("ffs", "transistors")
    assert tr.coefficients == pytest.approx((100, 30, 7), abs=1e-6) and tr.r2 == pytest.approx(1.0)
    assert ffs.coefficients == pytest.approx((8, 2, 0), abs=1e-6)
    assert (tr.n_min, tr.n_max, tr.points) == (2, 8, 7) and tr(10) == pytest.approx(100 + 300 + 700)


def test_rows_outside_a_series_or_with_few_widths_are_not_fitted():
    assert fit_scaling([_row(n, transistors=n, series="") for n in range(2, 9)]) == ()
    assert fit_scaling([_row(n, transistors=n) for n in (2, 3, 4)]) == ()


def test_write_read_round_trip_and_csvs(tmp_path):
    rows = [_row(n, transistors=10 * n * n) for n in range(2, 7)] + [_row(4, target="ice40", luts=80)]
    table = ResultsTable(tuple(rows), {"generated_by": "test"})
    path = tmp_path / "synth_results.json"
    table.write(path)
    back = ResultsTable.read(path)
    assert back.rows == table.rows and back.config == {"generated_by": "test"}
    data = json.loads(path.read_text())
    assert {f["metric"] for f in data["fits"]} == {"ffs", "transistors"}
    with open(tmp_path / "synth_results.csv") as fh:
        flat = list(csv.DictReader(fh))
    assert len(flat) == 6 and flat[-1]["fmax_seeds_mhz"] == "99.00;100.00;101.00" and flat[0]["luts"] == ""
    with open(tmp_path / "synth_fits.csv") as fh:
        assert {r["metric"] for r in csv.DictReader(fh)} == {"ffs", "transistors"}
    assert not list(tmp_path.glob("*.tmp"))


def test_with_row_replaces_the_same_key_and_bad_files_are_named(tmp_path):
    table = ResultsTable((_row(4, transistors=1),)).with_row(_row(4, transistors=2))
    assert [r.transistors for r in table.rows] == [2]
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(Exception, match="bad.json: not a synthesis results table"):
        ResultsTable.read(bad)
