"""Imported by Python at start-up (the ingestion program puts this folder on a script's PYTHONPATH).

When the program imports matplotlib, Figure.savefig is wrapped so that each saved figure appends one JSON
line to the file MLEB_PLOT_RECORD names: the saved file's SHA-256 and, per axes, the x/y data of each line.
A grader can then check what a plot shows (a curve's points, its area) instead of trusting its pixels; it
trusts a line only if the hash matches the image it grades, and the data must match the hidden data anyway,
so a forged line gains nothing. Nothing here may break the program: every failure is swallowed.
"""
import os
import sys

RECORD = os.environ.get("MLEB_PLOT_RECORD")
MAX_POINTS = 50_000  # per line: enough for any curve of the evaluation set
MAX_LINES = 50  # per axes


def _numbers(values) -> list:
    import math

    import numpy as np
    array = np.asarray(values, dtype=float).ravel()[:MAX_POINTS]
    return [value if math.isfinite(value) else None for value in array.tolist()]


def _axes(figure) -> list:
    described = []
    for axes in figure.get_axes():
        lines = []
        for line in axes.get_lines()[:MAX_LINES]:
            try:
                lines.append({"label": str(line.get_label()), "drawstyle": str(line.get_drawstyle()),
                              "x": _numbers(line.get_xdata()), "y": _numbers(line.get_ydata())})
            except (TypeError, ValueError):  # dates, categories: not a curve of numbers
                continue
        described.append({"title": str(axes.get_title()), "xlabel": str(axes.get_xlabel()),
                          "ylabel": str(axes.get_ylabel()), "lines": lines})
    return described


def _saved_bytes(target):
    """The bytes savefig wrote: a path (matplotlib may have added the format's extension) or a buffer."""
    if hasattr(target, "getvalue"):
        return None, target.getvalue()
    if not isinstance(target, (str, os.PathLike)):
        return None, None
    path = os.fspath(target)
    if not os.path.isfile(path) and os.path.isfile(path + ".png"):
        path += ".png"
    with open(path, "rb") as handle:
        return os.path.abspath(path), handle.read()


def _record(figure, target) -> None:
    import hashlib
    import json

    path, data = _saved_bytes(target)
    if not data:
        return
    entry = {"file": path, "sha256": hashlib.sha256(data).hexdigest(), "axes": _axes(figure)}
    with open(RECORD, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


def _install(module) -> None:
    original = module.Figure.savefig

    def savefig(self, fname, *args, **kwargs):
        result = original(self, fname, *args, **kwargs)
        try:
            _record(self, fname)
        except Exception:  # a record we cannot write is no curve credit, never a failed program
            pass
        return result

    savefig.__doc__, savefig.__wrapped__ = original.__doc__, original
    module.Figure.savefig = savefig


class _FigureFinder:
    """Finds matplotlib.figure as usual and wraps savefig once the module is loaded (no import of our own)."""

    def find_spec(self, name, path=None, target=None):
        if name != "matplotlib.figure":
            return None
        import importlib.util

        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            try:
                _install(module)
            except Exception:
                pass

        spec.loader.exec_module = exec_module
        return spec


if RECORD and "matplotlib.figure" not in sys.modules:
    sys.meta_path.insert(0, _FigureFinder())
