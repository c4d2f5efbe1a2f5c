"""What an executed notebook holds, for scoring programs: code, prose, printed text, images, errors.

Read with the standard library only (a notebook is JSON), so scoring programs need no Jupyter packages.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from pathlib import Path

from .errors import SubmissionError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class Cell:
    kind: str  # "code", "markdown" or "raw"
    source: str
    text_outputs: list[str] = field(default_factory=list)  # streams, plain-text and HTML results
    images: list[bytes] = field(default_factory=list)  # decoded PNG/JPEG outputs, SVG text as UTF-8
    error: str | None = None  # "ename: evalue" of an error output
    executed: bool = False


@dataclass
class Notebook:
    path: Path
    cells: list[Cell]

    @property
    def code(self) -> str:
        return "\n\n".join(cell.source for cell in self.cells if cell.kind == "code")

    @property
    def markdown(self) -> str:
        return "\n\n".join(cell.source for cell in self.cells if cell.kind == "markdown")

    @property
    def outputs(self) -> str:
        return "\n".join(text for cell in self.cells for text in cell.text_outputs)

    @property
    def images(self) -> list[bytes]:
        return [image for cell in self.cells for image in cell.images]

    @property
    def errors(self) -> list[str]:
        return [cell.error for cell in self.cells if cell.error]

    @property
    def all_executed(self) -> bool:
        code_cells = [cell for cell in self.cells if cell.kind == "code" and cell.source.strip()]
        return bool(code_cells) and all(cell.executed for cell in code_cells)


def _text(value) -> str:
    """A notebook's multiline string: a string or a list of strings; anything else holds no text."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(part for part in value if isinstance(part, str))
    return ""


def _image(data: dict) -> bytes | None:
    for mime in ("image/png", "image/jpeg"):
        if mime in data:
            try:
                return base64.b64decode(_text(data[mime]), validate=False)
            except (binascii.Error, ValueError):
                return b""
    if "image/svg+xml" in data:  # %config InlineBackend.figure_formats = ['svg']: the SVG's text, as rendered
        return _text(data["image/svg+xml"]).encode("utf-8")
    return None


def read_notebook(path: Path) -> Notebook:
    """Parse a notebook file; a file that is not a notebook is the participant's error."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:  # ValueError: bad JSON, UTF-8, or a 5000-digit number
        raise SubmissionError(f"{path.name} is not a Jupyter notebook (JSON): {type(error).__name__}: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        raise SubmissionError(f"{path.name} is not a Jupyter notebook: no list of cells")
    cells = []
    for number, raw in enumerate(document["cells"], start=1):
        if not isinstance(raw, dict):
            raise SubmissionError(f"{path.name}: cell {number} is not an object")
        cell = Cell(kind=str(raw.get("cell_type", "")), source=_text(raw.get("source")))
        cell.executed = raw.get("execution_count") is not None
        outputs = raw.get("outputs")
        for output in outputs if isinstance(outputs, list) else []:
            if not isinstance(output, dict):
                continue
            kind = output.get("output_type")
            if kind == "stream":
                cell.text_outputs.append(_text(output.get("text")))
            elif kind in ("execute_result", "display_data"):
                data = output.get("data")
                data = data if isinstance(data, dict) else {}
                image = _image(data)
                if image is not None:
                    cell.images.append(image)
                for mime in ("text/plain", "text/html", "text/markdown"):
                    if mime in data:
                        cell.text_outputs.append(_text(data[mime]))
            elif kind == "error":
                cell.error = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
        cells.append(cell)
    return Notebook(path=path, cells=cells)


def is_image(data: bytes) -> bool:
    """A PNG or JPEG with a real header (a plot, not an empty output)."""
    return data.startswith(PNG_SIGNATURE) or data.startswith(b"\xff\xd8\xff")
