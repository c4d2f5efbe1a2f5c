"""Shared fixtures: tiny bundles built once per test worker, copies of the project to break, CLI runs."""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Callable

import pytest
import yaml

from bundlegen.build import build_bundle
from bundlegen.definition import load_all, load_task
from bundlegen.project import Project

ROOT = Path(__file__).resolve().parents[1]
# Tests run on two workers at once: OpenMP programs (scikit-learn's gradient boosting) that each take every
# core spin against each other and run ten times slower. One thread each, as in a container with one core.
os.environ.setdefault("OMP_NUM_THREADS", "1")
TASK_IDS = sorted(Project().task_dirs())
LINKED = ("scoring_programs", "ingestion_programs", "starting_kits", "templates", "docker", "programlib")


def quiet(_message: str) -> None:
    pass


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data-cache")


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory, cache_dir) -> Callable[[str], Path]:
    """tiny_bundle(task_id) → the task's bundle at the tiny scale, built once per test worker."""
    tasks = load_all()
    out = tmp_path_factory.mktemp("dist")
    built: dict[str, Path] = {}

    def get(task_id: str) -> Path:
        if task_id not in built:
            built[task_id] = build_bundle(tasks[task_id], out, scale_name="tiny", cache_dir=cache_dir, log=quiet)
        return built[task_id]

    return get


FIXTURES = Path(__file__).resolve().parent / "fixtures"


def copy_project(target: Path, tasks: tuple[str, ...] = ("tabular-baseline",), toy: bool = False) -> Project:
    """A project of its own to break: copied task folders, everything else linked to the real one.

    With `toy`, it also holds tests/fixtures' toy-results task (a results submission) and its scorer.
    """
    target.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        if toy and name == "scoring_programs":
            shutil.copytree(ROOT / name, target / name)
            shutil.copytree(FIXTURES / "toy_results_scorer", target / name / "toy_results_scorer")
        else:
            (target / name).symlink_to(ROOT / name)
    for task_id in tasks:
        shutil.copytree(ROOT / "bundles" / task_id, target / "bundles" / task_id)
    if toy:
        shutil.copytree(FIXTURES / "toy-results", target / "bundles" / "toy-results")
    return Project(target)


def edit_definition(project: Project, task_id: str, edit: Callable[[dict], None]) -> Path:
    path = project.bundles_dir / task_id / "bundle.yaml"
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path.parent


def build_copy(project: Project, task_id: str, out: Path, cache_dir: Path) -> Path:
    return build_bundle(load_task(project.bundles_dir / task_id, project), out, scale_name="tiny",
                        cache_dir=cache_dir, log=quiet)


def zip_bytes(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def write_zip(path: Path, files: dict[str, str | bytes]) -> Path:
    path.write_bytes(zip_bytes(files))
    return path


def rewrite_bundle(source: Path, target: Path, *, edit_yaml: Callable[[dict], None] | None = None,
                   replace: dict[str, bytes | None] | None = None) -> Path:
    """A copy of a bundle with competition.yaml edited and members replaced (None removes one)."""
    replace = dict(replace or {})
    with zipfile.ZipFile(source) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    if edit_yaml is not None:
        competition = yaml.safe_load(files["competition.yaml"])
        edit_yaml(competition)
        files["competition.yaml"] = yaml.safe_dump(competition, sort_keys=False).encode()
    for name, content in replace.items():
        if content is None:
            files.pop(name, None)
        else:
            files[name] = content
    target.write_bytes(zip_bytes(files))
    return target


def edit_inner_zip(bundle: Path, member: str, change: Callable[[dict[str, bytes]], None]) -> bytes:
    """The bytes of a bundle's inner zip after `change` edits its {name: bytes}."""
    with zipfile.ZipFile(bundle) as archive, zipfile.ZipFile(io.BytesIO(archive.read(member))) as inner:
        files = {name: inner.read(name) for name in inner.namelist()}
    change(files)
    return zip_bytes(files)


def processes_with(token: str) -> list[str]:
    """Pids of the running processes whose command line holds `token`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if token.encode() in (entry / "cmdline").read_bytes():
                    found.append(entry.name)
            except OSError:
                pass
    return found


def read_inner(bundle: Path, member: str, name: str) -> bytes:
    """One file of one of a bundle's inner zips."""
    with zipfile.ZipFile(bundle) as archive, zipfile.ZipFile(io.BytesIO(archive.read(member))) as inner:
        return inner.read(name)


def load_module(name: str, path: Path):
    """Import a program's file by path, with its folder importable (programs import their siblings)."""
    import importlib.util

    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(path.parent))


def run_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "build_bundle.py"), *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
