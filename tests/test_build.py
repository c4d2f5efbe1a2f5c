"""The builder: deterministic bytes, the right members, programs that run standalone."""
from __future__ import annotations

import io
import json
import os
import re
import stat
import subprocess
import sys
import zipfile

import pytest
import yaml

from bundlegen.build import build_bundle
from bundlegen.definition import load_all, load_task
from bundlegen.zipper import human_size
from conftest import ROOT, TASK_IDS, build_copy, copy_project, quiet, run_cli


def members(zip_bytes: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        return archive.namelist()


def test_two_builds_are_byte_identical_and_a_changed_page_is_not(tmp_path):
    project = copy_project(tmp_path / "project")
    # separate data caches: the data is generated twice, and must come out the same too
    first = build_copy(project, "tabular-baseline", tmp_path / "a", tmp_path / "cache-a")
    second = build_copy(project, "tabular-baseline", tmp_path / "b", tmp_path / "cache-b")
    assert first.read_bytes() == second.read_bytes()

    page = project.bundles_dir / "tabular-baseline" / "pages" / "overview.md"
    page.write_text(page.read_text() + "\nOne more sentence.\n")
    third = build_copy(project, "tabular-baseline", tmp_path / "c", tmp_path / "cache-a")
    assert third.read_bytes() != first.read_bytes()
    with zipfile.ZipFile(third) as archive:
        assert archive.read("pages/overview.md").decode().endswith("One more sentence.\n")


def test_another_seed_gives_other_data(tmp_path, cache_dir):
    task = load_task(copy_project(tmp_path / "project").bundles_dir / "tabular-baseline")
    one = build_bundle(task, tmp_path / "one", scale_name="tiny", seed=0, cache_dir=cache_dir, log=quiet)
    two = build_bundle(task, tmp_path / "two", scale_name="tiny", seed=1, cache_dir=cache_dir, log=quiet)
    with zipfile.ZipFile(one) as a, zipfile.ZipFile(two) as b:
        assert a.read("reference_data.zip") != b.read("reference_data.zip")
        assert a.read("scoring_program.zip") == b.read("scoring_program.zip")


def test_bundle_layout(tiny_bundle):
    with zipfile.ZipFile(tiny_bundle("tabular-baseline")) as bundle:
        names = bundle.namelist()
        assert names == sorted(names)
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in bundle.infolist())
        competition = yaml.safe_load(bundle.read("competition.yaml"))
        assert competition["version"] == 2 and competition["enable_detailed_results"] is True
        for name in ("logo.png", "pages/terms.md", "scoring_program.zip", "ingestion_program.zip",
                     "reference_data.zip", "input_data.zip", "public_data.zip", "starting_kit.zip", "solution.zip"):
            assert name in names
        scoring = members(bundle.read("scoring_program.zip"))
        assert "metadata.yaml" in scoring and "scoring.py" in scoring and "programlib/scoring.py" in scoring
        ingestion = members(bundle.read("ingestion_program.zip"))
        assert "task.json" in ingestion and "programlib/runner.py" in ingestion
        kit = members(bundle.read("starting_kit.zip"))
        assert "sample_submission/baseline.py" in kit
        assert not any(name.startswith("solution/") for name in kit), "the reference solution is the organiser's"
        assert sorted(members(bundle.read("solution.zip"))) == ["README.md", "baseline.py"]
        assert sorted(members(bundle.read("reference_data.zip"))) == ["reference.json", "test_labels.csv"]
        info = json.loads(bundle.read("bundle.json"))
        assert info["scale"] == "tiny" and info["primary"] == "score"
        config = json.loads(zipfile.ZipFile(io.BytesIO(bundle.read("ingestion_program.zip"))).read("task.json"))
        assert config["entry"] == "baseline.py" and config["time_limit"] == 300


def test_pages_are_rendered_with_the_task_facts(tiny_bundle):
    with zipfile.ZipFile(tiny_bundle("tabular-baseline")) as bundle:
        data_page = bundle.read("pages/data.md").decode()
    assert "| `train.csv` | 400 |" in data_page and "{{" not in data_page


def test_programs_use_their_vendored_library(tmp_path, tiny_bundle):
    """In Codabench's container nothing of ours is installed: the program zip must carry programlib."""
    with zipfile.ZipFile(tiny_bundle("tabular-baseline")) as bundle:
        zipfile.ZipFile(io.BytesIO(bundle.read("scoring_program.zip"))).extractall(tmp_path / "program")
    found = subprocess.run([sys.executable, "-c", "import programlib; print(programlib.__file__)"],
                           cwd=tmp_path / "program", capture_output=True, text=True, check=True).stdout
    assert found.strip() == str(tmp_path / "program" / "programlib" / "__init__.py")


def test_cli_build_all(tmp_path):
    result = run_cli("build", "--all", "--scale", "tiny", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1/5 data" in result.stdout and "5/5 writing the bundle" in result.stdout  # progress per step
    assert (tmp_path / "tabular-baseline.zip").is_file()


def test_raw_data_is_split_instead_of_generated(tmp_path):
    """--raw-data DIR: the real table is split (stratified) into public train/test and private labels."""
    import numpy as np
    import pandas as pd

    raw = tmp_path / "raw"
    raw.mkdir()
    rng = np.random.default_rng(5)
    pd.DataFrame({"x1": rng.normal(size=900), "colour": rng.choice(["red", "blue"], 900),
                  "target": rng.integers(0, 2, 900)}).to_csv(raw / "train.csv", index=False)
    result = run_cli("build", "tabular-baseline", "--scale", "full", "--raw-data", raw, "--out", tmp_path / "dist")
    assert result.returncode == 0, result.stderr
    assert "preparing raw data" in result.stdout
    with zipfile.ZipFile(tmp_path / "dist" / "tabular-baseline.zip") as bundle:
        public = zipfile.ZipFile(io.BytesIO(bundle.read("public_data.zip")))
        train = pd.read_csv(public.open("train.csv"))
        test = pd.read_csv(public.open("test.csv"))
        labels = pd.read_csv(zipfile.ZipFile(io.BytesIO(bundle.read("reference_data.zip"))).open("test_labels.csv"))
        assert json.loads(bundle.read("bundle.json"))["data"] == "raw"
    assert len(train) + len(test) == 900 and len(test) == 300
    assert "target" not in test.columns and list(labels.columns) == ["id", "target"]
    assert set(labels["id"]) == set(test["id"]) and not set(train["id"]) & set(test["id"])
    assert list(train.columns) == ["id", "x1", "colour", "target"]


def test_raw_data_without_a_target_is_a_clear_error(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "train.csv").write_text("a,b\n1,2\n")
    result = run_cli("build", "tabular-baseline", "--raw-data", raw, "--out", tmp_path / "dist")
    assert result.returncode == 1
    assert f"{raw / 'train.csv'}: no 'target' column" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "dist" / "tabular-baseline.zip").exists()


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_prepare_contract_for_every_task(tmp_path, task_id):
    """prepare(None, out_dir, params, seed), params the tiny scale's dict: same seed, same bytes; the folders it
    must write."""
    from bundlegen.data import load_prepare, check_prepared

    task = load_all()[task_id]
    prepare = load_prepare(task)
    digests = []
    for run in ("a", "b"):
        prepare(None, tmp_path / run, dict(task.scale("tiny").params), 0)
        check_prepared(task, tmp_path / run)
        files = sorted(p for p in (tmp_path / run).rglob("*") if p.is_file())
        digests.append([(p.relative_to(tmp_path / run).as_posix(), p.read_bytes()) for p in files])
    assert digests[0] == digests[1]


def test_data_as_separate_datasets_referenced_by_key(tmp_path):
    """--data-keys: first the dataset zips and a keys file to fill in; then a bundle that references the keys."""
    keys = tmp_path / "keys.yaml"
    first = run_cli("build", "tabular-baseline", "--scale", "tiny", "--out", tmp_path / "dist", "--data-keys", keys)
    assert first.returncode == 0, first.stderr
    datasets = tmp_path / "dist" / "tabular-baseline-datasets"
    assert sorted(p.name for p in datasets.iterdir()) == ["input_data.zip", "input_data_1.zip", "public_data.zip",
                                                          "reference_data.zip", "reference_data_1.zip"]
    assert not (tmp_path / "dist" / "tabular-baseline.zip").exists() and "fill in the keys" in first.stdout

    bad = run_cli("build", "tabular-baseline", "--scale", "tiny", "--out", tmp_path / "dist", "--data-keys", keys)
    assert bad.returncode == 1 and "public_data: " in bad.stderr and "is not a dataset key" in bad.stderr

    uuids = {"reference_data": "11111111-1111-4111-8111-111111111111", "input_data": "22222222-2222-4222-8222-222222222222",
             "public_data": "33333333-3333-4333-8333-333333333333",
             "reference_data_1": "44444444-4444-4444-8444-444444444444",  # the final phase's hidden draw
             "input_data_1": "55555555-5555-4555-8555-555555555555"}
    keys.write_text(yaml.safe_dump(uuids))
    second = run_cli("build", "tabular-baseline", "--scale", "tiny", "--out", tmp_path / "dist", "--data-keys", keys)
    assert second.returncode == 0, second.stderr
    bundle = tmp_path / "dist" / "tabular-baseline.zip"
    with zipfile.ZipFile(bundle) as archive:
        competition = yaml.safe_load(archive.read("competition.yaml"))
        assert not {"reference_data.zip", "input_data.zip", "public_data.zip"} & set(archive.namelist())
        assert not {"reference_data_1.zip", "input_data_1.zip"} & set(archive.namelist())
    assert competition["tasks"][0]["reference_data"] == uuids["reference_data"]
    assert competition["tasks"][1]["input_data"] == uuids["input_data_1"]
    assert all(phase["public_data"] == uuids["public_data"] for phase in competition["phases"])
    validated = run_cli("validate", bundle)
    assert validated.returncode == 0 and "referenced by dataset keys" in validated.stdout
    without = run_cli("run", bundle, "--submission", ROOT / "starting_kits" / "tabular-baseline" / "solution")
    assert without.returncode == 1 and "run with --datasets FOLDER" in without.stderr + without.stdout
    ran = run_cli("run", bundle, "--submission", ROOT / "starting_kits" / "tabular-baseline" / "solution",
                  "--datasets", datasets)
    assert ran.returncode == 0, ran.stdout + ran.stderr


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_bundle_zip_is_an_ordinary_file_and_its_size_is_human(tmp_path, umask):
    """Issue 12: the bundle came out 0600 (tempfile.mkstemp) and small bundles printed as "(0.0 MB)"."""
    result = subprocess.run([sys.executable, str(ROOT / "build_bundle.py"), "build", "tabular-baseline", "--scale",
                             "tiny", "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=600,
                            preexec_fn=lambda: os.umask(umask))
    assert result.returncode == 0, result.stderr
    target = tmp_path / "tabular-baseline.zip"
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert "0.0 MB" not in result.stdout
    assert f"wrote {target} ({human_size(target.stat().st_size)})" in result.stdout


def test_human_size():
    assert [human_size(n) for n in (0, 999, 1000, 112_000, 999_499, 999_500, 63_500_000, 2_100_000_000)] == [
        "0 B", "999 B", "1 KB", "112 KB", "999 KB", "1.0 MB", "63.5 MB", "2.1 GB"]


@pytest.mark.parametrize("kit", sorted(p.name for p in (ROOT / "starting_kits").iterdir() if p.is_dir()))
def test_starting_kit_readme_uses_only_what_a_participant_has(kit):
    """Issue 12: the kits told participants to run build_bundle.py on a bundle zip they never receive."""
    readme = (ROOT / "starting_kits" / kit / "README.md").read_text()
    assert "build_bundle" not in readme and "dist/" not in readme
    kit_dir = ROOT / "starting_kits" / kit
    for script in re.findall(r"^python3 (\S+\.py)\b", readme, flags=re.M):  # the programs it runs are in the kit
        assert ((kit_dir / "sample_submission" / script).is_file() or (kit_dir / script).is_file()
                or script.startswith("path/to/public_data/")), script


@pytest.mark.parametrize("broken", ["{% if %}", "{{ no_such_fact.at_all }}"])
def test_a_bad_page_template_is_a_clear_error_naming_the_page(tmp_path, cache_dir, broken):
    """The CLI turns it into one line and exit 1 (build_bundle.BUILD_ERRORS), never a traceback."""
    from bundlegen.render import RenderError
    from build_bundle import BUILD_ERRORS, build_error

    project = copy_project(tmp_path / "project")
    page = project.bundles_dir / "tabular-baseline" / "pages" / "evaluation.md"
    page.write_text("# Evaluation\n\nfine\n" + broken + "\n")
    with pytest.raises(RenderError) as raised:
        build_copy(project, "tabular-baseline", tmp_path / "dist", cache_dir)
    assert isinstance(raised.value, BUILD_ERRORS)
    message = build_error(raised.value)
    assert message.startswith(str(page)) and "line 4" in message and "\n" not in message.strip()
