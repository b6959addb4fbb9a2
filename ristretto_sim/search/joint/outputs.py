"""What a joint search leaves in its output folder, all derived from the study (it can be written again at any
time, e.g. after a resume):

* ``pareto.csv``: one row per point of the feasible front (validation figures, the held-out test top-1, energy,
  latency, cycles, area and its source, the plan and accelerator files);
* ``trials.csv``: every trial (state, parameters, figures, why a point was infeasible);
* ``pareto/point_NNN.plan.yaml`` and ``pareto/point_NNN.accelerator.yaml`` per front point (``NNN`` its trial);
* ``references.csv``: float baseline, uniform int8, uniform 16-bit and the Ristretto greedy result on both splits;
* ``summary.json``: the setup, the references and the quality figures (the lowest-energy point within 0.3 points
  of uniform int8 on the test split and its energy ratio; which front points dominate the greedy result);
* ``pareto_accuracy_vs_energy.png`` (and vs latency, vs area): the front with the references marked;
* with ``verify_rtl`` (module ``verification``): ``rtl_verification.json``, a ``rtl_verified`` column in
  ``pareto.csv`` (``verified``, ``failed`` or ``not supported``; ``rtl_note`` the first mismatch or the reason)
  and the counts, the failed and the unsupported points in ``summary.json`` (``rtl_verification``).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ristretto_sim.search.joint.objectives import Measurement
from ristretto_sim.search.joint.pareto import dominates

#: the largest top-1 drop below uniform int8 (test split) of the point the energy ratio is reported for
INT8_DROP_POINTS = 0.3

_FIGURES = ("accuracy", "energy_pj", "latency_s", "cycles", "area_um2", "fpga_luts", "dram_bytes", "overflows")


def _row(trial, search) -> dict:
    m = Measurement.from_dict(trial.user_attrs["measurement"]) if "measurement" in trial.user_attrs else None
    row = {"trial": trial.number, "state": trial.state.name}
    row.update({f"param:{k}": v for k, v in trial.params.items()})
    if m is not None:
        row.update({k: getattr(m, k) for k in _FIGURES})
        row["area_source"] = m.area_source
        row["feasible"] = all(c <= 0 for c in trial.user_attrs.get("constraints", [0.0]))
        row["reused"] = trial.user_attrs.get("reused", False)
    row["infeasible"] = trial.user_attrs.get("infeasible", "")
    return row


def _write_csv(path: Path, rows: list[dict]) -> Path:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    return path


def quality(search, front) -> dict:
    """The issue's quality figures on the held-out test split (module docstring)."""
    refs = search.references
    out: dict = {}
    int8 = refs.get("uniform int8")
    if int8 is not None:
        ok = [t for t in front if 100 * (int8.test_accuracy - search.test_accuracy(t)) <= INT8_DROP_POINTS]
        if ok:
            best = min(ok, key=lambda t: t.user_attrs["measurement"]["energy_pj"])
            e = best.user_attrs["measurement"]["energy_pj"]
            out["int8"] = {"test_accuracy": int8.test_accuracy, "energy_pj": int8.measurement.energy_pj,
                           "best_trial": best.number, "best_test_accuracy": search.test_accuracy(best),
                           "best_energy_pj": e, "energy_ratio": int8.measurement.energy_pj / e,
                           "max_drop_points": INT8_DROP_POINTS}
    greedy = refs.get("ristretto greedy")
    if greedy is not None:
        g = (-greedy.test_accuracy, greedy.measurement.energy_pj)
        dom = [t.number for t in front
               if dominates((-search.test_accuracy(t), t.user_attrs["measurement"]["energy_pj"]), g)]
        out["greedy"] = {"test_accuracy": greedy.test_accuracy, "energy_pj": greedy.measurement.energy_pj,
                         "params": dict(greedy.params), "dominated_by_trials": dom}
    return out


def write_outputs(search, front, *, seconds: float | None = None, verify_rtl: bool | None = None,
                  rtl_progress=None) -> dict:
    """Write every output of the module docstring into ``search.settings.out``; returns the summary.

    ``verify_rtl`` (default ``search.settings.verify_rtl``) checks the front's PEs first (``verification``); the
    summary's ``rtl_verification`` holds the counts and the failed points; ``rtl_progress`` is
    ``verification.verify_front``'s callback."""
    out = search.settings.out
    if verify_rtl is None:
        verify_rtl = search.settings.verify_rtl
    checked = None
    if verify_rtl:
        from ristretto_sim.search.joint.verification import verify_front

        checked = verify_front(search, front, progress=rtl_progress)
    by_trial = checked.by_trial() if checked is not None else {}
    points = out / "pareto"
    points.mkdir(parents=True, exist_ok=True)
    rows = []
    for t in front:
        cand = search.candidate(t.params)
        plan_path = cand.plan.save(points / f"point_{t.number:04d}.plan.yaml")
        acc_path = points / f"point_{t.number:04d}.accelerator.yaml"
        cand.config.to_yaml(acc_path)
        row = _row(t, search)
        row["test_accuracy"] = search.test_accuracy(t)
        row["plan"] = str(plan_path.relative_to(out))
        row["accelerator"] = str(acc_path.relative_to(out))
        if checked is not None:
            row["rtl_verified"] = by_trial[t.number].status
            row["rtl_note"] = by_trial[t.number].detail
        rows.append(row)
    _write_csv(out / "pareto.csv", rows)
    _write_csv(out / "trials.csv", [_row(t, search) for t in search.study.get_trials(deepcopy=False)])
    refs = [{"name": "float32", "accuracy": search.baseline("validation"), "test_accuracy": search.baseline("test")}]
    for r in search.references.values():
        refs.append({"name": r.name, **{k: getattr(r.measurement, k) for k in _FIGURES},
                     "test_accuracy": r.test_accuracy, "area_source": r.measurement.area_source,
                     **{f"param:{k}": v for k, v in r.params.items()}})
    _write_csv(out / "references.csv", refs)
    summary = {
        "study": search.settings.study, "storage": search.url, "sampler": search.settings.sampler,
        "objectives": [o.name for o in search.settings.objectives],
        "constraints": search.settings.constraints.as_dict(),
        "data": search.problem.data.note, "validation_images": len(search.problem.data.validation),
        "test_images": len(search.problem.data.test), "complete_trials": search.complete(),
        "front_size": len(front), "hypervolume": search.front_hypervolume(front),
        "baseline": {"validation": search.baseline("validation"), "test": search.baseline("test")},
        "references": refs, "quality": quality(search, front), "area_source":
            front[0].user_attrs["measurement"]["area_source"] if front else "",
    }
    if search.problem.synthesis is not None:
        summary["synthesis"] = {"table": str(search.problem.synthesis.path),
                                "results_added_by_this_run": search.problem.synthesis.synthesized}
    if checked is not None:
        summary["rtl_verification"] = {**checked.counts(), "failures": [
            {"trial": p.trial, "detail": p.detail} for p in checked.failures], "unsupported": [
            {"trial": p.trial, "detail": p.detail} for p in checked.points if p.status == "not supported"]}
    if seconds is not None:
        summary["seconds"] = seconds
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    summary["plots"] = [str(p) for p in plot_front(search, front, rows, out)]
    return summary


def _staircase(rows, key: str) -> list:
    """The rows no other row beats in both ``key`` (lower is better) and test accuracy, by increasing ``key``."""
    best, top = [], -1.0
    for r in sorted(rows, key=lambda r: (r[key], -r["test_accuracy"])):
        if r["test_accuracy"] > top:
            best.append(r)
            top = r["test_accuracy"]
    return best


def plot_front(search, front, rows, out: Path) -> list[Path]:
    """Accuracy (test split) against energy, latency and area, the references marked; one PNG each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    refs = search.references
    for key, scale, label, name in (("energy_pj", 1e-6, "energy per inference (uJ)", "energy"),
                                    ("latency_s", 1e3, "latency per inference (ms)", "latency"),
                                    ("area_um2", 1e-6, "area (mm^2)", "area")):
        fig, ax = plt.subplots(figsize=(6, 4))
        done = [t for t in search.feasible_trials()]
        ax.scatter([t.user_attrs["measurement"][key] * scale for t in done],
                   [100 * t.user_attrs["measurement"]["accuracy"] for t in done], s=8, c="#bbbbbb",
                   label="trials (validation)")
        # the study's front points (non-dominated over all its objectives), and on this panel's two axes the ones
        # no other point beats in both: a line through every front point sorted by this axis would zigzag and
        # look like a front it is not
        ax.scatter([r[key] * scale for r in rows], [100 * r["test_accuracy"] for r in rows], s=22, c="#1f77b4",
                   label="Pareto front points (test)", zorder=2)
        best = _staircase(rows, key)
        ax.step([r[key] * scale for r in best], [100 * r["test_accuracy"] for r in best], where="post", c="#1f77b4",
                lw=1.2, label=f"best top-1 for its {name} (test)")
        for (rname, marker, color) in (("uniform int8", "s", "#d62728"), ("uniform 16-bit", "^", "#9467bd"),
                                       ("ristretto greedy", "D", "#2ca02c")):
            r = refs.get(rname)
            if r is not None:
                ax.scatter([getattr(r.measurement, key) * scale], [100 * r.test_accuracy], marker=marker, s=60,
                           c=color, label=f"{rname} (test)", zorder=3)
        ax.axhline(100 * search.baseline("test"), ls="--", c="k", lw=0.8, label="float32 (test)")
        ax.set_xlabel(label)
        ax.set_ylabel("top-1 (%)")
        lo = min([100 * r["test_accuracy"] for r in rows] + [100 * r.test_accuracy for r in refs.values()])
        ax.set_ylim(max(0.0, lo - 2), 100 * search.baseline("test") + 0.5)
        ax.set_title(f"{search.problem.network.name}: accuracy vs {name}")
        ax.legend(fontsize=7, loc="lower right")
        fig.tight_layout()
        path = out / f"pareto_accuracy_vs_{name}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths
