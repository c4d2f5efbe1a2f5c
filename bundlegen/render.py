"""Jinja rendering of competition.yaml and of the task's pages (pages may use the task's facts)."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jinja2

from programlib.safe_yaml import load_yaml

CODABENCH_DATE = "%Y-%m-%d %H:%M:%S"


def yaml_scalar(value) -> str:
    """A string as a YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(str(value), ensure_ascii=False)


def codabench_date(value: dt.datetime) -> str:
    return value.strftime(CODABENCH_DATE)


def environment(templates_dir: Path | None = None) -> jinja2.Environment:
    loader = jinja2.FileSystemLoader(str(templates_dir)) if templates_dir else jinja2.BaseLoader()
    env = jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             autoescape=False)
    env.filters["yaml"] = yaml_scalar
    env.filters["codabench_date"] = codabench_date
    return env


class RenderError(ValueError):
    """A template that cannot be rendered: the message names the file and the line."""


def template_line(error: Exception) -> int | None:
    """The template's line of a Jinja error: a syntax error carries it; a render error is in the traceback,
    whose template frames Jinja names '<template>' (or the template's file)."""
    line, frame = getattr(error, "lineno", None), error.__traceback__
    while frame is not None:
        if frame.tb_frame.f_code.co_filename == "<template>" or frame.tb_frame.f_code.co_filename.endswith(".j2"):
            line = frame.tb_lineno
        frame = frame.tb_next
    return line


def render_competition_yaml(templates_dir: Path, **context) -> str:
    try:
        text = environment(templates_dir).get_template("competition.yaml.j2").render(**context)
    except jinja2.TemplateError as error:
        line = template_line(error)
        where = templates_dir / "competition.yaml.j2"
        raise RenderError(f"{where}{f', line {line}' if line else ''}: cannot render: {error}") from None
    parsed = load_yaml(text, "competition.yaml (rendered from competition.yaml.j2)")  # YamlError: a ValueError
    assert isinstance(parsed, dict) and parsed.get("version") == 2, "the template must render a v2 competition.yaml"
    return text


def render_page(path: Path, **context) -> str:
    try:
        return environment().from_string(path.read_text(encoding="utf-8")).render(**context)
    except jinja2.TemplateError as error:
        line = template_line(error)
        where = f"{path}, line {line}" if line else str(path)
        raise RenderError(f"{where}: cannot render the page: {error}") from None
