"""Running a task's prepare(raw_dir, out_dir, scale, seed), cached by the content of everything it depends on."""
from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import json
import shutil
import sys
import tempfile
from pathlib import Path

from .definition import DefinitionError, Scale, TaskDefinition

COMPLETE_MARKER = ".complete"


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
    module = importlib.import_module(f"{package}.prepare")
    if not callable(getattr(module, "prepare", None)):
        raise DefinitionError([f"{task.project.relative(folder / 'prepare.py')}: defines no function "
                               f"prepare(raw_dir, out_dir, scale, seed)"])
    return module.prepare


def cache_key(task: TaskDefinition, scale: Scale, seed: int, raw_dir: Path | None) -> str:
    digest = hashlib.sha256()
    for path in sorted(task.folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(task.folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(json.dumps([scale.name, scale.params, seed], sort_keys=True, default=str).encode())
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
                 cache_dir: Path | None = None, log=print) -> Path:
    """The folder with public/, private/, (input_data/, solution/) for this task, scale and seed."""
    if raw_dir is not None and not raw_dir.is_dir():
        raise PrepareError(f"--raw-data {raw_dir}: not a folder")
    cache_dir = cache_dir or task.project.data_cache_dir
    key = cache_key(task, scale, seed, raw_dir)
    source = "raw" if raw_dir is not None else "synthetic"
    target = cache_dir / task.id / f"{scale.name}-seed{seed}-{source}-{key}"
    if (target / COMPLETE_MARKER).is_file():
        log(f"  data: reusing {target}")
        return target
    prepare = load_prepare(task)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        log(f"  data: preparing {source} data (scale {scale.name}, seed {seed})")
        try:
            prepare(raw_dir, staging, scale, seed)
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
