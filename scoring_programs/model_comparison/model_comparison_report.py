"""detailed_results.html of the model-comparison task: per rubric item, what was checked and why points were lost.

The hidden data's own answers (its metrics, its count of disagreements) are never shown: a participant could
type them into the next submission. Each value gets a verdict instead.
"""
from __future__ import annotations

from model_comparison_rubric import METRICS, MIN_SHOWN, MIN_SHOWN_SHARE, MODELS, POINTS, TOLERANCE
from programlib.report import Report

WHAT = {
    "executes": "every code cell ran without an error",
    "metrics_match": "the 10 values of comparison.json 'metrics', recomputed from the data the notebook ran on",
    "disagreement": "disagreements.count, and a table output listing the disagreeing rows by id",
    "conclusion": "chosen_model is the model the priorities favour, backed by computed metrics; the conclusion "
                  "ships it",
}
VERDICTS = {
    "right": "right",
    "another threshold": "right for another threshold than priorities.yaml's decision_threshold (half)",
    "public data": "the PUBLIC data's value: typed in from a run on the public files, not computed here",
    "wrong": f"not what the data gives (within {TOLERANCE}, as a fraction or a percentage)",
    "missing": "no comparison.json",
}


def build_report(scores: dict, weights: dict, found: dict) -> Report:
    report = Report("Model A or model B: detailed results")
    report.paragraph("Your notebook ran on hidden data of the same form as the public files, but another draw: "
                     "other rows and ids, another decision threshold (and costs), and possibly the other model "
                     "favoured. Every number below is checked against what that data gives.")
    report.heading("Scores")
    report.table(["item", "points", "weight", "what is checked"],
                 [[key, scores[key], weights[key], WHAT[key]] for key in weights]
                 + [["score", scores["score"], "", ""]])
    report.paragraph(f"Executes: {found['executes']}. Run time of the notebook: {scores['duration']:.1f} s.",
                     None if scores["executes"] else "bad")
    if found["reported"] is None:
        report.paragraph("The notebook wrote no comparison.json into OUTPUT_DIR: the items that need it score 0.",
                         "bad")
    metrics_section(report, found["reported"], found["checks"])
    disagreement_section(report, found["disagreement"])
    conclusion_section(report, found["conclusion"])
    return report


def metrics_section(report: Report, reported: dict | None, checks: dict) -> None:
    verdicts = checks["verdicts"]
    report.heading("Metrics match")
    rows = [[f"{model}.{metric}", "" if reported is None else reported["metrics"][model][metric],
             POINTS[verdicts[f"{model}.{metric}"]], VERDICTS[verdicts[f"{model}.{metric}"]]]
            for model in MODELS for metric in METRICS]
    report.table(["value", "comparison.json", "points", "verdict"], rows)
    for model in MODELS:
        used = verdicts[f"{model}.roc_auc"] == "right"
        report.paragraph(f"predictions_{model}.csv was read and used: " + (
            "yes (its ROC AUC, which only its probabilities give, is right)." if used else
            "not shown (its ROC AUC, computed from its probabilities, is not what the data gives)."),
            None if used else "bad")
    if checks["own_threshold"] is not None:
        report.paragraph("Your metrics are right for another threshold than decision_threshold: read it from "
                         "priorities.yaml (a row is positive when its probability >= it).", "bad")
    if "public data" in verdicts.values():
        report.paragraph("Some values are the public data's: numbers typed in from an offline run score nothing, "
                         "since the notebook runs on other data.", "bad")


def disagreement_section(report: Report, found: dict) -> None:
    report.heading("Disagreement analysis")
    count_note = {1.0: "right", 0.5: "right for the threshold your notebook used instead (half)",
                  0.0: "not the number of rows where the thresholded predictions differ on this data"}
    if found["count"] is not None and found["public_count"] and not found["count_points"]:
        count_note[0.0] = "the PUBLIC data's count: typed in, not computed on the data the notebook ran on"
    list_note = {1.0: "right", 0.5: "right for the threshold your notebook used instead (half)",
                 0.0: f"no output lists at least {MIN_SHOWN} disagreeing rows (all, when there are fewer) with at "
                      f"least {MIN_SHOWN_SHARE:.0%} of the ids it shows disagreeing"}
    report.table(["check", "found", "points", "verdict"], [
        ["disagreements.count", "-" if found["count"] is None else found["count"], found["count_points"],
         count_note[found["count_points"]] if found["count"] is not None else "no comparison.json"],
        ["a table output of the disagreeing rows",
         f"{found['disagreeing_shown']} disagreeing of {found['ids_shown']} row ids shown", found["list_points"],
         list_note[found["list_points"]]],
    ])


def conclusion_section(report: Report, found: dict) -> None:
    report.heading("Conclusion")
    chosen = found["chosen_model"] or "none"
    decision = ("right, and the metrics it rests on are computed" if found["backing"] == 1 else
                "right, but the metrics it rests on are for another threshold (half)" if found["backing"] else
                "right, but the metrics it rests on are not what the data gives: no credit" if found["chosen_right"]
                else "not the model the priorities favour on the data the notebook ran on"
                + (", which is the accuracy leader: choose by the priorities" if chosen == found["accuracy_leader"]
                   else ""))
    ships = ", ".join(found["conclusion_ships"]) or "no decision found"
    prose = prose_verdict(found)
    report.table(["check", "found", "verdict"], [
        ["chosen_model (½)", chosen, decision],
        ["the conclusion ships (½)", ships, prose],
    ])
    report.paragraph("The conclusion is the last cell that states a decision (a markdown cell, or a code cell's "
                     "printed or displayed output); a sentence that negates a model or imagines shipping it "
                     "(\"shipping model_A would ...\") is not a decision. Compute it, so it is right on any data.")
    report.pre(found["text"][-2000:] or "(nothing)")


def prose_verdict(found: dict) -> str:
    ships = found["conclusion_ships"]
    if found["prose_right"]:
        return "right"
    what = ("it names more than one model as the decision, which decides nothing" if len(ships) > 1 else
            "no sentence ships a model" if not ships else
            "it ships another model than the one the priorities favour" if found["chosen_right"] else "")
    needs = "" if found["backing"] else "it counts only with a right, computed decision"
    return "; ".join(part for part in (what, needs) if part)
