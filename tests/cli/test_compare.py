"""``ristretto-sim compare``."""

import json

from ristretto_sim.cli import main
from tests.graph.tiny_models import PLAN_8BIT, tiny_classifier


def test_compare_json_table_csv_plot(tmp_path, capsys):
    model = tiny_classifier(tmp_path / "tiny.onnx")
    plan = tmp_path / "p.yaml"
    plan.write_text(PLAN_8BIT)
    assert main(["compare", str(model), "--plan", str(plan), "--limit", "64", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["images"] == 64 and set(res["agreement"]) == {
        "float_vs_ristretto",
        "float_vs_exact",
        "exact_vs_ristretto",
    }
    rows = {r["name"]: r for r in res["layers"]}
    assert rows["conv"]["quantized"] and not rows["relu"]["quantized"]
    assert rows["conv"]["sqnr_exact_db"] > 10 and rows["fc"]["max_err_exact"] > 0
    assert 0.5 <= res["agreement"]["exact_vs_ristretto"] <= 1.0 and set(res["accuracy"]) == {
        "float",
        "ristretto",
        "exact",
    }
    csv, png = tmp_path / "c.csv", tmp_path / "c.png"
    assert (
        main(
            [
                "compare",
                str(model),
                "--plan",
                str(plan),
                "--limit",
                "32",
                "--csv",
                str(csv),
                "--plot",
                str(png),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "top-1 agreement" in out and "SQNR" in out
    assert csv.read_text().startswith("name,") and png.stat().st_size > 1000


def test_compare_needs_a_plan_that_fits(tmp_path, capsys):
    model = tiny_classifier(tmp_path / "tiny.onnx")
    plan = tmp_path / "p.yaml"
    plan.write_text("version: 1\nlayers:\n  conv9: {inputs: fixed8.0, weights: fixed8.7}\n")
    assert main(["compare", str(model), "--plan", str(plan)]) == 2
    err = capsys.readouterr().err
    assert "p.yaml:3" in err and "conv9" in err
