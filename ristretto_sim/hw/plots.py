"""Plots of reports: per-layer energy (stacked by component), cycles (compute and stall) and utilisation; a
roofline; accelerators side by side; a sweep.

Layers are labelled with their short unique labels (``ristretto_sim.hw.names``); figures grow with the number
of layers and use matplotlib's constrained layout, so long labels never overlap and no layout warning is raised.
matplotlib is imported inside the functions (non-interactive Agg backend), so importing ``hw`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

_PARTS = (
    ("arithmetic_pj", "PE arithmetic"),
    ("registers_pj", "PE registers"),
    ("vector_pj", "vector unit"),
    ("sram_pj", "SRAM"),
    ("dram_pj", "DRAM"),
    ("leakage_pj", "leakage"),
)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _labels(report) -> list[str]:
    return [x.label or x.name for x in report.layers]


def plot_report(report, path: str | Path) -> None:
    """Write a three-panel figure to ``path``: energy per layer (stacked by component, uJ), cycles per layer
    (compute and stall) and utilisation per layer (array layers: MACs over PE-cycles; vector layers have none)."""
    plt = _pyplot()
    names = _labels(report)
    xs = list(range(len(names)))
    width = max(6.0, 0.45 * len(names) + 2.5)
    fig, (ax_e, ax_c, ax_u) = plt.subplots(3, 1, figsize=(width, 10), sharex=True, layout="constrained")
    bottom = [0.0] * len(names)
    for attr, label in _PARTS:
        values = [getattr(x.energy, attr) / 1e6 for x in report.layers]
        if any(values):
            ax_e.bar(xs, values, bottom=bottom, label=label)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax_e.set_ylabel("energy (uJ)")
    ax_e.legend(fontsize="small", ncols=3)
    ax_e.set_title(f"{report.config.get('name', '')}: energy, cycles and utilisation per layer")
    compute = [x.compute_cycles for x in report.layers]
    stall = [x.stall_cycles for x in report.layers]
    ax_c.bar(xs, compute, label="compute")
    ax_c.bar(xs, stall, bottom=compute, label="stall")
    ax_c.set_ylabel("cycles")
    ax_c.legend(fontsize="small")
    ax_u.bar(xs, [100 * x.utilization for x in report.layers], label="overall")
    ax_u.plot(xs, [100 * x.compute_utilization for x in report.layers], "k.", label="while computing")
    ax_u.set_ylabel("PE utilisation (%)")
    ax_u.set_ylim(0, 100)
    ax_u.legend(fontsize="small")
    ax_u.set_xticks(xs)
    ax_u.set_xticklabels(names, rotation=60, ha="right", fontsize="small")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def roofline_points(report) -> list[tuple[str, float, float, float]]:
    """(label, operational intensity in MACs per DRAM byte, attained MACs per cycle, MACs per cycle at the layer's
    bound) of each array layer. The bound (``LayerReport.bound_cycles``) is under the array's roof by the layer's
    mapping efficiency and cycles per MAC."""
    points = []
    for x in report.layers:
        moved = x.dram_read_bytes + x.dram_write_bytes
        if x.macs and moved and x.total_cycles:
            points.append((x.label or x.name, x.macs / moved, x.macs / x.total_cycles, x.macs / max(1, x.bound_cycles)))
    return points


_CELL = 0.03  # decades: points closer than this on both log axes share one tag (about 7 %)


def _cell(x: float, y: float) -> tuple[int, int]:
    import math

    return round(math.log10(x) / _CELL), round(math.log10(y) / _CELL)


def plot_roofline(report, path: str | Path) -> None:
    """Write the roofline of ``report`` to ``path``: attained MACs per cycle against MACs per DRAM byte for each
    array layer, under the array's compute roof (R x C) and the DRAM bandwidth roof, each joined to its own bound
    (``roofline_points``). Each point is tagged with its layer's index in the network (layers that land on nearly
    the same point, as repeated blocks do, share one tag such as ``2,6,10``), and a list beside the plot gives
    each index's label and the fraction of its bound attained, so no text is printed over other text."""
    plt = _pyplot()
    cfg = report.config
    peak = cfg["rows"] * cfg["cols"]
    bw = cfg["dram"]["bandwidth_bytes_per_cycle"]
    points = roofline_points(report)
    index = {x.label or x.name: i for i, x in enumerate(report.layers)}
    height = max(5.5, 0.16 * len(points) + 1.5)
    fig, (ax, ax_list) = plt.subplots(1, 2, figsize=(11.0, height), width_ratios=(2.4, 1), layout="constrained")
    ax_list.axis("off")
    if points:
        xs = [p[1] for p in points]
        lo, hi = min(xs) / 4, max(xs) * 4
        grid = [lo * (hi / lo) ** (i / 200) for i in range(201)]
        roof = [peak if bw is None else min(peak, bw * x) for x in grid]
        ax.plot(grid, roof, "k-", label=f"roof: {peak} MAC/cycle" + ("" if bw is None else f", {bw:g} B/cycle"))
        groups: dict[tuple[int, int], list[tuple[int, float, float]]] = {}
        for i, (label, x, y, b) in enumerate(points):
            ax.plot([x, x], [y, b], "-", color="0.6", linewidth=0.8)
            ax.plot(x, b, "k_", markersize=10, label="layer bound" if i == 0 else None)
            ax.plot(x, y, "o", label="attained" if i == 0 else None)
            groups.setdefault(_cell(x, y), []).append((index[label], x, y))
        for members in groups.values():
            _, x, y = members[0]
            ax.annotate(",".join(str(m[0]) for m in members), (x, y), fontsize="x-small", xytext=(3, 3),
                        textcoords="offset points")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.legend(fontsize="small", loc="lower right")
        rows = [f"{index[label]:>3}  {label}  ({y / b:.0%} of its bound)" for label, _, y, b in points]
        ax_list.text(0, 1, "layer  label  (attained)\n" + "\n".join(rows), va="top", ha="left",
                     family="monospace", fontsize="x-small", transform=ax_list.transAxes)
    ax.set_xlabel("operational intensity (MACs per DRAM byte)")
    ax.set_ylabel("attained MACs per cycle")
    ax.set_title(f"{cfg.get('name', '')}: roofline of the array layers")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_comparison(reports: dict, path: str | Path) -> None:
    """Accelerators side by side: total cycles, energy by component and area, one bar group per accelerator."""
    plt = _pyplot()
    names = list(reports)
    xs = list(range(len(names)))
    fig, (ax_c, ax_e, ax_a) = plt.subplots(1, 3, figsize=(max(9.0, 2.2 * len(names) + 4), 4.5), layout="constrained")
    ax_c.bar(xs, [r.total.total_cycles for r in reports.values()])
    ax_c.set_ylabel("cycles")
    bottom = [0.0] * len(names)
    for attr, label in _PARTS:
        values = [getattr(r.total.energy, attr) / 1e6 for r in reports.values()]
        if any(values):
            ax_e.bar(xs, values, bottom=bottom, label=label)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax_e.set_ylabel("energy (uJ)")
    ax_e.legend(fontsize="x-small")
    ax_a.bar(xs, [r.area["total_um2"] / 1e6 for r in reports.values()])
    ax_a.set_ylabel("area (mm^2)")
    for ax in (ax_c, ax_e, ax_a):
        ax.set_xticks(xs)
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize="small")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_sweep(points: list[dict], rows: list[dict], path: str | Path) -> None:
    """A sweep: total cycles, energy and utilisation of each point, one bar per point; ``rows`` are the sweep
    table's rows (``hw.sweep.COMPARED`` labels -> values)."""
    plt = _pyplot()
    labels = [", ".join(f"{k}={v}" for k, v in p.items()) for p in points]
    xs = list(range(len(labels)))
    fig, (ax_c, ax_e, ax_u) = plt.subplots(
        3, 1, figsize=(max(6.0, 0.6 * len(labels) + 3), 9), sharex=True, layout="constrained"
    )
    ax_c.bar(xs, [float(r["total cycles"]) for r in rows])
    ax_c.set_ylabel("cycles")
    ax_e.bar(xs, [float(r["energy uJ"]) for r in rows])
    ax_e.set_ylabel("energy (uJ)")
    ax_u.bar(xs, [float(r["utilisation %"]) for r in rows])
    ax_u.set_ylabel("PE utilisation (%)")
    ax_u.set_xticks(xs)
    ax_u.set_xticklabels(labels, rotation=45, ha="right", fontsize="small")
    ax_c.set_title("sweep")
    fig.savefig(path, dpi=100)
    plt.close(fig)
