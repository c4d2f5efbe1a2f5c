"""A scripted coding agent: the steps an LLM agent takes on a tabular code task, with templates for the thinking.

    1. read /home/instructions.txt, /home/data/description.md and /home/submission_format.json (the folder
       above $AGENT_DIR: /home in the sandbox; benchmarks/bench_agents.py also runs it bare, on a staged home)
    2. look at the data: train.csv's columns, the target, the id, which features are text
    3. write a first training program into $CODE_DIR (text made from a template: numeric features only), run it
       with the interpreter on /home/data, read its cross-validated AUC from what it wrote
    4. write a second one (categorical features one-hot encoded too), run it; keep the better of the two
    5. submit: a code task gets the program as its entry file and a README.md beside it; a results task the
       predictions the program wrote
    6. run /home/validate_submission.sh when the home has one, and log what it said

Every step is logged in $LOGS_DIR/steps.log, each run's output in $LOGS_DIR/run_<n>.log. Standard library only
(the programs it writes use pandas and scikit-learn).
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HOME = Path(os.environ.get("AGENT_DIR", "/home/agent")).parent  # /home in the sandbox; the staged home, bare
DATA = Path(os.environ.get("DATA_DIR", HOME / "data"))
CODE = Path(os.environ.get("CODE_DIR", HOME / "code"))
LOGS = Path(os.environ.get("LOGS_DIR", HOME / "logs"))
SUBMISSION = Path(os.environ.get("SUBMISSION_DIR", HOME / "submission"))
VALIDATE = HOME / "validate_submission.sh"
STARTED = time.monotonic()

PROGRAM = '''"""{title}: logistic regression, {folds}-fold stratified cross-validation. Written by the scripted coder.

    python {entry} --data-dir DATA_DIR --output-dir OUTPUT_DIR
"""
import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

TARGET, ID = {target!r}, {id!r}
NUMERIC, CATEGORICAL = {numeric!r}, {categorical!r}


def make_model():
    parts = [(make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMERIC)]
    if CATEGORICAL:
        parts.append((make_pipeline(SimpleImputer(strategy="most_frequent"),
                                    OneHotEncoder(handle_unknown="ignore")), CATEGORICAL))
    return make_pipeline(make_column_transformer(*parts), LogisticRegression(max_iter=2000))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--output-dir", type=Path, required=True)
    args = parser.parse_args()
    train = pd.read_csv(args.data_dir / "train.csv", dtype={{ID: str}})
    test = pd.read_csv(args.data_dir / "test.csv", dtype={{ID: str}})
    X, y = train[NUMERIC + CATEGORICAL], train[TARGET]
    aucs, accuracies = [], []
    splitter = StratifiedKFold(n_splits={folds}, shuffle=True, random_state=0)
    for fold, (fit, valid) in enumerate(splitter.split(X, y), start=1):
        model = make_model().fit(X.iloc[fit], y.iloc[fit])
        probabilities = model.predict_proba(X.iloc[valid])[:, 1]
        aucs.append(roc_auc_score(y.iloc[valid], probabilities))
        accuracies.append(accuracy_score(y.iloc[valid], probabilities > 0.5))
        print(f"fold {{fold}}/{folds}: roc_auc={{aucs[-1]:.4f}} accuracy={{accuracies[-1]:.4f}}", flush=True)
    print(f"cross-validation: roc_auc={{np.mean(aucs):.4f}} accuracy={{np.mean(accuracies):.4f}}")
    model = make_model().fit(X, y)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    folds = [{{"fold": i, "roc_auc": a, "accuracy": c}} for i, (a, c) in enumerate(zip(aucs, accuracies), 1)]
    metrics = {{"model": "LogisticRegression", "folds": folds,
               "mean": {{"roc_auc": float(np.mean(aucs)), "accuracy": float(np.mean(accuracies))}}}}
    (args.output_dir / "cv_metrics.json").write_text(json.dumps(metrics, indent=2) + "\\n")
    predictions = pd.DataFrame({{ID: test[ID], TARGET: model.predict_proba(test[X.columns])[:, 1]}})
    predictions.to_csv(args.output_dir / "predictions.csv", index=False)


if __name__ == "__main__":
    main()
'''

README = """# {title}

A logistic regression ({features}) with {folds}-fold stratified cross-validation. Run it as

    python {entry} --data-dir DATA_DIR --output-dir OUTPUT_DIR

It prints ROC AUC and accuracy per fold and their mean, writes them to OUTPUT_DIR/cv_metrics.json and the
test set's predictions (P(class 1)) to OUTPUT_DIR/predictions.csv.
"""


def step(message: str) -> None:
    line = f"[{time.monotonic() - STARTED:6.2f} s] {message}"
    print(line, flush=True)
    with open(LOGS / "steps.log", "a", encoding="utf-8") as log:
        log.write(line + "\n")


def read_task() -> dict:
    instructions = (HOME / "instructions.txt").read_text(encoding="utf-8")
    step(f"read {HOME / 'instructions.txt'} ({len(instructions.splitlines())} lines)")
    description = (DATA / "description.md").read_text(encoding="utf-8")
    headings = [line.lstrip("# ").strip() for line in description.splitlines() if line.startswith("# ")]
    step(f"read {DATA / 'description.md'}: {', '.join(headings) or 'no headings'}")
    contract = json.loads((HOME / "submission_format.json").read_text(encoding="utf-8"))
    step(f"the submission: a {contract['kind']} task ({contract.get('entry') or ', '.join(contract['files'])})")
    return contract


def look_at_data() -> dict:
    """The columns of train.csv: the target (a 'target' column, else the last), the id, numeric and text ones."""
    if not (DATA / "train.csv").is_file() or not (DATA / "test.csv").is_file():
        raise SystemExit("scripted coder: this task has no train.csv and test.csv; it only knows tabular tasks")
    with open(DATA / "train.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    columns = list(rows[0])
    target = "target" if "target" in columns else columns[-1]
    id_column = "id" if "id" in columns else columns[0]
    features = [c for c in columns if c not in (target, id_column)]
    categorical = [c for c in features if not all(_number(row[c]) for row in rows)]
    numeric = [c for c in features if c not in categorical]
    step(f"train.csv: {len(rows)} rows; target {target!r}, id {id_column!r}, {len(numeric)} numeric and "
         f"{len(categorical)} categorical features")
    return {"target": target, "id": id_column, "numeric": numeric, "categorical": categorical}


def _number(text: str) -> bool:
    try:
        float(text or "nan")
        return True
    except ValueError:
        return False


def write_program(attempt: int, columns: dict, categorical: bool, entry: str) -> Path:
    title = f"attempt {attempt}: " + ("numeric and categorical features" if categorical else "numeric features")
    source = PROGRAM.format(title=title, folds=5, entry=entry, target=columns["target"], id=columns["id"],
                            numeric=columns["numeric"], categorical=columns["categorical"] if categorical else [])
    path = CODE / f"attempt_{attempt}.py"
    path.write_text(source, encoding="utf-8")
    step(f"wrote {path} ({len(source.splitlines())} lines: {title})")
    return path


def run_program(attempt: int, program: Path, contract: dict) -> float | None:
    """Run it on the public data as the platform would; its cross-validated AUC (None when it failed)."""
    out = CODE / f"run_{attempt}"
    fill = {"{input_data}": str(DATA), "{predictions}": str(out)}
    args = [fill.get(arg, arg) for arg in contract.get("args") or ["--data-dir", "{input_data}", "--output-dir",
                                                                    "{predictions}"]]
    timeout = contract.get("run_time_limit") or 300
    with open(LOGS / f"run_{attempt}.log", "w", encoding="utf-8") as log:
        try:
            code = subprocess.run([sys.executable, str(program), *args], cwd=CODE, stdout=log,
                                  stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            code = f"none: stopped after {timeout} s"
    if code != 0 or not (out / "cv_metrics.json").is_file():
        step(f"attempt {attempt} failed (exit code {code}); see logs/run_{attempt}.log")
        return None
    auc = json.loads((out / "cv_metrics.json").read_text())["mean"]["roc_auc"]
    step(f"attempt {attempt} ran: cross-validated roc_auc {auc:.4f}")
    return auc


def submit(best: int, contract: dict, entry: str) -> None:
    if contract["kind"] == "code":
        shutil.copyfile(CODE / f"attempt_{best}.py", SUBMISSION / entry)
        shutil.copyfile(CODE / "README.md", SUBMISSION / "README.md")
    else:  # a results task: the predictions it wrote under the names the task wants
        for name in contract["files"]:
            shutil.copyfile(CODE / f"run_{best}" / name, SUBMISSION / name)
    step(f"submitted attempt {best}: {', '.join(sorted(os.listdir(SUBMISSION)))}")


def validate() -> None:
    if not VALIDATE.is_file():
        step(f"no {VALIDATE}: format not checked")
        return
    try:
        done = subprocess.run(["bash", str(VALIDATE), str(SUBMISSION)], capture_output=True, text=True,
                              timeout=300)
    except subprocess.TimeoutExpired:
        step(f"{VALIDATE.name}: no answer in 300 s; submitting as it is")
        return
    said = (done.stdout + done.stderr).strip().splitlines()
    step(f"{VALIDATE.name}: exit code {done.returncode}; {said[-1] if said else 'said nothing'}")


def main() -> int:
    contract = read_task()
    entry = contract.get("entry") or "train.py"
    columns = look_at_data()
    scores = {}
    for attempt, categorical in ((1, False), (2, bool(columns["categorical"]))):
        scores[attempt] = run_program(attempt, write_program(attempt, columns, categorical, entry), contract)
    ran = {attempt: auc for attempt, auc in scores.items() if auc is not None}
    if not ran:
        step("no attempt ran: nothing to submit")
        return 1
    best = max(ran, key=ran.get)
    features = "numeric and one-hot encoded categorical features" if best == 2 else "numeric features"
    (CODE / "README.md").write_text(README.format(title=contract.get("title") or "Baseline", features=features,
                                                  folds=5, entry=entry), encoding="utf-8")
    submit(best, contract, entry)
    validate()
    step("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
