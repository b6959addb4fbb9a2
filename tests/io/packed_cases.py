"""Plans with many code widths and every format kind, on a tiny classifier, for the exporter tests."""

from __future__ import annotations

import pytest

from ristretto_sim import load_model
from ristretto_sim.graph.plan import QuantPlan
from tests.graph.tiny_models import tiny_classifier

PLANS = {
    "fixed3-5": """version: 1
mode: exact
defaults: {rounding: nearest_even, overflow: saturate}
layers:
  conv: {inputs: fixed8.7, weights: fixed3.2, bias: fixed5.3, outputs: fixed8.4}
  fc:   {inputs: fixed8.4, weights: fixed5.4, bias: fixed7.5, outputs: fixed8.3}
""",
    "fixed6-7-acc": """version: 1
mode: exact
defaults: {rounding: nearest_away, overflow: saturate}
layers:
  conv: {inputs: fixed8.7, weights: fixed6.5, outputs: fixed8.4, accumulator: fixed20.12}
  fc:   {inputs: fixed8.4, weights: fixed7.6, outputs: fixed8.3}
""",
    "per-channel-1bit": """version: 1
mode: exact
defaults: {rounding: nearest_even, overflow: saturate}
layers:
  conv: {inputs: fixed8.7, weights: fixed4.(3,2,3,4), bias: fixed12.(6,5,6,7)}
  fc:   {inputs: fixed8.4, weights: ufixed1.0, bias: fixed9.4, outputs: fixed8.3}
""",
    "pow2-minifloat": """version: 1
mode: exact
defaults: {rounding: nearest_even, overflow: saturate}
layers:
  conv: {inputs: fixed8.7, weights: pow2[-8,-1], bias: fixed16.10}
  fc:   {inputs: e4m3, weights: e4m3fn, bias: e5m2}
""",
    "pow2-nozero-minifloat-nobias": """version: 1
mode: exact
defaults: {rounding: stochastic, overflow: saturate}
layers:
  conv: {inputs: fixed8.7, weights: pow2[-6,0,nozero]}
  fc:   {inputs: e3m2[specials=none], weights: e3m2[specials=none]}
""",
    "ristretto": """version: 1
mode: ristretto
defaults: {rounding: nearest_even, overflow: saturate}
layers:
  conv: {inputs: fixed8.7, weights: pow2[-8,-1,nozero], outputs: fixed8.4}
  fc:   {inputs: fixed8.4, weights: fixed6.6, outputs: fixed8.3}
""",
}


@pytest.fixture(scope="module")
def tiny_net(tmp_path_factory):
    path = tiny_classifier(tmp_path_factory.mktemp("tiny") / "tiny.onnx")
    return load_model(path)


def plan(name: str, network) -> QuantPlan:
    return QuantPlan.from_yaml(PLANS[name], network)
