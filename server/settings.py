"""The server's settings (from the command line, or from MLEB_* variables for `uvicorn server.app:app`)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from bundlegen.project import Project

DEFAULT_MAX_UPLOAD_MB = 512


@dataclass
class Settings:
    runs_dir: Path = Path("runs")
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    token: str | None = None
    project_root: Path = field(default_factory=lambda: Project().root)
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * 1024**2
    job_time_limit: float = 3600.0

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ
        settings = cls(runs_dir=Path(env.get("MLEB_RUNS_DIR", "runs")), token=env.get("MLEB_SERVER_TOKEN") or None)
        if env.get("MLEB_WORKERS"):
            settings.workers = int(env["MLEB_WORKERS"])
        if env.get("MLEB_PROJECT"):
            settings.project_root = Path(env["MLEB_PROJECT"])
        if env.get("MLEB_MAX_UPLOAD_MB"):
            settings.max_upload_bytes = int(float(env["MLEB_MAX_UPLOAD_MB"]) * 1024**2)
        if env.get("MLEB_JOB_TIME_LIMIT"):
            settings.job_time_limit = float(env["MLEB_JOB_TIME_LIMIT"])
        return settings
