"""``ResultsTable``: synthesis results (``SynthResult`` rows) with fitted scaling coefficients, as CSV and JSON.

The JSON file (``hdl/synth_results.json``) is the one the cost model reads: the rows, the fits and the run's
configuration. The CSV files beside it (``synth_results.csv``, ``synth_fits.csv``) are the same numbers flat.
Writes are atomic (a temporary file renamed over the old one), so a sweep interrupted at any moment leaves a
readable table holding every finished result.

Fits: for every series (rows differing only in operand width ``n``) and target, each count is fitted by least
squares to ``c0 + c1 * n + c2 * n**2`` (a multiplier array grows with ``n**2``, the accumulator and registers with
``n``), with the coefficient of determination ``r2`` and the range of ``n`` it was fitted over.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ristretto_sim.errors import RistrettoSimError
from ristretto_sim.rtl.synth.results import CSV_COLUMNS, SynthResult

FIT_METRICS = ("luts", "carries", "ffs", "dsps", "transistors", "fmax_mhz")
FIT_FORM = "c0 + c1*n + c2*n^2"
FIT_COLUMNS = ("series", "kind", "target", "device", "dsp", "metric", "form", "c0", "c1", "c2", "r2", "n_min",
               "n_max", "points")


@dataclass(frozen=True)
class ScalingFit:
    """A quadratic least-squares fit of one count against operand bits over one series on one target."""

    series: str
    kind: str
    target: str
    device: str | None
    dsp: bool
    metric: str
    coefficients: tuple[float, float, float]
    r2: float
    n_min: int
    n_max: int
    points: int

    def __call__(self, n: float) -> float:
        c0, c1, c2 = self.coefficients
        return c0 + c1 * n + c2 * n * n

    def to_dict(self) -> dict:
        c0, c1, c2 = self.coefficients
        return {"series": self.series, "kind": self.kind, "target": self.target, "device": self.device,
                "dsp": self.dsp, "metric": self.metric, "form": FIT_FORM, "c0": c0, "c1": c1, "c2": c2,
                "r2": self.r2, "n_min": self.n_min, "n_max": self.n_max, "points": self.points}


def fit_scaling(rows) -> tuple[ScalingFit, ...]:
    """Fits of ``FIT_METRICS`` for every (series, target, device, dsp) group with at least 4 operand widths."""
    groups: dict[tuple, list[SynthResult]] = {}
    for r in rows:
        if r.series and r.operand_bits is not None:
            groups.setdefault((r.series, r.kind, r.target.value, r.device, r.dsp), []).append(r)
    fits = []
    for (series, kind, target, device, dsp), members in sorted(groups.items(), key=lambda kv: str(kv[0])):
        for metric in FIT_METRICS:
            pts = sorted((r.operand_bits, getattr(r, metric)) for r in members if getattr(r, metric) is not None)
            if len({n for n, _ in pts}) < 4:
                continue
            n = np.array([p[0] for p in pts], dtype=float)
            y = np.array([p[1] for p in pts], dtype=float)
            c2, c1, c0 = np.polyfit(n, y, 2)
            # a term below 1e-9 of the largest count is the solver's rounding of an exact zero
            tiny = 1e-9 * max(1.0, float(np.abs(y).max()))
            c0, c1, c2 = (0.0 if abs(c) < tiny else c for c in (c0, c1, c2))
            resid = y - (c0 + c1 * n + c2 * n * n)
            total = float(((y - y.mean()) ** 2).sum())
            r2 = 1.0 - float((resid ** 2).sum()) / total if total > 0 else 1.0
            fits.append(ScalingFit(series, kind, target, device, dsp, metric,
                                   tuple(_sig(c) for c in (c0, c1, c2)), _sig(r2), int(n.min()), int(n.max()),
                                   len(pts)))
    return tuple(fits)


def _sig(x: float) -> float:
    # six significant digits: the fits are estimates, and the checked-in table stays readable
    return float(f"{float(x):.6g}")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@dataclass(frozen=True)
class ResultsTable:
    """Rows, their fits and the configuration that produced them (module docstring)."""

    rows: tuple[SynthResult, ...] = ()
    config: dict = field(default_factory=dict)

    @property
    def fits(self) -> tuple[ScalingFit, ...]:
        return fit_scaling(self.rows)

    def with_row(self, row: SynthResult) -> ResultsTable:
        """A table with ``row`` added, replacing any row of the same key."""
        kept = tuple(r for r in self.rows if r.key != row.key)
        return ResultsTable((*kept, row), self.config)

    def find(self, key: tuple) -> SynthResult | None:
        return next((r for r in self.rows if r.key == key), None)

    def to_dict(self) -> dict:
        return {
            "description": "synthesis results of ristretto-sim PEs (ristretto-sim synth); counts from Yosys "
                           "stat -json, Fmax the median over nextpnr seeds; fits: " + FIT_FORM + " in operand bits n",
            "config": self.config,
            "rows": [r.to_dict() for r in self.rows],
            "fits": [f.to_dict() for f in self.fits],
        }

    def write(self, json_path: str | Path) -> None:
        """Write the JSON table and, beside it, ``<stem>.csv`` (rows) and ``synth_fits.csv`` (fits)."""
        json_path = Path(json_path)
        json_path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(json_path, json.dumps(self.to_dict(), indent=1) + "\n")
        _atomic_write(json_path.with_suffix(".csv"), _csv(CSV_COLUMNS, [r.to_row() for r in self.rows]))
        fits = [{k: ("" if v is None else v) for k, v in f.to_dict().items()} for f in self.fits]
        _atomic_write(json_path.with_name("synth_fits.csv"), _csv(FIT_COLUMNS, fits))

    @classmethod
    def read(cls, json_path: str | Path) -> ResultsTable:
        """Read a JSON table; ``RistrettoSimError`` names the file if it is malformed."""
        json_path = Path(json_path)
        try:
            data = json.loads(json_path.read_text())
            rows = tuple(SynthResult.from_dict(d) for d in data["rows"])
        except FileNotFoundError:
            raise FileNotFoundError(f"synthesis results table {json_path} not found") from None
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise RistrettoSimError(f"{json_path}: not a synthesis results table ({exc})") from None
        return cls(rows, dict(data.get("config", {})))


def _csv(columns, rows) -> str:
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in columns})
    return buf.getvalue()
