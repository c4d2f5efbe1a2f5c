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
from conftest import ROOT, quiet, write_zip

TASKS = load_all()
CODE_TASKS = sorted(t for t, task in TASKS.items() if task.is_code)

# Walks the whole run folder of the local worker (every job's root) while ingestion runs it, and records
# every file with its hash, and the environment.
SNOOPER = """
import hashlib, json, os, pathlib
root = pathlib.Path(os.environ["DATA_DIR"]).parents[1]  # RUN/prediction/input_data
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


# Plays the attacker with everything it could know: where the bundle, the data cache and the project are, and
# the name, size and hash of every reference file. It looks there, walks the whole file system for a file of the
# same size and hash, and reads other processes' command lines and environments. Then it submits a constant.
ATTACKER = """
import hashlib, json, os, pathlib
SECRETS = json.loads({secrets!r})
found = []
for place in SECRETS["places"]:
    path = pathlib.Path(place)
    try:
        if path.exists():
            found.append(f"exists: {{place}}")
            if path.is_file():
                path.read_bytes()
                found.append(f"read: {{place}}")
    except OSError:
        pass
sizes = {{size for size, _ in SECRETS["files"]}}
hashes = {{digest for _, digest in SECRETS["files"]}}
skip = {{"/proc", "/sys", "/dev"}}
for folder, subfolders, files in os.walk("/", onerror=lambda error: None):
    subfolders[:] = [s for s in subfolders if os.path.join(folder, s) not in skip]
    for name in files:
        path = os.path.join(folder, name)
        try:
            if os.path.isfile(path) and not os.path.islink(path) and os.path.getsize(path) in sizes:
                if hashlib.sha256(open(path, "rb").read()).hexdigest() in hashes:
                    found.append(f"answer file: {{path}}")
        except OSError:
            pass
for entry in pathlib.Path("/proc").iterdir():
    if entry.name.isdigit():
        for part in ("cmdline", "environ"):
            try:
                text = (entry / part).read_bytes().decode(errors="replace")
            except OSError:
                continue
            for place in SECRETS["places"]:
                if place in text:
                    found.append(f"/proc/{{entry.name}}/{{part}} names {{place}}")
pathlib.Path("attack.json").write_text(json.dumps(found))
out = pathlib.Path(os.environ["OUTPUT_DIR"])
import csv
rows = list(csv.DictReader(open(os.path.join(os.environ["DATA_DIR"], "test.csv"))))
with open(out / "predictions.csv", "w") as handle:
    handle.write("id,target\\n" + "".join(f"{{row['id']}},0.5\\n" for row in rows))
"""


def test_an_attacker_who_knows_where_the_answers_are_finds_nothing(tiny_bundle, cache_dir, tmp_path):
    """Locally, the bundle, the data cache and the project are on the same disk as the participant's program.
    A private root file system (bubblewrap, programlib/sandbox.py) keeps them out of its reach."""
    from programlib.sandbox import probe

    assert probe() is None, probe()  # needed here and in CI: never skipped
    bundle = tiny_bundle("tabular-baseline")
    answers = Bundle(bundle)
    files = []
    for task in answers.competition["tasks"]:
        with zipfile.ZipFile(io.BytesIO(answers.archive.read(task["reference_data"]))) as reference:
            files += [(len(reference.read(n)), hashlib.sha256(reference.read(n)).hexdigest())
                      for n in reference.namelist()]
    private = sorted(str(p) for p in cache_dir.rglob("test_labels.csv"))
    assert private, "the data cache holds the answers (so the attacker has something to find)"
    places = [str(bundle), str(bundle.parent), str(cache_dir), *private, str(ROOT / "bundles"), str(ROOT / "dist")]
    secrets = json.dumps({"places": places, "files": files})
    submission = write_zip(tmp_path / "attack.zip", {"baseline.py": ATTACKER.format(secrets=secrets)})
    result = run_submission(bundle, submission, workdir=tmp_path / "run", log=quiet)
    assert result.ok, result.error
    found = json.loads((tmp_path / "run" / "prediction" / "output" / "submission" / "attack.json").read_text())
    assert found == []
    assert result.scores["roc_auc"] == 0.5  # it scores as badly as a constant should
    ingestion = json.loads((tmp_path / "run" / "prediction" / "output" / "ingestion_result.json").read_text())
    assert ingestion["files"] == "private" and ingestion["network"] == "off"
