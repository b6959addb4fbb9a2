"""The layers of a prototxt as the importer reads them: normalised across the V1 (``layers``) and current
(``layer``) formats, selected for a phase, level and stages by ``include``/``exclude`` rules as
``Net::FilterNet`` does, and each phase's data layer (``data_sources``) without building the nets."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ristretto_sim.data.caffe_source import PHASES, DataSource
from ristretto_sim.errors import ModelError
from ristretto_sim.io.caffe.files import read_prototxt
from ristretto_sim.io.caffe.layer_types import INPUT_TYPES
from ristretto_sim.io.caffe.schema import V1_TYPE_NAMES, Message


@dataclass
class NetLayer:
    """A prototxt layer, normalised across the V1 and current formats."""

    name: str
    type: str
    bottoms: list[str]
    tops: list[str]
    msg: Message
    line: int


def normalise(msg: Message, v1: bool, index: int) -> NetLayer:
    if v1:
        raw = msg.get("type", "NONE")
        typ = V1_TYPE_NAMES.get(raw, raw) if isinstance(raw, str) else str(raw)
    else:
        typ = msg.get("type", "")
    name = msg.get("name") or f"{typ or 'layer'}_{index}"
    return NetLayer(name, typ, msg.all("bottom"), msg.all("top"), msg, msg.line)


def rule_matches(rule: Message, phase: str, level: int, stages: Sequence[str]) -> bool:
    if rule.has("phase") and rule.get("phase") != phase:
        return False
    if rule.has("min_level") and level < rule.get("min_level"):
        return False
    if rule.has("max_level") and level > rule.get("max_level"):
        return False
    if any(s not in stages for s in rule.all("stage")):
        return False
    return not any(s in stages for s in rule.all("not_stage"))


def included(layer: NetLayer, phase: str, level: int, stages: Sequence[str]) -> bool:
    """``Net::StateMeetsRule`` logic: include rules (any must match) or exclude rules (none may match)."""
    include, exclude = layer.msg.all("include"), layer.msg.all("exclude")
    if include:
        return any(rule_matches(r, phase, level, stages) for r in include)
    return not any(rule_matches(r, phase, level, stages) for r in exclude)


def net_layers(net: Message) -> list[NetLayer]:
    if net.all("layer") and net.all("layers"):
        raise ValueError("the file mixes the current 'layer' and the V1 'layers' formats")
    v1 = not net.all("layer")
    return [normalise(m, v1, i) for i, m in enumerate(net.all("layers") if v1 else net.all("layer"))]


SOURCE_PARAMS = ("data_param", "image_data_param", "memory_data_param", "window_data_param")


def data_source_of(layer: NetLayer, phase: str, path: Path) -> DataSource:
    """The ``DataSource`` of a data layer (not ``Input``): source, backend (``Data`` only), batch size."""
    msg = layer.msg
    source, batch = "", None
    for sub in SOURCE_PARAMS:
        p = msg.sub(sub)
        if p.has("batch_size") and batch is None:
            batch = int(p.get("batch_size"))
        if p.has("source") and not source:
            source = str(p.get("source"))
    backend = str(msg.sub("data_param").get("backend")) if layer.type == "Data" else None
    return DataSource(phase, layer.name, layer.type, source, backend, batch or None, str(path))


def data_sources(prototxt, *, level: int = 0, stages: Sequence[str] = ()) -> dict[str, DataSource]:
    """``{"TRAIN": DataSource, "TEST": DataSource}``: each phase's first data layer (``Data``, ``ImageData``,
    ...; not ``Input``), selected by the same ``include``/``exclude`` rules as the importer, without building
    the nets. Phases without one are left out."""
    path = Path(os.fspath(prototxt))
    net = read_prototxt(path)
    try:
        layers = net_layers(net)
    except ValueError as exc:
        raise ModelError(f"{path}: {exc}") from None
    found = {}
    for phase in PHASES:
        for layer in layers:
            if layer.type in INPUT_TYPES and layer.type != "Input" and included(layer, phase, level, stages):
                found[phase] = data_source_of(layer, phase, path)
                break
    return found

