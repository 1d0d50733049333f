"""Markdown and HTML reports: headings, paragraphs, tables, figures, code; written atomically.

A :class:`Report` collects blocks and writes them twice: ``<name>.md`` (GitHub-flavoured
Markdown, figures referenced by relative path) and ``<name>.html`` (one self-contained file:
figures embedded as base64 ``data:`` URIs, a small inline stylesheet, no scripts, no external
resources). Every piece of text is escaped for the format it is written in, so labels, file
names and error messages cannot break the page.

Inline markup (in paragraphs, list items and table cells): ``` `code` ``` and ``**bold**``;
everything else is literal text.

Examples
--------
>>> from musicrep.report import Report
>>> r = Report("Benchmark")
>>> r.add_paragraph("Models embedded with `musicrep embed`.")
>>> r.add_table([["style", "**61.2 ± 1.0**"]], header=["task", "mfcc"])
>>> r.add_figure("reports/x/style.png", "Accuracy on corpus-style")  # doctest: +SKIP
>>> md_path, html_path = r.write("reports/x")                        # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from musicrep.errors import ConfigError
from musicrep.utils import atomic_path, write_text_atomic

__all__ = ["Report"]

_MIME = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
}
_ALIGN = {"left": ":---", "right": "---:", "center": ":---:"}

_CSS = """\
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:72rem;
margin:2rem auto;padding:0 1rem;line-height:1.45;color:#1b1b1b}
h1,h2,h3{line-height:1.2}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.8rem 0;font-size:.92rem}
th,td{border:1px solid #ccc;padding:.3rem .6rem;vertical-align:top}th{background:#f3f3f3}
td.r{text-align:right;font-variant-numeric:tabular-nums}td.c{text-align:center}
code{background:#f3f3f3;padding:0 .2rem;border-radius:3px;font-size:.9em}
pre{background:#f6f6f6;border:1px solid #e2e2e2;padding:.7rem;overflow-x:auto}
pre code{background:none;padding:0}figure{margin:1rem 0}figure img{max-width:100%}
figcaption{color:#555;font-size:.9rem}
"""


@dataclass(frozen=True)
class _Block:
    kind: str
    data: tuple


def _inline_html(text: str) -> str:
    """Escape ``text`` for HTML, then render ``` `code` ``` and ``**bold**``."""
    out = []
    for i, part in enumerate(re.split(r"(`[^`\n]+`)", str(text))):
        if i % 2:
            out.append(f"<code>{html.escape(part[1:-1])}</code>")
        else:
            esc = html.escape(part)
            out.append(re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", esc))
    return "".join(out)


def _md_cell(text: object) -> str:
    """A table cell for Markdown: pipes escaped, line breaks as ``<br>``."""
    return str(text).replace("|", "\\|").replace("\r\n", "\n").replace("\n", "<br>")


def _fence(text: str) -> str:
    """A backtick fence longer than any run of backticks in ``text``."""
    runs = [len(m) for m in re.findall(r"`+", text)]
    return "`" * max(3, max(runs, default=0) + 1)


class Report:
    """A document of blocks written as Markdown and self-contained HTML.

    Parameters
    ----------
    title : str
        The document title (the ``<h1>``).
    """

    def __init__(self, title: str):
        self.title = str(title)
        self._blocks: list[_Block] = []

    # ------------------------------------------------------------------ building
    def add_heading(self, text: str, level: int = 2) -> None:
        """A section heading; ``level`` 2 (section) to 6 (1 is the title)."""
        if not 1 <= int(level) <= 6:
            raise ConfigError(f"heading level must be 1..6; got {level!r}")
        self._blocks.append(_Block("heading", (str(text), int(level))))

    def add_paragraph(self, text: str) -> None:
        """A paragraph of text (inline ``` `code` ``` and ``**bold**`` are rendered)."""
        self._blocks.append(_Block("paragraph", (str(text),)))

    def add_list(self, items: Sequence[str]) -> None:
        """A bulleted list (inline markup as in paragraphs)."""
        self._blocks.append(_Block("list", (tuple(str(i) for i in items),)))

    def add_table(
        self,
        rows: Sequence[Sequence[object]],
        header: Sequence[object],
        *,
        align: Sequence[str] | None = None,
    ) -> None:
        """A table.

        Parameters
        ----------
        rows : sequence of sequences
            Cells (converted with ``str``; inline markup rendered); each row as long as
            ``header``.
        header : sequence
            Column names.
        align : sequence of {"left", "right", "center"}, optional
            Per-column alignment (default: left).
        """
        header = tuple(str(h) for h in header)
        body = tuple(tuple(str(c) for c in row) for row in rows)
        for i, row in enumerate(body):
            if len(row) != len(header):
                raise ConfigError(
                    f"table row {i} has {len(row)} cells but the header has {len(header)}"
                )
        al = tuple(align) if align is not None else ("left",) * len(header)
        if len(al) != len(header) or any(a not in _ALIGN for a in al):
            raise ConfigError(
                f"align must give one of {', '.join(_ALIGN)} per column; got {list(al)}"
            )
        self._blocks.append(_Block("table", (header, body, al)))

    def add_figure(self, path: str | os.PathLike, caption: str = "") -> None:
        """An image file (PNG, JPEG, SVG, ...), with a caption.

        In Markdown the image is referenced relative to the report folder (a file outside the
        folder is copied into it when the report is written); in HTML it is embedded.
        """
        p = Path(path)
        if p.suffix.lower() not in _MIME:
            raise ConfigError(
                f"figure {p}: unsupported image type {p.suffix!r}",
                f"use one of {', '.join(sorted(_MIME))}",
            )
        self._blocks.append(_Block("figure", (p, str(caption))))

    def add_code(self, text: str, language: str = "") -> None:
        """A preformatted block (commands, configuration); shown verbatim."""
        self._blocks.append(_Block("code", (str(text).rstrip("\n"), str(language))))

    # ------------------------------------------------------------------ rendering
    def _figure_target(self, path: Path, folder: Path) -> str:
        """Relative path of a figure from ``folder`` (the file copied in if outside)."""
        src = path.resolve()
        try:
            return src.relative_to(folder.resolve()).as_posix()
        except ValueError:
            return path.name

    def to_markdown(self, folder: str | os.PathLike = ".") -> str:
        """The Markdown text; figure paths relative to ``folder``."""
        folder = Path(folder)
        lines = [f"# {self.title}", ""]
        for b in self._blocks:
            if b.kind == "heading":
                text, level = b.data
                lines += ["#" * level + " " + text.replace("\n", " "), ""]
            elif b.kind == "paragraph":
                lines += [b.data[0], ""]
            elif b.kind == "list":
                lines += [f"- {item}" for item in b.data[0]] + [""]
            elif b.kind == "table":
                header, body, al = b.data
                lines.append("| " + " | ".join(_md_cell(h) for h in header) + " |")
                lines.append("|" + "|".join(_ALIGN[a] for a in al) + "|")
                lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in body]
                lines.append("")
            elif b.kind == "figure":
                path, caption = b.data
                target = self._figure_target(path, folder)
                alt = caption.replace("[", "(").replace("]", ")").replace("\n", " ")
                lines += [f"![{alt}]({target.replace(' ', '%20')})", ""]
                if caption:
                    lines += [f"*{caption}*", ""]
            elif b.kind == "code":
                text, lang = b.data
                fence = _fence(text)
                lines += [f"{fence}{lang}", text, fence, ""]
        return "\n".join(lines).rstrip("\n") + "\n"

    def to_html(self) -> str:
        """The self-contained HTML page (figures embedded as base64)."""
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(self.title)}</title>",
            f"<style>{_CSS}</style></head><body>",
            f"<h1>{html.escape(self.title)}</h1>",
        ]
        for b in self._blocks:
            if b.kind == "heading":
                text, level = b.data
                parts.append(f"<h{level}>{html.escape(text)}</h{level}>")
            elif b.kind == "paragraph":
                parts.append(f"<p>{_inline_html(b.data[0])}</p>")
            elif b.kind == "list":
                items = "".join(f"<li>{_inline_html(i)}</li>" for i in b.data[0])
                parts.append(f"<ul>{items}</ul>")
            elif b.kind == "table":
                header, body, al = b.data
                cls = {"left": "", "right": ' class="r"', "center": ' class="c"'}
                head = "".join(f"<th>{_inline_html(h)}</th>" for h in header)
                rows = "".join(
                    "<tr>"
                    + "".join(f"<td{cls[a]}>{_inline_html(c)}</td>" for c, a in zip(row, al))
                    + "</tr>"
                    for row in body
                )
                parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
            elif b.kind == "figure":
                path, caption = b.data
                try:
                    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
                except OSError as exc:
                    raise ConfigError(f"figure {path} cannot be read: {exc}") from None
                mime = _MIME[Path(path).suffix.lower()]
                cap = f"<figcaption>{_inline_html(caption)}</figcaption>" if caption else ""
                parts.append(
                    f'<figure><img alt="{html.escape(caption, quote=True)}" '
                    f'src="data:{mime};base64,{data}">{cap}</figure>'
                )
            elif b.kind == "code":
                text, lang = b.data
                attr = f' class="language-{html.escape(lang, quote=True)}"' if lang else ""
                parts.append(f"<pre><code{attr}>{html.escape(text)}</code></pre>")
        parts.append("</body></html>")
        return "\n".join(parts) + "\n"

    def write(self, folder: str | os.PathLike, name: str = "report") -> tuple[Path, Path]:
        """Write ``folder/<name>.md`` and ``folder/<name>.html`` (each atomically).

        Figures outside ``folder`` are copied into it first (atomically, under their file
        name), so the Markdown's relative links work.

        Returns
        -------
        (md_path, html_path)
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for b in self._blocks:
            if b.kind != "figure":
                continue
            path = b.data[0]
            if not path.is_file():
                raise ConfigError(f"figure {path} does not exist")
            target = folder / self._figure_target(path, folder)
            if target.resolve() != path.resolve():
                with atomic_path(target) as tmp:
                    shutil.copyfile(path, tmp)
        md_path, html_path = folder / f"{name}.md", folder / f"{name}.html"
        html_text = self.to_html()  # reads the figures: fail before writing anything
        write_text_atomic(md_path, self.to_markdown(folder))
        write_text_atomic(html_path, html_text)
        return md_path, html_path
