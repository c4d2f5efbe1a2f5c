"""Hostile YAML: every file we read as YAML (competition.yaml, a program's metadata, bundle.yaml, a participant's
config) is read within bounds (size, nesting, alias expansion); each failure is a clear error naming the file,
never a traceback or a hang. Real runs: load_yaml itself, the CLI as a subprocess on bundles whose competition.yaml
was replaced, load_task on a copied task folder, and a code submission through the local worker."""
from __future__ import annotations

import io
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from bundlegen.datasets import DataKeysError, read_keys
from bundlegen.data import prepare_data
from bundlegen.definition import DefinitionError, load_task
from bundlegen.validate import validate_bundle
from bundlegen.worker import Bundle, WorkerError, program_command, run_submission
from conftest import ROOT, copy_project, quiet, read_inner, rewrite_bundle, write_zip
from programlib.safe_yaml import MAX_BYTES, YamlError, load_yaml, load_yaml_file, load_yaml_member

HANG_GUARD = 120  # seconds; only so that a hang fails the test instead of blocking it, not a speed target


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


LAUGHS = billion_laughs()  # a few hundred bytes, 9**10 values once expanded
DEEP_LIST = "[" * 20_000 + "]" * 20_000
DEEP_MAP = "{a: " * 20_000 + "1" + "}" * 20_000
BIG_SCALAR = "title: " + "x" * 50_000_000
NOT_UTF8 = b"version: 2\ntitle: caf\xe9\n"


# --- load_yaml ------------------------------------------------------------------------------------------

def refused(data, label: str = "some/file.yaml", **caps) -> YamlError:
    with pytest.raises(YamlError) as raised:
        load_yaml(data, label, **caps)
    message = str(raised.value)
    assert message.startswith(f"{label}: ") and "\n" not in message
    return raised.value


def test_billion_laughs_is_refused_before_it_is_expanded():
    assert "aliases expand to more than 1,000,000 nodes" in str(refused(LAUGHS))


def test_merge_keys_count_as_expansion_too():
    lines = ["m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9}"]
    lines += [f"m{i}: &m{i} {{<<: [" + ", ".join([f"*m{i - 1}"] * 9) + "]}" for i in range(1, 10)]
    assert "aliases expand to more than" in str(refused("\n".join(lines)))


def test_a_50_mb_scalar_is_refused_by_its_size():
    error = refused(BIG_SCALAR)
    assert error.reason == f"too large: {len(BIG_SCALAR):,} bytes > {MAX_BYTES:,}"


def test_a_50_mb_file_is_refused_by_its_size(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text(BIG_SCALAR)
    with pytest.raises(YamlError) as raised:
        load_yaml_file(path, label="big.yaml")
    assert str(raised.value) == f"big.yaml: too large: {len(BIG_SCALAR):,} bytes > {MAX_BYTES:,}"


@pytest.mark.parametrize("document", [DEEP_LIST, DEEP_MAP, "".join("  " * i + "a:\n" for i in range(500)) + "x: 1\n"],
                         ids=["list", "flow mapping", "block mapping"])
def test_deep_nesting_is_refused_without_recursion_error(document):
    assert "nested deeper than 100 levels" in str(refused(document))


def test_deep_nesting_beyond_the_stack_is_still_a_yaml_error():
    """With a bound higher than Python's stack allows, the recursive composer's RecursionError is caught."""
    error = refused(DEEP_LIST, max_depth=1_000_000)
    assert "nested" in error.reason


def test_depth_counts_aliases_expanded():
    chain = "l0: &l0 [x]\n" + "".join(f"l{i}: &l{i} [*l{i - 1}]\n" for i in range(1, 300))
    assert "with its aliases expanded, nested deeper than 100 levels" in str(refused(chain))


@pytest.mark.parametrize("document", ["model: &loop [*loop]\n", "a: &a {b: *a}\n", "a: &a {<<: *a}\n"])
def test_a_document_that_contains_itself_is_refused(document):
    assert "the document would contain itself" in str(refused(document))


def test_bytes_that_are_not_utf8_are_refused_with_their_position():
    assert refused(NOT_UTF8).reason == "not UTF-8 at byte offset 21 (byte 0xe9)"


def test_syntax_errors_keep_the_parsers_message_line_and_column():
    error = refused("a:\n  b: c: d\n")
    assert error.reason == "not valid YAML: mapping values are not allowed here at line 2, column 7"
    assert (error.line, error.problem) == (2, "mapping values are not allowed here")
    assert "unacceptable character #x0000" in str(refused("a: \x00\n"))


@pytest.mark.parametrize("document, what", [("n: " + "9" * 5000, "digits"), ("d: 2024-13-45", "month"),
                                            ("!!python/object/apply:os.system [ls]", "constructor"),
                                            ("? [1]\n: 2\n", "unhashable")])
def test_values_python_cannot_build_are_yaml_errors(document, what):
    assert what in str(refused(document))


def test_too_many_nodes_without_aliases():
    assert "holds more than 1,000 nodes" in str(refused("[" + "1, " * 2000 + "1]", max_nodes=1000))


def test_small_valid_yaml_with_aliases_reads_as_safe_load_does():
    document = ("base: &base {lr: 0.1, layers: [64, 32]}\nmodels:\n  - *base\n  - {<<: *base, lr: 0.01}\n"
                "dates: [2024-01-01, 12:30:00]\nempty:\n")
    assert load_yaml(document, "config.yaml") == yaml.safe_load(document)
    assert load_yaml(document.encode(), "config.yaml") == yaml.safe_load(document)
    assert load_yaml("", "empty.yaml") is None
    assert load_yaml("- 1\n- 2\n", "list.yaml") == [1, 2]  # a list is returned as such: callers check the type


def test_yaml_error_is_both_a_value_error_and_a_yaml_error_and_pickles():
    error = refused(LAUGHS)
    assert isinstance(error, ValueError) and isinstance(error, yaml.YAMLError)
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error) and copy.reason == error.reason


def test_zip_members_are_read_within_the_size_bound():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big.yaml", BIG_SCALAR)
        archive.writestr("ok.yaml", "a: 1\n")
    with zipfile.ZipFile(buffer) as archive:
        assert load_yaml_member(archive, "ok.yaml") == {"a": 1}
        with pytest.raises(YamlError, match=r"^bundle.zip:big.yaml: too large: 50,000,007 bytes"):
            load_yaml_member(archive, "big.yaml", label="bundle.zip:big.yaml")


# --- the CLI on bundles with a hostile competition.yaml -----------------------------------------------------

def deep_competition(kind: str) -> callable:
    def edit(competition: dict) -> None:
        if kind == "phase":
            competition["phases"][0] = ["not", "a", "mapping"]
        elif kind == "task":
            competition["tasks"][0] = ["not", "a", "mapping"]
        elif kind == "phases":
            competition["phases"] = {"0": competition["phases"][0]}
        elif kind == "top":
            competition.clear()
    return edit


HOSTILE = {  # name → the bytes of competition.yaml
    "billion-laughs": LAUGHS.encode(),
    "50-mb-scalar": BIG_SCALAR.encode(),
    "deep-list": DEEP_LIST.encode(),
    "deep-mapping": DEEP_MAP.encode(),
    "top-level-list": b"- version: 2\n- title: x\n",
    "self-reference": b"version: 2\nphases: &p [*p]\n",
}


@pytest.fixture(scope="module")
def source_bundle(tiny_bundle) -> Path:
    return tiny_bundle("tabular-baseline")


@pytest.fixture(scope="module")
def submission(source_bundle, tmp_path_factory) -> Path:
    with zipfile.ZipFile(source_bundle) as archive:
        path = tmp_path_factory.mktemp("submission") / "solution.zip"
        path.write_bytes(archive.read("solution.zip"))
    return path


def hostile_bundle(source: Path, folder: Path, name: str) -> Path:
    if name in HOSTILE:
        return rewrite_bundle(source, folder / f"{name}.zip", replace={"competition.yaml": HOSTILE[name]})
    if name == "not-utf8":
        with zipfile.ZipFile(source) as archive:
            text = archive.read("competition.yaml")
        return rewrite_bundle(source, folder / f"{name}.zip",
                              replace={"competition.yaml": text.replace(b"title:", b"title: caf\xe9", 1)})
    return rewrite_bundle(source, folder / f"{name}.zip", edit_yaml=deep_competition(name))


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "build_bundle.py"), *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=HANG_GUARD)


def assert_clear_failure(result: subprocess.CompletedProcess, *names: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    for name in names:
        assert name in output, output[-3000:]


LOAD_FAILURES = [*HOSTILE, "not-utf8"]
WHY = {"billion-laughs": "aliases expand to more than", "50-mb-scalar": "too large", "deep-list": "nested deeper",
       "deep-mapping": "nested deeper", "top-level-list": "must be a mapping", "self-reference": "contain itself",
       "not-utf8": "not UTF-8 at byte offset"}


@pytest.mark.parametrize("name", LOAD_FAILURES)
def test_validate_refuses_a_hostile_competition_yaml(source_bundle, tmp_path, name):
    result = cli("validate", hostile_bundle(source_bundle, tmp_path, name))
    assert_clear_failure(result, "competition.yaml", WHY[name])


@pytest.mark.parametrize("name", LOAD_FAILURES)
def test_run_refuses_a_hostile_competition_yaml(source_bundle, submission, tmp_path, name):
    result = cli("run", hostile_bundle(source_bundle, tmp_path, name), "--submission", submission)
    assert_clear_failure(result, "competition.yaml", WHY[name])


@pytest.mark.parametrize("name, where", [("phase", "phases[0]"), ("task", "tasks[0]"), ("phases", "phases"),
                                         ("top", "")])
def test_run_refuses_phases_and_tasks_of_the_wrong_type(source_bundle, submission, tmp_path, name, where):
    result = cli("run", hostile_bundle(source_bundle, tmp_path, name), "--submission", submission)
    assert_clear_failure(result, where)
    if name != "top":
        assert "competition.yaml" in result.stderr


@pytest.mark.parametrize("name", ["phase", "task", "phases"])
def test_validate_refuses_phases_and_tasks_of_the_wrong_type(source_bundle, tmp_path, name):
    result = cli("validate", hostile_bundle(source_bundle, tmp_path, name))
    assert_clear_failure(result, "phases" if name.startswith("phase") else "tasks")


def set_at(path: tuple, value):
    def edit(competition: dict) -> None:
        node = competition
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
    return edit


WRONG_TYPES = [  # (path in competition.yaml, a value of the wrong type, what the validator names)
    (("tasks",), 1.5, "tasks"), (("tasks", 0, "index"), [1], "tasks[0].index"),
    (("tasks", 0, "reference_data"), {"k": 1}, "tasks[0].reference_data"), (("solutions",), True, "solutions"),
    (("solutions", 0, "tasks"), 1.5, "solutions[0].tasks"), (("solutions", 0, "tasks", 0), [0], "solutions[0].tasks[0]"),
    (("solutions", 0, "path"), ["x"], "solutions[0].path"), (("phases", 0, "tasks", 0), {"k": 0}, "phases[0].tasks[0]"),
    (("phases", 0, "execution_time_limit"), "ten", "phases[0].execution_time_limit"),
    (("leaderboards", 0, "submission_rule"), ["Add"], "leaderboards[0].submission_rule"),
    (("leaderboards", 0, "columns", 0, "index"), [0], "leaderboards[0].columns[0].index"),
    (("leaderboards", 0, "primary_index"), {"k": 0}, "leaderboards[0].primary_index"),
]


@pytest.mark.parametrize("path, value, where", WRONG_TYPES, ids=[w for _, _, w in WRONG_TYPES])
def test_fields_of_the_wrong_type_are_problems_not_tracebacks(source_bundle, tmp_path, path, value, where):
    bundle = rewrite_bundle(source_bundle, tmp_path / "wrong.zip", edit_yaml=set_at(path, value))
    report = validate_bundle(bundle, run_solutions=False, log=quiet)
    assert any(problem.where == where for problem in report.problems), report.problems
    try:  # the local worker either runs phase 0 (a field it does not use) or says why not
        Bundle(bundle).phase_and_task(0)
    except WorkerError:
        pass


def test_a_hostile_program_metadata_is_a_worker_error(tmp_path):
    program = tmp_path / "program"
    program.mkdir()
    (program / "metadata.yaml").write_text(LAUGHS)
    with pytest.raises(WorkerError, match=r"^program/metadata.yaml: aliases expand to more than"):
        program_command(program, tmp_path)
    (program / "metadata.yaml").write_text("- command: python3 x.py\n")
    with pytest.raises(WorkerError, match="no command"):
        program_command(program, tmp_path)


def test_bundle_in_python_gives_worker_errors(source_bundle, tmp_path):
    for name in ("billion-laughs", "phase"):
        path = hostile_bundle(source_bundle, tmp_path, name)
        with pytest.raises(WorkerError, match="competition.yaml"):
            Bundle(path).phase_and_task(0)


# --- bundle.yaml --------------------------------------------------------------------------------------------

DEFINITION = "bundles/tabular-baseline/bundle.yaml"


@pytest.mark.parametrize("content, why", [
    (LAUGHS.encode(), "aliases expand to more than"), (BIG_SCALAR.encode(), "too large"),
    (DEEP_LIST.encode(), "nested deeper"), (DEEP_MAP.encode(), "nested deeper"),
    (NOT_UTF8, "not UTF-8 at byte offset 21"), (b"id: [unclosed\n", "not valid YAML"),
    (b"- id: tabular-baseline\n", "the top level must be a mapping")])
def test_a_hostile_bundle_yaml_is_a_definition_error_naming_the_file(tmp_path, content, why):
    project = copy_project(tmp_path / "project")
    folder = project.bundles_dir / "tabular-baseline"
    (folder / "bundle.yaml").write_bytes(content)
    with pytest.raises(DefinitionError) as raised:
        load_task(folder, project)
    assert len(raised.value.problems) == 1
    assert raised.value.problems[0].startswith(f"{DEFINITION}: ") and why in raised.value.problems[0]


# --- a participant's config: ingestion's config edits and the refactor-train-config scorer ----------------

def test_a_billion_laughs_config_is_a_clear_submission_error(tiny_bundle, tmp_path):
    """The extra runs cannot edit it (said by the ingestion program) and the scorer refuses it, naming it. Both
    programs run from the bundle's zips, with the copy of programlib (safe_yaml included) vendored into each."""
    bundle = tiny_bundle("refactor-train-config")
    task = Bundle(bundle).competition["tasks"][0]
    for member in (task["scoring_program"], task["ingestion_program"]):
        vendored = read_inner(bundle, member, "programlib/safe_yaml.py")
        assert vendored == (ROOT / "programlib" / "safe_yaml.py").read_bytes()
    submission = write_zip(tmp_path / "laughs.zip", {"train.py": "print('no training here')\n",
                                                     "config.yaml": LAUGHS})
    result = run_submission(bundle, submission, workdir=tmp_path / "run", log=quiet)
    assert not result.ok and result.scores is None
    assert "config.yaml: aliases expand to more than 1,000,000 nodes" in result.error
    assert "Traceback" not in result.error
    ingestion_log = (tmp_path / "run" / "logs" / "prediction.stdout.txt").read_text()
    assert "config.yaml is not valid YAML: config.yaml: aliases expand to more than" in ingestion_log


def test_a_hostile_keys_file_names_the_file(tmp_path):
    keys = tmp_path / "keys.yaml"
    keys.write_text(LAUGHS)
    with pytest.raises(DataKeysError, match=f"^{keys}: aliases expand to more than"):
        read_keys(keys, ["reference_data"])


def test_hostile_scale_parameters_stop_at_the_definition_before_prepare(tmp_path):
    """prepare() gets its scale's parameters from the parsed bundle.yaml and reads no YAML itself: a scales section
    that expands without bound, or nests too deep, is a DefinitionError naming the file, before any data step; a
    sound edit of the scale reaches prepare() through the definition."""
    project = copy_project(tmp_path / "project")
    folder = project.bundles_dir / "tabular-baseline"
    original = (folder / "bundle.yaml").read_text()
    tiny = "  tiny: {n_train: 400, n_test: 200, sample_raw: true}\n"
    assert original.count(tiny) == 1
    for hostile, why in [(LAUGHS + original.replace(tiny, "  tiny: {n_train: *a9, n_test: 200}\n"),
                          "aliases expand to more than"),
                         (original.replace(tiny, "  tiny: {n_train: " + "{a: " * 500 + "1" + "}" * 500 + "}\n"),
                          "nested deeper than 100 levels")]:
        (folder / "bundle.yaml").write_text(hostile)
        with pytest.raises(DefinitionError) as raised:
            load_task(folder, project)
        assert len(raised.value.problems) == 1
        assert raised.value.problems[0].startswith(f"{DEFINITION}: ") and why in raised.value.problems[0]
    (folder / "bundle.yaml").write_text(original.replace(tiny, "  tiny: {n_train: 40, n_test: 20, sample_raw: true}\n"))
    task = load_task(folder, project)
    data = prepare_data(task, task.scale("tiny"), 0, cache_dir=tmp_path / "cache", log=quiet)
    assert len((data / "public" / "train.csv").read_text().splitlines()) == 1 + 40
