"""The sweep: entries from specs and width series, results saved as they finish, resumed without re-running."""

import pytest

from ristretto_sim.assets import asset_path
from ristretto_sim.rtl.export import without_version
from ristretto_sim.rtl.synth import ResultsTable, SynthOptions, default_entries, entry_from_spec, run_sweep
from ristretto_sim.rtl.synth.sweep import SweepEntry, formats_text, width_series
from tests.rtl.synth.conftest import mac_entry, needs_yosys


def test_width_series_and_specs():
    series = width_series("fixed", (2, 8))
    assert [str(e.formats.accumulator) for e in series] == ["fixed12.0", "fixed24.0"]
    assert series[1].top == "fixed_pe_fixed8_0_fixed8_0_fixed24_0" and series[1].operand_bits == 8
    fixed = [e for e in default_entries((8,)) if e.kind == "fixed"]
    assert {str(e.formats.accumulator) for e in fixed} == {"fixed24.0", "fixed32.0"}
    e = entry_from_spec("fixed:int4,int4,fixed16.0")
    assert (e.kind, str(e.formats.inputs), str(e.formats.accumulator)) == ("fixed", "fixed4.0", "fixed16.0")
    with pytest.raises(ValueError, match=r"KIND:INPUTS,WEIGHTS\[,ACCUMULATOR\]"):
        entry_from_spec("fixed:int4")
    with pytest.raises(ValueError, match="PE kind 'shiftx' has no registered generator; known: affine, affine-fold, "
                                         "affine-register, fixed, minifloat, minifloat-float, shift"):
        entry_from_spec("shiftx:int4,pow2[-4,0],fixed16.0")
    with pytest.raises(ValueError, match="must be an integer >= 2"):
        width_series("fixed", (1,))


def test_minifloat_and_shift_specs_name_the_register_they_synthesize():
    e = entry_from_spec("minifloat:e4m3fn,e4m3fn")
    # the Kulisch register for KULISCH_K = 1024 products, written into the row's formats so hw can find it
    assert formats_text(e.formats) == "e4m3fn x e4m3fn -> fixed47.18"
    assert e.design().kind == "minifloat-kulisch" and e.top == "minifloat_pe_e4m3fn_e4m3fn_fixed47_18"
    s = entry_from_spec("shift:fixed8.4,pow2[-7,0],fixed20.11")
    assert (s.design().kind, s.operand_bits) == ("shift", 8)
    kinds = {e.kind for e in default_entries((4,))}
    assert kinds == {"fixed", "shift", "minifloat", "affine", "affine-fold", "affine-register", "minifloat-float"}


def test_affine_spec_is_the_cost_models_pe():
    """The affine row's formats are what ``hw.pe_for`` gives an int8 TFLite model, so the cost model finds it."""
    from ristretto_sim.hw import PEConfig
    from ristretto_sim.hw.synth_area import pe_formats_text

    e = entry_from_spec("affine:affine8[s=1.0,z=0],affine8[s=1.0,z=0],fixed32.0")
    pe = PEConfig("affine", "affine8[s=1.0,z=0]", "affine8[s=1.0,z=0]", "fixed32.0")
    assert formats_text(e.formats) == pe_formats_text(pe) and e.design().kind == "affine"
    assert "affine_mac" not in e.top and f"module {e.top}(" in e.generator(e.formats, e.top)


def test_a_spec_whose_formats_select_another_datapath_is_refused():
    with pytest.raises(ValueError, match="selects the fixed datapath, not shift"):
        entry_from_spec("shift:int4,int4,fixed16.0").design()
    with pytest.raises(ValueError, match="kind='shift': the width series is of fixed-point MACs"):
        width_series("shift", (4,))


@pytest.mark.parametrize("spec, catalogue", [
    ("fixed:fixed8.7,fixed8.7,fixed24.14", "int8_mac_acc24"),
    ("minifloat:e4m3fn,e4m3fn", "e4m3fn_mac"),
])
def test_the_synthesized_verilog_is_the_catalogue_pe(spec, catalogue):
    """What the sweep synthesizes is the rtl export itself: the checked-in hdl/ PE, but for the module name."""
    e = entry_from_spec(spec)
    text = without_version(e.generator(e.formats, e.top)).replace(e.top, catalogue)
    assert text == without_version(asset_path("hdl", f"{catalogue}.v").read_text())


@needs_yosys
def test_sweep_saves_each_result_and_resumes(tmp_path):
    path = tmp_path / "synth_results.json"
    calls = []

    def failing_after_first(formats, top):
        calls.append(top)
        if len(calls) > 1:
            raise KeyboardInterrupt  # an interrupted sweep
        return mac_entry(2).generator(formats, top)

    entries = [SweepEntry("fixed", mac_entry(n).formats, failing_after_first, series="t") for n in (2, 3)]
    with pytest.raises(KeyboardInterrupt):
        run_sweep(entries, [SynthOptions("generic")], path)
    saved = ResultsTable.read(path)
    assert [r.operand_bits for r in saved.rows] == [2] and saved.rows[0].series == "t"

    seen = []
    table = run_sweep([mac_entry(n) for n in (2, 3)], [SynthOptions("generic")], path,
                      progress=lambda done, total, label: seen.append((done, total)))
    assert [r.operand_bits for r in table.rows] == [2, 3]
    assert table.rows[0] == saved.rows[0]  # kept, not re-run
    assert seen == [(0, 2), (1, 2), (2, 2)]
    assert ResultsTable.read(path).rows == table.rows and (tmp_path / "synth_results.csv").is_file()
