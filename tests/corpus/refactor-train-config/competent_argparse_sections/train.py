"""train.py, refactored: argparse defaults filled from the nested sections of config.yaml."""
import argparse
import csv
import math
from pathlib import Path

import numpy as np
import yaml


def flatten(tree, out=None):
    out = {} if out is None else out
    for key, value in tree.items():
        if isinstance(value, dict):
            flatten(value, out)
        else:
            out[key] = value
    return out


def parse_args():
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--config", type=Path, required=True)
    known, rest = first.parse_known_args()
    settings = flatten(yaml.safe_load(known.config.read_text()))
    parser = argparse.ArgumentParser(parents=[first])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--output-dir", type=Path, required=True)
    for key, value in settings.items():  # every config value may be overridden on the command line
        parser.add_argument("--" + key.replace("_", "-"), dest=key, type=type(value), default=value)
    return parser.parse_args()


def read_csv(path):
    with open(path, newline="") as handle:
        table = list(csv.reader(handle))[1:]
    return np.array([[float(v) for v in row[:-1]] for row in table]), np.array([float(row[-1]) for row in table])


def log_loss(p, y):
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def run(opt):
    np.random.seed(opt.seed)
    Xtr, ytr = read_csv(opt.data_dir / opt.train)
    Xva, yva = read_csv(opt.data_dir / opt.valid)
    mean, std = Xtr.mean(axis=0), Xtr.std(axis=0) + opt.std_eps
    Xtr, Xva = (Xtr - mean) / std, (Xva - mean) / std
    n = Xtr.shape[1]
    params = {"W1": np.random.randn(n, opt.hidden_units) * math.sqrt(1.0 / n), "b1": np.zeros(opt.hidden_units)}
    params["W2"] = np.random.randn(opt.hidden_units) * math.sqrt(1.0 / opt.hidden_units)
    params["b2"] = 0.0
    velocity = {k: np.zeros_like(v) if k != "b2" else 0.0 for k, v in params.items()}

    def predict(X):
        hidden = np.tanh(X @ params["W1"] + params["b1"])
        prob = 1.0 / (1.0 + np.exp(-(hidden @ params["W2"] + params["b2"])))
        return hidden, np.clip(prob, opt.probability_clip, 1 - opt.probability_clip)

    folder = opt.output_dir / opt.checkpoint_dir
    folder.mkdir(parents=True, exist_ok=True)
    rate, history = opt.learning_rate, []
    for epoch in range(1, opt.epochs + 1):
        order = np.random.permutation(len(Xtr))
        batch_losses = []
        for start in range(0, len(Xtr), opt.batch_size):
            rows = order[start:start + opt.batch_size]
            xb, yb = Xtr[rows], ytr[rows]
            hidden, prob = predict(xb)
            batch_losses.append(log_loss(prob, yb))
            dz = (prob - yb) / len(yb)
            grads = {"W2": hidden.T @ dz + opt.weight_decay * params["W2"], "b2": dz.sum()}
            dh = np.outer(dz, params["W2"]) * (1 - hidden ** 2)
            grads["W1"] = xb.T @ dh + opt.weight_decay * params["W1"]
            grads["b1"] = dh.sum(axis=0)
            for key in ("W2", "b2", "W1", "b1"):
                velocity[key] = opt.momentum * velocity[key] - rate * grads[key]
            for key in ("W2", "b2", "W1", "b1"):
                params[key] = params[key] + velocity[key]
        rate = rate * opt.lr_decay
        _, p_valid = predict(Xva)
        history.append((epoch, sum(batch_losses) / len(batch_losses), log_loss(p_valid, yva),
                        float(np.mean((p_valid > 0.5) == (yva == 1)))))
        np.savez(folder / f"epoch_{epoch:03d}.npz", **{k: np.asarray(v) for k, v in params.items()})
        print("epoch %d train %.6f valid %.6f acc %.4f" % history[-1], flush=True)
    with open(opt.output_dir / opt.metrics, "w") as handle:
        handle.write("epoch,train_loss,valid_loss,valid_accuracy\n")
        for epoch, train_loss, valid_loss, accuracy in history:
            handle.write(f"{epoch},{train_loss:.12g},{valid_loss:.12g},{accuracy:.12g}\n")


if __name__ == "__main__":
    arguments = parse_args()
    arguments.output_dir.mkdir(parents=True, exist_ok=True)
    run(arguments)
