"""The prepare contract: prepare(raw_dir: Path | None, out_dir: Path, params: Mapping[str, Any], seed: int) -> None.

A task folder needs nothing from the framework (like MLE-bench's prepare(raw, public, private)): it imports nothing
from bundlegen, programlib or server, and gets its scale's parameters (bundle.yaml's `scales:`) as a plain dict.
A prepare() of another shape is a clear DefinitionError naming its file, before it runs.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import yaml

from bundlegen.data import prepare_data
from bundlegen.definition import DefinitionError, load_task
from conftest import FIXTURES, ROOT, copy_project, quiet

FRAMEWORK = ("bundlegen", "programlib", "server")
TASK_FOLDERS = sorted(p for p in (ROOT / "bundles").iterdir() if (p / "prepare.py").is_file()) + [
    FIXTURES / "toy-results"]
PREPARE = "bundles/toy-results/prepare.py"

RECORDING = '''\
import json


def prepare(raw_dir, out_dir, params, seed):
    """Records what it got, and writes the folders a results task needs."""
    got = {"raw_dir": raw_dir, "type": type(params).__name__, "params": params, "seed": seed}
    for name in ("public", "private", "solution"):
        (out_dir / name).mkdir(parents=True)
        (out_dir / name / "got.json").write_text(json.dumps(got, default=str))
    params["n"] = -1  # a prepare() that edits its dict changes nothing outside it
'''


def framework_imports(path: Path) -> list[str]:
    """`line: module` for every import of the framework in a Python file (import, from-import, __import__ and
    importlib.import_module of a constant name)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            function = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if function in ("__import__", "import_module"):
                names = [node.args[0].value]
        found += [f"{node.lineno}: {name}" for name in names if name.split(".")[0] in FRAMEWORK]
    return found


@pytest.mark.parametrize("folder", TASK_FOLDERS, ids=[p.name for p in TASK_FOLDERS])
def test_a_task_folder_imports_nothing_from_the_framework(folder):
    files = sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)
    assert folder / "prepare.py" in files
    problems = {str(p.relative_to(ROOT)): framework_imports(p) for p in files}
    assert not {name: lines for name, lines in problems.items() if lines}


def test_the_scanner_sees_every_kind_of_import(tmp_path):
    source = tmp_path / "x.py"
    source.write_text("import os\nimport bundlegen.data\nfrom programlib.safe_yaml import load_yaml\n"
                      "from server import app\nfrom .sibling import x\nimport importlib\n"
                      "importlib.import_module('bundlegen.definition')\n__import__('server.job')\n")
    assert framework_imports(source) == ["2: bundlegen.data", "3: programlib.safe_yaml", "4: server",
                                         "7: bundlegen.definition", "8: server.job"]


def toy_project(root: Path, prepare_source: str | None = None):
    project = copy_project(root / "project", tasks=(), toy=True)
    folder = project.bundles_dir / "toy-results"
    if prepare_source is not None:
        (folder / "prepare.py").write_text(prepare_source)
    return project, folder


def got(data_dir: Path) -> dict:
    return json.loads((data_dir / "public" / "got.json").read_text())


def test_prepare_gets_a_plain_dict_of_its_scales_parameters(tmp_path):
    project, folder = toy_project(tmp_path, RECORDING)
    scales = yaml.safe_load((folder / "bundle.yaml").read_text())["scales"]
    task = load_task(folder, project)
    for name in ("tiny", "small", "full"):
        scale = task.scale(name)
        data = prepare_data(task, scale, 7, cache_dir=tmp_path / "cache", log=quiet)
        assert got(data) == {"raw_dir": None, "type": "dict", "params": scales[name], "seed": 7}
        assert scale.params == scales[name]  # the prepare() that edited its dict left the definition alone
    # the scales live in bundle.yaml, inside the task folder the cache key hashes: an edit prepares anew
    before = prepare_data(task, task.scale("tiny"), 7, cache_dir=tmp_path / "cache", log=quiet)
    (folder / "bundle.yaml").write_text((folder / "bundle.yaml").read_text().replace("tiny: {n: 30}", "tiny: {n: 31}"))
    task = load_task(folder, project)
    after = prepare_data(task, task.scale("tiny"), 7, cache_dir=tmp_path / "cache", log=quiet)
    assert after != before and got(after)["params"] == {"n": 31} and got(before)["params"] == {"n": 30}


def test_prepare_runs_without_the_framework_loaded(tmp_path):
    """The real fixture's prepare.py runs as a plain script module, with no bundlegen on the path."""
    import subprocess
    import sys

    script = ("import importlib.util, sys, pathlib\n"
              f"spec = importlib.util.spec_from_file_location('p', {str(FIXTURES / 'toy-results' / 'prepare.py')!r})\n"
              "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
              f"module.prepare(None, pathlib.Path({str(tmp_path / 'out')!r}), {{'n': 5}}, 0)\n"
              "assert not [m for m in sys.modules if m.split('.')[0] in ('bundlegen', 'programlib', 'server')]\n")
    result = subprocess.run([sys.executable, "-I", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert len((tmp_path / "out" / "private" / "answers.csv").read_text().splitlines()) == 1 + 5


@pytest.mark.parametrize("source, why", [
    ("def prepare(raw_dir, out_dir, scale, seed):\n    pass\n", "is the old contract"),
    ("def prepare(raw_dir, out_dir, seed):\n    pass\n", "does not match the contract"),
    ("def prepare(raw_dir, out_dir, params, seed, extra):\n    pass\n", "does not match the contract"),
    ("def prepare(raw_dir, out_dir, seed, params):\n    pass\n", "does not match the contract"),
    ("def prepare(raw_dir, out_dir, *, params, seed):\n    pass\n", "does not match the contract"),
    ("def prepare(*args):\n    pass\n", "does not match the contract"),
    ("prepare = 3\n", "defines no function prepare(raw_dir, out_dir, params, seed)"),
    ("from bundlegen.definition import scale_parameters\n\n\ndef prepare(raw_dir, out_dir, scale, seed):\n    pass\n",
     "imports scale_parameters, which is gone"),
], ids=["old-names", "three", "five", "order", "keyword-only", "varargs", "not-a-function", "old-import"])
def test_a_prepare_of_another_shape_is_a_definition_error_naming_the_file(tmp_path, source, why):
    project, folder = toy_project(tmp_path, source)
    task = load_task(folder, project)
    with pytest.raises(DefinitionError) as raised:
        prepare_data(task, task.scale("tiny"), 0, cache_dir=tmp_path / "cache", log=quiet)
    [problem] = raised.value.problems
    assert problem.startswith(f"{PREPARE}: ") and why in problem, problem
    assert "prepare(raw_dir, out_dir, params, seed)" in problem
    assert not (tmp_path / "cache").exists()  # refused before it ran


def test_extra_parameters_with_defaults_fit_the_contract(tmp_path):
    source = RECORDING.replace("def prepare(raw_dir, out_dir, params, seed):",
                               "def prepare(raw_dir, out_dir, params, seed, verbose=False, **options):")
    project, folder = toy_project(tmp_path, source)
    task = load_task(folder, project)
    data = prepare_data(task, task.scale("small"), 0, cache_dir=tmp_path / "cache", log=quiet)
    assert got(data)["params"] == {"n": 100}
