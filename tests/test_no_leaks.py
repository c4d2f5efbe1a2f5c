"""No answers reach participants, for every bundle: nothing in what they receive, nothing on disk while their code runs."""
from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest

from bundlegen.definition import load_all
from bundlegen.leaks import find_leaks
from bundlegen.worker import Bundle, run_submission
from conftest import quiet, write_zip

TASKS = load_all()
CODE_TASKS = sorted(t for t, task in TASKS.items() if task.is_code)

# Walks the whole run folder of the local worker (every job's root) while ingestion runs it, and records
# every file with its hash, and the environment.
SNOOPER = """
import hashlib, json, os, pathlib
root = pathlib.Path.cwd().parents[2]
seen = {}
for path in root.rglob("*"):
    try:
        if path.is_file():
            seen[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        pass
pathlib.Path("found.json").write_text(json.dumps({"files": seen, "environ": dict(os.environ)}))
"""


def reference_files(bundle_path) -> dict[str, str]:
    """Name → sha256 of every file of the bundle's reference data."""
    bundle = Bundle(bundle_path)
    files = {}
    for task in bundle.competition["tasks"]:
        with zipfile.ZipFile(io.BytesIO(bundle.archive.read(task["reference_data"]))) as reference:
            for name in reference.namelist():
                files[name] = hashlib.sha256(reference.read(name)).hexdigest()
    return files


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_nothing_participants_receive_holds_the_answers(tiny_bundle, task_id):
    bundle = Bundle(tiny_bundle(task_id))
    assert list(find_leaks(bundle.archive, bundle.competition, bundle.info.get("public_reference", []))) == []


@pytest.mark.parametrize("task_id", CODE_TASKS)
def test_answers_are_not_on_disk_while_the_submission_runs(tiny_bundle, tmp_path, task_id):
    bundle = tiny_bundle(task_id)
    entry = TASKS[task_id].model.submission.entry
    if entry.endswith(".ipynb"):  # the same snooper, as a notebook the ingestion program executes on a kernel
        import nbformat
        book = nbformat.v4.new_notebook()
        book.cells = [nbformat.v4.new_code_cell(SNOOPER)]
        submission = write_zip(tmp_path / "snoop.zip", {entry: nbformat.writes(book)})
    else:
        submission = write_zip(tmp_path / "snoop.zip", {entry: SNOOPER})
    run_submission(bundle, submission, workdir=tmp_path / "run", log=quiet)
    found = json.loads((tmp_path / "run" / "prediction" / "output" / "submission" / "found.json").read_text())
    assert any(name.startswith("prediction/input_data/") for name in found["files"]), "the snooper saw the inputs"
    answers = reference_files(bundle)
    public = set(Bundle(bundle).info.get("public_reference", []))  # e.g. labels.csv: not an answer
    hashes = set(found["files"].values())
    assert not [name for name, digest in answers.items() if digest in hashes and name not in public]
    assert not [path for path in found["files"] if path.startswith("scoring/")]
    assert not [key for key, value in found["environ"].items() if "input/ref" in value or "reference" in value.lower()]
    # ...and the answers do arrive for scoring, afterwards, so the check above could have failed
    scoring_ref = tmp_path / "run" / "scoring" / "input" / "ref"
    assert {p.name for p in scoring_ref.rglob("*") if p.is_file()} == {n.split("/")[-1] for n in answers}
