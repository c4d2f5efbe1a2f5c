"""Agents: the definitions this server can run (GET /agents) and how they rank (GET /leaderboard)."""
from __future__ import annotations

from fastapi import APIRouter

from agentlib.definition import scan_agents

from ..deps import CatalogueDep, ProjectDep, StoreDep
from ..leaderboard import leaderboard
from .runs import resolve_competitions

router = APIRouter()


@router.get("/agents")
def list_agents(project: ProjectDep):
    agents, problems = scan_agents(project.root / "agents")
    return {"agents": [describe(agent) for agent in sorted(agents.values(), key=lambda a: a.id)],
            "broken": problems}


def describe(agent) -> dict:
    model = agent.model
    return {"id": agent.id, "description": model.description, "variants": agent.variant_names(),
            "time_limit": model.time_limit, "network": model.network, "env_vars": list(model.env_vars),
            "resources": model.resources.model_dump()}


@router.get("/leaderboard")
def get_leaderboard(store: StoreDep, catalogue: CatalogueDep, project: ProjectDep, competitions: str | None = None):
    """competitions: task ids separated by commas, or a split file (splits/lite.txt); default: every task an agent
    was graded on."""
    return leaderboard(store.runs(), chosen_competitions(competitions, catalogue, project.root))


def chosen_competitions(competitions: str | None, catalogue, root) -> list[str] | None:
    """The leaderboard's `competitions` (also the web page's): a split file or task ids separated by commas."""
    if not competitions:
        return None
    names = competitions if competitions.endswith(".txt") else [c for c in competitions.split(",") if c]
    return resolve_competitions(names, catalogue, root)
