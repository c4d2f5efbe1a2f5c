"""Trainer class around the original's maths; the config is looked up by key name wherever it sits."""
import argparse
import math
import os

import numpy as np
import yaml


def lookup(tree, key):
    if isinstance(tree, dict):
        if key in tree:
            return tree[key]
        for child in tree.values():
            found = lookup(child, key)
            if found is not None:
                return found
    return None


class Trainer:
    def __init__(self, settings):
        get = lambda name: lookup(settings, name)  # noqa: E731
        self.rate, self.epochs, self.batch = get("learning_rate"), get("epochs"), get("batch_size")
        self.seed, self.width, self.decay = get("seed"), get("hidden_units"), get("weight_decay")
        self.beta, self.gamma, self.eps = get("momentum"), get("lr_decay"), get("probability_clip")
        self.checkpoints = get("checkpoint_dir")

    @staticmethod
    def read(path):
        data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
        return data[:, :-1], data[:, -1]

    def probabilities(self, X):
        hidden = np.tanh(X @ self.W1 + self.b1)
        logits = hidden @ self.W2 + self.b2
        return hidden, np.clip(1.0 / (1.0 + np.exp(-logits)), self.eps, 1 - self.eps)

    @staticmethod
    def cross_entropy(p, y):
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

    def fit(self, data_dir, out_dir):
        np.random.seed(self.seed)
        X, y = self.read(os.path.join(data_dir, "train.csv"))
        Xv, yv = self.read(os.path.join(data_dir, "valid.csv"))
        centre, spread = X.mean(axis=0), X.std(axis=0) + 1e-8
        X, Xv = (X - centre) / spread, (Xv - centre) / spread
        fan_in = X.shape[1]
        self.W1 = np.random.randn(fan_in, self.width) * math.sqrt(1.0 / fan_in)
        self.b1 = np.zeros(self.width)
        self.W2 = np.random.randn(self.width) * math.sqrt(1.0 / self.width)
        self.b2 = 0.0
        m = [np.zeros_like(self.W1), np.zeros_like(self.b1), np.zeros_like(self.W2), 0.0]
        os.makedirs(os.path.join(out_dir, self.checkpoints), exist_ok=True)
        report = ["epoch,train_loss,valid_loss,valid_accuracy"]
        for epoch in range(self.epochs):
            shuffled = np.random.permutation(len(X))
            losses = []
            for lo in range(0, len(X), self.batch):
                pick = shuffled[lo:lo + self.batch]
                h, p = self.probabilities(X[pick])
                losses.append(self.cross_entropy(p, y[pick]))
                delta = (p - y[pick]) / len(pick)
                dh = np.outer(delta, self.W2) * (1 - h ** 2)
                g = [X[pick].T @ dh + self.decay * self.W1, dh.sum(axis=0), h.T @ delta + self.decay * self.W2,
                     delta.sum()]
                m = [self.beta * mi - self.rate * gi for mi, gi in zip(m, g)]
                self.W1, self.b1, self.W2, self.b2 = self.W1 + m[0], self.b1 + m[1], self.W2 + m[2], self.b2 + m[3]
            self.rate *= self.gamma
            _, pv = self.probabilities(Xv)
            accuracy = np.mean((pv > 0.5) == (yv == 1))
            report.append(f"{epoch + 1},{np.mean(losses):.9f},{self.cross_entropy(pv, yv):.9f},{accuracy:.9f}")
            np.savez(os.path.join(out_dir, self.checkpoints, f"epoch_{epoch + 1:03d}.npz"),
                     hidden_weights=self.W1, hidden_bias=self.b1, output_weights=self.W2, output_bias=self.b2)
            print(f"epoch {epoch + 1}: mean batch loss {np.mean(losses):.4f}, valid accuracy {accuracy:.1%}")
        with open(os.path.join(out_dir, "metrics.csv"), "w") as handle:
            handle.write("\n".join(report) + "\n")


if __name__ == "__main__":
    cli = argparse.ArgumentParser()
    for flag in ("--config", "--data-dir", "--output-dir"):
        cli.add_argument(flag, required=True)
    args = cli.parse_args()
    with open(args.config) as stream:
        Trainer(yaml.safe_load(stream)).fit(args.data_dir, args.output_dir)
