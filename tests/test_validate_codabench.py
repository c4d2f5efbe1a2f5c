"""The validator agrees with Codabench (issue 15): each case is a bundle Codabench's unpacker or serializers treat in
some way, with Codabench's own message (codalab/codabench, src/apps/...) quoted next to ours."""
from __future__ import annotations

import io
import struct
import zipfile

import pytest

from bundlegen.validate import BundleChecker, image_pixels, validate_bundle
from conftest import quiet, rewrite_bundle
from test_validate import problems_of

UUID = "0f4b8e2a-6c1d-4e5f-9a7b-3c2d1e0f9a8b"
QUESTION = {"key": "method", "type": "text", "title": "Method", "selection": "", "is_required": "false",
            "is_on_leaderboard": "false"}


@pytest.fixture
def bundle(tiny_bundle):
    return tiny_bundle("tabular-baseline")


def edited(bundle, tmp_path, edit, name="b.zip"):
    return rewrite_bundle(bundle, tmp_path / name, edit_yaml=edit)


def test_a_well_formed_fact_sheet_passes(bundle, tmp_path):
    def edit(c):
        c["fact_sheet"] = {"method": dict(QUESTION)}
    assert problems_of(edited(bundle, tmp_path, edit)) == []


def test_fact_sheet_of_the_wrong_shape(bundle, tmp_path):
    # api/serializers/competitions.py validate_fact_sheet:
    #   f'Missing {missing_keys} values for {key}'  (a symmetric difference: extra keys count too)
    #   f"key:{value['key']}  does not match JSON key:{key}"
    #   f"{value['type']} is not a valid question type"
    def edit(c):
        c["fact_sheet"] = {
            "short": {k: v for k, v in QUESTION.items() if k != "is_on_leaderboard"} | {"key": "short", "extra": 1},
            "renamed": dict(QUESTION),  # key: method
            "odd": dict(QUESTION, key="odd", type="radio"),
        }
    assert problems_of(edited(bundle, tmp_path, edit)) == [
        "fact_sheet.short: missing is_on_leaderboard, unknown extra: a question has exactly the keys is_on_leaderboard, "
        "is_required, key, selection, title, type",
        "fact_sheet.renamed.key: 'method' must equal the question's name 'renamed'",
        "fact_sheet.odd.type: 'radio' is not one of checkbox, select, text"]


def test_a_fact_sheet_that_is_not_a_mapping(bundle, tmp_path):
    # validate_fact_sheet: "Not valid JSON"
    def edit(c):
        c["fact_sheet"] = ["method"]
    [problem] = problems_of(edited(bundle, tmp_path, edit))
    assert problem.startswith("fact_sheet: must be a mapping of questions")


def test_a_queue_cannot_be_checked_offline(bundle, tmp_path):
    # competitions/unpackers/base_unpacker.py _unpack_queue: "The specified Queue does not exist!" and
    # "You do not have access to the specified queue!"
    def edit(c):
        c["queue"] = "my-gpu-vhost"
    [problem] = problems_of(edited(bundle, tmp_path, edit))
    assert problem.startswith("queue: 'my-gpu-vhost' names a queue (its vhost) on one Codabench server: it cannot be "
                              "checked offline")


def test_competition_type_and_contact_email(bundle, tmp_path):
    # competitions/models.py: competition_type CharField(choices=COMPETITION_TYPE) ("competition", "benchmark");
    # contact_email EmailField: Django's "Enter a valid email address." / "Ensure this value has at most 256 ..."
    def edit(c):
        c["competition_type"] = "contest"
        c["contact_email"] = "organisers at example.org"
    assert problems_of(edited(bundle, tmp_path, edit)) == [
        "competition_type: 'contest' is not one of competition, benchmark",
        "contact_email: 'organisers at example.org' is not an e-mail address"]

    def other(c):
        c["competition_type"] = "benchmark"
        c["contact_email"] = "a@b"  # Django wants a dot in the domain (or localhost)
    assert problems_of(edited(bundle, tmp_path, other, "c.zip")) == ["contact_email: 'a@b': 'b' is not a valid domain"]

    def good(c):
        c["contact_email"] = "first.last+ml@example.co.uk"
    assert problems_of(edited(bundle, tmp_path, good, "d.zip")) == []


def test_phases_are_checked_in_index_order(bundle, tmp_path):
    # competitions/unpackers/v2.py _unpack_phases: phases = sorted(self.competition_yaml['phases'],
    #   key=lambda p: p.get('index', 0)); then base_unpacker.py _validate_phase_ordering in that order:
    #   f'Phase: {phase1.get("name", phase1["index"])} must have an end time because it has a phase after it.'
    def reversed_list(c):
        c["phases"].reverse()  # Final (index 1) listed first: Codabench sorts it back, so this is valid
    assert problems_of(edited(bundle, tmp_path, reversed_list)) == []

    def swapped_indexes(c):
        c["phases"][0]["index"], c["phases"][1]["index"] = 1, 0  # Final, which has no end, now comes first
    assert problems_of(edited(bundle, tmp_path, swapped_indexes, "c.zip")) == [
        "phases[1].end: required (every phase but the last needs an end)"]


def test_sequential_dates_follow_the_index(bundle, tmp_path):
    # _validate_phase_ordering: f'Phases must be sequential. Phase: {phase2...}starts before Phase: {phase1...}
    # has ended'
    def edit(c):
        c["phases"][1]["end"] = "2027-09-01 00:00:00"
        c["phases"].append(dict(c["phases"][1], index=2, name="Extra", start="2027-09-15 00:00:00",
                                end="2027-10-01 00:00:00"))
        c["phases"][0]["index"] = 3  # Development now comes last by index, long before Extra's end
    assert problems_of(edited(bundle, tmp_path, edit)) == [
        "phases[0].start: 2026-12-01 00:00:00 must be after 2027-10-01 00:00:00, the end of phases[2] "
        "(the phase before it by index)"]


def test_duplicate_missing_and_text_phase_indexes(bundle, tmp_path):
    # Codabench accepts a duplicate or missing index (a stable sort; p.get('index', 0)); a text one among numbers
    # breaks its sort (TypeError), so we ask for a whole number.
    def edit(c):
        del c["phases"][0]["index"]  # counts as 0
        c["phases"].append(dict(c["phases"][1], name="Again", index="two"))  # "two" → 0 too: before Final
    assert problems_of(edited(bundle, tmp_path, edit)) == [
        "phases[2].index: must be a whole number (Codabench sorts the phases by it), got 'two'",
        "phases[2].end: required (every phase but the last needs an end)"]


def test_phase_and_task_names_over_256_characters(bundle, tmp_path):
    # competitions/models.py Phase.name and tasks/models.py Task.name: CharField(max_length=256); DRF says
    # "Ensure this field has no more than 256 characters."
    def edit(c):
        c["phases"][1]["name"] = "P" * 257
        c["tasks"][0]["name"] = "T" * 300
    assert problems_of(edited(bundle, tmp_path, edit)) == ["tasks[0].name: 300 characters; at most 256",
                                                           "phases[1].name: 257 characters; at most 256"]


def test_a_task_or_scoring_program_by_key_is_not_checked_offline(bundle, tmp_path):
    # base_unpacker.py _save_tasks: f'Task with key {task} does not exist'; _get_data_key:
    # f'Cannot find {file_type} with key: "{file_name}"'. Only the server can tell: we say so, and run nothing.
    def edit(c):
        c["tasks"][0] = {"index": 0, "key": UUID}
        c["tasks"][1]["scoring_program"] = UUID.replace("0f", "1f")
    said = []
    report = validate_bundle(edited(bundle, tmp_path, edit), run_solutions=True, log=said.append)
    assert report.problems == [] and report.solution_runs == []
    assert any("1 file(s) are referenced by dataset keys" in line for line in said)
    assert any("1 task(s) are referenced by task keys" in line for line in said)

    def not_a_uuid(c):
        c["tasks"][0] = {"index": 0, "key": "my-task"}
    assert problems_of(edited(bundle, tmp_path, not_a_uuid, "c.zip")) == [
        "tasks[0].key: 'my-task' is not a task's UUID key"]


def test_a_solution_given_as_a_folder_is_zipped_and_run(bundle, tmp_path):
    # competitions/unpackers/utils.py zip_if_directory: "If the path is a folder it zips it up" (contents at the
    # root); it used to crash `validate` with KeyError.
    with zipfile.ZipFile(bundle) as archive, zipfile.ZipFile(io.BytesIO(archive.read("solution.zip"))) as inner:
        files = {f"solution/{name}": inner.read(name) for name in inner.namelist() if not name.endswith("/")}

    def edit(c):
        c["solutions"][0]["path"] = "solution"
    folder = rewrite_bundle(bundle, tmp_path / "b.zip", edit_yaml=edit, replace={"solution.zip": None, **files})
    report = validate_bundle(folder, log=quiet)
    assert report.ok, report.problems
    assert [run.phase_index for _, run in report.solution_runs] == [0, 1]


def test_a_crash_is_one_bundles_problem(bundle, monkeypatch):
    def crash(self, c):
        raise KeyError("boom")
    monkeypatch.setattr(BundleChecker, "check_leaderboards", crash)
    assert problems_of(bundle) == [f"{bundle.name}: the validator failed on this bundle (KeyError: 'boom'); "
                                   f"please report it with the bundle"]


def test_version_as_text(bundle, tmp_path):
    # competitions/tasks.py: yaml_version = str(competition_yaml.get('version', '1')); '2' → V2Unpacker, else
    # 'A suitable version could not be found for this competition. Make sure one is supplied in the yaml.'
    def text(c):
        c["version"] = "2"
    assert problems_of(edited(bundle, tmp_path, text)) == []

    def three(c):
        c["version"] = 2.0  # str(2.0) is '2.0'
    assert problems_of(edited(bundle, tmp_path, three, "c.zip")) == [
        "version: must be 2 (without it Codabench uses its old unpacker and fails confusingly)"]


def test_execution_time_limit_over_the_default_queue(bundle, tmp_path):
    # As bundlegen/definition.py _check_phase_time_limit: "Codabench's default queue caps every job at 600 s"
    # (Phase.execution_time_limit defaults to 60 * 10 in competitions/models.py).
    def edit(c):
        c["phases"][0]["execution_time_limit"] = 900
    assert problems_of(edited(bundle, tmp_path, edit)) == [
        "phases[0].execution_time_limit: 900 s: Codabench's default queue caps every job at 600 s"]


def test_computation_indexes_as_text(bundle, tmp_path):
    # api/serializers/fields.py CharacterSeparatedField.to_internal_value: self.separator.join([str(x) for x in data])
    # reads a string character by character ("0,1" → "0,,,1"); a missing one is ColumnSerializer's "Column with
    # computation must have at least 1 column selected for the computation to act upon".
    def edit(c):
        columns = c["leaderboards"][0]["columns"]
        columns.append({"title": "Mean", "key": "mean", "index": len(columns), "computation": "avg",
                        "computation_indexes": "0,1"})
    assert problems_of(edited(bundle, tmp_path, edit)) == [
        "leaderboards[0].columns[9].computation_indexes: must be a list of other columns' indexes, got '0,1' "
        "(Codabench would read it character by character)"]


def png_header(width: int, height: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I4sII5x4x", 13, b"IHDR", width, height)


def test_a_logo_over_the_image_librarys_limit(bundle, tmp_path):
    # Codabench has no byte limit on the logo, but Pillow opens it (competitions/models.py make_logo_icon:
    # Image.open) and raises DecompressionBombError: "Image size (... pixels) exceeds limit of 178956970 pixels,
    # could be decompression bomb DOS attack."
    broken = rewrite_bundle(bundle, tmp_path / "b.zip", replace={"logo.png": png_header(20000, 10000)})
    assert problems_of(broken) == [
        "image: 'logo.png' has 200,000,000 pixels: Codabench's image library refuses more than 178,956,970 "
        "(a decompression bomb); use a small logo"]


@pytest.mark.parametrize("kind", ["PNG", "JPEG", "GIF", "WEBP"])
@pytest.mark.parametrize("lossless", [False, True])
def test_image_pixels_reads_each_format(kind, lossless):
    Image = pytest.importorskip("PIL.Image")
    buffer = io.BytesIO()
    Image.new("RGB", (37, 21)).save(buffer, kind, **({"lossless": lossless} if kind == "WEBP" else {}))
    assert image_pixels(buffer.getvalue()) == 37 * 21
