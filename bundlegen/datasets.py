"""Large data outside the bundle: Codabench hangs unpacking bundles of hundreds of MB, so a full-scale build can
write its data zips as datasets to upload once, and reference them from competition.yaml by their keys.

    build TASK --scale full --data-keys keys.yaml    (keys.yaml absent) → writes dist/TASK-datasets/*.zip and a
                                                     keys.yaml template to fill in after uploading them
    build TASK --scale full --data-keys keys.yaml    (keys filled in)  → the bundle, referencing the keys
"""
from __future__ import annotations

import re
from pathlib import Path

from programlib.safe_yaml import YamlError, load_yaml_file

from .zipper import DeterministicZip, human_size

DATA_FIELDS = ("reference_data", "input_data", "public_data")
DATASET_TYPES = {"reference_data": "Reference Data", "input_data": "Input Data", "public_data": "Public Data"}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PLACEHOLDER = "upload {zip} and put its key here"


class DataKeysError(Exception):
    pass


def is_dataset_key(value) -> bool:
    return isinstance(value, str) and bool(UUID.match(value))


def read_keys(path: Path, fields: list[str]) -> dict[str, str]:
    try:
        keys = load_yaml_file(path) or {}
    except YamlError as error:
        raise DataKeysError(str(error)) from None
    problems = []
    for field in fields:
        value = keys.get(field) if isinstance(keys, dict) else None
        if not is_dataset_key(value):
            problems.append(f"{path}: {field}: {value!r} is not a dataset key (a UUID such as "
                            f"0c9a3e52-5b64-4c1b-8f3a-2d2f6a7e9b10)")
    if problems:
        raise DataKeysError("\n".join(problems))
    return {field: keys[field] for field in fields}


def write_datasets(task_id: str, zips: dict[str, DeterministicZip], out_dir: Path, keys_path: Path, log) -> Path:
    """Write each data zip for upload, and a keys file to fill in; return the datasets folder."""
    folder = out_dir / f"{task_id}-datasets"
    folder.mkdir(parents=True, exist_ok=True)
    template = ["# Upload each zip to Codabench as a dataset (Resources > Datasets and programs > Upload, with the type",
                "# given), replace each value with the dataset's key, then build again with --data-keys " + str(keys_path)]
    for field, archive in zips.items():
        target = folder / f"{field}.zip"
        archive.write(target)
        kind = DATASET_TYPES[field.rstrip("_0123456789")]  # reference_data_1: another hidden draw's answers
        log(f"  wrote {target} ({human_size(target.stat().st_size)}): upload it as '{kind}'")
        template.append(f"{field}: {PLACEHOLDER.format(zip=target)!r}")
    keys_path.parent.mkdir(parents=True, exist_ok=True)
    keys_path.write_text("\n".join(template) + "\n")  # trusted: the organiser's own --data-keys path
    log(f"  wrote {keys_path}: fill in the keys, then rebuild with --data-keys {keys_path}")
    return folder
