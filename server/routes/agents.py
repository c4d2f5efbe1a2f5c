"""Agents: the definitions this server can run (GET /agents) and how they rank (GET /leaderboard)."""
from __future__ import annotations

from fastapi import APIRouter

from agentlib.definition import AgentError, agent_dirs, load_agent

from ..deps import CatalogueDep, ProjectDep, StoreDep
from ..leaderboard import leaderboard
from .runs import resolve_competitions

router = APIRouter()


def agents_of(project) -> tuple[dict, list[str]]:
    """The agents of the project's agents/ folder, and the problems of those whose definition is broken (one bad
    agent.yaml does not hide the others)."""
    agents, problems = {}, []
    for agent_id, folder in agent_dirs(project.root / "agents").items():
        try:
            agents[agent_id] = load_agent(folder)
        except AgentError as error:
            problems += error.problems
    return agents, problems


@router.get("/agents")
def list_agents(project: ProjectDep):
    agents, problems = agents_of(project)
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
    chosen = None
    if competitions:
        names = competitions if competitions.endswith(".txt") else [c for c in competitions.split(",") if c]
        chosen = resolve_competitions(names, catalogue, project.root)
    return leaderboard(store.runs(), chosen)
