"""The eval-metrics-report task: every number the program reports is recomputed on the hidden labels."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bundlegen.definition import load_task
from bundlegen.worker import run_submission
from conftest import ROOT, build_copy, copy_project, edit_definition, load_module, quiet, write_zip

TASK = "eval-metrics-report"
KIT = ROOT / "starting_kits" / TASK
SOLUTION = (KIT / "solution" / "train.py").read_text()
ORIGINAL = (KIT / "sample_submission" / "train.py").read_text()


@pytest.fixture(scope="module")
def checks():
    return load_module("eval_metrics_report_checks",
                       ROOT / "scoring_programs" / "eval_metrics_report" / "eval_metrics_report_checks.py")


def scores_of(bundle, script: str, tmp_path, name: str) -> dict:
    result = run_submission(bundle, write_zip(tmp_path / f"{name}.zip", {"train.py": script}),
                            workdir=tmp_path / name, log=quiet)
    assert result.ok, result.error
    return result.scores


def variant(old: str, new: str) -> str:
    assert old in SOLUTION, old
    return SOLUTION.replace(old, new)


def test_solution_full_marks_and_original_script_nothing(tiny_bundle, tmp_path):
    bundle = tiny_bundle(TASK)
    solution = scores_of(bundle, SOLUTION, tmp_path, "solution")
    assert {k: solution[k] for k in ("predictions", "metrics_match", "plots", "report_links", "score")} == {
        "predictions": 1, "metrics_match": 1, "plots": 1, "report_links": 1, "score": 1}
    original = scores_of(bundle, ORIGINAL, tmp_path, "original")
    assert original["score"] == 0 and original["metrics_match"] == 0 and original["plots"] == 0
    assert original["duration"] > 0


def test_metrics_of_the_training_set_do_not_match(tiny_bundle, tmp_path):
    # Evaluates the training rows, but still writes predictions.csv for eval.csv.
    script = variant("metrics = evaluate(eval_labels, probabilities, args.threshold)",
                     "metrics = evaluate(labels, model.predict_proba(scaler.transform(features))[:, 1], "
                     "args.threshold)")
    scores = scores_of(tiny_bundle(TASK), script, tmp_path, "train-metrics")
    assert scores["metrics_match"] == 0
    assert scores["predictions"] == 1 and scores["plots"] == 1
    assert scores["score"] < 0.65


def test_report_without_links_and_broken_plot(tiny_bundle, tmp_path):
    script = variant('"![ROC curve](roc_curve.png)", "", "![Precision-recall curve](pr_curve.png)", "",', "")
    script = script.replace("write_report(metrics, len(eval_labels), args.output_dir)",
                            "write_report(metrics, len(eval_labels), args.output_dir)\n"
                            "    (args.output_dir / 'pr_curve.png').write_text('not a picture')")
    scores = scores_of(tiny_bundle(TASK), script, tmp_path, "no-links")
    assert scores["report_links"] == 0.5  # the numbers are stated, the plots are not linked
    assert scores["plots"] == 0.5  # roc_curve.png is fine, pr_curve.png is text
    assert scores["metrics_match"] == 1


def test_crash_and_malformed_metrics_are_clear_errors(tiny_bundle, tmp_path):
    bundle = tiny_bundle(TASK)
    crash = variant("_, features, labels = load(args.data_dir / \"train.csv\")",
                    "_, features, labels = load(args.data_dir / \"training.csv\")")
    result = run_submission(bundle, write_zip(tmp_path / "crash.zip", {"train.py": crash}),
                            workdir=tmp_path / "crash", log=quiet)
    assert not result.ok and result.scores is None
    assert "exited with code 1" in result.error and "training.csv" in result.error

    malformed = variant('json.dumps(metrics, indent=2)',  # the matrix flattened: [tn, fp, fn, tp]
                        'json.dumps({**metrics, "confusion_matrix": sum(metrics["confusion_matrix"], [])})')
    result = run_submission(bundle, write_zip(tmp_path / "bad.zip", {"train.py": malformed}),
                            workdir=tmp_path / "bad", log=quiet)
    assert not result.ok and result.scores is None
    assert "metrics.json, field 'confusion_matrix'" in result.error and "Traceback" not in result.error


def test_a_program_past_the_time_limit_is_stopped(tmp_path, cache_dir):
    project = copy_project(tmp_path / "project", tasks=(TASK,))
    edit_definition(project, TASK, lambda d: d["submission"].update(time_limit=3))
    bundle = build_copy(project, TASK, tmp_path / "dist", cache_dir)
    slow = "import time\nprint('training', flush=True)\ntime.sleep(60)\n"
    result = run_submission(bundle, write_zip(tmp_path / "slow.zip", {"train.py": slow}),
                            workdir=tmp_path / "run", log=quiet)
    assert not result.ok and "did not finish within the time limit of 3 s" in result.error


def test_the_hidden_evaluation_set_is_not_the_public_one(tmp_path):
    prepare = load_module("eval_metrics_prepare", ROOT / "bundles" / TASK / "prepare.py")
    tiny = dict(load_task(ROOT / "bundles" / TASK).scale("tiny").params)
    prepare.prepare(None, tmp_path, tiny, 0)
    public = pd.read_csv(tmp_path / "public" / "eval.csv", dtype={"id": str})
    hidden = pd.read_csv(tmp_path / "input_data" / "eval.csv", dtype={"id": str})
    labels = pd.read_csv(tmp_path / "private" / "eval_labels.csv", dtype={"id": str})
    assert not set(public["id"]) & set(hidden["id"])
    assert list(labels["id"]) == list(hidden["id"]) and list(labels["label"]) == list(hidden["label"])
    assert list(public.columns) == list(hidden.columns) and public.columns[-1] == "label"
    other = tmp_path / "seed1"
    prepare.prepare(None, other, tiny, 1)
    assert list(pd.read_csv(other / "public" / "train.csv").columns) != list(public.columns)  # names are drawn


# --- the rubric's pure functions ---------------------------------------------------------------------

GOOD = {"accuracy": 0.75, "roc_auc": 0.8125, "confusion_matrix": [[3, 1], [1, 3]], "threshold": 0.5}


@pytest.mark.parametrize("document,message", [
    ([1, 2], "the top level must be an object"),
    ({k: v for k, v in GOOD.items() if k != "roc_auc"}, "'roc_auc' missing"),
    ({**GOOD, "accuracy": "0.75"}, "field 'accuracy': '0.75' is not a number"),
    ({**GOOD, "roc_auc": 150}, "field 'roc_auc': 150 is outside"),
    ({**GOOD, "threshold": 1}, "field 'threshold': 1 is outside (0.0, 1.0)"),
    ({**GOOD, "confusion_matrix": [3, 1, 1, 3]}, "not a 2×2 list"),
    ({**GOOD, "confusion_matrix": [[3, 1.5], [1, 3]]}, "1.5 is not a count"),
])
def test_malformed_metrics_name_the_field(checks, document, message):
    from programlib import SubmissionError

    with pytest.raises(SubmissionError, match="metrics.json") as error:
        checks.parse_metrics(document)
    assert message in str(error.value)


def test_scorer_metrics_and_partial_match(checks):
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    probabilities = np.array([0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9])
    expected = checks.scorer_metrics(labels, probabilities, 0.5)
    assert expected["confusion_matrix"] == [[3, 1], [1, 3]] and expected["accuracy"] == 0.75
    assert expected["roc_auc"] == pytest.approx(15 / 16)
    points, matches = checks.metrics_match_item(checks.parse_metrics(GOOD), expected)
    assert points == pytest.approx(2 / 3) and matches == {"accuracy": True, "roc_auc": False,
                                                          "confusion_matrix": True}
    at_threshold = checks.scorer_metrics(labels, probabilities, 0.6)  # 0.6 >= 0.6 is class 1
    assert at_threshold["confusion_matrix"] == [[3, 1], [1, 3]]
    assert checks.metrics_match_item(None, expected)[0] == 0


def test_images(checks, tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(3, 3))
    axes.plot([0, 1], [0, 1])
    figure.savefig(tmp_path / "plot.png", dpi=60)
    plt.imsave(tmp_path / "blank.png", np.ones((200, 200)), cmap="gray")
    plt.imsave(tmp_path / "small.png", np.random.default_rng(0).random((20, 20)))
    (tmp_path / "text.png").write_text("not an image")
    (tmp_path / "cut.png").write_bytes((tmp_path / "plot.png").read_bytes()[:60])
    assert checks.image_problem(tmp_path / "plot.png") is None
    assert "blank" in checks.image_problem(tmp_path / "blank.png")
    assert "pixels" in checks.image_problem(tmp_path / "small.png")
    assert "not a PNG" in checks.image_problem(tmp_path / "text.png")
    assert "does not decode" in checks.image_problem(tmp_path / "cut.png")
    assert checks.image_problem(tmp_path / "absent.png") == "missing"
    # a decompression bomb: the header claims 60000×60000 pixels; refused before anything is decoded
    header = (tmp_path / "plot.png").read_bytes()
    bomb = header[:16] + (60000).to_bytes(4, "big") * 2 + header[24:]
    (tmp_path / "bomb.png").write_bytes(bomb)
    assert checks.image_problem(tmp_path / "bomb.png") == "60000×60000 pixels: a plot is 100 to 4000 pixels on each side"


@pytest.mark.parametrize("markdown,expected", [
    ("![ROC](roc_curve.png)\n![PR](./pr_curve.png)\naccuracy: 0.7500\n| ROC AUC | 0.8125 |", 1.0),
    ('<img src="roc_curve.png">\n[PR curve](pr_curve.png "the PR curve")\nAccuracy 75.0%, AUC 0.813', 1.0),
    ("![ROC](/abs/roc_curve.png)\n![PR](https://example.org/pr_curve.png)\naccuracy 0.75\nAUC 0.81", 0.25),
    ("![ROC](roc_curve.png)\n![PR](sub/pr_curve.png)\naccuracy 0.751\nroc_auc 0.8125", 0.5),
    ("roc_curve.png and pr_curve.png are saved. accuracy = 0.750, AUC = 0.8125", 0.5),
])
def test_report_item(checks, tmp_path, markdown, expected):
    for name in ("roc_curve.png", "pr_curve.png"):
        (tmp_path / name).write_bytes(b"x")
    plots_ok = {"roc_curve.png": True, "pr_curve.png": True}
    points, _ = checks.report_item(markdown, tmp_path, GOOD, plots_ok)
    assert points == expected
    assert checks.report_item(None, tmp_path, GOOD, plots_ok)[0] == 0


def test_scoring_weights_sum_to_one():
    scoring = load_module("eval_metrics_report_scoring", ROOT / "scoring_programs" / "eval_metrics_report" / "scoring.py")
    assert scoring.overall({key: 1.0 for key in scoring.WEIGHTS}, scoring.WEIGHTS) == pytest.approx(1.0)
    assert json.loads(json.dumps(scoring.WEIGHTS)) == scoring.WEIGHTS


def test_hidden_set_is_metamorphic_and_public_data_unchanged(tmp_path):
    """The hidden set differs in size and class balance (its own random stream); the public draws do not move."""
    prepare = load_module("eval_metrics_prepare_meta", ROOT / "bundles" / TASK / "prepare.py")
    tiny = dict(load_task(ROOT / "bundles" / TASK).scale("tiny").params)
    prepare.prepare(None, tmp_path / "a", tiny, 0)
    public = pd.read_csv(tmp_path / "a" / "public" / "eval.csv")
    hidden = pd.read_csv(tmp_path / "a" / "input_data" / "eval.csv")
    assert len(public) == tiny["n_eval"] and len(hidden) != len(public)
    assert abs(hidden["label"].mean() - public["label"].mean()) > 0.05
    prepare.prepare(None, tmp_path / "b", tiny, 0)
    for name in ("public/train.csv", "public/eval.csv", "input_data/eval.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@pytest.mark.parametrize("document,expected", [
    ({"Accuracy (%)": 75.0, "AUROC": 0.8125, "cm": [[3, 1], [1, 3]]}, (0.75, 0.8125, 0.5)),
    ({"metrics": {"acc": 0.75, "auc": 81.25, "confusion matrix": {"tn": 3, "fp": 1, "fn": 1, "tp": 3}},
      "threshold": 0.6}, (0.75, 0.8125, 0.6)),
])
def test_metrics_in_natural_spellings(checks, document, expected):
    parsed = checks.parse_metrics(document)
    assert (parsed["accuracy"][0], parsed["roc_auc"][0], parsed["threshold"]) == pytest.approx(expected)
    assert parsed["confusion_matrix"] == [[3, 1], [1, 3]]
    assert checks.same_number(parsed["accuracy"], 0.75) and not checks.same_number(parsed["accuracy"], 0.7504)
    assert checks.same_number((0.7504, 1e-4), 0.75043) and not checks.same_number((0.75, 1e-2), 0.7504)


def test_curves_are_judged_by_their_content(checks):
    rng = np.random.default_rng(0)
    labels = (rng.random(400) < 0.4).astype(int)
    probabilities = np.clip(labels * 0.3 + rng.random(400) * 0.7, 0, 1)
    curves = checks.true_curves(labels, probabilities)
    fpr, tpr, _ = curves["roc"]
    recall, precision, _ = curves["pr"]
    assert checks.roc_problem(fpr, tpr, curves["roc"]) is None
    assert checks.roc_problem(fpr[::-1], tpr[::-1], curves["roc"]) is None  # drawn from the other end
    assert checks.pr_problem(recall, precision, curves["pr"]) is None
    assert checks.pr_problem(precision, recall, curves["pr"]) is None  # recall on the y axis
    assert "monotone" in checks.roc_problem(rng.random(50), rng.random(50), curves["roc"])
    other = checks.true_curves(labels, np.clip(labels * 0.15 + rng.random(400) * 0.85, 0, 1))
    assert "area" in checks.roc_problem(other["roc"][0], other["roc"][1], curves["roc"])
    assert checks.pr_problem(other["pr"][0], other["pr"][1], curves["pr"]) is not None
    assert "from (0, 0) to (1, 1)" in checks.roc_problem(np.array([0.2, 0.5]), np.array([0.3, 0.6]), curves["roc"])


def test_plot_record_without_a_matching_image_earns_nothing(checks, tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.imsave(tmp_path / "roc_curve.png", np.random.default_rng(0).random((120, 120, 3)))
    (tmp_path / "record.jsonl").write_text('{"sha256": "00", "axes": [{"lines": [{"x": [0, 1], "y": [0, 1]}]}]}\n'
                                           "not json\n[1, 2]\n")
    entries = checks.read_plot_record(tmp_path / "record.jsonl")
    labels, probabilities = np.array([0, 1, 0, 1]), np.array([0.1, 0.9, 0.4, 0.6])
    problem = checks.curve_problem(tmp_path / "roc_curve.png", entries, checks.true_curves(labels, probabilities))
    assert "no record of a matplotlib figure" in problem


# --- the corpus: submissions written from the pages alone, honest and gaming ------------------------------

CORPUS = ROOT / "tests" / "corpus" / TASK
GROUPS = ("gaming", "weak", "competent")  # the order a reviewer ranks them in; paraphrased work is competent


def group_of(name: str) -> str:
    return "competent" if name.startswith("paraphrased") else name.split("_")[0]


@pytest.fixture(scope="module")
def corpus(tiny_bundle, tmp_path_factory) -> dict[str, tuple[dict, str]]:
    """Every corpus submission through the real ingestion (sandboxed, plot hook) and scoring: name → (scores, html)."""
    bundle, work = tiny_bundle(TASK), tmp_path_factory.mktemp("corpus")
    scored = {}
    for folder in sorted(path for path in CORPUS.iterdir() if path.is_dir()):
        files = {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.is_file()}
        result = run_submission(bundle, write_zip(work / f"{folder.name}.zip", files), workdir=work / folder.name,
                                log=quiet)
        assert result.ok, (folder.name, result.error)
        html = next((work / folder.name).rglob("detailed_results.html")).read_text()
        scored[folder.name] = (result.scores, html)
    return scored


def test_the_corpus_is_ranked_as_a_reviewer_would(corpus):
    """Every gaming submission <= 0.3 < every weak one < every competent one, and competent work >= 0.8."""
    print({name: {key: round(value, 3) for key, value in scores.items() if key != "duration"}
           for name, (scores, _) in corpus.items()})
    by_group = {group: {name: scores["score"] for name, (scores, _) in corpus.items() if group_of(name) == group}
                for group in GROUPS}
    assert len(by_group["competent"]) >= 3 and len(by_group["weak"]) >= 1 and len(by_group["gaming"]) >= 3
    assert max(by_group["gaming"].values()) <= 0.3 < min(by_group["weak"].values()), by_group
    assert max(by_group["weak"].values()) < min(by_group["competent"].values()), by_group
    assert min(by_group["competent"].values()) >= 0.8, by_group


def test_the_corpus_loses_points_for_the_right_reasons(corpus):
    scores = {name: result[0] for name, result in corpus.items()}
    for name in ("gaming_noise_png", "gaming_pasted_public_run", "gaming_forged_record"):
        assert scores[name]["metrics_match"] == scores[name]["plots"] == scores[name]["report_links"] == 0, name
    assert scores["weak_no_pr_curve"]["plots"] == 0.5 and scores["weak_no_pr_curve"]["metrics_match"] == 1
    assert "no record of a matplotlib figure" in corpus["gaming_noise_png"][1]
    assert "not the ROC AUC" in corpus["gaming_forged_record"][1] or "lie on the ROC" in corpus["gaming_forged_record"][1]


def test_detailed_results_do_not_show_the_hidden_numbers(corpus, tiny_bundle, tmp_path):
    import zipfile

    with zipfile.ZipFile(tiny_bundle(TASK)) as archive:
        (tmp_path / "ref.zip").write_bytes(archive.read("reference_data.zip"))
    with zipfile.ZipFile(tmp_path / "ref.zip") as reference:
        answers = pd.read_csv(reference.open("eval_labels.csv"))
    assert len(answers) != 200  # the hidden set's size differs from the public one's
    for name in ("gaming_noise_png", "gaming_forged_record"):
        html = corpus[name][1]
        assert f"{answers['label'].mean():.4f}" not in html and f">{len(answers)}<" not in html
