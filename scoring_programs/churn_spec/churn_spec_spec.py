"""Reading spec.md: its YAML front matter (checked field by field, with the line of each problem) and its body."""
from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

from programlib import SubmissionError
from programlib.safe_yaml import YamlError, load_yaml

NAME = "spec.md"
FENCE = re.compile(r"^---\s*$")
NUMBER = (int, float)
# field path → expected type; a missing field or null is "not given" (that item scores 0), a wrong type is an error.
FIELDS = {
    "target": dict, "target.definition": str, "target.source_table": str, "target.source_column": str,
    "target.horizon_days": NUMBER,
    "inputs": list, "leakage": list,
    "metrics": dict, "metrics.primary": str, "metrics.secondary": list,
    "constraints": dict, "constraints.max_latency_ms": NUMBER, "constraints.max_model_size_mb": NUMBER,
    "constraints.retrain_cadence": str,
}
TYPE_WORDS = {dict: "a mapping", list: "a list", str: "a text", NUMBER: "a number (the unit is in the field's name)",
              (dict, str): "a mapping {column, reason} (or a column's name)"}
# list field → the fields of each entry; a `leakage` entry may also be just a column's name
ENTRIES = {"inputs": (dict, {"table": str, "columns": list}),
           "leakage": ((dict, str), {"table": str, "column": str, "reason": str})}


@dataclass
class Spec:
    block: dict  # the front matter, types checked
    body: str  # the markdown after the front matter
    body_start: int  # line number (1-based) of the body's first line


def field_line(root: yaml.Node | None, path: list) -> int | None:
    """Line (0-based, in the front matter) of the value at `path` (keys and list indexes), as far as it exists."""
    node, line = root, None
    for part in path:
        if node is None:
            break
        line = node.start_mark.line
        if isinstance(node, yaml.MappingNode):
            node = next((value for key, value in node.value if key.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            node = None
    return node.start_mark.line if node is not None else line


def split(text: str) -> tuple[str, str, int]:
    lines = text.splitlines()
    if not lines or not FENCE.match(lines[0]):
        raise SubmissionError(f"{NAME}, line 1: the file must start with the YAML front matter: a line '---', the "
                              f"block's fields, and a closing line '---' (see the Evaluation page)")
    for number, line in enumerate(lines[1:], start=1):
        if FENCE.match(line):
            return "\n".join(lines[1:number]), "\n".join(lines[number + 1:]), number + 2
    raise SubmissionError(f"{NAME}, line 1: the YAML front matter opened here has no closing line '---'")


def wrong(path: str, expected, value, line: int | None) -> SubmissionError:
    where = f"{NAME}, line {line + 2}" if line is not None else NAME  # +1 for the '---' line, +1 to count from 1
    shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    return SubmissionError(f"{where}: front matter field '{path}' must be {TYPE_WORDS[expected]}, got {shown}")


def is_type(value, expected) -> bool:
    if expected is NUMBER:
        return isinstance(value, NUMBER) and not isinstance(value, bool)
    return isinstance(value, expected)


def check_types(block: dict, root: yaml.Node) -> None:
    for path, expected in FIELDS.items():
        parts = path.split(".")
        parent = block if len(parts) == 1 else block.get(parts[0])
        value = parent.get(parts[-1]) if isinstance(parent, dict) else None
        if value is not None and not is_type(value, expected):
            raise wrong(path, expected, value, field_line(root, parts))
    for name, (kind, fields) in ENTRIES.items():
        check_entries(block, root, name, kind, fields)
    for i, entry in enumerate(block.get("inputs") or []):
        for j, column in enumerate(entry.get("columns") or []):
            if not isinstance(column, str):
                raise wrong(f"inputs[{i}].columns[{j}]", str, column, field_line(root, ["inputs", i, "columns", j]))
    for j, metric in enumerate((block.get("metrics") or {}).get("secondary") or []):
        if not isinstance(metric, str):
            raise wrong(f"metrics.secondary[{j}]", str, metric, field_line(root, ["metrics", "secondary", j]))


def check_entries(block: dict, root: yaml.Node, name: str, kind, fields: dict) -> None:
    for i, entry in enumerate(block.get(name) or []):
        if not isinstance(entry, kind):
            raise wrong(f"{name}[{i}]", kind, entry, field_line(root, [name, i]))
        for key, expected in fields.items() if isinstance(entry, dict) else ():
            if entry.get(key) is not None and not is_type(entry[key], expected):
                raise wrong(f"{name}[{i}].{key}", expected, entry[key], field_line(root, [name, i, key]))


def leakage_entries(block: dict) -> list[tuple[str, str]]:
    """(column, reason) of each `leakage` entry; a bare name has no reason."""
    entries = []
    for entry in block.get("leakage") or []:
        if isinstance(entry, str):
            entries.append((entry, ""))
        elif entry.get("column"):
            entries.append((entry["column"], entry.get("reason") or ""))
    return entries


def parse_spec(text: str) -> Spec:
    front, body, body_start = split(text)
    try:  # bounded: size, nesting, aliases (a billion laughs), an integer of 5000 digits
        block = load_yaml(front, f"{NAME} (its front matter)")
    except YamlError as error:
        if error.problem is not None:  # the parser's own complaint; +1 for the opening '---' line
            where = f"{NAME}, line {error.line + 1}" if error.line is not None else NAME
            raise SubmissionError(f"{where}: the front matter is not valid YAML: {error.problem}") from None
        raise SubmissionError(str(error)) from None
    root = yaml.compose(front, Loader=yaml.SafeLoader)  # the same document, read above within bounds: each line
    if block is None:
        block = {}
    if not isinstance(block, dict):
        raise SubmissionError(f"{NAME}, line 2: the front matter must be a mapping of fields (target, inputs, "
                              f"metrics, constraints), got {type(block).__name__}")
    check_types(block, root)
    return Spec(block=block, body=body, body_start=body_start)


def get(block: dict, path: str):
    """The value at a dotted path, None when absent."""
    node = block
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node
