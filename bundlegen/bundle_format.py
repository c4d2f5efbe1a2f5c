"""What a bundle zip built here holds, and how to read it: the one place that names its members and the fields of
its bundle.json. The builder (build.py) writes this format; the local worker (worker.py) and the server's jobs
(server/job.py) read it.

    competition.yaml        what Codabench reads: pages, tasks, solutions, phases, leaderboard
    bundle.json             our own facts (BundleInfo); Codabench ignores files nothing references
    logo.<suffix>, pages/   the logo and the rendered pages (pages/terms.md among them)
    *.zip                   programs, data, starting kit and reference solution: FILES, by competition.yaml field

The data zips are absent when the data was uploaded separately: competition.yaml then holds their dataset keys.
"""
from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Protocol, Sequence, TypedDict

COMPETITION = "competition.yaml"
BUNDLE_INFO = "bundle.json"
PAGES_FOLDER = "pages"
INGESTION_CONFIG = "task.json"  # inside the ingestion program's zip: what it needs to know about the task

# competition.yaml's field → the bundle member it names (None: the member is not in every bundle, see bundle_files)
FILES = {
    "logo": None,  # "logo" + the task's logo suffix
    "terms": f"{PAGES_FOLDER}/terms.md",
    "scoring_program": "scoring_program.zip",
    "ingestion_program": "ingestion_program.zip",
    "reference_data": "reference_data.zip",
    "input_data": "input_data.zip",
    "public_data": "public_data.zip",
    "starting_kit": "starting_kit.zip",
    "solution": "solution.zip",
}
SAMPLE_FOLDER = "sample_submission"  # in the starting kit: the task's trivial submission
SAMPLE_PREFIX = "sample_"  # in the public data: sample_<results file>, the trivial version of that file


class BundleInfo(TypedDict):
    """bundle.json: the facts about a bundle that competition.yaml has no field for."""
    task: str
    scale: str  # the data scale it was built at
    seed: int
    data: str  # "synthetic", or "raw" (real data split by the builder)
    submission_kind: str  # "code" or "results"
    primary: str  # the primary leaderboard column's key
    sorting: str  # its sorting: "desc" (higher is better) or "asc"
    thresholds_scale: str  # the scale the thresholds were measured at
    public_reference: list[str]  # reference files participants also get (not answers)
    thresholds: dict[str, float]  # reference points of the primary score: gold, median, trivial, reference...
    datasets: dict[str, str]  # competition.yaml field → dataset key, when the data was uploaded separately
    results_files: list[str]  # the results files the scorer reads (a code task: accepted in place of the program)


DRAW_FIELDS = ("reference_data", "input_data")  # one of each per hidden draw


def draw_field(field: str, draw: int) -> str:
    """The data field of a hidden draw: reference_data and input_data for the first (0), reference_data_<n> and
    input_data_<n> for the others (a phase graded on another draw is another Codabench task)."""
    return f"{field}_{draw}" if draw else field


def bundle_files(logo_suffix: str, *, code: bool, starting_kit: bool, dataset_keys: dict[str, str] | None = None,
                 draws: Sequence[int] = (0,)) -> dict[str, str | None]:
    """competition.yaml's field → the member (or dataset key) it references; None for what the bundle lacks."""
    files = {field: member for field, member in FILES.items() if field not in DRAW_FIELDS}
    files["logo"] = "logo" + logo_suffix.lower()
    files.update({draw_field(field, draw): f"{draw_field(field, draw)}.zip" for draw in draws for field in DRAW_FIELDS})
    if not code:  # a results submission is scored as it is: no ingestion program, no input data
        files.update({draw_field("input_data", draw): None for draw in draws}, ingestion_program=None)
    files.update(dataset_keys or {})
    if not starting_kit:
        files["starting_kit"] = None
    return files


def page_member(file_name: str) -> str:
    """Where a page's rendered markdown goes in the bundle."""
    return f"{PAGES_FOLDER}/{file_name}"


def bundle_info_text(info: BundleInfo) -> str:
    """bundle.json's bytes (as text): sorted keys, so the same facts give the same bytes."""
    return json.dumps(info, indent=2, sort_keys=True) + "\n"


def read_bundle_info(archive: zipfile.ZipFile) -> dict:
    """bundle.json of a bundle (a BundleInfo, perhaps of an older builder); {} for a bundle without one (not ours)."""
    try:
        return json.loads(archive.read(BUNDLE_INFO))
    except KeyError:
        return {}


class NotInBundle(Exception):
    """The bundle holds no such thing (a reference solution, a sample submission)."""


class BundleReader(Protocol):
    """What reading a bundle's contents takes: worker.Bundle."""
    competition: dict

    def extract_dataset(self, reference: str, target: Path) -> None: ...

    def phase_and_task(self, phase_index: int) -> tuple[dict, dict]: ...


def reference_solution(bundle: BundleReader, target: Path) -> Path:
    """The organisers' reference solution (competition.yaml's first solution), unpacked into `target`."""
    solutions = bundle.competition.get("solutions") or []
    if not solutions:
        raise NotInBundle("this bundle holds no reference solution")
    bundle.extract_dataset(solutions[0]["path"], target)
    return target


def sample_submission(bundle: BundleReader, target: Path, results_files: list[str]) -> Path:
    """The task's trivial submission: the starting kit's sample_submission/ folder, else the public data's
    sample_<file> for each of `results_files`, the results files the task accepts (sample_submission.csv →
    submission.csv). The first phase's kit and public data are unpacked next to `target`."""
    phase, _task = bundle.phase_and_task(0)
    kit = target.parent / "kit"
    if phase.get("starting_kit"):  # Codabench puts the kit and the public data on the phase
        bundle.extract_dataset(phase["starting_kit"], kit)
        if (kit / SAMPLE_FOLDER).is_dir():
            return kit / SAMPLE_FOLDER
    public = target.parent / "public"
    if phase.get("public_data") and results_files:
        bundle.extract_dataset(phase["public_data"], public)
        if all((public / f"{SAMPLE_PREFIX}{name}").is_file() for name in results_files):
            target.mkdir(parents=True, exist_ok=True)
            for name in results_files:
                shutil.copyfile(public / f"{SAMPLE_PREFIX}{name}", target / name)
            return target
    raise NotInBundle(f"this task has no sample submission (no {SAMPLE_FOLDER}/ in its starting kit and no "
                      f"{SAMPLE_PREFIX}<file> in its public data)")
