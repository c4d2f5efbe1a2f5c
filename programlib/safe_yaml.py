"""YAML from files nobody vetted (a bundle's competition.yaml, a program's metadata, a task's bundle.yaml, a
participant's config), read with bounds: its size, its nesting and what its aliases expand to.

yaml.safe_load alone builds whatever a document describes: nine nested anchors of nine aliases each (the "billion
laughs") are a few hundred bytes that expand to 9**10 values for whoever walks the result, lists nested 20,000
deep overflow the recursive composer (RecursionError), an alias inside its own anchor makes a structure that
contains itself. Here the document is composed into its node graph first (aliases are shared nodes there), the
graph is measured without recursion (expanded node count, expanded depth, cycles) and only then constructed.
Every failure is a YamlError whose message starts with the label (the file's name) and says what is wrong.

Standard library and PyYAML only: programlib is vendored into the scoring and ingestion program zips.
"""
from __future__ import annotations

import codecs
import os
import zipfile
import zlib

import yaml
from yaml.error import MarkedYAMLError
from yaml.reader import ReaderError

MAX_BYTES = 1_000_000  # 1 MB: a definition is a few KB (and the pure-Python parser needs seconds per MB)
MAX_DEPTH = 100  # levels of nested collections, aliases expanded
MAX_NODES = 1_000_000  # values once every alias is expanded into a copy of what it refers to


class YamlError(ValueError, yaml.YAMLError):
    """A YAML file that cannot be read within the bounds: "<label>: <reason>" (label: the file's name).

    Also a yaml.YAMLError, so code that already catches the parser's errors catches these too. Where the parser
    itself refused the document, `problem` is its complaint and `line` (from 1) where it found it.
    """

    def __init__(self, label: str, reason: str, line: int | None = None, problem: str | None = None):
        super().__init__(f"{label}: {reason}")
        self.label, self.reason, self.line, self.problem = label, reason, line, problem

    def __reduce__(self):
        return type(self), (self.label, self.reason, self.line, self.problem)


def _lines(error: yaml.YAMLError) -> str:
    """The parser's message on one line, with line and column counted from 1."""
    if isinstance(error, MarkedYAMLError):
        def at(mark) -> str:
            return f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""

        text = f"{error.problem or 'invalid document'}{at(error.problem_mark)}"
        if error.context:
            text += f" ({error.context}{at(error.context_mark)})"
        if error.note:
            text += f" ({error.note})"
        return " ".join(text.split())
    return " ".join(str(error).split())


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader whose composer stops as soon as the nesting or the node count passes its bounds."""

    def __init__(self, text: str, label: str, max_depth: int, max_nodes: int):
        super().__init__(text)
        self.name = label  # marks (line, column) name the file
        self.label, self.max_depth, self.max_nodes = label, max_depth, max_nodes
        self.depth = self.composed = 0
        self.aliases = False  # whether the document uses any

    def compose_node(self, parent, index):
        self.depth += 1
        self.composed += 1
        self.aliases = self.aliases or self.check_event(yaml.AliasEvent)
        try:
            if self.depth > self.max_depth:
                mark = self.peek_event().start_mark
                raise YamlError(self.label, f"nested deeper than {self.max_depth} levels "
                                f"(at line {mark.line + 1}, column {mark.column + 1})")
            if self.composed > self.max_nodes:
                raise YamlError(self.label, f"holds more than {self.max_nodes:,} nodes")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _children(node: yaml.Node) -> list:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _measure(root: yaml.Node, label: str, max_depth: int, max_nodes: int, aliases: bool) -> None:
    """Expanded node count and depth of the graph, aliases counted as copies: an iterative depth-first walk
    memoised per node (each shared node is measured once, so the walk is linear in the graph), and cycles."""
    measured: dict[int, tuple[int, int]] = {}  # id(node) → (expanded nodes, expanded depth)
    on_path: set[int] = set()  # nodes whose walk has started and not ended: the current path from the root
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            children = _children(node)
            count = 1 + sum(measured[id(child)][0] for child in children)
            depth = 1 + max((measured[id(child)][1] for child in children), default=0)
            on_path.discard(key)
            if count > max_nodes:
                what = "aliases expand to" if aliases else "holds"
                raise YamlError(label, f"{what} more than {max_nodes:,} nodes")
            if depth > max_depth:
                what = "with its aliases expanded, nested" if aliases else "nested"
                raise YamlError(label, f"{what} deeper than {max_depth} levels")
            measured[key] = (count, depth)
            continue
        if key in measured:
            continue
        if key in on_path:
            mark = node.start_mark
            raise YamlError(label, f"an alias refers to the node that contains it (the node at line "
                            f"{mark.line + 1}, column {mark.column + 1}): the document would contain itself")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node))


def _text(data: bytes | str, label: str, max_bytes: int) -> str:
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise YamlError(label, f"too large: {size:,} bytes > {max_bytes:,}")
    if isinstance(data, str):
        return data
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # PyYAML reads UTF-16 with a BOM too
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise YamlError(label, f"not UTF-16 at byte offset {error.start} (the file starts with a UTF-16 "
                            f"byte order mark)") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise YamlError(label, f"not UTF-8 at byte offset {error.start} "
                        f"(byte 0x{data[error.start:error.start + 1].hex()})") from None


def load_yaml(data: bytes | str, label: str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH,
              max_nodes: int = MAX_NODES):
    """What yaml.safe_load returns for `data` (the first document), or a YamlError naming `label`."""
    text = _text(data, label, max_bytes)
    try:
        loader = _BoundedLoader(text, label, max_depth, max_nodes)
    except ReaderError as error:  # a character YAML does not allow, found before parsing starts
        line = text.count("\n", 0, error.position) + 1
        problem = f"unacceptable character #x{error.character:04x} ({error.reason})"
        raise YamlError(label, f"not valid YAML: {problem} at line {line}", line, problem) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _measure(node, label, max_depth, max_nodes, loader.aliases)
        return loader.construct_document(node)
    except YamlError:
        raise
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise YamlError(label, f"not valid YAML: {_lines(error)}", mark.line + 1 if mark is not None else None,
                        getattr(error, "problem", None) or " ".join(str(error).split())) from None
    except RecursionError:  # a bound above what Python's stack allows; the composer recurses per level
        raise YamlError(label, "nested too deeply to read") from None
    except (ValueError, TypeError, OverflowError) as error:  # an integer of 5000 digits, a date like 2024-13-45
        raise YamlError(label, f"a value cannot be read: {' '.join(str(error).split())}") from None
    finally:
        loader.dispose()


def load_yaml_file(path: str | os.PathLike, *, label: str | None = None, max_bytes: int = MAX_BYTES,
                   max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES):
    """load_yaml of a file, reading at most max_bytes + 1 bytes of it. OSError (no such file...) passes through."""
    label = str(path) if label is None else label
    with open(path, "rb") as handle:
        data = handle.read(max_bytes + 1)
        if len(data) > max_bytes:
            size = max(os.fstat(handle.fileno()).st_size, len(data))
            raise YamlError(label, f"too large: {size:,} bytes > {max_bytes:,}")
    return load_yaml(data, label, max_bytes=max_bytes, max_depth=max_depth, max_nodes=max_nodes)


def load_yaml_member(archive: zipfile.ZipFile, name: str, *, label: str | None = None, max_bytes: int = MAX_BYTES,
                     max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES):
    """load_yaml of a zip member, decompressing at most max_bytes + 1 bytes of it. KeyError if it is absent."""
    label = name if label is None else label
    info = archive.getinfo(name)
    if info.file_size > max_bytes:
        raise YamlError(label, f"too large: {info.file_size:,} bytes > {max_bytes:,}")
    try:
        with archive.open(info) as handle:
            data = handle.read(max_bytes + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as error:
        raise YamlError(label, f"cannot be read from the zip ({error})") from None
    return load_yaml(data, label, max_bytes=max_bytes, max_depth=max_depth, max_nodes=max_nodes)


__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "YamlError", "load_yaml", "load_yaml_file", "load_yaml_member"]
