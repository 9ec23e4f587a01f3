"""The page helpers of deepscope's self-contained HTML reports (run, study and brain reports): one file,
images embedded as PNG, no scripts, no network access."""
from __future__ import annotations

import base64
import html
import io
from datetime import datetime

import numpy as np

STYLE = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #1d2330; line-height: 1.45; padding: 0 1em; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #d0d4dc; padding-bottom: 0.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.92em; }
th, td { border: 1px solid #d0d4dc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f1f3f7; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; border: 1px solid #e3e6ec; } pre { white-space: pre-wrap; font-size: 0.85em; }
.muted { color: #6b7280; } .finding { border-left: 4px solid #9ca3af; padding: 0.3em 0.8em; margin: 0.6em 0;
  background: #f9fafb; } .finding.error { border-color: #dc2626; background: #fef2f2; }
.finding.warning { border-color: #d97706; background: #fffbeb; } .ok { border-left: 4px solid #16a34a;
  padding: 0.3em 0.8em; background: #f0fdf4; }
"""


def figure_img(fig, alt: str) -> str:
    """An ``<img>`` holding a matplotlib figure as an embedded PNG."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def table_html(columns: list[str] | None, rows: list[list], numeric: bool = True) -> str:
    """A table (``columns`` None: no header row, e.g. a list of facts)."""
    head = "" if columns is None else "<thead><tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in columns) \
        + "</tr></thead>"
    body = "".join("<tr>" + "".join(_cell(v, numeric) for v in row) + "</tr>" for row in rows)
    return f"<table>{head}<tbody>{body}</tbody></table>"


def _cell(value, numeric: bool) -> str:
    if isinstance(value, float):
        text = f"{value:.4g}" if np.isfinite(value) else str(value)
        return f'<td class="num">{text}</td>' if numeric else f"<td>{text}</td>"
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="num">{value}</td>'
    return f"<td>{html.escape('-' if value is None else str(value))}</td>"


def section(section_id: str, title: str, body: str) -> str:
    return f'<section id="{section_id}"><h2>{html.escape(title)}</h2>{body}</section>'


def page(title: str, sections: list[str], subtitle: str = "") -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            f'<p class="muted">{html.escape(subtitle)}</p>{"".join(sections)}'
            f'<p class="muted">Written by deepscope on {datetime.now():%Y-%m-%d %H:%M}.</p></body></html>')
