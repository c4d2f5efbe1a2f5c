"""Every program imports only what its docker image provides (or the standard library, or its own files)."""
from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

from bundlegen.definition import load_all
from bundlegen.project import Project
from conftest import ROOT

PROGRAM_LIBRARY = ROOT / "programlib"


def imported_modules(folder: Path) -> dict[str, str]:
    """Top-level module → first file importing it, for every .py below `folder` (relative imports skipped)."""
    found = {}
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                found.setdefault(name.split(".")[0], str(where))
    return found


def local_modules(folder: Path) -> set[str]:
    return {p.stem for p in folder.glob("*.py")} | {p.name for p in folder.iterdir() if (p / "__init__.py").exists()}


def image_modules(image: dict) -> set[str]:
    """Import names of the image: its requirements (mapped through installed metadata) and its base image's."""
    by_distribution: dict[str, set[str]] = {}
    for module, distributions in importlib.metadata.packages_distributions().items():
        for distribution in distributions:
            by_distribution.setdefault(normalise(distribution), set()).add(module)
    modules = set(image.get("provided_by_base") or [])
    for line in (image["dir"] / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name = normalise(re.split(r"[=<>!~\[ ]", line)[0])
            modules |= by_distribution.get(name, set()) | set((image.get("import_names") or {}).get(name, [name]))
    return modules


def normalise(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


TASKS = load_all()


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_programs_import_only_what_the_image_provides(task_id):
    task = TASKS[task_id]
    project = Project()
    image = project.images()[task.model.docker_image]
    allowed = set(sys.stdlib_module_names) | image_modules(image) | {"programlib"}
    folders = [project.scoring_programs()[task.model.scoring_program], PROGRAM_LIBRARY]
    if task.model.ingestion_program:
        folders.append(project.ingestion_programs()[task.model.ingestion_program])
    if task.starting_kit_dir():  # kits and solutions run as code submissions in the same image
        folders += [p for p in task.starting_kit_dir().rglob("*") if p.is_dir()] + [task.starting_kit_dir()]
    problems = []
    for folder in folders:
        for module, where in imported_modules(folder).items():
            if module not in allowed and module not in local_modules(folder):
                problems.append(f"{where}: imports {module!r}, which image {task.model.docker_image!r} does not provide")
    assert not problems, "\n".join(problems)


def test_images_are_complete():
    for name, image in Project().images().items():
        dockerfile = (image["dir"] / "Dockerfile").read_text()
        assert "requirements.txt" in dockerfile, name
        assert image["tag"] and ":" in image["tag"], name
    cpu = image_modules(Project().images()["cpu"])
    assert {"numpy", "pandas", "sklearn", "yaml", "matplotlib", "pyarrow"} <= cpu
    assert "torch" not in cpu


def test_the_check_catches_a_missing_module(tmp_path):
    (tmp_path / "prog.py").write_text("import torch\nfrom sklearn.metrics import f1_score\nimport helper\n")
    (tmp_path / "helper.py").write_text("")
    cpu = image_modules(Project().images()["cpu"]) | set(sys.stdlib_module_names)
    assert set(imported_modules(tmp_path)) - cpu - local_modules(tmp_path) == {"torch"}
