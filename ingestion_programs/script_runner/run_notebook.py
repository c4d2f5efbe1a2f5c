"""Execute a notebook in the current folder on a real Jupyter kernel, and save it with its outputs in place.

    python3 run_notebook.py NOTEBOOK.ipynb

The ingestion program starts this with the task's time limit (it kills the kernel too). Every cell runs
top to bottom, as "Restart & Run All" would; the first failing cell stops the run with its number and
error. The printed output of each cell is echoed to stdout, so the logs read like a script's.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

KERNEL = "python3"  # ipykernel's kernel on the interpreter running this file


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
    client = NotebookClient(notebook, timeout=None, kernel_name=KERNEL, allow_errors=False,
                            resources={"metadata": {"path": str(Path.cwd())}})
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
        echo_outputs(notebook)
        nbformat.write(notebook, path)  # the executed copy replaces the working copy; the upload is untouched
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
