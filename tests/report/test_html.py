"""The report's HTML: well formed, every image embedded as a PNG data: URI, nothing fetched from elsewhere."""

import base64
from html.parser import HTMLParser

import pytest

from ristretto_sim.report import Document, figure_uri, table_html

VOID = {"meta", "img", "br", "hr", "link", "input"}


class _Checker(HTMLParser):
    """Collects the images and external references, and checks that every element is closed in order."""

    def __init__(self):
        super().__init__()
        self.stack, self.images, self.external, self.errors = [], [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a.get("src", ""))
        for key in ("src", "href"):
            v = a.get(key)
            if v is not None and not (v.startswith("data:") or v.startswith("#")):
                self.external.append(v)
        if tag == "script":
            self.external.append("<script>")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
        else:
            self.stack.pop()


def check_self_contained(text: str) -> list[bytes]:
    """Assert ``text`` is well formed and self-contained; return the decoded PNG images."""
    assert text.startswith("<!DOCTYPE html>")
    c = _Checker()
    c.feed(text)
    c.close()
    assert not c.errors and not c.stack, (c.errors, c.stack)
    assert not c.external, c.external
    pngs = []
    for src in c.images:
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix), src[:40]
        data = base64.b64decode(src[len(prefix):], validate=True)
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        pngs.append(data)
    return pngs


def test_document_escapes_and_embeds():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    doc = Document("a <title> & more")
    part = doc.section("numbers")
    part.append(table_html(["a", "b<"], [[1234567, 0.123456], ["<x>", 3]]))
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    part.append(doc.image(figure_uri(fig), "line"))
    text = doc.render()
    assert "&lt;title&gt; &amp; more" in text and "1,234,567" in text and "0.1235" in text and "&lt;x&gt;" in text
    assert len(check_self_contained(text)) == 1


def test_an_image_that_is_not_embedded_is_refused():
    with pytest.raises(ValueError, match="only embedded data: URIs"):
        Document.image("https://example.org/x.png", "remote")
