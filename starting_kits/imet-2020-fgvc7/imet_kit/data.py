"""Kaggle-layout data: train.csv / labels.csv / sample_submission.csv and train|test/<id>.png."""
from __future__ import annotations

import hashlib
from pathlib import Path

import albumentations as A
import numpy as np
import pandas as pd
import torch
from albumentations.pytorch import ToTensorV2
from PIL import Image
from torch.utils.data import DataLoader, Dataset

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def parse_ids(text: str) -> list[int]:
    return [int(token) for token in str(text).split()]


def table_sha256(frame: pd.DataFrame) -> str:
    """A hash of a table's values (not of its file's bytes: line endings and quoting do not count)."""
    return hashlib.sha256(frame.astype(str).to_csv(index=False, lineterminator="\n").encode()).hexdigest()


def multi_hot(label_lists: list[list[int]], n_classes: int) -> np.ndarray:
    targets = np.zeros((len(label_lists), n_classes), dtype=np.float32)
    for row, ids in enumerate(label_lists):
        targets[row, ids] = 1.0
    return targets


class Artworks(Dataset):
    def __init__(self, folder: Path, ids: list[str], targets: np.ndarray | None, transform: A.Compose):
        self.folder, self.ids, self.targets, self.transform = folder, ids, targets, transform

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int):
        image = np.asarray(Image.open(self.folder / f"{self.ids[index]}.png").convert("RGB"))
        tensor = self.transform(image=image)["image"]
        target = torch.from_numpy(self.targets[index]) if self.targets is not None else torch.zeros(0)
        return tensor, target


def transforms(size: int, train: bool, seed: int = 0) -> A.Compose:
    steps = [A.Resize(height=size, width=size)]
    if train:
        steps += [A.HorizontalFlip(p=0.5), A.Affine(scale=(0.9, 1.1), translate_percent=(-0.05, 0.05), p=0.5)]
    # A seeded pipeline: the same run twice gives the same model (albumentations also seeds each loader worker).
    return A.Compose(steps + [A.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD), ToTensorV2()], seed=seed)


class KaggleData:
    def __init__(self, data_dir: Path, val_fraction: float, seed: int, max_train_images: int | None = None):
        self.data_dir, self.seed = data_dir, seed
        labels = pd.read_csv(data_dir / "labels.csv")
        self.n_classes = len(labels)
        train = pd.read_csv(data_dir / "train.csv", dtype=str, keep_default_na=False)
        # What shipped weights are matched against (imet_kit/weights.py): the label set and the training labels.
        self.label_set_sha256 = table_sha256(labels)
        self.train_labels_sha256 = table_sha256(train)
        if max_train_images:
            train = train.sample(n=min(len(train), max_train_images), random_state=seed)
        order = np.random.default_rng(seed).permutation(len(train))
        n_val = max(1, int(round(len(train) * val_fraction)))
        self.val = train.iloc[np.sort(order[:n_val])].reset_index(drop=True)
        self.train = train.iloc[np.sort(order[n_val:])].reset_index(drop=True)
        self.test_ids = pd.read_csv(data_dir / "sample_submission.csv", dtype=str)["id"].tolist()

    def targets(self, frame: pd.DataFrame) -> np.ndarray:
        return multi_hot([parse_ids(text) for text in frame["attribute_ids"]], self.n_classes)

    def loader(self, split: str, size: int, batch_size: int, num_workers: int) -> DataLoader:
        if split == "test":
            dataset = Artworks(self.data_dir / "test", self.test_ids, None, transforms(size, False, self.seed))
        else:
            frame = self.train if split == "train" else self.val
            dataset = Artworks(self.data_dir / "train", frame["id"].tolist(), self.targets(frame),
                               transforms(size, split == "train", self.seed))
        return DataLoader(dataset, batch_size=batch_size, shuffle=split == "train", drop_last=split == "train"
                          and len(dataset) > batch_size, num_workers=num_workers, pin_memory=torch.cuda.is_available(),
                          persistent_workers=num_workers > 0)
