"""Train a logistic model on DATA_DIR/train.csv with stochastic gradient descent, then evaluate it.

    python3 train.py --data-dir DATA_DIR --output-dir OUTPUT_DIR [--threshold 0.5]

Training prints the loss of each epoch. The evaluation on DATA_DIR/eval.csv writes into OUTPUT_DIR:
metrics.json (accuracy, ROC AUC, confusion matrix at the threshold), predictions.csv (id, probability),
roc_curve.png, pr_curve.png and report.md, a short report of this run that links both plots.
"""
import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import (average_precision_score, confusion_matrix, log_loss, precision_recall_curve,
                             roc_auc_score, roc_curve)
from sklearn.preprocessing import StandardScaler

EPOCHS = 20
TARGET = "label"


def load(path: Path):
    frame = pd.read_csv(path, dtype={"id": str})
    features = [column for column in frame.columns if column not in ("id", TARGET)]
    return frame, frame[features].to_numpy(dtype=float), frame[TARGET].to_numpy(dtype=int)


def train(features: np.ndarray, labels: np.ndarray):
    scaler = StandardScaler().fit(features)
    scaled = scaler.transform(features)
    model = SGDClassifier(loss="log_loss", alpha=1e-3, learning_rate="constant", eta0=0.01, random_state=0)
    for epoch in range(1, EPOCHS + 1):
        model.partial_fit(scaled, labels, classes=[0, 1])
        loss = log_loss(labels, model.predict_proba(scaled)[:, 1], labels=[0, 1])
        print(f"epoch {epoch:2d}: training loss {loss:.4f}")
    return scaler, model


def evaluate(labels: np.ndarray, probabilities: np.ndarray, threshold: float = 0.5) -> dict:
    """Accuracy, ROC AUC and the confusion matrix [[tn, fp], [fn, tp]] of `probabilities` >= threshold."""
    predicted = (probabilities >= threshold).astype(int)
    matrix = confusion_matrix(labels, predicted, labels=[0, 1])
    return {"accuracy": float(np.mean(predicted == labels)), "roc_auc": float(roc_auc_score(labels, probabilities)),
            "average_precision": float(average_precision_score(labels, probabilities)),
            "confusion_matrix": matrix.tolist(), "threshold": threshold}


def plot_curves(labels: np.ndarray, probabilities: np.ndarray, metrics: dict, out: Path) -> None:
    false_positive, true_positive, _ = roc_curve(labels, probabilities)
    figure, axes = plt.subplots(figsize=(5, 4))
    axes.plot(false_positive, true_positive, label=f"model (AUC {metrics['roc_auc']:.3f})")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve (eval.csv)")
    axes.legend(loc="lower right")
    figure.savefig(out / "roc_curve.png", dpi=100, bbox_inches="tight")
    plt.close(figure)

    return  # TODO: the precision-recall curve
    precision, recall, _ = precision_recall_curve(labels, probabilities)
    figure, axes = plt.subplots(figsize=(5, 4))
    axes.plot(recall, precision, label=f"model (AP {metrics['average_precision']:.3f})")
    axes.axhline(labels.mean(), linestyle="--", color="grey", label="positive rate")
    axes.set(xlabel="recall", ylabel="precision", title="Precision-recall curve (eval.csv)")
    axes.legend(loc="upper right")
    figure.savefig(out / "pr_curve.png", dpi=100, bbox_inches="tight")
    plt.close(figure)


def write_report(metrics: dict, n_rows: int, out: Path) -> None:
    (tn, fp), (fn, tp) = metrics["confusion_matrix"]
    lines = [
        "# Evaluation report (latest run)", "",
        f"Evaluated on `eval.csv` ({n_rows} rows), class 1 when probability >= {metrics['threshold']}.", "",
        "| metric | value |", "| --- | --- |",
        f"| accuracy | {metrics['accuracy']:.6f} |",

        f"| average precision | {metrics['average_precision']:.6f} |", "",
        "Confusion matrix (rows: true class, columns: predicted class):", "",
        "| | predicted 0 | predicted 1 |", "| --- | --- | --- |",
        f"| true 0 | {tn} | {fp} |", f"| true 1 | {fn} | {tp} |", "",

    ]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--output-dir", type=Path, default=Path("output"))
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args()
    _, features, labels = load(args.data_dir / "train.csv")
    scaler, model = train(features, labels)

    eval_frame, eval_features, eval_labels = load(args.data_dir / "eval.csv")
    probabilities = model.predict_proba(scaler.transform(eval_features))[:, 1]
    metrics = evaluate(eval_labels, probabilities, args.threshold)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"id": eval_frame["id"], "probability": probabilities}).to_csv(
        args.output_dir / "predictions.csv", index=False)
    (args.output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    plot_curves(eval_labels, probabilities, metrics, args.output_dir)
    write_report(metrics, len(eval_labels), args.output_dir)
    print(f"eval: accuracy {metrics['accuracy']:.4f}, ROC AUC {metrics['roc_auc']:.4f}; "
          f"report in {args.output_dir / 'report.md'}")


if __name__ == "__main__":
    main()
