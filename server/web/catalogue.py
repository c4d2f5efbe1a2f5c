"""The tasks page's cards: each loaded task definition's pages, scales, thresholds and leaderboard columns."""
from __future__ import annotations

from ..catalogue import TaskCatalogue


def task_cards(catalogue: TaskCatalogue, splits: dict[str, list[str]]) -> list[dict]:
    return [task_card(task_id, task.model, splits) for task_id, task in sorted(catalogue.loaded.items())]


def task_card(task_id: str, model, splits: dict[str, list[str]]) -> dict:
    board = model.leaderboard
    return {"id": task_id, "title": model.title, "description": model.description.strip(),
            "kind": model.submission.kind, "docker_image": model.docker_image,
            "pages": [{"title": p.title, "file": p.file} for p in model.pages],
            "scales": [{"name": name, "default": name == model.default_scale,
                        "params": ", ".join(f"{k}={v}" for k, v in sorted(params.items()))}
                       for name, params in model.scales.items()],
            "thresholds": model.thresholds.model_dump(exclude_none=True) if model.thresholds else {},
            "thresholds_raw": model.thresholds_raw.model_dump(exclude_none=True) if model.thresholds_raw else {},
            "columns": [{"key": c.key, "title": c.title, "sorting": c.sorting, "precision": c.precision,
                         "hidden": c.hidden, "primary": c.key == board.primary} for c in board.columns],
            "phases": [{"name": p.name, "limit": p.execution_time_limit} for p in model.phases],
            "splits": [name for name, tasks in splits.items() if task_id in tasks]}
