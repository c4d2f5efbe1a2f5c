"""Running a task's prepare(raw_dir, out_dir, params, seed), cached by the content of everything it depends on.

The contract (a task folder needs nothing from this framework, like MLE-bench's prepare(raw, public, private)):

    def prepare(raw_dir: Path | None, out_dir: Path, params: Mapping[str, Any], seed: int) -> None

raw_dir: the --raw-data folder, or None for synthetic data; out_dir: where to write public/, private/ (and
input_data/, solution/); params: a plain dict, the chosen scale's parameters from the `scales:` section of the
task's bundle.yaml; seed: the data seed. A ValueError (or FileNotFoundError) says the raw data cannot be used.

A code task whose phases grade on several hidden draws (bundle.yaml: phases[i].hidden_draw) is prepared once per
draw: params then also holds HIDDEN_DRAW (an int >= 1; absent for draw 0). The task draws its hidden inputs and
answers from a stream of that draw, and writes the same public/ for every draw (checked here).
"""
from __future__ import annotations

import copy
import hashlib
import importlib
import importlib.machinery
import importlib.util
import inspect
import json
import shutil
import sys
import tempfile
from pathlib import Path

from .definition import DefinitionError, Scale, TaskDefinition

COMPLETE_MARKER = ".complete"
PREPARE_PARAMETERS = ("raw_dir", "out_dir", "params", "seed")
CONTRACT = "prepare(raw_dir, out_dir, params, seed)"
HIDDEN_DRAW = "hidden_draw"  # params' key naming the hidden draw, when it is not the first (0)


class PrepareError(Exception):
    pass


def load_prepare(task: TaskDefinition):
    """The task's prepare(), imported as part of a package made of the task folder, so prepare.py can import
    its siblings relatively (`from .artworks import ...`) without clashing with another task's modules."""
    folder = task.folder.resolve()
    package = f"bundle_{task.id.replace('-', '_')}_{hashlib.sha256(str(folder).encode()).hexdigest()[:8]}"
    if package not in sys.modules:
        module = importlib.util.module_from_spec(importlib.machinery.ModuleSpec(package, None, is_package=True))
        module.__path__ = [str(folder)]
        sys.modules[package] = module
    name = task.project.relative(folder / "prepare.py")
    try:
        module = importlib.import_module(f"{package}.prepare")
    except ImportError as error:
        if "scale_parameters" not in str(error):
            raise
        raise DefinitionError([f"{name}: imports scale_parameters, which is gone: {CONTRACT} gets the scale's "
                               f"parameters as `params`, a plain dict (a task folder imports nothing from "
                               f"bundlegen)"]) from None
    if not callable(getattr(module, "prepare", None)):
        raise DefinitionError([f"{name}: defines no function {CONTRACT}"])
    problem = signature_problem(module.prepare)
    if problem:
        raise DefinitionError([f"{name}: {problem}"])
    return module.prepare


def signature_problem(prepare) -> str | None:
    """Why `prepare` does not fit the contract, or None: four positional parameters named raw_dir, out_dir,
    params and seed (any further ones need a default)."""
    try:
        signature = inspect.signature(prepare)
    except (TypeError, ValueError):
        return None  # a builtin or a C callable: nothing to check
    parameters = list(signature.parameters.values())
    first = parameters[:4]
    fits = (len(first) == 4 and tuple(p.name for p in first) == PREPARE_PARAMETERS
            and all(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in first)
            and all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters[4:]))
    if fits:
        return None
    shown = f"prepare{signature}"
    if tuple(p.name for p in first) == ("raw_dir", "out_dir", "scale", "seed"):
        return (f"{shown} is the old contract: write {CONTRACT}, where params is a plain dict of the chosen "
                f"scale's parameters from bundle.yaml's scales (no scale name, no import from bundlegen)")
    return (f"{shown} does not match the contract {CONTRACT}: four positional parameters, the raw data folder "
            f"(or None), the output folder, a plain dict of the scale's parameters and the seed")


def cache_key(task: TaskDefinition, scale: Scale, seed: int, raw_dir: Path | None, params: dict) -> str:
    """Everything the data depends on: every file of the task folder (prepare.py, its siblings, and bundle.yaml,
    whose scales section holds the parameters), the scale's name and parameters, the seed and the raw data."""
    digest = hashlib.sha256()
    for path in sorted(task.folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(task.folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(json.dumps([scale.name, params, seed], sort_keys=True, default=str).encode())
    if raw_dir is not None:  # the real data: its file names, sizes and times stand for its content
        for path in sorted(raw_dir.rglob("*")):
            if path.is_file():
                stat = path.stat()
                digest.update(f"{path.relative_to(raw_dir)}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()[:16]


def check_prepared(task: TaskDefinition, out_dir: Path) -> None:
    expected = ["public", "private"] + (["input_data"] if task.is_code else [])
    if task.model.solution is None:
        expected.append("solution")  # results tasks whose solution depends on the generated data
    for name in expected:
        folder = out_dir / name
        if not folder.is_dir() or not any(folder.iterdir()):
            raise PrepareError(f"{task.id}: prepare() wrote no {name}/ folder (or left it empty) in {out_dir}")


def prepare_data(task: TaskDefinition, scale: Scale, seed: int, raw_dir: Path | None = None,
                 cache_dir: Path | None = None, log=print, hidden_draw: int = 0) -> Path:
    """The folder with public/, private/, (input_data/, solution/) for this task, scale, seed and hidden draw."""
    if raw_dir is not None and not raw_dir.is_dir():
        raise PrepareError(f"--raw-data {raw_dir}: not a folder")
    cache_dir = cache_dir or task.project.data_cache_dir
    params = dict(scale.params, **({HIDDEN_DRAW: hidden_draw} if hidden_draw else {}))
    key = cache_key(task, scale, seed, raw_dir, params)
    source = "raw" if raw_dir is not None else "synthetic"
    draw = f"-draw{hidden_draw}" if hidden_draw else ""
    target = cache_dir / task.id / f"{scale.name}-seed{seed}{draw}-{source}-{key}"
    if (target / COMPLETE_MARKER).is_file():
        log(f"  data: reusing {target}")
        return target
    prepare = load_prepare(task)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        log(f"  data: preparing {source} data (scale {scale.name}, seed {seed}"
            + (f", hidden draw {hidden_draw})" if hidden_draw else ")"))
        try:
            prepare(raw_dir, staging, copy.deepcopy(params), seed)  # a plain dict, not our Scale
        except (ValueError, FileNotFoundError) as error:
            if raw_dir is None:
                raise  # synthetic data failing is our bug: keep the traceback
            # The contract: prepare() raises ValueError (or FileNotFoundError) for raw data it cannot use.
            raise PrepareError(f"{task.id}: cannot use the raw data in {raw_dir}: {error}") from None
        check_prepared(task, staging)
        (staging / COMPLETE_MARKER).write_text(key + "\n")  # trusted: our data cache, no participant writes there
        if target.exists() and not (target / COMPLETE_MARKER).is_file():
            shutil.rmtree(target)  # left over by an interrupted run
        try:
            staging.rename(target)
        except OSError:  # another build of the same key finished first: same bytes, keep theirs
            if not (target / COMPLETE_MARKER).is_file():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return target


def tree_digest(folder: Path) -> str:
    """The names and bytes of every file under `folder`."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def check_draws(task: TaskDefinition, draw_dirs: dict[int, Path]) -> None:
    """Every hidden draw has the first one's public data, and hidden inputs and answers of its own: a prepare()
    that ignores params['hidden_draw'] would grade two phases on the same draw while the pages say otherwise."""
    (first, first_dir), *others = draw_dirs.items()
    hidden = ["private"] + (["input_data"] if task.is_code else [])
    for draw, folder in others:
        if tree_digest(folder / "public") != tree_digest(first_dir / "public"):
            raise PrepareError(f"{task.id}: prepare() wrote other public data for hidden draw {draw} than for draw "
                               f"{first}: params['{HIDDEN_DRAW}'] must change only the hidden inputs and answers")
        if all(tree_digest(folder / name) == tree_digest(first_dir / name) for name in hidden):
            raise PrepareError(f"{task.id}: prepare() wrote the same hidden data for hidden draws {first} and {draw}: "
                               f"it must draw the hidden inputs and answers from params['{HIDDEN_DRAW}']'s own stream")
