"""Re-run every submission of this corpus through the real bundle and keep what the scorer read.

    .venv/bin/python tests/corpus/model-comparison/regenerate.py

Builds the task at the tiny scale (the task's seed), runs each `<name>/comparison.ipynb` exactly as
Codabench's worker does (sandboxed ingestion, then scoring), and stores the executed notebook and the
comparison.json it wrote in `<name>/executed/`, and in manifest.json the digest of the hidden data they ran
on and the scores. tests/test_model_comparison.py grades the stored runs with the scorer's functions (fast)
and refuses them when the digest no longer matches the data: run this again after changing prepare.py.
"""
from __future__ import annotations

import hashlib
import io
import json
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))

from bundlegen.build import build_bundle  # noqa: E402
from bundlegen.definition import load_all  # noqa: E402
from bundlegen.worker import run_submission  # noqa: E402

TASK = "model-comparison"
ENTRY = "comparison.ipynb"


def reference_digest(bundle: Path) -> str:
    """The digest of the scorer's reference data (the hidden data's facts and rows) in a built bundle."""
    with zipfile.ZipFile(bundle) as archive, zipfile.ZipFile(io.BytesIO(archive.read("reference_data.zip"))) as ref:
        digest = hashlib.sha256()
        for name in sorted(ref.namelist()):
            digest.update(name.encode() + b"\0" + ref.read(name))
    return digest.hexdigest()


def submissions() -> list[str]:
    return sorted(path.parent.name for path in HERE.glob(f"*/{ENTRY}"))


def run_one(bundle: Path, name: str, work: Path) -> dict:
    archive = work / f"{name}.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(HERE / name / ENTRY, ENTRY)
    result = run_submission(bundle, archive, workdir=work / name, log=lambda _message: None)
    assert result.ok, f"{name}: {result.error}"
    res, kept = work / name / "scoring" / "input" / "res", HERE / name / "executed"
    shutil.rmtree(kept, ignore_errors=True)
    kept.mkdir()
    shutil.copyfile(res / "submission" / ENTRY, kept / ENTRY)
    if (res / "predictions" / "comparison.json").is_file():
        shutil.copyfile(res / "predictions" / "comparison.json", kept / "comparison.json")
    return {key: round(value, 4) for key, value in result.scores.items() if key != "duration"}


def main() -> None:
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        bundle = build_bundle(load_all()[TASK], work / "dist", scale_name="tiny", cache_dir=work / "cache",
                              log=lambda _message: None)
        scores = {}
        for name in submissions():
            scores[name] = run_one(bundle, name, work)
            print(f"{name:<28} {scores[name]['score']:.4f}")
        manifest = {"reference_digest": reference_digest(bundle), "scores": scores}
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
