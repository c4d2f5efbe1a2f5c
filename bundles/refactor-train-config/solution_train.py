"""The refactored training loop: every hyper-parameter comes from config.yaml.

    python3 train.py --config config.yaml --data-dir DATA_DIR --output-dir OUTPUT_DIR

A one-hidden-layer tanh network trained with mini-batch SGD (momentum, weight decay, learning-rate decay per
epoch), exactly as the original script did: same seed, same order of random draws, same arithmetic. Each
epoch appends a row to OUTPUT_DIR/metrics.csv and saves the weights to
OUTPUT_DIR/<checkpoint_dir>/epoch_XXX.npz.
"""
from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import numpy as np
import yaml


def read_config(path: Path) -> dict:
    config = yaml.safe_load(path.read_text())
    return {**config["model"], **config["optimizer"], **config["training"], **config["output"], **config["data"]}


def load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    X = np.array([[float(v) for v in row[:-1]] for row in rows[1:]])
    y = np.array([float(row[-1]) for row in rows[1:]])
    return X, y


def bce(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


class Network:
    def __init__(self, n_in: int, hidden_units: int, clip: float):
        self.W1 = np.random.randn(n_in, hidden_units) * math.sqrt(1.0 / n_in)
        self.b1 = np.zeros(hidden_units)
        self.W2 = np.random.randn(hidden_units) * math.sqrt(1.0 / hidden_units)
        self.b2 = 0.0
        self.clip = clip

    def forward(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h = np.tanh(X @ self.W1 + self.b1)
        p = 1.0 / (1.0 + np.exp(-(h @ self.W2 + self.b2)))
        return h, np.clip(p, self.clip, 1 - self.clip)

    def weights(self) -> dict[str, np.ndarray]:
        return {"W1": self.W1, "b1": self.b1, "W2": self.W2, "b2": np.array(self.b2)}


def train(config: dict, data_dir: Path, output_dir: Path) -> None:
    np.random.seed(config["seed"])
    Xtr, ytr = load(data_dir / config["train_file"])
    Xva, yva = load(data_dir / config["valid_file"])
    mean, std = Xtr.mean(axis=0), Xtr.std(axis=0) + config["std_epsilon"]
    Xtr, Xva = (Xtr - mean) / std, (Xva - mean) / std
    net = Network(Xtr.shape[1], config["hidden_units"], config["probability_clip"])
    velocity = {name: np.zeros_like(value) for name, value in net.weights().items()}
    velocity["b2"] = 0.0
    checkpoints = output_dir / config["checkpoint_dir"]
    checkpoints.mkdir(parents=True, exist_ok=True)
    momentum, decay, batch_size = config["momentum"], config["weight_decay"], config["batch_size"]
    lr = config["learning_rate"]
    rows = []
    for epoch in range(1, config["epochs"] + 1):
        order = np.random.permutation(len(Xtr))
        losses = []
        for start in range(0, len(Xtr), batch_size):
            batch = order[start:start + batch_size]
            xb, yb = Xtr[batch], ytr[batch]
            h, p = net.forward(xb)
            losses.append(bce(p, yb))
            dz = (p - yb) / len(yb)
            gradients = {"W2": h.T @ dz + decay * net.W2, "b2": dz.sum()}
            dh = np.outer(dz, net.W2) * (1 - h ** 2)
            gradients.update(W1=xb.T @ dh + decay * net.W1, b1=dh.sum(axis=0))
            for name in ("W2", "b2", "W1", "b1"):
                velocity[name] = momentum * velocity[name] - lr * gradients[name]
            net.W2, net.b2 = net.W2 + velocity["W2"], net.b2 + velocity["b2"]
            net.W1, net.b1 = net.W1 + velocity["W1"], net.b1 + velocity["b1"]
        lr = lr * config["lr_decay"]
        train_loss = sum(losses) / len(losses)  # summed in order, as the original did
        _, p_valid = net.forward(Xva)
        rows.append({"epoch": epoch, "train_loss": train_loss, "valid_loss": bce(p_valid, yva),
                     "valid_accuracy": float(np.mean((p_valid > 0.5) == (yva == 1)))})
        np.savez(checkpoints / f"epoch_{epoch:03d}.npz", **net.weights())
        print(", ".join(f"{key} {value}" for key, value in rows[-1].items()), flush=True)
    with open(output_dir / config["metrics_file"], "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({key: repr(value) for key, value in row.items()} for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--output-dir", type=Path, required=True)
    args = parser.parse_args()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    train(read_config(args.config), args.data_dir, args.output_dir)


if __name__ == "__main__":
    main()
