"""Misbehave on one task, behave on the others (tests/test_server_agents.py)."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

HOME = Path("/home")
SUBMISSION, DATA, LOGS = (Path(os.environ[name]) for name in ("SUBMISSION_DIR", "DATA_DIR", "LOGS_DIR"))


def submit_sample() -> None:
    kit = HOME / "starting_kit" / "sample_submission"
    if kit.is_dir():
        shutil.copytree(kit, SUBMISSION, dirs_exist_ok=True)
        return
    for name in json.loads((HOME / "submission_format.json").read_text()).get("files") or []:
        shutil.copyfile(DATA / f"sample_{name}", SUBMISSION / name)


def peek(runs_dir: str) -> None:
    """Look for the server's runs folder (the cached answers live under it) and everything named like answers."""
    found = []
    for root, dirs, names in os.walk("/"):
        dirs[:] = [d for d in dirs if os.path.join(root, d) not in ("/proc", "/sys", "/usr", "/dev")]
        found += [os.path.join(root, name) for name in names if name == "facts.json"]
    visible = os.path.exists(runs_dir)
    (LOGS / "peek.json").write_text(json.dumps({"runs_dir_visible": visible, "answers_found": found}))
    print(f"runs folder {runs_dir} visible: {visible}; files named facts.json: {found}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", required=True)
    parser.add_argument("--on", required=True)
    args = parser.parse_args()
    if os.environ["COMPETITION_ID"] != args.on:
        submit_sample()
        return 0
    if args.mode == "crash":
        print("about to fail on purpose", file=sys.stderr, flush=True)
        raise SystemExit(3)
    if args.mode == "overrun":
        time.sleep(600)
    if args.mode == "peek":
        peek(os.environ.get("SERVER_RUNS_DIR", "/nonexistent"))
        submit_sample()
    return 0  # mode "nothing": exit cleanly having written nothing


if __name__ == "__main__":
    sys.exit(main())
