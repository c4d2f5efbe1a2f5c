"""Assemble one task's Codabench bundle: competition.yaml, pages, logo, program and data zips."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from programlib.transfer import replace_atomically

from .bundle_format import (BUNDLE_INFO, COMPETITION, INGESTION_CONFIG, BundleInfo, bundle_files, bundle_info_text,
                            draw_field, page_member)
from .data import PrepareError, check_draws, prepare_data
from .definition import Scale, TaskDefinition
from .render import render_competition_yaml, render_page
from .datasets import read_keys, write_datasets
from .zipper import DeterministicZip, human_size

MAX_BUNDLE_BYTES = 300 * 1024**2  # bigger bundles hang in "Unpacking..." on Codabench

PROGRAM_LIBRARY = Path(__file__).resolve().parent.parent / "programlib"
STEPS = 5  # as the build's log numbers them: data, competition.yaml and pages, programs, data zips, writing


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
                       "limits": submission.limits.model_dump(), "record_plots": submission.record_plots},
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


def bundle_info(task: TaskDefinition, scale: Scale, seed: int, raw: bool, datasets: dict | None = None) -> str:
    primary = task.primary_column
    thresholds, measured_at = task.model.thresholds, task.model.default_scale
    if raw:  # reference points of the real data (a leaderboard), which the synthetic ones do not describe
        thresholds, measured_at = task.model.thresholds_raw, "full"
    return bundle_info_text(BundleInfo(
        task=task.id, scale=scale.name, seed=seed, data="raw" if raw else "synthetic",
        submission_kind=task.model.submission.kind, results_files=list(task.model.submission.files),
        primary=primary.key, sorting=primary.sorting,
        thresholds_scale=measured_at, public_reference=task.model.public_reference,
        thresholds=thresholds.model_dump(exclude_none=True, exclude={"places"}) if thresholds else {},
        datasets=datasets or {}))  # field → dataset key, when the data was uploaded separately


@dataclass(frozen=True)
class Prepared:
    """A build under way, once its data is prepared: what every later step reads."""
    task: TaskDefinition
    scale: Scale
    seed: int
    raw: bool  # split from real data (--raw-data) rather than generated
    data_dir: Path  # the first hidden draw's; its public data is every draw's
    draw_dirs: dict[int, Path]  # each hidden draw the phases grade on → its prepared data (one Codabench task each)
    log: Callable[[str], object]

    def step(self, number: int, what: str) -> None:
        self.log(f"[{self.task.id}] {number}/{STEPS} {what}")


@dataclass(frozen=True)
class DatasetsWritten:
    """A first --data-keys build: the data zips to upload as datasets, and the keys file to fill in; no bundle."""
    folder: Path
    keys_file: Path


def build_bundle(task: TaskDefinition, out_dir: Path, *, scale_name: str | None = None, seed: int | None = None,
                 raw_dir: Path | None = None, cache_dir: Path | None = None, log=print) -> Path:
    """Write out_dir/<task>.zip and return its path. Same definition, scale and seed → same bytes."""
    prepared = prepare_build(task, scale_name, seed, raw_dir, cache_dir, log)
    return write_bundle(prepared, data_zips(prepared), None, out_dir)


def build_with_data_keys(task: TaskDefinition, out_dir: Path, data_keys: Path, *, scale_name: str | None = None,
                         seed: int | None = None, raw_dir: Path | None = None, cache_dir: Path | None = None,
                         log=print) -> Path | DatasetsWritten:
    """The bundle with its data zips outside it, as datasets uploaded once (see datasets.py). While `data_keys`
    does not exist: write the data zips and a keys template to fill in (DatasetsWritten). Once it holds the keys:
    write out_dir/<task>.zip referencing them, and return its path."""
    prepared = prepare_build(task, scale_name, seed, raw_dir, cache_dir, log)
    zips = data_zips(prepared)
    if not data_keys.is_file():
        log(f"[{task.id}] writing the data as datasets to upload once (no bundle until their keys are known)")
        return DatasetsWritten(write_datasets(task.id, zips, out_dir, data_keys, log), data_keys)
    return write_bundle(prepared, zips, read_keys(data_keys, sorted(zips)), out_dir)


def prepare_build(task: TaskDefinition, scale_name: str | None, seed: int | None, raw_dir: Path | None,
                  cache_dir: Path | None, log) -> Prepared:
    """Step 1: the task's data at this scale and seed (from the cache when it was prepared before)."""
    scale = task.scale(scale_name)
    seed = task.model.seed if seed is None else seed
    log(f"[{task.id}] 1/{STEPS} data")
    draw_dirs = {draw: prepare_data(task, scale, seed, raw_dir, cache_dir, log=log, hidden_draw=draw)
                 for draw in task.hidden_draws}
    check_draws(task, draw_dirs)
    return Prepared(task, scale, seed, raw_dir is not None, next(iter(draw_dirs.values())), draw_dirs, log)


def data_zips(prepared: Prepared) -> dict[str, DeterministicZip]:
    """competition.yaml's data field → its zip (not yet written: DeterministicZip collects, then writes)."""
    zips = {"public_data": zip_of(prepared.data_dir / "public")}
    for draw, data_dir in prepared.draw_dirs.items():
        zips[draw_field("reference_data", draw)] = zip_of(data_dir / "private")
        if prepared.task.is_code:
            zips[draw_field("input_data", draw)] = zip_of(data_dir / "input_data")
    return zips


def write_bundle(prepared: Prepared, zips: dict[str, DeterministicZip], keys: dict[str, str] | None,
                 out_dir: Path) -> Path:
    """Steps 2 to 5: assemble the bundle, with the data zips in it or, with `keys`, referenced by their keys."""
    task = prepared.task
    kit_dir = task.starting_kit_dir()
    files = bundle_files(Path(task.model.logo).suffix, code=task.is_code, starting_kit=kit_dir is not None,
                         dataset_keys=keys, draws=list(prepared.draw_dirs))
    bundle = DeterministicZip()
    add_pages(bundle, prepared, files, keys)
    add_programs(bundle, prepared, files)
    add_data(bundle, prepared, files, zips if keys is None else None, kit_dir)
    return write_zip(bundle, prepared, out_dir)


def add_pages(bundle: DeterministicZip, prepared: Prepared, files: dict, keys: dict[str, str] | None) -> None:
    """Step 2: competition.yaml, bundle.json, the pages, the terms and the logo."""
    task, model = prepared.task, prepared.task.model
    prepared.step(2, "competition.yaml and pages")
    pages = [{"title": page.title, "file": page_member(Path(page.file).name)} for page in model.pages]
    draws = list(prepared.draw_dirs)
    tasks = [{"index": i, "draw": draw, "reference_data": files[draw_field("reference_data", draw)],
              "input_data": files.get(draw_field("input_data", draw))} for i, draw in enumerate(draws)]
    context = {"task": model, "scale": prepared.scale, "seed": prepared.seed, "files": files, "pages": pages,
               "tasks": tasks, "phase_tasks": [draws.index(phase.hidden_draw) for phase in model.phases],
               "facts": data_facts(prepared.data_dir),
               "docker_image": task.project.images()[model.docker_image]["tag"],
               "primary_index": [c.key for c in model.leaderboard.columns].index(model.leaderboard.primary)}
    bundle.add_bytes(COMPETITION, render_competition_yaml(task.project.templates_dir, **context))
    bundle.add_bytes(BUNDLE_INFO, bundle_info(task, prepared.scale, prepared.seed, prepared.raw, keys))
    for page, source in [(p["file"], task.folder / m.file) for p, m in zip(pages, model.pages)] + [
            (files["terms"], task.folder / model.terms)]:
        bundle.add_bytes(page, render_page(source, **context))
    bundle.add_file(files["logo"], task.folder / model.logo)


def add_programs(bundle: DeterministicZip, prepared: Prepared, files: dict) -> None:
    """Step 3: the scoring program and, for code submissions, the ingestion program with the task's config."""
    task, model = prepared.task, prepared.task.model
    prepared.step(3, "programs")
    bundle.add_bytes(files["scoring_program"], program_zip(task.project.scoring_programs()[model.scoring_program]))
    if task.is_code:
        bundle.add_bytes(files["ingestion_program"], program_zip(
            task.project.ingestion_programs()[model.ingestion_program], {INGESTION_CONFIG: ingestion_config(task)}))


def add_data(bundle: DeterministicZip, prepared: Prepared, files: dict, zips: dict[str, DeterministicZip] | None,
             kit_dir: Path | None) -> None:
    """Step 4: the data zips (None: referenced by their dataset keys instead), the starting kit and the solution."""
    model = prepared.task.model
    prepared.step(4, "data zips" + (" (referenced by their dataset keys)" if zips is None else ""))
    for field, archive in (zips or {}).items():
        bundle.add_bytes(files[field], archive.to_bytes())
    if kit_dir is not None:  # a reference solution folder is the organiser's, not the participants'
        exclude = model.solution if model.solution not in (None, ".") else None
        bundle.add_bytes(files["starting_kit"], folder_zip(kit_dir, exclude=exclude))
    solution_dir = kit_dir / model.solution if model.solution else prepared.data_dir / "solution"
    bundle.add_bytes(files["solution"], folder_zip(solution_dir))


def write_zip(bundle: DeterministicZip, prepared: Prepared, out_dir: Path) -> Path:
    """Step 5: out_dir/<task>.zip, replaced whole or not at all; a warning when Codabench would choke on it."""
    task_id = prepared.task.id
    prepared.step(5, "writing the bundle")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{task_id}.zip"
    replace_atomically(target, bundle.write)  # a new file: mode 0666 less the umask, like any other
    size = target.stat().st_size
    prepared.log(f"[{task_id}] wrote {target} ({human_size(size)})")
    if size > MAX_BUNDLE_BYTES:
        prepared.log(f"[{task_id}] warning: Codabench hangs unpacking bundles this big: build with --data-keys FILE "
                     f"to upload the data once as datasets")
    return target
