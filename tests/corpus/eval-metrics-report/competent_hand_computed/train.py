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


def curves(labels: np.ndarray, probabilities: np.ndarray):
    """ROC and PR points at every distinct threshold, highest first (computed by hand)."""
    order = np.argsort(-probabilities, kind="mergesort")
    sorted_labels, sorted_probs = labels[order], probabilities[order]
    last = np.r_[np.flatnonzero(np.diff(sorted_probs)), len(labels) - 1]  # the end of each tie group
    tp = np.cumsum(sorted_labels)[last]
    fp = (last + 1) - tp
    tpr, fpr = np.r_[0, tp] / labels.sum(), np.r_[0, fp] / (len(labels) - labels.sum())
    precision, recall = tp / (tp + fp), tp / labels.sum()
    return fpr, tpr, precision, recall


def evaluate(labels: np.ndarray, probabilities: np.ndarray, threshold: float = 0.5) -> dict:
    predicted = (probabilities >= threshold).astype(int)
    tn = int(np.sum((labels == 0) & (predicted == 0)))
    fp = int(np.sum((labels == 0) & (predicted == 1)))
    fn = int(np.sum((labels == 1) & (predicted == 0)))
    tp = int(np.sum((labels == 1) & (predicted == 1)))
    fpr, tpr, precision, recall = curves(labels, probabilities)
    auc = float(np.trapezoid(tpr, fpr))
    ap = float(np.sum(np.diff(np.r_[0, recall]) * precision))
    return {"accuracy": (tp + tn) / len(labels), "roc_auc": auc, "average_precision": ap,
            "confusion_matrix": [[tn, fp], [fn, tp]], "threshold": threshold}


def plot_curves(labels: np.ndarray, probabilities: np.ndarray, metrics: dict, out: Path) -> None:
    fpr, tpr, precision, recall = curves(labels, probabilities)
    figure, axes = plt.subplots(figsize=(6, 5))
    axes.plot(fpr, tpr, color="darkorange", lw=2, label=f"ROC (area = {metrics['roc_auc']:.3f})")
    axes.plot([0, 1], [0, 1], color="navy", lw=1, linestyle="--")
    axes.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="FPR", ylabel="TPR")
    axes.legend()
    figure.savefig(str(out / "roc_curve.png"))
    plt.close(figure)
    figure, axes = plt.subplots(figsize=(6, 5))
    axes.step(recall, precision, where="post", label=f"AP = {metrics['average_precision']:.3f}")
    axes.set(xlabel="Recall", ylabel="Precision")
    axes.legend()
    figure.savefig(str(out / "pr_curve.png"))
    plt.close(figure)


def write_report(metrics: dict, n_rows: int, out: Path) -> None:
    text = (f"# Latest run\n\nOn the {n_rows} evaluation rows the model reaches an accuracy of "
            f"{metrics['accuracy']:.4f} at threshold {metrics['threshold']}.\n"
            f"Its ROC AUC is {metrics['roc_auc']:.4f} and its average precision {metrics['average_precision']:.4f}.\n\n"
            "<img src=\"roc_curve.png\" width=\"400\">\n\n[The precision-recall curve](pr_curve.png)\n")
    (out / "report.md").write_text(text, encoding="utf-8")


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
