"""An HTML document built of sections, tables and figures, every figure a PNG embedded as a ``data:`` URI, so the
file is self-contained (no script, stylesheet or image is fetched from anywhere)."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

STYLE = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}
th{background:#f0f0f0}td.n{text-align:right;font-variant-numeric:tabular-nums}img{max-width:100%}
h2{border-bottom:2px solid #ddd;padding-bottom:3px;margin-top:2em}p.note{color:#555;font-size:13px}"""


def figure_uri(fig, dpi: int = 100) -> str:
    """A matplotlib figure as a ``data:image/png;base64,...`` URI (the figure is closed)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _cell(value) -> str:
    if isinstance(value, float):
        return f'<td class="n">{value:.4g}</td>'
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="n">{value:,}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def table_html(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """An HTML table; floats with 4 significant digits, integers with thousands separators, text escaped."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(v) for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@dataclass
class Document:
    """An HTML document: a title and sections of HTML fragments."""

    title: str
    sections: list[tuple[str, list[str]]] = field(default_factory=list)

    def section(self, heading: str) -> list[str]:
        """A new section; append HTML fragments to the list returned."""
        parts: list[str] = []
        self.sections.append((heading, parts))
        return parts

    @staticmethod
    def paragraph(text: str, note: bool = False) -> str:
        return f'<p{" class=note" if note else ""}>{html.escape(text)}</p>'

    @staticmethod
    def image(uri: str, alt: str) -> str:
        if not uri.startswith("data:image/png;base64,"):
            raise ValueError(f"image {alt!r}: only embedded data: URIs keep the report self-contained")
        return f'<img src="{uri}" alt="{html.escape(alt)}">'

    def render(self) -> str:
        toc = "".join(f'<li><a href="#s{i}">{html.escape(h)}</a></li>' for i, (h, _) in enumerate(self.sections))
        body = "".join(f'<h2 id="s{i}">{html.escape(h)}</h2>' + "".join(parts)
                       for i, (h, parts) in enumerate(self.sections))
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(self.title)}'
                f"</title><style>{STYLE}</style></head><body><h1>{html.escape(self.title)}</h1><ul>{toc}</ul>"
                f"{body}</body></html>\n")
