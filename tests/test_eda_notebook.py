"""The eda-notebook task: notebooks run on a real kernel; each rubric item is read from what the notebook shows."""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from bundlegen.data import load_prepare
from bundlegen.definition import load_task
from bundlegen.worker import run_submission
from conftest import ROOT, build_copy, copy_project, edit_definition, load_module, quiet, write_zip
from programlib.notebooks import Cell, Notebook

PROGRAM = ROOT / "scoring_programs" / "eda_notebook"
KIT = ROOT / "starting_kits" / "eda-notebook"
ITEMS = ("executes", "loads_data", "basic_stats", "missingness", "plots", "problems_named")
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 20
LOAD = ('import os\nimport pandas as pd\n'
        'frame = pd.read_csv(os.path.join(os.environ.get("DATA_DIR", "."), "train.csv"))\nprint(frame.shape)')


@pytest.fixture(scope="module")
def rubric():
    return load_module("eda_notebook_rubric", PROGRAM / "eda_notebook_rubric.py")


@pytest.fixture(scope="module")
def facts(tmp_path_factory) -> dict[int, dict]:
    """The planted facts of seeds 0 and 1 at the tiny scale (the tiny bundle is seed 0)."""
    prepare = load_prepare(load_task(ROOT / "bundles" / "eda-notebook"))
    root = tmp_path_factory.mktemp("eda")
    for seed in (0, 1):
        prepare(None, root / str(seed), "tiny", seed)
    return {seed: json.loads((root / str(seed) / "private" / "facts.json").read_text()) for seed in (0, 1)}


def notebook(*cells: str, markdown: str = "# EDA") -> str:
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_markdown_cell(markdown)] + [nbformat.v4.new_code_cell(code) for code in cells]
    return nbformat.writes(book)


def run(tiny_bundle, tmp_path: Path, text: str, bundle: Path | None = None):
    tmp_path.mkdir(parents=True, exist_ok=True)
    return run_submission(bundle or tiny_bundle("eda-notebook"), write_zip(tmp_path / "s.zip", {"eda.ipynb": text}),
                          workdir=tmp_path / "run", log=quiet)


# --- whole notebooks, executed by the ingestion program ----------------------------------------------

def test_solution_gets_full_marks_and_the_sample_only_loads(tiny_bundle, tmp_path):
    solution = run(tiny_bundle, tmp_path / "solution", (KIT / "solution" / "eda.ipynb").read_text())
    assert solution.ok, solution.error
    assert all(solution.scores[item] == 1.0 for item in ITEMS) and solution.scores["score"] == pytest.approx(1.0)
    assert solution.scores["duration"] > 0
    sample = run(tiny_bundle, tmp_path / "sample", (KIT / "sample_submission" / "eda.ipynb").read_text())
    assert sample.ok, sample.error
    assert sample.scores["executes"] == 1.0 and sample.scores["loads_data"] == 0.5  # reads, shows no row count
    assert all(sample.scores[item] == 0.0 for item in ("basic_stats", "missingness", "plots", "problems_named"))


def test_empty_notebook_scores_nothing(tiny_bundle, tmp_path):
    result = run(tiny_bundle, tmp_path, notebook(markdown="# Nothing yet"))
    assert result.ok, result.error
    assert all(result.scores[item] == 0.0 for item in ITEMS) and result.scores["score"] == 0.0


def test_notebook_written_for_another_seed_names_the_wrong_columns(tiny_bundle, tmp_path, facts):
    """Statistics and missingness computed from the data count; findings copied from another dataset do not."""
    other = facts[1]
    findings = (f"- Constant column: {other['constant']}\n- Heavy missingness: {other['heavy_missing']} is missing\n"
                f"- Near-duplicate columns: {other['duplicate'][0]} and {other['duplicate'][1]}\n")
    text = notebook(LOAD, "frame.describe()", "frame.isna().sum()", markdown=findings)
    result = run(tiny_bundle, tmp_path, text)
    assert result.ok, result.error
    assert all(result.scores[item] == 1.0 for item in ("executes", "loads_data", "basic_stats", "missingness"))
    assert result.scores["plots"] == 0.0 and result.scores["problems_named"] == 0.0
    assert 0.3 < result.scores["score"] < 0.7


def test_a_crashing_cell_is_rejected_with_its_number(tiny_bundle, tmp_path):
    result = run(tiny_bundle, tmp_path, notebook(LOAD, 'frame["no_such_column"].mean()'))
    assert not result.ok and result.scores is None
    assert "cell 3 of 3 raised KeyError" in result.error and "no_such_column" in result.error


def test_a_notebook_past_the_time_limit_is_stopped(tmp_path):
    project = copy_project(tmp_path / "project", tasks=("eda-notebook",))
    edit_definition(project, "eda-notebook", lambda data: data["submission"].update(time_limit=4))
    bundle = build_copy(project, "eda-notebook", tmp_path / "dist", tmp_path / "cache")
    result = run(None, tmp_path / "slow", notebook("import time\ntime.sleep(60)"), bundle=bundle)
    assert not result.ok and result.scores is None
    assert "did not finish within the time limit of 4 s" in result.error


# --- the rubric items on hand-made executed notebooks ---------------------------------------------------

def code_cell(source: str, outputs: list[str] = (), images: int = 0) -> Cell:
    return Cell("code", source, text_outputs=list(outputs), images=[PNG] * images, executed=True)


def test_numbers_match_up_to_their_own_rounding(rubric):
    numbers = rubric.printed_numbers("mean 661.14  std 6.611393e+02  rate 64.8%  (4000, 11)")
    assert rubric.shows(numbers, 661.1392741) and rubric.shows(numbers, 661.1351)
    assert not rubric.shows(numbers, 661.15) and not rubric.shows(numbers, 661.13)
    assert rubric.shows(numbers, 661.13932)  # via 6.611393e+02
    assert rubric.shows(numbers, 64.75, 2) and not rubric.shows(numbers, 64.6, 2)
    assert not rubric.shows(rubric.printed_numbers("about 7"), 7.2)  # too few digits to count


def test_missingness_and_problems_need_the_right_columns(rubric, facts):
    fact = facts[0]
    heavy, light = fact["missing"][fact["heavy_missing"]], fact["missing"][fact["light_missing"]]
    book = Notebook(Path("eda.ipynb"), [code_cell("frame.isna().mean()", [f"{fact['heavy_missing']}  "
                                                                          f"{heavy['fraction']:.3f}"])])
    assert rubric.missingness_item(book, fact)[0] == 0.5
    book.cells.append(code_cell("frame.isna().sum()", [f"{fact['light_missing']}  {light['count']}"]))
    assert rubric.missingness_item(book, fact)[0] == 1.0

    every_column = "Missing values: " + ", ".join(fact["features"])  # a dump names no problem
    a, b = fact["duplicate"]
    lines = [every_column, f"{a} and {b} are highly correlated (0.9999)",
             f"Class imbalance: only {100 * fact['positive_rate'] + 0.8:.1f}% positives"]
    book = Notebook(Path("eda.ipynb"), [Cell("markdown", "\n".join(lines))])
    points, found = rubric.problems_named_item(book, fact)
    assert points == 0.5 and [name.split()[0] for name, ok in found.items() if ok] == ["imbalance,", "near-duplicate"]
    off_by_two = Notebook(Path("eda.ipynb"), [Cell("markdown", f"imbalanced: {fact['positive_rate'] + 0.02:.3f}")])
    assert rubric.problems_named_item(off_by_two, fact)[0] == 0.0


def test_plots_count_images_and_the_label_plot(rubric, facts):
    fact = facts[0]
    label_cell = code_cell('TARGET = "label"\n', [])
    draw = code_cell("frame[TARGET].value_counts().plot.bar()", images=1)
    histograms = code_cell("for c in cols: frame[c].hist(); plt.show()", images=3)
    book = Notebook(Path("eda.ipynb"), [label_cell, draw, histograms])
    assert rubric.plots_item(book, fact) == (1.0, {"images": 4, "a cell that draws an image uses the label column": True})
    no_label = Notebook(Path("eda.ipynb"), [code_cell("frame.hist()", images=1)])
    assert rubric.plots_item(no_label, fact)[0] == pytest.approx(0.75 / 4)
    too_many = Notebook(Path("eda.ipynb"), [label_cell, draw, code_cell("...", images=9)])
    assert rubric.plots_item(too_many, fact)[0] == pytest.approx(0.75 * 0.5 + 0.25)
    broken = Notebook(Path("eda.ipynb"), [code_cell("plt.show()", images=0)])
    broken.cells[0].images = [b"not an image"] * 4
    assert rubric.plots_item(broken, fact)[0] == 0.0
