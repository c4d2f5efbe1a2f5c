"""Train a logistic model on DATA_DIR/train.csv with stochastic gradient descent; print the training loss.

    python3 train.py --data-dir DATA_DIR --output-dir OUTPUT_DIR

This is the script as it was handed over: it trains and prints the loss of each epoch, and nothing else.
"""
import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import log_loss
from sklearn.preprocessing import StandardScaler

EPOCHS = 20
TARGET = "label"


def load(path: Path):
    frame = pd.read_csv(path)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--output-dir", type=Path, default=Path("output"))
    args = parser.parse_args()
    _, features, labels = load(args.data_dir / "train.csv")
    train(features, labels)


if __name__ == "__main__":
    main()
