"""The leaderboard's chart: per task, each agent's mean primary score with its std over seeds, and the task's
thresholds as lines; drawn by matplotlib (installed with the project) as SVG, put inline in the page."""
from __future__ import annotations

import functools
import io
import json
import math
import threading

LINES = {"gold": ("#d4a017", "-"), "silver": ("#8c8c8c", "-"), "bronze": ("#b0703c", "-"),
         "median": ("#7a5cc4", ":"), "trivial": ("#c0392b", ":"), "reference": ("#1e8449", "--")}
COLUMNS = 3
_lock = threading.Lock()  # matplotlib's state (fonts, caches) is not safe across the server's threads


def chart_svg(view: dict) -> str:
    """SVG text of the leaderboard view (views.leaderboard_view); '' when no agent was graded."""
    data = [(task, [(label(i), i["score"]["mean"], i["score"]["std"]) for i in item["ranked"]], item["thresholds"])
            for task, item in view["tasks"].items() if item["ranked"]]
    if not data:
        return ""
    return _draw(json.dumps(data, sort_keys=True))


def label(item: dict) -> str:
    return item["agent"] if item["variant"] == "default" else f"{item['agent']}:{item['variant']}"


@functools.lru_cache(maxsize=32)  # the same numbers draw the same chart: a page reload costs no drawing
def _draw(key: str) -> str:
    data = json.loads(key)
    with _lock:
        return _figure(data)


def _figure(data: list) -> str:
    import matplotlib  # imported on the first chart: the server starts without it
    from matplotlib.figure import Figure

    rows, columns = math.ceil(len(data) / COLUMNS), min(COLUMNS, len(data))
    agents = max(len(bars) for _task, bars, _thresholds in data)
    labels = max(len(name) for _task, bars, _thresholds in data for name, _mean, _std in bars) * 0.065 + 0.2  # inch
    width, height = columns * (3.2 + labels), rows * (1.0 + 0.3 * agents)
    figure = Figure(figsize=(width, height))
    figure.subplots_adjust(left=labels / width, right=1 - 0.15 / width, top=1 - 0.3 / height, bottom=0.35 / height,
                           wspace=labels / 3.2 * 1.15, hspace=0.55 / (0.45 + 0.3 * agents))
    for index, (task, bars, thresholds) in enumerate(data):
        _panel(figure.add_subplot(rows, min(COLUMNS, len(data)), index + 1), task, bars, thresholds)
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "mleb", "font.size": 8}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # inline: without the XML declaration and doctype


def _panel(axes, task: str, bars: list, thresholds: dict) -> None:
    labels = [name for name, _mean, _std in bars][::-1]  # the best at the top
    means = [mean if mean is not None else 0.0 for _name, mean, _std in bars][::-1]
    stds = [std or 0.0 for _name, _mean, std in bars][::-1]
    axes.barh(range(len(bars)), means, xerr=stds, color="#4a78b5", ecolor="#222", capsize=3, height=0.6)
    axes.set_yticks(range(len(bars)), labels)
    for y, (_name, mean, _std) in enumerate(bars[::-1]):
        if mean is None:
            axes.text(0, y, " no valid score", va="center", fontsize=7, color="#b03a2e")
    for name, level in thresholds.items():
        if name in LINES:
            color, style = LINES[name]
            axes.axvline(level, color=color, linestyle=style, linewidth=1.2, label=f"{name} {level:.4g}")
    axes.set_title(task, fontsize=9)
    axes.tick_params(labelsize=7)
    if thresholds:
        axes.legend(fontsize=6, loc="lower right", framealpha=0.8)
