"""A self-contained detailed_results.html: inline CSS, images as base64 PNG, no external reference.

Codabench uploads only this one file, so anything it points to elsewhere would be broken.
"""
from __future__ import annotations

import base64
import html
import io
import math
from typing import Any, Sequence

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em;color:#1d2330;max-width:60em}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #dde}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccd;padding:.25em .7em;text-align:left}
th{background:#f1f3f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f6f7fa;border:1px solid #dde;padding:.7em;overflow-x:auto;max-height:30em;white-space:pre-wrap}
.ok{color:#17803d}.bad{color:#b3261e}figure{margin:1em 0}figcaption{color:#556;font-size:.9em}
"""


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):  # a missing value, not Python's "None"
        return '<td class="num">-</td>'
    if isinstance(value, float):
        return f'<td class="num">{value:.4f}</td>'
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="num">{value}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def describe(value: Any) -> str:
    """A check's finding as a table cell's text: yes/no, a list joined, "-" for a check that could not be made."""
    if value is None:  # a check that could not be made: not Python's "None"
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return str(value)


class Report:
    def __init__(self, title: str):
        self.title = title
        self._parts: list[str] = []

    def heading(self, text: str) -> None:
        self._parts.append(f"<h2>{html.escape(text)}</h2>")

    def paragraph(self, text: str, css_class: str | None = None) -> None:
        attribute = f' class="{css_class}"' if css_class else ""
        self._parts.append(f"<p{attribute}>{html.escape(text)}</p>")

    def pre(self, text: str) -> None:
        self._parts.append(f"<pre>{html.escape(text)}</pre>")

    def log_tail(self, program: str, path, lines: int = 40) -> None:
        """A section with the end of what the participant's program printed (its stdout log)."""
        self.heading(f"End of what {program} printed")
        text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
        self.pre("\n".join(text.splitlines()[-lines:]) or "(nothing)")

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
        body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
        self._parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def figure(self, figure, caption: str = "") -> None:
        """Embed a matplotlib figure as a base64 PNG (deterministic: no metadata, fixed dpi)."""
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
        import matplotlib.pyplot as plt

        plt.close(figure)
        data = base64.b64encode(buffer.getvalue()).decode("ascii")
        caption_html = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self._parts.append(f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                           f"{caption_html}</figure>")

    def render(self) -> str:
        body = "\n".join(self._parts)
        return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(self.title)}</title>"
                f"<style>{STYLE}</style></head><body><h1>{html.escape(self.title)}</h1>\n{body}\n</body></html>\n")


def new_figure(width: float = 5.0, height: float = 3.6):
    """A matplotlib figure on the non-interactive backend (scoring containers have no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))
