"""What a task's job asks of a Ray node, from what its task and its agent declare:

- CPUs: the agent's `resources.cpus` (1 without an agent);
- memory: the larger of the participant's memory limit (`submission.limits.memory_mb` in bundle.yaml) and the
  agent's `resources.memory_gb` (Ray's logical `memory` resource: nodes advertise theirs with `--memory`);
- GPUs: the agent's `resources.gpus`, and at least one for a task on the GPU image (`docker_image: gpu`), as
  Codabench sends those to a GPU queue. Asked as Ray's `num_gpus`, or as a custom resource of that name.
"""
from __future__ import annotations

from pathlib import Path

from agentlib.definition import AgentError, find_agent
from bundlegen.definition import DefinitionError, load_task
from bundlegen.project import Project

GPU_IMAGE = "gpu"
# A definition that does not load: the job runs with these and reports the problem itself, as in the local pool.
FALLBACK = {"cpus": 1, "memory_mb": 0, "gpus": 0}


def declared(spec: dict) -> dict:
    """{"cpus", "memory_mb", "gpus"} of the job that job.json `spec` describes."""
    try:
        return _declared(spec)
    except (DefinitionError, AgentError, OSError):
        return dict(FALLBACK)


def _declared(spec: dict) -> dict:
    project = Project(Path(spec["project"]))
    task = load_task(project.bundles_dir / spec["task"], project).model
    cpus, memory_mb = 1, task.submission.limits.memory_mb or 0
    gpus = 1 if task.docker_image == GPU_IMAGE else 0
    if spec.get("agent_id"):
        wanted = find_agent(spec["agent_id"], project.root / "agents").model.resources
        cpus, memory_mb, gpus = wanted.cpus, max(memory_mb, wanted.memory_gb * 1024), max(gpus, wanted.gpus)
    return {"cpus": cpus, "memory_mb": memory_mb, "gpus": gpus}


def ray_options(wanted: dict, gpu_resource: str = "GPU") -> dict:
    """The options of the job's Ray task (`.options(**...)`)."""
    options = {"num_cpus": wanted["cpus"], "memory": int(wanted["memory_mb"] * 1024**2)}
    if wanted["gpus"] and gpu_resource == "GPU":
        options["num_gpus"] = wanted["gpus"]
    elif wanted["gpus"]:
        options["resources"] = {gpu_resource: wanted["gpus"]}
    return options
