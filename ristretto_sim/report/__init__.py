"""The self-contained HTML report of a model: float baseline, Ristretto's analysis, the chosen plan, per-layer
cycles and energy on an accelerator, utilisation and roofline, area, and the joint search's Pareto front.

``html`` builds the document (sections, tables, figures embedded as ``data:`` URIs: one file, nothing fetched);
``model_report`` gathers the figures from the public API (``score``, ``search.quantize``, ``hw.simulate``, a
search folder's CSV files) and writes the file.
"""

from ristretto_sim.report.html import Document, figure_uri, table_html
from ristretto_sim.report.model_report import ReportInputs, build_report, write_report

__all__ = ["Document", "ReportInputs", "build_report", "figure_uri", "table_html", "write_report"]
