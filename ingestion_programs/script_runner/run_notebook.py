"""Execute a notebook in the current folder on a real Jupyter kernel, and save it with its outputs in place.

    python3 run_notebook.py NOTEBOOK.ipynb

The ingestion program starts this with the task's time limit (it kills the kernel too). Every cell runs
top to bottom, as "Restart & Run All" would; the first failing cell stops the run with its number and
error. The printed output of each cell is echoed to stdout, so the logs read like a script's.

Before the first cell, the kernel runs FIGURE_HOOK: each time a matplotlib figure becomes an image (shown inline,
displayed or saved), it records what the figure plots (bar and histogram rectangles, step outlines, pie wedges,
per axes) with the SHA-256 of the image, in FIGURE_RECORD beside the notebook. A scoring program may check what
a notebook plotted against the data; the record is written by the participant's kernel, so it proves nothing by
itself: what it says must still match the data and an image the notebook shows.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

KERNEL = "python3"  # ipykernel's kernel on the interpreter running this file
FIGURE_RECORD = ".figures.json"
FIGURE_HOOK = r'''
def _record_figures(path, limit=200):
    import hashlib, io, json, math, os
    try:
        from matplotlib.backend_bases import FigureCanvasBase
        from matplotlib.container import BarContainer
        from matplotlib.patches import Polygon, Rectangle, Wedge
    except Exception:  # no matplotlib: nothing to record
        return
    figures, print_figure = [], FigureCanvasBase.print_figure

    def number(value):
        value = float(value)
        return value if math.isfinite(value) else None

    def rectangles(patches):
        return [[number(p.get_x()), number(p.get_y()), number(p.get_width()), number(p.get_height())]
                for p in patches[:5000] if isinstance(p, Rectangle)]

    def axes(ax):
        grouped = [c for c in ax.containers if isinstance(c, BarContainer)][:limit]
        seen = {id(p) for c in grouped for p in c.patches}
        loose = [p for p in ax.patches if isinstance(p, Rectangle) and id(p) not in seen]
        return {"title": ax.get_title()[:200], "xlabel": ax.get_xlabel()[:200], "ylabel": ax.get_ylabel()[:200],
                "bars": [rectangles(list(c.patches)) for c in grouped] + ([rectangles(loose)] if loose else []),
                "polygons": [[[number(x), number(y)] for x, y in p.get_xy()[:5000]]
                             for p in ax.patches if isinstance(p, Polygon)][:limit],
                "wedges": [[number(p.theta1), number(p.theta2)] for p in ax.patches if isinstance(p, Wedge)][:limit]}

    def digest(target):
        if isinstance(target, io.BytesIO):
            return hashlib.sha256(target.getvalue()).hexdigest()
        if isinstance(target, (str, os.PathLike)) and os.path.isfile(target) and os.path.getsize(target) < 2**26:
            with open(target, "rb") as file:
                return hashlib.sha256(file.read()).hexdigest()
        return None

    def recording(self, filename, *args, **kwargs):
        result = print_figure(self, filename, *args, **kwargs)
        try:
            if len(figures) < limit:
                figures.append({"sha256": digest(filename), "axes": [axes(ax) for ax in self.figure.axes[:64]]})
                with open(path + ".part", "w") as file:
                    json.dump({"figures": figures}, file)
                os.replace(path + ".part", path)
        except Exception:  # recording must never break the participant's plot
            pass
        return result

    FigureCanvasBase.print_figure = recording


_record_figures(RECORD_PATH)
del _record_figures
'''


def echo_outputs(notebook) -> None:
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                target = sys.stdout if output.get("name") == "stdout" else sys.stderr
                target.write(output.get("text", ""))
            elif output.get("output_type") in ("execute_result", "display_data"):
                text = output.get("data", {}).get("text/plain")
                if text and "image/png" not in output.get("data", {}):
                    print(text)


def figure_hook(record: Path) -> Path:
    """FIGURE_HOOK as a file the kernel runs at start-up (in a folder of its own, outside the working folder)."""
    record.unlink(missing_ok=True)  # a record uploaded with the submission is no record of this run
    hook = Path(tempfile.mkdtemp(prefix="figure-hook-")) / "figure_hook.py"
    # trusted: a fresh temporary folder of our own (and this runner is inside the sandbox already)
    hook.write_text(FIGURE_HOOK.replace("RECORD_PATH", repr(str(record.resolve()))), encoding="utf-8")
    return hook


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        raise SystemExit(__doc__)
    path = Path(argv[0])
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # nbformat raises several types for a file that is not a notebook
        print(f"{path.name} is not a readable Jupyter notebook: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    # Figures show inline, as in Jupyter, even where the image sets MPLBACKEND=Agg for scripts.
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    hook = figure_hook(path.parent / FIGURE_RECORD)
    client = NotebookClient(notebook, timeout=None, kernel_name=KERNEL, allow_errors=False,
                            resources={"metadata": {"path": str(Path.cwd())}},
                            extra_arguments=[f"--IPKernelApp.exec_files={hook}"])
    code = 0
    try:
        # The kernel's own stderr holds only start-up chatter (cell errors come back as outputs): drop it, so the
        # end of the error log shows the failing cell.
        client.execute(stderr=subprocess.DEVNULL)
    except CellExecutionError as error:
        failing = next((i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code" and any(
            output.get("output_type") == "error" for output in cell.get("outputs", []))), None)
        where = f"cell {failing + 1} of {len(notebook.cells)}" if failing is not None else "a cell"
        print(f"{path.name}: {where} raised {error.ename}: {error.evalue}", file=sys.stderr)
        code = 1
    except (CellTimeoutError, DeadKernelError) as error:
        print(f"{path.name}: the kernel stopped: {type(error).__name__}: {error}", file=sys.stderr)
        code = 1
    finally:
        shutil.rmtree(hook.parent, ignore_errors=True)
        echo_outputs(notebook)
        nbformat.write(notebook, path)  # the executed copy replaces the working copy; the upload is untouched
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
