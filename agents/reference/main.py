"""The reference agent: submit the bundle's reference solution, staged read-only at /home/reference_solution."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

SOLUTION = Path(os.environ.get("AGENT_DIR", "/home/agent")).parent / "reference_solution"
SUBMISSION = Path(os.environ.get("SUBMISSION_DIR", "/home/submission"))
LOGS = Path(os.environ.get("LOGS_DIR", "/home/logs"))


def main() -> int:
    if not SOLUTION.is_dir():
        print(f"no reference solution at {SOLUTION}: this bundle has none", file=sys.stderr)
        return 1
    shutil.copytree(SOLUTION, SUBMISSION, dirs_exist_ok=True)
    files = sorted(str(p.relative_to(SUBMISSION)) for p in SUBMISSION.rglob("*") if p.is_file())
    line = f"submitted the reference solution of {os.environ.get('COMPETITION_ID')}: {', '.join(files)}"
    print(line)
    (LOGS / "reference.log").write_text(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
