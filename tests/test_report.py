"""musicrep.report: Markdown + self-contained HTML, escaping, figures, atomic writes."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from musicrep.errors import ConfigError
from musicrep.report import Report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png(path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1.5))
    fig.subplots().plot(np.arange(5), np.arange(5) ** 2)
    fig.savefig(path, format="png", dpi=40)
    return path


class _Checker(HTMLParser):
    """Collects the tags and text of a page, and mismatched end tags."""

    VOID = {"meta", "img", "br", "link"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.tags, self.text = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        else:
            self.errors.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def _parse(html_text):
    c = _Checker()
    c.feed(html_text)
    return c


def test_write_markdown_and_html(tmp_path):
    fig = _png(tmp_path / "plot.png")
    out = tmp_path / "rep"
    r = Report("Bench <1>")
    r.add_heading("Results")
    r.add_paragraph("Made with `musicrep embed` and **bold** claims.")
    r.add_list(["first `x`", "second"])
    r.add_table(
        [["style", "**61.20 ± 1.00**"], ["tags", "a|b"]], ["task", "mfcc"], align=["left", "right"]
    )
    r.add_figure(fig, "A plot")
    r.add_code("musicrep benchmark --tasks corpus-style\n", "sh")
    md_path, html_path = r.write(out)

    assert md_path == out / "report.md" and html_path == out / "report.html"
    md = md_path.read_text(encoding="utf-8")
    assert md.startswith("# Bench <1>\n")
    assert "## Results" in md
    assert "| task | mfcc |\n|:---|---:|\n| style | **61.20 ± 1.00** |\n| tags | a\\|b |" in md
    # the figure outside the folder was copied in and is linked relatively
    assert "![A plot](plot.png)" in md
    assert (out / "plot.png").read_bytes() == fig.read_bytes()
    assert "```sh\nmusicrep benchmark --tasks corpus-style\n```" in md

    page = html_path.read_text(encoding="utf-8")
    checker = _parse(page)
    assert checker.errors == [] and checker.stack == []
    assert "<code>musicrep embed</code>" in page and "<strong>bold</strong>" in page
    assert '<td class="r"><strong>61.20 ± 1.00</strong></td>' in page
    # self-contained: the image is embedded, nothing is fetched
    imgs = [a for t, a in checker.tags if t == "img"]
    assert len(imgs) == 1 and imgs[0]["src"].startswith("data:image/png;base64,")
    assert base64.b64decode(imgs[0]["src"].split(",", 1)[1]) == fig.read_bytes()
    assert not any(t in ("script", "link") for t, _ in checker.tags)
    # no temporary files are left behind
    assert sorted(p.name for p in out.iterdir()) == ["plot.png", "report.html", "report.md"]


def test_html_escapes_every_text(tmp_path):
    evil = '<script>alert("x")</script> & <b>'
    r = Report(evil)
    r.add_heading(evil)
    r.add_paragraph(evil + " `<i>code</i>` **<u>bold</u>**")
    r.add_list([evil])
    r.add_table([[evil, "1"]], [evil, "n"])
    r.add_code(evil)
    _, html_path = r.write(tmp_path)
    page = html_path.read_text(encoding="utf-8")
    assert "<script>" not in page and "<b>" not in page and "<i>" not in page
    assert "<u>" not in page
    assert (
        page.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;") == 8
    )  # title, h1, h2, p, li, th, td, pre
    assert "<code>&lt;i&gt;code&lt;/i&gt;</code>" in page
    assert "<strong>&lt;u&gt;bold&lt;/u&gt;</strong>" in page
    checker = _parse(page)
    assert checker.errors == [] and checker.stack == []
    assert {t for t, _ in checker.tags} <= {
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "h1",
        "h2",
        "p",
        "code",
        "strong",
        "ul",
        "li",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "pre",
    }


def test_code_block_fence_survives_backticks(tmp_path):
    r = Report("t")
    r.add_code("echo ```not a fence```")
    md = r.to_markdown(tmp_path)
    assert "````\necho ```not a fence```\n````" in md


def test_figure_inside_folder_is_referenced_in_place(tmp_path):
    sub = tmp_path / "cca"
    sub.mkdir()
    fig = _png(sub / "cca.png")
    r = Report("t")
    r.add_figure(fig, "inside")
    md_path, _ = r.write(tmp_path)
    assert "![inside](cca/cca.png)" in md_path.read_text(encoding="utf-8")
    assert not (tmp_path / "cca.png").exists()


def test_errors(tmp_path):
    r = Report("t")
    with pytest.raises(ConfigError, match="row 0 has 1 cells but the header has 2"):
        r.add_table([["a"]], ["x", "y"])
    with pytest.raises(ConfigError, match="align"):
        r.add_table([["a", "b"]], ["x", "y"], align=["left", "middle"])
    with pytest.raises(ConfigError, match="unsupported image type"):
        r.add_figure(tmp_path / "x.pdf")
    with pytest.raises(ConfigError, match="heading level"):
        r.add_heading("x", level=7)
    r.add_figure(tmp_path / "missing.png", "gone")
    with pytest.raises(ConfigError, match="does not exist"):
        r.write(tmp_path / "out")
    assert not (tmp_path / "out" / "report.md").exists()


def test_rewrite_replaces_atomically(tmp_path):
    r = Report("first")
    r.write(tmp_path)
    r2 = Report("second")
    md, html_path = r2.write(tmp_path)
    assert md.read_text(encoding="utf-8").startswith("# second")
    assert re.search(r"<h1>second</h1>", html_path.read_text(encoding="utf-8"))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
