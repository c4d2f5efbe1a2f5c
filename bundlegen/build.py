"""Assemble one task's Codabench bundle: competition.yaml, pages, logo, program and data zips."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .data import PrepareError, prepare_data
from .definition import TaskDefinition
from .render import render_competition_yaml, render_page
from .datasets import read_keys, write_datasets
from .zipper import DeterministicZip, current_umask, human_size

MAX_BUNDLE_BYTES = 300 * 1024**2  # bigger bundles hang in "Unpacking..." on Codabench

PROGRAM_LIBRARY = Path(__file__).resolve().parent.parent / "programlib"
INGESTION_CONFIG = "task.json"  # what the ingestion program needs to know about the task
BUNDLE_INFO = "bundle.json"  # our own facts (thresholds, scale); Codabench ignores unreferenced files

FILES = {
    "logo": None,  # set from the task's logo suffix
    "terms": "pages/terms.md",
    "scoring_program": "scoring_program.zip",
    "ingestion_program": "ingestion_program.zip",
    "reference_data": "reference_data.zip",
    "input_data": "input_data.zip",
    "public_data": "public_data.zip",
    "starting_kit": "starting_kit.zip",
    "solution": "solution.zip",
}


def program_zip(folder: Path, extra: dict[str, str] | None = None) -> bytes:
    """A program folder with the shared library vendored at its root, so it runs standalone."""
    assert (folder / "metadata.yaml").is_file(), folder
    assert not (folder / "programlib").exists(), f"{folder} must not hold its own copy of programlib"
    archive = DeterministicZip()
    archive.add_tree(folder)
    archive.add_tree(PROGRAM_LIBRARY, prefix="programlib/")
    for name, text in (extra or {}).items():
        archive.add_bytes(name, text)
    return archive.to_bytes()


def zip_of(folder: Path, exclude: str | None = None) -> DeterministicZip:
    archive = DeterministicZip()
    archive.add_tree(folder, exclude=exclude)
    return archive


def folder_zip(folder: Path, exclude: str | None = None) -> bytes:
    return zip_of(folder, exclude).to_bytes()


def ingestion_config(task: TaskDefinition) -> str:
    submission = task.model.submission
    runs = [run.model_dump(exclude_none=True) for run in submission.runs]
    return json.dumps({"task": task.id, "entry": submission.entry, "args": submission.args,
                       "time_limit": submission.time_limit, "results_files": submission.files, "runs": runs,
                       "limits": submission.limits.model_dump()},
                      indent=2, sort_keys=True) + "\n"


DATA_FACTS = "facts.json"  # optional, written by prepare() next to public/: what the pages say about the data


def data_facts(data_dir: Path) -> dict:
    """The facts prepare() recorded about the data it wrote (columns, row counts, labels), for the pages:
    {} for a task that records none."""
    path = data_dir / DATA_FACTS
    if not path.is_file():
        return {}
    try:
        facts = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise PrepareError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(facts, dict):
        raise PrepareError(f"{path}: must hold a JSON object")
    return facts


def bundle_info(task: TaskDefinition, scale, seed: int, raw: bool, datasets: dict | None = None) -> str:
    primary = task.primary_column
    thresholds, measured_at = task.model.thresholds, task.model.default_scale
    if raw:  # reference points of the real data (a leaderboard), which the synthetic ones do not describe
        thresholds, measured_at = task.model.thresholds_raw, "full"
    info = {"task": task.id, "scale": scale.name, "seed": seed, "data": "raw" if raw else "synthetic",
            "submission_kind": task.model.submission.kind, "primary": primary.key, "sorting": primary.sorting,
            "thresholds_scale": measured_at, "public_reference": task.model.public_reference,
            "thresholds": thresholds.model_dump(exclude_none=True) if thresholds else {},
            "datasets": datasets or {}}  # field → dataset key, when the data was uploaded separately
    return json.dumps(info, indent=2, sort_keys=True) + "\n"


def build_bundle(task: TaskDefinition, out_dir: Path, *, scale_name: str | None = None, seed: int | None = None,
                 raw_dir: Path | None = None, cache_dir: Path | None = None, data_keys: Path | None = None,
                 log=print) -> Path | None:
    """Write out_dir/<task>.zip and return its path. Same definition, scale and seed → same bytes.

    With `data_keys` the data zips live outside the bundle (see datasets.py): if that file does not exist yet, the
    zips and a keys template are written and None is returned; once it holds the keys, the bundle references them.
    """
    model = task.model
    scale = task.scale(scale_name)
    seed = model.seed if seed is None else seed
    steps = 5
    log(f"[{task.id}] 1/{steps} data")
    data_dir = prepare_data(task, scale, seed, raw_dir, cache_dir, log=log)

    data_zips = {"reference_data": zip_of(data_dir / "private"), "public_data": zip_of(data_dir / "public")}
    if task.is_code:
        data_zips["input_data"] = zip_of(data_dir / "input_data")
    keys = None
    if data_keys is not None:
        if not data_keys.is_file():
            log(f"[{task.id}] writing the data as datasets to upload once (no bundle until their keys are known)")
            write_datasets(task.id, data_zips, out_dir, data_keys, log)
            return None
        keys = read_keys(data_keys, sorted(data_zips))

    log(f"[{task.id}] 2/{steps} competition.yaml and pages")
    files = dict(FILES, logo="logo" + Path(model.logo).suffix.lower())
    if not task.is_code:
        files.update(ingestion_program=None, input_data=None)
    files.update(keys or {})
    kit_dir = task.starting_kit_dir()
    if kit_dir is None:
        files["starting_kit"] = None
    pages = [{"title": page.title, "file": f"pages/{Path(page.file).name}"} for page in model.pages]
    context = {"task": model, "scale": scale, "seed": seed, "files": files, "pages": pages,
               "facts": data_facts(data_dir),
               "docker_image": task.project.images()[model.docker_image]["tag"],
               "primary_index": [c.key for c in model.leaderboard.columns].index(model.leaderboard.primary)}
    bundle = DeterministicZip()
    bundle.add_bytes("competition.yaml", render_competition_yaml(task.project.templates_dir, **context))
    bundle.add_bytes(BUNDLE_INFO, bundle_info(task, scale, seed, raw_dir is not None, keys))
    for page, source in [(p["file"], task.folder / m.file) for p, m in zip(pages, model.pages)] + [
            (files["terms"], task.folder / model.terms)]:
        bundle.add_bytes(page, render_page(source, **context))
    bundle.add_file(files["logo"], task.folder / model.logo)

    log(f"[{task.id}] 3/{steps} programs")
    bundle.add_bytes(files["scoring_program"], program_zip(task.project.scoring_programs()[model.scoring_program]))
    if task.is_code:
        bundle.add_bytes(files["ingestion_program"], program_zip(
            task.project.ingestion_programs()[model.ingestion_program], {INGESTION_CONFIG: ingestion_config(task)}))

    log(f"[{task.id}] 4/{steps} data zips" + (" (referenced by their dataset keys)" if keys else ""))
    if keys is None:
        for field, archive in data_zips.items():
            bundle.add_bytes(files[field], archive.to_bytes())
    if kit_dir is not None:  # a reference solution folder is the organiser's, not the participants'
        exclude = model.solution if model.solution not in (None, ".") else None
        bundle.add_bytes(files["starting_kit"], folder_zip(kit_dir, exclude=exclude))
    solution_dir = kit_dir / model.solution if model.solution else data_dir / "solution"
    bundle.add_bytes(files["solution"], folder_zip(solution_dir))

    log(f"[{task.id}] 5/{steps} writing the bundle")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{task.id}.zip"
    handle, temporary = tempfile.mkstemp(prefix=f".{task.id}-", suffix=".zip", dir=out_dir)
    os.close(handle)
    try:
        os.chmod(temporary, 0o666 & ~current_umask())  # mkstemp makes it 0600: a bundle is an ordinary file
        bundle.write(temporary)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    size = target.stat().st_size
    log(f"[{task.id}] wrote {target} ({human_size(size)})")
    if size > MAX_BUNDLE_BYTES:
        log(f"[{task.id}] warning: Codabench hangs unpacking bundles this big: build with --data-keys FILE to upload "
            f"the data once as datasets")
    return target
