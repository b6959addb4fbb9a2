"""The checked-in ``hdl/synth_results.json``: consistent with its CSVs and fits, and reproduced by re-synthesis."""

import csv
import json
from dataclasses import replace

import pytest

from ristretto_sim.assets import asset_path
from ristretto_sim.rtl.synth import ResultsTable, SynthOptions, Target, Tool, default_entries, fit_scaling, synthesize
from ristretto_sim.rtl.synth.results import CSV_COLUMNS
from ristretto_sim.rtl.synth.sweep import DEFAULT_TARGETS, WIDTHS, formats_text
from tests.rtl.synth.conftest import needs, needs_yosys

PATH = asset_path("hdl", "synth_results.json")
COUNTS = ("luts", "carries", "ffs", "dsps", "brams", "transistors", "harness_luts", "harness_ffs")


@pytest.fixture(scope="module")
def table():
    return ResultsTable.read(PATH)


def test_table_covers_the_default_sweep(table):
    keys = {(r.formats, r.target.value, r.device, r.dsp) for r in table.rows}
    for entry in default_entries(WIDTHS):
        for o in DEFAULT_TARGETS:
            assert (entry.row_formats, o.target.value, o.device, o.dsp) in keys


def test_csvs_and_fits_agree_with_the_json(table):
    data = json.loads(PATH.read_text())
    assert data["fits"] == [f.to_dict() for f in fit_scaling(table.rows)]
    with open(PATH.with_suffix(".csv")) as fh:
        flat = list(csv.DictReader(fh))
    assert list(flat[0]) == list(CSV_COLUMNS) and len(flat) == len(table.rows)
    assert [int(r["ffs"]) for r in flat] == [r.ffs for r in table.rows]
    fits = {(f.series, f.target, f.device, f.dsp, f.metric): f for f in table.fits}
    # a multiplier array: transistors grow with n^2, and the fit over 2..16 bits explains them
    tr = fits[("fixed nxn acc 2n+8", "generic", None, False, "transistors")]
    assert tr.coefficients[2] > 0 and tr.r2 > 0.99 and (tr.n_min, tr.n_max) == (2, 16)


def _same_tools(row, again):
    return (row.yosys, row.nextpnr) == (again.yosys, again.nextpnr)


@needs_yosys
def test_int4_generic_row_is_reproduced(table):
    entry = next(e for e in default_entries((4,)) if e.series)
    row = table.find((entry.design().kind, formats_text(entry.formats), entry.top, "generic", None, False))
    again = synthesize(entry.design(), SynthOptions("generic"))
    assert (again.transistors, again.ffs) == (row.transistors, row.ffs)


@needs(Tool.YOSYS, Tool.NEXTPNR_ICE40)
def test_int4_ice40_row_is_reproduced(table):
    """Cell counts, and with the same tool versions the seed's Fmax too (nextpnr is deterministic per seed)."""
    entry = next(e for e in default_entries((4,)) if e.series)
    row = table.find((entry.design().kind, formats_text(entry.formats), entry.top, "ice40", "hx8k", False))
    again = synthesize(entry.design(), SynthOptions("ice40", seeds=row.seeds[:1]))
    assert [getattr(again, c) for c in COUNTS] == [getattr(row, c) for c in COUNTS]
    if _same_tools(row, again):
        assert again.fmax_seeds_mhz == row.fmax_seeds_mhz[:1]


@pytest.mark.slow
@needs(Tool.YOSYS, Tool.NEXTPNR_ICE40, Tool.NEXTPNR_ECP5)
def test_every_count_of_the_table_is_reproduced(table):
    """The whole sweep again (one seed: the counts do not depend on placement) gives the table's cell counts, and
    the first seed's Fmax."""
    for entry in default_entries(WIDTHS):
        design = entry.design()
        for o in DEFAULT_TARGETS:
            opts = o if o.target is Target.GENERIC else replace(o, seeds=(1,))
            row = table.find((design.kind, entry.row_formats, entry.top, o.target.value, o.device, o.dsp))
            again = synthesize(design, opts)
            assert [getattr(again, c) for c in COUNTS] == [getattr(row, c) for c in COUNTS], (entry.top, o)
            if _same_tools(row, again) and o.target is not Target.GENERIC:
                assert again.fmax_seeds_mhz == row.fmax_seeds_mhz[:1], (entry.top, o)
