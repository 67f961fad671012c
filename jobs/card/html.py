"""The dataset card as one self-contained HTML file: the card's sections (jobs/card.py) with the plots inline as
base64 PNGs, so the file can be mailed, attached to a release or opened offline with nothing beside it."""
from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import polars as pl

STYLE = """body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222}h1{border-bottom:2px solid #444}h2{margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}th,td{border:1px solid #ccc;padding:.25em .6em}
th{background:#f2f2f2}td.n{text-align:right;font-variant-numeric:tabular-nums}figure{display:inline-block;margin:.5em}
img{max-width:100%}code{background:#f4f4f4;padding:0 .2em}"""


def _inline(text: str) -> str:
    """Escape, then `code` spans as <code> (the only Markdown the card's paragraphs use)."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _cell(v) -> str:
    if v is None:
        return "<td></td>"
    if isinstance(v, bool):
        return f"<td>{v}</td>"
    if isinstance(v, float):
        return f'<td class="n">{v:,.4g}</td>'
    if isinstance(v, int):
        return f'<td class="n">{v:,}</td>'
    return f"<td>{html.escape(str(v))}</td>"


def html_table(df: pl.DataFrame) -> str:
    if df.is_empty():
        return "<p><em>(no rows)</em></p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in df.iter_rows())
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def png_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def to_html(sections: list[tuple], plot_dir: Path, title: str) -> str:
    """Render the card's sections; ("img", file, alt) reads plot_dir/file and embeds it."""
    parts = [f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
             f"<style>{STYLE}</style></head><body>"]
    for kind, *body in sections:
        if kind in ("h1", "h2"):
            parts.append(f"<{kind}>{html.escape(body[0])}</{kind}>")
        elif kind == "p":
            parts.append(f"<p>{_inline(body[0])}</p>")
        elif kind == "table":
            parts.append(html_table(body[0]))
        elif kind == "img":
            parts.append(f'<figure><img alt="{html.escape(body[1])}" src="{png_data_uri(Path(plot_dir) / body[0])}">'
                         f"<figcaption>{html.escape(body[1])}</figcaption></figure>")
    parts.append("</body></html>\n")
    return "".join(parts)
