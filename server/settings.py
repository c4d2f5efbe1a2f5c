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
    resume: bool = False  # at start-up, run again what a previous server left unfinished (MLEB_RESUME=1)
    executor: str = "local"  # local: subprocesses of the server; ray: Ray tasks on a cluster (docs/ray.md)
    ray_address: str | None = None  # e.g. 10.0.0.1:6379; None: ray.init's own choice (RAY_ADDRESS, or a local one)
    ray_storage: str = "shared"  # shared: the runs folder is on storage every node mounts; object: Ray's object store
    ray_runs_path: str | None = None  # where the nodes mount the runs folder (shared); default: the same path
    ray_scratch: str | None = None  # each node's own folder for jobs' work (and, with object, its data cache)
    ray_max_retries: int = 2  # a job whose node dies is run again elsewhere this many times, then fails
    ray_gpu_resource: str = "GPU"  # the Ray resource a GPU job asks for: GPU, or a custom one (e.g. gpu_node)

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
        settings.resume = env.get("MLEB_RESUME") == "1"
        for name, kind in EXECUTOR_VARIABLES.items():  # MLEB_EXECUTOR, MLEB_RAY_ADDRESS, ...
            if env.get(f"MLEB_{name.upper()}"):
                setattr(settings, name, kind(env[f"MLEB_{name.upper()}"]))
        return settings


EXECUTOR_VARIABLES = {"executor": str, "ray_address": str, "ray_storage": str, "ray_runs_path": str,
                      "ray_scratch": str, "ray_max_retries": int, "ray_gpu_resource": str}
