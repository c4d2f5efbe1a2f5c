# train.py  --  churn-ish MLP, numpy only
# (copied from the notebook, works on my machine, DON'T CHANGE the numbers, they took a week to find)
import os
import sys
import csv
import math
import numpy as np

np.random.seed(__SEED__)

DATA = os.environ.get("DATA_DIR", "data")   # where train.csv / valid.csv live

def load(fn):
    f = open(os.path.join(DATA, fn))
    rows = list(csv.reader(f))
    f.close()
    head = rows[0]
    X = np.array([[float(v) for v in r[:-1]] for r in rows[1:]])
    y = np.array([float(r[-1]) for r in rows[1:]])
    return X, y

Xtr, ytr = load("train.csv")
Xva, yva = load("valid.csv")
print("train", Xtr.shape, "valid", Xva.shape)

# normalise with the training statistics
mu = Xtr.mean(axis=0)
sd = Xtr.std(axis=0) + 1e-8
Xtr = (Xtr - mu) / sd
Xva = (Xva - mu) / sd

# ---- model: one hidden layer, tanh -----------------------------------
n_in = Xtr.shape[1]
W1 = np.random.randn(n_in, __HIDDEN__) * math.sqrt(1.0 / n_in)
b1 = np.zeros(__HIDDEN__)
W2 = np.random.randn(__HIDDEN__) * math.sqrt(1.0 / __HIDDEN__)
b2 = 0.0
# momentum buffers
vW1 = np.zeros_like(W1); vb1 = np.zeros_like(b1)
vW2 = np.zeros_like(W2); vb2 = 0.0

def forward(X):
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    p = 1.0 / (1.0 + np.exp(-z))
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return h, p

def bce(p, y):
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

# old experiment, keep for later
# lr = 0.1; hidden = 64; batch = 32  -> overfits
lr = __LR__
best = 1e9
for ep in range(__EPOCHS__):
    perm = np.random.permutation(len(Xtr))
    tot = 0.0
    nb = 0
    for i in range(0, len(Xtr), __BATCH__):
        idx = perm[i:i + __BATCH__]
        xb = Xtr[idx]
        yb = ytr[idx]
        h, p = forward(xb)
        loss = bce(p, yb)
        tot += loss
        nb += 1
        # backward (by hand)
        dz = (p - yb) / len(yb)
        gW2 = h.T @ dz + __WD__ * W2
        gb2 = dz.sum()
        dh = np.outer(dz, W2) * (1 - h ** 2)
        gW1 = xb.T @ dh + __WD__ * W1
        gb1 = dh.sum(axis=0)
        vW2 = 0.9 * vW2 - lr * gW2
        vb2 = 0.9 * vb2 - lr * gb2
        vW1 = 0.9 * vW1 - lr * gW1
        vb1 = 0.9 * vb1 - lr * gb1
        W2 = W2 + vW2
        b2 = b2 + vb2
        W1 = W1 + vW1
        b1 = b1 + vb1
    lr = lr * 0.95   # decay every epoch
    if tot / nb < best:
        best = tot / nb
    print("epoch", ep, "loss", tot / nb)
    sys.stdout.flush()

_, pva = forward(Xva)
print("valid loss", bce(pva, yva))
