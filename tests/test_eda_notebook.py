"""The eda-notebook task: notebooks run on a real kernel on a hidden train.csv; each rubric item is read from what
the notebook shows and what its figures plot, and compared with the hidden file."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from bundlegen.data import load_prepare
from bundlegen.definition import load_task
from bundlegen.worker import run_submission
from conftest import ROOT, build_copy, copy_project, edit_definition, load_module, quiet, write_zip
from programlib import SubmissionError
from programlib.notebooks import Cell, Notebook

PROGRAM = ROOT / "scoring_programs" / "eda_notebook"
KIT = ROOT / "starting_kits" / "eda-notebook"
CORPUS = ROOT / "tests" / "corpus" / "eda-notebook"
RUNNER = ROOT / "ingestion_programs" / "script_runner" / "run_notebook.py"
# Through the real ingestion and scoring (sandboxed worker); the rest of the corpus runs on the notebook runner
# alone and is scored in process, which is the same code on the same hidden file, minus the sandbox's start-up.
THROUGH_THE_WORKER = ("competent_pandas", "weak_describe_only", "gaming_pasted_outputs")
ITEMS = ("executes", "loads_data", "basic_stats", "missingness", "plots", "problems_named")
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 20
LOAD = ('import os\nimport pandas as pd\n'
        'frame = pd.read_csv(os.path.join(os.environ.get("DATA_DIR", "."), "train.csv"))\nprint(frame.shape)')


@pytest.fixture(scope="module")
def rubric():
    return load_module("eda_notebook_rubric", PROGRAM / "eda_notebook_rubric.py")


@pytest.fixture(scope="module")
def figures():
    load_module("eda_notebook_claims", PROGRAM / "eda_notebook_claims.py")
    return load_module("eda_notebook_figures", PROGRAM / "eda_notebook_figures.py")


@pytest.fixture(scope="module")
def claims():
    return load_module("eda_notebook_claims", PROGRAM / "eda_notebook_claims.py")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> dict[int, Path]:
    """The data of seeds 0 and 1 at the tiny scale (the tiny bundle is seed 0): public/, input_data/, private/."""
    task = load_task(ROOT / "bundles" / "eda-notebook")
    prepare = load_prepare(task)
    root = tmp_path_factory.mktemp("eda")
    for seed in (0, 1):
        prepare(None, root / str(seed), dict(task.scale("tiny").params), seed)
    return {seed: root / str(seed) for seed in (0, 1)}


@pytest.fixture(scope="module")
def facts(prepared) -> dict[int, dict]:
    """The facts of the hidden train.csv of seeds 0 and 1."""
    return {seed: json.loads((folder / "private" / "facts.json").read_text()) for seed, folder in prepared.items()}


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
    assert sample.scores["executes"] == 1.0 and sample.scores["loads_data"] == 0.5  # head() names, no row count
    assert all(sample.scores[item] == 0.0 for item in ("basic_stats", "missingness", "plots", "problems_named"))


def test_the_hidden_file_differs_from_the_public_one_in_what_is_scored(prepared, facts):
    """Outputs pasted from a run on the public file match nothing: other rows, column names, rate, missingness."""
    for seed, folder in prepared.items():
        public, hidden = (pd.read_csv(folder / name / "train.csv") for name in ("public", "input_data"))
        fact = facts[seed]
        assert list(hidden.columns) == fact["features"] + ["label"] and len(hidden) == fact["n_rows"] != len(public)
        assert not set(public.columns[:-1]) & set(hidden.columns[:-1])
        assert abs(public["label"].mean() - fact["positive_rate"]) >= 0.01
        assert hidden[fact["constant"]].nunique() == 1 and hidden[fact["heavy_missing"]].isna().mean() > 0.5
        assert hidden[fact["duplicate"][0]].corr(hidden[fact["duplicate"][1]]) > 0.99
        values = json.loads((folder / "private" / "columns.json").read_text())
        assert set(values) == set(hidden.columns) and len(values["label"]) == len(hidden)
    assert facts[0]["features"] != facts[1]["features"]


# --- the corpus: submissions written from the pages, in several styles, honest and gaming ----------------

@pytest.fixture(scope="module")
def scoring(rubric, figures):
    return load_module("eda_notebook_scoring", PROGRAM / "scoring.py")


def execute_and_score(scoring, notebook_path: Path, folder: Path, work: Path):
    """What ingestion and scoring do, without the sandbox: run the notebook on the hidden train.csv with the
    platform's notebook runner, then score its output folder in process."""
    submission = work / "res" / "submission"
    submission.mkdir(parents=True)
    shutil.copy(notebook_path, submission / "eda.ipynb")
    env = dict(os.environ, DATA_DIR=str(folder / "input_data"), OUTPUT_DIR=str(work / "out"), MPLBACKEND="Agg")
    (work / "out").mkdir()
    ran = subprocess.run([sys.executable, str(RUNNER), "eda.ipynb"], cwd=submission, env=env, capture_output=True,
                         text=True, timeout=240)
    assert ran.returncode == 0, ran.stderr[-2000:]
    (work / "res" / "ingestion_result.json").write_text(json.dumps({"status": "ok", "duration": 1.0}))
    return scoring.score(folder / "private", work / "res").scores


def test_the_corpus_ranks_as_a_reviewer_would(tiny_bundle, prepared, scoring, tmp_path):
    """Every gaming submission <= 0.3 < every weak one < every competent one, and every competent one >= 0.8."""
    scores = {}
    for path in sorted(CORPUS.glob("*.ipynb")):
        if path.stem in THROUGH_THE_WORKER:
            result = run(tiny_bundle, tmp_path / path.stem, path.read_text())
            assert result.ok, f"{path.name}: {result.error}"
            assert "Why points were lost" in result.detailed_results.read_text() or result.scores["score"] == 1
            scores[path.stem] = result.scores
        else:
            scores[path.stem] = execute_and_score(scoring, path, prepared[0], tmp_path / path.stem)
    grade = {name: scores[name]["score"] for name in scores}
    print(json.dumps(grade, indent=1))
    classes = {kind: [grade[n] for n in grade if n.startswith(kind)] for kind in ("gaming", "weak", "competent")}
    classes["competent"] += [grade[n] for n in grade if n.startswith("paraphrased")]
    assert all(len(found) >= 2 for found in classes.values()) and len(classes["gaming"]) >= 4
    assert max(classes["gaming"]) <= 0.3 < min(classes["weak"])
    assert max(classes["weak"]) < min(classes["competent"]) and min(classes["competent"]) >= 0.8
    assert scores["competent_pandas"]["plots"] == 1.0  # the figure record came through the sandboxed run


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


def test_missingness_needs_the_column_and_its_count_in_one_output(rubric, facts):
    fact = facts[0]
    heavy, light = fact["missing"][fact["heavy_missing"]], fact["missing"][fact["light_missing"]]
    book = Notebook(Path("eda.ipynb"), [code_cell("frame.isna().mean()", [f"{fact['heavy_missing']}  "
                                                                          f"{heavy['fraction']:.3f}"])])
    assert rubric.missingness_item(book, fact)[0] == 0.5
    book.cells.append(code_cell("frame.isna().sum()", [f"{fact['light_missing']}  {light['count']}"]))
    assert rubric.missingness_item(book, fact)[0] == 1.0
    unnamed = Notebook(Path("eda.ipynb"), [code_cell("print(n)", [f"{heavy['count']} {light['count']}"])])
    assert rubric.missingness_item(unnamed, fact)[0] == 0.0


def test_an_empty_notebook_scores_nothing(rubric, facts):
    scores, details = rubric.score_notebook(Notebook(Path("eda.ipynb"), [Cell("markdown", "# Nothing yet")]),
                                            facts[0])
    assert all(scores[item] == 0.0 for item in ITEMS) and scores["score"] == 0.0
    assert all(rubric.LOST in details[item] for item in ITEMS)


def problems(rubric, fact, *lines: str) -> tuple[float, dict]:
    return rubric.problems_named_item(Notebook(Path("eda.ipynb"), [Cell("markdown", "\n".join(lines))]), fact)


def findings(fact) -> list[str]:
    a, b = fact["duplicate"]
    return [f"Class imbalance: positive rate {fact['positive_rate']:.2%}", f"Constant column: {fact['constant']}",
            f"Heavy missingness: {fact['heavy_missing']}", f"Near-duplicate columns: {a} and {b}"]


def test_problems_are_named_with_their_columns_and_rate(rubric, facts):
    fact = facts[0]
    assert problems(rubric, fact, *findings(fact))[0] == 1.0
    assert problems(rubric, fact, *findings(facts[1]))[0] == 0.0  # another file's findings
    assert problems(rubric, fact, "Missing values: " + ", ".join(fact["features"]))[0] == 0.0  # a dump
    rate = fact["positive_rate"]
    assert problems(rubric, fact, f"imbalanced: {rate + 0.02:.3f}")[0] == 0.0  # 2 points off
    assert problems(rubric, fact, f"{fact['positives']} of {fact['n_rows']} rows are positive")[0] == 0.25
    assert problems(rubric, fact, f"The classes are unbalanced ({1 - rate:.1%} negatives)")[0] == 0.25


def test_claiming_a_problem_everywhere_names_none(rubric, facts):
    fact = facts[0]
    every = [f"{name}: constant / missing / near-duplicate" for name in fact["features"]]
    assert problems(rubric, fact, *every)[0] == 0.0
    one_each = [f"{name} is constant" for name in fact["features"]]
    assert problems(rubric, fact, *findings(fact), *one_each)[0] == 0.75
    rates = [f"Class imbalance: positive rate {percent}%" for percent in range(1, 11)]
    assert problems(rubric, fact, *rates)[0] == 0.0
    stale = "Class imbalance: positive rate 12.5%"  # a summary typed in from the public file, beside the truth
    assert problems(rubric, fact, stale, findings(fact)[0])[0] == 0.25
    wrong = [f"{name} is constant" for name in fact["features"][:2] if name != fact["constant"]]
    assert problems(rubric, fact, findings(fact)[1], *wrong[:1])[0] == pytest.approx(0.25 * 0.5)


PARAPHRASES = [  # (text, {column: problems asserted of it}); C: constant, M: heavily missing, A, B: the pair
    ("{C} has only 1 unique value", {"C": {"constant"}}),
    ("{C}: std = 0", {"C": {"constant"}}),
    ("{C} never varies (zero variance); drop it", {"C": {"constant"}}),
    ("`{C}` does not vary at all", {"C": {"constant"}}),
    ("{C}: std = 0.052", {"C": set()}),
    ("{C} is not constant", {"C": set()}),
    ("{M}: 69% NaNs", {"M": {"missing"}}),
    ("{M} is mostly empty (null in 69.3% of rows)", {"M": {"missing"}}),
    ("{M} has no missing values", {"M": set()}),
    ("{M} has 71% missing, {C} has no missing values", {"M": {"missing"}, "C": set()}),
    ("{M}  0", {"M": set()}),
    ("{A} and {B} are highly correlated (r = 0.998)", {"A": {"duplicate"}, "B": {"duplicate"}}),
    ("{B} looks like a rescaled copy of {A}", {"A": {"duplicate"}, "B": {"duplicate"}}),
    ("{A} vs {B}: corr=0.9991", {"A": {"duplicate"}, "B": {"duplicate"}}),
    ("{A} is redundant with {B}", {"A": {"duplicate"}, "B": {"duplicate"}}),
    ("{A} is strongly correlated with the label", {"A": set()}),
    ("{A} and {B} are duplicates (drop one before predicting the target)", {"A": {"duplicate"}, "B": {"duplicate"}}),
    ("{A} correlates with {B} (r = 0.31)", {"A": set(), "B": set()}),
    ("{C} (constant), {M} (69% missing), {A}/{B} (near-duplicates)",
     {"C": {"constant"}, "M": {"missing"}, "A": {"duplicate"}, "B": {"duplicate"}}),
    ("{{'constant': ['{C}'], 'heavy_missing': ['{M}'], 'near_duplicates': [('{A}', '{B}')]}}",
     {"C": {"constant"}, "M": {"missing"}, "A": {"duplicate"}, "B": {"duplicate"}}),
    ("If {C} were constant we would drop it", {"C": set()}),
    ("Non-Null Count of {M}: 120 non-null", {"M": set()}),
]
IMBALANCE = [
    ("The classes are unbalanced: 3.1% positives", True), ("Severe class imbalance (positive rate 0.031)", True),
    ("The target is heavily skewed: just 3 percent of rows are class 1", True),
    ("The classes are not balanced", True), ("minority class: 3.1%", True), ("Label balance looks fine", False),
    ("The classes are balanced", False), ("No class imbalance", False), ("There are no duplicate rows", False),
]


@pytest.mark.parametrize("text, expected", PARAPHRASES, ids=[text[:40] for text, _ in PARAPHRASES])
def test_natural_phrasing_is_read_as_its_author_meant(claims, text, expected):
    names = {"C": "usage_ap", "M": "credit_y8", "A": "tenure_ij", "B": "sessions_tx"}
    text = text.format(**names)
    found = {}
    for sentence in claims.sentences(text, list(names.values()) + ["spend_k3"], "label"):
        for column, kinds in sentence.claims.items():
            found.setdefault(column, set()).update(kinds)
    assert found == {names[short]: kinds for short, kinds in expected.items()}, text


@pytest.mark.parametrize("text, claimed", IMBALANCE, ids=[text[:40] for text, _ in IMBALANCE])
def test_the_imbalance_is_read_in_its_phrasings(claims, text, claimed):
    assert ("imbalance" in claims.kinds_in(text, "label")) is claimed


# --- plots: the figure record, checked against the hidden data ---------------------------------------

def bars(edges, heights) -> list[list[float]]:
    return [[float(edges[i]), 0.0, float(edges[i + 1] - edges[i]), float(h)] for i, h in enumerate(heights)]


def record_of(figure_axes: list[dict], image: bytes = PNG) -> dict:
    return {"figures": [{"sha256": hashlib.sha256(image).hexdigest(), "axes": figure_axes}]}


def plotted(prepared, facts, figures, rubric, tmp_path, record: dict, images=(PNG,)) -> tuple[float, dict]:
    (tmp_path / "submission").mkdir(parents=True, exist_ok=True)
    (tmp_path / "submission" / figures.RECORD).write_text(json.dumps(record))
    shown = figures.read_record(tmp_path, {hashlib.sha256(image).hexdigest() for image in images})
    columns = json.loads((prepared[0] / "private" / "columns.json").read_text())
    return rubric.plots_item(shown, columns, facts[0])


def histograms(prepared, facts, names, density=False) -> list[dict]:
    frame = pd.read_csv(prepared[0] / "input_data" / "train.csv")
    found = []
    for name in names:
        counts, edges = np.histogram(frame[name].dropna(), bins=12, density=density)
        found.append({"bars": [bars(edges, counts)]})
    return found


def test_plots_are_the_label_counts_and_histograms_of_the_hidden_columns(prepared, facts, figures, rubric, tmp_path):
    fact = facts[0]
    varying = [name for name in fact["features"] if name != fact["constant"]]
    label = {"bars": [[[-0.25, 0, 0.5, fact["n_rows"] - fact["positives"]], [0.75, 0, 0.5, fact["positives"]]]]}
    assert plotted(prepared, facts, figures, rubric, tmp_path / "a",
                   record_of([label] + histograms(prepared, facts, varying[:3])))[0] == 1.0
    density = histograms(prepared, facts, varying[:2], density=True)
    pie = {"wedges": [[0, 360 * (1 - fact["positive_rate"])], [360 * (1 - fact["positive_rate"]), 360]]}
    points, details = plotted(prepared, facts, figures, rubric, tmp_path / "b", record_of([pie] + density))
    assert points == pytest.approx(1 / 3 + 2 / 3 * 2 / 3) and len(details["feature columns shown as histograms "
                                                                          "of their values"]) == 2
    every = histograms(prepared, facts, varying)  # more than 5: "show key features, not all"
    assert plotted(prepared, facts, figures, rubric, tmp_path / "c", record_of(every))[0] == pytest.approx(1 / 3)


def test_a_record_is_believed_only_where_it_matches_the_data_and_a_shown_image(prepared, facts, figures, rubric,
                                                                              tmp_path):
    fact = facts[0]
    varying = [name for name in fact["features"] if name != fact["constant"]]
    good = histograms(prepared, facts, varying[:3])
    forged = json.loads(json.dumps(good))
    for axes in forged:  # right bins, heights typed in: the skewed counts mirrored
        heights = [rectangle[3] for rectangle in axes["bars"][0]][::-1]
        for rectangle, height in zip(axes["bars"][0], heights):
            rectangle[3] = height
    assert plotted(prepared, facts, figures, rubric, tmp_path / "forged", record_of(forged))[0] == 0.0
    unshown = record_of(good, image=b"\x89PNG other")
    assert plotted(prepared, facts, figures, rubric, tmp_path / "unshown", unshown)[0] == 0.0
    noise = [{"bars": [bars(np.linspace(0, 1, 11), np.random.default_rng(0).integers(1, 50, 10))]}]
    assert plotted(prepared, facts, figures, rubric, tmp_path / "noise", record_of(noise))[0] == 0.0
    assert rubric.plots_item(None, None, fact)[0] == 0.0  # no record: nothing was plotted with matplotlib


@pytest.mark.parametrize("record, field", [
    ({"figures": "many"}, "figures is not a list"),
    ({"figures": [{"sha256": 3, "axes": []}]}, "figures[0].sha256"),
    ({"figures": [{"sha256": None, "axes": [{"bars": [[[1, 2, 3]]]}]}]}, "figures[0].axes[0].bars[0][0]"),
    ({"figures": [{"sha256": None, "axes": [{"wedges": [["a", 2]]}]}]}, "figures[0].axes[0].wedges[0]"),
])
def test_a_malformed_record_is_a_clear_error(figures, tmp_path, record, field):
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / figures.RECORD).write_text(json.dumps(record))
    with pytest.raises(SubmissionError, match=re.escape(field)):
        figures.read_record(tmp_path, set())
